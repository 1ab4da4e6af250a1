// The vector and softmax units inside the whole accelerator: the instruction window streams
// programs longer than itself, and units that share a bank's ports take turns on it. Cycle counts
// are derived by hand in the comments.
#include <catch2/catch.hpp>

#include "compiler/emitter.h"
#include "hw/accelerator.h"
#include "support/isolated.h"

using namespace attnsim;
using attnsim::test::run_isolated;

namespace {

HwConfig unit_hw(int port_bytes) {
  Json doc = {{"array", {{"rows", 8}, {"cols", 8}, {"clock_mhz", 1000}, {"operand_bytes", 2}}},
              {"sram", {{"banks", 4}, {"bytes_per_bank", 65536}, {"port_bytes", port_bytes}}},
              {"dram", {{"model", "ideal"}, {"bytes_per_cycle", 64}}},
              {"vector", {{"lanes", 8}, {"latency_cycles", 4}}},
              {"softmax", {{"lanes", 64}, {"latency_cycles", 4}}}};
  return parse_hw_config(doc, "test");
}

// Simulates a generated program in a forked child; returns "cycles conflicts instrs".
std::string simulate_cycles(const HwConfig& hw, std::function<void(ProgramSink&)> gen) {
  auto r = run_isolated([&] {
    ProgramSource src;
    src.summary = "test";
    src.generate = gen;
    SimOutcome o = simulate(hw, src);
    return std::to_string(o.stats.cycles) + " " + std::to_string(o.stats.bank_queueing_cycles) + " " +
           std::to_string(o.stats.instrs);
  });
  REQUIRE(r.exit_status == 0);
  return r.output;
}

}  // namespace

TEST_CASE("programs longer than the instruction window stream through it", "[units][accelerator]") {
  // 50,000 independent VECTOR Scale ops on 8 x 8 fp16 tiles, three times the window. Each is
  // latency 4 + ceil(64 / 8 lanes) * mul cost 1 = 12 cycles; its 128 B read and 128 B write need
  // 2 port cycles at 64 B/cycle, inside the 12. The vector unit runs them back to back from cycle 0:
  // 50,000 * 12 = 600,000 cycles.
  const std::uint32_t count = 50000;
  REQUIRE(count > 3 * Accelerator::kWindow);
  const HwConfig hw = unit_hw(64);
  const std::string out = simulate_cycles(hw, [count](ProgramSink& sink) {
    Instr in;
    in.op = Opcode::Vector;
    in.sub = std::uint8_t(VecOp::Scale);
    in.a = tile_at(0, 8, 8, 2);
    in.c = tile_at(65536, 8, 8, 2);
    in.imm = 2.f;
    for (std::uint32_t i = 0; i < count; ++i) sink.add(in);
  });
  CHECK(out == "600000 0 50000");
}

TEST_CASE("units sharing a bank's ports take turns; on separate banks they run in parallel", "[units][accelerator]") {
  // A SOFTMAX Rescale (softmax unit) and a VECTOR Scale (vector unit) each read and write a 64 x 64
  // fp32 tile (16,384 B) and start at cycle 0. Ports move 8 B per cycle per bank and side, so each
  // alone needs 16,384 / 8 = 2,048 cycles of its bank's read side and as many of its write side,
  // far more than its compute (softmax: 4 + 4096 / 64 = 68; vector: 4 + 4096 / 8 = 516).
  // The Rescale's stats tile (64 x 3 fp32) sits in bank 3 and reads 768 B: 96 cycles there.
  // Separate banks (tiles in banks 0 and 1): both finish at 2,048; nobody waits.
  // One bank (both tiles in bank 0): the second in line queues behind the first on both sides:
  // it is done at 2,048 + 2,048 = 4,096, and waited 2,048 cycles on the read side and 2,048 on
  // the write side: 4,096 cycles of bank conflicts.
  const HwConfig hw = unit_hw(8);
  auto program = [](std::uint64_t vector_tile_addr) {
    return [vector_tile_addr](ProgramSink& sink) {
      Instr sm;
      sm.op = Opcode::Softmax;
      sm.sub = std::uint8_t(SmOp::Rescale);
      sm.b = tile_at(3 * 65536, 64, 3, 4);
      sm.c = tile_at(0, 64, 64, 4);
      sink.add(sm);
      Instr v;
      v.op = Opcode::Vector;
      v.sub = std::uint8_t(VecOp::Scale);
      v.a = tile_at(vector_tile_addr, 64, 64, 4);
      v.c = tile_at(vector_tile_addr, 64, 64, 4);
      v.imm = 0.5f;
      sink.add(v);
    };
  };
  CHECK(simulate_cycles(hw, program(65536)) == "2048 0 2");
  CHECK(simulate_cycles(hw, program(16384)) == "4096 4096 2");
}

TEST_CASE("the array waiting for a VECTOR instruction is a vector-unit stall, not a dependency", "[units][accelerator]") {
  // A VECTOR Scale on an 8 x 8 fp16 tile (latency 4 + ceil(64 / 8 lanes) x mul cost 1 = 12 cycles,
  // from cycle 0, as above), then an 8 x 8 x 8 GEMM on its output: the array is idle until the
  // Scale finishes, 12 cycles, all charged to the vector unit. A second GEMM that waits for the
  // first keeps the array busy, so nothing more is charged.
  const HwConfig hw = unit_hw(64);
  auto r = run_isolated([&] {
    ProgramSource src;
    src.summary = "test";
    src.generate = [](ProgramSink& sink) {
      std::vector<TensorInfo> none;
      Emitter e(sink, none);
      const std::uint32_t v = e.vector(VecOp::Scale, tile_at(0, 8, 8, 2), {}, tile_at(65536, 8, 8, 2), {}, 2.f);
      const std::uint32_t g = e.gemm(tile_at(65536, 8, 8, 2), tile_at(2 * 65536, 8, 8, 2),
                                     tile_at(3 * 65536, 8, 8, 4), false, false, {v});
      e.gemm(tile_at(65536, 8, 8, 2), tile_at(2 * 65536, 8, 8, 2), tile_at(3 * 65536, 8, 8, 4), true, false, {g});
    };
    SimOutcome o = simulate(hw, src);
    const fs_t period = hw.array.period_fs();
    return std::to_string(o.stats.stall_vector_fs / period) + " " + std::to_string(o.stats.stall_dependency_fs / period) +
           " " + std::to_string(o.stats.stall_softmax_fs / period);
  });
  REQUIRE(r.exit_status == 0);
  CHECK(r.output == "12 0 0");
}
