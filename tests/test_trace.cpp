// Utilization traces (hw/trace_recorder.h): the timeline's windows add up to the report's busy
// times and byte counts, trace.json is valid trace-event JSON with one track per unit and one slice
// per instruction, the slice limit truncates visibly without losing counters, the VCD declares its
// signals, output is deterministic, and the CLI checks its flags. Expected values come from the
// report (an independent path through SimStats), from counting the program, or by hand.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "compiler/emitter.h"
#include "compiler/model_lowering.h"
#include "config/hw_config.h"
#include "config/json_reader.h"
#include "config/model_config.h"
#include "hw/accelerator.h"
#include "hw/trace_recorder.h"
#include "ir/graph.h"
#include "support/cli.h"
#include "support/isolated.h"

using namespace attnsim;
using namespace attnsim::test;

namespace {

const char* kRun = "run --hw edge --model lra-text --seq-len 256";

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<double>> rows;
  std::size_t col(const std::string& name) const {
    auto it = std::find(header.begin(), header.end(), name);
    REQUIRE(it != header.end());
    return std::size_t(it - header.begin());
  }
  // Sum over windows of value x window cycles.
  double weighted_sum(const std::string& name) const {
    const std::size_t c = col(name);
    double s = 0;
    for (const auto& r : rows) s += r[c] * (r[1] - r[0]);
    return s;
  }
};

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string item;
  while (std::getline(ss, item, sep)) out.push_back(item);
  return out;
}

Table read_csv(const std::string& path) {
  std::stringstream ss(slurp(path));
  std::string line;
  Table t;
  REQUIRE(std::getline(ss, line));
  t.header = split(line, ',');
  while (std::getline(ss, line)) {
    std::vector<double> row;
    for (const std::string& cell : split(line, ',')) {
      // At most 6 decimals, no exponent.
      const std::size_t dot = cell.find('.');
      CHECK((dot == std::string::npos || cell.size() - dot - 1 <= 6));
      CHECK(cell.find_first_of("eE") == std::string::npos);
      row.push_back(std::stod(cell));
    }
    REQUIRE(row.size() == t.header.size());
    t.rows.push_back(row);
  }
  return t;
}

// Busy cycles per unit from the report: the array's own figure, and per-op sums for the vector and
// softmax units (integers); the DMA engines only have a 6-decimal busy fraction.
struct ReportBusy {
  double array = 0, vector = 0, softmax = 0, load = 0, store = 0;
  double dma_tolerance = 0;
};
ReportBusy report_busy(const Json& rep) {
  ReportBusy b;
  const double cycles = rep["cycles"].get<double>();
  b.array = rep["array"]["busy_cycles"].get<double>();
  for (auto it = rep["ops"].begin(); it != rep["ops"].end(); ++it) {
    b.vector += it.value()["vector_busy_cycles"].get<double>();
    b.softmax += it.value()["softmax_busy_cycles"].get<double>();
  }
  b.load = rep["busy_fraction"]["load_dma"].get<double>() * cycles;
  b.store = rep["busy_fraction"]["store_dma"].get<double>() * cycles;
  b.dma_tolerance = 0.5e-6 * cycles + 1;
  return b;
}

// Rounding allowance of a weighted sum: each window's value is off by at most 0.5e-6.
double csv_tolerance(const Table& t) {
  double s = 0;
  for (const auto& r : t.rows) s += 0.5e-6 * (r[1] - r[0]);
  return s + 1;  // and the report's own rounding to whole cycles per op
}

std::vector<const Json*> events(const Json& trace, const std::string& ph) {
  std::vector<const Json*> out;
  for (const Json& e : trace["traceEvents"])
    if (e["ph"] == ph) out.push_back(&e);
  return out;
}

std::map<int, std::string> thread_names(const Json& trace) {
  std::map<int, std::string> names;
  for (const Json* e : events(trace, "M"))
    if ((*e)["name"] == "thread_name") names[(*e)["tid"].get<int>()] = (*e)["args"]["name"].get<std::string>();
  return names;
}

long long to_ns(const Json& us) { return std::llround(us.get<double>() * 1000.0); }

}  // namespace

TEST_CASE("timeline windows split intervals exactly and the adaptive window doubles", "[trace]") {
  SECTION("fixed windows") {
    // 10 fs period, windows of 4 cycles = 40 fs.
    TimelineWindows w(2, 10, 4);
    w.add_time(0, 35, 125);             // 5 in window 0, 40 in 1 and 2, 5 in 3
    w.add_spread(1, 0, 120, 1000);      // 1000 bytes over 3 windows: 333, 333, 334 (cumulative floor)
    w.add_integral(20, 60, 7);          // 7 bytes for 20 fs in window 0 and 20 fs in window 1
    CHECK(w.window_cycles() == 4);
    CHECK(w.value(0, 0) == 5);
    CHECK(w.value(1, 0) == 40);
    CHECK(w.value(2, 0) == 40);
    CHECK(w.value(3, 0) == 5);
    CHECK(w.value(0, 1) + w.value(1, 1) + w.value(2, 1) == 1000);
    CHECK(w.value(0, 1) == 333);
    CHECK(w.value(1, 1) == 333);
    CHECK(std::uint64_t(w.integral(0)) == 140);
    CHECK(std::uint64_t(w.integral(1)) == 140);
    // Written windows are dropped; what would fall before them is clamped into the first held one.
    w.drop_before(2);
    CHECK(w.first() == 2);
    w.add_time(0, 70, 90);  // 70..80 lies in dropped window 1: only 80..90 counts
    CHECK(w.value(2, 0) == 50);
    CHECK(w.value(1, 0) == 0);
  }
  SECTION("windows longer than 2^32 fs") {
    // 1 GHz (10^6 fs per cycle), windows of 10,000 cycles = 10^10 fs.
    TimelineWindows w(1, 1000000, 10000);
    w.add_time(0, 0, 25000000000);               // 2.5 windows
    w.add_spread(0, 0, 30000000000, 3000000000);  // 3 GB over 3 windows
    w.add_integral(0, 30000000000, 1000);         // 1000 B throughout
    CHECK(w.value(0, 0) == 10000000000ull + 1000000000ull);
    CHECK(w.value(2, 0) == 5000000000ull + 1000000000ull);
    CHECK(std::uint64_t(w.integral(1)) == 10000000000000ull);
  }
  SECTION("adaptive windows") {
    TimelineWindows w(1, 1, 0);
    CHECK(w.adaptive());
    w.add_time(0, 0, 3);
    CHECK(w.window_cycles() == 1);
    // 10,000 cycles need at most 2000 windows: 8 cycles (10000 / 4 = 2500 > 2000, / 8 = 1250).
    w.add_time(0, 9990, 10000);
    CHECK(w.window_cycles() == 8);
    CHECK(w.held() == 1250);
    CHECK(w.value(0, 0) == 3);  // merged exactly
    CHECK(w.value(1248, 0) == 2);  // 9990..9992 in window 1248 [9984, 9992)
    CHECK(w.value(1249, 0) == 8);
  }
}

TEST_CASE("trace busy time per unit equals the simulation's busy time, exactly", "[trace]") {
  // In process (a forked child): the windows' integer busy sums against SimStats, and the number
  // of slices against the program's own instruction count.
  const std::string dir = temp_dir() + "/trace_exact";
  auto r = run_isolated([&] {
    const HwConfig hw = load_hw_config("edge");
    ModelOverrides ov;
    ov.seq_len = 256;
    const ModelConfig model = load_model_config("lra-text", ov);
    const Graph graph = build_graph(model);
    const CompiledModel compiled = compile_model(hw, graph);
    const ProgramCounts counts = count_program(compiled.program);
    TraceOptions opts;
    opts.dir = dir;
    opts.window_cycles = 1000;
    const SimOutcome o = simulate(hw, compiled.program, &opts);
    const SimStats& s = o.stats;
    std::ostringstream out;
    const fs_t expect[kTraceUnits] = {s.array_busy_fs, s.vector_busy_fs, s.softmax_busy_fs, s.load_busy_fs,
                                      s.store_busy_fs};
    for (std::size_t u = 0; u < kTraceUnits; ++u) out << (o.trace.busy_fs[u] == expect[u] ? "eq " : "NE ");
    const std::uint64_t unit_instrs = counts.instrs - counts.by_opcode[std::size_t(Opcode::Barrier)];
    out << (o.trace.slices_written == unit_instrs) << " " << (s.softmax_busy_fs > 0) << " " << o.trace.windows << " "
        << s.cycles;
    return out.str();
  });
  REQUIRE(r.exit_status == 0);
  INFO(r.output);
  std::istringstream in(r.output);
  std::string eq;
  for (std::size_t u = 0; u < kTraceUnits; ++u) {
    in >> eq;
    CHECK(eq == "eq");
  }
  int slices_ok = 0, softmax_used = 0;
  std::int64_t windows = 0, cycles = 0;
  in >> slices_ok >> softmax_used >> windows >> cycles;
  CHECK(slices_ok == 1);
  CHECK(softmax_used == 1);
  CHECK(windows == (cycles + 999) / 1000);
}

TEST_CASE("run --trace: the timeline adds up to the report's busy cycles and bytes", "[trace][cli]") {
  const std::string dir = temp_dir() + "/trace_timeline";
  CliResult r = run_cli(std::string(kRun) + " --trace " + dir + " --trace-window 1000 --out " + dir);
  REQUIRE(r.status == 0);
  const Json rep = parse_json_text(slurp(dir + "/report.json"), "report.json");
  const Table t = read_csv(dir + "/timeline.csv");

  // The exact header for edge: 16 banks, one (ideal) DRAM channel.
  std::string header =
      "window_start_cycle,window_end_cycle,array_busy,vector_busy,softmax_busy,load_dma_busy,store_dma_busy";
  for (int b = 0; b < 16; ++b) header += ",bank" + std::to_string(b) + "_port_use";
  header += ",dram_ch0_GBps,dram_bytes_in_flight";
  CHECK(slurp(dir + "/timeline.csv").substr(0, header.size() + 1) == header + "\n");

  // Windows of 1000 cycles from 0, the last one ending at the run's last cycle.
  const std::int64_t cycles = rep["cycles"].get<std::int64_t>();
  REQUIRE(t.rows.size() == std::size_t((cycles + 999) / 1000));
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    CHECK(t.rows[i][0] == double(i * 1000));
    CHECK(t.rows[i][1] == double(std::min<std::int64_t>(std::int64_t(i + 1) * 1000, cycles)));
  }

  const ReportBusy b = report_busy(rep);
  const double tol = csv_tolerance(t);
  CHECK(std::abs(t.weighted_sum("array_busy") - b.array) <= tol);
  CHECK(std::abs(t.weighted_sum("vector_busy") - b.vector) <= tol);
  CHECK(std::abs(t.weighted_sum("softmax_busy") - b.softmax) <= tol);
  CHECK(std::abs(t.weighted_sum("load_dma_busy") - b.load) <= tol + b.dma_tolerance);
  CHECK(std::abs(t.weighted_sum("store_dma_busy") - b.store) <= tol + b.dma_tolerance);
  CHECK(b.softmax > 0);
  for (const auto& row : t.rows)
    for (std::size_t c = 2; c < 2 + 5 + 16; ++c) {  // fractions
      CHECK(row[c] >= 0.0);
      CHECK(row[c] <= 1.0);
    }

  // Port use x capacity (64 B x (1 read + 1 write port) per cycle) = the bank's bytes.
  for (int bank : {0, 5, 15}) {
    const Json& rb = rep["sram"]["banks"][bank];
    const double bytes = rb["read_bytes"].get<double>() + rb["written_bytes"].get<double>();
    CHECK(std::abs(t.weighted_sum("bank" + std::to_string(bank) + "_port_use") * 128.0 - bytes) <=
          128.0 * tol + 1);
  }
  // GB/s x cycles / 0.94 GHz = bytes.
  const double dram_bytes = rep["dram"]["bytes_read"].get<double>() + rep["dram"]["bytes_written"].get<double>();
  CHECK(std::abs(t.weighted_sum("dram_ch0_GBps") / 0.94 - dram_bytes) <= dram_bytes * 1e-6 + tol * 1000);

  CHECK(rep["trace"]["window_cycles"] == 1000);
  CHECK(rep["trace"]["windows"] == t.rows.size());
  CHECK(rep["trace"]["truncated"] == false);
  CHECK(rep["trace"]["files"] == Json::array({"timeline.csv", "trace.json"}));
  CHECK(r.out.find("trace written to " + dir) != std::string::npos);
}

TEST_CASE("run --trace: a single LOAD, derived by hand", "[trace]") {
  // One 4096-byte LOAD (one DMA segment) from an ideal DRAM of 64 B/cycle and 36 cycles latency at
  // 1 GHz into bank 0 (64-byte ports): the bus carries it in cycles 0..64, it completes at 100, the
  // bank's write side is busy 0..64. Windows of 25 cycles: in flight 4096 B throughout; 64 GB/s in
  // windows 0 and 1, 14 * 64 / 25 = 35.84 GB/s in window 2, none in 3; port use 0.5, 0.5,
  // 14 * 64 / (25 * 128) = 0.28, 0; the load DMA busy throughout; nothing else.
  const std::string dir = temp_dir() + "/trace_load";
  auto r = run_isolated([&] {
    Json doc = {{"array", {{"rows", 8}, {"cols", 8}, {"clock_mhz", 1000}, {"operand_bytes", 2}}},
                {"sram", {{"banks", 4}, {"bytes_per_bank", 65536}, {"port_bytes", 64}}},
                {"dram", {{"model", "ideal"}, {"bytes_per_cycle", 64}, {"latency_cycles", 36}}},
                {"dma", {{"segment_bytes", 4096}}}};
    const HwConfig hw = parse_hw_config(doc, "test");
    ProgramSource src;
    src.summary = "one load";
    src.generate = [](ProgramSink& sink) {
      Instr in;
      in.op = Opcode::Load;
      in.rows = 64;
      in.row_bytes = 64;
      in.dram_stride = 64;
      in.sram = tile_at(0, 64, 32, 2);
      sink.add(in);
    };
    TraceOptions opts;
    opts.dir = dir;
    opts.window_cycles = 25;
    const SimOutcome o = simulate(hw, src, &opts);
    return std::to_string(o.stats.cycles);
  });
  REQUIRE(r.exit_status == 0);
  REQUIRE(r.output == "100");
  const std::string csv = slurp(dir + "/timeline.csv");
  const std::string body = csv.substr(csv.find('\n') + 1);
  // start,end,array,vector,softmax,load,store,bank0..3,ch0,in flight
  CHECK(body ==
        "0,25,0,0,0,1,0,0.5,0,0,0,64,4096\n"
        "25,50,0,0,0,1,0,0.5,0,0,0,64,4096\n"
        "50,75,0,0,0,1,0,0.28,0,0,0,35.84,4096\n"
        "75,100,0,0,0,1,0,0,0,0,0,0,4096\n");
  const Json trace = parse_json_text(slurp(dir + "/trace.json"), "trace.json");
  const auto slices = events(trace, "X");
  REQUIRE(slices.size() == 1);
  CHECK((*slices[0])["name"] == "LOAD other");
  CHECK(thread_names(trace)[(*slices[0])["tid"].get<int>()] == "load_dma");
  CHECK(to_ns((*slices[0])["ts"]) == 0);
  CHECK(to_ns((*slices[0])["dur"]) == 100);
  CHECK((*slices[0])["args"]["bytes"] == 4096);
}

TEST_CASE("run --trace: trace.json has a track per unit and a slice per instruction", "[trace][cli]") {
  const std::string dir = temp_dir() + "/trace_json";
  CliResult r = run_cli(std::string(kRun) + " --trace " + dir + " --out " + dir);
  REQUIRE(r.status == 0);
  const Json rep = parse_json_text(slurp(dir + "/report.json"), "report.json");
  const Json trace = parse_json_text(slurp(dir + "/trace.json"), "trace.json");
  CHECK(trace["displayTimeUnit"] == "ns");
  const std::map<int, std::string> names = thread_names(trace);
  std::map<std::string, int> tid;
  for (const auto& [t, n] : names) tid[n] = t;
  for (const char* unit : {"array", "vector_unit", "softmax_unit", "load_dma", "store_dma"})
    CHECK(tid.count(unit) == 1);

  // Slices per track: never overlapping (whole nanoseconds), named "OPCODE class".
  std::map<int, std::vector<std::pair<long long, long long>>> spans;
  std::map<std::string, std::uint64_t> per_unit;
  double array_dur_us = 0;
  std::int64_t array_cycles = 0;
  std::uint64_t array_macs = 0;
  for (const Json* e : events(trace, "X")) {
    const int t = (*e)["tid"].get<int>();
    REQUIRE(names.count(t));
    spans[t].push_back({to_ns((*e)["ts"]), to_ns((*e)["ts"]) + to_ns((*e)["dur"])});
    const std::string name = (*e)["name"];
    const std::string unit = names.at(t).substr(0, names.at(t).find(" #"));
    ++per_unit[unit];
    if (unit == "array") {
      CHECK(name.rfind("GEMM ", 0) == 0);
      array_dur_us += (*e)["dur"].get<double>();
      array_cycles += (*e)["args"]["cycles"].get<std::int64_t>();
      array_macs += (*e)["args"]["macs"].get<std::uint64_t>();
    } else if (unit == "load_dma") {
      CHECK(name.rfind("LOAD ", 0) == 0);
    }
  }
  for (auto& [t, v] : spans) {
    std::sort(v.begin(), v.end());
    for (std::size_t i = 1; i < v.size(); ++i) CHECK(v[i - 1].second <= v[i].first);
  }
  const Json& prog = rep["program"];
  CHECK(per_unit["array"] == prog["gemms"].get<std::uint64_t>());
  CHECK(per_unit["softmax_unit"] == prog["softmax_ops"].get<std::uint64_t>());
  CHECK(per_unit["vector_unit"] == prog["vector_ops"].get<std::uint64_t>());
  CHECK(per_unit["load_dma"] == prog["loads"].get<std::uint64_t>());
  CHECK(per_unit["store_dma"] == prog["stores"].get<std::uint64_t>());
  CHECK(array_macs == rep["macs"].get<std::uint64_t>());
  // The array's slices cover exactly its busy cycles: the preset chains GEMMs (gemm_chaining), so a
  // slice may begin before the previous one ended, and the busy time is the union of the slices (their
  // endpoints rounded to whole ns; at most 1 ns off per slice at 940 MHz). Each slice's own cycles add
  // up to at least that.
  const std::int64_t busy = rep["array"]["busy_cycles"].get<std::int64_t>();
  CHECK(array_cycles >= busy);
  CHECK(array_dur_us >= double(busy) / 940.0 - 0.001 * double(per_unit["array"]));
  std::vector<std::pair<long long, long long>> array_spans;
  for (const auto& [t, v] : spans)
    if (names.at(t).substr(0, names.at(t).find(" #")) == "array")
      array_spans.insert(array_spans.end(), v.begin(), v.end());
  std::sort(array_spans.begin(), array_spans.end());
  long long union_ns = 0, covered_to = std::numeric_limits<long long>::min();
  for (const auto& [b, e] : array_spans) {
    if (e > covered_to) union_ns += e - std::max(b, covered_to);
    covered_to = std::max(covered_to, e);
  }
  CHECK(std::abs(double(union_ns) / 1000.0 - double(busy) / 940.0) <= 0.001 * double(per_unit["array"]) + 1e-6);

  // Counters every window up to the run's end, where they drop to zero.
  const double end_us = rep["cycles"].get<double>() / 940.0;
  std::map<std::string, double> last_ts;
  for (const Json* e : events(trace, "C"))
    last_ts[(*e)["name"]] = std::max(last_ts[(*e)["name"]], (*e)["ts"].get<double>());
  for (const char* c : {"DRAM bandwidth (GB/s)", "DRAM bytes in flight (time average)", "SRAM port use (fraction)",
                        "unit busy (fraction)"}) {
    REQUIRE(last_ts.count(c));
    CHECK(std::abs(last_ts[c] - end_us) <= 0.001);
  }
  CHECK(events(trace, "i").empty());
  CHECK(trace["otherData"]["truncated"] == false);
}

namespace {

struct Slice {
  long long ts_ns = 0, end_ns = 0;
  std::uint32_t id = 0;
  std::int64_t cycles = 0;
  bool clipped = false;
};

// X events per track (tid), sorted by start.
std::map<int, std::vector<Slice>> slices_by_track(const Json& trace) {
  std::map<int, std::vector<Slice>> out;
  for (const Json* e : events(trace, "X")) {
    Slice s;
    s.ts_ns = to_ns((*e)["ts"]);
    s.end_ns = s.ts_ns + to_ns((*e)["dur"]);
    s.id = (*e)["args"]["id"].get<std::uint32_t>();
    s.cycles = (*e)["args"]["cycles"].get<std::int64_t>();
    s.clipped = (*e)["args"].contains("clipped_cycles");
    out[(*e)["tid"].get<int>()].push_back(s);
  }
  for (auto& [t, v] : out)
    std::sort(v.begin(), v.end(), [](const Slice& a, const Slice& b) { return a.ts_ns < b.ts_ns; });
  return out;
}

std::string unit_of(const std::string& track) { return track.substr(0, track.find(" #")); }

}  // namespace

TEST_CASE("run --trace-lanes bounds the DMA tracks of a long run; a track's slices never overlap", "[trace][cli]") {
  // lra-text at N = 1024 on edge: 64 DMA transfers in flight per engine (dma.outstanding), so many
  // LOADs overlap. With 2 lanes a unit, at most 2 load_dma and 2 store_dma tracks; the slices that found
  // both busy are clipped (drawn from the end of the lane that freed first), and every instruction still
  // has its slice.
  const std::string dir = temp_dir() + "/trace_lanes";
  CliResult r = run_cli("run --hw edge --model lra-text --seq-len 1024 --trace " + dir +
                        " --trace-formats perfetto --trace-lanes 2 --trace-arrows 0 --out " + dir);
  REQUIRE(r.status == 0);
  const Json rep = parse_json_text(slurp(dir + "/report.json"), "report.json");
  const Json trace = parse_json_text(slurp(dir + "/trace.json"), "trace.json");
  const std::map<int, std::string> names = thread_names(trace);
  std::map<std::string, int> tracks;
  for (const auto& [t, n] : names) ++tracks[unit_of(n)];
  for (const auto& [unit, n] : tracks) {
    INFO(unit);
    CHECK(n <= 2);
  }
  CHECK(tracks["load_dma"] == 2);  // the run needs more than one (see the clipped slices below)

  std::map<std::string, std::uint64_t> per_unit;
  std::uint64_t clipped = 0;
  const double ns_per_cycle = 1000.0 / 940.0;  // edge runs at 940 MHz
  for (const auto& [t, v] : slices_by_track(trace)) {
    REQUIRE(names.count(t));
    per_unit[unit_of(names.at(t))] += v.size();
    for (std::size_t i = 1; i < v.size(); ++i) {
      INFO(names.at(t) << ": instructions " << v[i - 1].id << " and " << v[i].id);
      CHECK(v[i - 1].end_ns <= v[i].ts_ns);
    }
    for (const Slice& s : v) {
      clipped += s.clipped;
      // A slice is never drawn longer than its instruction (ns rounding: at most 1 ns off).
      CHECK(double(s.end_ns - s.ts_ns) <= double(s.cycles) * ns_per_cycle + 1.0);
    }
  }
  CHECK(clipped > 0);
  CHECK(clipped == rep["trace"]["slices_clipped"].get<std::uint64_t>());
  CHECK(rep["trace"]["max_lanes"] == 2);
  const Json& prog = rep["program"];
  CHECK(per_unit["load_dma"] == prog["loads"].get<std::uint64_t>());
  CHECK(per_unit["store_dma"] == prog["stores"].get<std::uint64_t>());
  CHECK(per_unit["array"] == prog["gemms"].get<std::uint64_t>());
  CHECK(events(trace, "s").empty());  // --trace-arrows 0
}

TEST_CASE("run --trace-arrows draws an arrow per dependency inside the window, producer's end to consumer's start",
          "[trace][cli]") {
  // The window is instructions [300, 700) of lra-text at N = 256 on edge; the dependencies come from
  // the tile program compiled here, independently of the run (the CLI compiles the same way).
  const std::uint32_t from = 300, count = 400;
  const std::string dir = temp_dir() + "/trace_arrows";
  CliResult r = run_cli(std::string(kRun) + " --trace " + dir + " --trace-formats perfetto --trace-lanes 2" +
                        " --trace-arrows-from " + std::to_string(from) + " --trace-arrows " + std::to_string(count) +
                        " --out " + dir);
  REQUIRE(r.status == 0);
  const Json rep = parse_json_text(slurp(dir + "/report.json"), "report.json");
  const Json trace = parse_json_text(slurp(dir + "/trace.json"), "trace.json");

  ModelOverrides ov;
  ov.seq_len = 256;
  const TileProgram prog = compile_model(load_hw_config("edge"), build_graph(load_model_config("lra-text", ov)))
                               .program.materialise();
  REQUIRE(prog.instrs.size() > from + count);

  // Slices by (track, drawn start) and by instruction id; only those of nonzero length carry arrows.
  std::map<std::pair<int, long long>, Slice> at;
  std::map<std::uint32_t, Slice> by_id;
  for (const auto& [t, v] : slices_by_track(trace))
    for (const Slice& s : v) {
      by_id[s.id] = s;
      if (s.end_ns > s.ts_ns) at[{t, s.ts_ns}] = s;
    }
  auto drawn = [&](std::uint32_t id) { return by_id.count(id) && by_id[id].end_ns > by_id[id].ts_ns; };

  // Expected: every dependency with both ends in the window and both slices drawn.
  std::set<std::pair<std::uint32_t, std::uint32_t>> expected;
  for (std::uint32_t c = from; c < from + count; ++c) {
    const Instr& in = prog.instrs[c];
    for (int d = 0; d < in.num_deps; ++d) {
      const std::uint32_t p = in.deps[std::size_t(d)];
      if (p >= from && drawn(p) && drawn(c)) expected.insert({p, c});
    }
  }
  REQUIRE(expected.size() > 100);

  std::map<long long, const Json*> starts, ends;
  for (const Json* e : events(trace, "s")) CHECK(starts.emplace((*e)["id"].get<long long>(), e).second);
  for (const Json* e : events(trace, "f")) CHECK(ends.emplace((*e)["id"].get<long long>(), e).second);
  CHECK(starts.size() == ends.size());
  std::set<std::pair<std::uint32_t, std::uint32_t>> got;
  bool clipped_consumer = false;
  for (const auto& [id, s] : starts) {
    INFO("flow " << id);
    REQUIRE(ends.count(id));
    const Json& f = *ends[id];
    CHECK(f["bp"] == "e");
    CHECK((*s)["cat"] == f["cat"]);
    CHECK((*s)["name"] == f["name"]);
    // Each end binds to the slice drawn on its track from its ts: the producer and the consumer.
    const auto ps = at.find({(*s)["tid"].get<int>(), to_ns((*s)["ts"])});
    const auto cs = at.find({f["tid"].get<int>(), to_ns(f["ts"])});
    REQUIRE(ps != at.end());
    REQUIRE(cs != at.end());
    const std::uint32_t p = ps->second.id, c = cs->second.id;
    CHECK((*s)["args"]["from"] == p);
    CHECK(f["args"]["to"] == c);
    CHECK((p >= from && p < from + count && c >= from && c < from + count));
    const Instr& in = prog.instrs[c];
    CHECK(std::find(in.deps.begin(), in.deps.begin() + in.num_deps, p) != in.deps.begin() + in.num_deps);
    // Drawn from the producer's end to the consumer's start: the consumer began after its producer ended.
    CHECK(ps->second.end_ns <= cs->second.ts_ns);
    clipped_consumer |= cs->second.clipped;
    got.insert({p, c});
  }
  CHECK(got == expected);
  CHECK(starts.size() == expected.size());  // one arrow per dependency
  CHECK(clipped_consumer);                  // arrows bind to clipped slices too
  CHECK(rep["trace"]["arrows"]["written"] == expected.size());
  CHECK(rep["trace"]["arrows"]["first_instr"] == from);
  CHECK(trace["otherData"]["arrows"] == expected.size());
}

TEST_CASE("run --trace: without a softmax unit there is no softmax track and softmax_busy is 0", "[trace][cli]") {
  const std::string dir = temp_dir() + "/trace_tpu";
  CliResult r = run_cli("run --hw tpu-v1 --dtype int8 --model lra-text --seq-len 256 --trace " + dir);
  REQUIRE(r.status == 0);
  const Table t = read_csv(dir + "/timeline.csv");
  for (const auto& row : t.rows) CHECK(row[t.col("softmax_busy")] == 0.0);
  CHECK(t.weighted_sum("vector_busy") > 0);
  const Json trace = parse_json_text(slurp(dir + "/trace.json"), "trace.json");
  for (const auto& [tid, name] : thread_names(trace)) CHECK(name.find("softmax") == std::string::npos);
}

TEST_CASE("run --trace-max-slices truncates trace.json visibly and keeps the counters", "[trace][cli]") {
  const std::string dir = temp_dir() + "/trace_trunc";
  CliResult r = run_cli(std::string(kRun) + " --trace " + dir + " --trace-max-slices 10 --out " + dir);
  REQUIRE(r.status == 0);
  CHECK(r.err.find("truncated at cycle") != std::string::npos);
  CHECK(r.err.find("after 10 slices") != std::string::npos);
  const Json rep = parse_json_text(slurp(dir + "/report.json"), "report.json");
  CHECK(rep["trace"]["truncated"] == true);
  CHECK(rep["trace"]["slices_written"] == 10);
  const std::int64_t cut = rep["trace"]["truncated_at_cycle"].get<std::int64_t>();
  const std::int64_t cycles = rep["cycles"].get<std::int64_t>();
  CHECK(cut > 0);
  CHECK(cut <= cycles);
  // Every unit instruction is either written or counted as dropped.
  const Json& prog = rep["program"];
  const std::uint64_t unit_instrs = prog["gemms"].get<std::uint64_t>() + prog["vector_ops"].get<std::uint64_t>() +
                                    prog["softmax_ops"].get<std::uint64_t>() + prog["loads"].get<std::uint64_t>() +
                                    prog["stores"].get<std::uint64_t>();
  CHECK(rep["trace"]["slices_dropped"].get<std::uint64_t>() == unit_instrs - 10);

  const Json trace = parse_json_text(slurp(dir + "/trace.json"), "trace.json");
  CHECK(events(trace, "X").size() == 10);
  const auto marks = events(trace, "i");
  REQUIRE(marks.size() == 1);
  CHECK((*marks[0])["name"] == "trace truncated at cycle " + std::to_string(cut) + " after 10 slices");
  CHECK(trace["otherData"]["truncated"] == true);
  // The counters and the timeline still cover the whole run.
  double last_counter = 0;
  for (const Json* e : events(trace, "C")) last_counter = std::max(last_counter, (*e)["ts"].get<double>());
  CHECK(std::abs(last_counter - double(cycles) / 940.0) <= 0.001);
  const Table t = read_csv(dir + "/timeline.csv");
  REQUIRE(!t.rows.empty());
  CHECK(t.rows.back()[1] == double(cycles));
  CHECK(std::abs(t.weighted_sum("array_busy") - rep["array"]["busy_cycles"].get<double>()) <= csv_tolerance(t));
}

TEST_CASE("run --trace-formats vcd writes a VCD with the signals declared and nothing else", "[trace][cli]") {
  const std::string dir = temp_dir() + "/trace_vcd";
  CliResult r = run_cli(std::string(kRun) + " --trace " + dir + " --trace-formats vcd");
  REQUIRE(r.status == 0);
  CHECK(r.out.find("Info:") == std::string::npos);  // SystemC's tracing messages stay quiet
  const std::string vcd = slurp(dir + "/trace.vcd");
  CHECK(vcd.find("$timescale") != std::string::npos);
  for (const char* sig : {"array_busy", "vector_busy", "softmax_busy", "load_dma_busy", "store_dma_busy",
                          "load_dma_transfers", "store_dma_transfers", "dram_bytes_in_flight"}) {
    INFO(sig);
    bool declared = false;
    std::istringstream lines(vcd);
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("$var", 0) == 0 && line.find(std::string(" ") + sig + " ") != std::string::npos) declared = true;
    CHECK(declared);
  }
  CHECK(vcd.find("$enddefinitions") != std::string::npos);
  CHECK(slurp(dir + "/timeline.csv").empty());
  CHECK(slurp(dir + "/trace.json").empty());
}

TEST_CASE("run --trace output is byte-identical across runs", "[trace][cli]") {
  const std::string a = temp_dir() + "/trace_det_a", b = temp_dir() + "/trace_det_b";
  REQUIRE(run_cli(std::string(kRun) + " --variant flash --trace " + a).status == 0);
  REQUIRE(run_cli(std::string(kRun) + " --variant flash --trace " + b).status == 0);
  const std::string csv = slurp(a + "/timeline.csv"), json = slurp(a + "/trace.json");
  CHECK(!csv.empty());
  CHECK(!json.empty());
  CHECK(csv == slurp(b + "/timeline.csv"));
  CHECK(json == slurp(b + "/trace.json"));
}

TEST_CASE("run rejects bad trace flags with exit status 2 naming the flag", "[trace][cli]") {
  const std::string dir = temp_dir() + "/trace_bad";
  struct Case {
    std::string args, flag;
  };
  for (const Case& c : std::vector<Case>{{"--trace " + dir + " --trace-formats timeline,pdf", "--trace-formats"},
                                         {"--trace " + dir + " --trace-formats ''", "--trace-formats"},
                                         {"--trace " + dir + " --trace-formats vcd,vcd", "--trace-formats"},
                                         {"--trace " + dir + " --trace-window 0", "--trace-window"},
                                         {"--trace " + dir + " --trace-window lots", "trace-window"},
                                         {"--trace " + dir + " --trace-max-slices -1", "--trace-max-slices"},
                                         {"--trace " + dir + " --trace-lanes 0", "--trace-lanes"},
                                         {"--trace " + dir + " --trace-lanes 65", "--trace-lanes"},
                                         {"--trace " + dir + " --trace-arrows -1", "--trace-arrows"},
                                         {"--trace " + dir + " --trace-arrows 10000001", "--trace-arrows"},
                                         {"--trace " + dir + " --trace-arrows-from -5", "--trace-arrows-from"},
                                         {"--trace-lanes 2", "--trace-lanes"},
                                         {"--trace-window 100", "--trace-window"}}) {
    INFO(c.args);
    CliResult r = run_cli(std::string(kRun) + " " + c.args);
    CHECK(r.status == 2);
    CHECK(r.err.find(c.flag) != std::string::npos);
  }
  CliResult help = run_cli("run --help");
  CHECK(help.status == 0);
  for (const char* flag : {"--trace ", "--trace-formats", "--trace-window", "--trace-max-slices", "--trace-lanes",
                           "--trace-arrows ", "--trace-arrows-from"})
    CHECK(help.out.find(flag) != std::string::npos);
}
