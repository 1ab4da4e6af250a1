#pragma once
// Simulated time is kept in femtoseconds (SystemC's resolution is set to 1 fs) so that clocks whose
// periods are not whole picoseconds (LPDDR4-4266: 468.75 ps, HBM3: 312.5 ps, 940 MHz: 1063.83 ps)
// stay exact or within 1 fs per cycle. Every elaboration calls init_sim_time() first.
#include <cstdint>
#include <limits>
#include <systemc>

namespace attnsim {

using fs_t = std::int64_t;

// Sets SystemC's time resolution to 1 fs; must run before any non-zero sc_time exists.
void init_sim_time();

inline fs_t now_fs() { return fs_t(sc_core::sc_time_stamp().value()); }
inline sc_core::sc_time fs_time(fs_t fs) { return sc_core::sc_time::from_value(sc_dt::uint64(fs)); }
// Throws UserError: the run asks for more simulated time than int64 femtoseconds hold.
[[noreturn]] void throw_time_overflow(fs_t now, fs_t delta);
inline void wait_fs(fs_t fs) {
  if (fs > 0) {
    if (fs > std::numeric_limits<fs_t>::max() - now_fs()) throw_time_overflow(now_fs(), fs);
    sc_core::wait(fs_time(fs));
  }
}
// Waits until the next edge of a clock of the given period (no wait if already on an edge).
inline void align_to_edge(fs_t period_fs) {
  fs_t r = now_fs() % period_fs;
  if (r) sc_core::wait(fs_time(period_fs - r));
}
inline fs_t ceil_to_edge(fs_t t, fs_t period_fs) { return (t + period_fs - 1) / period_fs * period_fs; }

}  // namespace attnsim
