#include "cli/commands.h"
#include "common/errors.h"

namespace attnsim::cli {

int cmd_check(const Args&) { throw UserError("check: not yet"); }

}  // namespace attnsim::cli
