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

TEST_CASE("dram calibration: per-bank read queues hold back a bank's reads beyond bank_queue", "[dram][calibration]") {
  // DDR4-3200 (F = 1, tRCD 22, CL 22, BL/2 4, tCCD_L 8): 20 reads of one row of one bank, read k offered at
  // cycle k. ACT at 1 (accepted 0, F = 1), RD k at 1 + tRCD + 8 k = 23 + 8 k, done 26 later: 49 + 8 k.
  //   bank_queue 8, read_queue 32: reads 8..19 wait in the transaction queue (12 <= 32); read k >= 8 enters
  //     the bank's queue at the RD of read k - 8 (23 + 8 (k - 8)), long before its own RD: the same cycles as
  //     one shared queue. Latency from acceptance (cycle k): 49 + 7 k, mean 49 + 7 x 9.5 = 115.5, max 182.
  //     The scheduler's queue never holds more than 8.
  //   bank_queue 8, read_queue 4: reads 8..11 wait; read 12 is accepted only when read 8 leaves for the bank
  //     queue at read 0's RD (23), read k >= 12 at 23 + 8 (k - 12), so it waits 23 + 8 k + 26 - (8 k - 73) = 122.
  //     Mean (sum_{k<12} (49 + 7 k) + 8 x 122) / 20 = (588 + 462 + 976) / 20 = 101.3, max read 11's 49 + 77 = 126.
  //     Same commands, same cycles (201).
  struct Case {
    int read_queue;
    double mean;
    int max;
  };
  for (const Case& c : {Case{32, 115.5, 182}, Case{4, 101.3, 126}}) {
    INFO("read_queue " << c.read_queue);
    const DramSpec s = dram_spec("ddr4-3200", Json{{"bank_queue", 8}, {"read_queue", c.read_queue}});
    REQUIRE(s.frontend_cycles == 1);
    std::vector<TraceRecord> trace;
    for (int k = 0; k < 20; ++k) trace.push_back(rd(dram_addr(s, 1, 2, 7, k), k));
    const ReplayOutcome o = replay_checked(s, trace);
    CHECK(o.violations == 0);
    CHECK(o.cycles == 201);
    CHECK(o.stats["queues"]["read_max"] == 8);
    CHECK(o.stats["read_latency_cycles"]["mean"].get<double>() == Approx(c.mean).margin(0.0005));
    CHECK(o.stats["read_latency_cycles"]["max"] == c.max);
  }
}

TEST_CASE("dram calibration: DDR4 and HBM2 loaded latency and bandwidth against DRAMSim3's recorded figures",
          "[dram][calibration]") {
  // traces/dramsim3_reference.json "loaded_runs": DRAMSim3's mean read latency (acceptance to data, every read
  // of the trace) and bytes per cycle (reads x 64 B / the last read's completion cycle) on Poisson random
  // reads at a mean gap of 32, 16, 12 and 10 cycles (up to ~90 % of the random-read bandwidth), sequential
  // reads every 8, 6, 4 and 3 cycles, and the two saturating traces (one read offered per cycle). The presets
  // queue reads as DRAMSim3 does (bank_queue 8 behind a 32-entry transaction queue; before, one shared queue of
  // 32: streams -16 % latency and -12 % bandwidth, Poisson random at gap 10 -14 %, saturated random -72 %).
  // Below saturation and on the saturating stream: mean within 6 %, bandwidth within 1 %. Saturated random
  // reads: bandwidth within 3 %, mean latency 18 % (DDR4) and 42 % (HBM2) above DRAMSim3's: both hold up to
  // 32 + 8 x 16 reads, but DRAMSim3 serves its bank queues round robin and keeps fewer in flight (93.6 on
  // HBM2, 122.7 on DDR4, by Little's law from its figures) than FR-FCFS over all banks, oldest first, does
  // here; bounded at +50 % so that the gap cannot grow unnoticed.
  const Json ref = read_json_file(std::string(ATTNSIM_SOURCE_DIR) + "/traces/dramsim3_reference.json");
  int checked = 0;
  for (const Json& run : ref["loaded_runs"]) {
    const std::string preset = run["preset"].get<std::string>(), file = run["trace"].get<std::string>();
    INFO(preset << " " << file);
    Json overrides = Json::object();
    if (run.contains("channels")) overrides["channels"] = run["channels"];
    const DramSpec s = dram_spec(preset, overrides);
    const Trace tr = read_trace_file(std::string(ATTNSIM_SOURCE_DIR) + "/traces/" + file, TraceFormat::DramSim3,
                                     s.tCK_fs, std::uint64_t(s.capacity_bytes()));
    const ReplayOutcome o = replay_checked(s, tr.records);
    CHECK(o.violations == 0);
    const double mean = o.stats["read_latency_cycles"]["mean"].get<double>();
    const double bpc = double(run["reads"].get<int>()) * s.burst_bytes() / double(o.cycles);
    const double ref_mean = run["mean_cycles"].get<double>(), ref_bpc = run["bytes_per_cycle"].get<double>();
    if (file == "loaded_random.dramsim3.trace") {
      CHECK(bpc == Approx(ref_bpc).epsilon(0.03));
      CHECK(mean >= ref_mean);
      CHECK(mean <= 1.5 * ref_mean);
    } else {
      CHECK(mean == Approx(ref_mean).epsilon(0.06));
      CHECK(bpc == Approx(ref_bpc).epsilon(0.01));
    }
    ++checked;
  }
  CHECK(checked == 20);
}
