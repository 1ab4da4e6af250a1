#pragma once
// DRAM energy from the cycle-accurate controller's command counts and its ranks' power-state residency, as
// DRAMPower and the Micron power calculators (TN-40-07, TN-41-01) compute it from the device's IDD figures
// (config/dram_spec.h DramPower). Per rank, summed over its supply rails, with V the rail's voltage, D the
// devices per rank, tCK in ns (mA x V x ns = pJ):
//   ACT      = V x (IDD0 - IDD3N) x tRAS x tCK x D         the activation above active standby
//   PRE      = V x (IDD0 - IDD2N) x (tRC - tRAS) x tCK x D  per bank precharged (PRE, and each open bank a PREA closes)
//   RD       = V x (IDD4R - IDD3N) x BL/2 x tCK x D         one burst's data cycles above active standby
//   WR       = V x (IDD4W - IDD3N) x BL/2 x tCK x D
//   REF      = V x (IDD5B - IDD3N) x tRFC x tCK x D         an all-bank refresh (the only kind the controller issues)
//   ACT + PRE = V x (IDD0 x tRC - IDD3N x tRAS - IDD2N x (tRC - tRAS)) x tCK x D: IDD0's ACT-PRE cycle less the
//   standby it stands in for, as Micron's P_ACT and DRAMSim3's act_energy_inc.
// Background, per rank cycle: active standby V x IDD3N x D x tCK while a bank is open or a refresh runs,
// precharged standby V x IDD2N x D x tCK otherwise (the controller never powers down).
//   dynamic    = ACTs x ACT + (PREs + banks closed by PREAs) x PRE + RDs x RD + WRs x WR + REFs x REF
//   background = active rank cycles x active standby + precharged rank cycles x precharged standby
// DQ I/O and termination are not included (the IDD figures are measured with unloaded outputs). A device
// without current figures (per_byte_fallback), and the ideal model, are priced per byte by the energy table.
#include <cstdint>

#include "config/dram_spec.h"
#include "config/json_reader.h"

namespace attnsim {

// What the controller counted (DramStats, through the report's "dram" section).
struct DramCommandCounts {
  bool present = false;  // false: the ideal model (no commands)
  std::uint64_t act = 0, pre = 0, prea = 0, prea_banks_closed = 0, rd = 0, wr = 0, ref = 0;
  // Power-down and self-refresh entries and exits: counted, not priced (their state time is priced as standby).
  std::uint64_t pde = 0, pdx = 0, sre = 0, srx = 0;
  std::uint64_t active_rank_cycles = 0, precharged_rank_cycles = 0;
  std::int64_t tck_fs = 0;
};
// From the DRAM model's statistics (the report's "dram" object of a cycle-accurate run); absent otherwise.
DramCommandCounts dram_command_counts(const Json& dram_stats);

// One command's energy and the standby power of one rank, pJ and pJ per DRAM cycle.
struct DramCommandEnergies {
  double act = 0, pre = 0, rd = 0, wr = 0, ref = 0;        // pJ per command (pre: per bank precharged)
  double active_standby_pj_per_cycle = 0, precharged_standby_pj_per_cycle = 0;  // per rank
};
DramCommandEnergies dram_command_energies(const DramSpec& spec);

struct DramEnergy {
  double dynamic = 0, background = 0;  // pJ
};
DramEnergy dram_energy(const DramCommandEnergies& e, const DramCommandCounts& c);

}  // namespace attnsim
