#pragma once
// The low-rank variants the compiler lowers as cascades (models/cascades/*.json, embedded): primal,
// primal_causal, lowrank_linear, linformer. Each is its description, bound to the group's shapes, with a default
// mapping that mirrors the token-tile planner (the largest tile whose group takes at most half the
// SRAM, capped at 2048 rows), lowered by cascade/lower. Plain C++.
//
// primal:         group 0 (Global, a barrier): per (batch, head) the p sampled rows of the attention
//                 input's head columns are gathered (X_s, p x d; in chunks of the sample rank when
//                 they do not fit with the sampling weights), WeT and WrT (s x d) stored; group 1
//                 (LowRank): per token tile L2 norms, E, R, O = [E | R] Wc + bc.
// primal_causal:  one group: per token tile the prefix means (carried across tiles), then as primal.
// lowrank_linear: group 0 (Global): M = (W_K^T K^T) V over K/V tiles, stored; group 1: O = (Q W_Q) M.
// linformer:      group 0 (Global): K~ = E K, V~ = F V over token tiles, a chunk of heads interleaved
//                 inside (E and F, shared by the heads, loaded once per chunk), stored; group 1: per
//                 token tile S = Q K~^T, a row softmax over k, O = P V~.
#include <cstdint>
#include <string>
#include <vector>

#include "cascade/cascade.h"
#include "cascade/mapping.h"
#include "compiler/lowrank_lowering.h"
#include "mapper/search.h"

namespace attnsim {

bool lowered_as_cascade(AttnVariant v);

// The default mapping of variant v's cascade c (bound) for an SRAM budget: the token-tile planner's
// choice (above); a UserError naming `what` and what does not fit.
// `heads_per_batch` bounds Linformer's interleaved heads (a chunk of one batch's heads per pass).
cascade::Mapping lowrank_default_mapping(const cascade::Cascade& c, AttnVariant v, const HwConfig& hw,
                                         std::uint64_t capacity, const std::string& what,
                                         std::int64_t heads_per_batch = 1);

// The phases of such a group (one per group of its mapping); `heads_per_batch`: the layer's heads
// (the group's heads are batch-major). UserError naming the group when nothing fits.
std::vector<LowRankPhase> lower_lowrank_cascade(const HwConfig& hw, const Graph& g, const AttentionGroup& grp,
                                                const std::string& name, std::int64_t heads_per_batch,
                                                const MapperOptions& opt);

}  // namespace attnsim
