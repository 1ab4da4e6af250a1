// DRAM energy from the cycle-accurate controller (report/dram_energy.h): one small command sequence priced
// by hand, the counts the energy uses against the controller's command trace, whole runs through the report
// (components, per-byte fallback), and bad "power" sections of a device file.
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <tuple>

#include "common/errors.h"
#include "compiler/gemm_lowering.h"
#include "hw/accelerator.h"
#include "hw/dram/dram_channel.h"
#include "report/dram_energy.h"
#include "report/energy.h"
#include "report/report.h"
#include "test_dram_support.h"

using namespace attnsim;
using namespace attnsim::test;

TEST_CASE("dram energy: a small command sequence on DDR4-3200 priced by hand", "[energy][dram]") {
  // DDR4-3200 preset: 1 channel, 1 rank of 8 x8 devices, tCK 0.625 ns; VDD 1.2 V, IDD0 57, IDD2N 37, IDD3N 52,
  // IDD4R 168, IDD4W 150, IDD5B 250 mA; tRAS 52, tRC 74, BL/2 4, tRFC 560 cycles.
  // One mA for one cycle on the rank: 1.2 V x 0.625 ns x 8 devices = 6 pJ. So:
  //   ACT = 6 x (57 - 52) x 52 = 1,560 pJ          PRE = 6 x (57 - 37) x (74 - 52) = 2,640 pJ per bank
  //   RD  = 6 x (168 - 52) x 4 = 2,784 pJ          WR  = 6 x (150 - 52) x 4 = 2,352 pJ
  //   REF = 6 x (250 - 52) x 560 = 665,280 pJ
  //   active standby 6 x 52 = 312 pJ per cycle;    precharged standby 6 x 37 = 222 pJ per cycle.
  const DramSpec spec = dram_spec("ddr4-3200");
  const DramCommandEnergies e = dram_command_energies(spec);
  CHECK(e.act == Approx(1560.0).epsilon(1e-12));
  CHECK(e.pre == Approx(2640.0).epsilon(1e-12));
  CHECK(e.rd == Approx(2784.0).epsilon(1e-12));
  CHECK(e.wr == Approx(2352.0).epsilon(1e-12));
  CHECK(e.ref == Approx(665280.0).epsilon(1e-12));
  CHECK(e.active_standby_pj_per_cycle == Approx(312.0).epsilon(1e-12));
  CHECK(e.precharged_standby_pj_per_cycle == Approx(222.0).epsilon(1e-12));

  // The sequence (each command legal at its cycle):
  //   0 ACT g0b0, 22 RD g0b0, 52 PRE g0b0              rank active 0..52: 52 cycles
  //   74 ACT g0b0, 80 ACT g1b0, 102 WR g1b0, 200 PREA  active 74..200: 126 cycles; PREA closes 2 banks
  //   222 REF                                          refreshing 222..782: 560 cycles
  // Up to cycle 1000: 52 + 126 + 560 = 738 active rank cycles, 262 precharged.
  DramStats stats;
  DramChannel ch(spec, 0, &stats);
  const DramCommand ACT = DramCommand::ACT, PRE = DramCommand::PRE, PREA = DramCommand::PREA, RD = DramCommand::RD,
                    WR = DramCommand::WR, REF = DramCommand::REF;
  for (auto [cmd, g, row, cycle] : std::vector<std::tuple<DramCommand, int, std::int64_t, std::int64_t>>{
           {ACT, 0, 5, 0}, {RD, 0, 5, 22}, {PRE, 0, -1, 52}, {ACT, 0, 6, 74}, {ACT, 1, 7, 80}, {WR, 1, 7, 102},
           {PREA, 0, -1, 200}, {REF, 0, -1, 222}}) {
    INFO(to_string(cmd) << " at " << cycle);
    REQUIRE(ch.can_issue(cmd, 0, g, 0, cycle));
    ch.issue(cmd, 0, g, 0, row, cycle, cmd == RD || cmd == WR ? 0 : -1);
  }
  CHECK(ch.active_rank_cycles(1000) == 738);
  CHECK(ch.active_rank_cycles(600) == 52 + 126 + (600 - 222));  // the refresh runs past the end
  stats.rank_active_cycles = std::uint64_t(ch.active_rank_cycles(1000));
  const DramCommandCounts c = dram_command_counts(stats.to_json(spec, 1000));
  REQUIRE(c.present);
  CHECK(c.act == 3);
  CHECK(c.pre == 1);
  CHECK(c.prea == 1);
  CHECK(c.prea_banks_closed == 2);
  CHECK(c.rd == 1);
  CHECK(c.wr == 1);
  CHECK(c.ref == 1);
  CHECK(c.active_rank_cycles == 738);
  CHECK(c.precharged_rank_cycles == 262);
  // dynamic    = 3 x 1,560 + (1 + 2) x 2,640 + 2,784 + 2,352 + 665,280 = 683,016 pJ
  // background = 738 x 312 + 262 x 222 = 230,256 + 58,164 = 288,420 pJ
  const DramEnergy d = dram_energy(e, c);
  CHECK(d.dynamic == Approx(683016.0).epsilon(1e-12));
  CHECK(d.background == Approx(288420.0).epsilon(1e-12));

  // A bank still open at the end is active up to the end.
  DramStats s2;
  DramChannel open(spec, 0, &s2);
  open.issue(ACT, 0, 0, 0, 1, 10);
  CHECK(open.active_rank_cycles(100) == 90);
}

TEST_CASE("dram energy: the counts priced are the controller's command trace", "[energy][dram]") {
  // A random read/write stream over two channels of HBM2, long enough for refreshes with banks open.
  const DramSpec spec = dram_spec("hbm2", {{"channels", 2}});
  std::mt19937_64 rng(7);
  std::vector<TraceRecord> trace;
  for (int i = 0; i < 3000; ++i) {
    const std::uint64_t addr = dram_addr(spec, int(rng() % 4), int(rng() % 4), std::int64_t(rng() % 8),
                                         int(rng() % 32) * spec.burst_length, int(rng() % 2));
    trace.push_back(TraceRecord{addr, rng() % 3 == 0, std::int64_t(i) * 3});
  }
  const ReplayOutcome o = replay_checked(spec, trace);
  REQUIRE(o.violations == 0);
  // From the trace: commands by kind, the banks each PREA found open, and each rank's active time (a bank
  // open, or a REF's tRFC), up to the run's end.
  std::map<DramCommand, std::uint64_t> n;
  std::uint64_t prea_closed = 0;
  std::int64_t active = 0;
  std::map<std::pair<int, int>, std::map<std::pair<int, int>, bool>> open;  // (channel, rank) -> bank -> open
  std::map<std::pair<int, int>, std::int64_t> since;
  for (const CommandRecord& r : o.commands) {
    ++n[r.cmd];
    auto& banks = open[{r.channel, r.rank}];
    auto count_open = [&] {
      int k = 0;
      for (auto& [b, is_open] : banks) k += is_open;
      return k;
    };
    const int before = count_open();
    if (r.cmd == DramCommand::ACT) banks[{r.bank_group, r.bank}] = true;
    if (r.cmd == DramCommand::PRE) banks[{r.bank_group, r.bank}] = false;
    if (r.cmd == DramCommand::PREA) {
      prea_closed += std::uint64_t(before);
      banks.clear();
    }
    if (r.cmd == DramCommand::REF) active += std::min<std::int64_t>(spec.t.tRFC, o.cycles - r.cycle);
    const int after = count_open();
    if (before == 0 && after > 0) since[{r.channel, r.rank}] = r.cycle;
    if (before > 0 && after == 0) active += r.cycle - since[{r.channel, r.rank}];
  }
  for (auto& [key, banks] : open) {
    int k = 0;
    for (auto& [b, is_open] : banks) k += is_open;
    if (k > 0) active += o.cycles - since[key];
  }
  REQUIRE(n[DramCommand::REF] > 0);
  REQUIRE(prea_closed > 0);
  const DramCommandCounts c = dram_command_counts(o.stats);
  REQUIRE(c.present);
  CHECK(c.act == n[DramCommand::ACT]);
  CHECK(c.pre == n[DramCommand::PRE]);
  CHECK(c.prea == n[DramCommand::PREA]);
  CHECK(c.rd == n[DramCommand::RD]);
  CHECK(c.wr == n[DramCommand::WR]);
  CHECK(c.ref == n[DramCommand::REF]);
  CHECK(c.prea_banks_closed == prea_closed);
  CHECK(c.active_rank_cycles == std::uint64_t(active));
  CHECK(c.active_rank_cycles + c.precharged_rank_cycles == std::uint64_t(o.cycles) * 2);  // 2 channels x 1 rank
  // Every request is one burst: one RD or WR each.
  std::uint64_t writes = 0;
  for (const TraceRecord& t : trace) writes += t.is_write;
  CHECK(c.rd == 3000 - writes);
  CHECK(c.wr == writes);
}

TEST_CASE("dram energy: power-down and self-refresh residency priced by hand", "[energy][dram][power]") {
  // DDR4-3200: one mA for one cycle on the rank is 1.2 V x 0.625 ns x 8 devices = 6 pJ (above). Per rank cycle:
  //   active standby IDD3N 52: 312 pJ      precharged standby IDD2N 37: 222 pJ
  //   active power-down IDD3P 43: 258 pJ   precharged power-down IDD2P 25: 150 pJ   self-refresh IDD6 30: 180 pJ
  // (DRAMSim3's DDR4_8Gb_x8_3200.ini: IDD2P 25, IDD3P 43, IDD6x 30.)
  const DramCommandEnergies e = dram_command_energies(dram_spec("ddr4-3200"));
  CHECK(e.active_power_down_pj_per_cycle == Approx(258.0).epsilon(1e-12));
  CHECK(e.precharged_power_down_pj_per_cycle == Approx(150.0).epsilon(1e-12));
  CHECK(e.self_refresh_pj_per_cycle == Approx(180.0).epsilon(1e-12));
  // The priced residencies (active + refreshing, precharged standby, active and precharged power-down,
  // self-refresh) and the energies of a replay that ends at `cycles`.
  auto check_priced = [&](const ReplayOutcome& o, std::int64_t cycles, std::array<std::uint64_t, 5> want,
                          double background, double dynamic) {
    REQUIRE(o.violations == 0);
    REQUIRE(o.cycles == cycles);
    const DramCommandCounts c = dram_command_counts(o.stats);
    CHECK(c.active_rank_cycles == want[0]);
    CHECK(c.precharged_rank_cycles == want[1]);
    CHECK(c.active_power_down_rank_cycles == want[2]);
    CHECK(c.precharged_power_down_rank_cycles == want[3]);
    CHECK(c.self_refresh_rank_cycles == want[4]);
    const DramEnergy d = dram_energy(e, c);
    CHECK(d.background == Approx(background).epsilon(1e-12));
    CHECK(d.dynamic == Approx(dynamic).epsilon(1e-12));
  };

  SECTION("self-refresh: the timeline of test_dram_power's second case") {
    // ACT 1, RD 23, PDE 123, PDX 1023, PREA 1033 (1 bank), SRE 1055, SRX 5000, ACT 5576, RD 5598, end 5624.
    // States: active standby 180, precharged standby 599, active power-down 900, self-refresh 3945; no REF, so
    // the controller's active rank cycles (a bank open: [1, 1033) + [5576, 5624) = 1080) are 180 + 900.
    //   background = 180 x 312 + 599 x 222 + 900 x 258 + 3945 x 180
    //              = 56,160 + 132,978 + 232,200 + 710,100 = 1,131,438 pJ
    //   dynamic    = 2 ACT x 1,560 + 1 bank x 2,640 + 2 RD x 2,784 = 11,328 pJ
    // (priced as standby, as before: 1080 x 312 + 4544 x 222 = 1,345,728 pJ of background.)
    const DramSpec s = dram_spec("ddr4-3200", {{"power_down", {{"policy", "idle_cycles"}, {"after_cycles", 100}}},
                                               {"self_refresh", {{"policy", "idle_cycles"}, {"after_cycles", 1000}}}});
    const auto o = replay_checked(s, {rd(dram_addr(s, 0, 0, 1, 0), 0), rd(dram_addr(s, 0, 0, 2, 0), 5000)});
    check_priced(o, 5624, {180, 599, 900, 0, 3945}, 1131438.0, 11328.0);
  }
  SECTION("a refresh that wakes a powered-down rank: test_dram_power's third case") {
    // ACT 1, RD 23, PDE 123, PDX 12480, PREA 12490 (1 bank), REF 12512 (tRFC 560: to 13072), PDE 12513,
    // PDX 20000, ACT 20010, RD 20032, end 20058. States: precharged standby [0,1) + [12490,12513) +
    // [20000,20010) = 34; active standby [1,123) + [12480,12490) + [20010,20058) = 180; active power-down
    // [123,12480) = 12357; precharged power-down [12513,20000) = 7487. The controller's active rank cycles:
    // a bank open [1,12490) + [20010,20058) = 12537, and the REF's 560: 13097. Refresh cycles R = 13097 -
    // (180 + 12357) = 560, at IDD3N: out of precharged standby (34) first, then precharged power-down (526).
    //   priced: active 180 + 560 = 740, precharged standby 0, active power-down 12357, precharged power-down
    //   7487 - 526 = 6961 (sum 20058, the run's rank cycles).
    //   background = 740 x 312 + 12357 x 258 + 6961 x 150 = 230,880 + 3,188,106 + 1,044,150 = 4,463,136 pJ
    //   dynamic    = 2 x 1,560 + 2,640 + 2 x 2,784 + REF 665,280 = 676,608 pJ
    // (The refresh really overlaps 1 precharged-standby cycle and 559 power-down ones; the rule misprices
    // the other 33 standby cycles as power-down: 33 x (222 - 150) = 2,376 pJ, 0.05 % of the background.)
    const DramSpec s = dram_spec("ddr4-3200", {{"power_down", {{"policy", "idle_cycles"}, {"after_cycles", 100}}}});
    const auto o = replay_checked(s, {rd(dram_addr(s, 0, 0, 1, 0), 0), rd(dram_addr(s, 0, 0, 1, 1), 20000)});
    check_priced(o, 20058, {740, 0, 12357, 6961, 0}, 4463136.0, 676608.0);
  }
  SECTION("a device file without IDD2P, IDD3P, IDD6 prices those states as standby") {
    Json dev = parse_json_text(find_dram_preset("ddr4-3200"), "preset");
    for (const char* k : {"IDD2P", "IDD3P", "IDD6"}) dev["power"]["rails"][0].erase(k);
    const DramCommandEnergies old = dram_command_energies(parse_dram_device(dev, "test"));
    CHECK(old.active_power_down_pj_per_cycle == old.active_standby_pj_per_cycle);        // 312
    CHECK(old.precharged_power_down_pj_per_cycle == old.precharged_standby_pj_per_cycle);  // 222
    CHECK(old.self_refresh_pj_per_cycle == old.precharged_standby_pj_per_cycle);
  }
}

namespace {

// A 64^3 GEMM on the small 32x32 accelerator of test_energy.cpp, its DRAM the given cycle preset.
Json run_gemm_on(const std::string& preset) {
  Json doc = parse_json_text(R"({
    "array": {"rows": 32, "cols": 32, "dataflow": "os", "timing": "scalesim", "clock_mhz": 1000, "operand_bytes": 2},
    "sram": {"banks": 1, "bytes_per_bank": 131072, "port_bytes": 64},
    "dram": {"model": "cycle", "preset": "PRESET"},
    "dma": {"outstanding": 64}
  })",
                             "test");
  doc["dram"]["preset"] = preset;
  const HwConfig hw = parse_hw_config(doc, "test");
  auto r = run_isolated([&] {
    TileProgram p = lower_gemm(hw, {64, 64, 64});
    SimOutcome o = simulate(hw, p);
    return make_report(hw, {{"kind", "gemm"}, {"m", 64}, {"k", 64}, {"n", 64}}, p, o).dump();
  });
  INFO(r.output);
  REQUIRE(r.exit_status == 0);
  return Json::parse(r.output);
}

}  // namespace

TEST_CASE("dram energy: whole runs price the controller's commands, or bytes for a device without currents",
          "[energy][dram]") {
  SECTION("DDR4-3200: commands and standby") {
    const Json r = run_gemm_on("ddr4-3200");
    const Json& e = r["energy"];
    const Json& a = e["actions"];
    const Json& stats = r["dram"]["model_stats"];
    CHECK(e["dram_energy_model"] == "commands");
    CHECK(a["dram_commands"] == stats["commands"]);
    CHECK(a["dram_banks_closed_by_PREA"] == stats["banks_closed_by_PREA"]);
    // Every rank cycle of the run is in one state or the other.
    CHECK(a["dram_active_standby_rank_cycles"].get<std::uint64_t>() +
              a["dram_precharged_standby_rank_cycles"].get<std::uint64_t>() ==
          stats["cycles"].get<std::uint64_t>());
    // 24,576 B in 64 B bursts: 256 RD (A and B) and 128 WR (C).
    CHECK(a["dram_commands"]["RD"] == 256);
    CHECK(a["dram_commands"]["WR"] == 128);
    // Recomputed from the report alone: counts x per-command energies, rank cycles x standby power.
    const Json& pj = e["per_action_pj"];
    const Json& cmd = a["dram_commands"];
    const double dynamic = cmd["ACT"].get<double>() * pj["dram_act"].get<double>() +
                           (cmd["PRE"].get<double>() + a["dram_banks_closed_by_PREA"].get<double>()) *
                               pj["dram_pre_per_bank"].get<double>() +
                           cmd["RD"].get<double>() * pj["dram_rd"].get<double>() +
                           cmd["WR"].get<double>() * pj["dram_wr"].get<double>() +
                           cmd["REF"].get<double>() * pj["dram_ref"].get<double>();
    double background = 0;
    for (const char* state : {"active_standby", "precharged_standby", "active_power_down", "precharged_power_down",
                              "self_refresh"})
      background += a[std::string("dram_") + state + "_rank_cycles"].get<double>() *
                    pj[std::string("dram_") + state + "_per_rank_cycle"].get<double>();
    CHECK(e["dram_components_pj"]["dynamic"].get<double>() == Approx(dynamic).epsilon(1e-12));
    CHECK(e["dram_components_pj"]["background"].get<double>() == Approx(background).epsilon(1e-12));
    CHECK(background > 0);
    // The parts sum to the DRAM component exactly, and the components to the total.
    const Json& comp = e["components_pj"];
    CHECK(e["dram_components_pj"]["dynamic"].get<double>() + e["dram_components_pj"]["background"].get<double>() ==
          comp["dram"].get<double>());
    double sum = 0;
    for (const char* k : {"array", "sram", "vector", "softmax", "datapath", "dma", "dram", "leakage"})
      sum += comp[k].get<double>();
    CHECK(sum == e["total_pj"].get<double>());
  }
  SECTION("HBM3: its derived currents price the commands (configs/dram/hbm3.json)") {
    // 1.1 V x 0.3125 ns x 1 device = 0.34375 pJ per mA-cycle. RD = 0.34375 x (282 - 13.75) x 4 = 368.84375 pJ
    // per 32 B burst; active standby 0.34375 x 13.75 = 4.7265625 pJ per cycle.
    const Json r = run_gemm_on("hbm3");
    const Json& e = r["energy"];
    CHECK(e["dram_energy_model"] == "commands");
    CHECK(e["dram_technology"] == "hbm3");
    CHECK(e["per_action_pj"]["dram_rd"].get<double>() == Approx(368.84375).epsilon(1e-12));
    CHECK(e["per_action_pj"]["dram_active_standby_per_rank_cycle"].get<double>() ==
          Approx(4.7265625).epsilon(1e-12));
    CHECK(e["dram_components_pj"]["background"].get<double>() > 0);
  }
  SECTION("LPDDR5 and GDDR6: their currents price the commands (configs/dram/lpddr5-6400.json, gddr6-16000.json)") {
    for (const char* preset : {"lpddr5-6400", "gddr6-16000"}) {
      INFO(preset);
      const Json r = run_gemm_on(preset);
      const Json& e = r["energy"];
      CHECK(e["dram_energy_model"] == "commands");
      CHECK(e["dram_components_pj"]["background"].get<double>() > 0);
      CHECK(e["dram_components_pj"]["dynamic"].get<double>() > 0);
    }
  }
  SECTION("a device file without currents (per_byte_fallback) is priced per byte") {
    // LPDDR5-6400's timing with {"per_byte_fallback": true}: a file path names no technology, so the 45 nm
    // table's ddr4 figure, 102.4 pJ/B, with no background term.
    Json dev = parse_json_text(find_dram_preset("lpddr5-6400"), "preset");
    dev["power"] = Json{{"per_byte_fallback", true}, {"source", "test: no currents"}};
    const std::string path = "/tmp/attnsim_test_dram_fallback_" + std::to_string(getpid()) + ".json";
    std::ofstream(path) << dev.dump();
    const Json r = run_gemm_on(path);
    std::remove(path.c_str());
    const Json& a = r["energy"]["actions"];
    const double bytes = a["dram_read_bytes"].get<double>() + a["dram_written_bytes"].get<double>();
    CHECK(r["energy"]["dram_energy_model"] == "per_byte");
    CHECK(bytes == 24576);
    CHECK(r["energy"]["components_pj"]["dram"].get<double>() == Approx(bytes * 102.4).epsilon(1e-12));
  }
}

// A device's command and per-cycle energies against figures derived by hand, in DramCommandEnergies'
// order: ACT, PRE, RD, WR, REF; standby active, precharged; power-down precharged, active; self-refresh.
static void check_command_energies(const DramSpec& spec, const std::array<double, 10>& want) {
  const DramCommandEnergies e = dram_command_energies(spec);
  const double got[10] = {e.act, e.pre, e.rd, e.wr, e.ref, e.active_standby_pj_per_cycle,
                          e.precharged_standby_pj_per_cycle, e.precharged_power_down_pj_per_cycle,
                          e.active_power_down_pj_per_cycle, e.self_refresh_pj_per_cycle};
  for (int i = 0; i < 10; ++i) CHECK(got[i] == Approx(want[std::size_t(i)]).epsilon(1e-12));
}

TEST_CASE("dram energy: LPDDR5 and GDDR6 command energies by hand", "[energy][dram]") {
  SECTION("LPDDR5-6400: two rails, tCK 0.3125 ns, one x16 channel per rank") {
    // VDD1 1.8 V: IDD0 3.5, IDD2N 2.0, IDD3N 2.25, IDD4R 2.25, IDD4W 2.25, IDD5B 10 mA;
    // VDD2H 1.05 V: IDD0 45, IDD2N 27, IDD3N 30, IDD4R 275, IDD4W 210, IDD5B 90 mA.
    // One mA-cycle: VDD1 1.8 x 0.3125 = 0.5625 pJ, VDD2H 1.05 x 0.3125 = 0.328125 pJ.
    // tRAS 135, tRC 192 (tRC - tRAS = 57), BL/2 = 8 clocks, tRFC 896.
    //   ACT = 0.5625 x 1.25 x 135 + 0.328125 x 15 x 135 = 94.921875 + 664.453125 = 759.375 pJ
    //   PRE = 0.5625 x 1.5 x 57 + 0.328125 x 18 x 57 = 48.09375 + 336.65625 = 384.75 pJ per bank
    //   RD  = 0.5625 x 0 x 8 + 0.328125 x 245 x 8 = 643.125 pJ per 32 B burst (20.1 pJ/B)
    //   WR  = 0.328125 x 180 x 8 = 472.5 pJ
    //   REF = 0.5625 x 7.75 x 896 + 0.328125 x 60 x 896 = 3,906 + 17,640 = 21,546 pJ
    //   active standby 0.5625 x 2.25 + 0.328125 x 30 = 11.109375 pJ per cycle,
    //   precharged standby 0.5625 x 2 + 0.328125 x 27 = 9.984375 pJ per cycle,
    //   precharged power-down 0.5625 x 1.2 + 0.328125 x 3 = 1.659375, active power-down
    //   0.5625 x 1.2 + 0.328125 x 9 = 3.628125, self-refresh 0.5625 x 0.3 + 0.328125 x 0.5 = 0.3328125.
    check_command_energies(dram_spec("lpddr5-6400"), {759.375, 384.75, 643.125, 472.5, 21546.0, 11.109375, 9.984375, 1.659375, 3.628125, 0.3328125});
  }
  SECTION("GDDR6-16000: one 1.35 V rail, tCK 0.125 ns, one x16 device-channel per rank") {
    // VDD 1.35 V: IDD0 71, IDD2N 60, IDD3N 61, IDD4R 248, IDD4W 231, IDD5B 286, IDD2P 45, IDD3P 50, IDD6 35 mA.
    // One mA-cycle: 1.35 x 0.125 = 0.16875 pJ. tRAS 256, tRC 384, BL/2 = 8 clocks, tRFC 2080.
    //   ACT = 0.16875 x (71 - 61) x 256 = 432 pJ          PRE = 0.16875 x (71 - 60) x 128 = 237.6 pJ
    //   RD  = 0.16875 x (248 - 61) x 8 = 252.45 pJ        WR  = 0.16875 x (231 - 61) x 8 = 229.5 pJ
    //   REF = 0.16875 x (286 - 61) x 2080 = 78,975 pJ
    //   standby: active 0.16875 x 61 = 10.29375, precharged 0.16875 x 60 = 10.125 pJ per cycle;
    //   power-down: active 0.16875 x 50 = 8.4375, precharged 0.16875 x 45 = 7.59375; self-refresh
    //   0.16875 x 35 = 5.90625 pJ per cycle.
    check_command_energies(dram_spec("gddr6-16000"), {432.0, 237.6, 252.45, 229.5, 78975.0, 10.29375, 10.125, 7.59375, 8.4375, 5.90625});
  }
}

TEST_CASE("dram energy: a device file's power section is checked by path", "[energy][dram][config]") {
  Json dev = parse_json_text(find_dram_preset("ddr4-3200"), "preset");
  dev["power"]["rails"][0]["IDD4R"] = 40;  // below IDD3N 52
  dev["power"]["rails"][0].erase("IDD5B");
  dev["power"].erase("source");
  const std::string path = "/tmp/attnsim_test_dram_energy_" + std::to_string(getpid()) + ".json";
  std::ofstream(path) << dev.dump();
  std::string msg;
  try {
    load_dram_spec(path);
  } catch (const UserError& e) {
    msg = e.what();
  }
  CHECK_THAT(msg, Catch::Contains("/power/rails/0/IDD4R") && Catch::Contains("IDD3N") &&
                      Catch::Contains("/power/rails/0/IDD5B") && Catch::Contains("/power/source"));
  std::remove(path.c_str());
}

TEST_CASE("dram energy: a per-bank refresh costs the all-bank REF's charge for the banks it refreshes", "[energy][dram]") {
  // HBM2 preset: tCK 1 ns, VDD 1.2 V, one device per channel: 1.2 pJ per mA-cycle. IDD5B 250, IDD3N 55 mA,
  // tRFC 260: REF = 1.2 x (250 - 55) x 260 = 60,840 pJ. 16 banks (4 groups x 4), one per REFPB: 60,840 / 16
  // = 3,802.5 pJ, so a round of 16 REFpb costs one REF.
  const DramSpec spec = dram_spec("hbm2");
  const DramCommandEnergies e = dram_command_energies(spec);
  CHECK(e.ref == Approx(60840.0).epsilon(1e-12));
  CHECK(e.refpb == Approx(3802.5).epsilon(1e-12));
  // Counted from the statistics' command list, and priced: 32 REFpb = 2 REF's worth, nothing else.
  const Json stats = {{"commands", {{"REFpb", 32}}}, {"background_rank_cycles", Json::object()}, {"tCK_ps", 1000}};
  const DramCommandCounts c = dram_command_counts(stats);
  CHECK(c.refpb == 32);
  CHECK(dram_energy(e, c).dynamic == Approx(2 * 60840.0).epsilon(1e-12));
  // DDR4 has no per-bank refresh: no REFpb price.
  CHECK(dram_command_energies(dram_spec("ddr4-3200")).refpb == 0);
}
