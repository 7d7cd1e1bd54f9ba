#!/usr/bin/env bash
# `regctl cp` registry -> registry between two `regctl serve` on loopback:
# wall time, CPU time and peak RSS (GNU time) of the copy for an image of 64 x 4 MiB
# layers and one of a single 256 MiB layer, destination empty, then a warm
# copy (every blob already there). Prints one line per figure; medians of RUNS.
#
#   bench/copy.sh            # 3 runs
#   RUNS=5 bench/copy.sh
#   REGCTL=path/to/regctl bench/copy.sh   # measure another build
#
# Needs: curl, GNU time (/usr/bin/time), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
if [[ -z "${REGCTL:-}" ]]; then
  cargo build --release --quiet
  REGCTL="$PWD/target/release/regctl"
fi
[[ -x /usr/bin/time ]] || { echo "bench: GNU time is not installed (apt-get install -y time)" >&2; exit 1; }

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 200); do curl -fs "http://$1/v2/" >/dev/null && return 0; sleep 0.05; done; echo "bench: $1 did not start" >&2; exit 1; }
serve() { # root var: starts a server, sets $var to its address
  local port; port=$(free_port)
  REGCTL_LOG=warn "$REGCTL" serve --port "$port" --root "$1" >/dev/null 2>&1 &
  PIDS+=("$!")
  wait_up "127.0.0.1:$port"
  printf -v "$2" '%s' "127.0.0.1:$port"
}
serve "$WORK/src" SRC
serve "$WORK/dst" DST

upload() { # addr repo file digest
  local loc sep
  loc=$(curl -fsi -X POST "http://$1/v2/$2/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:" {print $2}')
  [[ "$loc" == http* ]] || loc="http://$1$loc"
  sep='?'; [[ "$loc" == *'?'* ]] && sep='&'
  curl -fs -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' \
    "$loc${sep}digest=$4" --data-binary @"$3"
}
digest_of() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }

# make_image REPO COUNT MIB: random layers, an OCI manifest tagged v1.
make_image() {
  local repo=$1 count=$2 mib=$3 layers="" i f d
  printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' > "$WORK/$repo.config"
  local cfg; cfg=$(digest_of "$WORK/$repo.config")
  upload "$SRC" "$repo" "$WORK/$repo.config" "$cfg"
  for i in $(seq "$count"); do
    f="$WORK/$repo.layer"
    head -c $((mib * 1024 * 1024)) /dev/urandom > "$f"
    d=$(digest_of "$f")
    upload "$SRC" "$repo" "$f" "$d"
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$d\",\"size\":$((mib * 1024 * 1024))}"
  done
  rm -f "$WORK/$repo.layer"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[%s]}' \
    "$cfg" "$(stat -c%s "$WORK/$repo.config")" "$layers" > "$WORK/$repo.manifest"
  curl -fs -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    "http://$SRC/v2/$repo/manifests/v1" --data-binary @"$WORK/$repo.manifest" -o /dev/null
}
make_image many 64 4
make_image big 1 256

HOME_DIR="$WORK/home"; mkdir -p "$HOME_DIR"
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run_cp() { # src dst -> "seconds maxrss_kib cpu_seconds"
  HOME="$HOME_DIR" /usr/bin/time -f '%e %M %U %S' -o "$WORK/time" "$REGCTL" cp "$1" "$2" >/dev/null 2>&1 </dev/null
  awk '{print $1, $2, $3 + $4}' "$WORK/time"
}
for repo in many big; do
  : > "$WORK/cold" ; : > "$WORK/warm"
  for r in $(seq "$RUNS"); do
    run_cp "$SRC/$repo:v1" "$DST/$repo-$r:v1" >> "$WORK/cold"
    run_cp "$SRC/$repo:v1" "$DST/$repo-$r:v1" >> "$WORK/warm"
  done
  printf '%-5s cold: %6.2f s (%5.2f s CPU)  %5.1f MB peak RSS   warm: %5.2f s\n' "$repo" \
    "$(cut -d' ' -f1 "$WORK/cold" | median)" \
    "$(cut -d' ' -f3 "$WORK/cold" | median)" \
    "$(cut -d' ' -f2 "$WORK/cold" | median | awk '{print $1/1024}')" \
    "$(cut -d' ' -f1 "$WORK/warm" | median)"
done
