# Sourced by scripts/test.sh and scripts/fuzz.sh before running anything built with sanitizers.
# SystemC is Debian's uninstrumented libsystemc; what that costs is written beside each setting.
_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# detect_stack_use_after_return=0: SystemC switches between its processes' stacks with QuickThreads
#   (uninstrumented assembly); ASan's fake stacks do not follow such switches.
#   The same switches make ASan print, once per process that runs a SystemC simulation, "WARNING: ASan
#   is ignoring requested __asan_handle_no_return ... False positive error reports may follow": an
#   exception or longjmp leaving a process's stack, which ASan cannot measure. It is a warning, not a
#   finding; no report has followed it in the suite or the fuzzers.
# detect_leaks=1 with lsan.supp: SystemC's simulation context and its processes are allocated once
#   and never freed (sc_get_curr_simcontext()); nothing else is suppressed.
export ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=0:abort_on_error=0:allocator_may_return_null=0:check_initialization_order=1:strict_init_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$_here/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# halt_on_error=1: any UB report fails the test (the code is also built with -fno-sanitize-recover).
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$_here/ubsan.supp${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
unset _here
