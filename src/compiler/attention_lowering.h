#pragma once
// Vanilla softmax attention's analytic planners, per (batch, head): Q, K, V, O are seq_len x head_dim
// blocks of DRAM tensors. The variants themselves (unfused, row_fused, flash) run as mappings of the
// vanilla cascade (models/cascades/, cascade/lower.h) that mapper/cascade_search.h picks; these
// planners emit no program and time nothing. They give the SRAM footprints, the tiles the analytic
// estimate prefers (the sweep's DRAM estimates) and, when a variant does not fit, the message that
// says why in the schedule's terms (model_lowering). The schedules they describe:
//
// flash (FlashAttention-2 loop order): for each Q tile of bq rows, stream K/V tiles of bk rows;
//   S = Q K_j^T on the array, an online-softmax step (running max m, sum l, rescale alpha) on the
//   softmax unit, O = alpha O + P V_j, and O / l at the end. Every buffer is double-buffered and
//   sized by bq, bk and head_dim only: the SRAM footprint does not depend on N. DRAM traffic per
//   head, non-causal: Q and O once (2 N d), K and V once per Q tile (2 N d ceil(N / bq)):
//   N d (2 + 2 ceil(N / bq)) elements. bq grows with the SRAM (bq ~ M / d when the SRAM limits it),
//   so the traffic is Theta(N^2 d^2 / M), FlashAttention's bound.
// row-fused (FLAT): for each block of br query rows, all of its score rows S (br x N, fp32) and P
//   stay on chip: S = Q K^T over streamed K tiles, row softmax, O = P V over streamed V tiles.
//   br is the largest block that fits; the footprint grows with N. Traffic: Q, O once, K and V
//   once per block: N d (2 + 2 ceil(N / br)).
// unfused: S = Q K^T materialised. When the whole N x N score matrix fits next to its operands it
//   stays on chip (the row-fused kernel with br = N); otherwise S is spilled to DRAM: 4 N^2
//   elements more (S and P each written and read).
// Independent hand-written programs of the flash and row-fused kernels, at these plans' tiles, are
// kept as test references (tests/support/attention_emitters.h).
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/emitter.h"
#include "config/hw_config.h"
#include "mapper/mapping.h"

namespace attnsim {

struct HeadBlocks {
  DramBlock q, k, v, o;  // seq_len x head_dim each
};

// The running statistics of flash's online softmax, per query row: m, l, alpha, fp32 each.
constexpr int kFlashStatsCols = 3;
constexpr int kFlashStatsBytes = 4;

struct FlashPlan {
  std::int64_t bq = 0, bk = 0;
  std::uint64_t footprint = 0;  // SRAM bytes of all buffers
};
// SRAM bytes of flash's buffers, each double-buffered: Q bq x d, K and V bk x d (operands), S bq x bk
// (accumulators), P bq x bk (operands), O bq x d (accumulators), Out bq x d (operands), stats bq x 3
// fp32; every buffer 64 B aligned.
std::uint64_t flash_footprint(const HwConfig& hw, std::int64_t bq, std::int64_t bk, std::int64_t dh);
// The (bq, bk) with the best analytic estimate within `capacity` (tile sizes independent of
// seq_len, then clamped to it). fixed may fix m (bq) and p (bk) for the op named `what`. Throws
// UserError when nothing fits.
FlashPlan plan_flash(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh, std::uint64_t capacity,
                     const std::string& what, const ModelMapping* fixed = nullptr);

struct RowFusedPlan {
  std::int64_t br = 0, bk = 0;
  int score_buffers = 0;  // 2: the next block's S = Q K^T overlaps this block's softmax and P V
  std::uint64_t footprint = 0;
};
// SRAM bytes of row-fused's buffers: Q br x d, K and V bk x d (operands) and O br x d (accumulators),
// double-buffered, and score_buffers of S br x N (accumulators) and P br x N (operands); every buffer
// 64 B aligned.
std::uint64_t row_fused_footprint(const HwConfig& hw, std::int64_t br, std::int64_t bk, std::int64_t seq_len,
                                  std::int64_t dh, int score_buffers);
// The largest query block that fits. whole_only (the unfused schedule's on-chip case): br =
// seq_len or, when that does not fit, br = 0. Otherwise throws UserError when not even one row
// fits, or when the block is so small that row_fused_bytes_per_head > spilled_bytes_per_head
// (the schedule is dominated by spilling the scores).
// fixed may fix m (br) for the op named `what`.
RowFusedPlan plan_row_fused(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh, std::uint64_t capacity,
                            const std::string& what, bool whole_only = false, const ModelMapping* fixed = nullptr);
// Row-fused DRAM bytes per head: Q and O once, K and V once per query block:
// eb N d (2 + 2 ceil(N / br)).
std::uint64_t row_fused_bytes_per_head(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh, std::int64_t br);
// The unfused schedule's spilled bytes per head, its floor: Q, K, V, O once (4 eb N d) and the
// scores S (accumulator width) and P (operand width) each written and read: 2 (acc + eb) N^2.
std::uint64_t spilled_bytes_per_head(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh);

// The flash variant's kernel by the analytic estimate: flash tiles, or a row-fused block (the same
// cascade with the key rank untiled: FlashAttention with a single key block is exact softmax
// attention). fixed may fix the kind ("flash" or "row_fused") and the tiles. Throws UserError, in
// the schedule's terms, when nothing fits.
struct FlashSchedule {
  bool row_fused = false;
  FlashPlan flash;
  RowFusedPlan rows;
};
FlashSchedule choose_flash_schedule(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh, std::uint64_t capacity,
                                    const std::string& what, const ModelMapping* fixed = nullptr);

// Every flash plan and every row-fused plan that fits `capacity` (the tiles the planners choose
// from), in enumeration order.
std::vector<FlashPlan> flash_plan_candidates(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh,
                                             std::uint64_t capacity);
std::vector<RowFusedPlan> row_fused_plan_candidates(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh,
                                                    std::uint64_t capacity);

}  // namespace attnsim
