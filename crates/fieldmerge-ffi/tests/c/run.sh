#!/usr/bin/env bash
# The C ABI's checks (issue #15): the committed header equals cbindgen's
# output, the C test calls every function the header declares, and it runs
# clean under valgrind (any error or leak of any kind fails).
set -euo pipefail
ffi="$(cd "$(dirname "$0")/../.." && pwd)"
root="$(cd "$ffi/../.." && pwd)"
cd "$root"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cbindgen --quiet --config "$ffi/cbindgen.toml" --crate fieldmerge-ffi --output "$work/fieldmerge.h"
if ! diff -u "$ffi/include/fieldmerge.h" "$work/fieldmerge.h"; then
  echo "include/fieldmerge.h differs from cbindgen's output: regenerate it" >&2
  exit 1
fi
missing=0
for f in $(grep -oE '\bfm_[a-z_]+\(' "$ffi/include/fieldmerge.h" | tr -d '(' | sort -u); do
  grep -q "\b$f(" "$ffi/tests/c/ffi_test.c" || { echo "the C test never calls $f" >&2; missing=1; }
done
[ "$missing" = 0 ]

cargo build --release -p fieldmerge-ffi
cc -std=c11 -Wall -Wextra -Werror -pedantic -I "$ffi/include" "$ffi/tests/c/ffi_test.c" \
  "$root/target/release/libfieldmerge_ffi.a" -lpthread -ldl -lm -o "$work/ffi_test"
valgrind --quiet --error-exitcode=1 --leak-check=full --show-leak-kinds=all \
  --errors-for-leak-kinds=all "$work/ffi_test"
