#!/usr/bin/env bash
# Rebuilds the committed corpus of each target from its run corpus
# (work/TARGET, see run-all.sh): `cargo fuzz cmin`, then a greedy edge cover
# down to LIMIT files (default 40), keeping the seed-* and regression-* files.
#   bash fuzz/refresh-corpus.sh [LIMIT] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
limit=${1:-40}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in "${targets[@]}"; do
  max_len=4096
  case $t in docker_archive|oci_archive) max_len=65536 ;; esac
  mkdir -p "$tmp/$t/all" "$tmp/$t/merged" "$tmp/$t/keep"
  cp work/"$t"/* corpus/"$t"/* "$tmp/$t/all/" 2>/dev/null || true
  cargo +nightly fuzz cmin "$t" "$tmp/$t/all" -- -max_len="$max_len" >"$tmp/$t/cmin.log" 2>&1
  bin=target/x86_64-unknown-linux-gnu/release/$t
  "$bin" -merge=1 -merge_control_file="$tmp/$t/control" -max_len="$max_len" \
    "$tmp/$t/merged" "$tmp/$t/all" >"$tmp/$t/merge.log" 2>&1
  keep=$(find corpus/"$t" -name 'seed-*' -o -name 'regression-*' | wc -l)
  python3 seeds/pick_corpus.py "$tmp/$t/control" "$tmp/$t/keep" $((limit - keep)) | sed "s/^/$t: /"
  find corpus/"$t" -type f ! -name 'seed-*' ! -name 'regression-*' -delete
  cp "$tmp/$t/keep"/* corpus/"$t"/
  echo "$t: $(ls corpus/"$t" | wc -l) files, $(cat corpus/"$t"/* | wc -c) bytes"
done
