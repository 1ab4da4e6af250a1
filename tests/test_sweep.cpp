// attnsim sweep, end to end through the binary: failures recorded, resume after a kill, results
// independent of -j, every bad path or value reported at once.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "sweep/sweep_spec.h"
#include "common/errors.h"
#include "config/json_reader.h"
#include "support/cli.h"
#include "support/sanitized.h"

namespace {

using namespace attnsim;
using namespace attnsim::test;
namespace fs = std::filesystem;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    lines.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return lines;
}

// Splits one CSV line (cells quoted with "" when they hold commas).
std::vector<std::string> cells_of(const std::string& line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"')
        cells.back() += '"', ++i;
      else if (c == '"')
        quoted = false;
      else
        cells.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.emplace_back();
    } else {
      cells.back() += c;
    }
  }
  return cells;
}

// The value of a column in a data row of results.csv.
std::string cell(const std::vector<std::string>& csv, std::size_t row, const std::string& column) {
  const std::vector<std::string> header = cells_of(csv.at(0)), values = cells_of(csv.at(row));
  for (std::size_t i = 0; i < header.size(); ++i)
    if (header[i] == column) return i < values.size() ? values[i] : "";
  FAIL("no column " << column);
  return "";
}

std::size_t finished_points(const std::string& dir) {
  std::size_t n = 0;
  std::error_code ec;
  if (!fs::exists(dir + "/points", ec)) return 0;
  for (const auto& e : fs::directory_iterator(dir + "/points"))
    if (fs::exists(e.path() / "status.json")) ++n;
  return n;
}

// Starts `attnsim sweep SPEC --out DIR -j JOBS` in the background.
pid_t start_sweep(const std::string& spec, const std::string& dir, int jobs) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    const std::string j = std::to_string(jobs);
    execl(ATTNSIM_BINARY, ATTNSIM_BINARY, "sweep", spec.c_str(), "--out", dir.c_str(), "-j", j.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Twelve LRA-text points of about 0.02-0.5 s each on the edge preset: enough to kill a run half-way.
// Under the sanitizers (about 5x slower) the sequences are a quarter as long, the points as long.
const std::string kTwelvePoints = std::string(R"({
  "description": "resume and -j test",
  "hardware": "edge", "model": "lra-text",
  "axes": [{"path": "/attention/variant", "values": ["unfused", "flash", "primal"]},
           {"path": "/model/seq_len", "values": )") +
                                  (test::kSanitized ? "[2048, 4096]" : "[8192, 16384]") + R"(},
           {"zip": [{"path": "/array/rows", "values": [16, 32]}, {"path": "/array/cols", "values": [16, 32]}]}]
})";

}  // namespace

TEST_CASE("sweep: a point that fails is recorded with its reason and the others complete", "[sweep][cli]") {
  // 16 banks of 1 KiB = 16 KiB. Row-fused keeps one query row's full scores on chip: at N = 2048 that
  // is S 1 x 2048 fp32 (8192 B) and P 1 x 2048 fp16 (4096 B) plus its Q, K, V, O tiles (K and V 32 x 32
  // fp16 = 2048 B each, double-buffered: 8192 B): more than 16 KiB, so that point fails; flash streams
  // K/V tiles in constant SRAM, and with 32 KiB banks (512 KiB) row-fused fits its rows.
  const std::string spec = write_temp("sweep_fail.json", R"({
    "hardware": "edge", "model": "lra-text",
    "axes": [{"path": "/attention/variant", "values": ["flash", "row_fused"]},
             {"path": "/sram/bytes_per_bank", "values": [1024, 32768], "name": "bank_bytes"},
             {"path": "/model/seq_len", "values": [2048]}]})");
  const std::string dir = temp_dir() + "/sweep_fail";
  const CliResult r = run_cli("sweep " + spec + " --out " + dir + " -j 2");
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  const std::vector<std::string> csv = lines_of(slurp(dir + "/results.csv"));
  REQUIRE(csv.size() == 5);  // header + 4 points, in point order
  for (std::size_t row = 1; row <= 4; ++row) {
    INFO("row " << row);
    CHECK(cell(csv, row, "index") == std::to_string(row - 1));
    const bool should_fail = cell(csv, row, "axis.variant") == "row_fused" && cell(csv, row, "axis.bank_bytes") == "1024";
    CHECK(cell(csv, row, "status") == (should_fail ? "failed" : "ok"));
    if (should_fail) {
      CHECK(cell(csv, row, "error").find("row-fused attention keeps a block of query rows' full scores on chip") !=
            std::string::npos);
      CHECK(cell(csv, row, "cycles").empty());
    } else {
      CHECK(cell(csv, row, "error").empty());
      CHECK(std::stoll(cell(csv, row, "cycles")) > 0);
      // The axis values reached the simulated documents.
      CHECK(std::stoll(cell(csv, row, "sram_capacity_bytes")) == 16 * std::stoll(cell(csv, row, "axis.bank_bytes")));
      CHECK(cell(csv, row, "seq_len") == "2048");
      CHECK(cell(csv, row, "variant") == cell(csv, row, "axis.variant"));
      // The compulsory roofline depends on the workload, not the schedule: per layer, attention
      // 2 heads * 2 * 2048^2 * 32 MACs and the projections and FFN 2048 * (64 * 192 + 64 * 64 + 2 * 64 *
      // 128) MACs, over 1024 PEs: 524,288 + 65,536; two layers 1,179,648, array-bound (the softmax unit's
      // 2 * (2 * 2048^2 / 32 * 2 + 4096 / 32 + 2 * 2048 * 32 / 32) = 1,057,024 is less).
      CHECK(cell(csv, row, "compulsory_bound_cycles") == "1179648");
      CHECK(cell(csv, row, "compulsory_binding") == "array");
      CHECK(!cell(csv, row, "pct_of_compulsory_bound").empty());
      CHECK(!cell(csv, row, "pct_of_roofline").empty());  // the figure against the run's own traffic
    }
  }
  CHECK(r.out.find("3 of 4 points ok, 1 failed") != std::string::npos);
  // The failure is finished too: a rerun simulates nothing, --retry-failed runs it again.
  const CliResult again = run_cli("sweep " + spec + " --out " + dir);
  CHECK(again.status == 1);
  CHECK(again.err.find("4 already finished") != std::string::npos);
  CHECK(slurp(dir + "/results.csv") == [&] {
    std::string s;
    for (const auto& l : csv) s += l + "\n";
    return s;
  }());
  const CliResult retry = run_cli("sweep " + spec + " --out " + dir + " --retry-failed");
  CHECK(retry.err.find("3 already finished") != std::string::npos);
  CHECK(retry.err.find("running 1,") != std::string::npos);
}

TEST_CASE("sweep: a point over the timeout is killed and recorded as failed", "[sweep][cli]") {
  // Flash on edge at N = 65536 simulates the LRA model's 2 x 2 heads of 2 N^2 d = 2.7e11 MACs each on
  // 1024 PEs: over 1e9 cycles, seconds of wall time. N = 64 finishes in milliseconds.
  const std::string spec = write_temp("sweep_timeout.json", R"({
    "hardware": "edge", "model": "lra-text",
    "axes": [{"path": "/model/seq_len", "values": [64, 65536]}]})");
  const std::string dir = temp_dir() + "/sweep_timeout";
  const CliResult r = run_cli("sweep " + spec + " --out " + dir + " -j 2 --timeout 0.5");
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  const std::vector<std::string> csv = lines_of(slurp(dir + "/results.csv"));
  REQUIRE(csv.size() == 3);
  CHECK(cell(csv, 1, "status") == "ok");
  CHECK(cell(csv, 2, "status") == "failed");
  CHECK(cell(csv, 2, "error").find("timeout: killed after") != std::string::npos);
}

TEST_CASE("sweep: killed half-way and rerun, it finishes with exactly the rows of an uninterrupted run",
          "[sweep][cli]") {
  const std::string spec = write_temp("sweep_twelve.json", kTwelvePoints);
  const std::string ref = temp_dir() + "/sweep_ref", cut = temp_dir() + "/sweep_cut";
  const CliResult whole = run_cli("sweep " + spec + " --out " + ref + " -j 2");
  INFO(whole.out << whole.err);
  REQUIRE(whole.status == 0);
  const std::string expected = slurp(ref + "/results.csv");
  REQUIRE(lines_of(expected).size() == 13);

  // SIGKILL (no chance to tidy up) once a few points are finished.
  const pid_t pid = start_sweep(spec, cut, 1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kSanitized ? 300 : 60);
  while (finished_points(cut) < 4 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGKILL);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  const std::size_t before = finished_points(cut);
  INFO("finished before the kill: " << before);
  CHECK(before >= 4);
  CHECK(before < 12);
  // Whatever results.csv the kill left is whole: every line has the header's number of cells.
  const std::vector<std::string> partial = lines_of(slurp(cut + "/results.csv"));
  for (const std::string& l : partial) CHECK(cells_of(l).size() == cells_of(partial.at(0)).size());

  const CliResult rest = run_cli("sweep " + spec + " --out " + cut + " -j 2");
  INFO(rest.out << rest.err);
  CHECK(rest.status == 0);
  CHECK(rest.err.find(std::to_string(before) + " already finished") != std::string::npos);
  CHECK(rest.err.find("running " + std::to_string(12 - before) + ",") != std::string::npos);
  CHECK(slurp(cut + "/results.csv") == expected);
}

TEST_CASE("sweep: SIGINT stops the sweep with status 130 and the rerun completes it", "[sweep][cli]") {
  const std::string spec = write_temp("sweep_twelve_int.json", kTwelvePoints);
  const std::string dir = temp_dir() + "/sweep_int";
  const pid_t pid = start_sweep(spec, dir, 1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kSanitized ? 300 : 60);
  while (finished_points(dir) < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGINT);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  REQUIRE(WIFEXITED(wstatus));
  CHECK(WEXITSTATUS(wstatus) == 130);
  const std::size_t before = finished_points(dir);
  CHECK(lines_of(slurp(dir + "/results.csv")).size() == before + 1);
  const CliResult rest = run_cli("sweep " + spec + " --out " + dir + " -j 2");
  CHECK(rest.status == 0);
  CHECK(lines_of(slurp(dir + "/results.csv")).size() == 13);
}

TEST_CASE("sweep: results do not depend on -j", "[sweep][cli]") {
  const std::string spec = write_temp("sweep_twelve_j.json", kTwelvePoints);
  const std::string one = temp_dir() + "/sweep_j1", three = temp_dir() + "/sweep_j3";
  const CliResult a = run_cli("sweep " + spec + " --out " + one + " -j 1");
  const CliResult b = run_cli("sweep " + spec + " --out " + three + " -j 3");
  REQUIRE(a.status == 0);
  REQUIRE(b.status == 0);
  CHECK(slurp(one + "/results.csv") == slurp(three + "/results.csv"));
  // And the reports beside them, byte for byte.
  for (const auto& e : fs::directory_iterator(one + "/points")) {
    const std::string hash = e.path().filename().string();
    CHECK(slurp(one + "/points/" + hash + "/report.json") == slurp(three + "/points/" + hash + "/report.json"));
  }
}

TEST_CASE("sweep spec: every bad path or value is reported at once, with exit status 2", "[sweep][cli]") {
  const std::string spec = write_temp("sweep_bad.json", R"({
    "hardware": "edge", "model": "lra-text", "bogus": 1,
    "axes": [{"path": "/attention/variant", "values": ["unfused", "flashy"]},
             {"path": "/model/seq_len", "values": [256, -3]},
             {"path": "/array/rowz", "values": [16]},
             {"path": "/array/rows", "values": [0, 16], "nam": "x"},
             {"zip": [{"path": "/array/rows", "values": [16, 32]}, {"path": "/array/cols", "values": [16]}]}]})");
  const CliResult r = run_cli("sweep " + spec + " --out " + temp_dir() + "/sweep_bad");
  INFO(r.err);
  CHECK(r.status == 2);
  for (const char* expected :
       {"/bogus: unknown key", "/axes/3/nam: unknown key (did you mean \"name\"?)",
        "/axes/4/zip/1/values: zipped axes move together", "/axes/0/values/1: /attention/variant = \"flashy\"",
        "/axes/1/values/1: /model/seq_len = -3: /model/seq_len: must be a positive integer",
        "/axes/2/values/0: /array/rowz = 16: preset:edge: /array/rowz: unknown key (did you mean \"rows\"?)",
        "/axes/3/values/0: /array/rows = 0: preset:edge: /array/rows: must be an integer in [1, 4096]"})
    CHECK(r.err.find(std::string(spec) + ": " + expected) != std::string::npos);
  CHECK(!fs::exists(temp_dir() + "/sweep_bad"));
}

TEST_CASE("sweep spec: points are the product of the axes in order, zipped axes move together, named points "
          "set several paths",
          "[sweep]") {
  const Json doc = parse_json_text(R"({
    "hardware": "edge", "model": "lra-text",
    "axes": [{"path": "/hardware", "values": ["edge", "cloud"]},
             {"zip": [{"path": "/array/rows", "values": [8, 16, 64]}, {"path": "/array/cols", "values": [8, 16, 64]}]},
             {"name": "design", "points": [{"label": "small-sram", "set": {"/sram/banks": 4, "/model/seq_len": 512}},
                                           {"label": "no-softmax-unit", "set": {"/softmax": null}}]}]})",
                                   "spec");
  const SweepSpec spec = parse_sweep_spec(doc, "spec", "");
  REQUIRE(spec.points.size() == 2 * 3 * 2);
  CHECK(spec.axis_names == std::vector<std::string>{"hardware", "rows", "cols", "design"});
  // Point 7 = (hardware 1, zip 0, design 1) in mixed radix (3 * 2 = 6 points per hardware).
  const SweepPoint& p = spec.points[7];
  CHECK(p.label() == "hardware=cloud rows=8 cols=8 design=no-softmax-unit");
  CHECK(p.hw_source == "preset:cloud");
  CHECK(p.hw_doc()["array"]["rows"] == 8);
  CHECK(!p.hw_doc().contains("softmax"));
  CHECK(spec.points[6].hw_doc().contains("softmax"));
  const SweepPoint& q = spec.points[2];  // edge, 16 x 16, small-sram
  CHECK(q.hw_doc()["sram"]["banks"] == 4);
  CHECK(q.model_doc()["defaults"]["seq_len"] == 512);
  // Hashes: 16 hex digits, distinct, and stable (the same spec gives the same hashes).
  const SweepSpec again = parse_sweep_spec(doc, "spec", "");
  for (std::size_t i = 0; i < spec.points.size(); ++i) {
    CHECK(spec.points[i].hash.size() == 16);
    CHECK(spec.points[i].hash == again.points[i].hash);
    for (std::size_t j = 0; j < i; ++j) CHECK(spec.points[i].hash != spec.points[j].hash);
  }
  // FNV-1a 64 of "a" is af63dc4c8601ec8c (the published test vector).
  CHECK(hash_hex("a") == "af63dc4c8601ec8c");
}

TEST_CASE("sweep --shard: the shares partition the points and attnsim merge gives the unsharded results.csv",
          "[sweep][cli]") {
  const std::string spec = write_temp("sweep_twelve_shard.json", kTwelvePoints);
  const std::string ref = temp_dir() + "/shard_ref", base = temp_dir() + "/shards";
  REQUIRE(run_cli("sweep " + spec + " --out " + ref + " -j 2").status == 0);
  std::vector<int> owner(12, -1);
  for (int i = 0; i < 3; ++i) {
    const std::string dir = base + "/" + std::to_string(i);
    const CliResult r = run_cli("sweep " + spec + " --out " + dir + " --shard " + std::to_string(i) + "/3 -j 2");
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    const Json record = parse_json_text(slurp(dir + "/spec.json"), "spec.json");
    CHECK(record["shard"]["index"] == i);
    CHECK(record["shard"]["count"] == 3);
    CHECK(record["points"].size() == 12);  // the whole sweep's points, for merge
    for (const Json& p : record["shard"]["points"]) {
      const int index = p.get<int>();
      CHECK(owner.at(std::size_t(index)) == -1);
      owner[std::size_t(index)] = i;
    }
    // A share simulates its own points only.
    CHECK(lines_of(slurp(dir + "/results.csv")).size() == record["shard"]["points"].size() + 1);
  }
  for (int o : owner) CHECK(o >= 0);  // every point in exactly one share

  const CliResult m = run_cli("merge " + base + "/0 " + base + "/1 " + base + "/2 --out " + base);
  INFO(m.out << m.err);
  CHECK(m.status == 0);
  CHECK(m.out.find("12 of 12 points (12 ok, 0 failed), 0 missing, 0 duplicates") != std::string::npos);
  CHECK(slurp(base + "/results.csv") == slurp(ref + "/results.csv"));

  // A share left out: its points are listed as missing and the status is 1; a share given twice:
  // duplicates, reported, and the rows are still those of the unsharded run.
  std::size_t in_share_1 = 0;
  for (int o : owner) in_share_1 += o == 1;
  const CliResult partial = run_cli("merge " + base + "/0 " + base + "/2 --out " + temp_dir() + "/merge_partial");
  CHECK(partial.status == 1);
  CHECK(partial.out.find(std::to_string(in_share_1) + " missing") != std::string::npos);
  CHECK(partial.out.find("  missing: point ") != std::string::npos);
  const CliResult twice =
      run_cli("merge " + base + "/0 " + base + "/1 " + base + "/2 " + base + "/1 --out " + temp_dir() + "/merge_twice");
  CHECK(twice.status == 0);
  CHECK(twice.out.find(", " + std::to_string(in_share_1) + " duplicates") != std::string::npos);
  CHECK(slurp(temp_dir() + "/merge_twice/results.csv") == slurp(ref + "/results.csv"));
  // Shares of another sweep are refused.
  const std::string one_point = write_temp("sweep_one.json", R"({"hardware": "edge", "model": "lra-text",
    "axes": [{"path": "/model/seq_len", "values": [64]}]})");
  REQUIRE(run_cli("sweep " + one_point + " --out " + temp_dir() + "/sweep_one").status == 0);
  const CliResult other = run_cli("merge " + base + "/0 " + temp_dir() + "/sweep_one --out " + temp_dir() + "/merge_other");
  CHECK(other.status == 2);
  CHECK(other.err.find("a different sweep") != std::string::npos);
}

TEST_CASE("sweep shards: 500 points in 8 shares, each within 10% of the mean estimated cost", "[sweep]") {
  // 5 variants x 10 sequence lengths x 10 array sizes: estimated costs (5 ms per process plus MACs /
  // PEs) spread over an order of magnitude (256 to 2560 tokens, 8x8 to 80x80 arrays).
  const Json doc = parse_json_text(R"({
    "hardware": "edge", "model": "lra-text",
    "axes": [{"path": "/attention/variant", "values": ["unfused", "flash", "primal", "lowrank_linear", "linformer"]},
             {"path": "/model/seq_len", "values": [256, 512, 768, 1024, 1280, 1536, 1792, 2048, 2304, 2560]},
             {"zip": [{"path": "/array/rows", "values": [8, 16, 24, 32, 40, 48, 56, 64, 72, 80]},
                      {"path": "/array/cols", "values": [8, 16, 24, 32, 40, 48, 56, 64, 72, 80]}]}]})",
                                   "spec");
  const SweepSpec spec = parse_sweep_spec(doc, "spec", "");
  REQUIRE(spec.points.size() == 500);
  std::vector<double> costs;
  double total = 0, largest = 0, smallest = 1e300;
  for (const SweepPoint& p : spec.points) {
    costs.push_back(p.est_cost);
    total += p.est_cost;
    largest = std::max(largest, p.est_cost);
    smallest = std::min(smallest, p.est_cost);
  }
  CHECK(largest / smallest > 5);
  // The estimate grows with the work: quadratic attention at a fixed array costs more at larger N.
  CHECK(spec.points[9 * 10].est_cost > spec.points[0].est_cost);  // unfused, N = 2560 vs 256, 8x8
  const auto shares = balance_shards(costs, 8);
  REQUIRE(shares.size() == 8);
  const double mean = total / 8;
  std::vector<int> seen(500, 0);
  std::size_t min_count = 500, max_count = 0;
  for (const auto& share : shares) {
    double sum = 0;
    for (std::size_t i : share) sum += costs[i], ++seen[i];
    INFO("share total " << sum << " mean " << mean);
    CHECK(std::abs(sum - mean) / mean < 0.10);
    min_count = std::min(min_count, share.size());
    max_count = std::max(max_count, share.size());
    CHECK(std::is_sorted(share.begin(), share.end()));
  }
  for (int s : seen) CHECK(s == 1);
  // Balanced by cost, not by count: the shares hold different numbers of points.
  CHECK(max_count > min_count);
  // Deterministic.
  CHECK(balance_shards(costs, 8) == shares);
}

TEST_CASE("sweep: traces per point on request, beside each report", "[sweep][cli][trace]") {
  const std::string spec = write_temp("sweep_trace.json", R"({
    "hardware": "edge", "model": "lra-text",
    "axes": [{"path": "/attention/variant", "values": ["flash", "primal"]}, {"path": "/model/seq_len", "values": [512]}],
    "trace": {"formats": ["timeline", "perfetto"], "window_cycles": 1024}})");
  const std::string dir = temp_dir() + "/sweep_trace";
  const CliResult r = run_cli("sweep " + spec + " --out " + dir + " -j 2");
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  for (const auto& e : fs::directory_iterator(dir + "/points")) {
    const std::string p = e.path().string();
    const Json report = parse_json_text(slurp(p + "/report.json"), "report.json");
    REQUIRE(report.contains("trace"));
    CHECK(report["trace"]["window_cycles"] == 1024);
    // The timeline's array busy time, summed over its windows (fraction x window length, 6 decimals:
    // at most 0.5e-6 x 1024 cycles off per window), is the report's array busy cycles.
    const std::vector<std::string> rows = lines_of(slurp(p + "/timeline.csv"));
    REQUIRE(rows.size() > 2);
    double busy = 0;
    for (std::size_t i = 1; i < rows.size(); ++i) {
      const std::vector<std::string> c = cells_of(rows[i]);
      busy += std::stod(c.at(2)) * (std::stod(c.at(1)) - std::stod(c.at(0)));
    }
    const double expected = double(report["array"]["busy_cycles"].get<std::int64_t>());
    CHECK(std::abs(busy - expected) <= 0.5e-6 * 1024 * double(rows.size()) + 1e-9);
    const Json trace = parse_json_text(slurp(p + "/trace.json"), "trace.json");
    CHECK(trace["traceEvents"].is_array());
  }
  // Asking for traces makes other points (their files differ): the untraced spec's hashes differ.
  const std::string plain = write_temp("sweep_trace_plain.json", R"({
    "hardware": "edge", "model": "lra-text",
    "axes": [{"path": "/attention/variant", "values": ["flash", "primal"]}, {"path": "/model/seq_len", "values": [512]}]})");
  const CliResult a = run_cli("sweep " + spec + " --dry-run"), b = run_cli("sweep " + plain + " --dry-run");
  CHECK(lines_of(a.out).at(2).substr(0, 30) != lines_of(b.out).at(2).substr(0, 30));
}

TEST_CASE("sweep cost estimate: MACs / PEs, and the bytes a cycle-accurate DRAM must simulate", "[sweep]") {
  // est = 5 ms + 1.5 ns x MACs / PEs (+ 15 ns per estimated DRAM byte with the cycle DRAM), in
  // seconds. LRA text at N = 1024 with the low-rank linear form (rank 20) on edge's 1024 PEs, per
  // layer: QKV 3 N D^2, out projection N D^2, FFN 2 N D F, attention per head 4 N d s (graph.h)
  // with N = 1024, D = 64, F = 128, 2 heads of d = 32, s = 20: 12582912 + 4194304 + 16777216 +
  // 2 x 2621440 = 38797312 MACs, two layers: 77594624 MACs; lowrank's extra projections Q W_Q and
  // K W_K count in the attention term above.
  const Json doc = parse_json_text(R"({"hardware": "edge", "model": "lra-text",
    "axes": [{"path": "/attention/variant", "values": ["lowrank_linear"]}, {"path": "/model/seq_len", "values": [1024]},
             {"name": "dram", "points": [{"label": "ideal", "set": {"/dram/latency_cycles": 94}},
                                         {"label": "ddr4", "set": {"/dram": {"model": "cycle", "preset": "ddr4-3200"}}}]}]})",
                                   "spec");
  const SweepSpec spec = parse_sweep_spec(doc, "spec", "");
  REQUIRE(spec.points.size() == 2);
  CHECK(spec.points[0].est_cost == Approx(5e-3 + 1.5e-9 * 77594624.0 / 1024).epsilon(0.02));
  // The cycle DRAM adds 15 ns per byte: at least the weights and activations once (the input and
  // the output alone are 2 x 1024 x 64 x 2 B = 256 KiB: 3.9 ms).
  CHECK(spec.points[1].est_cost - spec.points[0].est_cost > 15e-9 * 262144);
}
