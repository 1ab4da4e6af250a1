#pragma once
#include <vector>

#include "common/sim_time.h"
#include "hw/array/i_array.h"

namespace attnsim {

// Computes each tile's latency in closed form (timing/array_timing.h) and waits once; sequences are
// scheduled by ArrayChain.
class FastArray final : public IArrayModel {
 public:
  FastArray(const ArrayConfig& cfg, const DatapathConfig& dp) : cfg_(cfg), dp_(dp), chain_(cfg) {}
  std::int64_t run_gemm(const GemmDims& dims, const GemmOperands* operands) override;
  void begin_gemm(const GemmDims& dims, const GemmOperands* operands) override;
  void end_gemm() override;
  void finish() override {}
  FusedRun run_fused_attention(const FusedAttentionDims& dims, const FusedOperands* operands) override;

 private:
  ArrayConfig cfg_;
  DatapathConfig dp_;
  ArrayChain chain_;
  fs_t origin_fs_ = -1;  // time of cycle 0 of the sequence (the first begin_gemm)
  // End cycles of begun, not yet ended GEMMs, in order (a ring that grows when full; a handful at most).
  std::vector<std::int64_t> ends_;
  std::size_t head_ = 0, count_ = 0;
};

}  // namespace attnsim
