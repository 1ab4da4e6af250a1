#pragma once
// Lowerings of vanilla softmax attention, per (batch, head): Q, K, V, O are seq_len x head_dim
// blocks of DRAM tensors.
//
// flash (FlashAttention-2 loop order): for each Q tile of bq rows, stream K/V tiles of bk rows;
//   S = Q K_j^T on the array, an online-softmax step (running max m, sum l, rescale alpha) on the
//   softmax unit, O = alpha O + P V_j, and O / l at the end. Every buffer is double-buffered and
//   sized by bq, bk and head_dim only: the SRAM footprint does not depend on N. The array runs
//   S_{j+1} = Q K_{j+1}^T while the softmax unit works on S_j (program order QK_{j+1} before PV_j).
//   DRAM traffic per head, non-causal: Q and O once (2 N d), K and V once per Q tile
//   (2 N d ceil(N / bq)): N d (2 + 2 ceil(N / bq)) elements. bq grows with the SRAM (bq ~ M / d
//   when the SRAM limits it), so the traffic is Theta(N^2 d^2 / M), FlashAttention's bound.
// row-fused (FLAT): for each block of br query rows, all of its score rows S (br x N, fp32) and P
//   stay on chip: S = Q K^T over streamed K tiles, row softmax, O = P V over streamed V tiles.
//   br is the largest block that fits; the footprint grows with N. Traffic: Q, O once, K and V
//   once per block: N d (2 + 2 ceil(N / br)).
// unfused: S = Q K^T materialised. When the whole N x N score matrix fits next to its operands it
//   stays on chip (the row-fused kernel with br = N); otherwise S is spilled to DRAM: one phase
//   computes S for every head (GEMM tiles stored), one runs row softmax S -> P through DRAM, one
//   computes O = P V. Spilled traffic: S written and read, P written and read: 4 N^2 elements.
// Causal layers skip every tile whose scores are all masked and mask the diagonal tiles.
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/emitter.h"
#include "compiler/gemm_lowering.h"
#include "config/hw_config.h"
#include "ir/tile_program.h"

namespace attnsim {

struct HeadBlocks {
  DramBlock q, k, v, o;  // seq_len x head_dim each
};

struct FlashPlan {
  std::int64_t bq = 0, bk = 0;
  std::uint64_t footprint = 0;  // SRAM bytes of all buffers
};
// Chooses bq, bk for head_dim dh within `capacity` (independent of seq_len, then clamped to it).
FlashPlan plan_flash(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh, std::uint64_t capacity,
                     const std::string& what);

// With use_accumulators and accumulator storage declared (hw_config.h), the fp32 running outputs O
// go there when they fit, then the fp32 score tiles S when they fit too (the plan's footprint
// still counts them against the SRAM). The caller must have no other buffer in the accumulators.
class FlashEmitter {
 public:
  FlashEmitter(const HwConfig& hw, const FlashPlan& plan, std::int64_t dh, std::uint64_t base,
               bool use_accumulators = false);
  std::vector<BufferInfo> buffers(std::uint32_t phase) const;
  // q_len: the query rows when they are not seq_len (nystromformer's l landmarks; -1: seq_len).
  void emit_head(Emitter& em, const HeadBlocks& h, std::int64_t seq_len, bool causal, float scale,
                 std::int64_t q_len = -1);

 private:
  const HwConfig& hw_;
  FlashPlan p_;
  std::int64_t dh_;
  std::uint64_t q_[2], k_[2], v_[2], s_[2], pb_[2], o_[2], out_[2], st_[2];
  std::uint32_t q_reader_[2] = {kNoInstr, kNoInstr}, k_reader_[2] = {kNoInstr, kNoInstr},
                v_reader_[2] = {kNoInstr, kNoInstr}, s_reader_[2] = {kNoInstr, kNoInstr},
                p_reader_[2] = {kNoInstr, kNoInstr}, o_reader_[2] = {kNoInstr, kNoInstr},
                out_reader_[2] = {kNoInstr, kNoInstr};
  int qs_ = -1, ks_ = -1, vs_ = -1, ss_ = -1, ps_ = -1, os_ = -1;
};

struct RowFusedPlan {
  std::int64_t br = 0, bk = 0;
  int score_buffers = 0;  // 2: the next block's S = Q K^T overlaps this block's softmax and P V
  std::uint64_t footprint = 0;
};
// The largest query block that fits. whole_only (the unfused schedule's on-chip case): br =
// seq_len or, when that does not fit, br = 0. Otherwise throws UserError when not even one row
// fits, or when the block is so small that row_fused_bytes_per_head > spilled_bytes_per_head
// (the schedule is dominated by spilling the scores).
RowFusedPlan plan_row_fused(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh, std::uint64_t capacity,
                            const std::string& what, bool whole_only = false);
// Row-fused DRAM bytes per head: Q and O once, K and V once per query block:
// eb N d (2 + 2 ceil(N / br)).
std::uint64_t row_fused_bytes_per_head(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh, std::int64_t br);
// The unfused schedule's spilled bytes per head, its floor: Q, K, V, O once (4 eb N d) and the
// scores S (accumulator width) and P (operand width) each written and read: 2 (acc + eb) N^2.
std::uint64_t spilled_bytes_per_head(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh);

// With use_accumulators, the fp32 outputs O (accumulated over key tiles) go to the accumulator
// storage when they fit, as in FlashEmitter.
class RowFusedEmitter {
 public:
  RowFusedEmitter(const HwConfig& hw, const RowFusedPlan& plan, std::int64_t seq_len, std::int64_t dh,
                  std::uint64_t base, bool use_accumulators = false);
  std::vector<BufferInfo> buffers(std::uint32_t phase) const;
  void emit_head(Emitter& em, const HeadBlocks& h, bool causal, float scale);

 private:
  const HwConfig& hw_;
  RowFusedPlan p_;
  std::int64_t n_, dh_;
  std::uint64_t q_[2], k_[2], v_[2], s_[2], pb_[2], o_[2];
  std::uint32_t q_reader_[2] = {kNoInstr, kNoInstr}, k_reader_[2] = {kNoInstr, kNoInstr},
                v_reader_[2] = {kNoInstr, kNoInstr}, s_reader_[2] = {kNoInstr, kNoInstr},
                p_reader_[2] = {kNoInstr, kNoInstr}, o_reader_[2] = {kNoInstr, kNoInstr};
  int qs_ = -1, ks_ = -1, vs_ = -1, ss_ = -1, os_ = -1;
};

}  // namespace attnsim
