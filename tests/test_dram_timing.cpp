// Per-constraint probes of the JEDEC timing rules, on the controller's channel model and on the independent
// checker: a command one cycle early is refused (controller) and flagged (checker); on time it is accepted
// by both. DDR4-3200 values (nCK): CL 22, CWL 16, tRCD 22, tRP 22, tRAS 52, tRC 74, tCCD_S/L 4/8,
// tRRD_S/L 4/8, tFAW 34, tWR 24, tWTR_S/L 4/12, tRTP 12, tRFC 560, tRTRS 1, BL/2 = 4.
#include <catch2/catch.hpp>

#include "test_dram_support.h"

using namespace attnsim;
using attnsim::test::dram_spec;

namespace {

struct Probe {
  explicit Probe(const DramSpec& s) : spec(s), ch(s, 0, &stats), checker(s) {}
  // Issues a command that must be legal.
  void issue(DramCommand cmd, int r, int g, int b, std::int64_t row, std::int64_t cycle) {
    INFO(to_string(cmd) << " at " << cycle);
    REQUIRE(ch.can_issue(cmd, r, g, b, cycle));
    ch.issue(cmd, r, g, b, row, cycle);
    REQUIRE(checker.check(record(cmd, r, g, b, row, cycle)) == 0);
  }
  // The command is refused/flagged at on_time - 1 (with the named constraint) and accepted at on_time.
  void expect(const std::string& constraint, DramCommand cmd, int r, int g, int b, std::int64_t row,
              std::int64_t on_time) {
    INFO(constraint << ": " << to_string(cmd) << " due at " << on_time);
    CHECK(ch.earliest(cmd, r, g, b) == on_time);
    CHECK_FALSE(ch.can_issue(cmd, r, g, b, on_time - 1));
    CHECK(ch.can_issue(cmd, r, g, b, on_time));
    TimingChecker early = checker;
    early.check(record(cmd, r, g, b, row, on_time - 1));
    bool named = false;
    for (const auto& v : early.violations()) named |= v.constraint == constraint;
    INFO("checker found: " << (early.violations().empty() ? std::string("nothing") : early.violations()[0].message()));
    CHECK(named);
    TimingChecker on = checker;
    CHECK(on.check(record(cmd, r, g, b, row, on_time)) == 0);
  }
  static CommandRecord record(DramCommand cmd, int r, int g, int b, std::int64_t row, std::int64_t cycle) {
    CommandRecord c;
    c.cycle = cycle, c.cmd = cmd, c.rank = r, c.bank_group = g, c.bank = b, c.row = row;
    if (cmd == DramCommand::PREA || cmd == DramCommand::REF) c.bank_group = c.bank = -1;
    return c;
  }
  DramSpec spec;
  DramStats stats;
  DramChannel ch;
  TimingChecker checker;
};

const DramCommand ACT = DramCommand::ACT, PRE = DramCommand::PRE, PREA = DramCommand::PREA, RD = DramCommand::RD,
                  WR = DramCommand::WR, REF = DramCommand::REF;

}  // namespace

TEST_CASE("dram timing: same-bank row constraints tRCD, tRAS, tRP, tRC, tRTP, tWR", "[dram][timing]") {
  const DramSpec s = dram_spec("ddr4-3200");
  {
    Probe p(s);
    p.issue(ACT, 0, 0, 0, 7, 100);
    p.expect("tRCD", RD, 0, 0, 0, 7, 100 + 22);  // ACT + tRCD
    p.expect("tRCD", WR, 0, 0, 0, 7, 100 + 22);
    p.expect("tRAS", PRE, 0, 0, 0, -1, 100 + 52);  // ACT + tRAS
    p.expect("tRAS", PREA, 0, 0, 0, -1, 100 + 52);
    p.issue(PRE, 0, 0, 0, -1, 152);
    p.expect("tRP", ACT, 0, 0, 0, 8, 152 + 22);  // PRE + tRP (= ACT + tRC here)
    p.expect("tRP", REF, 0, 0, 0, -1, 152 + 22);
  }
  {
    // A device slower than JEDEC: tRC 80 makes tRC the controller's binding rule (ACT 100, PRE 152, ACT at
    // 100 + 80, not 152 + 22). The checker holds the device to JESD79-4's tRC of 74 clocks, not to the
    // device's 80, so it accepts the ACT the controller refuses at 179, and flags it at 173 (tRC 74, and tRP).
    DramSpec longer = s;
    longer.t.tRC = 80;
    Probe p(longer);
    p.issue(ACT, 0, 0, 0, 7, 100);
    p.issue(PRE, 0, 0, 0, -1, 152);
    CHECK(p.ch.earliest(ACT, 0, 0, 0) == 180);
    CHECK_FALSE(p.ch.can_issue(ACT, 0, 0, 0, 179));
    TimingChecker at179 = p.checker;
    CHECK(at179.check(Probe::record(ACT, 0, 0, 0, 8, 179)) == 0);
    TimingChecker at173 = p.checker;
    CHECK(at173.check(Probe::record(ACT, 0, 0, 0, 8, 173)) > 0);
    bool trc = false;
    for (const auto& v : at173.violations()) trc |= v.constraint == "tRC";
    CHECK(trc);
  }
  {
    Probe p(s);
    p.issue(ACT, 0, 0, 0, 7, 100);
    p.issue(RD, 0, 0, 0, 7, 145);
    p.expect("tRTP", PRE, 0, 0, 0, -1, 145 + 12);  // RD + tRTP (after ACT + tRAS = 152)
  }
  {
    Probe p(s);
    p.issue(ACT, 0, 0, 0, 7, 100);
    p.issue(WR, 0, 0, 0, 7, 122);
    p.expect("tWR", PRE, 0, 0, 0, -1, 122 + 16 + 4 + 24);  // WR + CWL + BL/2 + tWR
    p.expect("tWR", PREA, 0, 0, 0, -1, 122 + 16 + 4 + 24);
  }
}

TEST_CASE("dram timing: column constraints tCCD_L, tCCD_S, tWTR_L, tWTR_S, read-to-write", "[dram][timing]") {
  const DramSpec s = dram_spec("ddr4-3200");
  {
    Probe p(s);
    p.issue(ACT, 0, 0, 0, 7, 100);
    p.issue(RD, 0, 0, 0, 7, 122);
    p.expect("tCCD_L", RD, 0, 0, 0, 7, 122 + 8);                                  // same bank group
    p.expect("read-to-write turnaround", WR, 0, 0, 0, 7, 122 + 22 + 4 + 2 - 16);  // CL + BL/2 + 2 - CWL
  }
  {
    Probe p(s);
    p.issue(ACT, 0, 0, 0, 7, 100);
    p.issue(ACT, 0, 1, 0, 7, 104);
    p.issue(RD, 0, 0, 0, 7, 130);
    p.expect("tCCD_S", RD, 0, 1, 0, 7, 130 + 4);  // other bank group
  }
  {
    Probe p(s);
    p.issue(ACT, 0, 0, 0, 7, 100);
    p.issue(WR, 0, 0, 0, 7, 122);
    p.expect("tCCD_L", WR, 0, 0, 0, 7, 122 + 8);
    p.expect("tWTR_L", RD, 0, 0, 0, 7, 122 + 16 + 4 + 12);  // WR + CWL + BL/2 + tWTR_L
  }
  {
    Probe p(s);
    p.issue(ACT, 0, 0, 0, 7, 100);
    p.issue(ACT, 0, 1, 0, 7, 104);
    p.issue(WR, 0, 0, 0, 7, 126);
    p.expect("tCCD_S", WR, 0, 1, 0, 7, 126 + 4);
    p.expect("tWTR_S", RD, 0, 1, 0, 7, 126 + 16 + 4 + 4);  // WR + CWL + BL/2 + tWTR_S
  }
}

TEST_CASE("dram timing: activation constraints tRRD_L, tRRD_S, tFAW", "[dram][timing]") {
  const DramSpec s = dram_spec("ddr4-3200");
  Probe p(s);
  p.issue(ACT, 0, 0, 0, 7, 100);
  p.expect("tRRD_L", ACT, 0, 0, 1, 7, 100 + 8);  // same bank group
  p.expect("tRRD_S", ACT, 0, 1, 0, 7, 100 + 4);  // other bank group
  p.issue(ACT, 0, 1, 0, 7, 104);
  p.issue(ACT, 0, 2, 0, 7, 108);
  p.issue(ACT, 0, 3, 0, 7, 112);
  // Fifth ACT: tRRD_S would allow 116 and tRRD_L (bank group 0) 108, but four ACTs since 100: 100 + tFAW.
  p.expect("tFAW", ACT, 0, 0, 1, 7, 100 + 34);
}

TEST_CASE("dram timing: refresh tRFC and rank switching tRTRS", "[dram][timing]") {
  const DramSpec s = dram_spec("ddr4-3200", {{"ranks", 2}});
  {
    Probe p(s);
    p.issue(REF, 0, 0, 0, -1, 100);
    p.expect("tRFC", ACT, 0, 0, 0, 7, 100 + 560);
    p.expect("tRFC", REF, 0, 0, 0, -1, 100 + 560);
    p.issue(ACT, 1, 0, 0, 7, 101);  // the other rank is not blocked
  }
  {
    Probe p(s);
    p.issue(ACT, 0, 0, 0, 7, 100);
    p.issue(ACT, 1, 0, 0, 7, 101);
    p.issue(RD, 0, 0, 0, 7, 123);
    p.expect("rank switch RD-RD (tRTRS)", RD, 1, 0, 0, 7, 123 + 4 + 1);  // RD + BL/2 + tRTRS
  }
}

TEST_CASE("dram timing checker: bank state, command bus and data bus errors are flagged", "[dram][timing]") {
  const DramSpec s = dram_spec("ddr4-3200");
  auto rec = Probe::record;
  std::vector<CommandRecord> bad = {rec(RD, 0, 0, 0, 3, 10),   rec(ACT, 0, 0, 0, 3, 20), rec(ACT, 0, 0, 0, 4, 200),
                                    rec(ACT, 0, 1, 0, 4, 200), rec(WR, 0, 0, 0, 9, 300), rec(REF, 0, 0, 0, -1, 400)};
  auto v = check_command_trace(s, bad);
  std::vector<std::string> names;
  for (auto& x : v) names.push_back(x.constraint);
  auto has = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  CHECK(has("bank state: RD to a closed bank"));
  CHECK(has("bank state: ACT to an open bank"));
  CHECK(has("command bus (one command per cycle)"));
  CHECK(has("bank state: WR to a row that is not open"));
  CHECK(has("bank state: REF with a bank open"));
}
