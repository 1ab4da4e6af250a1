#!/usr/bin/env bash
# Sets up (scripts/setup.sh), builds and runs the whole test suite through ctest; then the same suite
# built with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/, scripts/sanitizers/ for the
# settings and why) and each fuzz harness for FUZZ_SECONDS (default 60). Fails if any stage fails;
# prints the wall time of each. SANITIZERS=0 runs the normal suite only (a quick local check; CI runs
# every stage).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
t0=$(date +%s)
status=0
(cd build && ctest -j "$(nproc)" --output-on-failure --timeout 600) || status=1
t1=$(date +%s)
echo "test.sh: normal suite $((t1 - t0)) s"
if [ "${SANITIZERS:-1}" != 0 ]; then
  scripts/build_sanitized.sh build-asan || status=1
  t2=$(date +%s)
  echo "test.sh: sanitizer build $((t2 - t1)) s"
  # The Slurm integration test starts a cluster and runs the real binary many times; it adds minutes
  # under the sanitizers and covers no code the rest of the suite does not; so do the README examples
  # (two sweeps and three compares) and the monotonicity sweeps (109 points). The plot and claims tests run
  # Python only. The tests tagged
  # [scaling] fit exponents over N up to 65536 (their lowerings counted up to 2^20): the code paths of
  # the rest of the suite at sizes that made them 70 % of the sanitizer suite's time (1,208 of 1,732 s
  # of CPU); they run in the normal suite. Under the sanitizers a few tests run fewer random cases
  # (tests/support/sanitized.h). (Catch's listing exits with the number of tests it lists.)
  # The suite's processes run SystemC simulations: LSAN_OPTIONS use_stacks=0 (not for the fuzzers, whose
  # leak checks run mid-process with live objects on the stack).
  # use_stacks=0: Debian's libsystemc tells ASan of its stack switches (weak __sanitizer_start_switch_fiber
  #   and __sanitizer_finish_switch_fiber), and a process that has run a simulation can reach its exit with
  #   ASan's record of the main thread's stack still naming a SystemC process's stack, since unmapped in
  #   part: LeakSanitizer, scanning that range as the main thread's stack, then dies ("Tracer caught signal
  #   11 ... stack pointer not in stack range", exit 1, no leak reported). Without thread stacks as roots
  #   the leak check still scans globals, thread-local storage and registers; at exit sc_main has returned,
  #   so no live object of ours is held only by a stack.
  (source scripts/sanitizers/env.sh && export LSAN_OPTIONS="$LSAN_OPTIONS:use_stacks=0" &&
   scaling=$({ build-asan/tests/attnsim_tests --list-test-names-only "[scaling]" || true; } |
             sed '/^$/d; s/[][\\.*^$()+?{}|]/\\&/g; s/.*/^&$/' | paste -sd'|') &&
   test -n "$scaling" && cd build-asan &&
   ctest -j "$(nproc)" --output-on-failure --timeout 900 \
     -E "^slurm:|^plot_scripts|^claims_table|^readme_examples|^monotone_design_sweeps|$scaling") || status=1
  t3=$(date +%s)
  echo "test.sh: sanitizer suite $((t3 - t2)) s"
  scripts/fuzz.sh "${FUZZ_SECONDS:-60}" || status=1
  t4=$(date +%s)
  echo "test.sh: fuzzing $((t4 - t3)) s"
fi
exit $status
