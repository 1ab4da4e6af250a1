#pragma once
// The GEMM mapper: picks the tiling of C = A B (A: M x K, B: K x N, blocks of row-major DRAM tensors)
// that fits an SRAM budget, with double-buffered A, B and C tiles so that loads and stores overlap
// compute, or operands kept resident. The tiling runs as a mapping of the gemm cascade through the
// generic lowering (compiler/gemm_cascade.h). B may be stored transposed (N x K, as K is for
// S = Q K^T); the GEMM reads it so.
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/emitter.h"
#include "config/hw_config.h"
#include "ir/tile_program.h"
#include "mapper/search.h"
#include "timing/array_timing.h"

namespace attnsim {

// The tiling the compiler chose, and why.
struct GemmTiling {
  std::int64_t tm = 0, tk = 0, tn = 0;  // tile sizes
  bool n_outer = false;                 // loop order n, m, k (B panel reused) instead of m, n, k
  std::uint64_t est_dram_bytes = 0;     // traffic the schedule moves
  std::int64_t est_compute_cycles = 0;  // sum of the tiles' array cycles
  double est_cycles = 0;                // the mapper's estimate: timed when it was timed, else analytical
  int epilogue_inputs = 0;              // 1: double-buffered residual tiles share the SRAM
  bool c_in_accumulators = false;       // the C tiles (partial sums) live in accumulator storage
  // Residency (which operands stay on chip, so that they are read from DRAM once). "Outer" and
  // "inner" are the operands indexed by the outer and the inner loop (A and B for m outer).
  //   k_middle        loop order m,k,n (n,k,m): the outer tile row's C tiles all stay on chip across
  //                   the K loop (2 x inner-count C buffers: the next row's partial sums start while
  //                   the last row's leave), and each outer tile serves the whole inner loop at once;
  //   outer_resident  (k innermost) the outer operand's panel (tm x K for m outer) stays on chip over
  //                   the inner loop: 2 x nk tiles, the next panel loaded while this one is used;
  //   inner_resident  the inner operand stays on chip whole (nk x inner-count tiles), loaded once.
  //   lead_block      (k innermost, both operands resident) the first lead_block outer tiles run as
  //                   one block with k outermost: for k, for each inner tile, for each outer tile of
  //                   the block. The first outer iteration would otherwise load the whole inner
  //                   operand while computing only its own row (memory-bound when a row's compute is
  //                   shorter than the inner operand's load); in the block each inner tile, loaded
  //                   when first needed, serves lead_block GEMMs. Its lead_block x inner-count C
  //                   tiles stay on chip over k (C buffers, with two more for the tiles after the
  //                   block while its stores go out; the later tiles rotate over all of them).
  bool k_middle = false, outer_resident = false, inner_resident = false;
  int lead_block = 0;
  GemmDims dims;  // the GEMM the tiling was chosen for: it sizes the resident buffers
};

// Picks the tiling within `capacity` bytes of SRAM (0: all of it). Tile sizes are whole multiples
// of the array dimension each GEMM dimension is folded over (or the whole dimension), so the
// array's fold structure is kept. Throws UserError naming `what`, the smallest tile and the
// capacity when nothing fits.
// epilogue_inputs = 1 reserves room for a residual tile per C tile (Epilogue::AddResidual).
// The mapper (mapper/search.h) ranks the tilings by an analytical estimate (exposed first load and
// last store, per-tile fill and drain, bank-port time, DRAM bandwidth) and times the best few.
// When the hardware declares accumulator storage (hw_config.h) and a tiling's two C buffers fit in
// it, they go there; the tiling is chosen as if they took SRAM room too, unless no tiling fits so
// (then only A, B and residual tiles count against the SRAM capacity).
GemmTiling choose_gemm_tiling(const HwConfig& hw, const GemmDims& d, std::uint64_t capacity = 0,
                              const std::string& what = "", int epilogue_inputs = 0,
                              const MapperOptions& opt = {});


// Every tiling the mapper considers within capacity (0: all the SRAM); wide: the thorough effort's
// wider mapspace too. For tests: each must compute the GEMM.
std::vector<GemmTiling> gemm_tiling_candidates(const HwConfig& hw, const GemmDims& d, std::uint64_t capacity = 0,
                                               int epilogue_inputs = 0, bool wide = false);

// Work done on a finished C tile in SRAM by the vector unit before it is stored (fused, so that it
// overlaps the array's next tiles): an activation in place, or a residual add of a DRAM block.
enum class Epilogue : std::uint8_t { None, Gelu, Relu, AddResidual };

struct GemmBlocks {
  DramBlock a;                // M x K
  DramBlock b;                // K x N, or N x K when b_transposed
  bool b_transposed = false;
  DramBlock c;                // M x N
  Epilogue epilogue = Epilogue::None;
  OpClass epilogue_class = OpClass::Other;  // what the epilogue's instructions count as
  DramBlock residual;                       // AddResidual: M x N, added to C
};

// One whole GEMM over a program's tensors A (0), B (1), C (2) and, with AddResidual, R (3).
GemmBlocks whole_gemm_blocks(const GemmDims& d, Epilogue epi = Epilogue::None);

// The buffers tiling t needs: slots per operand (2, double-buffered, or more when the tiling keeps an
// operand resident: k_middle, outer_resident, inner_resident, lead_block) and bytes per slot (64-byte
// aligned; r: the residual tile with t.epilogue_inputs, double-buffered, else 0). What the mapper sizes
// a tiling by; compiler/gemm_cascade.h places them.
struct GemmBufferSizes {
  std::int64_t a_slots = 2, b_slots = 2, c_slots = 2;
  std::uint64_t a = 0, b = 0, c = 0, r = 0;
};
GemmBufferSizes gemm_buffer_sizes(const HwConfig& hw, const GemmTiling& t);

// The tiling as a mapping entry (kind gemm, tiles m, k, n, loop order, resident operands).
OpMapping gemm_op_mapping(const GemmTiling& t);
// "m,n,k", "n,k,m", ... and ", A resident" etc.: the loop order and residency for summaries.
std::string describe_gemm_order(const GemmTiling& t);

// A whole standalone GEMM: tensors A, B, C in DRAM and one program (attnsim gemm).
TileProgram lower_gemm(const HwConfig& hw, const GemmDims& d, const GemmTiling& t);
TileProgram lower_gemm(const HwConfig& hw, const GemmDims& d);

}  // namespace attnsim
