#!/usr/bin/env bash
# Runs every fuzz target in turn, one process each (the machines have 2
# shared cores), for SECONDS seconds each (default 240), on a scratch copy
# of the committed corpus, and prints each target's executions.
#   bash fuzz/run-all.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-240}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
mkdir -p work logs
for t in "${targets[@]}"; do
  max_len=4096
  case $t in docker_archive|oci_archive) max_len=65536 ;; esac
  dict=()
  [ -f "dict/$t.dict" ] && dict=("-dict=dict/$t.dict")
  mkdir -p "work/$t" "corpus/$t"
  echo "==> $t (${secs}s)"
  cargo +nightly fuzz run "$t" "work/$t" "corpus/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
    -print_final_stats=1 "${dict[@]}" >"logs/$t.log" 2>&1 || echo "    $t FAILED: see fuzz/logs/$t.log"
  grep -E '^(#[0-9]+ *DONE|stat::number_of_executed_units)|SUMMARY|panicked' "logs/$t.log" | sed 's/^/    /' || true
done
