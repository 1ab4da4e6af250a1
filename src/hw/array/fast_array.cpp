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
  const FusedAttentionTiming t = fused_attention_timing(cfg_, dp_, dims);
  wait_fs(cycles_to_fs(t.occupancy, cfg_.period_fs()));
  return {t.occupancy, t.drain};
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
