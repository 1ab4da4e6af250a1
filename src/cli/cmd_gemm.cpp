// attnsim gemm: simulate C = A B on the described hardware and report cycles, utilization,
// bandwidth, SRAM use and the roofline.
#include <iostream>

#include "cli/cli_common.h"
#include "common/errors.h"
#include "compiler/gemm_lowering.h"
#include "hw/accelerator.h"
#include "report/report.h"

namespace attnsim::cli {

int cmd_gemm(const Args& args) {
  po::options_description opts("options");
  std::string hw_name, out_dir, emit;
  MapperFlags mapper;
  std::int64_t m = 0, k = 0, n = 0;
  std::vector<std::string> sets;
  opts.add_options()("help,h", "this text")("hw", po::value(&hw_name)->required(),
                                            "hardware config: a JSON file, or a preset (edge, cloud, tpu-v1)")(
      "m", po::value(&m)->required(), "rows of A and C")(
      "k", po::value(&k)->required(), "columns of A, rows of B (the reduction)")("n", po::value(&n)->required(),
                                                                                 "columns of B and C")(
      "set", po::value(&sets)->composing(),
      "override a hardware value before validation: /json/pointer=VALUE (repeatable), e.g. --set /array/dataflow=ws")(
      "out", po::value(&out_dir), "write report.json and report.csv into this directory")(
      "emit", po::value(&emit),
      "print an intermediate form instead of simulating: tiles, or mapping (the chosen tiling as JSON, op \"gemm\", "
      "that --mapping reads back)");
  mapper.add_to(opts, "the tiling (op \"gemm\")");
  po::variables_map vm;
  if (!parse_options("gemm",
                     "--hw FILE|PRESET --m M --k K --n N [--out DIR] [--set /path=VALUE]...\n"
                     "       [--mapper fast|default|thorough] [--mapping FILE] [--emit tiles|mapping]",
                     opts, nullptr, args, vm))
    return 0;
  if (!emit.empty() && emit != "tiles" && emit != "mapping") throw UserError("--emit " + emit + ": must be tiles or mapping");
  const MapperOptions mopt = mapper.options();
  for (const auto& [op, om] : mapper.fixed.ops)
    if (op != "gemm") throw UserError(mapper.fixed.where(op, "") + ": attnsim gemm has one op, named \"gemm\"");
  HwConfig hw = load_hw(hw_name, sets);
  check_gemm_size(hw, m, k, n);
  const GemmDims dims{m, k, n};
  const GemmTiling tiling = choose_gemm_tiling(hw, dims, 0, "gemm", 0, mopt);
  ModelMapping chosen;
  chosen.ops.emplace_back("gemm", gemm_op_mapping(tiling));
  if (emit == "mapping") {
    std::cout << mapping_to_text(chosen);
    return 0;
  }
  TileProgram program = lower_gemm(hw, dims, tiling);
  if (emit == "tiles") {
    print_tile_program(program, std::cout);
    return 0;
  }
  enable_run_progress();
  SimOutcome outcome = simulate(hw, program);
  Json workload = {{"kind", "gemm"}, {"m", m}, {"k", k}, {"n", n}};
  Json report = make_report(hw, workload, program, outcome);
  report["mapping"] = mapping_to_json(chosen);
  print_summary(std::cout, report);
  if (!out_dir.empty()) {
    make_directories(out_dir);
    write_json_file(out_dir + "/report.json", report);
    write_csv_file(out_dir + "/report.csv", headline_figures(report));
    std::cout << "  report written to " << out_dir << "/report.json and report.csv\n";
  }
  return 0;
}

}  // namespace attnsim::cli
