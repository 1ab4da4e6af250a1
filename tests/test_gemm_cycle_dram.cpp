// GEMMs on the accelerator with the cycle-accurate DRAM controller behind the DMA: every byte the
// tile program moves reaches DRAM, and the independent timing checker finds no violation in the
// command trace of a whole accelerator run, on every DRAM preset.
#include <catch2/catch.hpp>

#include "compiler/gemm_lowering.h"
#include "hw/accelerator.h"
#include "hw/dram/cycle_dram.h"
#include "config/dram_spec.h"
#include "hw/dram/timing_checker.h"
#include "support/isolated.h"

using namespace attnsim;
using attnsim::test::run_isolated;

TEST_CASE("a GEMM over the cycle-accurate DRAM moves exactly the program's bytes, with legal timing", "[gemm][dram]") {
  for (const char* preset : {"ddr4-3200", "lpddr4-4266", "hbm2", "hbm3", "ddr5-4800", "lpddr5-6400", "gddr6-16000"}) {
    INFO(preset);
    auto r = run_isolated([&] {
      Json doc = parse_json_text(R"({
        "array": {"rows": 16, "cols": 16, "dataflow": "ws", "timing": "overlapped", "clock_mhz": 1000, "operand_bytes": 2},
        "sram": {"banks": 8, "bytes_per_bank": 8192, "port_bytes": 64}, "dram": {"model": "cycle"}})",
                                 "test");
      doc["dram"]["preset"] = preset;
      HwConfig hw = parse_hw_config(doc, "test");
      const GemmDims d{200, 96, 130};
      TileProgram p = lower_gemm(hw, d);
      std::uint64_t loaded = 0, stored = 0;
      for (const Instr& in : p.instrs) {
        if (in.op == Opcode::Load) loaded += in.bytes();
        if (in.op == Opcode::Store) stored += in.bytes();
      }
      init_sim_time();
      const ProgramSource src = ProgramSource::of(p);
      Accelerator acc("acc", hw, src);
      auto& cycle = dynamic_cast<CycleDram&>(acc.dram());
      cycle.controller().record_commands(true);
      sc_core::sc_start();
      Diagnostics diag("test");
      const DramSpec spec = parse_cycle_dram(JsonView(&hw.dram.cycle_spec, "/dram", &diag));
      const auto trace = cycle.controller().command_trace();
      const auto violations = check_command_trace(spec, trace);
      Json out = {{"finished", acc.finished()},
                  {"violations", violations.size()},
                  {"commands", trace.size()},
                  {"read_ok", acc.dram().bytes_read() == loaded},
                  {"written_ok", acc.dram().bytes_written() == stored},
                  {"macs", acc.stats().macs}};
      return out.dump();
    });
    INFO(r.output);
    REQUIRE(r.exit_status == 0);
    Json o = Json::parse(r.output);
    CHECK(o["finished"] == true);
    CHECK(o["violations"] == 0);
    CHECK(o["commands"].get<int>() > 0);
    CHECK(o["read_ok"] == true);
    CHECK(o["written_ok"] == true);
    CHECK(o["macs"] == 200 * 96 * 130);
  }
}

TEST_CASE("on HBM2 the GEMM mapper reads a decode step's weights in runs long enough to keep the rows busy",
          "[gemm][dram][mapper]") {
  // Llama-2-7B's gate and up projections in a decode step of 8 sequences on cloud with HBM2:
  // 8 x 4096 x 22016 fp16. B (4096 x 22016, row-major) is read in runs of tn x 2 B at a stride of
  // 44,032 B. HBM2's mapping (RoBaRaCoCh) keeps a bank's row within an aligned 16 KiB block, spread over
  // the 8 channels in 64 B granules, so a run shorter than that opens a row on every channel it covers.
  // A rank opens one row per max(tFAW / 4, tRRD_S) = 7.5 ns: with tn = 256 each 512 B run costs 7.5 ns,
  // at most 512 B / 7.5 ns = 68.3 GB/s of the 256, so B's 180.4 MB take at least 2.64 ms = 2.48 M
  // cycles at cloud's 940 MHz. Runs of 2 KiB (tn = 1024) lift that bound to 273 GB/s, above the peak.
  std::string source;
  Json doc = read_hw_document("cloud", &source);
  doc["dram"] = {{"model", "cycle"}, {"preset", "hbm2"}};
  const HwConfig hw = parse_hw_config(doc, source);
  const GemmDims d{8, 4096, 22016};
  const GemmTiling pick = choose_gemm_tiling(hw, d);
  CHECK(pick.tn * 2 >= 2048);
  GemmTiling narrow = pick;  // the pick with B's runs of 512 B (the mapper's pick before it saw rows)
  narrow.tk = 1024, narrow.tn = 256;
  auto simulated = [&](const GemmTiling& t) {
    const auto s = run_isolated([&] { return std::to_string(simulate(hw, lower_gemm(hw, d, t)).stats.cycles); });
    REQUIRE(s.exit_status == 0);
    return std::stoll(s.output);
  };
  const std::int64_t narrow_cycles = simulated(narrow), pick_cycles = simulated(pick);
  INFO("pick " << pick.tm << "x" << pick.tk << "x" << pick.tn << ": " << pick_cycles << " cycles; narrow: " << narrow_cycles);
  CHECK(double(narrow_cycles) >= 0.95 * 2.48e6);  // the activation bound, derived above
  CHECK(double(pick_cycles) <= 0.75 * double(narrow_cycles));
}
