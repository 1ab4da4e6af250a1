#pragma once
// The generic lowering: a cascade (cascade.h) and a legal mapping's plan (mapping.h) become tile
// instructions through the Emitter, for one or many instances (heads) of the cascade. Plain C++.
//
// Per group (one phase; the caller separates groups with barriers), the loop nest is walked as a
// flat sequence of iteration points (instances outermost, then the mapping's loops; an interleaved
// group's chunk of instances innermost instead, mapping.h). At each point
// every step whose ranks the point covers runs; streamed ranks are walked in chunks inside a step.
// Nothing about a variant is written here:
// - Tiles: a tensor's tile at a point is the current tile of each looped rank, the current chunk of
//   a streamed rank for DRAM tensors (on-chip tensors keep the whole rank and are written chunk by
//   chunk), the whole extent otherwise. DRAM tensors are loaded when a step needs a tile that is not
//   resident (so a Q tile stays loaded while the key loop runs), and stored when their tile is
//   complete (after the last index of a loop it is summed over).
// - Buffers: each tensor has 1 to kMaxSlots slots (a split-K accumulator one per run); a new tile takes
//   the next slot, so its load (its first write) waits for the last accesses to that slot, depth tiles
//   before. A resident tensor (mapping.h) takes a slot per instance holding all of it; each tile goes
//   to its place there at its first use and is read from there afterwards (a reader depends on that
//   tile's load only); the tile's load waits for the last reads of the same tile by the instance the
//   slot held before, not for all of that instance's reads.
// - Dependencies are derived, never written per variant: every slot remembers, per unit, its last
//   writer and its last reader since; a read depends on the writers (RAW), a write on the writers
//   and readers (WAW, WAR). Units run their own instructions in order, so one instruction per unit
//   suffices, and a dependency on the instruction's own unit is dropped when the four slots of an
//   instruction are needed for the other units. A GEMM accumulating onto the tile the array's previous
//   GEMM wrote over a loop does not wait for it: the array chains its GEMMs in order.
// - Online softmax: the contraction reading an online softmax's output rescales its accumulator
//   (SmOp::Rescale) before every accumulation after the first, and normalises it when complete.
// - Causal masks: with a causal softmax over (m, p) in the group, tiles and chunks whose keys all
//   follow the tile's last query are skipped by every step over both ranks.
//   Across groups (mapping.h, GroupPlan::cross_mask: vanilla's S = Q K^T, P = softmax(S), O = P V
//   with S or P through DRAM, unfused with its scores spilled): the semantics of the spilled tensors
//   are that an entry of S no group writes is masked (the softmax never reads its value), and an
//   entry of P that a later group reads is written, zero where masked. So the group computing S
//   skips its masked tiles as above (a whole key rank up to the row tile's last query, rounded up
//   to its chunk when streamed), each group reading P from DRAM loads only the tiles with an
//   unmasked entry and sums over nothing past them, and the group writing P (with every step of
//   it over both ranks) goes on, per row tile ending at L, to the end of the key tile holding
//   min(N, L rounded up to the reader's row tile) of every reader (GroupPlan::mask_readers), so
//   that no reader loads an entry of P that was not written (the executor's DRAM starts NaN).
// - Overlap: when the plan allows (mapping.h: lookahead), the steps up to the first contraction's
//   consumer of the next point are issued before the rest of the current point (flash's QK_{j+1}
//   before softmax_j and PV_j), also across loop and instance boundaries. With the group's ahead 2
//   (mapping.h), those of point n + 2 go after point n's steps reading what they write (softmax_j,
//   QK_{j+2}, PV_j), and an online softmax's finished output is normalised and stored after the next
//   point's readers (the next query tile's first softmax step).
#include <cstdint>
#include <string>
#include <vector>

#include "cascade/cascade.h"
#include "cascade/mapping.h"
#include "compiler/emitter.h"
#include "config/hw_config.h"
#include "ir/tile_program.h"

namespace attnsim::cascade {

// The DRAM blocks of one instance: per cascade tensor (inputs, outputs and spilled intermediates;
// rows x cols of the tensor; others unused).
struct Binding {
  std::vector<DramBlock> blocks;
};

// The VECTOR op a map or reduce step runs (its immediate, and prefix_mean's carry, are the lowering's).
VecOp vector_op_of(const StepDecl& st);

// What the report counts each step's instructions as: contractions reading a softmax's result PV,
// other contractions QK, softmax Softmax, maps and reductions LowRank (a caller may override).
std::vector<OpClass> default_classes(const Cascade& c);

// Emits group `group` of the plan for every instance, in order.
void emit_group(const HwConfig& hw, const CascadePlan& plan, int group, Emitter& em,
                const std::vector<Binding>& instances, const std::vector<OpClass>& classes);

// The buffers of a group for the SRAM report.
std::vector<BufferInfo> group_buffers(const CascadePlan& plan, int group, std::uint32_t phase);

// A standalone program (tests, examples): the groups one after another, separated by barriers.
// `tensors` are the program's DRAM tensors (the bindings' blocks refer to them).
TileProgram lower_program(const HwConfig& hw, const CascadePlan& plan, const std::vector<TensorInfo>& tensors,
                          const std::vector<Binding>& instances);

}  // namespace attnsim::cascade
