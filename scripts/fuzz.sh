#!/usr/bin/env bash
# Runs the libFuzzer harnesses (fuzz/) for a given time each and fails on any crash, leak, UB report,
# timeout or out-of-memory. Usage: scripts/fuzz.sh [SECONDS_PER_HARNESS [HARNESS...]]
#   SECONDS_PER_HARNESS  default 60 (CI); harnesses default to all of fuzz/CMakeLists.txt's list
#   JOBS=N               harnesses run N at a time (default: the number of cores)
#   BUILD_DIR=DIR        the sanitizer build (default build-asan, shared with the sanitizer test suite)
# New inputs that reach new coverage go to BUILD_DIR/fuzz/corpus/NAME (the committed seeds in
# fuzz/corpus/NAME stay as they are); a crashing input is written to BUILD_DIR/fuzz/artifacts/ and
# must become a regression test (tests/test_bad_inputs.cpp) before it is fixed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_EACH=${1:-60}
shift || true
BUILD_DIR=${BUILD_DIR:-build-asan}
JOBS=${JOBS:-$(nproc)}
if [ $# -gt 0 ]; then HARNESSES=("$@"); else
  read -r -a HARNESSES <<<"$(sed -n 's/^set(ATTNSIM_FUZZ_HARNESSES \(.*\) CACHE.*/\1/p' fuzz/CMakeLists.txt)"
fi
scripts/build_sanitized.sh "$BUILD_DIR" "${HARNESSES[@]/#/fuzz_}" || exit 1
OUT="$ROOT/$BUILD_DIR/fuzz"
mkdir -p "$OUT/artifacts" "$OUT/logs" "$OUT/empty"
source scripts/sanitizers/env.sh

run_one() {
  local h=$1
  mkdir -p "$OUT/corpus/$h"
  # From an empty folder, so that file names in an input find no files.
  (cd "$OUT/empty" && "$ROOT/$BUILD_DIR/fuzz/fuzz_$h" "$OUT/corpus/$h" "$ROOT/fuzz/corpus/$h" \
      -dict="$ROOT/fuzz/$h.dict" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
      -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$h-" >"$OUT/logs/$h.log" 2>&1)
  local rc=$?
  local execs cov
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/logs/$h.log" | tail -1)
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$OUT/logs/$h.log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "fuzz $h: ok, ${SECONDS_EACH} s, ${execs:-?} execs, ${cov:-no coverage line}, corpus $(ls "$OUT/corpus/$h" | wc -l) new inputs"
  else
    echo "fuzz $h: FAILED (exit $rc); log $OUT/logs/$h.log:"
    grep -E 'ERROR|runtime error|SUMMARY|Test unit written|fuzz: not a UserError' "$OUT/logs/$h.log" | head -20
  fi
  return $rc
}

failed=0
pids=()
names=()
for h in "${HARNESSES[@]}"; do
  run_one "$h" &
  pids+=($!)
  names+=("$h")
  if [ ${#pids[@]} -ge "$JOBS" ]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
exit $failed
