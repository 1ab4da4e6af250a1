#include "hw/array/fast_array.h"

#include "common/checked_math.h"
#include "common/sim_time.h"

namespace attnsim {

std::int64_t FastArray::run_gemm(const GemmDims& dims, const GemmOperands* /*operands*/) {
  std::int64_t cycles = gemm_cycles(cfg_.rows, cfg_.cols, cfg_.dataflow, cfg_.timing, dims);
  wait_fs(cycles_to_fs(cycles, cfg_.period_fs()));
  return cycles;
}

}  // namespace attnsim
