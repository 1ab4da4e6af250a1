#pragma once
// The mapper over attention fused in the array (the `fused` variant; compiler/fused_attention_lowering.h,
// timing/fused_timing.h). Its schedule is a mapping of kind "fused" in the mapping file (mapper/mapping.h):
//   {"kind": "fused", "tile": {"m": 256, "p": 256}, "units": {"S": "array", "P": "pe", "O": "array"},
//    "resident": ["K", "V"], "buffers": {"Q": 6, "O": 6, "K": 2, "V": 2}, "causal": false}
// in the names of the vanilla cascade (models/cascades/vanilla.json: S = Q K^T, P = softmax(S), O = P V):
//   units     the binding: S and O on the array, the softmax P in the PEs ("pe": scale, max, exp and the
//             row sums in each PE's score entries, the running max, sum and O rescale in the row units of
//             /datapath). The one binding a datapath that admits fused attention offers.
//   tile      m: query rows per GEMM fused_attention instruction (more than the array's rows run as folds
//             of one instruction); p: keys per key tile, the array's cols (keys on the columns: fixed by
//             the binding, checked).
//   resident  K and V whole per head on chip (one instruction reads every key its block sees): required.
//   buffers   slots of the Q and O blocks (1 to 8 each) and heads of K and of V (1 or 2 each).
//   causal    whether the layer is causal (each block then sees its keys up to its last row): checked
//             against the model, not chosen.
// The mapping is not a cascade mapping (cascade/mapping.h) because the fused instruction is not a loop
// nest of the cascade's steps: its key loop runs inside one instruction (no key tiles, score or
// statistics buffers in SRAM), and its Q and O blocks rotate over up to 8 slots where a cascade tensor
// has 1 or 2.
//
// Mapspace: m in the array's rows times powers of two below N, halvings of the rows down to 16, and N
// itself (the thorough effort adds every multiple of the rows up to 16 of them); Q and O slots 1 to 8;
// K and V slots 1 or 2; within the SRAM budget; a user's fixed fields (--mapping) restrict it.
// Estimate per head: the array's occupancies summed over the query blocks (causal blocks over their
// visible keys), each block's pace at least (occupancy + drain + its Q load or O store) / slots (a slot
// is free again once its instruction has drained and its transfer is done), against the compulsory
// Q, K, V and O bytes over the DRAM bandwidth; with one slot of K or V, the next head's load after this
// head's last drain, exposed. Timing: the program timer (program_timer.h) over one and two heads,
// extrapolated to all of them (search.h, time_extrapolated). The choice: pick_mapping (search.h: the
// capacity ladder, effort levels; the slot counts enumerated from the most down, so that ties go to the
// most slack); then the schedule before the mapper (plan_fused_attention) is timed too and kept unless the
// pick is more than 0.5 % faster as timed: the timer reserves a transfer's SRAM ports at its start where
// the accelerator reserves them as its data moves, so a plan whose slots the timer finds just enough can
// wait for them in the accelerator (fusemax-cloud, BERT N = 1024: 4 Q and O slots time as 6 in the timer
// and run 15 % slower). Deterministic.
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/fused_attention_lowering.h"
#include "config/hw_config.h"
#include "mapper/mapping.h"
#include "mapper/search.h"

namespace attnsim {

struct FusedShape {
  std::int64_t n = 0, dh = 0;  // keys = query rows, head dim
  bool causal = false;
  std::int64_t instances = 1;  // heads (batch x heads)
};

// The query block sizes searched (increasing).
std::vector<std::int64_t> fused_block_choices(const HwConfig& hw, std::int64_t n, MapperEffort effort);

// Every legal plan within `capacity` that agrees with `fixed` (may be null), in enumeration order (m
// increasing, then Q, O, K, V slots, each decreasing).
std::vector<FusedAttentionPlan> fused_candidates(const HwConfig& hw, const FusedShape& s, std::uint64_t capacity,
                                                 const OpMapping* fixed, MapperEffort effort);

// The closed-form estimate of a plan for all instances (above).
double fused_estimate(const HwConfig& hw, const FusedAttentionPlan& p, const FusedShape& s);
// Cycles of a plan as the mapper times them (program timer, extrapolated over the instances).
double time_fused(const HwConfig& hw, const FusedAttentionPlan& p, const FusedShape& s);

struct FusedPick {
  FusedAttentionPlan plan;
  double cycles = 0;  // timed (fast effort: estimated)
  std::size_t candidates = 0;
};

// The mapper's pick for op `name`; the user's entry for it in opt.fixed (kind "fused") is checked first:
// every problem at once, each naming the file, /ops/NAME/... and the rule (UserError).
FusedPick search_fused(const HwConfig& hw, const FusedShape& s, std::uint64_t capacity, const MapperOptions& opt,
                       const std::string& name);

// What --emit mapping prints for the plan (kind "fused", every field).
OpMapping fused_op_mapping(const FusedAttentionPlan& p, bool causal);

}  // namespace attnsim
