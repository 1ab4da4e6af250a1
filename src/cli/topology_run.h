#pragma once
// A SCALE-Sim topology run (attnsim gemm or run with --topology): every layer, lowered to its GEMM
// (config/scalesim_input.h), simulated in a child process of its own; one table row per layer, and
// with an output folder layers.csv and a report per layer.
#include <string>
#include <vector>

#include "mapper/search.h"

namespace attnsim::cli {

// The hardware is a SCALE-Sim run config (scalesim_cfg, which also keeps each layer's streamed
// dimension whole, as SCALE-Sim streams it) or an attnsim one (hw_name: a file or a preset); sets are
// --set overrides on it. topology "" takes the run config's TopologyCsvLoc. jobs: children at once
// (1 to 256). Returns the exit status: 0, or 1 when a layer failed (each failure printed).
int run_scalesim_topology(const std::string& hw_name, const std::string& scalesim_cfg, std::string topology,
                          const std::vector<std::string>& sets, const MapperOptions& mopt, int jobs,
                          const std::string& out_dir);

}  // namespace attnsim::cli
