// No silent hang: the accelerator's and the DRAM controller's watchdogs stop a run that cannot make
// progress with an internal error naming what is stuck; DRAM validation refuses a refresh interval
// too short to serve a request between refreshes, and accepts the shortest one that can; a run whose
// time would overflow stops with a user error, even from inside a simulation thread.
#include <catch2/catch.hpp>

#include "common/errors.h"
#include "compiler/emitter.h"
#include "config/hw_config.h"
#include "hw/accelerator.h"
#include "hw/dram/dram_replay.h"
#include "support/cli.h"
#include "support/isolated.h"
#include "test_dram_support.h"

using namespace attnsim;
using namespace attnsim::test;

namespace {

HwConfig small_hw(const Json& dram) {
  Json doc = {{"array", {{"rows", 8}, {"cols", 8}, {"clock_mhz", 1000}, {"operand_bytes", 2}}},
              {"sram", {{"banks", 4}, {"bytes_per_bank", 65536}, {"port_bytes", 64}}},
              {"dram", dram}};
  return parse_hw_config(doc, "test");
}

// Simulates gen in a child; returns "ok CYCLES" or the exception's kind and message.
std::string simulate_outcome(const HwConfig& hw, std::function<void(ProgramSink&)> gen) {
  auto r = run_isolated([&]() -> std::string {
    ProgramSource src;
    src.summary = "test";
    src.generate = gen;
    try {
      return "ok " + std::to_string(simulate(hw, src).stats.cycles);
    } catch (const UserError& e) {
      return std::string("user error: ") + e.what();
    } catch (const InternalError& e) {
      return std::string("internal error: ") + e.what();
    }
  });
  REQUIRE(r.exit_status == 0);
  return r.output;
}

Instr vector_op(std::uint64_t addr) {
  Instr in;
  in.op = Opcode::Vector;
  in.sub = std::uint8_t(VecOp::Scale);
  in.a = tile_at(addr, 8, 8, 2);
  in.c = tile_at(addr, 8, 8, 2);
  in.imm = 2.f;
  return in;
}

}  // namespace

TEST_CASE("watchdog: a dependency that can never be met stops the run naming the stuck units", "[watchdog]") {
  // Instruction 0 (a VECTOR) waits for instruction 1 (a GEMM), which waits for 0: nothing can start.
  // Ideal DRAM, 64 B/cycle, 4 x 64 KiB SRAM: the bound is 2 x ((2 x 64 outstanding + 1) x
  // ceil(262,144 / 64) + 0 latency) + 10^4 = 2 x 129 x 4,096 + 10,000 = 1,066,768 cycles.
  const HwConfig hw = small_hw({{"model", "ideal"}, {"bytes_per_cycle", 64}});
  const std::string out = simulate_outcome(hw, [](ProgramSink& sink) {
    Instr v = vector_op(0);
    v.num_deps = 1, v.deps[0] = 1;
    sink.add(v);
    Instr g;
    g.op = Opcode::Gemm;
    g.m = g.k = g.n = 8;
    g.a = tile_at(65536, 8, 8, 2), g.b = tile_at(2 * 65536, 8, 8, 2), g.c = tile_at(3 * 65536, 8, 8, 4);
    g.num_deps = 1, g.deps[0] = 0;
    sink.add(g);
  });
  CHECK_THAT(out, Catch::StartsWith("internal error: "));
  CHECK_THAT(out, Catch::Contains("watchdog: no instruction completed"));
  CHECK_THAT(out, Catch::Contains("for 1066768 cycles"));
  CHECK_THAT(out, Catch::Contains("stuck: array at instruction 1 GEMM waiting for 0 VECTOR"));
  CHECK_THAT(out, Catch::Contains("stuck: vector unit at instruction 0 VECTOR waiting for 1 GEMM"));
}

TEST_CASE("watchdog: a finished run ends when its last instruction does, not at the watchdog's wake", "[watchdog]") {
  // 10 independent VECTOR Scale ops, 8 x 8 fp16 on 8 lanes (the vector unit defaults to the array's
  // 8 columns): latency 4 + ceil(64 / 8) x 1 = 12 cycles each, back to back: 120 cycles.
  const HwConfig hw = small_hw({{"model", "ideal"}, {"bytes_per_cycle", 64}});
  CHECK(simulate_outcome(hw, [](ProgramSink& sink) {
          for (int i = 0; i < 10; ++i) sink.add(vector_op(0));
        }) == "ok 120");
  CHECK(simulate_outcome(hw, [](ProgramSink&) {}) == "ok 0");
}

TEST_CASE("DRAM watchdog: refresh starving every request stops the replay naming the oldest request",
          "[watchdog][dram]") {
  // DDR4-3200 with tREFI 500, set past validation: shorter than tRFC (560), so from the first REF
  // (due at cycle 500) a refresh is always pending on the rank and no ACT may ever issue. The
  // requests arrive at cycles 600 and 601, after it.
  DramSpec spec = dram_spec("ddr4-3200");
  spec.t.tREFI = 500;
  auto r = run_isolated([&]() -> std::string {
    try {
      run_replay(spec, {rd(0x40, 600), rd(0x80, 601)}, false);
      return "finished";
    } catch (const InternalError& e) {
      return e.what();
    }
  });
  REQUIRE(r.exit_status == 0);
  CHECK_THAT(r.output, Catch::Contains("DRAM watchdog: no request completed in"));
  CHECK_THAT(r.output, Catch::Contains("2 requests in flight"));
  CHECK_THAT(r.output, Catch::Contains("refresh pending on"));
  CHECK_THAT(r.output, Catch::Contains("oldest waiting request: READ 0x40"));
}

TEST_CASE("DRAM validation: the shortest tREFI that serves a request between refreshes", "[watchdog][dram]") {
  // DDR4-3200: tRFC 560 + tRP 22 + max(tRAS 52, tRCD 22 + tRTP 12, tRCD 22 + CWL 16 + BL/2 4 + tWR 24)
  // + tRCD 22 = 560 + 22 + 66 + 22 = 670 cycles.
  CHECK(dram_spec("ddr4-3200").min_refresh_interval() == 670);
  CHECK_THROWS_WITH(dram_spec("ddr4-3200", {{"timing", {{"tREFI", 670}}}}),
                    Catch::Contains("/timing/tREFI: must exceed") && Catch::Contains("= 670 cycles"));
  // tREFI 671 is accepted, and a mixed read/write trace with row conflicts completes under it with
  // no timing violation (the replay runs the independent checker).
  const DramSpec spec = dram_spec("ddr4-3200", {{"timing", {{"tREFI", 671}}}});
  std::vector<TraceRecord> trace;
  for (int i = 0; i < 200; ++i) {
    const std::uint64_t row = std::uint64_t(i % 7);
    trace.push_back(i % 3 ? rd(dram_addr(spec, i % 4, 0, std::int64_t(row), i % 16)) : wr(dram_addr(spec, 0, i % 4, std::int64_t(row), 1)));
  }
  const ReplayOutcome out = replay_checked(spec, trace);
  CHECK(out.violations == 0);
  CHECK(out.stats["requests"]["reads"].get<std::int64_t>() + out.stats["requests"]["writes"].get<std::int64_t>() == 200);
}

TEST_CASE("a run whose time would overflow stops with a user error from inside the simulation", "[watchdog][time]") {
  // A config built past validation at 1e-6 MHz: a period of 1e15 fs. The vector op's 12 cycles are
  // 1.2e16 fs, fine; 10,000 of them would reach 1.2e20 fs, past 2^63 - 1 = 9.2e18 fs: the 769th op
  // (769 x 12 x 1e15 = 9.228e18) would end beyond it.
  HwConfig hw = small_hw({{"model", "ideal"}, {"bytes_per_cycle", 64}});
  hw.array.clock_mhz = 1e-6;
  const std::string out = simulate_outcome(hw, [](ProgramSink& sink) {
    for (int i = 0; i < 10000; ++i) sink.add(vector_op(0));
  });
  CHECK_THAT(out, Catch::StartsWith("user error: simulated time would pass 2^63 - 1 fs"));
}

TEST_CASE("long runs print progress lines on stderr and the report does not change", "[watchdog][cli]") {
  // A progress line every 1,024 completed instructions at most, when the interval has passed; with a
  // 1 us interval, every 1,024 instructions. This GEMM has well over 1,024 tile instructions.
  const std::string args = "gemm --hw edge --m 2048 --k 512 --n 2048";
  const CliResult quiet = run_cli(args);
  const CliResult chatty = run_cli_env("ATTNSIM_PROGRESS_S=0.000001", args);
  REQUIRE(quiet.status == 0);
  REQUIRE(chatty.status == 0);
  CHECK(quiet.err.find("attnsim: simulating: cycle") == std::string::npos);
  CHECK_THAT(chatty.err, Catch::Contains("attnsim: simulating: cycle "));
  CHECK_THAT(chatty.err, Catch::Contains(" instructions done, "));
  CHECK(quiet.out == chatty.out);
}
