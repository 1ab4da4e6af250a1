// Per-bank refresh (/dram/refresh "per_bank": LPDDR4/5 REFpb, DDR5 REFsb, HBM2/3 REFPB): the controller's REFpb
// cadence derived by hand, the other banks serving while one set refreshes, the checker's own per-bank table
// catching a wrong preset value, a bank left unrefreshed and a REFpb on a standard without one, the config's
// rule, and random-read bandwidth with per-bank refresh against all-bank.
#include <catch2/catch.hpp>

#include <cstdio>
#include <random>

#include "common/errors.h"
#include "test_dram_support.h"

using namespace attnsim;
using namespace attnsim::test;

namespace {

using C = DramCommand;

CommandRecord command(C c, std::int64_t cycle, int g = -1, int b = -1, std::int64_t row = -1) {
  CommandRecord r;
  r.cycle = cycle, r.cmd = c, r.bank_group = g, r.bank = b, r.row = row;
  return r;
}

std::vector<TraceRecord> random_reads(const DramSpec& s, int n) {
  std::mt19937_64 rng(99);
  std::vector<TraceRecord> t;
  const std::uint64_t cap = std::uint64_t(s.capacity_bytes()), burst = std::uint64_t(s.burst_bytes());
  for (int i = 0; i < n; ++i) t.push_back(rd(rng() % cap / burst * burst));
  return t;
}

}  // namespace

TEST_CASE("dram per-bank refresh: the REFpb cadence of an HBM2 channel, derived by hand", "[dram][refresh][per_bank]") {
  // HBM2, one channel, per-bank: 16 banks (4 groups x 4), one per REFPB, so set k is bank group k / 4, bank k % 4;
  // tREFIpb = 243, so set k - 1 falls due at 243 k; the channel is idle until cycle 2000, and the idle REFpbs are
  // issued exactly at their due cycles: 243, 486, ..., 1944 (sets 0..7).
  // A read to bank group 2 bank 0 (set 8) row 1 accepted at 2000 (frontend 1): ACT 2001, RD 2001 + tRCD 14 = 2015.
  // Set 8 falls due at 9 x 243 = 2187 with its bank open: PRE at 2187 (tRAS from 2001 and tRTP from 2015 long
  // over), REFPB at 2187 + tRP 14 = 2201.
  // A read to bank group 0 bank 1 (set 1, refreshed at 486) row 3 accepted at 2190 is not held by set 8's refresh:
  // ACT 2191, RD 2205 (2201 carries the REFPB, 2205 = 2191 + tRCD), done 2205 + CL 14 + BL/2 2 = 2221: latency
  // 31 cycles, the idle row-miss latency (1 + 14 + 14 + 2). The run ends at 2221, before set 9's 2430.
  const DramSpec s = dram_spec("hbm2", {{"channels", 1}, {"refresh", "per_bank"}});
  REQUIRE(s.t.tREFIpb == 243);
  auto o = replay_checked(s, {rd(dram_addr(s, 2, 0, 1, 0), 2000), rd(dram_addr(s, 0, 1, 3, 0), 2190)});
  INFO(o.first_violation);
  CHECK(o.violations == 0);
  std::vector<std::int64_t> want;
  for (int k = 1; k <= 8; ++k) want.push_back(243 * k);
  want.push_back(2201);
  CHECK(cycles_of(o, C::REFPB) == want);
  int k = 0;
  for (const auto& c : o.commands)
    if (c.cmd == C::REFPB) {
      INFO("REFPB at " << c.cycle);
      CHECK(c.bank_group == k / 4);
      CHECK(c.bank == k % 4);
      ++k;
    }
  CHECK(cycles_of(o, C::PRE) == std::vector<std::int64_t>{2187});
  CHECK(cycles_of(o, C::ACT) == std::vector<std::int64_t>{2001, 2191});
  CHECK(cycles_of(o, C::RD) == std::vector<std::int64_t>{2015, 2205});
  CHECK(cycles_of(o, C::REF).empty());
  CHECK(o.stats["read_latency_cycles"]["max"].get<std::int64_t>() == 31);
  CHECK(o.stats["commands"]["REFpb"].get<std::int64_t>() == 9);
}

TEST_CASE("dram per-bank refresh: DDR5 REFsb and LPDDR5 pairs cover every bank, checked", "[dram][refresh][per_bank]") {
  // DDR5-4800: 8 groups x 4 banks, a REFsb refreshes bank b of every group: 4 sets, tREFIpb = 9375 / 4 = 2343, so
  // REFsb k (k = 1, 2, ...) falls due at 2343 k on bank (k - 1) % 4, named by bank group 0. LPDDR5-6400: a REFpb
  // refreshes a pair (flat banks i and i + 8), 8 sets, tREFIpb = 12499 / 8 = 1562, named by its first bank i.
  // Reads 1000 cycles apart keep both channels busy past 6 tREFIpb; the checker's own table accepts the trace
  // (every bank refreshed within its interval, tRFCpb before a refreshed bank's ACT).
  for (const char* p : {"ddr5-4800", "lpddr5-6400"}) {
    INFO(p);
    const DramSpec s = dram_spec(p, {{"channels", 1}, {"refresh", "per_bank"}});
    const int sets = s.refresh_sets();
    CHECK(sets == (std::string(p) == "ddr5-4800" ? 4 : 8));
    std::vector<TraceRecord> t;
    for (int i = 0; i < 20; ++i) t.push_back(rd(dram_addr(s, i % s.bank_groups, i % s.banks_per_group, 5 + i, 0), 1000 * i));
    auto o = replay_checked(s, t);
    INFO(o.first_violation);
    CHECK(o.violations == 0);
    const auto refs = cycles_of(o, C::REFPB);
    REQUIRE(refs.size() >= 6);
    int k = 0;
    for (const auto& c : o.commands)
      if (c.cmd == C::REFPB) {
        ++k;
        // Due at k tREFIpb; late by at most the PRE (tRAS / tRTP of a row opened just before) and tRP.
        CHECK(c.cycle >= k * std::int64_t(s.t.tREFIpb));
        CHECK(c.cycle <= k * std::int64_t(s.t.tREFIpb) + s.t.tRAS + s.t.tRP);
        CHECK(c.bank_group * s.banks_per_group + c.bank == (k - 1) % sets);
      }
  }
}

TEST_CASE("dram per-bank refresh: the checker's own table catches a wrong value and a missing bank",
          "[dram][refresh][per_bank][checker]") {
  SECTION("HBM2 with tRFCpb 100 instead of JESD235A's 160 ns") {
    // Set 0 (bank group 0 bank 0) is refreshed at tREFIpb = 243; a read to it accepted at 250 gets its ACT at
    // 243 + 100 = 343 (the preset's tRFCpb), 60 cycles early for the checker, which never reads the preset's.
    const DramSpec bad = dram_spec("hbm2", {{"channels", 1}, {"refresh", "per_bank"}, {"timing", {{"tRFCpb", 100}}}});
    auto o = replay_checked(bad, {rd(dram_addr(bad, 0, 0, 1, 0), 250)});
    CHECK(cycles_of(o, C::ACT) == std::vector<std::int64_t>{343});
    CHECK(o.violations == 1);
    CHECK(o.first_violation.find("tRFCpb") == 0);
    CHECK(o.first_violation.find("needs 160") != std::string::npos);
    // The preset's own value: ACT at 243 + 160 = 403, no violation.
    const DramSpec good = dram_spec("hbm2", {{"channels", 1}, {"refresh", "per_bank"}});
    auto g = replay_checked(good, {rd(dram_addr(good, 0, 0, 1, 0), 250)});
    CHECK(cycles_of(g, C::ACT) == std::vector<std::int64_t>{403});
    CHECK(g.violations == 0);
  }
  SECTION("a REFpb round that skips one bank") {
    // LPDDR4-4266: 8 banks, tREFI 3904 ns -> 8328 clocks, up to 8 postponed: each bank must be refreshed within
    // 9 x 8328 = 74952 cycles. REFpbs every 1041 cycles to banks 0..6, never bank 7: the trace's rank-level count
    // never falls behind (REFpbs come every tREFI / 8), but bank 7 goes without refresh: flagged once, at the
    // end of the trace (the last REFpb, 86 x 1041 = 89526), the only time the checker looks at bank 7.
    const DramSpec s = dram_spec("lpddr4-4266", {{"channels", 1}, {"refresh", "per_bank"}});
    std::vector<CommandRecord> t;
    int k = 0;
    for (std::int64_t c = 1041; c <= 90000; c += 1041) t.push_back(command(C::REFPB, c, 0, k++ % 7));
    auto v = check_command_trace(s, t);
    REQUIRE(v.size() == 1);
    CHECK(v[0].constraint.find("refresh interval: bank group 0 bank 7 of rank 0 of channel 0 went") == 0);
    CHECK(v[0].constraint.find("without a REF or REFpb (since cycle 0), more than (8 postponed + 1) x tREFI = 74952") !=
          std::string::npos);
    CHECK(v[0].constraint.find("(end of the trace at cycle 89526)") != std::string::npos);
    // Every bank in turn passes.
    std::vector<CommandRecord> ok;
    k = 0;
    for (std::int64_t c = 1041; c <= 90000; c += 1041) ok.push_back(command(C::REFPB, c, 0, k++ % 8));
    CHECK(check_command_trace(s, ok).empty());
  }
  SECTION("REFpbs closer than tPBR2PBR, an ACT too soon after one, a REFpb to an open bank") {
    // LPDDR4-4266: tPBR2PBR 90 ns -> 192, REFpb to another bank's ACT tRRD 10 ns -> 22.
    const DramSpec s = dram_spec("lpddr4-4266", {{"refresh", "per_bank"}});
    auto v = check_command_trace(s, {command(C::REFPB, 1000, 0, 0), command(C::REFPB, 1100, 0, 1)});
    REQUIRE(v.size() == 1);
    CHECK(v[0].constraint == "tPBR2PBR");
    CHECK(v[0].required == 192);
    v = check_command_trace(s, {command(C::REFPB, 1000, 0, 0), command(C::ACT, 1010, 0, 3, 5)});
    REQUIRE(v.size() == 1);
    CHECK(v[0].constraint == "tPBR2ACT");
    CHECK(v[0].required == 22);
    v = check_command_trace(s, {command(C::ACT, 1000, 0, 2, 5), command(C::REFPB, 2000, 0, 2)});
    REQUIRE(v.size() == 1);
    CHECK(v[0].constraint == "bank state: REFpb with a bank of its set open");
  }
  SECTION("a REFpb on DDR4, which has none") {
    auto v = check_command_trace(dram_spec("ddr4-3200"), {command(C::REFPB, 1000, 0, 0)});
    REQUIRE(v.size() == 1);
    CHECK(v[0].constraint.find("per-bank refresh: REFpb, which the standard") == 0);
  }
}

TEST_CASE("dram per-bank refresh: only where the device has it", "[dram][refresh][per_bank][config]") {
  try {
    dram_spec("ddr4-3200", {{"refresh", "per_bank"}});
    FAIL("accepted");
  } catch (const UserError& e) {
    const std::string m = e.what();
    CHECK(m.find("/refresh") != std::string::npos);
    CHECK(m.find("needs a device with per-bank refresh (DDR4 here") != std::string::npos);
  }
  CHECK_THROWS_AS(dram_spec("hbm2", {{"refresh", "sometimes"}}), UserError);
  CHECK(!dram_spec("hbm2").per_bank_refresh);  // all-bank by default, every preset
  CHECK(dram_spec("hbm2", {{"refresh", "per_bank"}}).per_bank_refresh);
}

TEST_CASE("dram per-bank refresh: random reads are at least as fast as with all-bank refresh",
          "[dram][refresh][per_bank][bw]") {
  // 20k random reads submitted as fast as the queue takes them, one channel: an all-bank REF closes the whole
  // rank for tRFC every tREFI, a REFpb one bank set for tRFCpb while the others serve.
  for (const char* p : {"hbm2", "lpddr4-4266", "ddr5-4800"}) {
    INFO(p);
    const DramSpec all = dram_spec(p, {{"channels", 1}});
    const DramSpec pb = dram_spec(p, {{"channels", 1}, {"refresh", "per_bank"}});
    const auto t = random_reads(all, 20000);
    auto a = replay_checked(all, t), b = replay_checked(pb, t);
    CHECK(a.violations == 0);
    CHECK(b.violations == 0);
    const double ga = a.stats["bandwidth"]["achieved_GBps"].get<double>();
    const double gb = b.stats["bandwidth"]["achieved_GBps"].get<double>();
    std::printf("[per-bank refresh] %s random reads: all-bank %.3f GB/s, per-bank %.3f GB/s (%+.2f %%)\n", p, ga, gb,
                100.0 * (gb / ga - 1.0));
    CHECK(gb >= ga);
  }
}
