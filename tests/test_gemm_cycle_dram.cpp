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
