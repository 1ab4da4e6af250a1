#pragma once
// Vanilla attention fused in the array (the "fused" variant; FuseMax class, timing/fused_timing.h): per
// (batch, head), K and V of the whole sequence are loaded into SRAM once, then each block of query rows
// (bq of them, below) is loaded, runs one GEMM FusedAttention instruction over every key it can see, and
// its output rows are stored. Scores, probabilities and the running statistics never leave the array and
// its row units, so DRAM moves the compulsory Q, K, V and O bytes only: 4 N d elements per head.
// The schedule is a mapping (mapper/fused_search.h: the mapper picks it, `--emit mapping` prints it as kind
// "fused", `--mapping FILE` fixes it): the query block bq (rows per instruction; more than the array's rows
// run as several folds in one instruction), the key tile (the array's cols: keys on the columns, fixed by the
// binding), and the slots of each buffer: Q and O blocks rotate over q_buffers and o_buffers slots (with
// more than one, the next blocks load while this one computes and the previous blocks' O stores meanwhile;
// the slot of block i is reused by block i + b once its instruction has drained and its O is stored), K and
// V over k_buffers and v_buffers heads (2: the next head's K and V load under this head's blocks; 1: the
// next head's load waits for this head's last block). Causal layers give each query block only the keys up
// to its last row (whole key tiles beyond that are skipped; the diagonal tile is masked inside the PEs).
// plan_fused_attention is the schedule before the mapper, kept as the mapper's seed candidate: bq the
// array's rows, q_buffers = o_buffers = 3 + ceil(drain / occupancy), at least 2 and at most 8 (enough that
// the array never waits for a drain: fused_timing.h's figures for a block over all N keys; at BERT's N =
// 1024 on fusemax-cloud 6, as the 1314-cycle drain is 2.4 instructions of 544 cycles), K and V
// double-buffered when two heads' worth fits, else single.
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
  std::int64_t bq = 0;        // query rows per instruction (clamped to N)
  std::int64_t key_tile = 0;  // keys per tile (the array's cols)
  int q_buffers = 2, o_buffers = 2;  // Q and O block slots (1 ... kMaxBlockBuffers)
  int k_buffers = 1, v_buffers = 1;  // heads of K and of V on chip (1 or 2)
  std::uint64_t footprint = 0;       // SRAM bytes of every buffer (fused_footprint)
};

// SRAM bytes of a plan's buffers (each slot 64 B aligned, as the emitter lays them out).
std::uint64_t fused_footprint(const HwConfig& hw, const FusedAttentionPlan& p, std::int64_t seq_len, std::int64_t dh);

// Throws UserError (naming `what` and the hardware file) when the datapath does not admit the fused
// schedule.
void require_fused_datapath(const HwConfig& hw, const std::string& what);

// The schedule before the mapper (above). Throws UserError (naming `what` and the hardware file) when the
// datapath does not admit the fused schedule, or when one head's K and V do not fit next to the Q and O
// blocks.
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
  std::uint32_t q_reader_[kMaxBlockBuffers], o_reader_[kMaxBlockBuffers], k_reader_[2] = {kNoInstr, kNoInstr},
      v_reader_[2] = {kNoInstr, kNoInstr};
  int qs_ = -1, os_ = -1, ks_ = -1, vs_ = -1;
};

}  // namespace attnsim
