#include "hw/array/fast_array.h"
#include "hw/array/pe_array.h"

namespace attnsim {

std::unique_ptr<IArrayModel> make_array_model(const ArrayConfig& cfg, const DatapathConfig& datapath) {
  if (cfg.fidelity == ArrayFidelity::Pe) return make_pe_array_model(cfg, datapath);
  return std::make_unique<FastArray>(cfg, datapath);
}

}  // namespace attnsim
