#pragma once
// Lowers C = A B (A: M x K, B: K x N, row-major in DRAM) into a tile program that fits the
// configured SRAM, with double-buffered A, B and C tiles so that loads and stores overlap compute.
#include <cstdint>
#include <string>

#include "config/hw_config.h"
#include "hw/array/array_timing.h"
#include "ir/tile_program.h"

namespace attnsim {

// The tiling the compiler chose, and why.
struct GemmTiling {
  std::int64_t tm = 0, tk = 0, tn = 0;  // tile sizes
  bool n_outer = false;                 // loop order n, m, k (B panel reused) instead of m, n, k
  std::uint64_t est_dram_bytes = 0;     // traffic the schedule moves
  std::int64_t est_compute_cycles = 0;  // sum of the tiles' array cycles
  double est_cycles = 0;                // max(compute, traffic / bandwidth): what the choice minimises
};

// Picks the tiling. Tile sizes are whole multiples of the array dimension each GEMM dimension is
// folded over (or the whole dimension), so the array's fold structure is kept. Throws UserError
// naming the tensors, the smallest tile and the capacity when nothing fits.
GemmTiling choose_gemm_tiling(const HwConfig& hw, const GemmDims& d);

// Emits the program for a chosen tiling (deterministic).
TileProgram lower_gemm(const HwConfig& hw, const GemmDims& d, const GemmTiling& t);

// Both steps.
TileProgram lower_gemm(const HwConfig& hw, const GemmDims& d);

}  // namespace attnsim
