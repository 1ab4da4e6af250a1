#pragma once
#include "common/sim_time.h"
#include "hw/dram/i_dram.h"

namespace attnsim {

// Fixed bandwidth B (bytes per accelerator cycle) and latency Lat. Transfers are served in the order
// they arrive: a transfer of n bytes occupies the data bus for n / B cycles, from when the bus is
// free, and completes Lat cycles after its last byte left the bus:
//   start = max(now, bus_free); bus_free = start + n / B; done = bus_free + Lat.
class IdealDram final : public IDram {
 public:
  IdealDram(double bytes_per_cycle, std::int64_t latency_cycles, std::int64_t period_fs);
  void transfer(std::uint64_t addr, std::uint64_t bytes, bool is_write) override;
  std::uint64_t bytes_read() const override { return bytes_read_; }
  std::uint64_t bytes_written() const override { return bytes_written_; }
  sc_core::sc_time busy_time() const override { return fs_time(busy_fs_); }
  double peak_bytes_per_cycle() const override { return bytes_per_cycle_; }
  void write_stats(Json& out) const override;
  bool address_independent() const override { return true; }

 private:
  double bytes_per_cycle_;
  fs_t latency_fs_;
  fs_t period_fs_;
  fs_t bus_free_fs_ = 0;
  fs_t busy_fs_ = 0;
  std::uint64_t bytes_read_ = 0, bytes_written_ = 0;
  std::uint64_t transfers_ = 0;
};

}  // namespace attnsim
