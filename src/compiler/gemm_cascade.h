#pragma once
// A GEMM with its fused epilogue lowered as data: the cascades models/cascades/gemm.json (C = A B),
// gemm_gelu, gemm_relu and gemm_residual (Y = act(A B), Y = A B + R), run by the generic lowering
// (cascade/lower.h) with a cascade mapping translated from the GemmTiling the GEMM mapper picks
// (gemm_lowering.h). The translation keeps GemmEmitter's program: the loops over m and n in the
// tiling's order with k innermost, or k in the middle (m, k, n or n, k, m: the outer iteration's row
// of C tiles open over k in 2 x (inner tiles) slots, the epilogue on each at its last K step); A, B,
// C (and R) double-buffered at GemmEmitter's addresses (C in the accumulator storage when the tiling
// put it there), the epilogue in place on the finished C tile (mapping placement in_place), the K
// steps of a tile chained on the array.
//
// lower_gemm (attnsim gemm), model_lowering and the mapper's timing of GEMM candidates
// (choose_gemm_tiling) take this path for every translatable tiling, so what runs is what was timed.
// A double-buffered operand whose block is still in its other slot is read from there, where
// GemmEmitter loaded it again (K in two tiles, or an inner loop of two tiles with K in one): fewer
// bytes, never more, which the mapper's traffic estimate counts. A model op of several instances runs
// as one group: a block the instances share (a weight) stays on chip where GemmEmitter loaded it again;
// an operand resident per instance (its own) loads the next instance's tiles into its one slot as the
// last reads of each tile are done (the generic lowering's per-tile reload), as GemmEmitter's slot per
// tile does. B stored transposed (N x K) is the same cascade with B's ranks (n, k).
//
// A resident inner operand (inner_resident: B for m outer, A for n outer) is the cascade mapping's
// resident input with one slot; a resident outer panel (outer_resident) a buffer of 2 x (K tiles)
// slots, which the generic lowering fills in turn and reads again while they hold the panel. A lead
// block (lead_block: the first outer tiles with k outermost) is the mapping's lead: the generic
// lowering walks those tiles in the reversed loop order (k, inner, outer), their lead x (inner tiles)
// C tiles open over k in lead x (inner tiles) + 2 slots, the outer panels in lead + 1 sets of K tiles.
// A cascade buffer takes as many slots as these need (cascade::kMaxSlots, 65536, is more than an SRAM
// holds tiles; a mapping holds the first 64 slots' addresses inline, the rest on the heap).
// One difference from GemmEmitter's program: a lead block's outer panel, and a resident inner operand,
// is one slot of K tiles side by side (a tile is a strided block of it, row pitch the panel's width)
// where GemmEmitter put each tile in a slot of its own. The bytes moved are the same; the SRAM accesses
// are more (narrower rows per access): on LRA text primal N = 1024 on edge, +12 % reads in qkv_proj,
// out_proj and ffn, +0.7 % of the run's energy; where the array waits on the banks' ports (an 8x8 array
// with 64-byte ports in test_gemm_cascade.cpp) up to 1 % more cycles.
//
// Counted over the runs the main job and the benches make (bench_gemm, bench_roofline, attnsim run of
// BERT-base, GPT, Llama-2-7B layer and LRA text on edge and cloud, the default sweep's LRA variants,
// the decode points, the FuseMax datapaths: 555 GEMMs lowered), every one now takes this path; before
// k in the middle, lead blocks and the 64 slots, 274 did (lead blocks 234, k in the middle 34, panels
// of more than 8 K tiles 13).
//
// Every GEMM tiling is translated (B read transposed, slots past 64 and several instances with a
// resident operand of their own too); GemmEmitter's layout still places this path's buffers.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cascade/cascade.h"
#include "cascade/mapping.h"
#include "compiler/emitter.h"
#include "compiler/gemm_lowering.h"
#include "config/hw_config.h"
#include "ir/tile_program.h"

namespace attnsim {

// Whether the generic lowering runs tiling t (with this epilogue and B layout) as a gemm cascade;
// otherwise *why (optional) says what is not translated.
bool gemm_cascade_translatable(const GemmTiling& t, bool b_transposed, std::string* why = nullptr);

// Whether the generic lowering's program for translatable tiling t moves what GemmEmitter's does (for
// tests):
// false when a double-buffered operand's block comes back while still in its other slot (the outer
// operand with K in two tiles and an inner loop of several, or the inner operand's two blocks per outer
// iteration), which the generic lowering reads from there and GemmEmitter loads again.
bool gemm_cascade_loads_as_emitter(const GemmTiling& t);

// The cascade of a GEMM with `epi` bound to M x K x N (its stem: gemm, gemm_gelu, gemm_relu, gemm_residual).
const char* gemm_cascade_stem(Epilogue epi);
// With B stored transposed (N x K), B's ranks are (n, k) and the contraction reads it so.
cascade::Cascade gemm_cascade(Epilogue epi, const GemmDims& d, bool b_transposed = false);

// The cascade mapping of tiling t (translatable) for cascade c, its buffers where GemmEmitter(hw, t, 0,
// capacity) puts them.
cascade::Mapping gemm_cascade_mapping(const HwConfig& hw, const cascade::Cascade& c, const GemmTiling& t,
                                      std::uint64_t capacity);

// GemmEmitter's role through the generic lowering: GEMMs (one per instance, all of t.dims and the
// same epilogue) emitted one after another, the next one's loads overlapping this one's tail.
class GemmCascadeEmitter {
 public:
  GemmCascadeEmitter(const HwConfig& hw, const GemmTiling& t, Epilogue epi, std::uint64_t capacity,
                     bool b_transposed = false);
  const cascade::Cascade& cascade() const { return *cascade_; }
  const cascade::Mapping& mapping() const { return mapping_; }
  // The buffers for the SRAM report, named as GemmEmitter names them.
  std::vector<BufferInfo> buffers(const std::string& prefix, std::uint32_t phase, BufClass a, BufClass b,
                                  BufClass c) const;
  // Emits the GEMMs of `blocks` (each with this emitter's epilogue and B layout).
  void emit(Emitter& em, const std::vector<GemmBlocks>& blocks) const;

 private:
  const HwConfig& hw_;
  GemmTiling t_;
  Epilogue epi_;
  bool b_transposed_;
  std::uint64_t capacity_;
  std::shared_ptr<cascade::Cascade> cascade_;  // the plan points into it
  cascade::Mapping mapping_;
  cascade::CascadePlan plan_;
};

// A whole standalone GEMM (lower_gemm's program) through the cascade: tensors A, B, C (and R with
// the residual epilogue) in DRAM; B N x K when b_transposed.
TileProgram lower_gemm_cascade(const HwConfig& hw, const GemmDims& d, const GemmTiling& t,
                               Epilogue epi = Epilogue::None, bool b_transposed = false);

}  // namespace attnsim
