#!/usr/bin/env bash
# How gc and du grow with the number of repositories: bench/gc_scale.sh at
# each size, one table (tab-separated: repositories, figure, regctl,
# registry:2) for `bench/plot.py --curve`.
#
#   bench/gc_curve.sh [RUNS] [SIZES...]   # default: 1 run at 200 2000 10000
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-1}; shift || true
SIZES=("$@"); [[ ${#SIZES[@]} -gt 0 ]] || SIZES=(200 2000 10000)
cargo build --release --quiet
printf 'repositories\tfigure\tregctl\tregistry2\n'
for n in "${SIZES[@]}"; do
  bench/gc_scale.sh "$PWD/target/release/regctl" "$n" "$RUNS" |
    while IFS=$'\t' read -r figure ours theirs; do
      # The figure without its size, so one line per figure across sizes.
      printf '%s\t%s\t%s\t%s\n' "$n" "${figure/, $n repositories/}" "$ours" "$theirs"
    done
done
