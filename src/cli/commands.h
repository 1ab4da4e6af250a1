#pragma once
// Subcommands of the attnsim CLI. Each takes the arguments after its name and returns the exit
// status; a UserError thrown from inside becomes exit status 2 in main().
#include <string>
#include <vector>

namespace attnsim::cli {

using Args = std::vector<std::string>;

int cmd_gemm(const Args& args);         // simulate one GEMM (cmd_gemm.cpp)
int cmd_check(const Args& args);        // validate config files (cmd_check.cpp)
int cmd_area(const Args& args);         // the hardware's area by component (cmd_area.cpp)
int cmd_dram_replay(const Args& args);  // replay a memory trace on a DRAM model (cmd_dram_replay.cpp)
int cmd_run(const Args& args);          // simulate a transformer model (cmd_run.cpp)
int cmd_compare(const Args& args);      // attention variants side by side over sequence lengths (cmd_compare.cpp)
int cmd_sweep(const Args& args);        // a design-space sweep from a JSON spec (cmd_sweep.cpp)
int cmd_merge(const Args& args);        // combine a sweep's shares into one output folder (cmd_merge.cpp)
int cmd_schema(const Args& args);       // print an input format's JSON Schema (cmd_schema.cpp)

}  // namespace attnsim::cli
