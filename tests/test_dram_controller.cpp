// Simulated behaviour of the cycle-accurate DRAM controller against hand-derived expectations. Every
// simulation runs in a forked child and its full command trace goes through the independent timing
// checker, which must find zero violations.
//
// Conventions: a request accepted at cycle a may be scheduled from a + frontend_cycles (f); a read is
// done at RD + CL + BL/2; the trace driver submits at most one request per cycle.
#include <catch2/catch.hpp>

#include "common/sim_time.h"
#include "hw/dram/cycle_dram.h"
#include "hw/dram/dram_controller.h"
#include "hw/dram/dram_engine.h"
#include "test_dram_support.h"

using namespace attnsim;
using namespace attnsim::test;

namespace {
const DramCommand ACT = DramCommand::ACT, PRE = DramCommand::PRE, RD = DramCommand::RD, WR = DramCommand::WR,
                  REF = DramCommand::REF;

std::int64_t stat_i(const Json& s, const char* a, const char* b) { return s[a][b].get<std::int64_t>(); }
double stat_d(const Json& s, const char* a, const char* b) { return s[a][b].get<double>(); }
}  // namespace

TEST_CASE("dram: unloaded read latency per preset (row miss, then row conflict)", "[dram][latency]") {
  // Two reads to one bank, far apart: the first finds the bank closed (ACT, RD), the second finds another
  // row open (PRE, ACT, RD). Latency from acceptance to the last data beat:
  //   miss     = f + tRCD + CL + BL/2
  //   conflict = f + tRP + tRCD + CL + BL/2      (idle random reads are mostly misses: refresh closes
  //                                               every bank each tREFI; test_dram_calibration.cpp)
  // DDR4-3200  (tCK 0.625 ns):  miss 1+22+22+4 = 49 (30.6 ns); conflict 1+22+22+22+4 = 71 = 44.375 ns,
  //            DRAMSim3's two idle peaks (traces/dramsim3_reference.json): its one controller cycle is f = 1.
  // LPDDR4-4266 (0.46875 ns):   miss 1+39+36+8 = 84 (39.4 ns); conflict 1+45+39+36+8 = 129 (60.5 ns; tRP is
  //                             tRPab, 21 ns = 45, as the PREA before a REF needs it).
  // HBM2       (1 ns):          miss 1+14+14+2 = 31 (31 ns);   conflict 1+14+14+14+2 = 45 (45 ns).
  // HBM3       (0.3125 ns):     miss 1+45+48+4 = 98 (30.6 ns); conflict 1+45+45+48+4 = 143 (44.7 ns).
  // DDR5-4800  (0.416 ns):      miss 1+39+40+8 = 88 (36.6 ns); conflict 1+39+39+40+8 = 127 (52.8 ns).
  // LPDDR5-6400 (0.3125 ns):    miss 4+58+68+8 = 138 (43.1 ns); conflict 4+68+58+68+8 = 206 (64.375 ns).
  // GDDR6-16000 (0.125 ns):     miss 4+128+112+8 = 252 (31.5 ns); conflict 4+128+128+112+8 = 380 (47.5 ns).
  struct Case {
    const char* preset;
    std::int64_t miss, conflict;
    double conflict_ns;
  };
  for (const Case& c : {Case{"ddr4-3200", 49, 71, 44.375}, Case{"lpddr4-4266", 84, 129, 60.469},
                        Case{"hbm2", 31, 45, 45.0}, Case{"hbm3", 98, 143, 44.6875}, Case{"ddr5-4800", 88, 127, 52.832},
                        Case{"lpddr5-6400", 138, 206, 64.375}, Case{"gddr6-16000", 252, 380, 47.5}}) {
    INFO(c.preset);
    const DramSpec s = dram_spec(c.preset);
    // 2000 cycles apart: less than every preset's tREFI, so no refresh interferes.
    auto o = replay_checked(s, {rd(dram_addr(s, 0, 0, 1, 0), 0), rd(dram_addr(s, 0, 0, 2, 0), 2000)});
    CHECK(o.violations == 0);
    INFO(o.first_violation);
    CHECK(stat_i(o.stats, "read_latency_cycles", "max") == c.conflict);
    CHECK(stat_d(o.stats, "read_latency_cycles", "mean") == Approx((c.miss + c.conflict) / 2.0));
    CHECK(stat_d(o.stats, "read_latency_ns", "max") == Approx(c.conflict_ns).margin(0.001));
    CHECK(stat_i(o.stats, "row_buffer", "misses") == 1);
    CHECK(stat_i(o.stats, "row_buffer", "conflicts") == 1);
  }
}

TEST_CASE("dram: streaming reads in one bank group are bounded by tCCD_L, across groups by tCCD_S", "[dram][bw]") {
  const DramSpec s = dram_spec("ddr4-3200");
  {
    // 128 reads of one 8 KB row (one bank): ACT at f = 1, first RD at 1 + tRCD = 23, then one RD per
    // tCCD_L = 8 cycles: last RD at 23 + 127 * 8 = 1039, its data done at 1039 + CL + BL/2 = 1065.
    // Steady state: 64 B per 8 cycles of 0.625 ns = 12.8 GB/s, 50% of the 25.6 GB/s peak.
    std::vector<TraceRecord> t;
    for (int col = 0; col < 128; ++col) t.push_back(rd(dram_addr(s, 0, 0, 3, col)));
    auto o = replay_checked(s, t);
    CHECK(o.violations == 0);
    CHECK(o.cycles == 1065);
    auto rds = cycles_of(o, RD);
    REQUIRE(rds.size() == 128);
    for (size_t i = 1; i < rds.size(); ++i) CHECK(rds[i] - rds[i - 1] == 8);
  }
  {
    // Two banks in different bank groups, requests alternating: ACT A at 1, ACT B at 1 + tRRD_S = 5,
    // RD A at 23, RD B at 5 + tRCD = 27, then one RD every tCCD_S = 4 cycles (each group sees tCCD_L = 8):
    // last RD at 23 + 127 * 4 = 531, done at 531 + 26 = 557. The data bus is 100% busy from 45 on.
    std::vector<TraceRecord> t;
    for (int col = 0; col < 64; ++col) {
      t.push_back(rd(dram_addr(s, 0, 0, 3, col)));
      t.push_back(rd(dram_addr(s, 1, 0, 3, col)));
    }
    auto o = replay_checked(s, t);
    CHECK(o.violations == 0);
    CHECK(o.cycles == 557);
    auto rds = cycles_of(o, RD);
    REQUIRE(rds.size() == 128);
    for (size_t i = 1; i < rds.size(); ++i) CHECK(rds[i] - rds[i - 1] == 4);
  }
}

TEST_CASE("dram: activations are bounded by tRRD_S/tRRD_L and tFAW", "[dram][bw]") {
  // 16 reads to 16 different banks (bank groups alternate: bank i is in group i % 4), all rows closed:
  // ACTs at 1, 5, 9, 13 (tRRD_S = 4; same group only every 16 >= tRRD_L = 8). The fifth waits for tFAW
  // after the first, 1 + 34 = 35, but the command bus is taken at 35 by the RD of the fourth request
  // (13 + tRCD = 35; row hits go first), so 36; then 40, 44, 48 (their RDs at 58, 62, 66, 70); the ninth
  // at 36 + 34 = 70 -> 71 (RD at 70), ...; the thirteenth at 71 + 34 = 105 -> 106 (RD at 105).
  // So random reads (one ACT each) cannot exceed 4 x 64 B per tFAW = 256 B / 21.25 ns = 12.05 GB/s (47% of
  // peak) on one DDR4-3200 rank, whatever the queue depth (the 1M random-read benchmark reaches 43%).
  const DramSpec s = dram_spec("ddr4-3200");
  std::vector<TraceRecord> t;
  for (int i = 0; i < 16; ++i) t.push_back(rd(dram_addr(s, i % 4, i / 4, 5 + i, 0)));
  auto o = replay_checked(s, t);
  CHECK(o.violations == 0);
  CHECK(cycles_of(o, ACT) ==
        std::vector<std::int64_t>{1, 5, 9, 13, 36, 40, 44, 48, 71, 75, 79, 83, 106, 110, 114, 118});
}

TEST_CASE("dram: a stride that opens a new row in the same bank every access is bounded by tRC", "[dram][bw]") {
  // 16 reads, same bank, a new row each: every read needs PRE + ACT. ACT-to-ACT = max(tRC, tRAS + tRP,
  // tRCD + tRTP + tRP) = max(74, 52 + 22, 22 + 12 + 22) = 74 cycles = 46.25 ns: 64 B per 46.25 ns =
  // 1.38 GB/s. ACTs at 1 + 74 k; the last RD at 1 + 15 * 74 + 22 = 1133, done at 1159.
  const DramSpec s = dram_spec("ddr4-3200");
  std::vector<TraceRecord> t;
  for (int i = 0; i < 16; ++i) t.push_back(rd(dram_addr(s, 0, 0, 100 + i, 0)));
  auto o = replay_checked(s, t);
  CHECK(o.violations == 0);
  auto acts = cycles_of(o, ACT);
  REQUIRE(acts.size() == 16);
  for (size_t i = 0; i < acts.size(); ++i) CHECK(acts[i] == 1 + 74 * std::int64_t(i));
  CHECK(o.cycles == 1159);
  CHECK(stat_i(o.stats, "row_buffer", "conflicts") == 15);
}

TEST_CASE("dram: refresh is issued every tREFI per rank and blocks the rank for tRFC", "[dram][refresh]") {
  const DramSpec s = dram_spec("ddr4-3200", {{"ranks", 2}});
  {
    // A read accepted at tREFI - 1 = 12479 is ready at 12480, when rank 0's REF falls due; the REF goes
    // first (all banks closed, so no PREA): the ACT waits until 12480 + tRFC = 13040, RD at 13062,
    // done at 13088: latency 13088 - 12479 = 609 cycles instead of 49.
    auto o = replay_checked(s, {rd(dram_addr(s, 0, 0, 1, 0), 12479)});
    CHECK(o.violations == 0);
    CHECK(stat_i(o.stats, "read_latency_cycles", "max") == 609);
    auto refs = cycles_of(o, REF);
    REQUIRE(!refs.empty());
    CHECK(refs[0] == 12480);
    CHECK(cycles_of(o, ACT) == std::vector<std::int64_t>{13040});
  }
  {
    // Reads every 997 cycles for ~10 tREFI over both ranks. Rank 0's REFs fall due at k tREFI, rank 1's at
    // k tREFI + tREFI / 2 (staggered); each is issued within tRP (+ a few cycles of PREA) of its due time,
    // so the REF count is floor(T / tREFI) + floor((T - tREFI / 2) / tREFI), T the simulated cycles.
    std::vector<TraceRecord> t;
    for (int i = 0; i < 130; ++i) t.push_back(rd(dram_addr(s, i % 4, 0, 7 + i, i % 128, 0, i % 2), 997 * i));
    auto o = replay_checked(s, t);
    CHECK(o.violations == 0);
    const std::int64_t T = o.cycles, refi = 12480;
    const std::int64_t expected = T / refi + (T - refi / 2) / refi;
    CHECK(stat_i(o.stats, "commands", "REF") == expected);
    // Every REF is within tRP + tRAS of its due time (PREA may have to wait for tRAS of an open row).
    auto refs = cycles_of(o, REF);
    for (const auto& c : o.commands)
      if (c.cmd == REF) {
        const std::int64_t phase = c.rank == 0 ? 0 : refi / 2;
        const std::int64_t late = (c.cycle - phase) % refi;
        CHECK(late <= 22 + 52);
      }
  }
}

TEST_CASE("dram: FR-FCFS lets a younger row hit overtake an older row conflict", "[dram][sched]") {
  // A opens row 0 of bank 0 (ACT 1, RD 23). B (row 1, same bank, older) needs PRE + ACT; C (row 0,
  // younger) hits the open row. FR-FCFS issues C's RD at 23 + tCCD_L = 31 and holds B's PRE while a
  // queued request still hits row 0; B then goes PRE at 1 + tRAS = 53, ACT 75, RD 97.
  const DramSpec s = dram_spec("ddr4-3200");
  auto o =
      replay_checked(s, {rd(dram_addr(s, 0, 0, 0, 0)), rd(dram_addr(s, 0, 0, 1, 0)), rd(dram_addr(s, 0, 0, 0, 1))});
  CHECK(o.violations == 0);
  std::vector<std::pair<std::int64_t, std::int64_t>> rds;  // (cycle, row)
  for (const auto& c : o.commands)
    if (c.cmd == RD) rds.push_back({c.cycle, c.row});
  REQUIRE(rds.size() == 3);
  CHECK(rds[0] == std::make_pair(std::int64_t(23), std::int64_t(0)));
  CHECK(rds[1] == std::make_pair(std::int64_t(31), std::int64_t(0)));  // C before B
  CHECK(rds[2] == std::make_pair(std::int64_t(97), std::int64_t(1)));
  CHECK(cycles_of(o, PRE) == std::vector<std::int64_t>{53});
  CHECK(stat_i(o.stats, "row_buffer", "hits") == 1);
  CHECK(stat_i(o.stats, "row_buffer", "misses") == 1);
  CHECK(stat_i(o.stats, "row_buffer", "conflicts") == 1);
}

TEST_CASE("dram: write drain between the high and low watermarks", "[dram][sched]") {
  // write_queue 8, write_high 6, write_low 2. Six writes (bank group 1) then 30 reads (bank group 0).
  // The writes are queued first (reads empty: write mode); with 6 >= write_high the controller drains
  // writes until only write_low = 2 are left while reads wait: WR x4; then serves all reads, and only when
  // the read queue is empty the 2 remaining writes: command order ACT WR WR WR WR ACT RD x30 WR WR.
  const DramSpec s = dram_spec("ddr4-3200", {{"write_queue", 8}, {"write_high", 6}, {"write_low", 2}});
  std::vector<TraceRecord> t;
  for (int i = 0; i < 6; ++i) t.push_back(wr(dram_addr(s, 1, 0, 4, i)));
  for (int i = 0; i < 30; ++i) t.push_back(rd(dram_addr(s, 0, 0, 4, i)));
  auto o = replay_checked(s, t);
  CHECK(o.violations == 0);
  std::string order;
  for (const auto& c : o.commands)
    if (c.cmd == RD || c.cmd == WR) order += c.cmd == RD ? 'R' : 'W';
  CHECK(order == "WWWW" + std::string(30, 'R') + "WW");
  CHECK(stat_i(o.stats, "requests", "writes") == 6);
}

TEST_CASE("dram: a full queue blocks the requester (back-pressure)", "[dram][sched]") {
  // One shared read queue (bank_queue 0) of 4, one transfer of 12 reads of one row (columns 0..11, adjacent
  // addresses under RoBaRaCoCh)
  // handed over at cycle 0: four are accepted at cycle 0, the fifth only when the first RD (at 1 + tRCD = 23)
  // frees a slot; the queue never holds more than 4. The engine runs alone, cycle by cycle, and the accept
  // cycle of each burst is read from the transfer's progress.
  const DramSpec s = dram_spec("ddr4-3200", {{"read_queue", 4}, {"bank_queue", 0}});
  const std::uint64_t base = dram_addr(s, 0, 0, 2, 0);
  for (int i = 0; i < 12; ++i) REQUIRE(dram_addr(s, 0, 0, 2, i) == base + std::uint64_t(i) * 64);
  DramStats stats;
  DramEngine engine(s, &stats);
  engine.record_commands(true);
  DramTransfer t;
  t.next_addr = base;
  t.end_addr = base + 12 * 64;
  engine.add(&t, 0);
  std::vector<std::int64_t> accepted;
  for (std::int64_t x = 0; engine.in_flight() > 0; ++x) {
    engine.run_until(x);
    while (accepted.size() < std::size_t((t.next_addr - base) / 64)) accepted.push_back(x);
    REQUIRE(x < 10000);
  }
  CHECK(check_command_trace(s, engine.command_trace()).empty());
  CHECK(stats.read_queue_max == 4);
  // Four accepted at cycle 0; then one per RD: 23, 31, 39, ... (tCCD_L apart).
  CHECK(accepted == std::vector<std::int64_t>{0, 0, 0, 0, 23, 31, 39, 47, 55, 63, 71, 79});
  // The transfer is done at its last RD's data: RD 11 at 23 + 11 x 8 = 111, done 111 + CL 22 + BL/2 4 = 137.
  CHECK(engine.finished().size() == 1);
  CHECK(t.last_done_cycle == 137);
}

TEST_CASE("dram: the cycle model behind IDram serves concurrent transfers", "[dram][idram]") {
  // One 4 KiB read (64 bursts in one 8 KB row of one bank): ACT 1, RDs at 23 + 8 k, last at 527, done
  // at 553 cycles = 345.625 ns. A second thread's 1 KiB write to another bank group runs concurrently.
  Json doc = Json::parse(R"({"array": {"rows": 8, "cols": 8, "clock_mhz": 1000},
      "sram": {"banks": 2, "bytes_per_bank": 65536, "port_bytes": 64},
      "dram": {"model": "cycle", "preset": "ddr4-3200", "channels": 1}})");
  HwConfig hw = parse_hw_config(doc, "test");
  CHECK(hw.dram.model == DramModel::Cycle);
  CHECK(hw.dram.peak_bytes_per_cycle == Approx(25.6));  // 25.6 GB/s at 1 GHz
  auto r = run_isolated([&] {
    init_sim_time();
    auto dram = make_dram(hw);
    auto* cycle = dynamic_cast<CycleDram*>(dram.get());
    cycle->controller().record_commands(true);
    const DramSpec& s = cycle->controller().spec();
    std::int64_t t_read = -1, t_write = -1;
    sc_core::sc_spawn([&] {
      dram->transfer(dram_addr(s, 0, 0, 9, 0), 4096, false);
      t_read = now_fs();
    });
    sc_core::sc_spawn([&] {
      dram->transfer(dram_addr(s, 2, 0, 9, 0) + 16, 1024, true);  // unaligned: 17 bursts
      t_write = now_fs();
    });
    sc_core::sc_start();
    Json out, stats;
    dram->write_stats(stats);
    out["t_read_fs"] = t_read;
    out["t_write_fs"] = t_write;
    out["stats"] = stats;
    out["read_bytes"] = dram->bytes_read();
    out["violations"] = check_command_trace(s, cycle->controller().command_trace()).size();
    return out.dump();
  });
  REQUIRE(r.exit_status == 0);
  INFO(r.output);
  Json j = Json::parse(r.output);
  CHECK(j["violations"] == 0);
  CHECK(j["read_bytes"] == 4096);
  CHECK(j["stats"]["requests"]["reads"] == 64);
  CHECK(j["stats"]["requests"]["writes"] == 17);
  CHECK(j["t_write_fs"].get<std::int64_t>() > 0);
  // The writes share the command bus and cost the reads some cycles; alone the read would take 553 cycles.
  CHECK(j["t_read_fs"].get<std::int64_t>() >= 553 * 625000);
}

TEST_CASE("dram: a read alone through IDram takes the hand-derived time", "[dram][idram]") {
  const DramSpec s = dram_spec("ddr4-3200");
  auto r = run_isolated([&] {
    init_sim_time();
    CycleDram dram(s, 1000000);
    dram.controller().record_commands(true);
    std::int64_t t = -1;
    sc_core::sc_spawn([&] {
      dram.transfer(dram_addr(s, 0, 0, 9, 0), 4096, false);
      t = now_fs();
    });
    sc_core::sc_start();
    return std::to_string(t) + " " + std::to_string(check_command_trace(s, dram.controller().command_trace()).size());
  });
  REQUIRE(r.exit_status == 0);
  CHECK(r.output == std::to_string(553 * 625000) + " 0");  // ACT 1, last RD 23 + 63 * 8 = 527, done 553: 345.625 ns
}

TEST_CASE("dram: a write is posted: done the cycle after its write queue accepts its last burst", "[dram][idram]") {
  // DDR4-3200, one 1 KiB write alone (16 bursts of one row, one bank): all 16 accepted at cycle 0 (the write
  // queue holds 32), so the requester is done at cycle 1 (0.625 ns). The bursts are still written:
  // write mode (no reads), ACT 1 (front end 1), WRs at 1 + tRCD 22 = 23 + 8 k (tCCD_L), the last at
  // 23 + 15 x 8 = 143, its data done at 143 + CWL 16 + BL/2 4 = 163: the run lasts until then.
  const DramSpec s = dram_spec("ddr4-3200");
  auto r = run_isolated([&] {
    init_sim_time();
    CycleDram dram(s, 1000000);
    dram.controller().record_commands(true);
    std::int64_t t = -1;
    sc_core::sc_spawn([&] {
      dram.transfer(dram_addr(s, 0, 0, 9, 0), 1024, true);
      t = now_fs();
    });
    sc_core::sc_start();
    const auto cmds = dram.controller().command_trace();
    std::int64_t last_wr = -1;
    for (const auto& c : cmds)
      if (c.cmd == DramCommand::WR) last_wr = c.cycle;
    return std::to_string(t) + " " + std::to_string(now_fs()) + " " + std::to_string(last_wr) + " " +
           std::to_string(check_command_trace(s, cmds).size());
  });
  REQUIRE(r.exit_status == 0);
  CHECK(r.output == std::to_string(625000) + " " + std::to_string(163 * 625000) + " 143 0");
}

TEST_CASE("dram: a posted write waits for write queue slots (back-pressure), then is done", "[dram][sched]") {
  // A write queue of 4 (write_high 4, write_low 1), one transfer of 12 writes of one row handed over at cycle
  // 0: four accepted at 0, each later one when a WR frees a slot: WRs at 1 + tRCD 22 = 23 + 8 k (tCCD_L), so
  // burst 4 + k is accepted at 23 + 8 k, the last (k = 7) at 79: the transfer is done at 80, while four of
  // its bursts (8..11) still wait in the queue for their WRs. Their data ends at the last WR (23 + 11 x 8 =
  // 111) + CWL 16 + BL/2 4 = 131.
  const DramSpec s = dram_spec("ddr4-3200", {{"write_queue", 4}, {"write_high", 4}, {"write_low", 1}});
  const std::uint64_t base = dram_addr(s, 0, 0, 2, 0);
  DramStats stats;
  DramEngine engine(s, &stats);
  engine.record_commands(true);
  DramTransfer t;
  t.next_addr = base;
  t.end_addr = base + 12 * 64;
  t.is_write = true;
  engine.add(&t, 0);
  CHECK(engine.posted_waiting() == 1);
  std::int64_t done_seen_at = -1;
  std::uint64_t in_flight_then = 0;
  for (std::int64_t x = 0; engine.in_flight() > 0; ++x) {
    engine.run_until(x);
    if (done_seen_at < 0 && !engine.finished().empty()) done_seen_at = x, in_flight_then = engine.in_flight();
    REQUIRE(x < 10000);
  }
  CHECK(check_command_trace(s, engine.command_trace()).empty());
  CHECK(stats.write_queue_max == 4);
  CHECK(engine.posted_waiting() == 0);
  REQUIRE(engine.finished().size() == 1);
  CHECK(done_seen_at == 79);  // the step that accepts the last burst
  CHECK(t.last_done_cycle == 80);
  CHECK(in_flight_then == 4);  // a burst leaves the count at its WR: 8 of 12 by cycle 79
  CHECK(engine.last_done_cycle() == 131);
}
