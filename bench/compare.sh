#!/usr/bin/env bash
# Side-by-side figures for `regctl serve` and the CNCF registry (docker-registry,
# registry:2) on this machine, over loopback. Prints one table: figure, regctl,
# registry:2, ratio. Each figure is the median of RUNS runs, the two servers
# measured alternately so machine noise hits both.
#
#   bench/compare.sh          # full: 5 runs, 10 s wrk, 256 MiB blobs
#   bench/compare.sh --quick  # smoke: 1 run, 2 s wrk, 32 MiB blobs
#
# Needs: docker-registry, wrk, curl (apt-get install -y docker-registry wrk curl).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=5 DURATION=10s BLOB_MIB=256 TAGS=500
if [[ "${1:-}" == "--quick" ]]; then RUNS=1 DURATION=2s BLOB_MIB=32 TAGS=100; fi

for tool in docker-registry wrk curl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed (apt-get install -y $tool)" >&2; exit 1; }
done
cargo build --release --quiet
REGCTL="$PWD/target/release/regctl"

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

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

declare -A R
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

med() { tr ' ' '\n' <<<"${R[$1,$2]}" | grep -v '^$' | median; }
row() { # name, regctl, registry2, higher-is-better (1) or lower (0)
  local ratio
  ratio=$(awk -v a="$2" -v b="$3" -v h="$4" 'BEGIN { if (a==0||b==0) print "-"; else printf "%.2fx", (h ? a/b : b/a) }')
  printf '| %-40s | %12s | %12s | %8s |\n' "$1" "$2" "$3" "$ratio"
}
mbps() { awk -v s="$1" -v m="$BLOB_MIB" 'BEGIN { printf "%.0f", m / s }'; }
echo
echo "regctl serve vs docker-registry ($(docker-registry --version 2>/dev/null | awk '{print $3}')), $(nproc) cores, runs=$RUNS, wrk -t2 -c32 -d$DURATION"
printf '| %-40s | %12s | %12s | %8s |\n' figure regctl registry:2 "ratio"
printf '|%s|%s|%s|%s|\n' "------------------------------------------" "--------------" "--------------" "----------"
row "manifest GET (req/s)" "$(med RS manifest)" "$(med DR manifest)" 1
row "tags/list, $TAGS tags (req/s)" "$(med RS tags)" "$(med DR tags)" 1
row "blob PUT ${BLOB_MIB} MiB monolithic (MiB/s)" "$(mbps "$(med RS put)")" "$(mbps "$(med DR put)")" 1
row "blob GET ${BLOB_MIB} MiB (MiB/s)" "$(mbps "$(med RS get)")" "$(mbps "$(med DR get)")" 1
row "idle RSS (MiB)" "$((IDLE_RS / 1024))" "$((IDLE_DR / 1024))" 0
row "RSS after the load (MiB)" "$((LOAD_RS / 1024))" "$((LOAD_DR / 1024))" 0
