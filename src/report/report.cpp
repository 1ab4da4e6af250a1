#include "report/report.h"
#include "report/generation_report.h"

#include <array>
#include <map>
#include <optional>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "common/errors.h"
#include "config/sram_map.h"
#include "report/energy.h"
#include "report/roofline.h"
#include "report/trace.h"
#include "timing/array_timing.h"

namespace attnsim {

namespace {

std::int64_t to_cycles(fs_t fs, fs_t period) { return std::int64_t(std::llround(double(fs) / double(period))); }
double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }
// Rounded so that reports stay readable; still deterministic.
double round6(double x) { return x == 0 ? 0 : std::round(x * 1e6) / 1e6; }

// High-water marks: the compiler's buffers of one phase are live together (each sized for the
// largest tile it holds); phases reuse the SRAM. Per bank and per tensor class, the maximum over
// phases of the bytes allocated.
struct HighWater {
  std::vector<std::uint64_t> per_bank;
  std::array<std::uint64_t, std::size_t(BufClass::kCount)> per_class{};
  std::uint64_t total = 0;
  std::uint64_t accumulators = 0;  // the accumulator storage's high-water mark
};

HighWater sram_high_water(const HwConfig& hw, const std::vector<BufferInfo>& buffers) {
  HighWater h;
  h.per_bank.assign(std::size_t(hw.sram.banks), 0);
  std::map<std::uint32_t, std::vector<const BufferInfo*>> phases;
  for (const BufferInfo& b : buffers) phases[b.phase].push_back(&b);
  for (const auto& [phase, bufs] : phases) {
    std::vector<std::uint64_t> bank(h.per_bank.size(), 0);
    std::array<std::uint64_t, std::size_t(BufClass::kCount)> cls{};
    std::uint64_t total = 0, acc_end = 0;
    for (const BufferInfo* b : bufs) {
      if (!b->region.bytes) continue;
      if (hw.in_accumulators(b->region.addr)) {  // accumulator storage, not an SRAM bank
        acc_end = std::max(acc_end, b->region.addr + b->region.bytes - hw.accumulator_base());
        continue;
      }
      for_each_sram_bank_extent(hw.sram, b->region.addr, b->region.bytes,
                                [&](int k, std::uint64_t extent) { bank[std::size_t(k)] += extent; });
      cls[std::size_t(b->cls)] += b->region.bytes;
      total += b->region.bytes;
    }
    for (std::size_t k = 0; k < bank.size(); ++k) h.per_bank[k] = std::max(h.per_bank[k], bank[k]);
    for (std::size_t c = 0; c < cls.size(); ++c) h.per_class[c] = std::max(h.per_class[c], cls[c]);
    h.total = std::max(h.total, total);
    h.accumulators = std::max(h.accumulators, acc_end);
  }
  return h;
}

Json op_json(const HwConfig& hw, const OpStats& o);

// What prices an op's actions (report/energy.h op_energy); absent without an energy table.
struct OpPricing {
  ActionEnergies energies;
  double dram_pj_per_dma_byte = 0;
};

Json op_json(const HwConfig& hw, const OpStats& o, const OpPricing* pricing) {
  Json j = op_json(hw, o);
  if (pricing) j["energy_pj"] = op_energy_json(op_energy(hw, pricing->energies, o, pricing->dram_pj_per_dma_byte));
  return j;
}

Json op_json(const HwConfig& hw, const OpStats& o) {
  const fs_t period = hw.array.period_fs();
  const std::int64_t busy = to_cycles(o.array_busy_fs, period);
  const std::int64_t start = o.first_start_fs < 0 ? 0 : to_cycles(o.first_start_fs, period),
                     end = to_cycles(o.last_end_fs, period);
  return {{"array_busy_cycles", busy},
          // MACs per PE-cycle while the array works on this op: how well its tiles fill the folds.
          {"array_efficiency", round6(ratio(double(o.macs), double(busy) * double(hw.array.pes())))},
          {"dram_bytes_per_cycle", round6(ratio(double(o.load_bytes + o.store_bytes), double(end - start)))},
          {"vector_busy_cycles", to_cycles(o.vector_busy_fs, period)},
          {"softmax_busy_cycles", to_cycles(o.softmax_busy_fs, period)},
          {"macs", o.macs},
          {"dram_read_bytes", o.load_bytes},
          {"dram_written_bytes", o.store_bytes},
          {"instructions", o.instrs},
          {"start_cycle", start},
          {"end_cycle", end}};
}

Json demand_json(const RooflineBound& b) {
  Json d = Json::object();
  for (std::size_t r = 0; r < kResourceCount; ++r) d[to_string(Resource(r))] = b.demand_cycles[r];
  return d;
}

Json work_json(const RooflineWork& w) {
  return {{"macs", w.macs},
          {"dram_read_bytes", w.dram_read_bytes},
          {"dram_written_bytes", w.dram_written_bytes},
          {"vector_cycles", w.vector_cycles},
          {"softmax_cycles", w.softmax_cycles},
          {"array_mapped_cycles", w.array_mapped_cycles}};
}

// The compulsory roofline (report/roofline.h): the run's bound against its cycles, and every unit's.
Json compulsory_json(const Graph& g, const Roofline& rf, std::int64_t cycles) {
  Json units = Json::array();
  for (const RooflineUnit& u : rf.units) {
    Json ops = Json::array();
    for (int i : u.graph_ops) ops.push_back(g.ops[std::size_t(i)].name);
    Json j = {{"name", u.name}, {"layer", u.layer}, {"graph_ops", ops}};
    j.update(work_json(u.work));
    j["demand_cycles"] = demand_json(u.bound);
    j["bound_cycles"] = u.bound.bound_cycles;
    j["binding"] = to_string(u.bound.binding);
    j["mapped_bound_cycles"] = u.mapped.bound_cycles;
    j["mapped_binding"] = to_string(u.mapped.binding);
    units.push_back(std::move(j));
  }
  Json c = {{"bound_cycles", rf.bound.bound_cycles},
            {"binding", to_string(rf.bound.binding)},
            {"pct_of_bound", round6(100.0 * ratio(double(rf.bound.bound_cycles), double(cycles)))},
            {"demand_cycles", demand_json(rf.bound)}};
  c.update(work_json(rf.work));
  c["pes"] = rf.pes;
  c["dram_peak_bytes_per_cycle"] = round6(rf.dram_bytes_per_cycle);
  c["sequential_bound_cycles"] = rf.sequential_bound_cycles;
  c["pct_of_sequential_bound"] = round6(100.0 * ratio(double(rf.sequential_bound_cycles), double(cycles)));
  c["mapped"] = {{"bound_cycles", rf.mapped.bound_cycles},
                 {"binding", to_string(rf.mapped.binding)},
                 {"pct_of_bound", round6(100.0 * ratio(double(rf.mapped.bound_cycles), double(cycles)))}};
  c["ops"] = std::move(units);
  return c;
}

// Per layer: when it ran, and what each op class in it did; with a roofline, its compulsory bound.
// The counts op_energy prices, summed.
void add_energy_counts(OpStats* t, const OpStats& o) {
  t->sram += o.sram;
  for (int p = 0; p < kVecPrimCount; ++p) {
    t->vector_lane_ops[std::size_t(p)] += o.vector_lane_ops[std::size_t(p)];
    t->softmax_lane_ops[std::size_t(p)] += o.softmax_lane_ops[std::size_t(p)];
    t->datapath_pe_ops[std::size_t(p)] += o.datapath_pe_ops[std::size_t(p)];
    t->row_unit_ops[std::size_t(p)] += o.row_unit_ops[std::size_t(p)];
  }
}

Json layer_reports(const HwConfig& hw, const SimStats& s, const Roofline* roofline, const OpPricing* pricing) {
  Json layers = Json::array();
  const fs_t period = hw.array.period_fs();
  for (std::size_t l = 0; l < s.ops.size(); ++l) {
    OpStats total;
    Json ops = Json::object();
    for (std::size_t c = 0; c < s.ops[l].size(); ++c) {
      const OpStats& o = s.ops[l][c];
      if (!o.instrs) continue;
      ops[to_string(OpClass(c))] = op_json(hw, o, pricing);
      add_energy_counts(&total, o);
      total.macs += o.macs, total.load_bytes += o.load_bytes, total.store_bytes += o.store_bytes;
      if (total.first_start_fs < 0 || o.first_start_fs < total.first_start_fs) total.first_start_fs = o.first_start_fs;
      total.last_end_fs = std::max(total.last_end_fs, o.last_end_fs);
    }
    const std::int64_t start = to_cycles(std::max<fs_t>(0, total.first_start_fs), period),
                       end = to_cycles(total.last_end_fs, period);
    layers.push_back({{"layer", l},
                      {"start_cycle", start},
                      {"end_cycle", end},
                      {"cycles", end - start},
                      {"macs", total.macs},
                      {"utilization", round6(ratio(double(total.macs), double(end - start) * double(hw.array.pes())))},
                      {"dram_bytes", total.load_bytes + total.store_bytes},
                      {"ops", ops}});
    if (pricing)  // the layer's ops' energy (background and leakage are the run's)
      layers.back()["energy_pj"] =
          op_energy_json(op_energy(hw, pricing->energies, total, pricing->dram_pj_per_dma_byte));
    if (roofline) {
      // The layer's units, their demands summed as for the run.
      RooflineWork w;
      for (const RooflineUnit& u : roofline->units)
        if (std::size_t(u.layer) == l) w += u.work;
      const RooflineBound b = roofline_bound(w, roofline->pes, roofline->dram_bytes_per_cycle);
      Json& layer = layers.back();
      layer["compulsory_bound_cycles"] = b.bound_cycles;
      layer["compulsory_binding"] = to_string(b.binding);
      layer["pct_of_compulsory_bound"] = round6(100.0 * ratio(double(b.bound_cycles), double(end - start)));
    }
  }
  return layers;
}

// Per op class, summed over layers.
Json op_totals(const HwConfig& hw, const SimStats& s, const OpPricing* pricing) {
  Json ops = Json::object();
  for (std::size_t c = 0; c < std::size_t(OpClass::kCount); ++c) {
    OpStats t;
    for (const auto& layer : s.ops) {
      const OpStats& o = layer[c];
      t.array_busy_fs += o.array_busy_fs, t.vector_busy_fs += o.vector_busy_fs, t.softmax_busy_fs += o.softmax_busy_fs;
      t.macs += o.macs, t.load_bytes += o.load_bytes, t.store_bytes += o.store_bytes, t.instrs += o.instrs;
      add_energy_counts(&t, o);
      if (o.instrs && (t.first_start_fs < 0 || o.first_start_fs < t.first_start_fs)) t.first_start_fs = o.first_start_fs;
      t.last_end_fs = std::max(t.last_end_fs, o.last_end_fs);
    }
    if (t.instrs) ops[to_string(OpClass(c))] = op_json(hw, t, pricing);
  }
  return ops;
}


// The run's headline figures from its statistics, set key by key (a report made whole-model from its
// first layers keeps its key order): cycles, time, MACs, utilization, the array's busy cycles, busy
// fractions, array stalls, DRAM bytes and bandwidth.
void put_run_figures(const HwConfig& hw, const SimOutcome& o, Json* rp) {
  Json& r = *rp;
  const SimStats& s = o.stats;
  const fs_t period = hw.array.period_fs();
  const double cycles = double(s.cycles);
  r["cycles"] = s.cycles;
  r["time_us"] = round6(double(s.end_fs) / 1e9);
  r["macs"] = s.macs;
  r["pes"] = hw.array.pes();
  r["utilization"] = round6(ratio(double(s.macs), cycles * double(hw.array.pes())));
  r["array"]["busy_cycles"] = to_cycles(s.array_busy_fs, period);
  const double end = double(s.end_fs);
  Json& busy = r["busy_fraction"];
  busy["array"] = round6(ratio(double(s.array_busy_fs), end));
  busy["vector_unit"] = round6(ratio(double(s.vector_busy_fs), end));
  busy["softmax_unit"] = hw.softmax.present ? Json(round6(ratio(double(s.softmax_busy_fs), end))) : Json("absent");
  busy["softmax_work"] = round6(ratio(double(s.softmax_work_fs), end));
  busy["load_dma"] = round6(ratio(double(s.load_busy_fs), end));
  busy["store_dma"] = round6(ratio(double(s.store_busy_fs), end));
  busy["dram_bus"] = round6(ratio(double(o.dram_busy_fs), end));
  Json& stall = r["array_stall_cycles"];
  stall["memory"] = to_cycles(s.stall_memory_fs, period);
  stall["softmax"] = to_cycles(s.stall_softmax_fs, period);
  stall["vector"] = to_cycles(s.stall_vector_fs, period);
  stall["dependency"] = to_cycles(s.stall_dependency_fs, period);
  stall["sram_port"] = to_cycles(s.stall_sram_port_fs, period);
  const double dram_bytes = double(o.dram_bytes_read + o.dram_bytes_written);
  const double avg_bpc = ratio(dram_bytes, cycles);
  Json& dram = r["dram"];
  dram["bytes_read"] = o.dram_bytes_read;
  dram["bytes_written"] = o.dram_bytes_written;
  dram["avg_bytes_per_cycle"] = round6(avg_bpc);
  dram["avg_GBps"] = round6(avg_bpc * hw.array.clock_mhz * 1e6 / 1e9);
  dram["peak_bytes_per_cycle"] = round6(o.dram_peak_bytes_per_cycle);
  dram["pct_of_peak"] = round6(100.0 * ratio(avg_bpc, o.dram_peak_bytes_per_cycle));
}

// Roofline against the run's own traffic: max(MACs done / PEs, DRAM bytes moved / peak bandwidth).
// Re-reads of a schedule raise its memory bound, so this flatters a schedule that moves more than it
// must; the compulsory roofline (make_report) does not.
void put_roofline_figures(const HwConfig& hw, const SimOutcome& o, Json* rp) {
  const SimStats& s = o.stats;
  const double dram_bytes = double(o.dram_bytes_read + o.dram_bytes_written);
  const std::int64_t compute_bound = std::int64_t(std::ceil(ratio(double(s.macs), double(hw.array.pes()))));
  const std::int64_t memory_bound = std::int64_t(std::ceil(ratio(dram_bytes, o.dram_peak_bytes_per_cycle)));
  const std::int64_t bound = std::max(compute_bound, memory_bound);
  Json& rf = (*rp)["roofline"];
  rf["compute_bound_cycles"] = compute_bound;
  rf["memory_bound_cycles"] = memory_bound;
  rf["bound"] = compute_bound >= memory_bound ? "compute" : "memory";
  rf["pct_of_bound"] = round6(100.0 * ratio(double(bound), double(s.cycles)));
}

void put_program_figures(const SimStats& s, Json* rp) {
  Json& p = (*rp)["program"];
  p["instructions"] = s.instrs;
  p["gemms"] = s.gemms;
  p["vector_ops"] = s.vector_ops;
  p["softmax_ops"] = s.softmax_ops;
  p["loads"] = s.loads;
  p["stores"] = s.stores;
  p["dma_segments"] = s.dma_segments;
}

// The energy section from the counted actions; per token: the run's energy over the tokens it processed
// (a model's sequence length x batch; none for a GEMM).
Json energy_section(const HwConfig& hw, const ActionCounts& counts, const Json& w) {
  Json e = energy_json(hw, counts);
  if (w.is_object() && w.contains("seq_len") && w.contains("batch") && w["seq_len"].is_number_integer() &&
      w["batch"].is_number_integer()) {
    const std::int64_t tokens = w["seq_len"].get<std::int64_t>() * w["batch"].get<std::int64_t>();
    e["tokens"] = tokens;
    e["pj_per_token"] = tokens > 0 ? e["total_pj"].get<double>() / double(tokens) : 0.0;
  }
  return e;
}

}  // namespace

Json make_report(const HwConfig& hw, const Json& workload, const TileProgram& program, const SimOutcome& o) {
  return make_report(hw, workload, ProgramSource::of(program), o);
}

Json make_report(const HwConfig& hw, const Json& workload, const ProgramSource& program, const SimOutcome& o,
                 const std::vector<PhaseInfo>& phases, const Graph* graph) {
  const SimStats& s = o.stats;
  const double cycles = double(s.cycles);
  Json r;
  r["attnsim_version"] = ATTNSIM_VERSION;
  r["hardware"] = {{"source", hw.source},
                   {"description", hw.description},
                   {"array",
                    {{"rows", hw.array.rows},
                     {"cols", hw.array.cols},
                     {"dataflow", to_string(hw.array.dataflow)},
                     {"timing", to_string(hw.array.timing)},
                     {"gemm_chaining", hw.array.gemm_chaining},
                     {"fidelity", to_string(hw.array.fidelity)},
                     {"clock_mhz", hw.array.clock_mhz}}},
                   {"sram",
                    {{"banks", hw.sram.banks},
                     {"bytes_per_bank", hw.sram.bytes_per_bank},
                     {"port_bytes", hw.sram.port_bytes},
                     {"interleave_bytes", hw.sram.interleaved() ? hw.sram.interleave_bytes : 0}}},
                   {"accumulator_storage_bytes", hw.accumulators.present ? hw.accumulators.bytes : 0},
                   {"dram",
                    {{"model", hw.dram.model == DramModel::Cycle ? "cycle" : "ideal"},
                     // The device preset of the cycle-accurate controller ("" for the ideal model).
                     {"preset", hw.dram.model == DramModel::Cycle ? hw.dram.cycle_spec.value("preset", std::string())
                                                                  : std::string()},
                     {"peak_GBps", round6(hw.dram.peak_bytes_per_cycle * hw.array.clock_mhz * 1e6 / 1e9)}}},
                   {"config", hw.resolved}};
  r["workload"] = workload;
  r["schedule"] = program.summary;
  put_run_figures(hw, o, &r);
  if (workload.value("kind", "") == "gemm") {
    // What SCALE-Sim v2 reports for the whole GEMM on this array, untiled (F * L - 1).
    GemmDims d{workload["m"].get<std::int64_t>(), workload["k"].get<std::int64_t>(), workload["n"].get<std::int64_t>()};
    r["array"]["scalesim_reference_cycles"] =
        scalesim_reported_cycles(hw.array.rows, hw.array.cols, hw.array.dataflow, d);
  }
  r["dram"]["model_stats"] = o.dram_stats;

  const HighWater hw_mark = sram_high_water(hw, program.buffers);
  const std::vector<std::uint64_t>& hwm = hw_mark.per_bank;
  Json banks = Json::array();
  for (std::size_t b = 0; b < hwm.size(); ++b) {
    const double port_bytes = cycles * hw.sram.port_bytes;
    banks.push_back(
        {{"bank", b},
         {"high_water_bytes", hwm[b]},
         {"read_bytes", s.bank_read_bytes[b]},
         {"written_bytes", s.bank_written_bytes[b]},
         {"read_port_use", round6(ratio(double(s.bank_read_bytes[b]), port_bytes * hw.sram.read_ports))},
         {"write_port_use", round6(ratio(double(s.bank_written_bytes[b]), port_bytes * hw.sram.write_ports))}});
  }
  Json by_class = Json::object();
  for (std::size_t c = 0; c < hw_mark.per_class.size(); ++c)
    if (hw_mark.per_class[c]) by_class[to_string(BufClass(c))] = hw_mark.per_class[c];
  r["sram"] = {{"capacity_bytes", hw.sram.total_bytes()},
               {"high_water_bytes", hw_mark.total},
               {"high_water_bytes_by_class", by_class},
               {"bank_conflict_cycles", s.bank_queueing_cycles},
               {"banks", banks}};
  if (hw.accumulators.present) {
    // Accumulator storage: its high-water mark, the array's partial-sum traffic through its own
    // ports and the other units' traffic through theirs.
    const SramPorts::AccumulatorTotals& a = s.accumulators;
    const double unit_port = cycles * hw.accumulators.port_bytes, array_port = cycles * hw.accumulators.array_port_bytes;
    r["accumulators"] = {{"capacity_bytes", hw.accumulators.bytes},
                         {"high_water_bytes", hw_mark.accumulators},
                         {"array_read_bytes", a.array_read_bytes},
                         {"array_written_bytes", a.array_written_bytes},
                         {"unit_read_bytes", a.unit_read_bytes},
                         {"unit_written_bytes", a.unit_written_bytes},
                         {"array_port_use", round6(ratio(double(a.array_read_bytes + a.array_written_bytes),
                                                         2 * array_port))},
                         {"unit_read_port_use", round6(ratio(double(a.unit_read_bytes), unit_port))},
                         {"unit_write_port_use", round6(ratio(double(a.unit_written_bytes), unit_port))},
                         {"queueing_cycles", a.queueing_cycles}};
  }

  put_roofline_figures(hw, o, &r);
  std::optional<Graph> gemm;
  if (!graph && workload.value("kind", "") == "gemm") {
    gemm = gemm_graph(
        {workload["m"].get<std::int64_t>(), workload["k"].get<std::int64_t>(), workload["n"].get<std::int64_t>()},
        hw.array.operand_bytes);
    graph = &*gemm;
  }
  std::optional<Roofline> roofline;
  if (graph) {
    roofline = compulsory_roofline(hw, *graph, o.dram_peak_bytes_per_cycle);
    r["roofline"]["compulsory"] = compulsory_json(*graph, *roofline, s.cycles);
  }
  put_program_figures(s, &r);
  if (!phases.empty()) {
    Json ph = Json::array();
    for (const PhaseInfo& p : phases) {
      Json one = {{"name", p.name}, {"layer", p.layer}, {"plan", p.plan}, {"sram_bytes", p.sram_bytes}};
      if (!p.mapping.kind.empty()) one["mapping"] = op_mapping_to_json(p.mapping);  // as --emit mapping prints it
      ph.push_back(one);
    }
    r["phases"] = ph;
    // The attention's own SRAM: the largest of its phases (S = Q K^T, softmax, P V, a fused
    // attention kernel, low-rank global and streaming phases), apart from projections and FFN.
    std::uint64_t attn_sram = 0;
    for (const PhaseInfo& p : phases)
      if (p.cls == OpClass::QK || p.cls == OpClass::Softmax || p.cls == OpClass::PV || p.cls == OpClass::Global ||
          p.cls == OpClass::LowRank)
        attn_sram = std::max(attn_sram, p.sram_bytes);
    r["sram"]["attention_high_water_bytes"] = attn_sram;
    // Each op's energy (report/energy.h op_energy), when the hardware has an energy table.
    std::optional<OpPricing> pricing;
    if (hw.energy.present) {
      pricing.emplace();
      pricing->energies = action_energies(hw, area_breakdown(hw));
      const ActionCounts counts = action_counts(o);
      const EnergyBreakdown b = energy_breakdown(hw, counts);
      pricing->dram_pj_per_dma_byte = counts.dma_bytes ? b.dram_dynamic / double(counts.dma_bytes) : 0.0;
    }
    r["layers"] = layer_reports(hw, s, roofline ? &*roofline : nullptr, pricing ? &*pricing : nullptr);
    r["ops"] = op_totals(hw, s, pricing ? &*pricing : nullptr);
  }
  // Energy and area (report/energy.h): every component from counted actions, with the counts beside.
  if (hw.energy.present) {
    r["area_mm2"] = area_json(hw);
    r["energy"] = energy_section(hw, action_counts(o), r["workload"]);
  }
  // Only when traces were recorded: which files, the window, the slices written and whether the
  // slice limit cut trace.json short.
  if (o.trace.enabled) r["trace"] = trace_report(o.trace);
  return r;
}

void put_whole_model_figures(const HwConfig& hw, const SimOutcome& o, const Graph& graph, const ActionCounts& counts,
                             Json* report) {
  Json& r = *report;
  put_run_figures(hw, o, &r);
  r["sram"]["bank_conflict_cycles"] = o.stats.bank_queueing_cycles;
  put_roofline_figures(hw, o, &r);
  r["roofline"]["compulsory"] =
      compulsory_json(graph, compulsory_roofline(hw, graph, o.dram_peak_bytes_per_cycle), o.stats.cycles);
  put_program_figures(o.stats, &r);
  if (hw.energy.present) r["energy"] = energy_section(hw, counts, r["workload"]);
}

std::vector<std::pair<std::string, Json>> headline_figures(const Json& r) {
  std::vector<std::pair<std::string, Json>> row;
  const Json& a = r["hardware"]["array"];
  row.emplace_back("hardware", r["hardware"]["source"]);
  row.emplace_back("rows", a["rows"]);
  row.emplace_back("cols", a["cols"]);
  row.emplace_back("dataflow", a["dataflow"]);
  row.emplace_back("timing", a["timing"]);
  // The resolved key hardware, whether a sweep varied it or not (absent from reports before it).
  const Json& h = r["hardware"];
  auto field = [](const Json& o, const char* k) { return o.is_object() && o.contains(k) ? o[k] : Json(""); };
  row.emplace_back("clock_mhz", field(a, "clock_mhz"));
  const Json& sram = field(h, "sram");
  row.emplace_back("sram_banks", field(sram, "banks"));
  row.emplace_back("sram_bytes_per_bank", field(sram, "bytes_per_bank"));
  row.emplace_back("sram_port_bytes", field(sram, "port_bytes"));
  row.emplace_back("sram_interleave_bytes", field(sram, "interleave_bytes"));
  row.emplace_back("accumulator_storage_bytes", field(h, "accumulator_storage_bytes"));
  const Json& dram = field(h, "dram");
  row.emplace_back("dram_model", field(dram, "model"));
  row.emplace_back("dram_preset", field(dram, "preset"));
  row.emplace_back("dram_peak_GBps", field(dram, "peak_GBps"));
  for (auto it = r["workload"].begin(); it != r["workload"].end(); ++it) row.emplace_back(it.key(), it.value());
  for (const char* k : {"cycles", "time_us", "macs", "utilization"}) row.emplace_back(k, r[k]);
  row.emplace_back("array_busy_cycles", r["array"]["busy_cycles"]);
  for (auto it = r["array_stall_cycles"].begin(); it != r["array_stall_cycles"].end(); ++it)
    row.emplace_back("stall_" + it.key() + "_cycles", it.value());
  for (const char* k : {"bytes_read", "bytes_written", "avg_GBps", "pct_of_peak"})
    row.emplace_back(std::string("dram_") + k, r["dram"][k]);
  row.emplace_back("sram_high_water_bytes", r["sram"]["high_water_bytes"]);
  row.emplace_back("sram_capacity_bytes", r["sram"]["capacity_bytes"]);
  // A lone GEMM has no attention: an empty cell.
  const Json& sram_use = r["sram"];
  row.emplace_back("attention_sram_high_water_bytes", sram_use.contains("attention_high_water_bytes")
                                                          ? sram_use["attention_high_water_bytes"]
                                                          : Json(""));
  row.emplace_back("pes", r["pes"]);
  for (const char* k : {"array", "vector_unit", "softmax_unit"})  // "absent": no softmax unit
    row.emplace_back(std::string(k) + "_busy_fraction", r["busy_fraction"][k]);
  // Against the run's own traffic ("compute" or "memory", and the run as % of that bound): the
  // columns of earlier reports, meaning unchanged.
  row.emplace_back("roofline_bound", r["roofline"]["bound"]);
  row.emplace_back("pct_of_roofline", r["roofline"]["pct_of_bound"]);
  // The compulsory roofline (report/roofline.h); empty cells when the report has none.
  const Json& c = r["roofline"].contains("compulsory") ? r["roofline"]["compulsory"] : Json::object();
  row.emplace_back("compulsory_bound_cycles", c.value("bound_cycles", Json("")));
  row.emplace_back("compulsory_binding", c.value("binding", Json("")));
  row.emplace_back("pct_of_compulsory_bound", c.value("pct_of_bound", Json("")));
  const Json& mapped = c.contains("mapped") ? c["mapped"] : Json::object();
  row.emplace_back("mapped_binding", mapped.value("binding", Json("")));
  row.emplace_back("pct_of_mapped_bound", mapped.value("pct_of_bound", Json("")));
  // Energy and area (report/energy.h); empty cells for a report without them.
  const Json& en = r.contains("energy") ? r["energy"] : Json::object();
  const Json& comp = en.contains("components_pj") ? en["components_pj"] : Json::object();
  row.emplace_back("energy_table", en.value("table", Json("")));
  row.emplace_back("energy_total_pj", en.value("total_pj", Json("")));
  for (const char* k : {"array", "sram", "vector", "softmax", "datapath", "dma", "dram", "leakage"})
    row.emplace_back(std::string("energy_") + k + "_pj", comp.value(k, Json("")));
  const Json& dram_parts = en.contains("dram_components_pj") ? en["dram_components_pj"] : Json::object();
  row.emplace_back("energy_dram_dynamic_pj", dram_parts.value("dynamic", Json("")));
  row.emplace_back("energy_dram_background_pj", dram_parts.value("background", Json("")));
  row.emplace_back("dram_energy_model", en.value("dram_energy_model", Json("")));
  row.emplace_back("pj_per_mac", en.value("pj_per_mac", Json("")));
  row.emplace_back("average_power_w", en.value("average_power_w", Json("")));
  row.emplace_back("edp_j_s", en.value("edp_j_s", Json("")));
  row.emplace_back("pj_per_token", en.value("pj_per_token", Json("")));
  row.emplace_back("gmacs_per_s_per_w", en.value("gmacs_per_s_per_w", Json("")));
  row.emplace_back("gmacs_per_s_per_mm2", en.value("gmacs_per_s_per_mm2", Json("")));
  // Per op class, summed over layers, named op_<class>_energy_pj: not energy_<component>_pj, which the plots
  // stack as the run's components (report/energy.h op_energy: the ops' own actions, no background or leakage);
  // a column for every class, empty when the run has none of it.
  // A prefill extrapolated over its layers (sim/generate.h) has per-op totals of its first layers only:
  // empty cells.
  const bool ops_whole = !(r.contains("prefill") && r["prefill"].contains("from_simulated_layers"));
  const Json& ops = r.contains("ops") && ops_whole ? r["ops"] : Json::object();
  for (int c = 0; c < int(OpClass::kCount); ++c) {
    const std::string name = to_string(OpClass(c));
    const Json& op = ops.contains(name) ? ops[name] : Json::object();
    row.emplace_back("op_" + name + "_energy_pj",
                     op.contains("energy_pj") ? op["energy_pj"]["total"] : Json(""));
  }
  const Json& area = r.contains("area_mm2") ? r["area_mm2"] : Json::object();
  row.emplace_back("area_mm2", area.value("total", Json("")));
  append_generation_figures(r, &row);  // only for a generating model (report/generation_report.h)
  return row;
}

void make_directories(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw UserError(dir + ": cannot create output directory: " + ec.message());
}

void write_json_file(const std::string& path, const Json& doc) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw UserError(path + ": cannot write");
  out << doc.dump(2) << "\n";
}

std::string csv_cell(const Json& v) {
  std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  if (s.find_first_of(",\"\n") != std::string::npos) {
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  }
  return s;
}

void write_csv_file(const std::string& path, const std::vector<std::pair<std::string, Json>>& row) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw UserError(path + ": cannot write");
  for (std::size_t i = 0; i < row.size(); ++i) out << (i ? "," : "") << row[i].first;
  out << "\n";
  for (std::size_t i = 0; i < row.size(); ++i) out << (i ? "," : "") << csv_cell(row[i].second);
  out << "\n";
}

void print_summary(std::ostream& os, const Json& r) {
  auto line = [&](const std::string& k, const std::string& v) {
    os << "  " << std::left << std::setw(26) << k << v << "\n";
  };
  auto num = [](const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
  auto pct1 = [](const Json& v) {  // a value already in %
    std::ostringstream s;
    s << std::fixed << std::setprecision(1) << v.get<double>() << " %";
    return s.str();
  };
  auto pct = [](const Json& v) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(1) << 100.0 * v.get<double>() << " %";
    return s.str();
  };
  os << r["schedule"].get<std::string>() << "\n";
  line("cycles",
       num(r["cycles"]) + "  (" + num(r["time_us"]) + " us at " + num(r["hardware"]["array"]["clock_mhz"]) + " MHz)");
  line("MACs", num(r["macs"]));
  line("array utilization", pct(r["utilization"]));
  line("array busy cycles", num(r["array"]["busy_cycles"]));
  if (r["array"].contains("scalesim_reference_cycles"))
    line("SCALE-Sim v2 reference", num(r["array"]["scalesim_reference_cycles"]) + "  (untiled compute cycles, F*L-1)");
  line("array stalls (cycles)", "memory " + num(r["array_stall_cycles"]["memory"]) + ", softmax " +
                                    num(r["array_stall_cycles"]["softmax"]) + ", vector " +
                                    num(r["array_stall_cycles"]["vector"]) + ", dependency " +
                                    num(r["array_stall_cycles"]["dependency"]) + ", sram port " +
                                    num(r["array_stall_cycles"]["sram_port"]));
  const Json& bf = r["busy_fraction"];
  line("busy", "array " + pct(bf["array"]) + ", load DMA " + pct(bf["load_dma"]) + ", store DMA " +
                   pct(bf["store_dma"]) + ", DRAM bus " + pct(bf["dram_bus"]));
  line("DRAM read / written", num(r["dram"]["bytes_read"]) + " B / " + num(r["dram"]["bytes_written"]) + " B");
  line("DRAM bandwidth",
       num(r["dram"]["avg_GBps"]) + " GB/s average (" + num(r["dram"]["pct_of_peak"]) + " % of peak)");
  line("SRAM high-water mark", num(r["sram"]["high_water_bytes"]) + " B of " + num(r["sram"]["capacity_bytes"]) + " B");
  if (r["roofline"].contains("compulsory")) {
    const Json& c = r["roofline"]["compulsory"];
    const Json& d = c["demand_cycles"];
    line("roofline (compulsory)", num(c["binding"]) + "-bound, " + num(c["bound_cycles"]) + " cycles (array " +
                                      num(d["array"]) + ", DRAM " + num(d["dram"]) + ", vector " + num(d["vector"]) +
                                      ", softmax " + num(d["softmax"]) + "); run at " + pct1(c["pct_of_bound"]) +
                                      " of it");
    const Json& m = c["mapped"];
    line("roofline (array mapped)", num(m["binding"]) + "-bound, " + num(m["bound_cycles"]) + " cycles (array " +
                                           num(c["array_mapped_cycles"]) + " with the GEMMs folded onto " +
                                           num(r["hardware"]["array"]["rows"]) + "x" +
                                           num(r["hardware"]["array"]["cols"]) + " " +
                                           num(r["hardware"]["array"]["dataflow"]) + "); run at " +
                                           pct1(m["pct_of_bound"]) + " of it");
  }
  if (r.contains("energy")) {
    const Json& e = r["energy"];
    const Json& c = e["components_pj"];
    auto uj = [](const Json& pj) {  // pJ as uJ, 3 decimals
      std::ostringstream s;
      s << std::fixed << std::setprecision(3) << pj.get<double>() * 1e-6;
      return s.str();
    };
    std::ostringstream head;
    head << uj(e["total_pj"]) << " uJ (" << std::fixed << std::setprecision(2) << e["pj_per_mac"].get<double>()
         << " pJ/MAC, " << e["average_power_w"].get<double>() << " W; " << e["table"].get<std::string>() << ")";
    line("energy", head.str());
    line("energy by component (uJ)", "array " + uj(c["array"]) + ", SRAM " + uj(c["sram"]) + ", vector " +
                                         uj(c["vector"]) + ", softmax " + uj(c["softmax"]) + ", datapath " +
                                         uj(c["datapath"]) + ", DMA " +
                                         uj(c["dma"]) + ", DRAM " + uj(c["dram"]) + ", leakage " + uj(c["leakage"]));
    const Json& d = e["dram_components_pj"];
    line("DRAM energy (uJ)", "dynamic " + uj(d["dynamic"]) + ", background " + uj(d["background"]) + " (" +
                                 e["dram_energy_model"].get<std::string>() + ")");
    std::ostringstream area;
    area << std::fixed << std::setprecision(2) << r["area_mm2"]["total"].get<double>() << " mm^2";
    line("area", area.str());
    std::ostringstream perf;
    perf << std::fixed << std::setprecision(2) << e["gmacs_per_s_per_w"].get<double>() << " GMAC/s/W, "
         << e["gmacs_per_s_per_mm2"].get<double>() << " GMAC/s/mm^2";
    if (e.contains("pj_per_token")) perf << ", " << uj(e["pj_per_token"]) << " uJ/token";
    line("performance", perf.str());
  }
  line("roofline (own traffic)", num(r["roofline"]["bound"]) + ", " + num(r["roofline"]["compute_bound_cycles"]) +
                                     " / " + num(r["roofline"]["memory_bound_cycles"]) +
                                     " cycles (compute / memory); run at " + pct1(r["roofline"]["pct_of_bound"]) +
                                     " of it");
}

}  // namespace attnsim
