#pragma once
// Vanilla attention fused in the array (the "fused" variant; FuseMax class, timing/fused_timing.h): per
// (batch, head), K and V of the whole sequence are loaded into SRAM once, then each block of query rows
// (the array's rows) is loaded, runs one GEMM FusedAttention instruction over every key it can see, and
// its output rows are stored. Scores, probabilities and the running statistics never leave the array and
// its row units, so DRAM moves the compulsory Q, K, V and O bytes only: 4 N d elements per head.
// Buffers: Q and O blocks double-buffered (the next block loads while this one computes, the previous
// block's O stores meanwhile); K and V double-buffered across heads when two heads' worth fits (the next
// head's K and V load under this head's blocks), else single (the next head's load waits for this head's
// last block). Causal layers give each query block only the keys up to its last row (whole key tiles
// beyond that are skipped; the diagonal tile is masked inside the PEs).
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/attention_lowering.h"
#include "compiler/emitter.h"
#include "config/hw_config.h"
#include "ir/tile_program.h"

namespace attnsim {

struct FusedAttentionPlan {
  std::int64_t bq = 0;        // query rows per instruction (the array's rows, clamped to N)
  std::int64_t key_tile = 0;  // keys per tile (the array's cols)
  int kv_buffers = 0;         // 1 or 2 heads' K and V on chip
  std::uint64_t footprint = 0;
};

// Throws UserError (naming `what` and the hardware file) when the datapath does not admit the fused
// schedule, or when one head's K and V do not fit next to the Q and O blocks.
FusedAttentionPlan plan_fused_attention(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh,
                                        std::uint64_t capacity, const std::string& what);

class FusedAttentionEmitter {
 public:
  FusedAttentionEmitter(const HwConfig& hw, const FusedAttentionPlan& plan, std::int64_t seq_len, std::int64_t dh,
                        std::uint64_t base);
  std::vector<BufferInfo> buffers(std::uint32_t phase) const;
  void emit_head(Emitter& em, const HeadBlocks& h, bool causal, float scale);

 private:
  const HwConfig& hw_;
  FusedAttentionPlan p_;
  std::int64_t n_, dh_;
  std::uint64_t q_[2], o_[2], k_[2], v_[2];
  std::uint32_t q_reader_[2] = {kNoInstr, kNoInstr}, o_reader_[2] = {kNoInstr, kNoInstr},
                kv_reader_[2] = {kNoInstr, kNoInstr};
  int qs_ = -1, kvs_ = -1;
};

}  // namespace attnsim
