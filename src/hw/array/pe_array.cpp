#include "hw/array/pe_array.h"

#include <algorithm>

#include "common/errors.h"
#include "common/sim_time.h"
#include "hw/array/fused_pe_core.h"
#include "hw/array/pe_array_core.h"

namespace attnsim {

namespace {

// One object for the whole array (no module, process or signal per PE): run_gemm runs in the caller's
// SC_THREAD, steps every PE's registers once per cycle (PeArrayCore, pe_array_core.h, which documents
// the design) and waits one clock period after each cycle, so simulated time advances by exactly the
// returned cycle count times the period.
//
// Sequences: the core's cycle n is [origin + n * period, origin + (n + 1) * period). Cycle n may be
// stepped once every GEMM that could start in it has been queued: always when n < the current cycle
// (a GEMM begun now is ready now), and, while begin_gemm is looking for its GEMM's start, any cycle up to
// that start (nothing else is queued meanwhile; the next GEMM cannot start in the same cycle, whose
// stream or load port this one takes). end_gemm steps the core in real time, one cycle per period, so
// an end is found exactly at its time (or ahead of it, when begin_gemm has stepped further).
class PeArray final : public IArrayModel {
 public:
  PeArray(const ArrayConfig& cfg, const DatapathConfig& dp)
      : period_fs_(cfg.period_fs()), core_(cfg.rows, cfg.cols, cfg.dataflow, cfg.timing, cfg.gemm_chaining) {
    if (dp.admits_fused_attention()) fused_ = std::make_unique<FusedPeCore>(cfg, dp);
  }

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

  void begin_gemm(const GemmDims& dims, const GemmOperands* operands) override {
    if (origin_fs_ < 0) origin_fs_ = now_fs(), core_.reset();
    ATTNSIM_ASSERT((now_fs() - origin_fs_) % period_fs_ == 0, "begin_gemm off the array's clock edge");
    const std::int64_t now = (now_fs() - origin_fs_) / period_fs_;
    catch_up(now);
    const std::uint32_t seq = core_.enqueue(dims, operands, std::max(now, core_.cycles()));
    while (core_.start(seq) < 0) core_.step();
    wait_fs(origin_fs_ + core_.start(seq) * period_fs_ - now_fs());
  }

  void end_gemm() override {
    ATTNSIM_ASSERT(origin_fs_ >= 0 && ended_ < core_.enqueued(), "end_gemm without a begun GEMM");
    const std::uint32_t seq = ended_++;
    for (;;) {
      const fs_t since = now_fs() - origin_fs_;
      catch_up(since / period_fs_);  // cycles that have passed
      if (core_.done(seq) >= 0) break;
      wait_fs(period_fs_ - since % period_fs_);  // to the next edge
    }
    const fs_t end = origin_fs_ + core_.done(seq) * period_fs_;
    ATTNSIM_ASSERT(end >= now_fs(), "PE array found a GEMM's end after its time");
    wait_fs(end - now_fs());
  }

  void finish() override {
    if (origin_fs_ >= 0) core_.flush();
  }

  // The fused datapath (FusedPeCore) has its own clock origin (the first fused instruction's call) and
  // is stepped like a GEMM sequence: an instruction queued at cycle `ready` cannot start before the end of
  // the previous one's occupancy, up to which run_fused_attention steps ahead of simulated time; end_fused
  // steps the cycles that have passed, one period at a time, until the instruction's O has left.
  FusedRun run_fused_attention(const FusedAttentionDims& dims, const FusedOperands* operands) override {
    if (!fused_) throw InternalError("fused attention on a PE array whose datapath does not admit it");
    if (fused_origin_fs_ < 0) fused_origin_fs_ = now_fs(), fused_->reset();
    const std::int64_t ready = (now_fs() - fused_origin_fs_ + period_fs_ - 1) / period_fs_;
    fused_catch_up(ready);
    const FusedSchedule& s = fused_->schedule(fused_->enqueue(dims, operands, ready));
    while (fused_->cycles() < s.free) fused_->step();
    wait_fs(fused_origin_fs_ + s.free * period_fs_ - now_fs());
    return {fused_origin_fs_ + s.start * period_fs_, s.timing.occupancy};
  }

  void end_fused() override {
    const std::uint32_t k = fused_ended_++;
    for (;;) {
      const fs_t since = now_fs() - fused_origin_fs_;
      fused_catch_up(since / period_fs_);  // cycles that have passed
      if (fused_->done(k) >= 0) break;
      wait_fs(period_fs_ - since % period_fs_);  // to the next edge
    }
    const fs_t end = fused_origin_fs_ + fused_->done(k) * period_fs_;
    if (end > now_fs()) wait_fs(end - now_fs());
  }

 private:
  void fused_catch_up(std::int64_t cycle) {
    while (fused_->cycles() < cycle) {
      if (fused_->idle())
        fused_->skip_to(cycle);
      else
        fused_->step();
    }
  }

  // Steps (or skips, when nothing is inside the array) every cycle before `cycle`.
  void catch_up(std::int64_t cycle) {
    while (core_.cycles() < cycle) {
      if (core_.idle())
        core_.skip_to(cycle);
      else
        core_.step();
    }
  }

  fs_t period_fs_;
  PeArrayCore core_;
  std::unique_ptr<FusedPeCore> fused_;
  fs_t fused_origin_fs_ = -1;
  std::uint32_t fused_ended_ = 0;
  fs_t origin_fs_ = -1;
  std::uint32_t ended_ = 0;
};

}  // namespace

std::unique_ptr<IArrayModel> make_pe_array_model(const ArrayConfig& cfg, const DatapathConfig& datapath) {
  return std::make_unique<PeArray>(cfg, datapath);
}

}  // namespace attnsim
