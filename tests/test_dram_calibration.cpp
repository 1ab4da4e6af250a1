// Latency calibration of the cycle-accurate controller (configs/dram/*.json, frontend_cycles): the idle
// mean read latency derived by hand from the row-hit / miss / conflict / refresh-collision mix, and the
// committed idle trace against DRAMSim3's recorded figures (traces/dramsim3_reference.json; DRAMSim3 is
// not run here).
#include <catch2/catch.hpp>
#include <fstream>

#include "test_dram_support.h"

using namespace attnsim;
using namespace attnsim::test;

TEST_CASE("dram calibration: the idle mean follows from the hit/miss/conflict/refresh mix by hand",
          "[dram][calibration]") {
  // DDR4-3200 (frontend F = 1, tRCD = tRP = CL = 22, BL/2 = 4, tRFC 560, tREFI 12480), one bank.
  // 120 reads, read i at cycle 1040 i, rows 0, 0, 1, 0, 0, 1, ... (row of i = i % 3 == 2 ? 1 : 0).
  // A read is measured from acceptance to its last data beat:
  //   hit      F + CL + BL/2                               = 1 + 22 + 4           = 27
  //   miss     F + tRCD + CL + BL/2                        = 1 + 22 + 22 + 4      = 49
  //   conflict F + tRP + tRCD + CL + BL/2                  = 1 + 22 + 22 + 22 + 4 = 71
  //   refresh  arrives as refresh k falls due (12 x 1040 = tREFI, so reads i = 12 k, k >= 1): PREA at
  //            its arrival, REF tRP later, ACT tRFC after the REF, RD tRCD later:
  //            tRP + tRFC + tRCD + CL + BL/2 = 22 + 560 + 22 + 22 + 4 = 630 (counted as a miss: its
  //            first command is an ACT)
  // Mix: i % 3 == 1 hits the row its predecessor opened (40 reads); i % 3 == 2 conflicts (40); i % 3 == 0
  // conflicts (row 1 is open) except i = 0 (miss, the bank is closed) and i = 12, 24, ..., 108 (9 refresh
  // collisions): 40 - 1 - 9 = 30 conflicts. Hits 40, misses 1 + 9, conflicts 70.
  //   mean = (40 x 27 + 1 x 49 + 70 x 71 + 9 x 630) / 120 = (1080 + 49 + 4970 + 5670) / 120 = 11769 / 120
  const DramSpec s = dram_spec("ddr4-3200");
  REQUIRE(s.frontend_cycles == 1);
  std::vector<TraceRecord> trace;
  for (int i = 0; i < 120; ++i) trace.push_back(rd(dram_addr(s, 0, 0, i % 3 == 2 ? 1 : 0, 0), 1040 * i));
  const ReplayOutcome o = replay_checked(s, trace);
  CHECK(o.violations == 0);
  CHECK(o.stats["row_buffer"]["hits"] == 40);
  CHECK(o.stats["row_buffer"]["misses"] == 10);
  CHECK(o.stats["row_buffer"]["conflicts"] == 70);
  CHECK(o.stats["commands"]["REF"] == 9);
  CHECK(o.stats["read_latency_cycles"]["mean"].get<double>() == Approx(11769.0 / 120).margin(0.0005));
  CHECK(o.stats["read_latency_cycles"]["max"] == 630);
}

TEST_CASE("dram calibration: DDR4 and HBM2 idle random latency against DRAMSim3's recorded figures",
          "[dram][calibration]") {
  // traces/idle_random_1000.dramsim3.trace: 1000 random reads over 1 GiB, one every 1000 cycles. DRAMSim3
  // (traces/dramsim3_reference.json): DDR4 one rank mean 71.69, median 49 = 1 + tRCD + CL + BL/2;
  // HBM2 one channel mean 45.57, median 31 = 1 + 14 + 14 + 2. With 1000-cycle gaps most reads find their
  // bank closed by the last refresh (a miss), so the median is the miss latency, F + tRCD + CL + BL/2.
  const std::string path = std::string(ATTNSIM_SOURCE_DIR) + "/traces/idle_random_1000.dramsim3.trace";
  struct Case {
    const char* preset;
    Json overrides;
    double reference_mean;
  };
  for (const Case& c : {Case{"ddr4-3200", Json::object(), 71.69}, Case{"hbm2", Json{{"channels", 1}}, 45.57}}) {
    INFO(c.preset);
    const DramSpec s = dram_spec(c.preset, c.overrides);
    const Trace tr = read_trace_file(path, TraceFormat::DramSim3, s.tCK_fs, std::uint64_t(s.capacity_bytes()));
    const ReplayOutcome o = replay_checked(s, tr.records);
    CHECK(o.violations == 0);
    const auto& rb = o.stats["row_buffer"];
    CHECK(rb["misses"].get<int>() > 500);
    CHECK(o.stats["read_latency_cycles"]["p50"] == s.frontend_cycles + s.t.tRCD + s.t.CL + s.burst_cycles());
    // Within 1 % of DRAMSim3's mean (the mixes differ only in which reads meet a refresh).
    CHECK(o.stats["read_latency_cycles"]["mean"].get<double>() == Approx(c.reference_mean).epsilon(0.01));
  }
}
