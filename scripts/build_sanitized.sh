#!/usr/bin/env bash
# Configures (once) and builds the sanitizer build: clang 14, AddressSanitizer + UndefinedBehavior-
# Sanitizer on everything, libFuzzer coverage and the fuzz harnesses; the test suite too (run by
# scripts/test.sh with scripts/sanitizers/env.sh). Usage: scripts/build_sanitized.sh [BUILD_DIR [TARGET...]]
# (targets: all of them by default; scripts/fuzz.sh builds only the harnesses).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build-asan}
shift || true
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DATTNSIM_FUZZ=ON \
    -DATTNSIM_BUILD_BENCH=OFF >/dev/null
fi
# The build runs the test binary to list its tests (catch_discover_tests): with the same settings.
source scripts/sanitizers/env.sh
TARGETS=()
for t in "$@"; do TARGETS+=(--target "$t"); done
cmake --build "$BUILD_DIR" -j "$(nproc)" "${TARGETS[@]}" -- --no-print-directory |
  grep -vE '^\[ *[0-9]+%\] (Building|Linking|Built)' || true
if [ $# -eq 0 ]; then set -- attnsim attnsim_tests; fi
for t in "$@"; do
  test -x "$BUILD_DIR/$t" -o -x "$BUILD_DIR/tests/$t" -o -x "$BUILD_DIR/fuzz/$t" ||
    { echo "build_sanitized: $t failed to build" >&2; exit 1; }
done
