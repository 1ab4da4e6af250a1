// SCALE-Sim v2 workloads: its run configs and topology CSVs read as SCALE-Sim reads them, conv
// layers lowered by its im2col, bad input named by file, line and column, and `attnsim gemm
// --scalesim-cfg --topology` giving SCALE-Sim's compute cycles layer by layer. The expected numbers
// come from tests/data/scalesim/expected.csv, written by reference.py (an independent Python
// re-derivation from SCALE-Sim's own demand-matrix construction, checked there against SCALE-Sim's
// golden COMPUTE_REPORT.csv), and from that golden report itself.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "common/errors.h"
#include "config/scalesim_input.h"
#include "support/cli.h"

using namespace attnsim;
using namespace attnsim::test;

namespace {

const std::string kData = std::string(ATTNSIM_SOURCE_DIR) + "/tests/data/scalesim/";

// The UserError's message, or "" when reading succeeded.
template <typename Read>
std::string error_of(Read&& read) {
  try {
    read();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string cell;
  while (std::getline(ss, cell, sep)) out.push_back(cell);
  return out;
}

// A CSV file (no quoted commas) as rows of cells, the header first.
std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(split(line, ','));
  return rows;
}

}  // namespace

TEST_CASE("a SCALE-Sim run config maps onto attnsim's hardware", "[scalesim]") {
  const ScaleSimConfig cfg = read_scalesim_config(kData + "scale.cfg");
  CHECK(cfg.run_name == "scale_example_run_32x32_os");
  CHECK(cfg.rows == 32);
  CHECK(cfg.cols == 32);
  CHECK(cfg.dataflow == Dataflow::OS);
  CHECK(!cfg.user_bandwidth);
  CHECK(cfg.sram_bytes() == (64 + 64 + 64) * 1024);
  CHECK(cfg.filter_offset == 10000000);
  const HwConfig hw = parse_hw_config(scalesim_hw_document(cfg), cfg.source);
  CHECK(hw.array.timing == TimingMode::ScaleSim);
  CHECK(hw.array.operand_bytes == 1);  // SCALE-Sim's 1-byte words
  CHECK(hw.array.accumulator_bytes == 1);
  CHECK(hw.sram.total_bytes() == 196608);         // 192 KiB
  CHECK(hw.dram.bytes_per_cycle == 32 + 2 * 32);  // CALC: the array's peak operand rate R + 2C
  CHECK(hw.dram.latency_cycles == 0);

  // A non-square array and USER bandwidth.
  const ScaleSimConfig eye = read_scalesim_config(kData + "eyeriss.cfg");
  CHECK(eye.rows == 12);
  CHECK(eye.cols == 14);
  CHECK(eye.dataflow == Dataflow::WS);
  const std::string user = write_temp("user.cfg",
                                      "[general]\nrun_name = u\n[architecture_presets]\nArrayHeight: 8\n"
                                      "ArrayWidth: 4\nIfmapSramSzkB: 1\nFilterSramSzkB: 2\nOfmapSramSzkB: 3\n"
                                      "IfmapOffset: 0\nFilterOffset: 1\nOfmapOffset: 2\nDataflow : is\n"
                                      "Bandwidth : 7\n[run_presets]\nInterfaceBandwidth: USER\n"
                                      "[network_presets]\nTopologyCsvLoc = \"some/where.csv\"\n");
  const ScaleSimConfig u = read_scalesim_config(user);
  CHECK(u.user_bandwidth);
  CHECK(u.bandwidth_words_per_cycle == 7);
  CHECK(u.topology_path == "some/where.csv");
  const HwConfig uhw = parse_hw_config(scalesim_hw_document(u), u.source);
  CHECK(uhw.dram.bytes_per_cycle == 7);  // words of 1 B
  CHECK(uhw.sram.total_bytes() == 6 * 1024);
  CHECK(uhw.array.dataflow == Dataflow::IS);
}

TEST_CASE("convolutions become GEMMs by SCALE-Sim's im2col", "[scalesim]") {
  // alexnet Conv1: 224 x 224 x 3, 96 filters of 11 x 11, stride 4. SCALE-Sim rounds the ofmap side up:
  // ceil((224 - 11 + 4) / 4) = ceil(54.25) = 55 (floor((224 - 11) / 4) + 1 would give 54), so
  // M = 55 * 55 = 3025, K = 11 * 11 * 3 = 363, N = 96.
  const Topology alex = read_scalesim_topology(kData + "alexnet.csv");
  CHECK(alex.kind == TopologyKind::Conv);
  REQUIRE(alex.layers.size() == 5);
  CHECK(alex.layers[0].name == "Conv1");
  CHECK(alex.layers[0].line == 2);
  CHECK(alex.layers[0].ofmap_h == 55);
  CHECK(alex.layers[0].m == 3025);
  CHECK(alex.layers[0].k == 363);
  CHECK(alex.layers[0].n == 96);
  // Conv2: 27 x 27 x 96, 256 of 5 x 5, stride 1: (27 - 5 + 1)^2 = 529 pixels, K = 5 * 5 * 96 = 2400.
  CHECK(alex.layers[1].m == 529);
  CHECK(alex.layers[1].k == 2400);
  CHECK(alex.layers[1].n == 256);
  // Resnet Conv1: 224, 7 x 7, stride 2: ceil((224 - 7 + 2) / 2) = ceil(109.5) = 110, M = 12100, K = 147.
  const Topology res = read_scalesim_topology(kData + "Resnet_test.csv");
  REQUIRE(res.layers.size() == 1);
  CHECK(res.layers[0].m == 12100);
  CHECK(res.layers[0].k == 147);
  CHECK(res.layers[0].n == 64);
  // A blank row after the header is skipped (mlperf/test.csv); FC6 is 1 x 1 x 1024 -> 1000: M = 1.
  const Topology fc = read_scalesim_topology(kData + "mlperf_test.csv");
  REQUIRE(fc.layers.size() == 1);
  CHECK(fc.layers[0].line == 3);
  CHECK(fc.layers[0].m == 1);
  CHECK(fc.layers[0].k == 1024);
  CHECK(fc.layers[0].n == 1000);

  // A column stride apart (9 fields): 10 x 20, 3 x 4 filter, strides 1 and 2:
  // Ho = 10 - 3 + 1 = 8, Wo = ceil((20 - 4 + 2) / 2) = 9: M = 72, K = 3 * 4 * 2 = 24, N = 8.
  // A depth-wise layer ("DP" in its name) runs per channel with one channel each: 4 layers of
  // M = 6 * 6 = 36, K = 3 * 3 = 9, N = 1. A row without the final comma reads the same.
  const Topology mixed = read_scalesim_topology(write_temp(
      "mixed.csv",
      "\xEF\xBB\xBFLayer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
      "Strides,\r\nS2, 10, 20, 3, 4, 2, 8, 1, 2,\r\nDP1, 8, 8, 3, 3, 4, 1, 1\r\n"));
  REQUIRE(mixed.layers.size() == 5);
  CHECK(mixed.layers[0].m == 72);
  CHECK(mixed.layers[0].k == 24);
  CHECK(mixed.layers[0].n == 8);
  CHECK(mixed.layers[1].name == "DP1Channel_0");
  CHECK(mixed.layers[4].name == "DP1Channel_3");
  CHECK(mixed.layers[4].m == 36);
  CHECK(mixed.layers[4].k == 9);
  CHECK(mixed.layers[4].n == 1);
  CHECK(mixed.layers[4].line == 3);

  // GEMM rows are Layer, M, N, K (note the order); CRLF line ends as in SCALE-Sim's own files.
  const Topology gemm = read_scalesim_topology(kData + "transformer_partial.csv");
  CHECK(gemm.kind == TopologyKind::Gemm);
  REQUIRE(gemm.layers.size() == 6);
  CHECK(gemm.layers[0].name == "MH_FC_DimReduce_VKQ_0");
  CHECK(gemm.layers[0].m == 128);
  CHECK(gemm.layers[0].n == 512);
  CHECK(gemm.layers[0].k == 1536);
}

TEST_CASE("bad SCALE-Sim configs name the file, line and column", "[scalesim][errors]") {
  const std::string good =
      "[general]\nrun_name = r\n\n[architecture_presets]\nArrayHeight:    32\nArrayWidth:     32\n"
      "IfmapSramSzkB:   64\nFilterSramSzkB:  64\nOfmapSramSzkB:   64\nIfmapOffset:    0\n"
      "FilterOffset:   10000000\nOfmapOffset:    20000000\nBandwidth : 10\nDataflow : os\nMemoryBanks:   1\n\n"
      "[run_presets]\nInterfaceBandwidth: CALC\n";
  REQUIRE(error_of([&] { read_scalesim_config(write_temp("good.cfg", good)); }).empty());
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    const std::string path = write_temp("bad.cfg", s);
    return std::make_pair(path, error_of([&] { read_scalesim_config(path); }));
  };
  // Line 14 is "Dataflow : os": the value starts in column 12.
  auto [p1, e1] = with("Dataflow : os", "Dataflow : rs");
  CHECK_THAT(e1, Catch::Contains(p1 + ":14:12: Dataflow: must be os, ws or is, got \"rs\""));
  auto [p2, e2] = with("MemoryBanks:   1", "ReadRequestBuffer: 32");
  CHECK_THAT(e2, Catch::Contains(p2 + ":15:1: unknown key ReadRequestBuffer in [architecture_presets]"));
  auto [p3, e3] = with("[run_presets]", "[sparsity]\nSparsitySupport : true\n[run_presets]");
  CHECK_THAT(e3, Catch::Contains(p3 + ":17:2: unknown section [sparsity]"));
  auto [p4, e4] = with("ArrayWidth:     32\n", "");
  CHECK_THAT(e4, Catch::Contains(p4 + ":4:1: [architecture_presets] has no ArrayWidth (SCALE-Sim v2 requires it)"));
  auto [p5, e5] = with("MemoryBanks:   1", "MemoryBanks:   4");
  CHECK_THAT(e5, Catch::Contains(p5 + ":15:16: MemoryBanks: only 1 is supported"));
  auto [p6, e6] = with("InterfaceBandwidth: CALC", "InterfaceBandwidth: USER");
  CHECK(e6.empty());  // Bandwidth : 10 is there
  // "Bandwidth : 10,20" on line 13: the comma is in column 15.
  std::string two = good;
  two.replace(two.find("Bandwidth : 10"), 14, "Bandwidth : 10,20");
  two.replace(two.find("CALC"), 4, "USER");
  const std::string p7 = write_temp("two.cfg", two);
  CHECK_THAT(error_of([&] { read_scalesim_config(p7); }),
             Catch::Contains(p7 + ":13:15: Bandwidth: one value (words per cycle) is supported"));
  auto [p8, e8] = with("ArrayHeight:    32", "ArrayHeight:    -3");
  CHECK_THAT(e8, Catch::Contains(p8 + ":5:17: ArrayHeight: must be an integer in [1, 4096], got \"-3\""));
  auto [p9, e9] = with("ArrayWidth:     32", "ArrayWidth:     32\nArraywidth: 16");
  CHECK_THAT(e9, Catch::Contains(p9 + ":7:1: Arraywidth already set on line 6"));
  // Every problem at once: the bad dataflow and the unknown key both.
  auto [p10, e10] = with("Dataflow : os\nMemoryBanks:   1", "Dataflow : xs\nArrayHieght: 3");
  CHECK_THAT(e10, Catch::Contains(p10 + ":14:12: Dataflow"));
  CHECK_THAT(e10, Catch::Contains(p10 + ":15:1: unknown key ArrayHieght in [architecture_presets]"));
  CHECK_THAT(e10, Catch::Contains("did you mean ArrayHeight?"));
}

TEST_CASE("bad topologies name the file, line and column", "[scalesim][errors]") {
  const std::string header =
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n";
  auto read = [](const std::string& text) {
    const std::string path = write_temp("bad.csv", text);
    return std::make_pair(path, error_of([&] { read_scalesim_topology(path); }));
  };
  // "Conv1, 224, x": the x is the 13th character.
  auto [p1, e1] = read(header + "Conv1, 224, x, 11, 11, 3, 96, 4,\n");
  CHECK_THAT(e1, Catch::Contains(p1 + ":2:13: IFMAP Width: must be an integer in [1, 2147483647], got \"x\""));
  auto [p2, e2] = read(header + "Conv1, 5, 224, 11, 11, 3, 96, 4,\n");
  CHECK_THAT(e2, Catch::Contains(p2 + ":2:16: Filter Height 11 exceeds IFMAP Height 5"));
  auto [p3, e3] = read(header + "Conv1, 224, 224, 11, 11, 3, 96, 4, 4, 4,\n");
  CHECK_THAT(e3, Catch::Contains(p3 + ":2:39: 10 fields: a convolution row has 8"));
  auto [p4, e4] = read(
      "Layer name,Ifmap height,ifmap width,filter height,filter width,channels,num filters,strides,batch size,\n"
      "C, 8, 8, 3, 3, 1, 1, 1, 4,\n");
  CHECK_THAT(e4, Catch::Contains(p4 + ":1:93: unsupported column \"batch size\""));
  auto [p5, e5] = read("Layer\tM\tN\tK\n");
  CHECK_THAT(e5, Catch::Contains(p5 + ":1:1: header of 1 comma-separated fields"));
  auto [p6, e6] = read("Layer, M, N, K,\nG, 4, 0, 8,\nH, 4, 4,\n");
  CHECK_THAT(e6, Catch::Contains(p6 + ":2:7: N: must be an integer"));
  CHECK_THAT(e6, Catch::Contains(p6 + ":3:9: 3 fields: a GEMM row has 4"));
  auto [p7, e7] = read(header);
  CHECK_THAT(e7, Catch::Contains(p7 + ": no layers after the header"));
  // Through the command: exit status 2, the message on stderr.
  const std::string zero_n = write_temp("zero_n.csv", "Layer, M, N, K,\nG, 4, 0, 8,\n");
  CliResult r = run_cli("gemm --scalesim-cfg " + kData + "scale.cfg --topology " + zero_n);
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains(zero_n + ":2:7: N: must be an integer"));
  const std::string bad_cfg = write_temp("df.cfg", "[general]\nrun_name = r\n[sparsity]\n");
  r = run_cli("gemm --scalesim-cfg " + bad_cfg + " --topology " + kData + "alexnet.csv");
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains(bad_cfg + ":3:2: unknown section [sparsity]"));
  CHECK_THAT(r.err, Catch::Contains(bad_cfg + ": no [architecture_presets] section"));
  r = run_cli("gemm --scalesim-cfg " + kData + "scale.cfg --topology " + kData + "alexnet.csv --m 5");
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("--m/--k/--n: not with --topology"));
}

TEST_CASE("compute cycles equal SCALE-Sim v2's, layer by layer, on its sample topologies", "[scalesim][cli]") {
  // expected.csv: cfg, topology, layer_id, layer, m, n, k, compute_cycles, mapping_efficiency_pct,
  // overall_util_pct (reference.py; InterfaceBandwidth CALC, so SCALE-Sim has no stall cycles and its
  // overall utilization is MACs / (compute cycles x PEs)).
  const auto expected = read_csv(kData + "expected.csv");
  REQUIRE(expected.size() > 1);
  std::map<std::pair<std::string, std::string>, std::vector<std::vector<std::string>>> runs;
  std::vector<std::pair<std::string, std::string>> order;
  for (std::size_t i = 1; i < expected.size(); ++i) {
    const auto key = std::make_pair(expected[i][0], expected[i][1]);
    if (!runs.count(key)) order.push_back(key);
    runs[key].push_back(expected[i]);
  }
  int layers = 0;
  for (const auto& key : order) {
    const std::string out = temp_dir() + "/scalesim-" + key.first + "-" + key.second;
    CliResult r = run_cli("gemm --scalesim-cfg " + kData + key.first + " --topology " + kData + key.second +
                          " --mapper fast --jobs 2 --out " + out);
    INFO(key.first << " on " << key.second << ": " << r.err);
    REQUIRE(r.status == 0);
    const auto got = read_csv(out + "/layers.csv");
    // layer_id, layer, m, n, k, macs, compute_cycles, total_cycles, pct_compute_utilization, pct_utilization,
    // pct_mapping_efficiency, sram_bytes
    REQUIRE(got.size() == runs[key].size() + 1);
    CHECK(got[0][6] == "compute_cycles");
    for (std::size_t i = 0; i < runs[key].size(); ++i) {
      const auto& e = runs[key][i];
      const auto& g = got[i + 1];
      INFO("layer " << e[3]);
      CHECK(g[1] == e[3]);
      CHECK(g[2] == e[4]);
      CHECK(g[3] == e[5]);
      CHECK(g[4] == e[6]);
      CHECK(g[6] == e[7]);
      CHECK(std::stod(g[10]) == Approx(std::stod(e[8])).margin(2e-6));
      CHECK(std::stod(g[8]) == Approx(std::stod(e[9])).margin(2e-6));
      CHECK(std::stoll(g[7]) > std::stoll(g[6]));  // the run adds the first loads and the last stores
      ++layers;
    }
  }
  CHECK(layers == int(expected.size()) - 1);

  // SCALE-Sim's own run (test/golden_trace/COMPUTE_REPORT.csv: scale_ws.cfg on alexnet_part.csv):
  // Total Cycles 112283 with 0 Stall Cycles. By hand: WS folds ceil(363/32) * ceil(96/32) = 12 * 3 = 36
  // of 2 * 32 + 32 + 3025 - 2 = 3119 cycles; 36 * 3119 - 1 = 112283.
  const auto golden = read_csv(kData + "golden_COMPUTE_REPORT.csv");
  const auto ours = read_csv(temp_dir() + "/scalesim-scale_ws.cfg-alexnet_part.csv/layers.csv");
  REQUIRE(golden.size() == 2);
  REQUIRE(ours.size() == 2);
  CHECK(std::stoll(golden[1][1]) - std::stoll(golden[1][2]) == 112283);
  CHECK(std::stoll(ours[1][6]) == std::stoll(golden[1][1]) - std::stoll(golden[1][2]));
  CHECK(std::stod(ours[1][8]) == Approx(std::stod(golden[1][3])).margin(1e-6));   // Overall Util %
  CHECK(std::stod(ours[1][10]) == Approx(std::stod(golden[1][4])).margin(1e-6));  // Mapping Efficiency %
}

TEST_CASE("attnsim run takes a SCALE-Sim topology as its workload", "[scalesim][cli]") {
  // The golden layer again (WS 32x32, alexnet Conv1): 36 folds of 3119 cycles, 36 * 3119 - 1 = 112283.
  CliResult r = run_cli("run --scalesim-cfg " + kData + "scale_ws.cfg --topology " + kData + "alexnet_part.csv");
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("compute_cycles"));
  CHECK_THAT(r.out, Catch::Contains(" 112283 "));
  r = run_cli("run --scalesim-cfg " + kData + "scale_ws.cfg --topology " + kData +
              "alexnet_part.csv --model bert-base");
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("--model: not with --topology or --scalesim-cfg"));
  r = run_cli("run --hw edge");
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("--model or --topology: the workload is required"));
}
