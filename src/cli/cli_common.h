#pragma once
// Pieces shared by the subcommands: loading a hardware config with --set overrides, and parsing
// options with Boost.Program_options so that --help and errors look the same everywhere.
#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "config/hw_config.h"
#include "config/model_config.h"
#include "mapper/mapping.h"
#include "mapper/search.h"

namespace attnsim::cli {

namespace po = boost::program_options;

// Applies "JSON-pointer=VALUE" overrides (VALUE is read as JSON, or as a string if it is not JSON).
void apply_overrides(Json& doc, const std::vector<std::string>& sets, const std::string& source);
// Loads a hardware file or preset and applies overrides before validation.
HwConfig load_hw(const std::string& file_or_preset, const std::vector<std::string>& sets);

// Refuses a GEMM whose sizes overflow: each of M, K, N at most 2^31 - 1 (tile fields are 32-bit),
// the operand and result bytes and the MACs within int64, and its shortest possible run
// (MACs / PEs cycles) within the simulated time the clock can represent. A UserError names the flags.
void check_gemm_size(const HwConfig& hw, std::int64_t m, std::int64_t k, std::int64_t n);
// Long single runs (run, gemm): a progress line on stderr every 10 s of wall time (the environment
// variable ATTNSIM_PROGRESS_S sets another interval; 0 turns the lines off).
void enable_run_progress();

// The mapper's flags (--mapper, --mapper-seed, --mapping), shared by run and gemm.
struct MapperFlags {
  std::string effort = "default", mapping_file;
  std::uint64_t seed = 0;
  ModelMapping fixed;  // read from mapping_file by options()
  // Adds the three flags to opts; `what` says what is mapped ("each op's schedule", "the tiling").
  void add_to(po::options_description& opts, const std::string& what);
  // Validates the flags and reads the mapping file (UserError naming the flag or the file's path).
  // The result points into this object.
  MapperOptions options();
};

// Parses args into vm; returns false (after printing help) when --help was given.
bool parse_options(const std::string& command, const std::string& usage, const po::options_description& opts,
                   const po::positional_options_description* positional, const Args& args, po::variables_map& vm);

}  // namespace attnsim::cli
