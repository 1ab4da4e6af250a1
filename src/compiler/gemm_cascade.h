#pragma once
// A GEMM with its fused epilogue lowered as data: the cascades models/cascades/gemm.json (C = A B),
// gemm_gelu, gemm_relu and gemm_residual (Y = act(A B), Y = A B + R), run by the generic lowering
// (cascade/lower.h) with a cascade mapping translated from the GemmTiling the GEMM mapper picks
// (gemm_lowering.h). Every GEMM runs so; the hand-written GEMM emit loop this replaced is a test
// reference (tests/support/gemm_emitter.h, "GemmEmitter" below), which the translation follows: the
// loops over m and n in the tiling's order with k innermost, or k in the middle (m, k, n or n, k, m:
// the outer iteration's row of C tiles open over k in 2 x (inner tiles) slots, the epilogue on each at
// its last K step); A, B, C (and R) double-buffered at gemm_layout's addresses (C in the accumulator
// storage when the tiling put it there), the epilogue in place on the finished C tile (mapping
// placement in_place), the K steps of a tile chained on the array. B stored transposed (N x K) is the
// same cascade with B's ranks (n, k).
//
// lower_gemm (attnsim gemm), model_lowering and the mapper's timing of GEMM candidates
// (choose_gemm_tiling) take this path, so what runs is what was timed.
// A double-buffered operand whose block is still in its other slot is read from there, where
// GemmEmitter loads it again (K in two tiles, or an inner loop of two tiles with K in one): fewer
// bytes, never more, which the mapper's traffic estimate counts. A model op of several instances runs
// as one group: a block the instances share (a weight) stays on chip where GemmEmitter loads it again;
// an operand resident per instance (its own) loads the next instance's tiles into its one slot as the
// last reads of each tile are done (the generic lowering's per-tile reload), as GemmEmitter's slot per
// tile does.
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
// where GemmEmitter puts each tile in a slot of its own. The bytes moved are the same; the SRAM accesses
// are more (narrower rows per access): on LRA text primal N = 1024 on edge, +12 % reads in qkv_proj,
// out_proj and ffn, +0.7 % of the run's energy; where the array waits on the banks' ports (an 8x8 array
// with 64-byte ports in test_gemm_cascade.cpp) up to 1 % more cycles.
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

// Whether the generic lowering's program for tiling t moves what GemmEmitter's (the tests' reference)
// does:
// false when a double-buffered operand's block comes back while still in its other slot (the outer
// operand with K in two tiles and an inner loop of several, or the inner operand's two blocks per outer
// iteration), which the generic lowering reads from there and GemmEmitter loads again.
bool gemm_cascade_loads_as_emitter(const GemmTiling& t);

// The cascade of a GEMM with `epi` bound to M x K x N (its stem: gemm, gemm_gelu, gemm_relu, gemm_residual).
const char* gemm_cascade_stem(Epilogue epi);
// With B stored transposed (N x K), B's ranks are (n, k) and the contraction reads it so.
cascade::Cascade gemm_cascade(Epilogue epi, const GemmDims& d, bool b_transposed = false);

// Where tiling t's buffers go (gemm_buffer_sizes: slots and bytes), from SRAM address `base` within
// `capacity`: A0 A1 .. B0 B1 .. (C0 C1 ..) (R0 R1), each tensor's slots one after another; the C
// slots at the start of the accumulator storage instead when the tiling put them there. The array
// reads A and B and writes C at once, so they should not share a bank's port: with contiguous banks,
// when it still fits, every slot starts on a bank boundary (each in banks of its own); with
// interleaved banks, where a buffer of more than a period (stripe x banks) spreads over every bank
// whatever its start and buffers packed one after another start on successive banks, on a stripe
// boundary (each holds whole stripes and spreads evenly).
struct GemmLayout {
  std::vector<std::uint64_t> a, b, c;  // each slot's address
  std::uint64_t r[2] = {0, 0};         // the residual's two slots (r_bytes 0: none)
  std::uint64_t a_bytes = 0, b_bytes = 0, c_bytes = 0, r_bytes = 0;
  std::uint64_t end = 0;  // the SRAM's end of the buffers (C in the accumulator storage apart)
  // The buffers for the SRAM report: A0, B0, C0, R0, A1, ... named with `prefix`.
  std::vector<BufferInfo> buffers(const std::string& prefix, std::uint32_t phase, BufClass a, BufClass b,
                                  BufClass c) const;
};
GemmLayout gemm_layout(const HwConfig& hw, const GemmTiling& t, std::uint64_t base, std::uint64_t capacity);

// The cascade mapping of tiling t (translatable) for cascade c, its buffers where gemm_layout(hw, t, 0,
// capacity) puts them.
cascade::Mapping gemm_cascade_mapping(const HwConfig& hw, const cascade::Cascade& c, const GemmTiling& t,
                                      std::uint64_t capacity);

// GEMMs through the generic lowering: (one per instance, all of t.dims and the
// same epilogue) emitted one after another, the next one's loads overlapping this one's tail.
class GemmCascadeEmitter {
 public:
  GemmCascadeEmitter(const HwConfig& hw, const GemmTiling& t, Epilogue epi, std::uint64_t capacity,
                     bool b_transposed = false);
  const cascade::Cascade& cascade() const { return *cascade_; }
  const cascade::Mapping& mapping() const { return mapping_; }
  // The buffers for the SRAM report (GemmLayout::buffers).
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
