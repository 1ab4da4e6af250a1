#include "report/energy.h"

#include <algorithm>
#include <cmath>

#include "common/errors.h"

namespace attnsim {

ActionCounts action_counts(const SimOutcome& o) {
  const SimStats& s = o.stats;
  ActionCounts c;
  c.macs = s.macs;
  c.bank_read_accesses = s.bank_read_accesses;
  c.bank_write_accesses = s.bank_write_accesses;
  for (std::uint64_t b : s.bank_read_bytes) c.sram_read_bytes += b;
  for (std::uint64_t b : s.bank_written_bytes) c.sram_written_bytes += b;
  c.acc_array_read_accesses = s.accumulators.array_read_accesses;
  c.acc_array_write_accesses = s.accumulators.array_write_accesses;
  c.acc_unit_read_accesses = s.accumulators.unit_read_accesses;
  c.acc_unit_write_accesses = s.accumulators.unit_write_accesses;
  c.vector_lane_ops = s.vector_lane_ops;
  c.softmax_lane_ops = s.softmax_lane_ops;
  c.datapath_pe_ops = s.datapath_pe_ops;
  c.row_unit_ops = s.row_unit_ops;
  for (const auto& layer : s.ops)
    for (const OpStats& op : layer) c.dma_bytes += op.load_bytes + op.store_bytes;
  c.dram_read_bytes = o.dram_bytes_read;
  c.dram_written_bytes = o.dram_bytes_written;
  c.dram_commands = dram_command_counts(o.dram_stats);
  c.seconds = double(s.end_fs) * 1e-15;
  return c;
}

namespace {

// The accumulator storage's macros (energy.h): w bytes wide, n of them side by side, C / n bytes each.
struct AccMacros {
  double width = 0, count = 0, bytes_each = 0;
};
AccMacros acc_macros(const HwConfig& hw) {
  const AccumulatorConfig& a = hw.accumulators;
  AccMacros m;
  m.width = double(std::min({hw.sram.port_bytes, a.port_bytes, a.array_port_bytes}));
  m.count = std::ceil(double(std::max(a.port_bytes, a.array_port_bytes)) / m.width);
  m.bytes_each = double(a.bytes) / m.count;
  return m;
}

// One access of a W-byte port: ceil(W / w) macros accessed in parallel.
double acc_access_pj(const HwConfig& hw, const PowerLawCurve& curve, int width_bytes) {
  const AccMacros m = acc_macros(hw);
  return std::ceil(double(width_bytes) / m.width) * curve.at(m.bytes_each, m.width);
}

}  // namespace

AreaBreakdown area_breakdown(const HwConfig& hw) {
  ATTNSIM_ASSERT(hw.energy.present, "area_breakdown needs an energy table");
  const EnergyTable& t = hw.energy.table;
  AreaBreakdown a;
  a.array = double(hw.array.pes()) * t.pe_um2[std::size_t(hw.energy.datatype)] * 1e-6;
  a.sram = double(hw.sram.total_bytes()) *
           t.sram_um2_per_byte.at(double(hw.sram.bytes_per_bank), double(hw.sram.port_bytes)) * 1e-6;
  if (hw.accumulators.present) {
    const AccMacros m = acc_macros(hw);
    a.accumulators = double(hw.accumulators.bytes) * t.sram_um2_per_byte.at(m.bytes_each, m.width) * 1e-6;
  }
  a.vector = double(hw.vector.lanes) * t.vector_um2_per_lane * 1e-6;
  if (hw.softmax.present)
    a.softmax = (double(hw.softmax.lanes) * t.softmax_um2_per_lane +
                 double(std::min(hw.softmax.lanes, hw.softmax.exp_per_cycle)) * t.softmax_um2_per_exp_unit) *
                1e-6;
  const DatapathConfig& dp = hw.datapath;
  if (dp.present) {
    const bool pe_softmax = dp.pe_max_cycles > 0 || dp.pe_add_cycles > 0 || dp.pe_row_scalar_mul_cycles > 0 ||
                            dp.pe_exp_cycles > 0;
    a.datapath = (double(hw.array.pes()) * ((pe_softmax ? t.pe_softmax_um2 : 0.0) +
                                            double(dp.pe_score_entries) * t.pe_score_entry_um2) +
                  double(dp.row_units) * double(dp.row_unit_ops_per_cycle) * t.row_unit_um2_per_op_per_cycle) *
                 1e-6;
  }
  a.dma = t.dma_mm2;
  const double peak_GBps = hw.dram.peak_bytes_per_cycle * hw.array.clock_mhz * 1e6 / 1e9;
  a.dram_phy = peak_GBps * t.dram_phy_mm2_per_GBps[std::size_t(hw.energy.dram)];
  a.total = a.array + a.sram + a.accumulators + a.vector + a.softmax + a.datapath + a.dma + a.dram_phy;
  return a;
}

ActionEnergies action_energies(const HwConfig& hw, const AreaBreakdown& area) {
  const EnergyTable& t = hw.energy.table;
  ActionEnergies e;
  e.mac = t.mac_pj[std::size_t(hw.energy.datatype)] +
          2.0 * hw.array.operand_bytes * t.pe_operand_register_pj_per_byte +
          2.0 * hw.array.accumulator_bytes * t.pe_accumulator_pj_per_byte;
  e.sram_read = t.sram_read_pj.at(double(hw.sram.bytes_per_bank), double(hw.sram.port_bytes));
  e.sram_write = t.sram_write_pj.at(double(hw.sram.bytes_per_bank), double(hw.sram.port_bytes));
  if (hw.accumulators.present) {
    e.acc_array_read = acc_access_pj(hw, t.sram_read_pj, hw.accumulators.array_port_bytes);
    e.acc_array_write = acc_access_pj(hw, t.sram_write_pj, hw.accumulators.array_port_bytes);
    e.acc_unit_read = acc_access_pj(hw, t.sram_read_pj, hw.accumulators.port_bytes);
    e.acc_unit_write = acc_access_pj(hw, t.sram_write_pj, hw.accumulators.port_bytes);
  }
  // Each fused-datapath step reads and writes its fp32 operand in a register (energy.h).
  const double operand_register = 2.0 * 4.0 * t.pe_accumulator_pj_per_byte;
  for (std::size_t p = 0; p < std::size_t(kVecPrimCount); ++p) {
    if (t.datapath_pe_pj_per_op[p] > 0) e.datapath_pe_op[p] = t.datapath_pe_pj_per_op[p] + operand_register;
    if (t.row_unit_pj_per_op[p] > 0) e.row_unit_op[p] = t.row_unit_pj_per_op[p] + operand_register;
  }
  e.dma_byte = t.dma_pj_per_byte;
  e.dram_byte = t.dram_pj_per_byte[std::size_t(hw.energy.dram)];
  if (hw.dram.model == DramModel::Cycle) {
    // The config was validated when it was read; its device's current figures, if it has them.
    Diagnostics diag(hw.source);
    const DramSpec spec = parse_cycle_dram(JsonView(&hw.dram.cycle_spec, "/dram", &diag));
    diag.throw_if_any();
    if (spec.power.present) {
      e.dram_by_commands = true;
      e.dram_command = dram_command_energies(spec);
    }
  }
  // mW/mm^2 x mm^2 = mW = 1e-3 J/s = 1e9 pJ/s.
  e.leakage_pj_per_s = t.leakage_mw_per_mm2 * area.on_chip_logic_and_memory() * 1e9;
  return e;
}

EnergyBreakdown energy_breakdown(const HwConfig& hw, const ActionCounts& c) {
  ATTNSIM_ASSERT(hw.energy.present, "energy_breakdown needs an energy table");
  const EnergyTable& t = hw.energy.table;
  const AreaBreakdown area = area_breakdown(hw);
  const ActionEnergies e = action_energies(hw, area);
  EnergyBreakdown b;
  b.array = double(c.macs) * e.mac;
  std::uint64_t reads = 0, writes = 0;
  for (std::uint64_t n : c.bank_read_accesses) reads += n;
  for (std::uint64_t n : c.bank_write_accesses) writes += n;
  b.sram = double(reads) * e.sram_read + double(writes) * e.sram_write +
           double(c.acc_array_read_accesses) * e.acc_array_read + double(c.acc_array_write_accesses) * e.acc_array_write +
           double(c.acc_unit_read_accesses) * e.acc_unit_read + double(c.acc_unit_write_accesses) * e.acc_unit_write;
  for (int p = 0; p < kVecPrimCount; ++p) {
    b.vector += double(c.vector_lane_ops[std::size_t(p)]) * t.vector_pj_per_lane_op[std::size_t(p)];
    b.softmax += double(c.softmax_lane_ops[std::size_t(p)]) * t.softmax_pj_per_lane_op[std::size_t(p)];
    b.datapath += double(c.datapath_pe_ops[std::size_t(p)]) * e.datapath_pe_op[std::size_t(p)] +
                  double(c.row_unit_ops[std::size_t(p)]) * e.row_unit_op[std::size_t(p)];
  }
  b.dma = double(c.dma_bytes) * e.dma_byte;
  if (e.dram_by_commands && c.dram_commands.present) {
    const DramEnergy d = dram_energy(e.dram_command, c.dram_commands);
    b.dram_by_commands = true;
    b.dram_dynamic = d.dynamic;
    b.dram_background = d.background;
  } else {
    b.dram_dynamic = double(c.dram_read_bytes + c.dram_written_bytes) * e.dram_byte;
  }
  b.dram = b.dram_dynamic + b.dram_background;
  b.leakage = e.leakage_pj_per_s * c.seconds;
  b.total = b.array + b.sram + b.vector + b.softmax + b.datapath + b.dma + b.dram + b.leakage;
  return b;
}

OpEnergy op_energy(const HwConfig& hw, const ActionEnergies& e, const OpStats& o, double dram_pj_per_dma_byte) {
  const EnergyTable& t = hw.energy.table;
  OpEnergy r;
  r.array = double(o.macs) * e.mac;
  r.sram = double(o.sram.read) * e.sram_read + double(o.sram.write) * e.sram_write +
           double(o.sram.acc_array_read) * e.acc_array_read + double(o.sram.acc_array_write) * e.acc_array_write +
           double(o.sram.acc_unit_read) * e.acc_unit_read + double(o.sram.acc_unit_write) * e.acc_unit_write;
  for (int p = 0; p < kVecPrimCount; ++p) {
    r.vector += double(o.vector_lane_ops[std::size_t(p)]) * t.vector_pj_per_lane_op[std::size_t(p)];
    r.softmax += double(o.softmax_lane_ops[std::size_t(p)]) * t.softmax_pj_per_lane_op[std::size_t(p)];
    r.datapath += double(o.datapath_pe_ops[std::size_t(p)]) * e.datapath_pe_op[std::size_t(p)] +
                  double(o.row_unit_ops[std::size_t(p)]) * e.row_unit_op[std::size_t(p)];
  }
  r.dma = double(o.load_bytes + o.store_bytes) * e.dma_byte;
  r.dram_dynamic = double(o.load_bytes + o.store_bytes) * dram_pj_per_dma_byte;
  r.total = r.array + r.sram + r.vector + r.softmax + r.datapath + r.dma + r.dram_dynamic;
  return r;
}

Json op_energy_json(const OpEnergy& e) {
  return {{"array", e.array},       {"sram", e.sram}, {"vector", e.vector},
          {"softmax", e.softmax},   {"datapath", e.datapath},     {"dma", e.dma},
          {"dram_dynamic", e.dram_dynamic}, {"total", e.total}};
}

Json area_json(const HwConfig& hw) {
  if (!hw.energy.present) return Json::object();
  const AreaBreakdown a = area_breakdown(hw);
  return {{"table", hw.energy.table.source},
          {"node_nm", hw.energy.table.node_nm},
          {"datatype", to_string(hw.energy.datatype)},
          {"dram_technology", to_string(hw.energy.dram)},
          {"array", a.array},
          {"sram", a.sram},
          {"accumulators", a.accumulators},
          {"vector", a.vector},
          {"softmax", a.softmax},
          {"datapath", a.datapath},
          {"dma", a.dma},
          {"dram_phy", a.dram_phy},
          {"total", a.total}};
}

Json energy_json(const HwConfig& hw, const ActionCounts& c) {
  if (!hw.energy.present) return Json::object();
  const AreaBreakdown area = area_breakdown(hw);
  const ActionEnergies e = action_energies(hw, area);
  const EnergyBreakdown b = energy_breakdown(hw, c);
  const EnergyTable& t = hw.energy.table;
  Json vec_ops = Json::object(), sm_ops = Json::object(), vec_pj = Json::object(), sm_pj = Json::object();
  Json pe_ops = Json::object(), ru_ops = Json::object(), pe_pj = Json::object(), ru_pj = Json::object();
  for (int p = 0; p < kVecPrimCount; ++p) {
    vec_ops[to_string(VecPrim(p))] = c.vector_lane_ops[std::size_t(p)];
    sm_ops[to_string(VecPrim(p))] = c.softmax_lane_ops[std::size_t(p)];
    vec_pj[to_string(VecPrim(p))] = t.vector_pj_per_lane_op[std::size_t(p)];
    sm_pj[to_string(VecPrim(p))] = t.softmax_pj_per_lane_op[std::size_t(p)];
    if (e.datapath_pe_op[std::size_t(p)] > 0) {  // the primitives the table prices
      pe_ops[to_string(VecPrim(p))] = c.datapath_pe_ops[std::size_t(p)];
      pe_pj[to_string(VecPrim(p))] = e.datapath_pe_op[std::size_t(p)];
    }
    if (e.row_unit_op[std::size_t(p)] > 0) {
      ru_ops[to_string(VecPrim(p))] = c.row_unit_ops[std::size_t(p)];
      ru_pj[to_string(VecPrim(p))] = e.row_unit_op[std::size_t(p)];
    }
  }
  Json bank_reads = Json::array(), bank_writes = Json::array();
  for (std::uint64_t n : c.bank_read_accesses) bank_reads.push_back(n);
  for (std::uint64_t n : c.bank_write_accesses) bank_writes.push_back(n);
  const double seconds = c.seconds;
  const double joules = b.total * 1e-12;
  Json j;
  j["table"] = t.source;
  j["node_nm"] = t.node_nm;
  j["datatype"] = to_string(hw.energy.datatype);
  j["dram_technology"] = to_string(hw.energy.dram);
  j["components_pj"] = {{"array", b.array},       {"sram", b.sram}, {"vector", b.vector},   {"softmax", b.softmax},
                        {"datapath", b.datapath}, {"dma", b.dma},   {"dram", b.dram},       {"leakage", b.leakage}};
  j["total_pj"] = b.total;
  // DRAM's two parts (dynamic + background = components_pj.dram exactly), and how they were priced.
  j["dram_components_pj"] = {{"dynamic", b.dram_dynamic}, {"background", b.dram_background}};
  j["dram_energy_model"] = b.dram_by_commands ? "commands" : "per_byte";
  j["pj_per_mac"] = c.macs ? b.total / double(c.macs) : 0.0;
  j["average_power_w"] = seconds > 0 ? joules / seconds : 0.0;
  j["edp_j_s"] = joules * seconds;  // energy-delay product
  // Performance per watt and per mm^2: MACs per second per watt (= MACs per joule), per mm^2 of the chip
  // (the DRAM PHY included), in GMAC/s.
  const double gmacs_per_s = seconds > 0 ? double(c.macs) / seconds * 1e-9 : 0.0;
  j["gmacs_per_s_per_w"] = joules > 0 ? double(c.macs) / joules * 1e-9 : 0.0;
  j["gmacs_per_s_per_mm2"] = area.total > 0 ? gmacs_per_s / area.total : 0.0;
  // What was counted, and what one of each cost: total = sum of count x energy (+ leakage x time).
  j["actions"] = {{"macs", c.macs},
                  {"sram_read_accesses", bank_reads},
                  {"sram_write_accesses", bank_writes},
                  {"sram_read_bytes", c.sram_read_bytes},
                  {"sram_written_bytes", c.sram_written_bytes},
                  {"accumulator_array_read_accesses", c.acc_array_read_accesses},
                  {"accumulator_array_write_accesses", c.acc_array_write_accesses},
                  {"accumulator_unit_read_accesses", c.acc_unit_read_accesses},
                  {"accumulator_unit_write_accesses", c.acc_unit_write_accesses},
                  {"vector_lane_ops", vec_ops},
                  {"softmax_lane_ops", sm_ops},
                  {"datapath_pe_ops", pe_ops},
                  {"row_unit_ops", ru_ops},
                  {"dma_bytes", c.dma_bytes},
                  {"dram_read_bytes", c.dram_read_bytes},
                  {"dram_written_bytes", c.dram_written_bytes},
                  {"seconds", seconds}};
  if (c.dram_commands.present) {  // the cycle-accurate controller's own counts
    const DramCommandCounts& d = c.dram_commands;
    j["actions"]["dram_commands"] = {{"ACT", d.act}, {"PRE", d.pre}, {"PREA", d.prea}, {"RD", d.rd},
                                     {"WR", d.wr},   {"REF", d.ref}, {"PDE", d.pde},   {"PDX", d.pdx},
                                     {"SRE", d.sre}, {"SRX", d.srx}};
    j["actions"]["dram_banks_closed_by_PREA"] = d.prea_banks_closed;
    j["actions"]["dram_active_standby_rank_cycles"] = d.active_rank_cycles;
    j["actions"]["dram_precharged_standby_rank_cycles"] = d.precharged_rank_cycles;
    j["actions"]["dram_active_power_down_rank_cycles"] = d.active_power_down_rank_cycles;
    j["actions"]["dram_precharged_power_down_rank_cycles"] = d.precharged_power_down_rank_cycles;
    j["actions"]["dram_self_refresh_rank_cycles"] = d.self_refresh_rank_cycles;
    j["actions"]["dram_tCK_ps"] = double(d.tck_fs) / 1000.0;
  }
  j["per_action_pj"] = {{"mac", e.mac},
                        {"sram_read_access", e.sram_read},
                        {"sram_write_access", e.sram_write},
                        {"accumulator_array_read_access", e.acc_array_read},
                        {"accumulator_array_write_access", e.acc_array_write},
                        {"accumulator_unit_read_access", e.acc_unit_read},
                        {"accumulator_unit_write_access", e.acc_unit_write},
                        {"vector_lane_op", vec_pj},
                        {"softmax_lane_op", sm_pj},
                        {"datapath_pe_op", pe_pj},
                        {"row_unit_op", ru_pj},
                        {"dma_byte", e.dma_byte},
                        {"dram_byte", e.dram_byte},
                        {"leakage_per_second", e.leakage_pj_per_s}};
  if (e.dram_by_commands) {
    const DramCommandEnergies& d = e.dram_command;
    j["per_action_pj"]["dram_act"] = d.act;
    j["per_action_pj"]["dram_pre_per_bank"] = d.pre;
    j["per_action_pj"]["dram_rd"] = d.rd;
    j["per_action_pj"]["dram_wr"] = d.wr;
    j["per_action_pj"]["dram_ref"] = d.ref;
    j["per_action_pj"]["dram_refpb"] = d.refpb;
    j["per_action_pj"]["dram_active_standby_per_rank_cycle"] = d.active_standby_pj_per_cycle;
    j["per_action_pj"]["dram_precharged_standby_per_rank_cycle"] = d.precharged_standby_pj_per_cycle;
    j["per_action_pj"]["dram_active_power_down_per_rank_cycle"] = d.active_power_down_pj_per_cycle;
    j["per_action_pj"]["dram_precharged_power_down_per_rank_cycle"] = d.precharged_power_down_pj_per_cycle;
    j["per_action_pj"]["dram_self_refresh_per_rank_cycle"] = d.self_refresh_pj_per_cycle;
  }
  return j;
}

}  // namespace attnsim
