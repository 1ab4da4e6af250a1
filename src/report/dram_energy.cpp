#include "report/dram_energy.h"

namespace attnsim {

DramCommandCounts dram_command_counts(const Json& s) {
  DramCommandCounts c;
  if (!s.is_object() || !s.contains("commands") || !s.contains("background_rank_cycles")) return c;
  const Json& cmd = s["commands"];
  auto n = [](const Json& o, const char* k) { return o.contains(k) ? o[k].get<std::uint64_t>() : 0; };
  c.present = true;
  c.act = n(cmd, "ACT"), c.pre = n(cmd, "PRE"), c.prea = n(cmd, "PREA");
  c.rd = n(cmd, "RD"), c.wr = n(cmd, "WR"), c.ref = n(cmd, "REF");
  c.pde = n(cmd, "PDE"), c.pdx = n(cmd, "PDX"), c.sre = n(cmd, "SRE"), c.srx = n(cmd, "SRX");
  c.prea_banks_closed = n(s, "banks_closed_by_PREA");
  c.active_rank_cycles = n(s["background_rank_cycles"], "active_standby_rank_cycles");
  c.precharged_rank_cycles = n(s["background_rank_cycles"], "precharged_standby_rank_cycles");
  c.tck_fs = s.contains("tCK_ps") ? std::int64_t(s["tCK_ps"].get<double>() * 1000.0 + 0.5) : 0;
  return c;
}

DramCommandEnergies dram_command_energies(const DramSpec& spec) {
  DramCommandEnergies e;
  const double tck_ns = double(spec.tCK_fs) * 1e-6;
  const double d = double(spec.power.devices_per_rank);
  const DramTiming& t = spec.t;
  for (const DramPowerRail& r : spec.power.rails) {
    const double k = r.volts * tck_ns * d;  // mA x cycles to pJ on this rail
    e.act += k * (r.idd0_mA - r.idd3n_mA) * t.tRAS;
    e.pre += k * (r.idd0_mA - r.idd2n_mA) * (t.tRC - t.tRAS);
    e.rd += k * (r.idd4r_mA - r.idd3n_mA) * spec.burst_cycles();
    e.wr += k * (r.idd4w_mA - r.idd3n_mA) * spec.burst_cycles();
    e.ref += k * (r.idd5b_mA - r.idd3n_mA) * t.tRFC;
    e.active_standby_pj_per_cycle += k * r.idd3n_mA;
    e.precharged_standby_pj_per_cycle += k * r.idd2n_mA;
  }
  return e;
}

DramEnergy dram_energy(const DramCommandEnergies& e, const DramCommandCounts& c) {
  DramEnergy out;
  out.dynamic = double(c.act) * e.act + double(c.pre + c.prea_banks_closed) * e.pre + double(c.rd) * e.rd +
                double(c.wr) * e.wr + double(c.ref) * e.ref;
  out.background = double(c.active_rank_cycles) * e.active_standby_pj_per_cycle +
                   double(c.precharged_rank_cycles) * e.precharged_standby_pj_per_cycle;
  return out;
}

}  // namespace attnsim
