#pragma once
// The timing checker's own table of JEDEC minimums, one entry per standard and speed grade. The checker
// (timing_checker.cpp) looks an entry up by the device's "standard" and "speed_grade" fields and never by
// the device's timing values, so a wrong value in a preset (configs/dram/*.json) shows up as violations in
// the controller's command trace instead of being checked against itself.
//
// Clocks: every entry is stated in the simulator's DRAM clock, which carries two data beats per clock
// (tCK = 1 / (data rate / 2)). Where the standard's command clock CK is slower (LPDDR5, GDDR6: data rate =
// 8 x CK; HBM3: 4 x CK), the entry's nCK minimums are converted to this clock and the comment says so.
#include <cstdint>
#include <string>

#include "config/dram_spec.h"

namespace attnsim {

// A minimum stated as the larger of a number of clocks and a time, as the JEDEC tables do
// ("max(4 nCK, 7.5 ns)"); either part may be 0.
struct JedecMin {
  double ns = 0.0;
  int nck = 0;
};

struct JedecSpeedGrade {
  const char* standard;     // "DDR4", "DDR5", "LPDDR4", "LPDDR5", "HBM2", "HBM3", "GDDR6"
  const char* speed_grade;  // "3200AA", "4800B", ...
  double tCK_ns;            // the DRAM clock (two data beats per clock)
  int burst_length;         // data beats per RD/WR
  int CL_min, CWL_min;      // read / write latency of the speed grade (clocks): a device's must be at least these
  JedecMin tRCD, tRP, tRPab, tRAS, tRC, tCCD_S, tCCD_L, tRRD_S, tRRD_L, tFAW, tWR, tWTR_S, tWTR_L, tRTP, tRFC;
  double tREFI_ns;         // average refresh interval per rank (all-bank REF)
  int max_postponed_refs;  // REFs a controller may postpone: no gap between REFs beyond (this + 1) x tREFI
  int tRTRS;               // rank-to-rank data bus gap (clocks); a board/controller value, not in the standards
  const char* source;
  // Power-down and self-refresh: PDE to PDX (tCKE), PDX to any command (tXP), SRE to SRX (tCKESR), SRX to any
  // command (tXS).
  JedecMin tCKE, tXP, tCKESR, tXS;
  // Per-bank refresh (0 banks: the standard has none): the banks one per-bank REF refreshes (their flat indices
  // congruent modulo banks per rank / this), REFpb to ACT or REFpb of a refreshed bank (tRFCpb), REFpb to the
  // next REFpb of the rank (tPBR2PBR), REFpb to an ACT of another bank (tPBR2ACT). Each bank must be refreshed
  // (by REF or its set's REFpb) within (postponed REFs + 1) x tREFI, as the rank is.
  int refpb_banks;
  JedecMin tRFCpb, tPBR2PBR, tPBR2ACT;
};

// The entry for a standard and speed grade, or null.
const JedecSpeedGrade* find_jedec_speed_grade(const std::string& standard, const std::string& speed_grade);
// "DDR4 3200AA, HBM2 2000, ..." for error messages.
std::string jedec_speed_grade_names();

// JEDEC's rounding of a minimum to clocks of tck_ns: t / tCK rounded up after the standard's guardband
// (jedec_table.cpp), and at least the nCK part.
int jedec_clocks(const JedecSpeedGrade& g, const JedecMin& m, double tck_ns);

// The entry's minimums in clocks of tck_ns, in the controller's parameter struct (CL and CWL are the
// speed grade's minimum latencies; tREFI the largest average interval, rounded down; tREFIpb is left 0: it
// depends on the device's bank count, the checker derives it).
DramTiming jedec_minimum_timing(const JedecSpeedGrade& g, double tck_ns);

}  // namespace attnsim
