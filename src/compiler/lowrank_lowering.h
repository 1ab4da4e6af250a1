#pragma once
// Lowerings of the low-rank attention variants (graph.h's AttentionGroup comment has their math),
// per (batch, head), streaming token tiles of bt rows through buffers sized by bt, head_dim and the
// rank only: the SRAM footprint does not depend on N.
//
// primal: two phases around its global barrier.
//   global:  per batch, the p sampled token rows of the attention input are gathered into SRAM
//            (X_s, p x D: the barrier's own buffer), then a BARRIER (every sample must be on chip),
//            then per head WeT = We~^T X_s,h and WrT = Wr~^T X_s,h (s x d) are computed and stored.
//   stream:  per head, WeT and WrT are loaded; per token tile: q and k are L2-normalised on the
//            vector unit, E = qn WeT^T and R = kn WrT^T go side by side into ER (bt x 2s), ER is
//            converted to operands, O = ER Wc (+ bc on the vector unit) is stored.
// primal_causal: one phase: per tile, the running prefix means of q and k (carried across tiles in
//   SRAM, a chain from tile to tile), then as primal's stream with learned WeT, WrT.
// lowrank_linear: two phases around its reduction over all N.
//   global:  per head, per K/V tile: KpT = W_KT K^T (s x bt), M += KpT V (s x d); M is stored.
//   stream:  per tile: Qp = Q W_Q (bt x s), O = Qp M.
// performer, nystromformer: cascades lowered by the generic lowering (favor_nystrom_lowering.h).
// DRAM traffic per head: primal p D / H (gathered) + 2 s p (sampling weights) + 4 s d (WeT, WrT stored,
// then read back) + (q, k, o) 3 N d elements, and Wc, bc once per layer;
// lowrank_linear (K, V) 2 N d + (Q, O) 2 N d + small weights: linear in N.
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/emitter.h"
#include "config/hw_config.h"
#include "ir/graph.h"
#include "ir/tile_program.h"

namespace attnsim {

// The sampled token indices of primal: floor(i (N - 1) / (p - 1)), i = 0 .. p - 1 (p = 1: N - 1).
std::vector<std::int64_t> primal_sample_rows(std::int64_t n, std::int64_t p);

struct LowRankPlan {
  std::int64_t bt = 0;          // token tile rows
  std::uint64_t footprint = 0;  // SRAM bytes of the streaming phase
  bool gather_per_head = false; // primal: X_s gathered per head (p x d) when p x D does not fit
  std::uint64_t global_footprint = 0;
};

// One phase of a low-rank lowering: its buffers and its emitter (run once per program generation).
struct LowRankPhase {
  std::string name, plan;
  OpClass cls = OpClass::LowRank;
  std::vector<BufferInfo> buffers;  // phase index filled in by the caller
  std::function<void(Emitter&)> emit;
};

// Plans and returns the phases of a primal, primal_causal, lowrank_linear, linformer, performer or nystromformer
// group. Throws
// UserError naming the group, the buffer and the capacity when nothing fits.
std::vector<LowRankPhase> lower_lowrank_group(const HwConfig& hw, const Graph& g, const AttentionGroup& grp,
                                              const std::string& name);

}  // namespace attnsim
