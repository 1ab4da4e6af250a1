#!/usr/bin/env bash
# Sets up (scripts/setup.sh), builds and runs the whole test suite through ctest; then, with
# SANITIZERS=1, the same suite built with AddressSanitizer + UndefinedBehaviorSanitizer
# (build-asan/, scripts/sanitizers/ for the settings) and each fuzz harness for FUZZ_SECONDS
# (default 60). Fails if any stage fails; prints the wall time of each. The sanitizer stage is
# opt-in until it has passed once on the whole suite (CI runs the normal suite).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
t0=$(date +%s)
status=0
(cd build && ctest -j "$(nproc)" --output-on-failure --timeout 600) || status=1
t1=$(date +%s)
echo "test.sh: normal suite $((t1 - t0)) s"
if [ "${SANITIZERS:-0}" = 1 ]; then
  scripts/build_sanitized.sh build-asan
  t2=$(date +%s)
  echo "test.sh: sanitizer build $((t2 - t1)) s"
  # The Slurm integration test starts a cluster and runs the real binary many times; it adds minutes
  # under the sanitizers and covers no code the rest of the suite does not.
  (source scripts/sanitizers/env.sh && cd build-asan &&
   ctest -j "$(nproc)" --output-on-failure --timeout 900 -E '^slurm:') || status=1
  t3=$(date +%s)
  echo "test.sh: sanitizer suite $((t3 - t2)) s"
  scripts/fuzz.sh "${FUZZ_SECONDS:-60}" || status=1
  t4=$(date +%s)
  echo "test.sh: fuzzing $((t4 - t3)) s"
fi
exit $status
