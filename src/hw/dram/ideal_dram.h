#pragma once
#include "hw/dram/i_dram.h"

namespace attnsim {

// Fixed bandwidth B (bytes per accelerator cycle) and latency Lat. Transfers are served in the order
// they arrive: a transfer of n bytes occupies the data bus for n / B cycles, from when the bus is
// free, and completes Lat cycles after its last byte left the bus:
//   start = max(now, bus_free); bus_free = start + n / B; done = bus_free + Lat.
class IdealDram final : public IDram {
 public:
  IdealDram(double bytes_per_cycle, std::int64_t latency_cycles, std::int64_t period_ps);
  void transfer(std::uint64_t addr, std::uint64_t bytes, bool is_write) override;
  std::uint64_t bytes_read() const override { return bytes_read_; }
  std::uint64_t bytes_written() const override { return bytes_written_; }
  sc_core::sc_time busy_time() const override { return sc_core::sc_time(double(busy_ps_), sc_core::SC_PS); }
  double peak_bytes_per_cycle() const override { return bytes_per_cycle_; }
  void write_stats(Json& out) const override;

 private:
  double bytes_per_cycle_;
  std::int64_t latency_ps_;
  std::int64_t period_ps_;
  std::int64_t bus_free_ps_ = 0;
  std::int64_t busy_ps_ = 0;
  std::uint64_t bytes_read_ = 0, bytes_written_ = 0;
  std::uint64_t transfers_ = 0;
};

}  // namespace attnsim
