#include "report/dram_energy.h"

#include <algorithm>

namespace attnsim {

DramCommandCounts dram_command_counts(const Json& s) {
  DramCommandCounts c;
  if (!s.is_object() || !s.contains("commands") || !s.contains("background_rank_cycles")) return c;
  const Json& cmd = s["commands"];
  auto n = [](const Json& o, const char* k) { return o.contains(k) ? o[k].get<std::uint64_t>() : 0; };
  c.present = true;
  c.act = n(cmd, "ACT"), c.pre = n(cmd, "PRE"), c.prea = n(cmd, "PREA");
  c.rd = n(cmd, "RD"), c.wr = n(cmd, "WR"), c.ref = n(cmd, "REF"), c.refpb = n(cmd, "REFpb");
  c.pde = n(cmd, "PDE"), c.pdx = n(cmd, "PDX"), c.sre = n(cmd, "SRE"), c.srx = n(cmd, "SRX");
  c.prea_banks_closed = n(s, "banks_closed_by_PREA");
  const std::uint64_t active = n(s["background_rank_cycles"], "active_standby_rank_cycles");
  const std::uint64_t precharged = n(s["background_rank_cycles"], "precharged_standby_rank_cycles");
  if (!s.contains("power_states")) {  // no residency by state: the two-state background
    c.active_rank_cycles = active;
    c.precharged_rank_cycles = precharged;
  } else {
    // dram_energy.h: the refresh cycles R, priced at IDD3N, out of precharged standby, then precharged power-down.
    const Json& ps = s["power_states"];
    const std::uint64_t as = n(ps, "active_standby_cycles"), apd = n(ps, "active_power_down_cycles");
    const std::uint64_t pst = n(ps, "precharged_standby_cycles"), ppd = n(ps, "precharged_power_down_cycles");
    const std::uint64_t refreshing = active > as + apd ? active - as - apd : 0;
    const std::uint64_t from_standby = std::min(refreshing, pst);
    const std::uint64_t from_power_down = std::min(refreshing - from_standby, ppd);
    c.active_rank_cycles = as + from_standby + from_power_down;
    c.precharged_rank_cycles = pst - from_standby;
    c.active_power_down_rank_cycles = apd;
    c.precharged_power_down_rank_cycles = ppd - from_power_down;
    c.self_refresh_rank_cycles = n(ps, "self_refresh_cycles");
  }
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
    e.active_power_down_pj_per_cycle += k * r.idd3p_mA;
    e.precharged_power_down_pj_per_cycle += k * r.idd2p_mA;
    e.self_refresh_pj_per_cycle += k * r.idd6_mA;
  }
  // dram_energy.h: a per-bank refresh, the all-bank REF's charge for the banks it refreshes.
  if (spec.banks_per_refresh > 0) e.refpb = e.ref * double(spec.banks_per_refresh) / double(spec.banks_per_rank());
  return e;
}

DramEnergy dram_energy(const DramCommandEnergies& e, const DramCommandCounts& c) {
  DramEnergy out;
  out.dynamic = double(c.act) * e.act + double(c.pre + c.prea_banks_closed) * e.pre + double(c.rd) * e.rd +
                double(c.wr) * e.wr + double(c.ref) * e.ref + double(c.refpb) * e.refpb;
  out.background = double(c.active_rank_cycles) * e.active_standby_pj_per_cycle +
                   double(c.precharged_rank_cycles) * e.precharged_standby_pj_per_cycle +
                   double(c.active_power_down_rank_cycles) * e.active_power_down_pj_per_cycle +
                   double(c.precharged_power_down_rank_cycles) * e.precharged_power_down_pj_per_cycle +
                   double(c.self_refresh_rank_cycles) * e.self_refresh_pj_per_cycle;
  return out;
}

}  // namespace attnsim
