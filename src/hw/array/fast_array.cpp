#include "hw/array/fast_array.h"

#include <algorithm>

#include "common/errors.h"
#include "common/checked_math.h"
#include "common/sim_time.h"

namespace attnsim {

std::int64_t FastArray::run_gemm(const GemmDims& dims, const GemmOperands* /*operands*/) {
  std::int64_t cycles = gemm_cycles(cfg_.rows, cfg_.cols, cfg_.dataflow, cfg_.timing, dims);
  wait_fs(cycles_to_fs(cycles, cfg_.period_fs()));
  return cycles;
}

IArrayModel::FusedRun FastArray::run_fused_attention(const FusedAttentionDims& dims, const FusedOperands* /*operands*/) {
  const fs_t period = cfg_.period_fs();
  if (!fused_chain_) fused_chain_ = std::make_unique<FusedChain>(cfg_, dp_);
  if (fused_origin_fs_ < 0) fused_origin_fs_ = now_fs();
  const std::int64_t ready = (now_fs() - fused_origin_fs_ + period - 1) / period;
  const FusedSchedule s = fused_chain_->next(dims, ready);
  if (fused_count_ == fused_done_.size()) {  // grow the ring, keeping the order
    std::vector<std::int64_t> grown(std::max<std::size_t>(8, 2 * fused_done_.size()));
    for (std::size_t i = 0; i < fused_count_; ++i) grown[i] = fused_done_[(fused_head_ + i) % fused_done_.size()];
    fused_done_.swap(grown);
    fused_head_ = 0;
  }
  fused_done_[(fused_head_ + fused_count_++) % fused_done_.size()] = s.done;
  wait_fs(fused_origin_fs_ + s.free * period - now_fs());
  return {fused_origin_fs_ + s.start * period, s.timing.occupancy};
}

void FastArray::end_fused() {
  ATTNSIM_ASSERT(fused_count_ > 0, "end_fused without a fused instruction");
  const fs_t end = fused_origin_fs_ + fused_done_[fused_head_] * cfg_.period_fs();
  fused_head_ = (fused_head_ + 1) % fused_done_.size(), --fused_count_;
  if (end > now_fs()) wait_fs(end - now_fs());
}

void FastArray::begin_gemm(const GemmDims& dims, const GemmOperands* /*operands*/) {
  const fs_t period = cfg_.period_fs();
  if (origin_fs_ < 0) origin_fs_ = now_fs();
  ATTNSIM_ASSERT((now_fs() - origin_fs_) % period == 0, "begin_gemm off the array's clock edge");
  const GemmSchedule g = chain_.next(dims, (now_fs() - origin_fs_) / period);
  if (count_ == ends_.size()) {  // grow the ring, keeping the order
    std::vector<std::int64_t> grown(std::max<std::size_t>(8, 2 * ends_.size()));
    for (std::size_t i = 0; i < count_; ++i) grown[i] = ends_[(head_ + i) % ends_.size()];
    ends_.swap(grown);
    head_ = 0;
  }
  ends_[(head_ + count_++) % ends_.size()] = g.done;
  wait_fs(origin_fs_ + g.start * period - now_fs());
}

void FastArray::end_gemm() {
  ATTNSIM_ASSERT(count_ > 0, "end_gemm without a begun GEMM");
  const fs_t end = origin_fs_ + ends_[head_] * cfg_.period_fs();
  head_ = (head_ + 1) % ends_.size(), --count_;
  ATTNSIM_ASSERT(end >= now_fs(), "end_gemm called after the GEMM's end");
  wait_fs(end - now_fs());
}

}  // namespace attnsim
