#include "cli/commands.h"
#include "common/errors.h"

namespace attnsim::cli {

int cmd_dram_replay(const Args&) { throw UserError("dram-replay: the cycle-accurate DRAM model is not in this build yet"); }

}  // namespace attnsim::cli
