// Whole-accelerator GEMM runs whose cycle counts are derived by hand in the comments.
#include <catch2/catch.hpp>

#include "compiler/gemm_lowering.h"
#include "hw/accelerator.h"
#include "report/report.h"
#include "support/isolated.h"

using namespace attnsim;
using attnsim::test::run_isolated;

namespace {

HwConfig make_hw(const std::string& patch_json) {
  Json doc = parse_json_text(R"({
    "array": {"rows": 32, "cols": 32, "dataflow": "os", "timing": "scalesim", "clock_mhz": 1000, "operand_bytes": 2},
    "sram": {"banks": 16, "bytes_per_bank": 32768, "port_bytes": 65536},
    "dram": {"model": "ideal", "bytes_per_cycle": 1e9, "latency_cycles": 0},
    "dma": {"outstanding": 1024}
  })",
                             "test");
  doc.merge_patch(parse_json_text(patch_json, "patch"));
  return parse_hw_config(doc, "test");
}

// Simulates in a forked child and returns the report.
Json run_gemm(const HwConfig& hw, std::int64_t m, std::int64_t k, std::int64_t n) {
  auto r = run_isolated([&] {
    TileProgram p = lower_gemm(hw, {m, k, n});
    SimOutcome o = simulate(hw, p);
    return make_report(hw, {{"kind", "gemm"}, {"m", m}, {"k", k}, {"n", n}}, p, o).dump();
  });
  INFO(r.output);
  REQUIRE(r.exit_status == 0);
  return Json::parse(r.output);
}

}  // namespace

TEST_CASE("SCALE-Sim compatibility: with ideal memory the array's compute cycles are SCALE-Sim's", "[gemm][scalesim]") {
  // Ideal memory: 10^9 B/cycle, no latency, 64 KiB SRAM ports. A load takes a few femtoseconds and
  // completes on the first clock edge: cycle 1. The GEMM runs alone from cycle 1.
  SECTION("32x32 OS, M=K=N=64") {
    // F = 2*2 = 4 folds of L = 32+32+64-2 = 126 cycles: busy 504; SCALE-Sim prints 503.
    // Total: 1 (loads) + 504 + 1 (store) = 506.
    Json r = run_gemm(make_hw("{}"), 64, 64, 64);
    CHECK(r["array"]["busy_cycles"] == 504);
    CHECK(r["array"]["scalesim_reference_cycles"] == 503);
    CHECK(r["cycles"] == 506);
    CHECK(r["array_stall_cycles"]["memory"] == 1);
  }
  SECTION("32x32 WS, M=100, K=30, N=70") {
    // F = ceil(30/32)*ceil(70/32) = 3 folds of L = 2*32+32+100-2 = 194: busy 582; SCALE-Sim 581.
    Json r = run_gemm(make_hw(R"({"array": {"dataflow": "ws"}})"), 100, 30, 70);
    CHECK(r["array"]["busy_cycles"] == 582);
    CHECK(r["array"]["scalesim_reference_cycles"] == 581);
    CHECK(r["cycles"] == 584);
  }
}

TEST_CASE("a memory-bound GEMM costs its DRAM bytes over the bandwidth", "[gemm]") {
  // 1 B/cycle, no latency, 32x32 OS overlapped, M=K=N=64, 2-byte operands, one tile.
  // Loads: A and B are 8192 B each, 16384 B over the bus: 16384 cycles.
  // GEMM (overlapped): 0 + (4-1)*max(64,32) + 32+32+64-2 = 318 cycles.
  // Store: C is 64*64*2 = 8192 B: 8192 cycles (its 16 KiB of accumulators leave the bank in 1 cycle).
  // Total 16384 + 318 + 8192 = 24894.
  Json r = run_gemm(make_hw(R"({"array": {"timing": "overlapped"}, "dram": {"bytes_per_cycle": 1}})"), 64, 64, 64);
  CHECK(r["cycles"] == 24894);
  CHECK(r["array"]["busy_cycles"] == 318);
  CHECK(r["array_stall_cycles"]["memory"] == 16384);
  CHECK(r["dram"]["bytes_read"] == 16384);
  CHECK(r["dram"]["bytes_written"] == 8192);
  CHECK(r["roofline"]["bound"] == "memory");
  CHECK(r["roofline"]["memory_bound_cycles"] == 24576);  // (16384 + 8192) / 1
}

TEST_CASE("the edge preset's 64^3 GEMM, derived by hand", "[gemm]") {
  // edge: 57.11 B/cycle, 94 cycles latency, 64 B SRAM ports, OS overlapped, 2-byte operands.
  // Loads: A and B (8192 B each) go out as 8 segments of 2048 B at once; the bus carries 16384 B in
  //   16384 / 57.11 = 286.88 cycles, + 94 latency = 380.88: the last load completes at edge 381.
  // GEMM: 318 cycles (see above): 381 + 318 = 699.
  // Store: 64x64 accumulators of 4 B = 16384 B leave one bank through one 64 B port: 256 cycles,
  //   longer than the DRAM side (8192 / 57.11 + 94 = 237.4): 699 + 256 = 955.
  Json r = run_gemm(load_hw_config("edge"), 64, 64, 64);
  CHECK(r["cycles"] == 955);
  CHECK(r["array_stall_cycles"]["memory"] == 381);
  CHECK(r["array"]["busy_cycles"] == 318);
}

TEST_CASE("double buffering hides loads behind compute", "[gemm]") {
  // A 64 KiB SRAM forces many tiles; 16 small banks let every buffer start on its own bank, so no two
  // units share a bank port (shared ports queue: sram_ports.h). With ideal memory every load takes one cycle and is issued as
  // soon as its buffer is free, long before the array needs it (1024 segments may be in flight, so
  // the DMA issues the first A and B tiles at once); so the run costs the first load,
  // every GEMM back to back, and the last store: 1 + sum(gemm_cycles) + 1. The sum is taken from the
  // closed form over the program's tiles, not from the simulation.
  for (const char* df : {"os", "ws", "is"}) {
    for (const char* timing : {"scalesim", "overlapped"}) {
      HwConfig hw = make_hw(std::string(R"({"sram": {"banks": 16, "bytes_per_bank": 4096}, "array": {"dataflow": ")") +
                            df + R"(", "timing": ")" + timing + "\"}}");
      const GemmDims d{300, 200, 250};
      TileProgram p = lower_gemm(hw, d);
      std::int64_t sum = 0, gemms = 0;
      for (const Instr& in : p.instrs)
        if (in.op == Opcode::Gemm)
          sum += gemm_cycles(hw.array.rows, hw.array.cols, hw.array.dataflow, hw.array.timing, {in.m, in.k, in.n}),
              ++gemms;
      INFO(df << " " << timing << ": " << p.summary);
      REQUIRE(gemms > 4);
      Json r = run_gemm(hw, d.m, d.k, d.n);
      CHECK(r["cycles"] == 1 + sum + 1);
      CHECK(r["array"]["busy_cycles"] == sum);
      CHECK(r["macs"] == d.m * d.k * d.n);
    }
  }
}

TEST_CASE("the whole accelerator gives identical cycles with the PE-level and the fast array", "[gemm][fidelity]") {
  // The same program on the same memory system; only the array model differs, and the two must
  // agree to the cycle (the PE-level model's own equivalence is in test_array_equivalence.cpp).
  // With gemm_chaining both run GEMM sequences (begin_gemm / end_gemm) that overlap.
  for (const char* df : {"os", "ws", "is"})
    for (const char* timing : {"scalesim", "overlapped", "chained"}) {
      const bool chained = std::string(timing) == "chained";
      const std::string patch = std::string(R"({"array": {"rows": 8, "cols": 12, "dataflow": ")") + df +
                                R"(", "timing": ")" + (chained ? "overlapped" : timing) + R"(", "gemm_chaining": )" +
                                (chained ? "true" : "false") +
                                R"(}, "sram": {"banks": 4, "bytes_per_bank": 4096,
                                "port_bytes": 16}, "dram": {"bytes_per_cycle": 8, "latency_cycles": 30}})";
      HwConfig fast = make_hw(patch);
      HwConfig pe = fast;
      pe.array.fidelity = ArrayFidelity::Pe;
      INFO(df << " " << timing);
      Json a = run_gemm(fast, 70, 45, 33), b = run_gemm(pe, 70, 45, 33);
      CHECK(a["cycles"] == b["cycles"]);
      CHECK(a["array"]["busy_cycles"] == b["array"]["busy_cycles"]);
      CHECK(a["dram"] == b["dram"]);
    }
}

TEST_CASE("chained GEMMs on the edge preset pay one fill and drain, derived by hand", "[gemm][chaining]") {
  // edge (32x32, overlapped) with gemm_chaining, M=512 K=4096 N=512: the planner cuts tiles of m=128 k=128
  // n=256 (checked below), 4*32*2 = 256 GEMMs, whose loads keep ahead of the array (DRAM about 43%
  // busy), so each GEMM is ready before the array could take it and only the first waits (for its loads).
  //   OS: F = (128/32)*(256/32) = 32 folds of T = K = 128 >= R: every fold, of every GEMM, starts 128
  //       cycles after the previous one; the last one adds R+C-2 = 62:
  //       busy = 256 * 32 * 128 + 62 = 1,048,638 (unchained: 256 * (31*128 + 32+32+128-2) = 1,064,448).
  //   WS: F = (128/32)*(256/32) = 32 folds of T = M = 128 >= R: 256 * 32 * 128 = 1,048,576 cycles of
  //       streaming, the first preload 32 and the last drain 62: busy = 1,048,670
  //       (unchained: 256 * (32 + 31*128 + 32+32+128-2) = 1,072,640).
  for (const char* df : {"os", "ws"}) {
    INFO(df);
    HwConfig hw = load_hw_config("edge");
    hw.array.dataflow = std::string(df) == "os" ? Dataflow::OS : Dataflow::WS;
    hw.array.gemm_chaining = true;  // as the preset has it
    const std::int64_t expect = std::string(df) == "os" ? 1048638 : 1048670;
    const std::int64_t unchained = std::string(df) == "os" ? 1064448 : 1072640;
    TileProgram p = lower_gemm(hw, {512, 4096, 512});
    std::int64_t gemms = 0;
    for (const Instr& in : p.instrs)
      if (in.op == Opcode::Gemm) {
        CHECK((in.m == 128 && in.k == 128 && in.n == 256));
        ++gemms;
      }
    CHECK(gemms == 256);
    Json r = run_gemm(hw, 512, 4096, 512);
    CHECK(r["array"]["busy_cycles"] == expect);
    hw.array.gemm_chaining = false;
    Json u = run_gemm(hw, 512, 4096, 512);
    CHECK(u["array"]["busy_cycles"] == unchained);
    CHECK(r["cycles"].get<std::int64_t>() < u["cycles"].get<std::int64_t>());
  }
}
