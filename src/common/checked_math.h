#pragma once
// Overflow-proof arithmetic for sizes and times, and the limits derived from what the simulator can
// represent. Simulated time is a signed 64-bit count of femtoseconds (sim_time.h): at most
// 2^63 - 1 fs, about 9,223 s of simulated time. A run is allowed kMaxRunCycles clock cycles, so the
// slowest clock the configs accept is the one whose period times kMaxRunCycles still fits:
//   max period = (2^63 - 1) / 2^36 = 134,217,727 fs  ->  clock_mhz >= 1e9 / 134,217,727 = 7.4506 MHz.
// (At 940 MHz a run may in fact last 8.7e12 cycles before time overflows; the guaranteed 2^36 cycles
// is the bound every config satisfies.) Plain C++, no SystemC.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "common/errors.h"

namespace attnsim {

inline constexpr std::int64_t kMaxSimFs = std::numeric_limits<std::int64_t>::max();
// The longest run every accepted config can represent, in clock cycles of its slowest clock.
inline constexpr std::int64_t kMaxRunCycles = std::int64_t(1) << 36;
// The longest clock period (accelerator or DRAM) the configs accept.
inline constexpr std::int64_t kMaxPeriodFs = kMaxSimFs / kMaxRunCycles;
// The slowest accelerator clock: 1e9 / kMaxPeriodFs MHz, rounded up to 4 decimals (7.4506).
inline constexpr double kMinClockMhz = 7.4506;
static_assert(1e9 / kMinClockMhz <= double(kMaxPeriodFs), "kMinClockMhz must give a period of at most kMaxPeriodFs");

// a * b, or false when the product of non-negative a and b does not fit in int64.
inline bool checked_mul(std::int64_t a, std::int64_t b, std::int64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}
inline bool checked_add(std::int64_t a, std::int64_t b, std::int64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}
inline bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

// The product of sizes, or a UserError naming what they are ("--m x --k x --n").
inline std::int64_t mul_or_throw(std::int64_t a, std::int64_t b, const std::string& what) {
  std::int64_t r;
  if (!checked_mul(a, b, &r))
    throw UserError(what + ": " + std::to_string(a) + " x " + std::to_string(b) + " exceeds 2^63 - 1");
  return r;
}

// A double converted to int64 when it is finite and within [lo, hi]; false otherwise (a bare
// static_cast of an out-of-range double is undefined behaviour).
inline bool double_to_int64(double x, std::int64_t lo, std::int64_t hi, std::int64_t* out) {
  // 2^63 is exactly representable; every double below it converts without overflow.
  if (!(x >= double(lo)) || !(x < 9223372036854775808.0) || x > double(hi)) return false;
  *out = std::int64_t(x);
  return *out <= hi;
}

// cycles * period in femtoseconds; a run that would overflow simulated time is a UserError: it asks
// for more simulated time than 2^63 - 1 fs (the config's clock and the workload's size together).
inline std::int64_t cycles_to_fs(std::int64_t cycles, std::int64_t period_fs) {
  std::int64_t fs;
  if (!checked_mul(cycles, period_fs, &fs))
    throw UserError("the run needs " + std::to_string(cycles) + " cycles of " + std::to_string(period_fs) +
                    " fs: more simulated time than 2^63 - 1 fs (about 9,223 s) can represent; use a faster clock "
                    "or a smaller workload");
  return fs;
}

}  // namespace attnsim
