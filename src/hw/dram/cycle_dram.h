#pragma once
// IDram backed by the cycle-accurate controller (/dram/model "cycle"). transfer() splits the byte range
// into device bursts (burst_bytes of the spec: 64 B for DDR4 x64 BL8 and HBM2 legacy BL4, 32 B for
// LPDDR4 x16 BL16 and HBM3 pseudo-channels BL8), submits them in address order (blocking while the
// target queue is full) and returns when the last one's data is done.
#include <memory>

#include "hw/dram/dram_controller.h"
#include "hw/dram/i_dram.h"

namespace attnsim {

class CycleDram final : public IDram {
 public:
  CycleDram(const DramSpec& spec, fs_t accelerator_period_fs);
  void transfer(std::uint64_t addr, std::uint64_t bytes, bool is_write) override;
  std::uint64_t bytes_read() const override { return bytes_read_; }
  std::uint64_t bytes_written() const override { return bytes_written_; }
  // Data-bus busy time averaged over channels: sum of burst data cycles / channels x tCK.
  sc_core::sc_time busy_time() const override;
  double peak_bytes_per_cycle() const override { return peak_bytes_per_cycle_; }
  void write_stats(Json& out) const override;
  int channels() const override;
  void set_data_observer(DramDataObserver* observer) override;
  DramController& controller() { return *controller_; }
  std::int64_t stall_bound_fs() const override;
  std::string describe_pending() const override { return controller_->describe_pending(); }

 private:
  std::unique_ptr<DramController> controller_;
  double peak_bytes_per_cycle_;
  std::uint64_t bytes_read_ = 0, bytes_written_ = 0, transfers_ = 0;
};

}  // namespace attnsim
