#!/usr/bin/env bash
# Seed corpus of one fuzz target, made from the repository's own inputs:
# fuzz/corpus/<target>/ (not committed; the fuzzer adds what it finds there).
set -euo pipefail
cd "$(dirname "$0")/.."
target="$1"
out="fuzz/corpus/$target"
mkdir -p "$out"
seed() { cp "$1" "$out/seed-$(sha256sum "$1" | cut -c1-16)"; }
text() { local f; f="$(mktemp)"; printf '%s' "$1" >"$f"; seed "$f"; rm -f "$f"; }
case "$target" in
  spec)
    for f in testdata/invalid/*.yaml examples/retail/canary.yaml examples/retail/products/*.yaml \
             examples/retail/kpis/*.yaml; do seed "$f"; done ;;
  expr)
    while IFS= read -r line; do [ -n "$line" ] && text "$line"; done <fuzz/seeds/expressions.txt ;;
  mf)
    seed fuzz/src/manifest.yaml
    while IFS= read -r line; do [ -n "$line" ] && text "$line"; done <fuzz/seeds/filters.txt ;;
  evidence)
    # Byte 0 picks the log (bit 7 clear) or the bundle and a file; byte 1 patches (bit 7
    # clear) or replaces; then offset, length, bytes.
    for pick in 0 1 2 3 4 5 128 129 130 131; do
      printf "\\x$(printf %02x "$pick")\\x00\\x10\\x00\\x01x" >"$out/seed-pick-$pick"
    done ;;
  parquet)
    for f in $(find examples/retail/data testdata -name '*.parquet' -size -64k | sort | head -40); do
      seed "$f"
    done ;;
  *) echo "unknown fuzz target: $target" >&2; exit 2 ;;
esac
