#pragma once
// The sanitizer build (scripts/build_sanitized.sh: AddressSanitizer + UndefinedBehaviorSanitizer;
// CMake defines ATTNSIM_SANITIZED for the tests) runs the same tests about 5x slower, and 13x where
// each case is a forked SystemC simulation (the PE-array batches). The few tests whose cost is a count
// of random cases, scanned points or simulated sizes use a smaller count there, so that the
// sanitizer suite fits CI's time; every check and every kind of case stays (README: "Limits, fuzzing
// and sanitizers").
namespace attnsim::test {

#ifdef ATTNSIM_SANITIZED
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

// n in the normal build; n / divisor (at least 1) in the sanitizer build.
constexpr int sanitized_count(int n, int divisor) { return kSanitized ? (n / divisor > 0 ? n / divisor : 1) : n; }

}  // namespace attnsim::test
