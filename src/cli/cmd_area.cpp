// attnsim area: the hardware's area by component from its energy and area table (report/energy.h),
// as every report carries it, without simulating anything.
#include <iomanip>
#include <iostream>

#include "cli/cli_common.h"
#include "common/errors.h"
#include "report/energy.h"

namespace attnsim::cli {

int cmd_area(const Args& args) {
  po::options_description opts("options");
  std::string hw_name;
  std::vector<std::string> sets;
  bool json = false;
  opts.add_options()("help,h", "this text")("hw", po::value(&hw_name), "hardware config file or preset")(
      "set", po::value(&sets)->composing(), "override a hardware value: /json/pointer=VALUE (repeatable)")(
      "json", po::bool_switch(&json), "print the breakdown as JSON (the report's area_mm2 section)");
  po::variables_map vm;
  if (!parse_options("area", "--hw FILE|PRESET [--set /path=VALUE]... [--json]", opts, nullptr, args, vm)) return 0;
  if (hw_name.empty()) throw UserError("area: --hw is required");
  const HwConfig hw = load_hw(hw_name, sets);
  const Json a = area_json(hw);
  if (json) {
    std::cout << a.dump(2) << "\n";
    return 0;
  }
  std::cout << hw.source << ": area " << std::fixed << std::setprecision(3) << a["total"].get<double>()
            << " mm^2 (" << a["table"].get<std::string>() << ", " << a["node_nm"] << " nm, "
            << a["datatype"].get<std::string>() << " array, " << a["dram_technology"].get<std::string>() << " PHY)\n";
  for (const char* k : {"array", "sram", "accumulators", "vector", "softmax", "datapath", "dma", "dram_phy"}) {
    const double v = a[k].get<double>();
    std::cout << "  " << std::left << std::setw(14) << k << std::right << std::setw(12) << v << " mm^2  "
              << std::setw(5) << std::setprecision(1) << (a["total"].get<double>() > 0 ? 100.0 * v / a["total"].get<double>() : 0.0)
              << " %\n" << std::setprecision(3);
  }
  return 0;
}

}  // namespace attnsim::cli
