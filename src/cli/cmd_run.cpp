// attnsim run: compile a transformer model for the described hardware, simulate it, and report
// cycles, utilization, bandwidth, SRAM use and the softmax unit's load, per layer and per op.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <thread>
#include <systemc>

#include "cli/cli_common.h"
#include "cli/topology_run.h"
#include "common/errors.h"
#include "compiler/model_lowering.h"
#include "config/model_config.h"
#include "hw/accelerator.h"
#include "ir/graph.h"
#include "report/generation_report.h"
#include "report/report.h"
#include "report/trace.h"
#include "sim/generate.h"
#include "sim/simulate.h"

namespace attnsim::cli {

namespace {

void print_layers(std::ostream& os, const Json& report) {
  if (!report.contains("ops")) return;
  os << "  per op (all layers)        array busy    softmax busy   vector busy          MACs    DRAM bytes\n";
  for (auto it = report["ops"].begin(); it != report["ops"].end(); ++it) {
    const Json& o = it.value();
    char line[200];
    std::snprintf(line, sizeof line, "    %-22s %14lld  %14lld  %12lld  %12.4g  %12.4g\n", it.key().c_str(),
                  (long long)o["array_busy_cycles"].get<std::int64_t>(),
                  (long long)o["softmax_busy_cycles"].get<std::int64_t>(),
                  (long long)o["vector_busy_cycles"].get<std::int64_t>(), double(o["macs"].get<std::uint64_t>()),
                  double(o["dram_read_bytes"].get<std::uint64_t>() + o["dram_written_bytes"].get<std::uint64_t>()));
    os << line;
  }
}

}  // namespace

int cmd_run(const Args& args) {
  po::options_description opts("options");
  std::string hw_name, model_name, out_dir, emit, variant, dtype, scalesim_cfg, topology;
  int jobs = 1;
  std::int64_t seq_len = 0, batch = 0, generate = 0, prefill = 0;
  std::vector<std::string> sets;
  std::string trace_dir, trace_formats = "timeline,perfetto";
  MapperFlags mapper;
  std::int64_t trace_window = 0, trace_max_slices = std::int64_t(TraceOptions().max_slices);
  std::int64_t trace_lanes = TraceOptions().max_lanes, trace_arrows = std::int64_t(TraceOptions().arrows_instrs),
               trace_arrows_from = 0;
  const std::string variants = variant_syntax_help();
  opts.add_options()("help,h", "this text")(
      "hw", po::value(&hw_name), "hardware config: a JSON file, or a preset (edge, cloud, tpu-v1)")(
      "model", po::value(&model_name),
      ("workload: a JSON file, or a model preset (" + model_preset_names() + ")").c_str())(
      "seq-len", po::value(&seq_len), "override every layer's sequence length N")(
      "batch", po::value(&batch), "override every layer's batch (in generation: the sequences decoded together)")(
      "generate", po::value(&generate),
      "generate this many tokens per sequence after the prompt (the model's /generate): a prefill, then one decode "
      "step per further token, with the KV cache or the low-rank state")(
      "prefill", po::value(&prefill), "with generation: the prompt's tokens per sequence (the model's /prefill)")(
      "all-steps", "with generation: simulate every decode step instead of a sampled subset with interpolation")(
      "decode-only",
      "with generation (--generate 2 or more): simulate the decode steps alone, not the prefill (a decode step "
      "depends on the prompt only through its context length): no time to first token, report.json and "
      "steps.csv only")(
      "all-layers",
      "with generation: simulate every layer of the prefill and of a decode step instead of extrapolating a model "
      "of identical layers "
      "from its first 1, 2 and 3 (done only where those lie on a line)")(
      "variant", po::value(&variant), ("override every layer's attention variant: " + variants).c_str())(
      "dtype", po::value(&dtype), "override the model's operand type: fp32, fp16, bf16, int8")(
      "set", po::value(&sets)->composing(),
      "override a hardware value before validation: /json/pointer=VALUE (repeatable)")(
      "out", po::value(&out_dir), "write report.json and report.csv into this directory")(
      "emit", po::value(&emit),
      "print an intermediate form instead of simulating: graph, tiles, or mapping (the schedule chosen for each op, "
      "as JSON that --mapping reads back)")(
      "trace", po::value(&trace_dir),
      "record utilization traces into this directory: timeline.csv (per window: unit busy fractions, SRAM "
      "bank port use, DRAM GB/s per channel, DRAM bytes in flight averaged over the window), trace.json "
      "(Perfetto / chrome://tracing: a track per unit, a slice per tile instruction, counters) and, if asked, "
      "trace.vcd (GTKWave)")(
      "trace-formats", po::value(&trace_formats),
      "with --trace: which files, a comma-separated subset of timeline, perfetto, vcd (default timeline,perfetto)")(
      "trace-window", po::value(&trace_window),
      "with --trace: timeline window in cycles (default: the smallest power of two that gives at most 2000 "
      "windows)")(
      "trace-max-slices", po::value(&trace_max_slices),
      "with --trace: at most this many instruction slices in trace.json (default 1000000); past it slices "
      "are dropped, counters and timeline stay complete, and the trace is marked truncated")(
      "trace-lanes", po::value(&trace_lanes),
      "with --trace: tracks per unit in trace.json at most, 1 to 64 (default 4); a unit with more instructions "
      "in flight (the DMA engines) draws a slice that finds every track busy from the end of the track that frees "
      "first (args: clipped_cycles)")(
      "trace-arrows", po::value(&trace_arrows),
      "with --trace: dependency arrows in trace.json (producer's slice to consumer's) among this many instructions, "
      "from --trace-arrows-from on (default 2000; 0: none)")(
      "trace-arrows-from", po::value(&trace_arrows_from),
      "with --trace: the first instruction id of the arrows' window (default 0; ids as in --emit tiles)")(
      "topology", po::value(&topology),
      "instead of --model: every layer of a SCALE-Sim topology CSV (GEMMs, or convolutions by SCALE-Sim's im2col), "
      "as attnsim gemm --topology runs them (see attnsim gemm --help); one row per layer, layers.csv with --out")(
      "scalesim-cfg", po::value(&scalesim_cfg),
      "with --topology (or its TopologyCsvLoc): the hardware as a SCALE-Sim v2 run config instead of --hw; compute "
      "cycles are then SCALE-Sim's")(
      "jobs", po::value(&jobs),
      "with --topology: layers simulated at once (default 1); with generation: simulations at once, the prefill "
      "and decode steps (default: the machine's cores); the results do not depend on it");
  mapper.add_to(opts, "each op's schedule");
  po::variables_map vm;
  if (!parse_options("run",
                     "--hw FILE|PRESET --model FILE|PRESET [--seq-len N] [--batch B] [--variant V] [--out DIR]\n"
                     "       [--mapper fast|default|thorough] [--mapping FILE] [--emit graph|tiles|mapping]\n"
                     "       [--trace DIR [--trace-formats timeline,perfetto,vcd] [--trace-window CYCLES]\n"
                     "        [--trace-max-slices N] [--trace-lanes N] [--trace-arrows N] [--trace-arrows-from ID]]\n"
                     "   or: attnsim run --scalesim-cfg FILE.cfg|--hw FILE|PRESET [--topology FILE.csv] [--out DIR]\n"
                     "       [--set /path=VALUE]... [--mapper fast|default|thorough] [--jobs N]",
                     opts, nullptr, args, vm))
    return 0;
  if (!scalesim_cfg.empty() && !hw_name.empty())
    throw UserError("--scalesim-cfg and --hw: give one hardware description");
  if (scalesim_cfg.empty() && hw_name.empty()) throw UserError("--hw or --scalesim-cfg: the hardware is required");
  if (!scalesim_cfg.empty() || !topology.empty()) {
    for (const char* flag : {"model", "seq-len", "batch", "variant", "dtype", "emit", "trace", "mapping"})
      if (vm.count(flag))
        throw UserError(std::string("--") + flag + ": not with --topology or --scalesim-cfg (the topology is the "
                        "workload)");
    return run_scalesim_topology(hw_name, scalesim_cfg, topology, sets, mapper.options(), jobs, out_dir);
  }
  if (model_name.empty()) throw UserError("--model or --topology: the workload is required");

  TraceOptions trace;
  const bool tracing = vm.count("trace") > 0;
  for (const char* flag :
       {"trace-formats", "trace-window", "trace-max-slices", "trace-lanes", "trace-arrows", "trace-arrows-from"})
    if (vm.count(flag) && !tracing) throw UserError(std::string("--") + flag + ": needs --trace DIR");
  if (tracing) {
    if (trace_dir.empty()) throw UserError("--trace: needs a directory");
    trace.dir = trace_dir;
    parse_trace_formats(trace_formats, &trace, "--trace-formats");
    if (vm.count("trace-window") && trace_window < 1)
      throw UserError("--trace-window: must be at least 1 cycle, got " + std::to_string(trace_window));
    trace.window_cycles = trace_window;
    if (trace_max_slices < 0)
      throw UserError("--trace-max-slices: must be 0 or more, got " + std::to_string(trace_max_slices));
    trace.max_slices = std::uint64_t(trace_max_slices);
    if (trace_lanes < 1 || trace_lanes > TraceOptions::kMaxLanes)
      throw UserError("--trace-lanes: must be 1 to " + std::to_string(TraceOptions::kMaxLanes) + ", got " +
                      std::to_string(trace_lanes));
    trace.max_lanes = std::uint32_t(trace_lanes);
    if (trace_arrows < 0 || std::uint64_t(trace_arrows) > TraceOptions::kMaxArrowInstrs)
      throw UserError("--trace-arrows: must be 0 to " + std::to_string(TraceOptions::kMaxArrowInstrs) + ", got " +
                      std::to_string(trace_arrows));
    trace.arrows_instrs = std::uint64_t(trace_arrows);
    if (trace_arrows_from < 0)
      throw UserError("--trace-arrows-from: must be 0 or more, got " + std::to_string(trace_arrows_from));
    trace.arrows_from = std::uint64_t(trace_arrows_from);
  }
  if (!emit.empty() && emit != "tiles" && emit != "graph" && emit != "mapping")
    throw UserError("--emit " + emit + ": must be graph, tiles or mapping");
  const MapperOptions mopt = mapper.options();
  ModelOverrides ov;
  ov.seq_len = vm.count("seq-len") ? seq_len : 0;
  ov.batch = vm.count("batch") ? batch : 0;
  ov.variant = variant;
  ov.dtype = dtype;
  ov.generate = vm.count("generate") ? generate : 0;
  ov.prefill = vm.count("prefill") ? prefill : 0;
  if (vm.count("generate") && generate <= 0) throw UserError("--generate: must be at least 1, got " + std::to_string(generate));
  if (vm.count("prefill") && prefill <= 0) throw UserError("--prefill: must be at least 1, got " + std::to_string(prefill));
  if (vm.count("seq-len") && seq_len <= 0) throw UserError("--seq-len: must be at least 1, got " + std::to_string(seq_len));
  if (vm.count("batch") && batch <= 0) throw UserError("--batch: must be at least 1, got " + std::to_string(batch));
  const ModelConfig model = load_model_config(model_name, ov);
  if (jobs < 1 || (jobs != 1 && model.generate == 0)) throw UserError("--jobs: only with --topology or generation, at least 1");
  if (vm.count("all-steps") && model.generate == 0) throw UserError("--all-steps: only with generation (--generate N)");
  const bool decode_only = vm.count("decode-only") > 0;
  if (decode_only && model.generate < 2)
    throw UserError("--decode-only: needs generation with at least one decode step (--generate 2 or more), got "
                    "generate " + std::to_string(model.generate));
  if (decode_only && !emit.empty()) throw UserError("--decode-only: not with --emit");
  if (vm.count("all-layers") && model.generate == 0) throw UserError("--all-layers: only with generation (--generate N)");
  if (model.generate > 0 && emit.empty()) {
    if (tracing) throw UserError("--trace: not with generation (each decode step is a simulation of its own)");
    // The prefill and every decode step are mapped by the default search (a decode step's ops change with its
    // context), as in compare and sweep: a flag that would not be honoured is refused, not ignored.
    for (const char* flag : {"mapper", "mapper-seed", "mapping"})
      if (vm.count(flag) && !vm[flag].defaulted() && !(std::string(flag) == "mapper" && mapper.effort == "default"))
        throw UserError(std::string("--") + flag +
                        ": not with generation (the prefill and each decode step are mapped by the default search)");
    HwConfig hw = load_hw(hw_name, sets);
    GenerationOptions gopt;
    gopt.all_steps = vm.count("all-steps") > 0;
    gopt.all_layers = vm.count("all-layers") > 0;
    // Generation's children (prefill, decode steps) are independent processes: by default one per core.
    gopt.jobs = vm.count("jobs") ? jobs : std::max(1, int(std::thread::hardware_concurrency()));
    gopt.decode_only = decode_only;
    std::cerr << "attnsim run: " << model.source << " (" << model.layers.size() << " layers), prefill "
              << model.prefill << (decode_only ? " (not simulated)" : "") << ", generating " << model.generate << " tokens, batch " << model.layers.front().batch
              << " on " << hw.source << "\n";
    const Json report = simulate_generation(hw, model, gopt);
    print_generation(std::cout, report);
    if (!out_dir.empty()) {
      make_directories(out_dir);
      write_json_file(out_dir + "/report.json", report);
      if (!decode_only) {  // the prefill's figures, and whether they were extrapolated from its first layers
        std::vector<std::pair<std::string, Json>> row = headline_figures(report);
        const Json ls = report.contains("prefill") ? report["prefill"].value("layers_simulated", Json("all")) : Json("all");
        row.push_back({"prefill_layers_simulated", ls.is_array() ? Json("1-3") : Json("all")});
        write_csv_file(out_dir + "/report.csv", row);
      }
      write_generation_steps_csv(out_dir + "/steps.csv", report);
      std::cout << "  report written to " << out_dir << (decode_only ? "/report.json and" : "/report.json, report.csv and")
                << " steps.csv\n";
    }
    return 0;
  }
  const ModelConfig& whole = model.generate > 0 ? prefill_model(model) : model;
  const Graph graph = build_graph(whole);
  if (emit == "graph") {
    print_graph(graph, std::cout);
    return 0;
  }
  HwConfig hw = load_hw(hw_name, sets);
  // On a terminal, one self-overwriting progress line: the phase the compiler is handing to the
  // simulator (it runs a window of instructions ahead) and the simulated time so far.
  PhaseHook progress;
  const bool tty = emit.empty() && isatty(2);
  if (tty)
    progress = [](std::size_t i, std::size_t n, const PhaseInfo& p) {
      std::fprintf(stderr, "\r  phase %zu/%zu %-32s simulated %.3f ms   ", i + 1, n, p.name.c_str(),
                   sc_core::sc_time_stamp().to_seconds() * 1e3);
      std::fflush(stderr);
    };
  const CompiledModel compiled = compile_model(hw, graph, progress, mopt);
  if (emit == "mapping") {
    std::cout << mapping_to_text(mapping_of(compiled));
    return 0;
  }
  if (emit == "tiles") {
    for (const PhaseInfo& p : compiled.phases) std::cout << "# phase " << p.name << ": " << p.plan << "\n";
    print_program(compiled.program, std::cout);
    return 0;
  }
  std::cerr << "attnsim run: " << model.source << " (" << model.layers.size() << " layers) on " << hw.source << ", "
            << compiled.phases.size() << " phases\n";
  enable_run_progress();
  const SimOutcome outcome = simulate(hw, compiled.program, tracing ? &trace : nullptr);
  if (tty) std::fprintf(stderr, "\r%80s\r", "");
  Json report = make_report(hw, model_workload(model), compiled.program, outcome, compiled.phases, &graph);
  report["model"] = model.resolved;
  print_summary(std::cout, report);
  print_layers(std::cout, report);
  if (!out_dir.empty()) {
    make_directories(out_dir);
    write_json_file(out_dir + "/report.json", report);
    write_csv_file(out_dir + "/report.csv", headline_figures(report));
    std::cout << "  report written to " << out_dir << "/report.json and report.csv\n";
  }
  if (tracing) {
    std::string files;
    for (const std::string& f : outcome.trace.files) files += (files.empty() ? "" : ", ") + f;
    std::cout << "  trace written to " << trace.dir << ": " << files << " (window " << outcome.trace.window_cycles
              << " cycles, " << outcome.trace.windows << " windows, " << outcome.trace.slices_written << " slices)\n";
    const std::string warning = trace_truncation_warning(outcome.trace);
    if (!warning.empty()) std::cerr << "attnsim run: warning: " << warning << "\n";
  }
  return 0;
}

}  // namespace attnsim::cli
