#include "hw/array/fast_array.h"

#include <systemc>

namespace attnsim {

std::int64_t FastArray::run_gemm(const GemmDims& dims, const GemmOperands* /*operands*/) {
  std::int64_t cycles = gemm_cycles(cfg_.rows, cfg_.cols, cfg_.dataflow, cfg_.timing, dims);
  sc_core::wait(sc_core::sc_time(double(cycles * cfg_.period_ps()), sc_core::SC_PS));
  return cycles;
}

}  // namespace attnsim
