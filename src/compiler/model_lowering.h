#pragma once
// Lowers a whole workload graph into one streamed tile program: each graph op (or attention group)
// becomes a phase with its own SRAM plan, phases separated by barriers. Plans are made up front, so
// every "does not fit" error comes before any instruction is emitted; instructions are generated
// on demand (ProgramSource::generate), never all held at once.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "config/hw_config.h"
#include "ir/graph.h"
#include "ir/tile_program.h"
#include "mapper/mapping.h"
#include "mapper/search.h"

namespace attnsim {

struct PhaseInfo {
  std::string name;  // "L0.qkv_proj", "L0.attention", ...
  int layer = 0;
  OpClass cls = OpClass::Other;
  std::string plan;  // how it was tiled, one line
  std::uint64_t sram_bytes = 0;
  OpMapping mapping;  // the schedule choice (kind empty: the op has no mapping choices yet)
};

struct CompiledModel {
  ProgramSource program;
  std::vector<PhaseInfo> phases;
};

// Called as the program's generator starts emitting each phase (for progress reports).
using PhaseHook = std::function<void(std::size_t index, std::size_t count, const PhaseInfo& phase)>;

// The program refers to hw and g, which must outlive it. opt: the mapper's effort and the choices a
// user fixed; a fixed choice for an op that does not exist, of the wrong kind, or that does not fit
// is a UserError naming the mapping file and the path.
CompiledModel compile_model(const HwConfig& hw, const Graph& g, PhaseHook on_phase = nullptr,
                            const MapperOptions& opt = {});
// The mapping the compilation chose, op by op (what --emit mapping prints).
ModelMapping mapping_of(const CompiledModel& cm);

}  // namespace attnsim
