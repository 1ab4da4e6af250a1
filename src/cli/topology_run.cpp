// attnsim gemm/run --topology: the layers of a SCALE-Sim topology, each simulated in a child.
#include "cli/topology_run.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/cli_common.h"
#include "common/errors.h"
#include "compiler/gemm_lowering.h"
#include "config/scalesim_input.h"
#include "hw/accelerator.h"
#include "report/report.h"
#include "common/child_run.h"

namespace attnsim::cli {

namespace {

constexpr int kExitSomeLayerFailed = 1;
constexpr int kMaxJobs = 256;

// The streamed GEMM dimension (timing/array_timing.h's mapping) and its mapping rank.
const char* stream_rank(Dataflow df) { return df == Dataflow::OS ? "k" : df == Dataflow::WS ? "m" : "n"; }
std::int64_t stream_extent(Dataflow df, const GemmDims& d) {
  return df == Dataflow::OS ? d.k : df == Dataflow::WS ? d.m : d.n;
}

// One layer, in a child process: the tiling, the tile program, the simulation; returns the report.
// scalesim_mapping keeps the streamed dimension whole, as SCALE-Sim streams it (its operands pass
// through its double-buffered scratchpads, however long): the GEMM's folds then run exactly as
// SCALE-Sim's, since the other two dimensions are tiled in whole multiples of the array's sides
// (gemm_lowering.h), and the array's busy cycles are SCALE-Sim's F * L. Cutting the stream into tiles
// would pay each fold's fill and drain once per tile. When such tiles do not fit the config's SRAM,
// attnsim's compiler needs room SCALE-Sim's streaming does not: the SRAM is doubled until they do,
// and the report's hardware config (and the table's sram_bytes) says how much was used.
std::string run_layer(Json doc, const std::string& source, const TopologyLayer& layer, bool scalesim_mapping,
                      MapperEffort effort) {
  const GemmDims dims{layer.m, layer.k, layer.n};
  for (;;) {
    const HwConfig hw = parse_hw_config(doc, source);
    ModelMapping fixed;
    fixed.source = "SCALE-Sim's mapping (the streamed dimension whole)";
    OpMapping op;
    op.kind = "gemm";
    op.tile[stream_rank(hw.array.dataflow)] = stream_extent(hw.array.dataflow, dims);
    fixed.ops.emplace_back("gemm", op);
    MapperOptions opt;
    opt.effort = effort;
    if (scalesim_mapping) opt.fixed = &fixed;
    GemmTiling tiling;
    try {
      tiling = choose_gemm_tiling(hw, dims, 0, "gemm", 0, opt);
    } catch (const UserError&) {
      const std::int64_t bytes = doc["sram"]["bytes_per_bank"].get<std::int64_t>();
      if (!scalesim_mapping || bytes > (std::int64_t(1) << 39)) throw;
      doc["sram"]["bytes_per_bank"] = 2 * bytes;
      continue;
    }
    ModelMapping chosen;
    chosen.ops.emplace_back("gemm", gemm_op_mapping(tiling));
    const TileProgram program = lower_gemm(hw, dims, tiling);
    const SimOutcome outcome = simulate(hw, program);
    Json workload = {{"kind", "gemm"}, {"m", dims.m}, {"k", dims.k}, {"n", dims.n}};
    Json report = make_report(hw, workload, program, outcome);
    report["mapping"] = mapping_to_json(chosen);
    return report.dump();
  }
}

std::string fixed_decimals(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Runs every layer of a topology and prints (and with out_dir writes) one row per layer.
int run_topology(const Json& hw_doc, const std::string& source, const Topology& topo, bool scalesim_mapping,
                 const MapperOptions& mopt, int jobs, const std::string& out_dir) {
  const HwConfig hw = parse_hw_config(hw_doc, source);  // every problem before any child starts
  for (const TopologyLayer& l : topo.layers) {
    try {
      check_gemm_size(hw, l.m, l.k, l.n);
    } catch (const UserError& e) {
      throw UserError(topo.source + ":" + std::to_string(l.line) + ":1: layer " + l.name +
                      " (M=" + std::to_string(l.m) + ", K=" + std::to_string(l.k) + ", N=" + std::to_string(l.n) +
                      "): " + e.what());
    }
  }
  std::vector<ChildTask> tasks;
  for (const TopologyLayer& l : topo.layers)
    tasks.push_back([&hw_doc, &source, l, scalesim_mapping, effort = mopt.effort] {
      return run_layer(hw_doc, source, l, scalesim_mapping, effort);
    });
  std::cerr << "attnsim: " << topo.layers.size() << " layers of " << topo.source << " on " << hw.array.rows << "x"
            << hw.array.cols << " " << to_string(hw.array.dataflow) << " (" << to_string(hw.array.timing)
            << " timing)\n";
  const std::vector<ChildResult> results = run_in_children(tasks, jobs);

  // compute_cycles follows SCALE-Sim's count: the array is busy F * L cycles and SCALE-Sim reports
  // the index of the last of them, F * L - 1 (array_timing.h), which is its COMPUTE_REPORT's
  // "Total Cycles" minus "Stall Cycles". Its "Overall Util %" is MACs / (Total Cycles x PEs); with no
  // stall cycles (InterfaceBandwidth CALC) that is pct_compute_utilization here (pct_utilization divides by attnsim's
  // total_cycles instead). pct_mapping_efficiency is its "Mapping Efficiency %": the PEs the folds use on average,
  // spatial extent / (F x R x C).
  const std::vector<std::string> columns = {"layer_id",
                                            "layer",
                                            "m",
                                            "n",
                                            "k",
                                            "macs",
                                            "compute_cycles",
                                            "total_cycles",
                                            "pct_compute_utilization",
                                            "pct_utilization",
                                            "pct_mapping_efficiency",
                                            "sram_bytes"};
  std::vector<std::vector<std::string>> rows;
  std::vector<Json> reports;
  int failed = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const TopologyLayer& l = topo.layers[i];
    if (!results[i].ok) {
      std::cerr << topo.source << ":" << l.line << ": layer " << l.name << " failed: " << results[i].output << "\n";
      ++failed;
      reports.emplace_back();
      continue;
    }
    const Json r = Json::parse(results[i].output);
    const std::int64_t busy = r["array"]["busy_cycles"].get<std::int64_t>();
    const std::int64_t total = r["cycles"].get<std::int64_t>();
    const std::int64_t macs = r["macs"].get<std::int64_t>();
    const double pes = double(r["pes"].get<std::int64_t>());
    const GemmDims d{l.m, l.k, l.n};
    const FoldPlan plan = fold_plan(hw.array.rows, hw.array.cols, hw.array.dataflow, hw.array.timing, d);
    const std::int64_t compute = busy - 1;
    const double mapping = 100.0 * double(macs) / (double(plan.folds) * pes * double(plan.stream));
    const std::int64_t sram = r["hardware"]["config"]["sram"]["bytes_per_bank"].get<std::int64_t>() *
                              r["hardware"]["config"]["sram"]["banks"].get<std::int64_t>();
    rows.push_back({std::to_string(i), l.name, std::to_string(l.m), std::to_string(l.n), std::to_string(l.k),
                    std::to_string(macs), std::to_string(compute), std::to_string(total),
                    fixed_decimals(100.0 * double(macs) / (double(std::max<std::int64_t>(compute, 1)) * pes), 6),
                    fixed_decimals(100.0 * double(macs) / (double(total) * pes), 6), fixed_decimals(mapping, 6),
                    std::to_string(sram)});
    reports.push_back(r);
  }
  // The table: columns as wide as their widest cell, numbers right-aligned.
  std::vector<std::size_t> width(columns.size());
  for (std::size_t c = 0; c < columns.size(); ++c) {
    width[c] = columns[c].size();
    for (const auto& row : rows) width[c] = std::max(width[c], row[c].size());
  }
  auto print_row = [&](const std::vector<std::string>& cells) {
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const std::string pad(width[c] - cells[c].size(), ' ');
      std::cout << (c ? "  " : "") << (c == 1 ? cells[c] + pad : pad + cells[c]);
    }
    std::cout << "\n";
  };
  print_row(columns);
  for (const auto& row : rows) print_row(row);
  std::cout << "compute_cycles: SCALE-Sim's convention (the array's busy cycles - 1); total_cycles: attnsim's run "
               "with loads, stores and stalls\n";
  if (!out_dir.empty()) {
    make_directories(out_dir);
    std::ofstream csv(out_dir + "/layers.csv", std::ios::binary);
    for (std::size_t c = 0; c < columns.size(); ++c) csv << (c ? "," : "") << columns[c];
    csv << "\n";
    for (const auto& row : rows) {
      for (std::size_t c = 0; c < row.size(); ++c) csv << (c ? "," : "") << (c == 1 ? csv_cell(Json(row[c])) : row[c]);
      csv << "\n";
    }
    if (!csv) throw UserError(out_dir + "/layers.csv: cannot write");
    for (std::size_t i = 0; i < reports.size(); ++i)
      if (!reports[i].is_null()) write_json_file(out_dir + "/layer" + std::to_string(i) + ".json", reports[i]);
    std::cout << "  layers.csv and a report per layer (layerN.json) written to " << out_dir << "\n";
  }
  return failed ? kExitSomeLayerFailed : 0;
}

}  // namespace

int run_scalesim_topology(const std::string& hw_name, const std::string& scalesim_cfg, std::string topology,
                          const std::vector<std::string>& sets, const MapperOptions& mopt, int jobs,
                          const std::string& out_dir) {
  if (jobs < 1 || jobs > kMaxJobs) throw UserError("--jobs: must be in [1, " + std::to_string(kMaxJobs) + "]");
  std::string source;
  Json doc;
  if (!scalesim_cfg.empty()) {
    const ScaleSimConfig cfg = read_scalesim_config(scalesim_cfg);
    if (topology.empty()) topology = cfg.topology_path;  // as SCALE-Sim: relative to the working directory
    doc = scalesim_hw_document(cfg);
    source = scalesim_cfg;
  } else {
    doc = read_hw_document(hw_name, &source);
  }
  if (topology.empty()) throw UserError("--topology: required (the run config has no TopologyCsvLoc)");
  apply_overrides(doc, sets, source);
  const Topology topo = read_scalesim_topology(topology);
  return run_topology(doc, source, topo, !scalesim_cfg.empty(), mopt, jobs, out_dir);
}

}  // namespace attnsim::cli
