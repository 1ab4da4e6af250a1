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
  // edge: 57.11 B/cycle, 94 cycles latency, 16 banks with 64 B ports interleaved in 64 B stripes,
  // 64 KiB of accumulators with 128 B ports, OS overlapped, 2-byte operands.
  // Loads: A and B (8192 B each) go out as 8 segments of 2048 B at once; the bus carries 16384 B in
  //   16384 / 57.11 = 286.88 cycles, + 94 latency = 380.88: the last load completes at edge 381
  //   (their SRAM side: 8192 B over all 16 ports, 8 cycles each).
  // GEMM: 318 cycles (see above): 381 + 318 = 699.
  // Store: the 64x64 C tile (4 B accumulators, 16384 B; 2 x 16 KiB fit the 64 KiB) sits in the
  //   accumulator storage and leaves through its 128 B read side in 128 cycles, less than the DRAM
  //   side (8192 / 57.11 + 94 = 237.4): 699 + 237.4 = 936.4, edge 937.
  Json r = run_gemm(load_hw_config("edge"), 64, 64, 64);
  CHECK(r["cycles"] == 937);
  CHECK(r["array_stall_cycles"]["memory"] == 381);
  CHECK(r["array"]["busy_cycles"] == 318);
  CHECK(r["accumulators"]["high_water_bytes"] == 2 * 16384);
  CHECK(r["accumulators"]["array_written_bytes"] == 16384);
  CHECK(r["accumulators"]["unit_read_bytes"] == 16384);
  // Without accumulators, C in the interleaved SRAM leaves through all 16 ports: 16384 / (16 x 64)
  // = 16 cycles, still under the DRAM side: 937 again. With contiguous banks as well, C sits in one
  // bank (every buffer starts on a bank boundary) and leaves through one 64 B port: 256 cycles,
  // longer than the DRAM side: 699 + 256 = 955.
  HwConfig no_acc = load_hw_config("edge");
  no_acc.accumulators = AccumulatorConfig{};
  CHECK(run_gemm(no_acc, 64, 64, 64)["cycles"] == 937);
  no_acc.sram.interleave_bytes = 0;
  CHECK(run_gemm(no_acc, 64, 64, 64)["cycles"] == 955);
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

TEST_CASE("WS partial sums in accumulator storage cost no SRAM port time", "[gemm]") {
  // 32x32 WS overlapped, M=64, K=256, N=32, 2-byte operands, 4-byte accumulators; ideal memory
  // (a load's DRAM side ends on the first edge); 16 contiguous banks of 32 KiB with 64 B ports.
  // One tile 64x256x32 (the fewest array cycles): WS folds F = ceil(256/32) ceil(32/32) = 8, T = M
  // = 64: 32 + 7 * 64 + 32 + 32 + 64 - 2 = 606 compute cycles.
  // SRAM traffic (sram_traffic.h): A 64x256x2 = 32768 B read once per column fold (1), B 16384 B
  // read once, C 64x32x4 = 8192 B written once per K fold (65536 B) and read back for the 7 later
  // folds (57344 B).
  // Buffers on bank boundaries: A0 bank 0, B0 bank 2, C0 bank 4 (each bank its own ports).
  // Loads: A into bank 0 at 64 B/cycle, 512 cycles; B 256: the GEMM starts at 512.
  // In SRAM: A read 512 cycles, B 256, C read 57344 / 64 = 896, C written 65536 / 64 = 1024, so the
  //   GEMM ends at 512 + 1024 = 1536 (418 cycles of SRAM-port stall beyond its 606). The store reads
  //   C (8192 B) from bank 4, whose read side is free since 512 + 896 = 1408: 1536 + 128 = 1664.
  // In 64 KiB of accumulators (ports of 32 x 4 = 128 B per cycle each way, the defaults): C read
  //   57344 / 128 = 448 and written 65536 / 128 = 512 cycles on the array's side, A still 512: all
  //   within the 606 compute cycles, the GEMM ends at 512 + 606 = 1118. The store reads C through
  //   the units' side, 8192 / 128 = 64 cycles: 1182.
  const std::string base = R"({"array": {"dataflow": "ws", "timing": "overlapped"}, "sram": {"port_bytes": 64})";
  SECTION("partial sums in SRAM") {
    const HwConfig hw = make_hw(base + "}");
    REQUIRE(lower_gemm(hw, {64, 256, 32}).summary.find("tiles 64x256x32") != std::string::npos);
    Json r = run_gemm(hw, 64, 256, 32);
    CHECK(r["cycles"] == 1664);
    CHECK(r["array"]["busy_cycles"] == 606);
    CHECK(r["array_stall_cycles"]["sram_port"] == 418);
    CHECK(r["sram"]["banks"][4]["written_bytes"] == 65536);
    CHECK(r["sram"]["banks"][4]["read_bytes"] == 57344 + 8192);
    CHECK_FALSE(r.contains("accumulators"));
  }
  SECTION("partial sums in accumulator storage") {
    const HwConfig hw = make_hw(base + R"(, "accumulators": {"bytes": 65536}})");
    const TileProgram p = lower_gemm(hw, {64, 256, 32});
    INFO(p.summary);
    REQUIRE(p.summary.find("tiles 64x256x32") != std::string::npos);
    REQUIRE(p.summary.find("C in accumulators") != std::string::npos);
    Json r = run_gemm(hw, 64, 256, 32);
    CHECK(r["cycles"] == 1182);
    CHECK(r["array"]["busy_cycles"] == 606);
    CHECK(r["array_stall_cycles"]["sram_port"] == 0);
    for (const Json& b : r["sram"]["banks"]) CHECK(b["written_bytes"].get<std::uint64_t>() <= 32768);  // loads only
    CHECK(r["accumulators"]["array_written_bytes"] == 65536);
    CHECK(r["accumulators"]["array_read_bytes"] == 57344);
    CHECK(r["accumulators"]["unit_read_bytes"] == 8192);
    CHECK(r["accumulators"]["high_water_bytes"] == 2 * 8192);
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
