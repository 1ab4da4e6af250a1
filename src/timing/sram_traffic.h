#pragma once
// Bytes each GEMM tile moves between the SRAM banks and the array, by dataflow. An operand is
// re-read once per fold of the dimension it is not stationary in; partial sums of WS/IS leave the
// array once per fold of K (accumulated in SRAM), OS results leave once per output tile.
//   OS: A read col_folds times, B read row_folds times, C written once (read too when accumulating)
//   WS: B read once, A read col_folds times, C read+written once per K fold
//   IS: A read once, B read col_folds times, C read+written once per K fold
#include <cstdint>

#include "config/hw_config.h"
#include "ir/tile_program.h"
#include "timing/array_timing.h"

namespace attnsim {

struct SramTraffic {
  std::uint64_t a_read = 0, b_read = 0, c_read = 0, c_written = 0;
};

SramTraffic gemm_sram_traffic(const ArrayConfig& a, const Instr& gemm);

}  // namespace attnsim
