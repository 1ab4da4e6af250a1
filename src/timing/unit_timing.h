#pragma once
// Closed-form timing of VECTOR instructions on the vector unit and of SOFTMAX instructions on the
// softmax unit (or on the vector unit when the hardware has none), and the SRAM bytes each moves.
// Plain C++: the SystemC units wait this long, tests check the numbers by hand.
//
// Vector unit (VectorConfig). Every operation is a count of primitives (VecPrim) per element of its
// tile and per row of it: vec_op_prims() below, each entry derived in unit_timing.cpp. The unit
// issues one primitive for `lanes` elements at a time, taking cost[p] cycles per issue, and its
// pipeline is latency_cycles deep. The issues of one instruction stream back to back, so the
// latency is paid once per instruction, and same-kind primitives of consecutive steps share vectors
// (a partial last vector happens once per primitive kind, not once per step):
//   cycles = latency + sum_p ceil(per_elem[p] * E / lanes) * cost[p] + ceil(per_row[p] * R / lanes) * cost[p]
//                              + ceil(per_b_elem[p] * Eb / lanes) * cost[p]
// E = rows * cols and R = rows of the source a for the reductions (RowMax, RowSum), of c otherwise;
// for the FAVOR+ feature maps (FavorRows, FavorCols) E is c's and R the tokens, the rows of b (one
// token per row). Eb = the elements of b, streamed by the ops that reduce it (the FAVOR+ token norms).
// A prefix_sum is one step of a running sum down the rows of a column (element (r, j) gets the sum of
// elements (0..r, j)); the unit's scan network makes it one issue per `lanes` elements like an add.
// Worked examples, lanes 32, latency 4, default costs (add, mul, max, prefix_sum 1; exp, rsqrt, reciprocal 4):
//   Exp on 8 x 8:    E = 64: 4 + ceil(64/32) * 4 = 12.
//   Relu on 5 x 8:   E = 40, a partial last vector: 4 + ceil(40/32) * 1 = 6.
//   Gelu on 8 x 8:   5 mul, 3 add, 1 exp, 1 reciprocal per element:
//                    4 + ceil(320/32) + ceil(192/32) + ceil(64/32) * 4 + ceil(64/32) * 4 = 4 + 10 + 6 + 8 + 8 = 36.
//   L2Norm on 4 x 64: 2 mul, 1 add per element, 1 rsqrt per row:
//                    4 + ceil(512/32) + ceil(256/32) + ceil(4/32) * 4 = 4 + 16 + 8 + 4 = 32.
//   PrefixMean on 8 x 64: 1 prefix_sum, 1 add, 1 mul per element, 1 reciprocal per row:
//                    4 + 3 * ceil(512/32) (one vector stream per kind) + ceil(8/32) * 4 = 4 + 48 + 4 = 56.
//   FavorRows, c 8 x 16 (m = 16), b 8 x 32 (8 tokens, d = 32): per element of c 2 mul, 1 add, 1 exp; per
//                    element of b 1 mul, 1 add; per token 1 mul:
//                    4 + ceil(256/32) + ceil(128/32) + ceil(128/32) * 4 + ceil(256/32) * 2 + ceil(8/32) = 49.
//   DivCol on 8 x 64: 1 mul per element, 1 reciprocal per row: 4 + 16 + 4 = 24.
//
// Softmax unit (SoftmaxConfig), a streaming pipeline: `lanes` lanes each with a max comparator, an
// adder and a multiplier, feeding shared special-function units that evaluate X = min(lanes,
// exp_per_cycle) exponentials or reciprocals per cycle. A pass streams a tile once; the per-element
// arithmetic of a pass (scale, subtract, exp, accumulate) is fused in the lane, so a pass over E
// elements takes ceil(E / lanes) cycles, or ceil(E / X) when it computes exponentials. Per-row
// values (row maxima, sums) stay in the unit between passes. Reciprocals run on the special-function
// units, as GPUs' SFUs evaluate exp, rcp and rsqrt alike: ceil(r / X) for r of them. latency_cycles
// is paid once per instruction. With L = lanes, r x c the tile (a for Rows and OnlineStep, c for
// Rescale and Normalize), E = r * c:
//   Rows:       latency + ceil(E/L) [row max] + ceil(E/X) [exp(scale*(x - max)), row sum]
//                       + ceil(r/X) [1 / sum] + ceil(E/L) [normalise multiply]
//   OnlineStep: latency + ceil(E/L) [tile row max] + ceil(r/X) [m_new = max(m_old, tile max),
//                         alpha = exp(m_old - m_new), alpha * l seeds the row sum] + ceil(E/X) [exp, row sum]
//   Rescale:    latency + ceil(E/L) [multiply by alpha]
//   Normalize:  latency + ceil(r/X) [1 / l] + ceil(E/L) [multiply]
//   Merge:      latency + ceil(r/L) [m = max(m_c, m_b)] + 2 ceil(r/X) [alpha_c, alpha_b; l's products
//                         and sum in the same lanes] (c the r x 3 stats)
// `first` does not shorten OnlineStep (alpha = exp(-inf) = 0 goes through the pipeline like any
// other), and masked elements cost as much as the others: the unit streams the whole tile.
// Worked example, L = X = 32, latency 8, Rows on 32 x 64: 8 + 64 + 64 + 1 + 64 = 201.
//
// SOFTMAX on the vector unit: the same passes, but the vector unit issues every primitive on its
// own (softmax_prims_on_vector() has the counts) and is priced by the formula above, latency once.
// Rows on 32 x 64, lanes 32, default costs: max 64 + mul 128 + add 128 + exp 64*4 + reciprocal 1*4
// + latency 4 = 584, against 201 on a softmax unit of the same width.
//
// SRAM traffic (unit_sram_traffic): the units hold no tiles, only per-row values, so every pass
// streams its source tiles from SRAM again and an intermediate result goes back to SRAM:
//   Add, Mul, SwiGlu                  a, b read once; c written once
//   Scale, Copy, Relu, Gelu, Exp      a read once; c written once
//   AddRow                            a read once, row 0 of b once; c written once
//   LayerNorm                         a read twice (sum; deviations), rows 0-1 of b once;
//                                     c written twice (the deviations, then the result) and read once
//   RmsNorm                           a read twice (sum of squares; normalise), row 0 of b once; c written once
//   RowMax, RowSum                    a read once; c written one element per row
//   L2Norm                            a read twice (sum of squares; normalise); c written once
//   PrefixMean                        a read once; c written once; the carry b (one row) read once (not
//                                     when `first`: the carry starts at 0) and written once
//   FavorRows, FavorCols              a read once, b (the tokens) read once; c written once: the
//                                     tokens' norms come first (b is small: d columns), then one pass over a
//   DivCol                            a read once, column 0 of b once (one element per row); c written once
//   SOFTMAX Rows                      a read twice (max pass, exp pass); c written twice (the
//                                     exponentials, then normalised in place) and read once
//   SOFTMAX OnlineStep                a read twice (max pass, exp pass); c written once; the stats
//                                     tile b read once (not when `first`: m and l start fresh) and written once
//   SOFTMAX Rescale                   c read and written once; the stats tile b read once
//   SOFTMAX Merge                     both stats tiles b and c read and written once
//   SOFTMAX Normalize                 a read once, the stats tile b once; c written once
// A stats row (m, l, alpha) is 12 contiguous bytes, read as a whole even when one column is used.
#include <array>
#include <cstdint>

#include "config/hw_config.h"
#include "ir/tile_program.h"

namespace attnsim {

// Primitives one operation needs per element of its tile and per row of it.
struct PrimCounts {
  std::array<int, kVecPrimCount> per_elem{};
  std::array<int, kVecPrimCount> per_row{};
  std::array<int, kVecPrimCount> per_b_elem{};  // per element of the source b (FAVOR+: the token norms)
};

// The table for VECTOR operations (derivations in unit_timing.cpp).
PrimCounts vec_op_prims(VecOp op);
// The primitives a SOFTMAX operation needs when the vector unit runs it.
PrimCounts softmax_prims_on_vector(SmOp op);

// Vector unit cycles for `elems` elements in `rows` rows (and `b_elems` elements of b) with these
// counts, latency included.
std::int64_t vector_cycles(const VectorConfig& v, const PrimCounts& counts, std::uint64_t elems, std::uint64_t rows,
                           std::uint64_t b_elems = 0);

// Cycles the vector unit is busy with one VECTOR instruction.
std::int64_t vector_op_cycles(const VectorConfig& v, const Instr& vec);
// Cycles one SOFTMAX instruction takes: on the softmax unit when hw has one, else on the vector unit.
std::int64_t softmax_op_cycles(const HwConfig& hw, const Instr& sm);

// Lane operations by primitive (VecPrim order) of one VECTOR or SOFTMAX instruction: the element
// operations its arithmetic performs, per_elem * E + per_row * R + per_b_elem * Eb with the extents
// vector_op_cycles times (no rounding to whole vectors: an idle lane does no work). A SOFTMAX counts
// the same arithmetic (softmax_prims_on_vector) on the softmax unit or on the vector unit: the unit
// fuses the passes in time, not in operations. For the energy (report/energy.h).
using LaneOps = std::array<std::uint64_t, kVecPrimCount>;
LaneOps unit_lane_ops(const Instr& in);

// SRAM bytes a VECTOR or SOFTMAX instruction moves, per operand tile (table above). b_written is
// the stats tile an OnlineStep updates, or the carry row a PrefixMean updates.
struct UnitTraffic {
  std::uint64_t a_read = 0, b_read = 0, c_read = 0, c_written = 0, b_written = 0;
};
UnitTraffic unit_sram_traffic(const Instr& in);

}  // namespace attnsim
