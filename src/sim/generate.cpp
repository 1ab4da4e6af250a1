#include "sim/generate.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "common/errors.h"
#include "compiler/model_lowering.h"
#include "hw/accelerator.h"
#include "ir/decode_graph.h"
#include "report/report.h"
#include "sim/simulate.h"
#include "common/child_run.h"

namespace attnsim {

namespace {

// DRAM bytes of a program's LOAD and STORE instructions by what they move.
class ByteCounter final : public ProgramSink {
 public:
  enum Kind : std::uint8_t { kWeights, kState, kActivations };
  explicit ByteCounter(std::vector<Kind> kind) : kind_(std::move(kind)) {}
  std::uint32_t add(Instr in) override {
    if (in.op == Opcode::Load || in.op == Opcode::Store) bytes[kind_[in.tensor]] += in.bytes();
    return next_++;
  }
  std::uint64_t bytes[3] = {0, 0, 0};

 private:
  std::vector<Kind> kind_;
  std::uint32_t next_ = 0;
};

std::int64_t capacity_of(const ModelConfig& m) { return m.prefill + std::max<std::int64_t>(m.generate - 1, 1); }

bool constant_state(const ModelConfig& m) {
  for (const LayerSpec& l : m.layers)
    if (is_vanilla(l.attention.variant)) return false;
  return true;
}

// Linear interpolation of every number in the step figures between two simulated steps.
Json interpolate(const Json& a, const Json& b, double t) {
  if (a.is_number() && b.is_number()) {
    const double v = a.get<double>() + (b.get<double>() - a.get<double>()) * t;
    return a.is_number_float() ? Json(v) : Json(std::int64_t(std::llround(v)));
  }
  if (a.is_object()) {
    Json r = Json::object();
    for (auto it = a.begin(); it != a.end(); ++it)
      r[it.key()] = b.contains(it.key()) ? interpolate(it.value(), b[it.key()], t) : it.value();
    return r;
  }
  return t < 0.5 ? a : b;  // strings (binding): the nearer simulated step's
}

bool close(double got, double want, double tol) { return std::abs(got - want) <= tol * std::max(std::abs(got), 1.0); }

// Whether the simulated step m lies on the line between the simulated steps a and b.
bool on_line(const Json& a, const Json& b, const Json& m, std::int64_t ca, std::int64_t cb, std::int64_t cm, double tol) {
  const double t = double(cm - ca) / double(cb - ca);
  auto lerp = [&](const Json& x, const Json& y) { return x.get<double>() + (y.get<double>() - x.get<double>()) * t; };
  if (!close(m["cycles"].get<double>(), lerp(a["cycles"], b["cycles"]), tol)) return false;
  for (const char* k : {"weights", "state", "activations"})
    if (!close(m["dram_bytes"][k].get<double>(), lerp(a["dram_bytes"][k], b["dram_bytes"][k]), tol)) return false;
  return true;
}

ByteCounter count_bytes(const DecodeStepGraph& d, const CompiledModel& cm) {
  std::vector<ByteCounter::Kind> kind(d.graph.tensors.size(), ByteCounter::kActivations);
  for (std::size_t t = 0; t < kind.size(); ++t)
    if (d.graph.tensors[t].kind == TensorKind::Weight) kind[t] = ByteCounter::kWeights;
  for (int t : d.state_tensors) kind[std::size_t(t)] = ByteCounter::kState;
  for (std::size_t t = 0; t < kind.size(); ++t)  // an alias moves the bytes of the tensor it aliases
    if (d.graph.tensors[t].alias_of >= 0) kind[t] = kind[std::size_t(d.graph.tensors[t].alias_of)];
  ByteCounter counter(kind);
  cm.program.generate(counter);
  return counter;
}

}  // namespace

DecodeStepBytes decode_step_bytes(const HwConfig& hw, const ModelConfig& model, std::int64_t context) {
  const DecodeStepGraph d = build_decode_step_graph(model, context, capacity_of(model));
  const ByteCounter c = count_bytes(d, compile_model(hw, d.graph));
  return {c.bytes[ByteCounter::kWeights], c.bytes[ByteCounter::kState], c.bytes[ByteCounter::kActivations]};
}

namespace {

// The additive figures of one decode step as simulated (each grows by the same amount per identical
// layer when a step is linear in its layers), as a child returns them.
const char* const kStepFigures[] = {"cycles",  "end_fs",  "macs",        "array_busy_fs", "dram_busy_fs",
                                    "dram_bytes_simulated", "weights", "state", "activations"};

Json simulate_step_figures(const HwConfig& hw, const ModelConfig& model, std::int64_t context,
                           MapperCache* cache = nullptr) {
  const DecodeStepGraph d = build_decode_step_graph(model, context, capacity_of(model));
  MapperOptions mo;
  mo.cache = cache;
  const CompiledModel cm = compile_model(hw, d.graph, nullptr, mo);
  const ByteCounter counter = count_bytes(d, cm);
  const SimOutcome o = simulate(hw, cm.program, nullptr);
  return {{"cycles", o.stats.cycles},
          {"end_fs", o.stats.end_fs},
          {"macs", o.stats.macs},
          {"array_busy_fs", o.stats.array_busy_fs},
          {"dram_busy_fs", o.dram_busy_fs},
          {"dram_bytes_simulated", o.dram_bytes_read + o.dram_bytes_written},
          {"weights", counter.bytes[ByteCounter::kWeights]},
          {"state", counter.bytes[ByteCounter::kState]},
          {"activations", counter.bytes[ByteCounter::kActivations]}};
}

// The step's report entry from its figures (simulated, or extrapolated over the layers).
Json step_of(const ModelConfig& model, std::int64_t pes, std::int64_t context, const Json& f) {
  const double end = std::max(f["end_fs"].get<double>(), 1.0);
  const double array = f["array_busy_fs"].get<double>() / end, bus = f["dram_busy_fs"].get<double>() / end;
  const std::uint64_t weights = f["weights"], state = f["state"], activations = f["activations"];
  // The array's MACs per busy cycle over its PEs: a step of one-row GEMMs keeps the array busy with
  // fill and drain while few PEs work, which is not a compute bound.
  const double busy_cycles = f["array_busy_fs"].get<double>() * f["cycles"].get<double>() / end;
  const double mac_use = busy_cycles > 0 ? f["macs"].get<double>() / (busy_cycles * double(pes)) : 0;
  // The resource the step waits for: the DRAM bus when it is busier than the array, split by which
  // bytes dominate it; else the array: "compute" when at least half its PEs work while it is busy,
  // "array fill and drain" otherwise.
  const std::string binding = bus < array            ? (mac_use >= 0.5 ? "compute" : "array fill and drain")
                              : weights >= state     ? "weights bandwidth"
                              : !constant_state(model) ? "cache bandwidth"
                                                       : "state bandwidth";
  return {{"context", context},
          {"cycles", f["cycles"]},
          {"time_s", f["end_fs"].get<double>() * 1e-15},
          {"dram_bytes",
           {{"weights", weights}, {"state", state}, {"activations", activations}, {"total", weights + state + activations}}},
          {"dram_bytes_simulated", f["dram_bytes_simulated"]},
          {"macs", f["macs"]},
          {"busy_fraction", {{"array", array}, {"dram_bus", bus}}},
          {"array_mac_utilization_while_busy", mac_use},
          {"binding", binding}};
}

bool same_layer(const LayerSpec& a, const LayerSpec& b) {
  const AttentionSpec &x = a.attention, &y = b.attention;
  return a.d_model == b.d_model && a.heads == b.heads && a.head_dim == b.head_dim && a.seq_len == b.seq_len &&
         a.batch == b.batch && a.ffn_width == b.ffn_width && a.activation == b.activation && a.norm == b.norm &&
         a.norm_position == b.norm_position && a.causal == b.causal && a.kv_heads == b.kv_heads &&
         x.variant == y.variant && x.rank == y.rank && x.samples == y.samples && x.spill == y.spill &&
         x.params == y.params && x.cascade_file == y.cascade_file && x.mapping_file == y.mapping_file &&
         x.cascade_doc == y.cascade_doc && x.mapping_doc == y.mapping_doc;
}

ModelConfig first_layers(const ModelConfig& model, std::size_t n) {
  ModelConfig m = model;
  m.layers.resize(n);
  return m;
}

// Every integer of a, b, c (the figures with 1, 2 and 3 layers, alike in shape) on a line, c within
// tol x max(|c|, floor) of 2b - a: the value at `layers` along it (c + (layers - 3)(c - b), exact in
// integers); null when one is not on the line. Other values are c's.
Json extrapolate_tree(const Json& a, const Json& b, const Json& c, std::int64_t layers, double tol, double floor = 1) {
  if (c.is_number_integer()) {
    const double fa = a.get<double>(), fb = b.get<double>(), fc = c.get<double>();
    if (std::abs(fc - (fb + (fb - fa))) > tol * std::max({std::abs(fc), floor, 1.0})) return Json();
    const std::int64_t ib = b.get<std::int64_t>(), ic = c.get<std::int64_t>();
    return ic + (layers - 3) * (ic - ib);
  }
  if (c.is_object() || c.is_array()) {
    Json r = c;
    if (c.is_object()) {
      for (auto it = c.begin(); it != c.end(); ++it) {
        Json x = extrapolate_tree(a.at(it.key()), b.at(it.key()), it.value(), layers, tol, floor);
        if (x.is_null()) return Json();
        r[it.key()] = std::move(x);
      }
    } else {
      if (a.size() != c.size() || b.size() != c.size()) return Json();
      for (std::size_t i = 0; i < c.size(); ++i) {
        Json x = extrapolate_tree(a[i], b[i], c[i], layers, tol, floor);
        if (x.is_null()) return Json();
        r[i] = std::move(x);
      }
    }
    return r;
  }
  return c;
}

// The figures of the whole model from its first 1, 2 and 3 layers' (f[0..2]), when every figure's
// 3-layer value lies within tol of the line through the other two; null otherwise.
Json extrapolate_layers(const Json f[3], std::int64_t layers, double tol) {
  Json part[3];
  for (int i = 0; i < 3; ++i)
    for (const char* k : kStepFigures) part[i][k] = f[i][k];
  return extrapolate_tree(part[0], part[1], part[2], layers, tol);
}

// The additive figures of a prefill simulated with its first layers, as a child returns them beside
// its report: the simulation's statistics and the actions its energy prices (each an integer that
// grows by the same amount per identical layer when the prefill is linear in its layers), and the
// figures that do not add up ("fixed").
Json outcome_figures(const SimOutcome& o) {
  const SimStats& s = o.stats;
  const ActionCounts c = action_counts(o);
  auto array = [](const auto& v) {
    Json a = Json::array();
    for (auto x : v) a.push_back(std::uint64_t(x));
    return a;
  };
  const DramCommandCounts& d = c.dram_commands;
  return {{"stats",
           {{"end_fs", s.end_fs},
            {"cycles", s.cycles},
            {"array_busy_fs", s.array_busy_fs},
            {"load_busy_fs", s.load_busy_fs},
            {"store_busy_fs", s.store_busy_fs},
            {"vector_busy_fs", s.vector_busy_fs},
            {"softmax_busy_fs", s.softmax_busy_fs},
            {"softmax_work_fs", s.softmax_work_fs},
            {"stall_memory_fs", s.stall_memory_fs},
            {"stall_softmax_fs", s.stall_softmax_fs},
            {"stall_vector_fs", s.stall_vector_fs},
            {"stall_dependency_fs", s.stall_dependency_fs},
            {"stall_sram_port_fs", s.stall_sram_port_fs},
            {"macs", s.macs},
            {"gemms", s.gemms},
            {"vector_ops", s.vector_ops},
            {"softmax_ops", s.softmax_ops},
            {"loads", s.loads},
            {"stores", s.stores},
            {"dma_segments", s.dma_segments},
            {"instrs", s.instrs},
            {"bank_queueing_cycles", s.bank_queueing_cycles},
            {"dram_bytes_read", o.dram_bytes_read},
            {"dram_bytes_written", o.dram_bytes_written},
            {"dram_busy_fs", o.dram_busy_fs}}},
          {"counts",
           {{"bank_read_accesses", array(c.bank_read_accesses)},
            {"bank_write_accesses", array(c.bank_write_accesses)},
            {"sram_read_bytes", c.sram_read_bytes},
            {"sram_written_bytes", c.sram_written_bytes},
            {"acc_array_read_accesses", c.acc_array_read_accesses},
            {"acc_array_write_accesses", c.acc_array_write_accesses},
            {"acc_unit_read_accesses", c.acc_unit_read_accesses},
            {"acc_unit_write_accesses", c.acc_unit_write_accesses},
            {"vector_lane_ops", array(c.vector_lane_ops)},
            {"softmax_lane_ops", array(c.softmax_lane_ops)},
            {"datapath_pe_ops", array(c.datapath_pe_ops)},
            {"row_unit_ops", array(c.row_unit_ops)},
            {"dma_bytes", c.dma_bytes},
            {"dram_commands",
             {{"act", d.act}, {"pre", d.pre}, {"prea", d.prea}, {"prea_banks_closed", d.prea_banks_closed},
              {"rd", d.rd}, {"wr", d.wr}, {"ref", d.ref}, {"refpb", d.refpb}, {"pde", d.pde}, {"pdx", d.pdx},
              {"sre", d.sre}, {"srx", d.srx}, {"active_rank_cycles", d.active_rank_cycles},
              {"precharged_rank_cycles", d.precharged_rank_cycles},
              {"active_power_down_rank_cycles", d.active_power_down_rank_cycles},
              {"precharged_power_down_rank_cycles", d.precharged_power_down_rank_cycles},
              {"self_refresh_rank_cycles", d.self_refresh_rank_cycles}}}}},
          {"fixed",
           {{"dram_peak_bytes_per_cycle", o.dram_peak_bytes_per_cycle},
            {"dram_commands_present", d.present},
            {"tck_fs", d.tck_fs}}}};
}

// The prefill, or its first layers (a child's work): its report (as simulate_model makes it) and its
// additive figures. cache: the mapper's picks for the prefill's layers, made before the children fork.
Json simulate_prefill_part(const HwConfig& hw, const ModelConfig& part, MapperCache* cache) {
  const Graph graph = build_graph(part);
  MapperOptions mo;
  mo.cache = cache;
  const CompiledModel compiled = compile_model(hw, graph, nullptr, mo);
  const SimOutcome o = simulate(hw, compiled.program, nullptr);
  Json report = make_report(hw, model_workload(part), compiled.program, o, compiled.phases, &graph);
  report["model"] = part.resolved;
  return {{"report", std::move(report)}, {"figures", outcome_figures(o)}};
}

// What an extrapolated prefill's report keeps from its first 3 layers, simulated.
const char* const kFromSimulatedLayers[] = {"schedule", "sram (banks, high water)", "accumulators",
                                            "dram.model_stats", "phases", "layers", "ops"};

// The whole prefill's report from its first 1, 2 and 3 layers' (part[0..2], simulate_prefill_part),
// when every statistic and every counted action lies on a line within tol; null otherwise. A unit's
// busy or stalled time (and the SRAM bank conflict cycles) need only lie within tol of the run's time
// (cycles): the busy fractions and stall shares within tol of a line. Likewise a DRAM command count
// need only lie within tol of all the DRAM's commands, and a rank power-state residency within tol of
// all the rank cycles: which banks a refresh finds open, and so how many its PREA closes and how long
// ranks stay precharged, moves with the DRAM's state at each refresh (on HBM2 a Llama-2-7B prefill
// layer's count of banks closed by PREA is 0.2 % off the line, all its commands' 0.002 %), while
// each count's energy is of the same order as any command's (or rank cycle's). Other counts, cycles and
// the run's time are held to tol of themselves.
Json extrapolate_prefill(const HwConfig& hw, const ModelConfig& pre, const Json part[3], double tol) {
  const std::int64_t layers = std::int64_t(pre.layers.size());
  const Json *f[3] = {&part[0]["figures"], &part[1]["figures"], &part[2]["figures"]};
  Json counts[3];
  for (int i = 0; i < 3; ++i) {
    counts[i] = (*f[i])["counts"];
    counts[i].erase("dram_commands");
  }
  Json x = {{"stats", Json::object()},
            {"counts", extrapolate_tree(counts[0], counts[1], counts[2], layers, tol)},
            {"fixed", (*f[2])["fixed"]}};
  if (x["counts"].is_null()) return Json();
  const Json commands[3] = {(*f[0])["counts"]["dram_commands"], (*f[1])["counts"]["dram_commands"],
                            (*f[2])["counts"]["dram_commands"]};
  x["counts"]["dram_commands"] = extrapolate_dram_commands(commands, layers, tol);
  if (x["counts"]["dram_commands"].is_null()) return Json();
  const Json& st3 = (*f[2])["stats"];
  for (auto it = st3.begin(); it != st3.end(); ++it) {
    const std::string& k = it.key();
    const bool share = k != "end_fs" && (k.size() > 3 && k.compare(k.size() - 3, 3, "_fs") == 0);
    const double floor = share ? st3["end_fs"].get<double>() : k == "bank_queueing_cycles" ? st3["cycles"].get<double>() : 1.0;
    Json v = extrapolate_tree((*f[0])["stats"][k], (*f[1])["stats"][k], it.value(), layers, tol, floor);
    if (v.is_null()) return Json();
    x["stats"][k] = std::move(v);
  }
  const Json &st = x["stats"], &ct = x["counts"], &fixed = x["fixed"];
  SimOutcome o;
  SimStats& s = o.stats;
  s.end_fs = st["end_fs"];
  s.cycles = st["cycles"];
  s.array_busy_fs = st["array_busy_fs"];
  s.load_busy_fs = st["load_busy_fs"];
  s.store_busy_fs = st["store_busy_fs"];
  s.vector_busy_fs = st["vector_busy_fs"];
  s.softmax_busy_fs = st["softmax_busy_fs"];
  s.softmax_work_fs = st["softmax_work_fs"];
  s.stall_memory_fs = st["stall_memory_fs"];
  s.stall_softmax_fs = st["stall_softmax_fs"];
  s.stall_vector_fs = st["stall_vector_fs"];
  s.stall_dependency_fs = st["stall_dependency_fs"];
  s.stall_sram_port_fs = st["stall_sram_port_fs"];
  s.macs = st["macs"];
  s.gemms = st["gemms"];
  s.vector_ops = st["vector_ops"];
  s.softmax_ops = st["softmax_ops"];
  s.loads = st["loads"];
  s.stores = st["stores"];
  s.dma_segments = st["dma_segments"];
  s.instrs = st["instrs"];
  s.bank_queueing_cycles = st["bank_queueing_cycles"];
  o.dram_bytes_read = st["dram_bytes_read"];
  o.dram_bytes_written = st["dram_bytes_written"];
  o.dram_busy_fs = st["dram_busy_fs"];
  o.dram_peak_bytes_per_cycle = fixed["dram_peak_bytes_per_cycle"];
  ActionCounts c;
  c.macs = s.macs;
  c.bank_read_accesses = ct["bank_read_accesses"].get<std::vector<std::uint64_t>>();
  c.bank_write_accesses = ct["bank_write_accesses"].get<std::vector<std::uint64_t>>();
  c.sram_read_bytes = ct["sram_read_bytes"];
  c.sram_written_bytes = ct["sram_written_bytes"];
  c.acc_array_read_accesses = ct["acc_array_read_accesses"];
  c.acc_array_write_accesses = ct["acc_array_write_accesses"];
  c.acc_unit_read_accesses = ct["acc_unit_read_accesses"];
  c.acc_unit_write_accesses = ct["acc_unit_write_accesses"];
  auto prims = [](const Json& j, std::array<std::uint64_t, kVecPrimCount>* out) {
    for (std::size_t p = 0; p < out->size(); ++p) (*out)[p] = j.at(p).get<std::uint64_t>();
  };
  prims(ct["vector_lane_ops"], &c.vector_lane_ops);
  prims(ct["softmax_lane_ops"], &c.softmax_lane_ops);
  prims(ct["datapath_pe_ops"], &c.datapath_pe_ops);
  prims(ct["row_unit_ops"], &c.row_unit_ops);
  c.dma_bytes = ct["dma_bytes"];
  c.dram_read_bytes = o.dram_bytes_read;
  c.dram_written_bytes = o.dram_bytes_written;
  const Json& dc = ct["dram_commands"];
  DramCommandCounts& d = c.dram_commands;
  d.present = fixed["dram_commands_present"];
  d.tck_fs = fixed["tck_fs"];
  d.act = dc["act"], d.pre = dc["pre"], d.prea = dc["prea"], d.prea_banks_closed = dc["prea_banks_closed"];
  d.rd = dc["rd"], d.wr = dc["wr"], d.ref = dc["ref"], d.refpb = dc["refpb"];
  d.pde = dc["pde"], d.pdx = dc["pdx"], d.sre = dc["sre"], d.srx = dc["srx"];
  d.active_rank_cycles = dc["active_rank_cycles"];
  d.precharged_rank_cycles = dc["precharged_rank_cycles"];
  d.active_power_down_rank_cycles = dc["active_power_down_rank_cycles"];
  d.precharged_power_down_rank_cycles = dc["precharged_power_down_rank_cycles"];
  d.self_refresh_rank_cycles = dc["self_refresh_rank_cycles"];
  c.seconds = double(s.end_fs) * 1e-15;
  Json r = part[2]["report"];
  r["workload"]["layers"] = layers;
  put_whole_model_figures(hw, o, build_graph(pre), c, &r);
  return r;
}
}  // namespace

Json extrapolate_dram_commands(const Json f[3], std::int64_t layers, double tol) {
  auto residency = [](const std::string& k) {
    return k.size() > 12 && k.compare(k.size() - 12, 12, "_rank_cycles") == 0;
  };
  double commands = 0, rank_cycles = 0;
  for (auto it = f[2].begin(); it != f[2].end(); ++it)
    (residency(it.key()) ? rank_cycles : commands) += it.value().get<double>();
  Json x = Json::object();
  for (auto it = f[2].begin(); it != f[2].end(); ++it) {
    const std::string& k = it.key();
    Json v = extrapolate_tree(f[0].at(k), f[1].at(k), it.value(), layers, tol, residency(k) ? rank_cycles : commands);
    if (v.is_null()) return Json();
    x[k] = std::move(v);
  }
  return x;
}

// The figures of one decode step's first 1, 2 and 3 layers (prefix[0..2]) at `context`, as an array: the
// mapper's picks made once, for the first layer (the picks depend on the layer's shape alone, and the
// mapping search, not the simulation, is most of a short step's cost), then each prefix simulated in a
// child of its own (one SystemC elaboration per process), one after the other.
Json simulate_step_prefixes(const HwConfig& hw, const ModelConfig prefix[3], std::int64_t context) {
  MapperCache cache;
  {
    const DecodeStepGraph d = build_decode_step_graph(prefix[0], context, capacity_of(prefix[0]));
    MapperOptions mo;
    mo.cache = &cache;
    compile_model(hw, d.graph, nullptr, mo);
  }
  std::vector<ChildTask> tasks;
  for (int k = 0; k < 3; ++k)
    tasks.push_back([&hw, &cache, prefix, k, context] {
      return simulate_step_figures(hw, prefix[k], context, &cache).dump();
    });
  const std::vector<ChildResult> results = run_in_children(tasks, 1);
  Json out = Json::array();
  for (int k = 0; k < 3; ++k) {
    if (!results[size_t(k)].ok)
      throw InternalError("its first " + std::to_string(k + 1) + " layers: " + results[size_t(k)].output);
    out.push_back(parse_json_text(results[size_t(k)].output, "a decode step's first layers"));
  }
  return out;
}

Json simulate_decode_step(const HwConfig& hw, const ModelConfig& model, std::int64_t context) {
  return step_of(model, hw.array.pes(), context, simulate_step_figures(hw, model, context));
}

bool layers_extrapolable(const ModelConfig& model) {
  if (model.layers.size() <= 3) return false;
  for (const LayerSpec& l : model.layers)
    if (!same_layer(l, model.layers.front())) return false;
  return true;
}

ModelConfig prefill_model(const ModelConfig& model) {
  ModelConfig p = model;
  p.generate = 0;
  for (LayerSpec& l : p.layers) {
    l.seq_len = model.prefill;
    if (l.attention.variant == AttnVariant::LowRankLinear) l.causal = false;
  }
  p.resolved["generate"] = 0;
  return p;
}

Json simulate_generation(const HwConfig& hw, const ModelConfig& model, const GenerationOptions& opt) {
  ATTNSIM_ASSERT(model.generate > (opt.decode_only ? 1 : 0), "simulate_generation: the model generates no tokens");
  const std::int64_t first = model.prefill, steps = model.generate - 1, last = first + steps - 1;
  const ModelConfig pre = prefill_model(model);
  std::map<std::int64_t, Json> sim;  // simulated decode steps by context
  Json prefill;
  const bool sample_layers = !opt.all_layers && layers_extrapolable(model);
  const std::int64_t layers = std::int64_t(model.layers.size());
  std::int64_t layer_extrapolated = 0, layer_full = 0;  // steps extrapolated from 3 layers, or simulated whole
  const ModelConfig prefix[3] = {first_layers(model, 1), first_layers(model, 2), first_layers(model, 3)};
  const ModelConfig pre_prefix[3] = {first_layers(pre, 1), first_layers(pre, 2), first_layers(pre, 3)};
  bool prefill_extrapolated = false;
  // The mapper's picks for the prefill's layers, made here once when its first 1, 2 and 3 layers run
  // in three children (the picks depend on the layer's shape alone, so each child makes the same):
  // the mapping search, not the simulation, is most of a prefill layer's cost at long prompts.
  MapperCache mapper_cache;
  if (sample_layers && !opt.decode_only) {
    const Graph g = build_graph(pre_prefix[0]);
    MapperOptions mo;
    mo.cache = &mapper_cache;
    compile_model(hw, g, nullptr, mo);
  }
  // Runs the prefill (when asked) and the decode steps at `contexts` in children: with sampled layers,
  // the prefill's and each step's first 1, 2 and 3 layers, and the whole prefill or step when those
  // are not on a line.
  auto run = [&](const std::vector<std::int64_t>& contexts, bool with_prefill) {
    with_prefill = with_prefill && !opt.decode_only;
    struct Task {
      std::int64_t context;
      int layers;  // the prefill: 1, 2, 3, or 0: all of them; a decode step: 1 for its first 1, 2 and 3 layers, or 0
      bool prefill;
    };
    std::vector<Task> what;
    if (with_prefill)
      for (int k = sample_layers ? 1 : 0; k <= (sample_layers ? 3 : 0); ++k) what.push_back({0, k, true});
    for (std::int64_t c : contexts) what.push_back({c, sample_layers ? 1 : 0, false});
    std::map<std::pair<std::int64_t, int>, Json> got;
    Json prefill_part[3];
    while (!what.empty()) {
      std::vector<ChildTask> tasks;
      for (const Task& t : what)
        tasks.push_back(t.prefill ? ChildTask([&hw, &pre, &pre_prefix, &mapper_cache, t] {
          return t.layers ? simulate_prefill_part(hw, pre_prefix[t.layers - 1], &mapper_cache).dump()
                          : simulate_prefill_part(hw, pre, &mapper_cache)["report"].dump();
        })
                                  : ChildTask([&hw, &model, &prefix, t] {
                                      return (t.layers ? simulate_step_prefixes(hw, prefix, t.context)
                                                       : simulate_step_figures(hw, model, t.context))
                                          .dump();
                                    }));
      const std::vector<ChildResult> results = run_in_children(tasks, std::max(opt.jobs, 1));
      for (std::size_t i = 0; i < results.size(); ++i) {
        const Task& t = what[i];
        const std::string name =
            (t.prefill ? std::string("the prefill") : "the decode step at context " + std::to_string(t.context)) +
            (!t.layers ? "" : t.prefill ? " (" + std::to_string(t.layers) + " layers)" : " (its first layers)");
        if (!results[i].ok) throw UserError(model.source + ": " + name + " failed: " + results[i].output);
        Json j = parse_json_text(results[i].output, name);
        if (t.prefill && t.layers)
          prefill_part[t.layers - 1] = std::move(j);
        else if (t.prefill)
          prefill = std::move(j);
        else if (t.layers)
          for (int k = 0; k < 3; ++k) got[{t.context, k + 1}] = j.at(size_t(k));
        else
          got[{t.context, 0}] = std::move(j);
      }
      const bool parts = what.front().prefill && what.front().layers;
      what.clear();
      if (parts) {  // the prefill's first layers came back: extrapolated, or simulated whole
        prefill = extrapolate_prefill(hw, pre, prefill_part, opt.linear_tolerance);
        prefill_extrapolated = !prefill.is_null();
        if (!prefill_extrapolated) what.push_back({0, 0, true});
      }
      for (std::int64_t c : contexts) {
        if (sim.count(c)) continue;
        Json s;
        if (got.count({c, 0})) {
          s = step_of(model, hw.array.pes(), c, got[{c, 0}]);
          s["layers_simulated"] = "all";
          if (sample_layers) ++layer_full;
        } else {
          const Json f[3] = {got[{c, 1}], got[{c, 2}], got[{c, 3}]};
          const Json x = extrapolate_layers(f, layers, opt.linear_tolerance);
          if (x.is_null()) {
            what.push_back({c, 0, false});
            continue;
          }
          s = step_of(model, hw.array.pes(), c, x);
          s["layers_simulated"] = Json::array({1, 2, 3});
          ++layer_extrapolated;
        }
        sim[c] = std::move(s);
      }
    }
  };

  std::vector<std::pair<std::int64_t, std::int64_t>> unverified;
  if (steps == 0) {
    run({}, true);
  } else if (opt.all_steps) {
    std::vector<std::int64_t> all;
    for (std::int64_t c = first; c <= last; ++c) all.push_back(c);
    run(all, true);
  } else {
    // The probes of an interval: its quarter points and midpoint (a staircase in the cost, such as one
    // more array fold every few keys, can put a lone midpoint on the line by chance).
    auto probes = [](std::int64_t a, std::int64_t b) {
      std::set<std::int64_t> p;
      for (std::int64_t q = 1; q <= 3; ++q) {
        const std::int64_t c = a + (b - a) * q / 4;
        if (c > a && c < b) p.insert(c);
      }
      return p;
    };
    std::vector<std::pair<std::int64_t, std::int64_t>> pending;
    // The first and last steps and the whole interval's probes run beside the prefill, the longest
    // simulation, so that with --jobs 2 they take none of the wall time (the probes are needed
    // whatever the ends give).
    std::set<std::int64_t> initial = {first, last};
    if (last - first > 1) {
      pending.push_back({first, last});
      if (int(initial.size() + probes(first, last).size()) <= opt.max_simulated)
        for (std::int64_t c : probes(first, last)) initial.insert(c);
    }
    run(std::vector<std::int64_t>(initial.begin(), initial.end()), true);
    while (!pending.empty()) {
      std::set<std::int64_t> wanted;
      for (const auto& [a, b] : pending)
        for (std::int64_t c : probes(a, b))
          if (!sim.count(c)) wanted.insert(c);
      if (int(sim.size() + wanted.size()) > opt.max_simulated) {
        unverified = pending;
        break;
      }
      if (!wanted.empty()) run(std::vector<std::int64_t>(wanted.begin(), wanted.end()), false);
      std::vector<std::pair<std::int64_t, std::int64_t>> next;
      for (const auto& [a, b] : pending) {
        bool linear = true;
        for (std::int64_t c : probes(a, b)) linear = linear && on_line(sim[a], sim[b], sim[c], a, b, c, opt.linear_tolerance);
        if (linear) continue;
        const std::int64_t m = a + (b - a) / 2;
        if (m - a > 1) next.push_back({a, m});
        if (b - m > 1) next.push_back({m, b});
      }
      pending = std::move(next);
    }
  }

  // Every step: simulated, or interpolated between the nearest simulated steps around it.
  Json step_list = Json::array();
  double decode_s = 0, first_s = 0, last_s = 0;
  std::map<std::string, std::int64_t> binding_steps;
  for (std::int64_t c = first; c <= last; ++c) {
    Json s;
    auto hit = sim.find(c);
    if (hit != sim.end()) {
      s = hit->second;
      s["simulated"] = true;
    } else {
      auto hi = sim.upper_bound(c);
      auto lo = std::prev(hi);
      s = interpolate(lo->second, hi->second, double(c - lo->first) / double(hi->first - lo->first));
      s["context"] = c;
      s["simulated"] = false;
      s.erase("layers_simulated");
    }
    s["step"] = c - first + 1;
    decode_s += s["time_s"].get<double>();
    if (c == first) first_s = s["time_s"].get<double>();
    if (c == last) last_s = s["time_s"].get<double>();
    ++binding_steps[s["binding"].get<std::string>()];
    step_list.push_back(std::move(s));
  }

  const double ttft = opt.decode_only ? 0.0 : prefill["time_us"].get<double>() * 1e-6;
  const std::int64_t batch = model.layers.front().batch;
  const double total_s = ttft + decode_s;
  std::uint64_t state_prefill = 0, state_end = 0, per_token = 0;
  for (const LayerSpec& l : model.layers) {
    state_prefill += state_bytes_per_sequence(l, model.elem_bytes, model.prefill);
    state_end += state_bytes_per_sequence(l, model.elem_bytes, model.prefill + steps);
    per_token += state_bytes_per_sequence(l, model.elem_bytes, model.prefill + 1) -
                 state_bytes_per_sequence(l, model.elem_bytes, model.prefill);
  }
  Json simulated = Json::array();
  for (const auto& [c, j] : sim) simulated.push_back(c - first + 1);
  Json unverified_json = Json::array();
  for (const auto& [a, b] : unverified) unverified_json.push_back({a - first + 1, b - first + 1});
  Json binding = Json::object();
  for (const auto& [k, v] : binding_steps) binding[k] = v;
  Json g = {
      {"prefill_tokens", model.prefill},
      {"generate_tokens", model.generate},
      {"batch", batch},
      {"decode_steps", steps},
      {"ttft_s", opt.decode_only ? Json() : Json(ttft)},
      {"tpot_s", steps ? Json{{"mean", decode_s / double(steps)}, {"first", first_s}, {"last", last_s}} : Json()},
      {"total_s", opt.decode_only ? Json() : Json(total_s)},
      {"tokens_per_s", opt.decode_only ? Json() : Json(double(batch * model.generate) / total_s)},
      {"decode_tokens_per_s", steps ? double(batch * steps) / decode_s : 0.0},
      {"state", constant_state(model) ? "fixed-size state" : "kv cache"},
      {"state_bytes_per_sequence", {{"after_prefill", state_prefill}, {"at_end", state_end}, {"per_token", per_token}}},
      {"sampling",
       {{"all_steps", opt.all_steps},
        {"linear_tolerance", opt.linear_tolerance},
        {"simulated_steps", simulated},
        {"unverified_intervals", unverified_json},
        {"layers",
         {{"all_layers", opt.all_layers},
          {"extrapolable", layers_extrapolable(model)},
          {"steps_extrapolated_from_3_layers", layer_extrapolated},
          {"steps_simulated_whole", sample_layers ? layer_full : std::int64_t(sim.size())},
          {"prefill", opt.decode_only ? Json() : prefill_extrapolated ? Json::array({1, 2, 3}) : Json("all")}}}}},
      {"binding_steps", binding},
      {"steps", step_list}};
  Json report = opt.decode_only ? Json{{"attnsim_version", ATTNSIM_VERSION},
                                       {"hardware", {{"source", hw.source}, {"config", hw.resolved}}}}
                                 : std::move(prefill);
  if (opt.decode_only) {
    report["prefill"] = {{"simulated", false}};
  } else {
    report["prefill"] = {{"cycles", report["cycles"]},
                         {"time_us", report["time_us"]},
                         {"layers", layers},
                         {"layers_simulated", prefill_extrapolated ? Json::array({1, 2, 3}) : Json("all")}};
    if (prefill_extrapolated) {
      Json kept = Json::array();
      for (const char* k : kFromSimulatedLayers) kept.push_back(k);
      report["prefill"]["from_simulated_layers"] = std::move(kept);
    }
  }
  report["generation"] = std::move(g);
  report["model"] = model.resolved;
  return report;
}

}  // namespace attnsim
