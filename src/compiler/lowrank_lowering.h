#pragma once
// Lowerings of the low-rank attention variants (graph.h's AttentionGroup comment has their math),
// per (batch, head), streaming token tiles of bt rows through buffers sized by bt, head_dim and the
// rank only: the SRAM footprint does not depend on N.
//
// primal, primal_causal, lowrank_linear, linformer: lowered from their cascades
//   (compiler/lowrank_cascades.h; Linformer's projection group interleaves a chunk of heads, so each
//   tile of E and F, shared by the heads, is loaded once per chunk).
// performer, nystromformer: lowered from their cascades (compiler/favor_nystrom_lowering.h).
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/emitter.h"
#include "config/hw_config.h"
#include "ir/graph.h"
#include "ir/tile_program.h"
#include "mapper/search.h"

namespace attnsim {

// One phase of a low-rank lowering: its buffers and its emitter (run once per program generation).
struct LowRankPhase {
  std::string name, plan;
  OpClass cls = OpClass::LowRank;
  std::vector<BufferInfo> buffers;  // phase index filled in by the caller
  std::function<void(Emitter&)> emit;
  OpMapping mapping;  // the op's mapping choices (--emit mapping), on the phase named as the op; kind "": none
};

// Plans and returns the phases of a primal, primal_causal, lowrank_linear, linformer, performer or nystromformer
// group. Throws
// UserError naming the group, the buffer and the capacity when nothing fits.
std::vector<LowRankPhase> lower_lowrank_group(const HwConfig& hw, const Graph& g, const AttentionGroup& grp,
                                              const std::string& name, const MapperOptions& opt);

}  // namespace attnsim
