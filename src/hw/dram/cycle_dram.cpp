#include "hw/dram/cycle_dram.h"

namespace attnsim {

CycleDram::CycleDram(const DramSpec& spec, fs_t accelerator_period_fs)
    : controller_(std::make_unique<DramController>("dram", spec)),
      peak_bytes_per_cycle_(spec.peak_bytes_per_second() * double(accelerator_period_fs) * 1e-15) {}

void CycleDram::transfer(std::uint64_t addr, std::uint64_t bytes, bool is_write) {
  if (bytes == 0) return;
  ++transfers_;
  (is_write ? bytes_written_ : bytes_read_) += bytes;
  controller_->transfer(addr, bytes, is_write);
}

sc_core::sc_time CycleDram::busy_time() const {
  const DramSpec& s = controller_->spec();
  return fs_time(fs_t(controller_->stats().data_bus_cycles) * s.tCK_fs / s.channels);
}

int CycleDram::channels() const { return controller_->spec().channels; }

void CycleDram::set_data_observer(DramDataObserver* observer) {
  data_observer_ = observer;
  controller_->set_data_observer(observer);
}

void CycleDram::write_stats(Json& out) const {
  const std::int64_t now = controller_->current_cycle();
  controller_->finish(now);
  out = controller_->stats().to_json(controller_->spec(), now);
  out["transfers"] = transfers_;
  out["bytes_requested"] = {{"read", bytes_read_}, {"written", bytes_written_}};
}

std::int64_t CycleDram::stall_bound_fs() const {
  return controller_->watchdog_cycles() * controller_->spec().tCK_fs;  // at most kMaxRunCycles x kMaxPeriodFs
}

}  // namespace attnsim
