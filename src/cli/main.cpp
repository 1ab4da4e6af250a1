// attnsim: cycle-accurate simulation of attention on systolic-array accelerators.
#include <boost/program_options/errors.hpp>
#include <cstdlib>
#include <iostream>
#include <string>
#include <systemc>

#include "cli/commands.h"
#include "common/errors.h"

namespace {

struct Command {
  const char* name;
  int (*run)(const attnsim::cli::Args&);
  const char* summary;
};

const Command kCommands[] = {
    {"run", attnsim::cli::cmd_run, "simulate a transformer model (models/*.json or a preset) on the described hardware"},
    {"compare", attnsim::cli::cmd_compare,
     "simulate a model with several attention variants at several sequence lengths, side by side"},
    {"sweep", attnsim::cli::cmd_sweep,
     "run a design-space sweep (JSON spec: hardware and model axes), each point in its own process, resumable"},
    {"merge", attnsim::cli::cmd_merge, "combine the output folders of a sweep's shares (sweep --shard I/N) into one"},
    {"gemm", attnsim::cli::cmd_gemm, "simulate one GEMM C = A B on the described hardware"},
    {"check", attnsim::cli::cmd_check, "validate hardware config files and report every problem"},
    {"area", attnsim::cli::cmd_area, "the hardware's area in mm^2 by component, from its energy and area table"},
    {"dram-replay", attnsim::cli::cmd_dram_replay, "replay a DRAMSim3/Ramulator/plain memory trace on a DRAM model"},
    {"schema", attnsim::cli::cmd_schema, "print the JSON Schema of an input format (hw, model, sweep) for editors"},
};

void print_usage(std::ostream& os) {
  os << "attnsim " ATTNSIM_VERSION " - cycle-accurate simulation of attention on systolic-array accelerators\n\n"
     << "usage: attnsim <command> [options]     (attnsim <command> --help for its options)\n\ncommands:\n";
  for (const auto& c : kCommands) {
    std::string name = c.name;
    os << "  " << name << std::string(name.size() < 14 ? 14 - name.size() : 1, ' ') << c.summary << "\n";
  }
  os << "\noptions:\n  --help        this text\n  --version     print the version\n";
}

}  // namespace

int sc_main(int argc, char* argv[]) {
  std::string first = argc > 1 ? argv[1] : "";
  if (first.empty()) {
    print_usage(std::cerr);
    return attnsim::kExitUserError;
  }
  if (first == "--help" || first == "-h" || first == "help") {
    print_usage(std::cout);
    return 0;
  }
  if (first == "--version") {
    std::cout << "attnsim " ATTNSIM_VERSION " (SystemC " << sc_core::sc_release() << ")\n";
    return 0;
  }
  for (const auto& c : kCommands) {
    if (first != c.name) continue;
    attnsim::cli::Args args(argv + 2, argv + argc);
    try {
      return c.run(args);
    } catch (const attnsim::UserError& e) {
      std::cerr << "attnsim " << c.name << ": error: " << e.what() << "\n";
      return attnsim::kExitUserError;
    } catch (const boost::program_options::error& e) {
      std::cerr << "attnsim " << c.name << ": error: " << e.what() << " (see attnsim " << c.name << " --help)\n";
      return attnsim::kExitUserError;
    } catch (const std::exception& e) {
      std::cerr << "attnsim " << c.name << ": " << e.what() << "\n";
      return attnsim::kExitInternalError;
    }
  }
  std::cerr << "attnsim: unknown command '" << first << "'\n\n";
  print_usage(std::cerr);
  return attnsim::kExitUserError;
}

int main(int argc, char* argv[]) {
  // Keep stdout for results: no SystemC banner.
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
  return sc_core::sc_elab_and_sim(argc, argv);
}
