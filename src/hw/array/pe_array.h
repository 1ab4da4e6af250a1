#pragma once
#include "hw/array/i_array.h"

namespace attnsim {

// The register-transfer-level array: all PEs stepped each cycle in one process, real operands.
std::unique_ptr<IArrayModel> make_pe_array_model(const ArrayConfig& cfg, const DatapathConfig& datapath);

}  // namespace attnsim
