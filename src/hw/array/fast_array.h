#pragma once
#include <memory>
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
  void end_fused() override;

 private:
  ArrayConfig cfg_;
  DatapathConfig dp_;
  ArrayChain chain_;
  fs_t origin_fs_ = -1;  // time of cycle 0 of the sequence (the first begin_gemm)
  // End cycles of begun, not yet ended GEMMs, in order (a ring that grows when full; a handful at most).
  std::vector<std::int64_t> ends_;
  std::size_t head_ = 0, count_ = 0;
  // Fused instructions (FusedChain): cycle 0 at the first one's call; the done cycles not yet ended.
  std::unique_ptr<FusedChain> fused_chain_;
  fs_t fused_origin_fs_ = -1;
  std::vector<std::int64_t> fused_done_;
  std::size_t fused_head_ = 0, fused_count_ = 0;
};

}  // namespace attnsim
