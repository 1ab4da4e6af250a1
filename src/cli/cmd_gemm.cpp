#include "cli/commands.h"
#include "common/errors.h"

namespace attnsim::cli {

int cmd_gemm(const Args&) { throw UserError("gemm: not yet"); }

}  // namespace attnsim::cli
