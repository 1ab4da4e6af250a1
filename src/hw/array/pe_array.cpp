#include "hw/array/pe_array.h"

#include "common/sim_time.h"
#include "hw/array/pe_array_core.h"

namespace attnsim {

namespace {

// One object for the whole array (no module, process or signal per PE): run_gemm runs in the caller's
// SC_THREAD, steps every PE's registers once per cycle (PeArrayCore, pe_array_core.h, which documents
// the design) and waits one clock period after each cycle, so simulated time advances by exactly the
// returned cycle count times the period.
class PeArray final : public IArrayModel {
 public:
  explicit PeArray(const ArrayConfig& cfg)
      : period_fs_(cfg.period_fs()), core_(cfg.rows, cfg.cols, cfg.dataflow, cfg.timing) {}

  std::int64_t run_gemm(const GemmDims& dims, const GemmOperands* operands) override {
    core_.begin(dims, operands);
    bool done = false;
    while (!done) {
      done = core_.step();
      wait_fs(period_fs_);
    }
    const std::int64_t cycles = core_.cycles();
    core_.flush();  // results of the last OS fold still in the shadow accumulators; not timed
    return cycles;
  }

 private:
  fs_t period_fs_;
  PeArrayCore core_;
};

}  // namespace

std::unique_ptr<IArrayModel> make_pe_array_model(const ArrayConfig& cfg) { return std::make_unique<PeArray>(cfg); }

}  // namespace attnsim
