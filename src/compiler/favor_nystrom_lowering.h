#pragma once
// Performer (FAVOR+) and Nystromformer lowered as cascades (src/cascade/): each variant is its
// description (models/cascades/performer.json and nystromformer.json hold the same text), a default
// mapping, and the binding of the layer's tensors to the cascade's. The generic lowering
// (cascade/lower.h) emits the tiles, derives the dependencies and the double buffering.
//
// performer (graph.h has the math), m = rank random features, two groups around the reductions
// over all N:
//   [KwT KfT M z]          loops p (K/V token tiles): KwT = W^T K^T, KfT = favor(KwT, K),
//                          M += KfT V, z += KfT 1; M and z go to DRAM (the layer's M and z tensors).
//   [Qw Qf num den O]      loops m (query token tiles): Qw = Q W, Qf = favor(Qw, Q), num = Qf M,
//                          den = Qf z, O = num / den.
// nystromformer, l = rank landmarks, three groups:
//   [Qs Ks Ql Kl]          streams m and p (Q and K token chunks): segment means into Q~, K~ (fp32),
//                          converted to operands and stored (the layer's Qland, Kland).
//   [SB PB BV SA A Z W]    loops p (K/V token tiles): BV = softmax(scale Q~ K^T) V with the online
//                          softmax (flash on the l landmark queries); once per head A = softmax(scale
//                          Q~ K~^T) and Z = pinv(A) (6 iterations); W = Z BV stored (Wland).
//   [S P O]                loops m (query token tiles): S = Q K~^T, P = row softmax, O = P W.
// The mapping is the user's (--mapping FILE, kind "cascade", on the op's last phase) or the cascade
// mapper's search around the default (mapper/cascade_search.h, search_grouped_cascade).
// Default mappings follow the hand-written planners they replace: per group the token tile is the
// largest of 16, 32, ... below the array side, then the side doubling up to 2048 rows, whose
// buffers take at most half the SRAM (else the smallest that fits; the key tile of an online
// softmax, nystromformer's BV, may take all of it, as plan_flash's did); tensors whose tile never
// changes within a head (weights, landmarks, per-head results) take one slot, token tiles two.
// Nothing in a buffer grows with N.
#include <cstdint>
#include <string>
#include <vector>

#include "cascade/cascade.h"
#include "cascade/mapping.h"
#include "compiler/lowrank_lowering.h"
#include "config/hw_config.h"
#include "config/json_reader.h"
#include "ir/graph.h"

namespace attnsim {

// The descriptions, models/cascades/performer.json and nystromformer.json as embedded (cascade/builtin.h;
// symbols: N = seq_len, d = head_dim, s = rank).
const Json& performer_cascade_json();
const Json& nystromformer_cascade_json();

// The default mapping of either cascade, bound to a layer (above); a UserError naming `what`, the
// group and the buffers when not even the smallest token tile fits in `capacity`.
cascade::Mapping favor_nystrom_default_mapping(const cascade::Cascade& c, const HwConfig& hw, std::uint64_t capacity,
                                               const std::string& what);

// The phases of a performer or nystromformer group: one per group of the mapping, named
// NAME.global, NAME.global.1 ... for the groups before the last and NAME for the token stream.
std::vector<LowRankPhase> lower_favor_nystrom_group(const HwConfig& hw, const AttentionGroup& grp,
                                                    const std::string& name, const MapperOptions& opt);

}  // namespace attnsim
