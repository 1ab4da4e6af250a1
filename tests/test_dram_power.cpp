// Power-down and self-refresh (/dram/power_down, /dram/self_refresh): entry and exit commands at the
// hand-derived cycles, the exit timing paid by the next request, the cycles of each rank in each power state,
// the independent checker's power rules, the fast scheduler against the reference with the policy on, and the
// config's errors. Every simulation's command trace goes through the timing checker (zero violations).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <random>

#include "test_dram_support.h"

using namespace attnsim;
using namespace attnsim::test;

namespace {
using C = DramCommand;
std::vector<std::pair<std::int64_t, C>> timeline(const ReplayOutcome& o) {
  std::vector<std::pair<std::int64_t, C>> v;
  for (const auto& c : o.commands) v.push_back({c.cycle, c.cmd});
  return v;
}
std::uint64_t state_cycles(const ReplayOutcome& o, const char* key) {
  return o.stats["power_states"][std::string(key) + "_cycles"].get<std::uint64_t>();
}
}  // namespace

TEST_CASE("dram power: an idle rank powers down and pays tXP on the next request", "[dram][power]") {
  // DDR4-3200 (F 1, tRCD = CL = 22, BL/2 4, tCKE 8, tXP 10), power_down after 100 idle cycles. Two reads of
  // one row, at cycles 0 and 1000:
  //   read 1: ACT 1, RD 23, done 49. Its data is done at RD + CL + BL/2 + 1 = 50 (tRDPDEN); the rank is idle
  //           100 cycles after its RD: PDE at max(23 + 100, 50) = 123 (a row is open: active power-down).
  //   read 2: arrives at 1000 >= PDE + tCKE = 131, so PDX at 1000; a row hit, its RD waits tXP: 1010, done
  //           1036: latency 36 = tXP + CL + BL/2 (instead of a hit's 1 + 22 + 4 = 27).
  // Power states up to 1036: precharged standby [0, 1) = 1, active standby [1, 123) + [1000, 1036) = 158,
  // active power-down [123, 1000) = 877.
  const DramSpec s = dram_spec("ddr4-3200", {{"power_down", {{"policy", "idle_cycles"}, {"after_cycles", 100}}}});
  const auto o = replay_checked(s, {rd(dram_addr(s, 0, 0, 1, 0), 0), rd(dram_addr(s, 0, 0, 1, 1), 1000)});
  INFO(o.first_violation);
  CHECK(o.violations == 0);
  CHECK(timeline(o) == std::vector<std::pair<std::int64_t, C>>{
                           {1, C::ACT}, {23, C::RD}, {123, C::PDE}, {1000, C::PDX}, {1010, C::RD}});
  CHECK(o.cycles == 1036);
  CHECK(o.stats["read_latency_cycles"]["max"] == 49);
  CHECK(o.stats["read_latency_cycles"]["mean"].get<double>() == Approx((49 + 36) / 2.0));
  CHECK(o.stats["commands"]["PDE"] == 1);
  CHECK(o.stats["commands"]["PDX"] == 1);
  CHECK(state_cycles(o, "precharged_standby") == 1);
  CHECK(state_cycles(o, "active_standby") == 158);
  CHECK(state_cycles(o, "active_power_down") == 877);
  CHECK(state_cycles(o, "precharged_power_down") == 0);
  CHECK(state_cycles(o, "self_refresh") == 0);
  CHECK(o.stats["power_states"]["per_rank"][0][0]["active_power_down_cycles"] == 877);
}

TEST_CASE("dram power: a longer idle rank goes from power-down to self-refresh and pays tXS", "[dram][power]") {
  // DDR4-3200 (tRAS 52, tRP 22, tRTP 12, tCKESR 9, tXS 576), power_down after 100, self_refresh after 1000.
  // Read 1 at 0: ACT 1, RD 23, PDE 123 as above. At 23 + 1000 = 1023 self-refresh is wanted: PDX 1023; the
  // open row is closed first, PREA at max(ACT + tRAS = 53, RD + tRTP = 35, PDX + tXP = 1033) = 1033; SRE at
  // PREA + tRP = 1055. Read 2 (another row of the same bank) at 5000: SRX 5000 (>= SRE + tCKESR), ACT at
  // SRX + tXS = 5576, RD 5598, done 5624: latency 624 = tXS + tRCD + CL + BL/2. No REF: tREFI (12480) is
  // never reached before the self-refresh, and after it the next REF falls due at 5000 + 12480.
  // Power states up to 5624: precharged standby [0, 1) + [1033, 1055) + [5000, 5576) = 599; active standby
  // [1, 123) + [1023, 1033) + [5576, 5624) = 180; active power-down [123, 1023) = 900; self-refresh
  // [1055, 5000) = 3945. Sum 5624.
  const DramSpec s = dram_spec("ddr4-3200", {{"power_down", {{"policy", "idle_cycles"}, {"after_cycles", 100}}},
                                             {"self_refresh", {{"policy", "idle_cycles"}, {"after_cycles", 1000}}}});
  const auto o = replay_checked(s, {rd(dram_addr(s, 0, 0, 1, 0), 0), rd(dram_addr(s, 0, 0, 2, 0), 5000)});
  INFO(o.first_violation);
  CHECK(o.violations == 0);
  CHECK(timeline(o) == std::vector<std::pair<std::int64_t, C>>{{1, C::ACT},
                                                               {23, C::RD},
                                                               {123, C::PDE},
                                                               {1023, C::PDX},
                                                               {1033, C::PREA},
                                                               {1055, C::SRE},
                                                               {5000, C::SRX},
                                                               {5576, C::ACT},
                                                               {5598, C::RD}});
  CHECK(o.cycles == 5624);
  CHECK(o.stats["read_latency_cycles"]["max"] == 624);
  CHECK(o.stats["commands"]["REF"] == 0);
  CHECK(state_cycles(o, "precharged_standby") == 599);
  CHECK(state_cycles(o, "active_standby") == 180);
  CHECK(state_cycles(o, "active_power_down") == 900);
  CHECK(state_cycles(o, "self_refresh") == 3945);
}

TEST_CASE("dram power: a refresh falling due wakes a powered-down rank", "[dram][power]") {
  // DDR4-3200, power_down after 100: read 1 at 0 (ACT 1, RD 23, PDE 123). Rank 0's first REF falls due at
  // tREFI = 12480: PDX 12480, PREA at PDX + tXP = 12490 (the row is open), REF at 12490 + tRP = 12512, and
  // the rank powers down again one cycle later (PDE 12513: precharged power-down, tRFC under way). Read 2 at
  // 20000 (a closed bank now): PDX 20000, ACT at 20010, RD 20032, done 20058.
  const DramSpec s = dram_spec("ddr4-3200", {{"power_down", {{"policy", "idle_cycles"}, {"after_cycles", 100}}}});
  const auto o = replay_checked(s, {rd(dram_addr(s, 0, 0, 1, 0), 0), rd(dram_addr(s, 0, 0, 1, 1), 20000)});
  INFO(o.first_violation);
  CHECK(o.violations == 0);
  CHECK(timeline(o) == std::vector<std::pair<std::int64_t, C>>{{1, C::ACT},
                                                               {23, C::RD},
                                                               {123, C::PDE},
                                                               {12480, C::PDX},
                                                               {12490, C::PREA},
                                                               {12512, C::REF},
                                                               {12513, C::PDE},
                                                               {20000, C::PDX},
                                                               {20010, C::ACT},
                                                               {20032, C::RD}});
  // Precharged power-down [12513, 20000) = 7487.
  CHECK(state_cycles(o, "precharged_power_down") == 7487);
}

TEST_CASE("dram power: the checker catches commands in power-down and short exits", "[dram][power][checker]") {
  // The checker's own DDR4-3200 minimums: tCKE 8, tXP 10, tCKESR 9, tXS 576.
  const DramSpec s = dram_spec("ddr4-3200");
  auto cmd = [](std::int64_t cycle, C c, int g = -1, int b = -1, std::int64_t row = -1, int col = -1) {
    return CommandRecord{cycle, c, 0, 0, g, b, row, col};
  };
  {
    // PDX 5 cycles after PDE (tCKE 8), a RD 5 cycles after PDX (tXP 10): two violations.
    auto v = check_command_trace(s, {cmd(1, C::ACT, 0, 0, 1), cmd(23, C::RD, 0, 0, 1, 0), cmd(50, C::PDE),
                                     cmd(55, C::PDX), cmd(60, C::RD, 0, 0, 1, 1)});
    REQUIRE(v.size() == 2);
    CHECK(v[0].constraint == "tCKE");
    CHECK(v[1].constraint == "tXP");
  }
  {
    // PDE before the read's data is done (RD + CL + BL/2 + 1 = 50), and a RD while powered down.
    auto v = check_command_trace(s, {cmd(1, C::ACT, 0, 0, 1), cmd(23, C::RD, 0, 0, 1, 0), cmd(49, C::PDE),
                                     cmd(100, C::RD, 0, 0, 1, 1)});
    REQUIRE(v.size() == 2);
    CHECK(v[0].constraint == "RD to power-down entry (tRDPDEN)");
    CHECK(v[1].constraint == "power state: a command to a rank in power-down");
  }
  {
    // SRE with a row open; an ACT 100 cycles after SRX (tXS 576).
    auto v = check_command_trace(s, {cmd(1, C::ACT, 0, 0, 1), cmd(100, C::SRE), cmd(200, C::SRX),
                                     cmd(300, C::PRE, 0, 0)});
    REQUIRE(v.size() == 2);
    CHECK(v[0].constraint == "bank state: SRE with a bank open");
    CHECK(v[1].constraint == "tXS");
  }
  {
    // 200,000 cycles in self-refresh (16 x tREFI) owe no REF; the same stretch awake does (the existing rule).
    auto ok = check_command_trace(s, {cmd(100, C::SRE), cmd(200000, C::SRX)});
    CHECK(ok.empty());
    auto late = check_command_trace(s, {cmd(100, C::PDE), cmd(200000, C::PDX)});
    REQUIRE(!late.empty());
    CHECK(late[0].constraint.rfind("refresh interval", 0) == 0);
  }
}

TEST_CASE("dram power: a preset with a short tXP is caught by the checker's own table", "[dram][power][checker]") {
  // DDR4-3200 with tXP 5 instead of max(4 nCK, 6 ns) = 10: as in the first test, PDX at 1000, and the row hit's
  // RD at PDX + 5 = 1005; the checker, which never reads the device's tXP, needs 10.
  const DramSpec s = dram_spec("ddr4-3200", {{"timing", {{"tXP", 5}}},
                                             {"power_down", {{"policy", "idle_cycles"}, {"after_cycles", 100}}}});
  const auto o = replay_checked(s, {rd(dram_addr(s, 0, 0, 1, 0), 0), rd(dram_addr(s, 0, 0, 1, 1), 1000)});
  CHECK(o.violations == 1);
  CHECK(o.first_violation.find("tXP") == 0);
  CHECK(o.first_violation.find("needs 10") != std::string::npos);
}

TEST_CASE("dram power: the fast scheduler issues the reference's commands with power-down on", "[dram][power]") {
  // Bursts of random requests (reads and writes, two ranks) separated by idle gaps long enough for power-down
  // (after 200) and some for self-refresh (after 3000): every entry and exit path, with refresh between.
  DramSpec s = dram_spec("ddr4-3200", {{"ranks", 2},
                                       {"power_down", {{"policy", "idle_cycles"}, {"after_cycles", 200}}},
                                       {"self_refresh", {{"policy", "idle_cycles"}, {"after_cycles", 3000}}}});
  std::mt19937_64 rng(11);
  std::vector<TraceRecord> t;
  std::int64_t cycle = 0;
  for (int burst = 0; burst < 40; ++burst) {
    for (int i = 0; i < 16; ++i) {
      const std::uint64_t addr = (rng() % (std::uint64_t(1) << 30)) & ~std::uint64_t(63);
      t.push_back(TraceRecord{addr, i % 4 == 3, cycle + i});
    }
    cycle += std::int64_t(100 + rng() % 6000);
  }
  std::string texts[2];
  for (int fast = 0; fast < 2; ++fast) {
    s.fast_path = fast == 1;
    const auto o = replay_checked(s, t);
    INFO(o.first_violation);
    CHECK(o.violations == 0);
    CHECK(o.stats["commands"]["PDE"].get<int>() > 0);
    CHECK(o.stats["commands"]["SRE"].get<int>() > 0);
    std::ostringstream text;
    for (const auto& c : o.commands)
      text << c.cycle << ' ' << int(c.cmd) << ' ' << c.rank << ' ' << c.bank_group << ' ' << c.bank << ' ' << c.row
           << '\n';
    texts[fast] = text.str();
  }
  CHECK(texts[0] == texts[1]);
}

TEST_CASE("dram power: a bad policy is reported with its JSON path", "[dram][power][config]") {
  Json doc = {{"model", "cycle"},
              {"preset", "ddr4-3200"},
              {"power_down", {{"policy", "idle_cycles"}}},
              {"self_refresh", {{"policy", "sometimes"}}}};
  Diagnostics diag("hw.json");
  parse_cycle_dram(JsonView(&doc, "/dram", &diag));
  REQUIRE(diag.problems().size() == 2);
  CHECK(diag.problems()[0].find("/dram/power_down/after_cycles") != std::string::npos);
  CHECK(diag.problems()[1].find("/dram/self_refresh/policy") != std::string::npos);
}

TEST_CASE("dram power: a device file without the power timings is valid until a policy needs them",
          "[dram][power][config]") {
  // ddr4-3200's description without tCKE, tXP, tCKESR and tXS (a file written before they existed).
  Json dev = Json::parse(find_dram_preset("ddr4-3200"));
  for (const char* k : {"tCKE", "tXP", "tCKESR", "tXS"}) dev["timing"].erase(k);
  const std::string path = "/tmp/attnsim_test_dram_power_" + std::to_string(getpid()) + ".json";
  std::ofstream(path) << dev.dump();
  {
    Json doc = {{"model", "cycle"}, {"preset", path}};
    Diagnostics diag("hw.json");
    parse_cycle_dram(JsonView(&doc, "/dram", &diag));
    CHECK(diag.problems().empty());
  }
  {
    Json doc = {{"model", "cycle"}, {"preset", path}, {"power_down", {{"policy", "idle_cycles"}, {"after_cycles", 9}}}};
    Diagnostics diag("hw.json");
    parse_cycle_dram(JsonView(&doc, "/dram", &diag));
    REQUIRE(diag.problems().size() == 1);
    CHECK(diag.problems()[0].find("/dram/power_down") != std::string::npos);
    CHECK(diag.problems()[0].find("tXP") != std::string::npos);
  }
  std::remove(path.c_str());
}
