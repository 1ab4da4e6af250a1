#pragma once
// DRAM energy from the cycle-accurate controller's command counts and its ranks' power-state residency, as
// DRAMPower and the Micron power calculators (TN-40-07, TN-41-01) compute it from the device's IDD figures
// (config/dram_spec.h DramPower). Per rank, summed over its supply rails, with V the rail's voltage, D the
// devices per rank, tCK in ns (mA x V x ns = pJ):
//   ACT      = V x (IDD0 - IDD3N) x tRAS x tCK x D         the activation above active standby
//   PRE      = V x (IDD0 - IDD2N) x (tRC - tRAS) x tCK x D  per bank precharged (PRE, and each open bank a PREA closes)
//   RD       = V x (IDD4R - IDD3N) x BL/2 x tCK x D         one burst's data cycles above active standby
//   WR       = V x (IDD4W - IDD3N) x BL/2 x tCK x D
//   REF      = V x (IDD5B - IDD3N) x tRFC x tCK x D         an all-bank refresh
//   REFpb    = REF x banks_per_refresh / banks per rank      a per-bank refresh (/dram/refresh "per_bank"): the
//              same charge per bank refreshed as the all-bank REF (the device files hold no IDD5PB), so a
//              round of refresh_sets() REFpb costs one REF
//   ACT + PRE = V x (IDD0 x tRC - IDD3N x tRAS - IDD2N x (tRC - tRAS)) x tCK x D: IDD0's ACT-PRE cycle less the
//   standby it stands in for, as Micron's P_ACT and DRAMSim3's act_energy_inc.
// Background, per rank cycle, by the rank's power state (the controller's power_states) at V x IDD x D x tCK:
//   active standby (a bank open, awake) and refreshing (a REF's tRFC)    IDD3N
//   precharged standby (every bank closed, awake, no refresh running)     IDD2N
//   active power-down (a bank open, CKE low)                              IDD3P
//   precharged power-down (every bank closed, CKE low)                    IDD2P
//   self-refresh                                                          IDD6 (its internal refreshes included)
// The controller counts a REF's tRFC among its active cycles (background_rank_cycles) and in the power states
// as precharged standby, or as precharged power-down when a PDE falls within the tRFC; so the refresh cycles
//   R = background active - (active standby + active power-down)
// are priced at IDD3N as the REF's energy above IDD3N assumes, taken out of precharged standby first and
// out of precharged power-down for the rest. With no power-down or self-refresh this is the two-state
// background of active (IDD3N) and precharged (IDD2N) rank cycles. A device file without IDD2P, IDD3P or
// IDD6 prices those states as the standby they stand for (config/dram_spec.h). PDE, PDX, SRE and SRX cost
// nothing beyond the time they put the rank in: their exit latencies (tXP, tXS) are standby time.
//   dynamic    = ACTs x ACT + (PREs + banks closed by PREAs) x PRE + RDs x RD + WRs x WR + REFs x REF
//                + REFpbs x REFpb
//   background = sum over the five priced residencies of rank cycles x that state's power
// DQ I/O and termination are not included (the IDD figures are measured with unloaded outputs). A device
// without current figures (per_byte_fallback), and the ideal model, are priced per byte by the energy table.
#include <cstdint>

#include "config/dram_spec.h"
#include "config/json_reader.h"

namespace attnsim {

// What the controller counted (DramStats, through the report's "dram" section).
struct DramCommandCounts {
  bool present = false;  // false: the ideal model (no commands)
  std::uint64_t act = 0, pre = 0, prea = 0, prea_banks_closed = 0, rd = 0, wr = 0, ref = 0, refpb = 0;
  // Power-down and self-refresh entries and exits: counted; their states' time is what is priced.
  std::uint64_t pde = 0, pdx = 0, sre = 0, srx = 0;
  // Rank cycles by priced state (dram_energy.h): active = active standby + refreshing, precharged = precharged
  // standby less the refresh cycles, the power-down ones less any refresh cycles they held. They sum to the
  // run's rank cycles.
  std::uint64_t active_rank_cycles = 0, precharged_rank_cycles = 0;
  std::uint64_t active_power_down_rank_cycles = 0, precharged_power_down_rank_cycles = 0;
  std::uint64_t self_refresh_rank_cycles = 0;
  std::int64_t tck_fs = 0;
};
// From the DRAM model's statistics (the report's "dram" object of a cycle-accurate run); absent otherwise.
DramCommandCounts dram_command_counts(const Json& dram_stats);

// One command's energy and the standby power of one rank, pJ and pJ per DRAM cycle.
struct DramCommandEnergies {
  double act = 0, pre = 0, rd = 0, wr = 0, ref = 0, refpb = 0;  // pJ per command (pre: per bank precharged)
  double active_standby_pj_per_cycle = 0, precharged_standby_pj_per_cycle = 0;  // per rank
  double active_power_down_pj_per_cycle = 0, precharged_power_down_pj_per_cycle = 0, self_refresh_pj_per_cycle = 0;
};
DramCommandEnergies dram_command_energies(const DramSpec& spec);

struct DramEnergy {
  double dynamic = 0, background = 0;  // pJ
};
DramEnergy dram_energy(const DramCommandEnergies& e, const DramCommandCounts& c);

}  // namespace attnsim
