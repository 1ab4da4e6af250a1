#include "hw/array/fast_array.h"
#include "hw/array/pe_array.h"

namespace attnsim {

std::unique_ptr<IArrayModel> make_array_model(const ArrayConfig& cfg) {
  if (cfg.fidelity == ArrayFidelity::Pe) return make_pe_array_model(cfg);
  return std::make_unique<FastArray>(cfg);
}

}  // namespace attnsim
