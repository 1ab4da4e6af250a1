#include "sim/generate.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "common/errors.h"
#include "compiler/model_lowering.h"
#include "hw/accelerator.h"
#include "ir/decode_graph.h"
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

Json simulate_step_figures(const HwConfig& hw, const ModelConfig& model, std::int64_t context) {
  const DecodeStepGraph d = build_decode_step_graph(model, context, capacity_of(model));
  const CompiledModel cm = compile_model(hw, d.graph);
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

// The figures of the whole model from its first 1, 2 and 3 layers' (f[0..2]), when every figure's
// 3-layer value lies within tol of the line through the other two; null otherwise.
Json extrapolate_layers(const Json f[3], std::int64_t layers, double tol) {
  Json r = Json::object();
  for (const char* k : kStepFigures) {
    const double a = f[0][k].get<double>(), b = f[1][k].get<double>(), c = f[2][k].get<double>();
    if (!close(c, b + (b - a), tol)) return Json();
    // In integers: the figures are counts of cycles, femtoseconds and bytes (exact below 2^63).
    const std::int64_t ib = f[1][k].get<std::int64_t>(), ic = f[2][k].get<std::int64_t>();
    r[k] = ic + (layers - 3) * (ic - ib);
  }
  return r;
}

}  // namespace

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
  // Runs the prefill (when asked) and the decode steps at `contexts` in children: with sampled layers,
  // each step's first 1, 2 and 3 layers, and the whole step when those are not on a line.
  auto run = [&](const std::vector<std::int64_t>& contexts, bool with_prefill) {
    with_prefill = with_prefill && !opt.decode_only;
    struct Task {
      std::int64_t context;
      int layers;  // 1, 2, 3, or 0: all of them; -1: the prefill
    };
    std::vector<Task> what;
    if (with_prefill) what.push_back({0, -1});
    for (std::int64_t c : contexts)
      for (int k = sample_layers ? 1 : 0; k <= (sample_layers ? 3 : 0); ++k) what.push_back({c, k});
    std::map<std::pair<std::int64_t, int>, Json> got;
    std::vector<std::int64_t> whole;  // steps to simulate again with all their layers
    while (!what.empty()) {
      std::vector<ChildTask> tasks;
      for (const Task& t : what)
        tasks.push_back(t.layers < 0 ? ChildTask([&hw, &pre] { return simulate_model(hw, pre).dump(); })
                                     : ChildTask([&hw, &model, &prefix, t] {
                                         return simulate_step_figures(hw, t.layers ? prefix[t.layers - 1] : model,
                                                                      t.context)
                                             .dump();
                                       }));
      const std::vector<ChildResult> results = run_in_children(tasks, std::max(opt.jobs, 1));
      for (std::size_t i = 0; i < results.size(); ++i) {
        const Task& t = what[i];
        const std::string name = t.layers < 0 ? std::string("the prefill")
                                              : "the decode step at context " + std::to_string(t.context) +
                                                    (t.layers ? " (" + std::to_string(t.layers) + " layers)" : "");
        if (!results[i].ok) throw UserError(model.source + ": " + name + " failed: " + results[i].output);
        Json j = parse_json_text(results[i].output, name);
        if (t.layers < 0)
          prefill = std::move(j);
        else
          got[{t.context, t.layers}] = std::move(j);
      }
      what.clear();
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
            what.push_back({c, 0});
            continue;
          }
          s = step_of(model, hw.array.pes(), c, x);
          s["layers_simulated"] = Json::array({1, 2, 3});
          ++layer_extrapolated;
        }
        sim[c] = std::move(s);
      }
      with_prefill = false;
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
          {"steps_simulated_whole", sample_layers ? layer_full : std::int64_t(sim.size())}}}}},
      {"binding_steps", binding},
      {"steps", step_list}};
  Json report = opt.decode_only ? Json{{"attnsim_version", ATTNSIM_VERSION},
                                       {"hardware", {{"source", hw.source}, {"config", hw.resolved}}}}
                                 : std::move(prefill);
  report["prefill"] = opt.decode_only ? Json{{"simulated", false}}
                                      : Json{{"cycles", report["cycles"]}, {"time_us", report["time_us"]}};
  report["generation"] = std::move(g);
  report["model"] = model.resolved;
  return report;
}

}  // namespace attnsim
