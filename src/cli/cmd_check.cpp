// attnsim check: validate config files and report every problem in each.
#include <iostream>

#include "cli/cli_common.h"
#include "common/errors.h"

namespace attnsim::cli {

int cmd_check(const Args& args) {
  po::options_description opts("options");
  std::vector<std::string> files;
  opts.add_options()("help,h", "this text")("file", po::value(&files), "config files (or preset names) to check");
  po::positional_options_description pos;
  pos.add("file", -1);
  po::variables_map vm;
  if (!parse_options("check", "FILE...", opts, &pos, args, vm)) return 0;
  if (files.empty()) throw UserError("check: give at least one config file");
  bool all_ok = true;
  for (const std::string& f : files) {
    try {
      HwConfig hw = load_hw_config(f);
      std::cout << f << ": ok (hardware: " << hw.array.rows << "x" << hw.array.cols << " "
                << to_string(hw.array.dataflow) << ", " << hw.sram.total_bytes() << " B SRAM in " << hw.sram.banks
                << " banks)\n";
    } catch (const UserError& e) {
      all_ok = false;
      std::cerr << e.what() << "\n";
    }
  }
  return all_ok ? 0 : kExitUserError;
}

}  // namespace attnsim::cli
