#pragma once
#include "hw/array/i_array.h"

namespace attnsim {

// Computes each tile's latency in closed form (timing/array_timing.h) and waits once.
class FastArray final : public IArrayModel {
 public:
  explicit FastArray(const ArrayConfig& cfg) : cfg_(cfg) {}
  std::int64_t run_gemm(const GemmDims& dims, const GemmOperands* operands) override;

 private:
  ArrayConfig cfg_;
};

}  // namespace attnsim
