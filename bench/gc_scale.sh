#!/usr/bin/env bash
# gc and du over a generated registry:2 root, regctl vs registry:2's own
# collector (`docker-registry garbage-collect`), warm page cache, median of
# RUNS. The root (REPOS repositories, 10 manifests each, half untagged) is
# written by tests/common/scale.rs, the generator the scale test uses.
#
#   bench/gc_scale.sh REGCTL REPOS [RUNS]
#   SCALE_ROOT=DIR bench/gc_scale.sh ...   # use a root generated before
#
# Prints tab-separated rows: figure, regctl, registry:2 ("-" where registry:2
# has no such command). Seconds, and peak RSS in MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
REGCTL=$1 REPOS=$2 RUNS=${3:-3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
if [[ -n "${SCALE_ROOT:-}" ]]; then # an existing generated root, left alone
  ln -s "$SCALE_ROOT" "$W/root"
else
  REGCTL_SCALE_ROOT="$W/root" REGCTL_SCALE_REPOS="$REPOS" \
    cargo test --quiet --test scale -- --ignored generate_root_for_bench >/dev/null 2>&1
fi
cat > "$W/config.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $W/copy}, delete: {enabled: true}}
http: {addr: 127.0.0.1:0}
YML
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# timed NAME cmd...: appends "seconds rss_kib" to $W/NAME
timed() { local n=$1; shift; /usr/bin/time -f '%e %M' -o "$W/t" "$@" >/dev/null 2>&1; cat "$W/t" >> "$W/$n"; }
# A fresh copy, read once (warm cache) and synced: the copy's writeback
# would otherwise land in the middle of the next collection's deletes.
fresh() { rm -rf "$W/copy"; cp -a "$W/root/." "$W/copy"; find "$W/copy" -type f -exec cat {} + >/dev/null; sync; }
HOME_DIR="$W/home"; mkdir -p "$HOME_DIR"
fresh
for _ in $(seq "$RUNS"); do
  timed r2dry docker-registry garbage-collect --dry-run --delete-untagged "$W/config.yml"
  timed rsdry env HOME="$HOME_DIR" "$REGCTL" gc --root "$W/copy" --delete-untagged --dry-run --format json
  timed rsdu env HOME="$HOME_DIR" "$REGCTL" du --root "$W/copy" --format json
done
for _ in $(seq "$RUNS"); do
  fresh; timed r2real docker-registry garbage-collect --delete-untagged "$W/config.yml"
  fresh; timed rsreal env HOME="$HOME_DIR" "$REGCTL" gc --root "$W/copy" --delete-untagged -y --format json
done
sec() { awk '{print $1}' "$W/$1" | median; }
mib() { awk '{print $2}' "$W/$1" | median | awk '{printf "%.0f", $1/1024}'; }
printf 'gc --delete-untagged --dry-run, %s repositories (s)\t%s\t%s\n' "$REPOS" "$(sec rsdry)" "$(sec r2dry)"
printf 'gc --delete-untagged, %s repositories (s)\t%s\t%s\n' "$REPOS" "$(sec rsreal)" "$(sec r2real)"
printf 'du --root, %s repositories (s; vs registry:2 dry run)\t%s\t%s\n' "$REPOS" "$(sec rsdu)" "$(sec r2dry)"
printf 'gc --dry-run peak RSS, %s repositories (MiB)\t%s\t%s\n' "$REPOS" "$(mib rsdry)" "$(mib r2dry)"
printf 'du --root peak RSS, %s repositories (MiB)\t%s\t%s\n' "$REPOS" "$(mib rsdu)" "$(mib r2dry)"
