// attnsim run as a user runs it: graph and tile listings, the report's per-layer and per-op
// sections, determinism, and clear errors with exit status 2 for bad input.
#include <catch2/catch.hpp>
#include <utility>
#include <vector>

#include "config/json_reader.h"
#include "support/cli.h"
#include "support/small_model.h"

using namespace attnsim;
using namespace attnsim::test;

TEST_CASE("run --emit graph prints the workload graph without simulating", "[cli][run]") {
  const std::string model = write_small_model("small.json");
  CliResult r = run_cli("run --hw edge --model " + model + " --emit graph");
  REQUIRE(r.status == 0);
  // Per layer: norm1, qkv_proj, qk, softmax, pv, out_proj, residual1, norm2, ffn_up, ffn_act,
  // ffn_down, residual2 (pre-norm).
  for (const char* op : {"L0.qkv_proj", "L0.qk", "L0.softmax", "L0.pv", "L1.ffn_down", "L1.residual2"})
    CHECK(r.out.find(op) != std::string::npos);
  CHECK(r.out.find("cycles") == std::string::npos);
}

TEST_CASE("run --emit tiles lists the phases and the program", "[cli][run]") {
  const std::string model = write_small_model("small.json");
  CliResult r = run_cli("run --hw edge --model " + model + " --emit tiles");
  REQUIRE(r.status == 0);
  CHECK(r.out.find("# phase L0.attention: flash") != std::string::npos);
  CHECK(r.out.find("SOFTMAX online_step") != std::string::npos);
  CHECK(r.out.find("SOFTMAX normalize") != std::string::npos);
  CHECK(r.out.find("VECTOR gelu") != std::string::npos);
}

TEST_CASE("run reports per layer, per op, the softmax unit and SRAM per tensor class", "[cli][run]") {
  const std::string model = write_small_model("small.json");
  const std::string dir = temp_dir() + "/run_report";
  CliResult r = run_cli("run --hw edge --model " + model + " --out " + dir);
  REQUIRE(r.status == 0);
  const Json rep = parse_json_text(slurp(dir + "/report.json"), "report.json");
  REQUIRE(rep["layers"].size() == 2);
  // MACs per layer, by hand (T = N = 256, D = 64, HD = 64, F = 128, 2 heads of 32):
  //   qkv 256*64*192 = 3,145,728; qk and pv 2 heads * 256*256*32 = 4,194,304 each;
  //   out_proj 256*64*64 = 1,048,576; ffn 2 * 256*64*128 = 4,194,304. Sum 16,777,216.
  for (const Json& l : rep["layers"]) {
    CHECK(l["macs"] == 16777216);
    CHECK(l["ops"]["qkv_proj"]["macs"] == 3145728);
    CHECK(l["ops"]["qk"]["macs"] == 4194304);
    CHECK(l["ops"]["pv"]["macs"] == 4194304);
    CHECK(l["ops"]["softmax"]["softmax_busy_cycles"].get<std::int64_t>() > 0);
    CHECK(l["end_cycle"].get<std::int64_t>() > l["start_cycle"].get<std::int64_t>());
  }
  // Layer 1 starts after layer 0 ends (it reads layer 0's output).
  CHECK(rep["layers"][1]["start_cycle"].get<std::int64_t>() >= rep["layers"][0]["end_cycle"].get<std::int64_t>());
  CHECK(rep["macs"] == 2 * 16777216);
  const double sm = rep["busy_fraction"]["softmax_unit"].get<double>();
  CHECK(sm > 0.0);
  CHECK(sm < 1.0);
  for (const char* cls : {"q", "k", "v", "scores", "out", "stats", "weights", "activations"})
    CHECK(rep["sram"]["high_water_bytes_by_class"].contains(cls));
  // 12 ops per layer: the 3 attention ops are one phase, and the out_proj + residual1, ffn_up + ffn_act
  // and ffn_down + residual2 pairs are fused GEMMs: 12 - 2 - 3 = 7 phases.
  CHECK(rep["phases"].size() == 2 * 7);
}

TEST_CASE("run reports are byte-identical across runs", "[cli][run]") {
  const std::string model = write_small_model("small.json");
  const std::string a = temp_dir() + "/det_a", b = temp_dir() + "/det_b";
  REQUIRE(run_cli("run --hw edge --model " + model + " --variant unfused --out " + a).status == 0);
  REQUIRE(run_cli("run --hw edge --model " + model + " --variant unfused --out " + b).status == 0);
  CHECK(slurp(a + "/report.json") == slurp(b + "/report.json"));
  CHECK(slurp(a + "/report.csv") == slurp(b + "/report.csv"));
}

TEST_CASE("without a softmax unit softmax runs on the vector unit", "[cli][run]") {
  const std::string model = write_small_model("small.json");
  const std::string dir = temp_dir() + "/run_tpu";
  CliResult r = run_cli("run --hw tpu-v1 --dtype int8 --model " + model + " --out " + dir);
  REQUIRE(r.status == 0);
  const Json rep = parse_json_text(slurp(dir + "/report.json"), "report.json");
  CHECK(rep["busy_fraction"]["softmax_unit"] == "absent");
  CHECK(rep["busy_fraction"]["softmax_work"].get<double>() > 0.0);
  CHECK(rep["busy_fraction"]["vector_unit"].get<double>() >= rep["busy_fraction"]["softmax_work"].get<double>());
}

TEST_CASE("run rejects bad input with exit status 2 and a message naming the source and rule", "[cli][run]") {
  SECTION("an invalid model file") {
    const std::string bad = write_temp("bad_model.json", R"({"layers": [{"d_model": 0}]})");
    CliResult r = run_cli("run --hw edge --model " + bad);
    CHECK(r.status == 2);
    CHECK(r.err.find(bad + ": /layers/0/d_model") != std::string::npos);
  }
  SECTION("malformed JSON") {
    const std::string bad = write_temp("broken.json", "{\"layers\": [");
    CliResult r = run_cli("run --hw edge --model " + bad);
    CHECK(r.status == 2);
    CHECK(r.err.find(bad) != std::string::npos);
  }
  SECTION("an unknown variant") {
    CliResult r = run_cli("run --hw edge --model bert-base --variant flsh");
    CHECK(r.status == 2);
    CHECK(r.err.find("did you mean \"flash\"") != std::string::npos);
  }
  SECTION("an impossible size") {
    CliResult r = run_cli("run --hw edge --model bert-base --seq-len 0");
    CHECK(r.status == 2);
    CHECK(r.err.find("--seq-len") != std::string::npos);
  }
  SECTION("operand width mismatch") {
    CliResult r = run_cli("run --hw tpu-v1 --model bert-base");
    CHECK(r.status == 2);
    CHECK(r.err.find("/array/operand_bytes") != std::string::npos);
  }
  SECTION("a tile that cannot fit") {
    // 16 banks of 1 KiB: the GEMMs' smallest tiles (12 KiB double-buffered) fit, flash's do not
    // (without the accumulator storage, where the mapper would place flash's running outputs and
    // scores: 16x16 tiles then need 28032 B of SRAM).
    CliResult r = run_cli("run --hw edge --set /sram/bytes_per_bank=1024 --set /accumulators=null --model bert-base --variant flash");
    CHECK(r.status == 2);
    CHECK(r.err.find("preset:edge: /sram: L0.attention: flash") != std::string::npos);
    CHECK(r.err.find("16384 B of SRAM available") != std::string::npos);
    // Without the preset's accumulator storage (null removes the key), so that the GEMM's C tiles
    // count against the 4 KiB of SRAM too and the GEMM, the first op, is what does not fit.
    r = run_cli("run --hw edge --set /sram/bytes_per_bank=256 --set /accumulators=null --model bert-base");
    CHECK(r.status == 2);
    CHECK(r.err.find("L0.qkv_proj 512x768x2304 does not fit") != std::string::npos);
    CHECK(r.err.find("SRAM capacity of 4096 B") != std::string::npos);
  }
  SECTION("an unknown model preset") {
    CliResult r = run_cli("run --hw edge --model bert-huge");
    CHECK(r.status == 2);
    CHECK(r.err.find("bert-base") != std::string::npos);  // the presets are listed
  }
}

TEST_CASE("run charges every cycle the array is not busy to a cause, even a phase without GEMMs", "[cli][run]") {
  // Unfused attention on edge at N = 4096 spills its scores: its softmax phase, S -> P through DRAM,
  // has no GEMM at all, so for that whole phase the array's queue is empty. Each cycle of the array
  // is busy or a stall charged to what it waits for (memory, softmax, dependency, SRAM port); only
  // the tail after its last GEMM (the final stores of the output, a few thousand cycles at most:
  // 4096 x 64 fp16 = 512 KiB at 57 B/cycle) is neither.
  const std::string dir = temp_dir() + "/run_stalls";
  const CliResult r = run_cli("run --hw edge --model lra-text --seq-len 4096 --variant unfused --out " + dir);
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  const Json report = parse_json_text(slurp(dir + "/report.json"), "report.json");
  std::int64_t charged = report["array"]["busy_cycles"].get<std::int64_t>();
  for (const auto& [cause, cycles] : report["array_stall_cycles"].items()) charged += cycles.get<std::int64_t>();
  const std::int64_t total = report["cycles"].get<std::int64_t>();
  CHECK(charged <= total);
  CHECK(total - charged <= 512 * 1024 / 57 + 200);
  CHECK(report["array_stall_cycles"]["softmax"].get<std::int64_t>() > 0);
}

TEST_CASE("report.csv carries the resolved key hardware and the variant's parameters", "[cli][run]") {
  const std::string model = write_small_model("small.json");
  const std::string dir = temp_dir() + "/run_keys";
  // A cycle-accurate DRAM by preset, and primal with its rank given and its samples left to the default.
  REQUIRE(run_cli("run --hw edge --model " + model + " --variant primal:rank=8 --seq-len 64 --set /dram=" +
                  R"('{"model":"cycle","preset":"lpddr4-4266"}')" + " --out " + dir)
              .status == 0);
  const std::string csv = slurp(dir + "/report.csv");
  const auto nl = csv.find('\n');
  std::vector<std::string> head, row;
  auto split = [](const std::string& line) {
    std::vector<std::string> cells;
    std::string cell;
    bool quoted = false;
    for (char ch : line) {
      if (ch == '"') quoted = !quoted;
      else if (ch == ',' && !quoted) cells.push_back(std::exchange(cell, ""));
      else cell += ch;
    }
    cells.push_back(cell);
    return cells;
  };
  head = split(csv.substr(0, nl));
  row = split(csv.substr(nl + 1, csv.find('\n', nl + 1) - nl - 1));
  REQUIRE(head.size() == row.size());
  auto cell = [&](const std::string& col) {
    for (std::size_t i = 0; i < head.size(); ++i)
      if (head[i] == col) return row[i];
    FAIL("no column " << col);
    return std::string();
  };
  // The edge preset (configs/presets/edge.json): 940 MHz, 16 banks of 32 KiB, 64 B ports in 64 B
  // stripes, 64 KiB of accumulator storage.
  CHECK(cell("clock_mhz") == "940.0");
  CHECK(cell("sram_banks") == "16");
  CHECK(cell("sram_bytes_per_bank") == "32768");
  CHECK(cell("sram_port_bytes") == "64");
  CHECK(cell("sram_interleave_bytes") == "64");
  CHECK(cell("accumulator_storage_bytes") == "65536");
  CHECK(cell("dram_model") == "cycle");
  CHECK(cell("dram_preset") == "lpddr4-4266");
  // primal: s = 8 as given, p = min(N, 10 s) = min(64, 80) = 64.
  CHECK(cell("variant") == "primal");
  CHECK(cell("variant_params") == "rank=8,samples=64");
}
