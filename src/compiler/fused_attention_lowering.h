#pragma once
// Vanilla attention fused in the array (the "fused" variant; FuseMax class, timing/fused_timing.h): per
// (batch, head), K and V of the whole sequence are loaded into SRAM once, then each block of query rows
// (the array's rows) is loaded, runs one GEMM FusedAttention instruction over every key it can see, and
// its output rows are stored. Scores, probabilities and the running statistics never leave the array and
// its row units, so DRAM moves the compulsory Q, K, V and O bytes only: 4 N d elements per head.
// Buffers: Q and O blocks rotate over block_buffers slots (the next blocks load while this one computes,
// the previous blocks' O stores meanwhile): at least 2, and enough that a block's slot is free again
// (its instruction drained, its O stored) by the time the array reaches the block that reuses it, so
// that the array never waits for a drain: 3 + ceil(drain / occupancy), at most 8 (fused_timing.h's
// figures for a block over all N keys; at BERT's N = 1024 on fusemax-cloud 6, as the 1314-cycle drain
// is 2.4 instructions of 544 cycles); K and V double-buffered across heads when two heads' worth fits (the next
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

constexpr int kMaxBlockBuffers = 8;

struct FusedAttentionPlan {
  std::int64_t bq = 0;        // query rows per instruction (the array's rows, clamped to N)
  std::int64_t key_tile = 0;  // keys per tile (the array's cols)
  int kv_buffers = 0;         // 1 or 2 heads' K and V on chip
  int block_buffers = 2;      // Q and O block slots each (2 ... kMaxBlockBuffers)
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
  std::uint64_t q_[kMaxBlockBuffers], o_[kMaxBlockBuffers], k_[2], v_[2];
  std::uint32_t q_reader_[kMaxBlockBuffers], o_reader_[kMaxBlockBuffers], kv_reader_[2] = {kNoInstr, kNoInstr};
  int qs_ = -1, kvs_ = -1;
};

}  // namespace attnsim
