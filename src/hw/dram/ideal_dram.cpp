#include "hw/dram/ideal_dram.h"

#include <algorithm>
#include <cmath>

namespace attnsim {

IdealDram::IdealDram(double bytes_per_cycle, std::int64_t latency_cycles, std::int64_t period_ps)
    : bytes_per_cycle_(bytes_per_cycle), latency_ps_(latency_cycles * period_ps), period_ps_(period_ps) {}

void IdealDram::transfer(std::uint64_t /*addr*/, std::uint64_t bytes, bool is_write) {
  const std::int64_t now = std::int64_t(sc_core::sc_time_stamp().value());  // resolution is 1 ps
  const std::int64_t start = std::max(now, bus_free_ps_);
  // Bus time rounded up to a whole picosecond.
  const std::int64_t bus_ps = std::int64_t(std::ceil(double(bytes) * double(period_ps_) / bytes_per_cycle_));
  bus_free_ps_ = start + bus_ps;
  busy_ps_ += bus_ps;
  ++transfers_;
  (is_write ? bytes_written_ : bytes_read_) += bytes;
  sc_core::wait(sc_core::sc_time(double(bus_free_ps_ + latency_ps_ - now), sc_core::SC_PS));
}

void IdealDram::write_stats(Json& out) const {
  out["model"] = "ideal";
  out["transfers"] = transfers_;
}

}  // namespace attnsim
