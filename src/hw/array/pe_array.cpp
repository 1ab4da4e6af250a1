#include "hw/array/pe_array.h"

#include "common/errors.h"

namespace attnsim {

std::unique_ptr<IArrayModel> make_pe_array_model(const ArrayConfig&) {
  throw InternalError("the PE-level array model is not built yet");
}

}  // namespace attnsim
