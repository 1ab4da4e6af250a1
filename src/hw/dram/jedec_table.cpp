#include "hw/dram/jedec_table.h"

#include <algorithm>
#include <cmath>

namespace attnsim {

namespace {

// {ns, nCK}: the minimum is the larger of the two.
constexpr JedecMin ns(double v) { return JedecMin{v, 0}; }
constexpr JedecMin ck(int v) { return JedecMin{0.0, v}; }
constexpr JedecMin both(int nck, double v) { return JedecMin{v, nck}; }

// Field order: standard, speed grade, tCK (ns), BL, CL, CWL,
//   tRCD, tRP, tRPab, tRAS, tRC, tCCD_S, tCCD_L, tRRD_S, tRRD_L, tFAW, tWR, tWTR_S, tWTR_L, tRTP, tRFC,
//   tREFI (ns), postponed REFs, tRTRS, source.
// clang-format off
const JedecSpeedGrade kTable[] = {
    // DDR4-3200AA (22-22-22), 8Gb, x8 (1 KB page). JESD79-4C speed bin table DDR4-3200AA (tAA = tRCD =
    // tRP = 13.75 ns, tRAS 32 ns, tRC 45.75 ns, CWL 16 at 1 tCK write preamble) and the timing table for
    // 1600-3200: tCCD_L max(5 nCK, 5 ns), tRRD_S(1K) max(4 nCK, 2.5 ns), tRRD_L(1K) max(4 nCK, 4.9 ns),
    // tFAW(1K) max(20 nCK, 21 ns), tWR 15 ns, tWTR_S max(2 nCK, 2.5 ns), tWTR_L max(4 nCK, 7.5 ns),
    // tRTP max(4 nCK, 7.5 ns); tRFC1(8Gb) 350 ns, tREFI 7.8 us (0-85 C); "up to 8 REF commands may be
    // postponed" (4.9.1). tRTRS: 1 clock, DRAMSim3's DDR4 value.
    {"DDR4", "3200AA", 0.625, 8, 22, 16,
     ns(13.75), ns(13.75), ns(13.75), ns(32), ns(45.75), ck(4), both(5, 5), both(4, 2.5), both(4, 4.9),
     both(20, 21), ns(15), both(2, 2.5), both(4, 7.5), both(4, 7.5), ns(350),
     7800, 8, 1, "JESD79-4C DDR4-3200AA, 8Gb x8",
     // tCKE max(3 nCK, 5 ns), tXP max(4 nCK, 6 ns), tCKESR = tCKE + 1 nCK, tXS = tRFC1 + 10 ns (JESD79-4C).
     both(3, 5), both(4, 6), both(4, 5.625), ns(360),
     // No per-bank refresh in DDR4.
     0, {}, {}, {}},
    // DDR5-4800B (40-39-39), 16Gb, x8 (1 KB page), one 32-bit subchannel, BL16. JESD79-5B: tAA 16.67 ns
    // (CL 40), tRCD = tRP 16 ns, tRAS 32 ns, tRC = tRAS + tRP; CWL = CL - 2; tCCD_S 8 nCK,
    // tCCD_L max(8 nCK, 5 ns), tRRD_S 8 nCK, tRRD_L max(8 nCK, 5 ns), tFAW(1K) max(32 nCK, 13.333 ns),
    // tWR 30 ns, tWTR_S max(4 nCK, 2.5 ns), tWTR_L max(16 nCK, 10 ns), tRTP max(12 nCK, 7.5 ns);
    // tRFC1(16Gb) 295 ns, tREFI 3.9 us; in normal refresh mode at most 4 REFab may be postponed.
    // Cross-checked with Ramulator 2's DDR5 tables (tRFC1 16Gb 295 ns, tREFI 3900 ns, nRRDS 8, nCCDS 8).
    // tRTRS: 2 clocks (Ramulator 2's nCS).
    {"DDR5", "4800B", 0.416, 16, 40, 38,
     ns(16), ns(16), ns(16), ns(32), ns(48), ck(8), both(8, 5), ck(8), both(8, 5),
     both(32, 13.333), ns(30), both(4, 2.5), both(16, 10), both(12, 7.5), ns(295),
     3900, 4, 2, "JESD79-5B DDR5-4800B, 16Gb x8",
     // DDR5 has no CKE: power-down by the PDE/PDX commands, tPD max(8 nCK, 7.5 ns) as tCKE, tXP max(8 nCK,
     // 7.5 ns); self-refresh: tCSL 10 ns as the shortest self-refresh (tCKESR), tXS = tRFC1 (295 ns) rounded up
     // with 10 ns as DDR4 (APPROXIMATE: JESD79-5B lists tXS = tRFC1 for the 1x refresh mode).
     both(8, 7.5), both(8, 7.5), ns(10), ns(305),
     // Same-bank refresh (REFsb, JESD79-5B): one REFsb refreshes the same bank of all 8 bank groups; tRFCsb(16Gb)
     // 130 ns; tREFSBRD 30 ns from a REFsb to a REFsb or an ACT of another bank.
     8, ns(130), ns(30), ns(30)},
    // LPDDR4-4266, 8Gb per channel, x16 channel, 8 banks, BL16. JESD209-4B at tCK 0.468 ns: RL 36 / WL 18
    // (set A, no DBI), tRCD 18 ns, tRPpb 18 ns, tRPab 21 ns, tRAS 42 ns, tRC = tRAS + tRPpb = 60 ns,
    // tCCD 8 nCK, tRRD max(4 nCK, 10 ns), tFAW 40 ns, tWR max(4 nCK, 18 ns), tWTR max(8 nCK, 10 ns),
    // tRTP max(8 nCK, 7.5 ns), tRFCab(8Gb) 280 ns, tREFI 3.904 us; up to 8 REFab may be postponed.
    // No bank groups: _S and _L are the same value.
    {"LPDDR4", "4266", 0.46875, 16, 36, 18,
     ns(18), ns(18), ns(21), ns(42), ns(60), ck(8), ck(8), both(4, 10), both(4, 10),
     ns(40), both(4, 18), both(8, 10), both(8, 10), both(8, 7.5), ns(280),
     3904, 8, 2, "JESD209-4B LPDDR4-4266, 8Gb per channel",
     // tCKE max(4 nCK, 7.5 ns), tXP max(5 nCK, 7.5 ns), tSR (shortest self-refresh) max(3 nCK, 15 ns) as tCKESR,
     // tXSR = tRFCab + 7.5 ns as tXS (JESD209-4B).
     both(4, 7.5), both(5, 7.5), both(3, 15), ns(287.5),
     // Per-bank refresh (REFpb, JESD209-4B): one bank; tRFCpb(8Gb) 140 ns, tPBR2PBR 90 ns, REFpb to an ACT of
     // another bank tRRD (max(4 nCK, 10 ns)).
     1, ns(140), ns(90), both(4, 10)},
    // LPDDR5-6400, 16Gb per channel, x16 channel, bank-group mode (4 bank groups x 4 banks), BL16.
    // JESD209-5B, CK 800 MHz = 4 of the DRAM clocks here (0.3125 ns, two beats each): RL 17 CK (set 0,
    // no DBI/ECC) = 68, WL 9 CK (set A) = 36, tCCD_S 2 CK = 8 (one BL16 burst), tCCD_L 4 CK = 16 (BG
    // mode), tRCD 18 ns, tRPpb 18 ns, tRPab 21 ns, tRAS 42 ns, tRC = tRAS + tRPpb = 60 ns, tRRD 5 ns,
    // tFAW 20 ns, tWR 34 ns, tWTR_S 6.25 ns, tWTR_L 12 ns, tRTP 7.5 ns, tRFCab(16Gb) 280 ns, tREFI
    // 3.906 us; up to 8 REFab may be postponed. Cross-checked with Ramulator 2's LPDDR5_6400 (tRFCab 16Gb
    // 280 ns, tREFI 3906 ns, nCCD 4 CK, nFAW 16 CK = 20 ns).
    {"LPDDR5", "6400", 0.3125, 16, 68, 36,
     ns(18), ns(18), ns(21), ns(42), ns(60), ck(8), ck(16), ns(5), ns(5),
     ns(20), ns(34), ns(6.25), ns(12), ns(7.5), ns(280),
     3906, 8, 2, "JESD209-5B LPDDR5-6400, 16Gb per channel, BG mode",
     // APPROXIMATE, as LPDDR4 (JESD209-5B names them tCSPD/tXP/tSR/tXSR, in CK = 4 clocks here): power-down
     // entry to exit 7.5 ns, tXP max(3 CK = 12, 7.5 ns), tSR max(3 CK, 15 ns), tXSR = tRFCab + 7.5 ns.
     ns(7.5), both(12, 7.5), both(12, 15), ns(287.5),
     // Per-bank refresh (REFpb, JESD209-5B), BG mode: one REFpb refreshes a bank pair (BA in BGn and BGn+2:
     // flat indices 8 apart); tRFCpb(16Gb) 140 ns, tpbR2pbR 90 ns, tpbR2act 7.5 ns.
     2, ns(140), ns(90), ns(7.5)},
    // HBM2 2.0 Gb/s (1 GHz), 8Gb per channel, 128-bit legacy channel, BL4. JESD235A values as DRAMSim3's
    // HBM2_8Gb_x128 tabulates them: RL 14, WL 4, tRCD 14 ns, tRP 14 ns, tRAS 34 ns, tRC = tRAS + tRP,
    // tCCD_S 1 / tCCD_L 2 nCK in BL2 units, which a BL4 burst (2 clocks) makes 2 / 2; tRRD_S 4,
    // tRRD_L 6, tFAW 30, tWR 16, tWTR_S 6, tWTR_L 8 nCK, tRTP 4 (tRTP_S), tRFC 260 ns, tREFI 3.9 us;
    // up to 8 REFs may be postponed (as DDR4).
    {"HBM2", "2000", 1.0, 4, 14, 4,
     ns(14), ns(14), ns(14), ns(34), ns(48), ck(2), ck(2), ck(4), ck(6),
     ck(30), ck(16), ck(6), ck(8), ck(4), ns(260),
     3900, 8, 1, "JESD235A HBM2 2.0 Gb/s, 8Gb per channel (DRAMSim3 HBM2_8Gb_x128)",
     // DRAMSim3's HBM2_8Gb_x128: tCKE 8, tXP 8 nCK, tXS 268 (= tRFC + 8); tCKESR = tCKE + 1 nCK as DDR4.
     ck(8), ck(8), ck(9), ck(268),
     // Per-bank refresh (REFSB, JESD235A): one bank; tRFCSB(8Gb) 160 ns, tRREFD 8 nCK from a REFSB to a REFSB
     // or an ACT of another bank.
     1, ns(160), ck(8), ck(8)},
    // HBM3 6.4 Gb/s, 32-bit pseudo-channel, BL8, modelled at 3.2 GHz (two beats per clock). JESD238A leaves
    // several values to the vendor; typical ones: CL 15 ns, WL 5 ns, tRCD 14 ns, tRP 14 ns, tRAS 33 ns,
    // tRC 47 ns, tCCD_S 4 / tCCD_L 8 clocks (one BL8 burst = 4), tRRD_S 2 ns, tRRD_L 3 ns, tFAW 16 ns,
    // tWR 16 ns, tWTR_S 2.5 ns, tWTR_L 7.5 ns, tRTP 5 ns, tRFCab 350 ns, tREFI 3.9 us; up to 8 REFab
    // may be postponed.
    {"HBM3", "6400", 0.3125, 8, 48, 16,
     ns(14), ns(14), ns(14), ns(33), ns(47), ck(4), ck(8), ns(2), ns(3),
     ns(16), ns(16), ns(2.5), ns(7.5), ns(5), ns(350),
     3900, 8, 2, "JESD238A HBM3 6.4 Gb/s (vendor-typical values where the standard leaves them open)",
     // APPROXIMATE (vendor-specific in JESD238A): tCKE 7.5 ns, tXP 7.5 ns, shortest self-refresh 15 ns,
     // tXS = tRFCab + 10 ns.
     ns(7.5), ns(7.5), ns(15), ns(360),
     // Per-bank refresh (REFpb, JESD238A), one bank; APPROXIMATE (vendor-specific): tRFCpb 160 ns, tRREFD 8 ns.
     1, ns(160), ns(8), ns(8)},
    // GDDR6 16 Gb/s, x16 channel (two per device), 16Gb device (8Gb per channel: 4 bank groups x 4 banks,
    // 2 KB page), BL16, modelled at 8 GHz (two beats per clock; CK 2 GHz = 4 clocks). JESD250 leaves the
    // AC timings to the vendors; vendor-typical values after the Micron MT61K (GDDR6) and DRAMSim3
    // GDDR5X (16 ns tRCD/tRP) data: CL 14 ns, WL 7 CK = 28, tRCD(RD) 16 ns, tRP 16 ns, tRAS 32 ns,
    // tRC 48 ns, tCCD_S 2 CK = 8, tCCD_L 3 CK = 12, tRRD_S 4 ns, tRRD_L 6 ns, tFAW 24 ns, tWR 16 ns,
    // tWTR_S 4 ns, tWTR_L 6 ns, tRTP 2 CK = 8, tRFCab 260 ns; refresh 16K per 32 ms (Micron MT61K:
    // tREFI 1.953 us); up to 8 REFab may be postponed (as GDDR5, JESD212).
    {"GDDR6", "16000", 0.125, 16, 112, 28,
     ns(16), ns(16), ns(16), ns(32), ns(48), ck(8), ck(12), ns(4), ns(6),
     ns(24), ns(16), ns(4), ns(6), ck(8), ns(260),
     1953.125, 8, 2, "JESD250 GDDR6 16 Gb/s (vendor-typical: Micron MT61K)",
     // APPROXIMATE (vendor values; DRAMSim3's GDDR6_8Gb_x16 has tXP 12 x 0.66 = 7.9 ns, tCKESR 8 x 0.66 = 5.3 ns):
     // tCKE 8 ns, tXP 8 ns, tCKESR 8 ns, tXS = tRFCab + 10 ns.
     ns(8), ns(8), ns(8), ns(270),
     // GDDR6's per-bank refresh is not modelled (the controller refreshes it all-bank).
     0, {}, {}, {}},
};
// clang-format on

}  // namespace

const JedecSpeedGrade* find_jedec_speed_grade(const std::string& standard, const std::string& speed_grade) {
  for (const auto& g : kTable)
    if (standard == g.standard && speed_grade == g.speed_grade) return &g;
  return nullptr;
}

std::string jedec_speed_grade_names() {
  std::string s;
  for (const auto& g : kTable) s += (s.empty() ? "" : ", ") + std::string(g.standard) + " " + g.speed_grade;
  return s;
}

int jedec_clocks(const JedecSpeedGrade& g, const JedecMin& m, double tck_ns) {
  if (m.ns <= 0) return m.nck;
  const double x = m.ns / tck_ns;
  // DDR5 (JESD79-5 "rounding algorithms"): truncate(t / tCK x 0.997 + 1), a 0.3 % guardband on the
  // average clock; the older standards (JESD79-4C 13.5): truncate(t / tCK + 0.974).
  const int from_ns = std::string(g.standard) == "DDR5" ? int(std::floor(x * 0.997 + 1.0)) : int(std::floor(x + 0.974));
  return std::max(m.nck, from_ns);
}

DramTiming jedec_minimum_timing(const JedecSpeedGrade& g, double tck_ns) {
  DramTiming t;
  t.CL = g.CL_min;
  t.CWL = g.CWL_min;
  t.tRCD = jedec_clocks(g, g.tRCD, tck_ns);
  t.tRP = jedec_clocks(g, g.tRP, tck_ns);
  t.tRAS = jedec_clocks(g, g.tRAS, tck_ns);
  t.tRC = jedec_clocks(g, g.tRC, tck_ns);
  t.tCCD_S = jedec_clocks(g, g.tCCD_S, tck_ns);
  t.tCCD_L = jedec_clocks(g, g.tCCD_L, tck_ns);
  t.tRRD_S = jedec_clocks(g, g.tRRD_S, tck_ns);
  t.tRRD_L = jedec_clocks(g, g.tRRD_L, tck_ns);
  t.tFAW = jedec_clocks(g, g.tFAW, tck_ns);
  t.tWR = jedec_clocks(g, g.tWR, tck_ns);
  t.tWTR_S = jedec_clocks(g, g.tWTR_S, tck_ns);
  t.tWTR_L = jedec_clocks(g, g.tWTR_L, tck_ns);
  t.tRTP = jedec_clocks(g, g.tRTP, tck_ns);
  t.tRFC = jedec_clocks(g, g.tRFC, tck_ns);
  t.tREFI = int(std::floor(g.tREFI_ns / tck_ns + 1e-9));  // a largest average interval: rounded down
  t.tRTRS = g.tRTRS;
  t.tCKE = jedec_clocks(g, g.tCKE, tck_ns);
  t.tXP = jedec_clocks(g, g.tXP, tck_ns);
  t.tCKESR = jedec_clocks(g, g.tCKESR, tck_ns);
  t.tXS = jedec_clocks(g, g.tXS, tck_ns);
  t.tRFCpb = jedec_clocks(g, g.tRFCpb, tck_ns);
  t.tPBR2PBR = jedec_clocks(g, g.tPBR2PBR, tck_ns);
  t.tPBR2ACT = jedec_clocks(g, g.tPBR2ACT, tck_ns);
  return t;
}

}  // namespace attnsim
