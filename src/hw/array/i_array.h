#pragma once
// The systolic array role. Two implementations: FastArray (closed-form latency, one wait per tile)
// and PeArray (every PE's registers stepped each cycle in one process, moving real operands).
// Contract: run_gemm is called from an SC_THREAD; it returns after the GEMM's last cycle, having
// advanced simulated time by exactly the cycles it returns times the clock period (sim_time.h). Both models
// must return identical cycle counts for every shape, dataflow and timing mode.
#include <cstdint>
#include <memory>

#include "config/hw_config.h"
#include "timing/array_timing.h"

namespace attnsim {

// Optional real operands, row-major: A is m x k, B is k x n, C is m x n and is accumulated into
// (C += A B). Only the PE-level model reads them; the fast model moves no data.
struct GemmOperands {
  const std::int32_t* a = nullptr;
  const std::int32_t* b = nullptr;
  std::int64_t* c = nullptr;
};

class IArrayModel {
 public:
  virtual ~IArrayModel() = default;
  virtual std::int64_t run_gemm(const GemmDims& dims, const GemmOperands* operands) = 0;
};

std::unique_ptr<IArrayModel> make_array_model(const ArrayConfig& cfg);

}  // namespace attnsim
