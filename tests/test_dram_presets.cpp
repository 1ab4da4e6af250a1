// The timing checker's independence from the presets (a preset with one wrong value is caught, a trace
// without refresh is caught, the postponed-REF limit to the cycle) and every DRAM preset end to end:
// a sequential read stream replays with zero violations at a bandwidth within the channel's peak and
// above a floor derived by hand from the preset's own timing.
#include <catch2/catch.hpp>

#include "common/errors.h"
#include "hw/dram/jedec_table.h"
#include "test_dram_support.h"

using namespace attnsim;
using namespace attnsim::test;

namespace {

const char* const kPresets[] = {"ddr4-3200", "ddr5-4800", "lpddr4-4266", "lpddr5-6400", "hbm2", "hbm3", "gddr6-16000"};

CommandRecord cmd(DramCommand c, std::int64_t cycle, int g = -1, int b = -1, std::int64_t row = -1) {
  CommandRecord r;
  r.cycle = cycle, r.cmd = c, r.bank_group = g, r.bank = b, r.row = row;
  return r;
}

bool has_prefix(const std::vector<TimingViolation>& v, const std::string& prefix) {
  for (const auto& x : v)
    if (x.constraint.compare(0, prefix.size(), prefix) == 0) return true;
  return false;
}

std::vector<TraceRecord> sequential_reads(const DramSpec& s, int n) {
  std::vector<TraceRecord> t;
  for (int i = 0; i < n; ++i) t.push_back(rd(std::uint64_t(i) * std::uint64_t(s.burst_bytes())));
  return t;
}

}  // namespace

TEST_CASE("dram checker: its minimums come from its JEDEC table, which every preset meets", "[dram][checker]") {
  // JESD79-4C DDR4-3200AA rounded to 0.625 ns clocks: tRAS 32 ns -> 51.2 -> 52, tRC 45.75 ns -> 73.2 -> 74,
  // tRRD_L 4.9 ns -> 7.84 -> 8, tFAW 21 ns -> 33.6 -> 34, tWTR_L 7.5 ns -> 12, tRFC 350 ns -> 560,
  // tREFI 7.8 us -> 12480.
  TimingChecker ddr4(dram_spec("ddr4-3200"));
  CHECK(ddr4.minimums().tRAS == 52);
  CHECK(ddr4.minimums().tRC == 74);
  CHECK(ddr4.minimums().tRRD_L == 8);
  CHECK(ddr4.minimums().tFAW == 34);
  CHECK(ddr4.minimums().tWTR_L == 12);
  CHECK(ddr4.minimums().tRFC == 560);
  CHECK(ddr4.minimums().tREFI == 12480);
  CHECK(ddr4.max_postponed_refs() == 8);
  // DDR5-4800 at 0.416 ns with DDR5's rounding, truncate(t / tCK x 0.997 + 1): tRCD 16 ns -> 38.46 -> 39,
  // tFAW max(32 nCK, 13.333 ns) -> 32 (the plain ceiling would give 33), tWR 30 ns -> 72; at most 4 REFs
  // postponed.
  TimingChecker ddr5(dram_spec("ddr5-4800"));
  CHECK(ddr5.minimums().tRCD == 39);
  CHECK(ddr5.minimums().tFAW == 32);
  CHECK(ddr5.minimums().tWR == 72);
  CHECK(ddr5.max_postponed_refs() == 4);
  // LPDDR5-6400 at 0.3125 ns: tRPab 21 ns -> 67.2 -> 68 (the PREA before a REF), tRPpb 18 ns -> 58.
  TimingChecker lp5(dram_spec("lpddr5-6400"));
  CHECK(lp5.tRPab() == 68);
  CHECK(lp5.minimums().tRP == 58);
  // Every preset names a table entry and meets each of its minimums (a preset may be slower, never faster).
  int n = 0;
  const DramTimingField* f = dram_timing_fields(&n);
  for (const char* p : kPresets) {
    INFO(p);
    const DramSpec s = dram_spec(p);
    REQUIRE(find_jedec_speed_grade(s.standard, s.speed_grade) != nullptr);
    TimingChecker c(s);
    CHECK(c.violations().empty());  // clock, burst length, CL and CWL
    for (int i = 0; i < n; ++i) {
      if (std::string(f[i].name) == "tREFI" || std::string(f[i].name) == "tREFIpb") {
        INFO(f[i].name);
        CHECK(s.t.*f[i].member <= c.minimums().*f[i].member);  // a largest interval
      } else {
        INFO(f[i].name);
        CHECK(s.t.*f[i].member >= c.minimums().*f[i].member);
      }
    }
  }
}

TEST_CASE("dram checker: a preset with one wrong value is caught", "[dram][checker]") {
  // HBM2 with tRCD 12 instead of JESD235A's 14 ns (14 clocks): the controller issues each RD 12 cycles
  // after its ACT, and the checker, which never reads the device's tRCD, flags every one of them.
  {
    const DramSpec s = dram_spec("hbm2", {{"timing", {{"tRCD", 12}}}});
    std::vector<TraceRecord> t;
    for (int i = 0; i < 4; ++i) t.push_back(rd(dram_addr(s, i, 0, 1, 0), 0));
    auto o = replay_checked(s, t);
    CHECK(o.violations == 4);
    CHECK(o.first_violation.find("tRCD") == 0);
    CHECK(o.first_violation.find("needs 14") != std::string::npos);
  }
  // DDR4 with tFAW 24 instead of 34: 16 reads to 16 banks (as the tFAW test in test_dram_controller.cpp):
  // ACTs every tRRD_S = 4 from cycle 1 (frontend 1); the fifth at 1 + 24 = 25 (a free command slot: the RDs
  // are at 23 and 27) is 10 cycles early, and so on.
  {
    const DramSpec s = dram_spec("ddr4-3200", {{"timing", {{"tFAW", 24}}}});
    std::vector<TraceRecord> t;
    for (int i = 0; i < 16; ++i) t.push_back(rd(dram_addr(s, i % 4, i / 4, 5 + i, 0)));
    auto o = replay_checked(s, t);
    CHECK(o.violations > 0);
    CHECK(o.first_violation.find("tFAW") == 0);
  }
  // A device whose CL is below its speed grade's is refused before any command.
  {
    DramSpec s = dram_spec("ddr4-3200");
    s.t.CL = 20;
    TimingChecker c(s);
    REQUIRE(c.violations().size() == 1);
    CHECK(c.violations()[0].message() == "device CL: 20 clocks, below DDR4-3200AA's minimum 22");
  }
  // Without a table entry there is nothing to check against: a UserError, not a silent pass.
  {
    DramSpec s = dram_spec("ddr4-3200");
    s.speed_grade = "2400R";
    CHECK_THROWS_AS(TimingChecker(s), UserError);
  }
}

TEST_CASE("dram checker: a trace without refresh is caught, postponed REFs are allowed up to the limit",
          "[dram][checker][refresh]") {
  // DDR4-3200: tREFI 12480 clocks, up to 8 REFs postponed, so REFs fall due at k x 12480 and no more
  // than 8 may be outstanding: the longest gap is 9 x 12480 = 112320 cycles.
  const DramSpec s = dram_spec("ddr4-3200");
  const std::int64_t refi = 12480, limit = 9 * refi, rfc = 560;
  using C = DramCommand;
  SECTION("a simulated run whose preset has a tREFI far above JEDEC's issues no REF and is flagged") {
    // tREFI 10^7: no REF in a run of 130 reads 1000 cycles apart (about 130,000 cycles > 112320).
    const DramSpec slow = dram_spec("ddr4-3200", {{"timing", {{"tREFI", 10000000}}}});
    std::vector<TraceRecord> t;
    for (int i = 0; i < 130; ++i) t.push_back(rd(dram_addr(slow, i % 4, 0, 7 + i, 0), 1000 * i));
    auto o = replay_checked(slow, t);
    CHECK(cycles_of(o, C::REF).empty());
    CHECK(o.violations == 1);
    CHECK(o.first_violation.find("refresh interval: rank 0 of channel 0 went") == 0);
    CHECK(o.first_violation.find("without a REF (since cycle 0), more than (8 postponed + 1) x tREFI = 112320") !=
          std::string::npos);
  }
  SECTION("a command trace with no REF at all") {
    auto v = check_command_trace(
        s, {cmd(C::ACT, 10, 0, 0, 3), cmd(C::PRE, 100, 0, 0), cmd(C::ACT, 200000, 0, 0, 4), cmd(C::PRE, 200100, 0, 0)});
    REQUIRE(v.size() == 1);
    CHECK(v[0].message() ==
          "refresh interval: rank 0 of channel 0 went 200100 cycles without a REF (since cycle 0), more than (8 "
          "postponed + 1) x tREFI = 112320 (end of the trace at cycle 200100)");
  }
  SECTION("a REF every tREFI passes") {
    std::vector<CommandRecord> t;
    for (int k = 1; k <= 20; ++k) t.push_back(cmd(C::REF, k * refi));
    CHECK(check_command_trace(s, t).empty());
  }
  SECTION("8 REFs postponed, then 9 back to back at 9 tREFI, passes; one cycle later fails") {
    for (std::int64_t first : {limit, limit + 1}) {
      std::vector<CommandRecord> t;
      for (int k = 0; k < 9; ++k) t.push_back(cmd(C::REF, first + k * rfc));
      for (int k = 10; k <= 12; ++k) t.push_back(cmd(C::REF, k * refi));
      auto v = check_command_trace(s, t);
      INFO(first << ": " << (v.empty() ? std::string("none") : v[0].message()));
      CHECK(v.size() == (first == limit ? 0u : 1u));
      if (!v.empty()) CHECK(has_prefix(v, "refresh interval: rank 0 of channel 0 went 112321 cycles"));
    }
  }
  SECTION("a REF every 9 tREFI never leaves a gap over the limit, but owes more than 8 REFs") {
    // At the second REF (cycle 224640) the REFs due before it are floor((224640 - 1) / 12480) = 17,
    // one was issued: 16 owed > 8.
    auto v = check_command_trace(s, {cmd(C::REF, limit), cmd(C::REF, 2 * limit)});
    REQUIRE(v.size() == 1);
    CHECK(v[0].constraint ==
          "refresh interval: rank 0 of channel 0 owes 16 REFs at cycle 224640, more than the 8 "
          "that may be postponed");
  }
  SECTION("DDR5 allows 4 postponed REFs: a gap of 5 tREFI") {
    // DDR5-4800: tREFI 3.9 us / 0.416 ns = 9375 clocks; 5 x 9375 = 46875.
    const DramSpec d5 = dram_spec("ddr5-4800");
    CHECK(check_command_trace(d5, {cmd(C::REF, 46875)}).empty());
    CHECK(has_prefix(check_command_trace(d5, {cmd(C::REF, 46876)}), "refresh interval"));
  }
}

TEST_CASE("dram presets: a sequential read stream on one channel of each preset, checked and bounded",
          "[dram][presets][bw]") {
  // One channel, 512 reads of consecutive bursts from cycle 0. RoBaRaCoCh puts consecutive bursts in one
  // row of one bank (same bank group: at most one RD per tCCD_L), then the next row in the next bank.
  // Upper bound: the channel's peak (burst_bytes per BL/2 clocks). Floor, by hand: the stream takes at most
  //   T = f + tRCD + CL + BL/2 + (512 - 1) x max(tCCD_L, BL/2) + (rows - 1) x (f + tRCD + 2)
  // cycles (each row change stalls at worst a frontend pipeline, a tRCD and a command slot or two), rows =
  // 512 / bursts_per_row, and every preset's stream ends before its first REF (512 x tCCD_L < tREFI).
  for (const char* p : kPresets) {
    INFO(p);
    const DramSpec s = dram_spec(p, {{"channels", 1}});
    const DramTiming& t = s.t;
    const int n = 512;
    REQUIRE(std::int64_t(n) * t.tCCD_L < t.tREFI);
    const std::int64_t rows = n / s.bursts_per_row();
    const std::int64_t worst = s.frontend_cycles + t.tRCD + t.CL + s.burst_cycles() +
                               std::int64_t(n - 1) * std::max(t.tCCD_L, s.burst_cycles()) +
                               (rows - 1) * (s.frontend_cycles + t.tRCD + 2);
    const double tck_s = double(s.tCK_fs) * 1e-15;
    const double floor_gbps = double(n) * s.burst_bytes() / (double(worst) * tck_s) / 1e9;
    const double peak_gbps = s.peak_bytes_per_second() / 1e9;
    auto o = replay_checked(s, sequential_reads(s, n));
    INFO(o.first_violation);
    CHECK(o.violations == 0);
    const double gbps = o.stats["bandwidth"]["achieved_GBps"].get<double>();
    INFO("achieved " << gbps << " GB/s, floor " << floor_gbps << ", peak " << peak_gbps);
    CHECK(gbps <= peak_gbps);
    CHECK(gbps >= floor_gbps);
    CHECK(o.stats["requests"]["reads"] == n);
  }
}
