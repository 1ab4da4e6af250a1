// attnsim dram-replay: replays a memory trace on the cycle-accurate DRAM controller and reports its
// statistics as JSON.
#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "common/errors.h"
#include "hw/dram/dram_replay.h"
#include "config/dram_spec.h"
#include "hw/dram/timing_checker.h"
#include "hw/dram/trace_reader.h"

namespace po = boost::program_options;

namespace attnsim::cli {

int cmd_dram_replay(const Args& args) {
  po::options_description opts(
      "usage: attnsim dram-replay --dram FILE|PRESET --trace FILE [options]\n\n"
      "Replays a memory trace on the cycle-accurate DRAM controller (JEDEC command timing, FR-FCFS, refresh)\n"
      "and prints its statistics as JSON: bandwidth, read latency (mean, p50/p95/p99/max), row hits/misses/\n"
      "conflicts, command counts and queue occupancy. Requests are issued in trace order, at most one per\n"
      "DRAM cycle, never before their trace time, and wait while their queue is full.\n\n"
      "Trace formats (auto-detected from the first request line):\n"
      "  dramsim3   0xADDR READ|WRITE CYCLE   (CYCLE in DRAM clock cycles)\n"
      "  ramulator  LD|ST 0xADDR              (no time: as fast as the controller accepts)\n"
      "  plain      ADDR R|W TIME_NS          (ADDR 0x... or decimal; TIME_NS in nanoseconds)\n\n"
      "DRAM: an embedded preset,\n  " +
      dram_preset_names() +
      ",\na device file shaped like configs/dram/*.json, a /dram object {\"model\": \"cycle\", \"preset\": ...,\n"
      "\"channels\": ...} or a hardware config with such a /dram object.\n\noptions");
  std::string dram, trace_file, format_name = "auto", out_file, command_trace_file;
  opts.add_options()("help,h", "this text")("dram", po::value(&dram)->value_name("FILE|PRESET"),
                                            "the DRAM device and controller (required)")(
      "trace", po::value(&trace_file)->value_name("FILE"), "the memory trace (required)")(
      "format", po::value(&format_name)->value_name("FMT"), "auto (default), dramsim3, ramulator or plain")(
      "out,o", po::value(&out_file)->value_name("FILE"), "write the JSON report here instead of stdout")(
      "command-trace", po::value(&command_trace_file)->value_name("FILE"),
      "write every issued command: CYCLE CMD CHANNEL RANK BANKGROUP BANK ROW COLUMN")(
      "check",
      "run the independent timing checker over the issued commands; adds \"timing_check\" to the report "
      "and exits with status 1 if any constraint was violated");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (dram.empty()) throw UserError("--dram is required (see attnsim dram-replay --help)");
  if (trace_file.empty()) throw UserError("--trace is required (see attnsim dram-replay --help)");
  TraceFormat format;
  if (!parse_trace_format(format_name, &format))
    throw UserError("--format: must be one of auto, dramsim3, ramulator, plain, got \"" + format_name + "\"");

  const DramSpec spec = load_dram_spec(dram);
  const Trace trace = read_trace_file(trace_file, format, spec.tCK_fs, std::uint64_t(spec.capacity_bytes()));
  if (trace.records.empty())
    std::cerr << "attnsim dram-replay: warning: " << trace_file
              << ": the trace holds no requests; the report covers an idle DRAM (0 cycles)\n";
  const bool check = vm.count("check") > 0;
  const bool record = check || !command_trace_file.empty();
  std::ofstream out_stream;
  if (!out_file.empty()) {
    out_stream.open(out_file);
    if (!out_stream) throw UserError(out_file + ": cannot write the report");
  }
  std::ofstream cmd_stream;
  if (!command_trace_file.empty()) {
    cmd_stream.open(command_trace_file);
    if (!cmd_stream) throw UserError(command_trace_file + ": cannot write the command trace");
  }

  ReplayResult res = run_replay(spec, trace.records, record);

  Json report;
  report["trace"] = {{"file", trace_file}, {"format", to_string(trace.format)}, {"requests", trace.records.size()}};
  report["dram"] = res.stats;
  int status = 0;
  if (check) {
    const auto violations = check_command_trace(spec, res.commands);
    Json first = Json::array();
    for (size_t i = 0; i < violations.size() && i < 10; ++i) first.push_back(violations[i].message());
    report["timing_check"] = {{"commands", res.commands.size()}, {"violations", violations.size()}, {"first", first}};
    if (!violations.empty()) status = 1;
  }
  if (!command_trace_file.empty()) write_command_trace(cmd_stream, res.commands);
  (out_file.empty() ? std::cout : out_stream) << report.dump(2) << "\n";
  return status;
}

}  // namespace attnsim::cli
