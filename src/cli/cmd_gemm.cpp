// attnsim gemm: simulate C = A B on the described hardware and report cycles, utilization,
// bandwidth, SRAM use and the roofline; or, with --topology, every layer of a SCALE-Sim topology
// (GEMMs, convolutions lowered to GEMMs by im2col), one table row per layer.
#include <iostream>

#include "cli/cli_common.h"
#include "cli/topology_run.h"
#include "common/errors.h"
#include "compiler/gemm_lowering.h"
#include "hw/accelerator.h"
#include "report/report.h"

namespace attnsim::cli {

int cmd_gemm(const Args& args) {
  po::options_description opts("options");
  std::string hw_name, out_dir, emit, scalesim_cfg, topology;
  MapperFlags mapper;
  std::int64_t m = 0, k = 0, n = 0;
  int jobs = 1;
  std::vector<std::string> sets;
  opts.add_options()("help,h", "this text")("hw", po::value(&hw_name),
                                            "hardware config: a JSON file, or a preset (edge, cloud, tpu-v1)")(
      "m", po::value(&m), "rows of A and C")("k", po::value(&k), "columns of A, rows of B (the reduction)")(
      "n", po::value(&n), "columns of B and C")(
      "set", po::value(&sets)->composing(),
      "override a hardware value before validation: /json/pointer=VALUE (repeatable), e.g. --set /array/dataflow=ws")(
      "out", po::value(&out_dir),
      "write report.json and report.csv into this directory (with --topology: layers.csv and layerN.json)")(
      "emit", po::value(&emit),
      "print an intermediate form instead of simulating: tiles, or mapping (the chosen tiling as JSON, op \"gemm\", "
      "that --mapping reads back)")(
      "scalesim-cfg", po::value(&scalesim_cfg),
      "the hardware as a SCALE-Sim v2 run config (.cfg) instead of --hw: ArrayHeight, ArrayWidth and Dataflow give "
      "the array (timing scalesim, 1-byte words), the three SRAM sizes one SRAM of their sum, InterfaceBandwidth "
      "USER an ideal DRAM of Bandwidth B/cycle (CALC: the array's peak rate); each layer's streamed dimension stays "
      "whole, as SCALE-Sim streams it, so compute cycles are SCALE-Sim's")(
      "topology", po::value(&topology),
      "run every layer of a SCALE-Sim topology CSV instead of --m/--k/--n: GEMM rows (Layer, M, N, K) or "
      "convolutions (Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
      "Strides), lowered by SCALE-Sim's im2col to M = ofmap pixels, K = Fh x Fw x C, N = filters; default: the "
      "config's TopologyCsvLoc. Prints per layer M, N, K, compute_cycles (SCALE-Sim's convention, to diff with its "
      "COMPUTE_REPORT.csv), total_cycles, utilizations and the SRAM used")(
      "jobs", po::value(&jobs), "with --topology: layers simulated at once, each in a child process (default 1)");
  mapper.add_to(opts, "the tiling (op \"gemm\")");
  po::variables_map vm;
  if (!parse_options("gemm",
                     "--hw FILE|PRESET --m M --k K --n N [--out DIR] [--set /path=VALUE]...\n"
                     "       [--mapper fast|default|thorough] [--mapping FILE] [--emit tiles|mapping]\n"
                     "   or: attnsim gemm --scalesim-cfg FILE.cfg|--hw FILE|PRESET [--topology FILE.csv] [--out DIR]\n"
                     "       [--set /path=VALUE]... [--mapper fast|default|thorough] [--jobs N]",
                     opts, nullptr, args, vm))
    return 0;
  if (!scalesim_cfg.empty() && !hw_name.empty())
    throw UserError("--scalesim-cfg and --hw: give one hardware description");
  if (scalesim_cfg.empty() && hw_name.empty()) throw UserError("--hw or --scalesim-cfg: the hardware is required");
  const bool sizes_given = vm.count("m") || vm.count("k") || vm.count("n");
  if (!scalesim_cfg.empty() || !topology.empty()) {
    if (sizes_given)
      throw UserError("--m/--k/--n: not with --topology or --scalesim-cfg (the topology gives the layers)");
    if (!emit.empty()) throw UserError("--emit: one GEMM at a time; not with --topology or --scalesim-cfg");
    if (!mapper.mapping_file.empty()) throw UserError("--mapping: one GEMM at a time; not with --topology");
    return run_scalesim_topology(hw_name, scalesim_cfg, topology, sets, mapper.options(), jobs, out_dir);
  }
  if (jobs != 1) throw UserError("--jobs: only with --topology");
  for (const char* flag : {"m", "k", "n"})
    if (!vm.count(flag)) throw UserError(std::string("the option '--") + flag + "' is required but missing");
  if (!emit.empty() && emit != "tiles" && emit != "mapping")
    throw UserError("--emit " + emit + ": must be tiles or mapping");
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
