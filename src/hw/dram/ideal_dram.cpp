#include "hw/dram/ideal_dram.h"

#include <algorithm>
#include <cmath>

#include "common/checked_math.h"

namespace attnsim {

IdealDram::IdealDram(double bytes_per_cycle, std::int64_t latency_cycles, std::int64_t period_fs)
    : bytes_per_cycle_(bytes_per_cycle), latency_fs_(latency_cycles * period_fs), period_fs_(period_fs) {}

void IdealDram::transfer(std::uint64_t /*addr*/, std::uint64_t bytes, bool is_write) {
  const fs_t now = now_fs();
  const fs_t start = std::max(now, bus_free_fs_);
  // Bus time rounded up to a whole femtosecond; range-checked (a bare cast of a huge double is UB).
  fs_t bus_fs = 0;
  if (!double_to_int64(std::ceil(double(bytes) * double(period_fs_) / bytes_per_cycle_), 0, kMaxSimFs - start,
                       &bus_fs))
    throw UserError("a DRAM transfer of " + std::to_string(bytes) + " bytes at " + std::to_string(bytes_per_cycle_) +
                    " bytes per cycle ends beyond the longest representable simulated time (2^63 - 1 fs)");
  bus_free_fs_ = start + bus_fs;
  busy_fs_ += bus_fs;
  if (data_observer_) data_observer_->on_dram_data(0, start, bus_free_fs_, bytes);  // its bus time
  ++transfers_;
  (is_write ? bytes_written_ : bytes_read_) += bytes;
  wait_fs(bus_free_fs_ + latency_fs_ - now);
}

void IdealDram::write_stats(Json& out) const {
  out["model"] = "ideal";
  out["transfers"] = transfers_;
}

}  // namespace attnsim
