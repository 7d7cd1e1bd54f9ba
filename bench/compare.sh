#!/usr/bin/env bash
# Side-by-side figures for `regctl serve` and the CNCF registry (docker-registry,
# registry:2) on this machine, over loopback. Prints one table: figure, regctl,
# registry:2, ratio. Each figure is the median of RUNS runs, the two servers
# measured alternately so machine noise hits both.
#
#   bench/compare.sh          # full: 5 runs, 10 s wrk, 256 MiB blobs, 10,000 repositories
#   bench/compare.sh --quick  # smoke: 1 run, 2 s wrk, 32 MiB blobs, 1,000 repositories
#   bench/compare.sh --tsv F  # also write the table as tab-separated values (for bench/plot.py)
#   bench/compare.sh --proxy-only  # only the pull-through cache section
#
# Sections: regctl serve vs docker-registry (wrk on manifests and tags/list,
# monolithic and chunked blob uploads, blob download, memory); regctl cp vs
# skopeo copy between registries (empty destination, then warm); regctl ls
# and regctl tags over a large catalog and tag list, served by each server;
# regctl gc and du --root vs registry:2's garbage-collect on a generated root
# of GC_REPOS repositories (bench/gc_scale.sh); the pull-through cache
# (`regctl serve --proxy`) vs registry:2's proxy mode (`proxy: remoteurl:`) in
# front of the same registry:2 upstream: cold and warm pull, and what the
# upstream sends for 20 concurrent cold pulls; regctl serve --storage s3://
# vs registry:2's s3 driver on one SeaweedFS bucket (bench/s3.sh, its own table).
#
# Needs: docker-registry, skopeo, wrk, curl, python3, GNU time
# (apt-get install -y docker-registry skopeo wrk curl time).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=5 DURATION=10s BLOB_MIB=256 TAGS=500 LAYERS=64 LAYER_MIB=4 REPOS=10000 MANY_TAGS=5000 GC_REPOS=2000
PROXY_MIB=64 PROXY_CLIENTS=20
TSV="" PROXY_ONLY="" S3_FLAGS=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) RUNS=1 DURATION=2s BLOB_MIB=32 TAGS=100 LAYERS=8 LAYER_MIB=1 REPOS=1000 MANY_TAGS=500 GC_REPOS=200 PROXY_MIB=16 S3_FLAGS=--quick ;;
    --tsv) TSV=$2; shift ;;
    --proxy-only) PROXY_ONLY=1 ;;
    *) echo "usage: bench/compare.sh [--quick] [--tsv FILE] [--proxy-only]" >&2; exit 2 ;;
  esac
  shift
done

for tool in docker-registry skopeo wrk curl python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed (apt-get install -y $tool)" >&2; exit 1; }
done
cargo build --release --quiet
REGCTL="$PWD/target/release/regctl"

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

T0=$(date +%s)
section() { echo "bench: $* ($(( $(date +%s) - T0 )) s)" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 200); do curl -fs "http://$1/v2/" >/dev/null && return 0; sleep 0.05; done; echo "bench: $1 did not start" >&2; exit 1; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# registry:2
DR_PORT=$(free_port)
cat > "$WORK/config.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $WORK/dist}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$DR_PORT}
YML
docker-registry serve "$WORK/config.yml" >/dev/null 2>&1 &
DR_PID=$!; PIDS+=("$DR_PID")
# regctl serve (access log off: registry:2's is off too)
RS_PORT=$(free_port)
REGCTL_LOG=warn "$REGCTL" serve --port "$RS_PORT" --root "$WORK/regctl" >/dev/null 2>&1 &
RS_PID=$!; PIDS+=("$RS_PID")
DR="127.0.0.1:$DR_PORT" RS="127.0.0.1:$RS_PORT"
wait_up "$DR"; wait_up "$RS"
sleep 0.5
IDLE_RS=$(rss_kib "$RS_PID") IDLE_DR=$(rss_kib "$DR_PID")

# Test content: a small image under many tags, and a large blob file.
printf '{"architecture":"amd64","os":"linux"}' > "$WORK/config.json"
head -c 4096 /dev/urandom > "$WORK/layer.bin"
CFG=sha256:$(sha256sum "$WORK/config.json" | cut -d' ' -f1)
LAY=sha256:$(sha256sum "$WORK/layer.bin" | cut -d' ' -f1)
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":4096}]}' \
  "$CFG" "$(stat -c%s "$WORK/config.json")" "$LAY" > "$WORK/manifest.json"
# POST a session, then PUT the bytes with the digest: registry:2 2.8 ignores
# the single-request POST ?digest= form. Prints curl's time for the PUT.
upload() { # addr repo file digest
  local loc sep
  loc=$(curl -fsi -X POST "http://$1/v2/$2/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:" {print $2}')
  [[ "$loc" == http* ]] || loc="http://$1$loc"
  sep='?'; [[ "$loc" == *'?'* ]] && sep='&'
  curl -fs -o /dev/null -w '%{time_total}' -X PUT -H 'Content-Type: application/octet-stream' \
    "$loc${sep}digest=$4" --data-binary @"$3"
}
seed() {
  upload "$1" bench/app "$WORK/config.json" "$CFG" >/dev/null
  upload "$1" bench/app "$WORK/layer.bin" "$LAY" >/dev/null
  for i in $(seq "$TAGS"); do
    curl -fs -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
      "http://$1/v2/bench/app/manifests/t$i" --data-binary @"$WORK/manifest.json" -o /dev/null
  done
}
section "seeding $TAGS tags"
seed "$DR"; seed "$RS"
head -c $((BLOB_MIB * 1024 * 1024)) /dev/urandom > "$WORK/big.bin"
BIG=sha256:$(sha256sum "$WORK/big.bin" | cut -d' ' -f1)

ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json'
wrk_rps() { wrk -t2 -c32 -d"$DURATION" -H "$ACCEPT" "http://$1$2" | awk '/Requests\/sec/ {print $2}'; }
# Each run uploads into a fresh repository, with the blob's data removed from
# the server's store first: both servers skip the final move when the blob
# already exists, and the figure is meant to include it.
put_secs() { # addr run root
  local hex=${BIG#sha256:}
  rm -rf "$3/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex"
  upload "$1" "bench/big$2" "$WORK/big.bin" "$BIG"
}
get_secs() { curl -fs -o /dev/null -w '%{time_total}' "http://$1/v2/bench/big$2/blobs/$BIG"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

med() { tr ' ' '\n' <<<"${R[$1,$2]}" | grep -v '^$' | median; }
[[ -n "$TSV" ]] && printf 'figure\tregctl\tpeer\tratio\n' > "$TSV"
row() { # name, regctl, peer, higher-is-better (1) or lower (0)
  local ratio
  ratio=$(awk -v a="$2" -v b="$3" -v h="$4" 'BEGIN { if (a==0||b==0) print "-"; else printf "%.2fx", (h ? a/b : b/a) }')
  printf '| %-44s | %12s | %12s | %8s |\n' "$1" "$2" "$3" "$ratio"
  [[ -z "$TSV" ]] || printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${ratio%x}" >> "$TSV"
}
header() { # peer name
  printf '| %-44s | %12s | %12s | %8s |\n' figure regctl "$1" "ratio"
  printf '|%s|%s|%s|%s|\n' "----------------------------------------------" "--------------" "--------------" "----------"
}
mbps() { awk -v s="$1" -v m="$BLOB_MIB" 'BEGIN { printf "%.0f", m / s }'; }

# Pull-through caches in front of one registry:2 upstream (access log on: it
# counts what the upstream sends). Each run starts both caches on empty roots.
proxy_section() {
  local up_port up cfg lay
  up_port=$(free_port); up="127.0.0.1:$up_port"
  cat > "$WORK/upstream.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $WORK/upstream}, delete: {enabled: true}}
http: {addr: $up}
YML
  docker-registry serve "$WORK/upstream.yml" > "$WORK/upstream.log" 2>/dev/null &
  PIDS+=("$!"); wait_up "$up"
  printf '{"architecture":"amd64","os":"linux","proxy":true}' > "$WORK/pconfig.json"
  head -c $((PROXY_MIB * 1024 * 1024)) /dev/urandom > "$WORK/player.bin"
  cfg=sha256:$(sha256sum "$WORK/pconfig.json" | cut -d' ' -f1)
  lay=sha256:$(sha256sum "$WORK/player.bin" | cut -d' ' -f1)
  upload "$up" bench/proxy "$WORK/pconfig.json" "$cfg" >/dev/null
  upload "$up" bench/proxy "$WORK/player.bin" "$lay" >/dev/null
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' \
    "$cfg" "$(stat -c%s "$WORK/pconfig.json")" "$lay" "$((PROXY_MIB * 1024 * 1024))" > "$WORK/pmanifest.json"
  curl -fs -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    "http://$up/v2/bench/proxy/manifests/v1" --data-binary @"$WORK/pmanifest.json" -o /dev/null
  # A pull: the manifest by tag, then its blobs, as docker does.
  pull() { # addr -> seconds
    local t0 t1
    t0=$(date +%s.%N)
    curl -fs -o /dev/null -H "$ACCEPT" "http://$1/v2/bench/proxy/manifests/v1"
    curl -fs -o /dev/null "http://$1/v2/bench/proxy/blobs/$cfg"
    curl -fs -o /dev/null "http://$1/v2/bench/proxy/blobs/$lay"
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
  }
  # Bytes and blob GETs the upstream served since line $1 of its log.
  upstream_sent() { tail -n +"$(( $1 + 1 ))" "$WORK/upstream.log" | awk '$7 ~ /\/blobs\// && $6 == "\"GET" {b += $10; n++} END {printf "%d %d\n", b, n}'; }
  start_cache() { # side dir -> prints "pid addr"
    local port; port=$(free_port)
    if [[ $1 == RS ]]; then
      REGCTL_LOG=warn "$REGCTL" serve --port "$port" --root "$2" --proxy "http://$up" >/dev/null 2>&1 &
    else
      cat > "$2.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $2}}
http: {addr: 127.0.0.1:$port}
proxy: {remoteurl: "http://$up"}
YML
      docker-registry serve "$2.yml" >/dev/null 2>&1 &
    fi
    echo "$! 127.0.0.1:$port"
  }
  section "pull-through caches"
  local run side dir pid addr lines sent gets i clients
  for run in $(seq "$RUNS"); do
    for side in RS DR; do
      dir=$(mktemp -d -p "$WORK")
      read -r pid addr < <(start_cache "$side" "$dir"); wait_up "$addr"
      R[$side,cold]+="$(pull "$addr") "
      R[$side,warm]+="$(pull "$addr") "
      kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$dir" "$dir.yml"
      dir=$(mktemp -d -p "$WORK")
      read -r pid addr < <(start_cache "$side" "$dir"); wait_up "$addr"
      lines=$(wc -l < "$WORK/upstream.log")
      curl -fs -o /dev/null -H "$ACCEPT" "http://$addr/v2/bench/proxy/manifests/v1"
      clients=()
      for i in $(seq "$PROXY_CLIENTS"); do
        curl -fs -o /dev/null "http://$addr/v2/bench/proxy/blobs/$lay" &
        clients+=("$!")
      done
      wait "${clients[@]}" || echo "bench: a pull through $side failed" >&2
      sleep 0.5
      read -r sent gets < <(upstream_sent "$lines")
      R[$side,upbytes]+="$(awk -v b="$sent" 'BEGIN { printf "%.0f", b / 1048576 }') "
      R[$side,upgets]+="$gets "
      kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$dir" "$dir.yml"
    done
  done
}
proxy_rows() {
  echo
  echo "pull-through cache: regctl serve --proxy vs registry:2 proxy mode, same registry:2 upstream, 1 x $PROXY_MIB MiB layer"
  header "registry:2"
  row "cold pull (s)" "$(med RS cold)" "$(med DR cold)" 0
  row "warm pull (s)" "$(med RS warm)" "$(med DR warm)" 0
  row "$PROXY_CLIENTS concurrent cold pulls: upstream MiB" "$(med RS upbytes)" "$(med DR upbytes)" 0
  row "$PROXY_CLIENTS concurrent cold pulls: upstream blob GETs" "$(med RS upgets)" "$(med DR upgets)" 0
}

declare -A R
if [[ -n "$PROXY_ONLY" ]]; then
  proxy_section
  proxy_rows
  exit 0
fi
section "wrk, monolithic PUT and GET"
for run in $(seq "$RUNS"); do
  for side in RS DR; do
    addr=${!side}
    R[$side,manifest]+="$(wrk_rps "$addr" /v2/bench/app/manifests/t1) "
    R[$side,tags]+="$(wrk_rps "$addr" /v2/bench/app/tags/list) "
    root=$WORK/regctl; [[ $side == DR ]] && root=$WORK/dist
    R[$side,put]+="$(put_secs "$addr" "$run" "$root") "
    R[$side,get]+="$(get_secs "$addr" "$run") "
  done
done
LOAD_RS=$(rss_kib "$RS_PID") LOAD_DR=$(rss_kib "$DR_PID")

# Chunked upload: 8 MiB PATCHes, following each Location (registry:2 moves
# its state into the URL), then PUT ?digest=.
section "chunked uploads"
split -b 8M -d -a 4 "$WORK/big.bin" "$WORK/chunk."
chunked_secs() { # addr run
  local start end loc sep t0 t1 off=0 size
  t0=$(date +%s.%N)
  loc=$(curl -fsi -X POST "http://$1/v2/bench/chunked$2/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:" {print $2}')
  for c in "$WORK"/chunk.*; do
    [[ "$loc" == http* ]] || loc="http://$1$loc"
    size=$(stat -c%s "$c")
    loc=$(curl -fsi -X PATCH -H 'Content-Type: application/octet-stream' \
      -H "Content-Range: $off-$((off + size - 1))" --data-binary @"$c" "$loc" \
      | tr -d '\r' | awk 'tolower($1)=="location:" {print $2}')
    off=$((off + size))
  done
  [[ "$loc" == http* ]] || loc="http://$1$loc"
  sep='?'; [[ "$loc" == *'?'* ]] && sep='&'
  curl -fs -o /dev/null -X PUT "$loc${sep}digest=$BIG"
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
for run in $(seq "$RUNS"); do
  for side in RS DR; do
    addr=${!side}
    root=$WORK/regctl; [[ $side == DR ]] && root=$WORK/dist
    hex=${BIG#sha256:}; rm -rf "$root/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex"
    R[$side,chunked]+="$(chunked_secs "$addr" "$run") "
  done
done

# regctl cp vs skopeo copy: source regctl serve, destination a fresh, empty
# regctl serve for every copy (so nothing can be skipped or mounted).
make_image() { # addr repo tag layer-count layer-mib
  local layers="" d f
  for i in $(seq "$4"); do
    f="$WORK/l.bin"; head -c $(($5 * 1024 * 1024)) /dev/urandom > "$f"
    d=sha256:$(sha256sum "$f" | cut -d' ' -f1)
    upload "$1" "$2" "$f" "$d" >/dev/null
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$d\",\"size\":$(($5 * 1024 * 1024))}"
  done
  upload "$1" "$2" "$WORK/config.json" "$CFG" >/dev/null
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[%s]}' \
    "$CFG" "$(stat -c%s "$WORK/config.json")" "$layers" > "$WORK/m.json"
  curl -fs -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    "http://$1/v2/$2/manifests/$3" --data-binary @"$WORK/m.json" -o /dev/null
}
section "copy images"
make_image "$RS" bench/layers v1 "$LAYERS" "$LAYER_MIB"
make_image "$RS" bench/big v1 1 "$BLOB_MIB"
rm -f "$WORK/l.bin"
start_dst() { # dir -> prints "pid port"
  local port; port=$(free_port)
  REGCTL_LOG=warn "$REGCTL" serve --port "$port" --root "$1" >/dev/null 2>&1 &
  echo "$! $port"
}
timed() { # out-file cmd... ; "seconds max-rss-kib" into out-file
  /usr/bin/time -f '%e %M' -o "$1" "${@:2}" >/dev/null 2>&1
}
copy_run() { # tool image -> "seconds rss_kib"
  local dst pid port
  dst=$(mktemp -d -p "$WORK")
  read -r pid port < <(start_dst "$dst"); wait_up "127.0.0.1:$port"
  if [[ $1 == regctl ]]; then
    timed "$WORK/t" "$REGCTL" cp "$RS/bench/$2:v1" "127.0.0.1:$port/bench/$2:v1"
  else
    timed "$WORK/t" skopeo copy --insecure-policy --src-tls-verify=false --dest-tls-verify=false \
      "docker://$RS/bench/$2:v1" "docker://127.0.0.1:$port/bench/$2:v1"
  fi
  cat "$WORK/t"
  if [[ $1 == regctl && $2 == layers ]]; then
    timed "$WORK/w" "$REGCTL" cp "$RS/bench/$2:v1" "127.0.0.1:$port/bench/$2:v1"
    cut -d' ' -f1 "$WORK/w" >> "$WORK/warm"
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$dst"
}
: > "$WORK/warm"
section "regctl cp vs skopeo copy"
for run in $(seq "$RUNS"); do
  for image in layers big; do
    for tool in regctl skopeo; do
      read -r secs kib < <(copy_run "$tool" "$image")
      R[$tool,$image,s]+="$secs "; R[$tool,$image,rss]+="$kib "
    done
  done
done

# Large listings, written straight into both roots (same layout): REPOS
# repositories and one repository with MANY_TAGS tags, each on the small
# seeded manifest. Each side is listed with regctl itself.
section "$REPOS repositories, $MANY_TAGS tags"
MAN=sha256:$(sha256sum "$WORK/manifest.json" | cut -d' ' -f1)
python3 - "$WORK/regctl" "$WORK/dist" "$MAN" "$REPOS" "$MANY_TAGS" <<'PY'
import os, sys
roots, man, repos, tags = sys.argv[1:3], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
hexd = man.split(':')[1]
def link(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f: f.write(man)
for root in roots:
    base = os.path.join(root, 'docker/registry/v2/repositories')
    for i in range(repos):
        m = os.path.join(base, 'scale/r%05d' % i, '_manifests')
        link(os.path.join(m, 'revisions/sha256', hexd, 'link'))
        link(os.path.join(m, 'tags/latest/current/link'))
    m = os.path.join(base, 'scale-tags/app/_manifests')
    link(os.path.join(m, 'revisions/sha256', hexd, 'link'))
    for i in range(tags):
        link(os.path.join(m, 'tags/t%05d/current/link' % i))
PY
section "gc and du over $GC_REPOS repositories"
bench/gc_scale.sh "$REGCTL" "$GC_REPOS" "$RUNS" > "$WORK/gc.tsv"

section "listing"
for run in $(seq "$RUNS"); do
  # regctl serve reuses a repository walk for 5 s: wait it out, so every
  # run measures a fresh walk of the tree, as registry:2 does every time.
  sleep 6
  for side in RS DR; do
    addr=${!side}
    timed "$WORK/t" "$REGCTL" ls "$addr" --format plain; R[$side,ls]+="$(cut -d' ' -f1 "$WORK/t") "
    timed "$WORK/t" "$REGCTL" tags "$addr/scale-tags/app" --format plain; R[$side,tagsmany]+="$(cut -d' ' -f1 "$WORK/t") "
  done
done
"$REGCTL" ls "$RS" --format plain | grep -c '^scale/' | grep -qx "$REPOS" || { echo "bench: regctl ls missed repositories" >&2; exit 1; }

proxy_section
echo
echo "regctl serve vs docker-registry ($(docker-registry --version 2>/dev/null | awk '{print $3}')), $(nproc) cores, runs=$RUNS (median), wrk -t2 -c32 -d$DURATION"
header registry:2
row "manifest GET (req/s)" "$(med RS manifest)" "$(med DR manifest)" 1
row "tags/list, $TAGS tags (req/s)" "$(med RS tags)" "$(med DR tags)" 1
row "blob PUT ${BLOB_MIB} MiB monolithic (MiB/s)" "$(mbps "$(med RS put)")" "$(mbps "$(med DR put)")" 1
row "blob PUT ${BLOB_MIB} MiB in 8 MiB PATCHes (MiB/s)" "$(mbps "$(med RS chunked)")" "$(mbps "$(med DR chunked)")" 1
row "blob GET ${BLOB_MIB} MiB (MiB/s)" "$(mbps "$(med RS get)")" "$(mbps "$(med DR get)")" 1
row "idle RSS (MiB)" "$((IDLE_RS / 1024))" "$((IDLE_DR / 1024))" 0
row "RSS after the load (MiB)" "$((LOAD_RS / 1024))" "$((LOAD_DR / 1024))" 0
row "regctl ls, $REPOS repositories (s)" "$(med RS ls)" "$(med DR ls)" 0
row "regctl tags, $MANY_TAGS tags (s)" "$(med RS tagsmany)" "$(med DR tagsmany)" 0

echo
echo "regctl cp vs skopeo copy ($(skopeo --version | awk '{print $3}')), registry to registry, empty destination"
header skopeo
row "cp $LAYERS x $LAYER_MIB MiB layers (s)" "$(med regctl,layers s)" "$(med skopeo,layers s)" 0
row "cp $LAYERS x $LAYER_MIB MiB layers, peak RSS (MiB)" "$(( $(med regctl,layers rss) / 1024 ))" "$(( $(med skopeo,layers rss) / 1024 ))" 0
row "cp 1 x $BLOB_MIB MiB layer (s)" "$(med regctl,big s)" "$(med skopeo,big s)" 0
row "cp 1 x $BLOB_MIB MiB layer, peak RSS (MiB)" "$(( $(med regctl,big rss) / 1024 ))" "$(( $(med skopeo,big rss) / 1024 ))" 0
echo "warm regctl cp (every blob present), median: $(median < "$WORK/warm") s"

echo
echo "regctl gc / du --root vs docker-registry garbage-collect, $GC_REPOS repositories (bench/gc_scale.sh), runs=$RUNS (median)"
header registry:2
while IFS=$'\t' read -r figure ours theirs; do
  [[ $theirs == - ]] && continue
  row "$figure" "$ours" "$theirs" 0
done < "$WORK/gc.tsv"
proxy_rows

echo
section "object storage: bench/s3.sh $S3_FLAGS"
bash bench/s3.sh $S3_FLAGS
