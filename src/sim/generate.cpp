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

Json simulate_decode_step(const HwConfig& hw, const ModelConfig& model, std::int64_t context) {
  const DecodeStepGraph d = build_decode_step_graph(model, context, capacity_of(model));
  const CompiledModel cm = compile_model(hw, d.graph);
  const ByteCounter counter = count_bytes(d, cm);
  const SimOutcome o = simulate(hw, cm.program, nullptr);
  const double end = double(std::max<fs_t>(o.stats.end_fs, 1));
  const double array = double(o.stats.array_busy_fs) / end, bus = double(o.dram_busy_fs) / end;
  const bool state_is_cache = !constant_state(model);
  // The resource the step waits for: the DRAM bus when it is busier than the array, split by which
  // bytes dominate it; else the array (compute).
  const std::string binding = bus < array ? "compute"
                              : counter.bytes[ByteCounter::kWeights] >= counter.bytes[ByteCounter::kState]
                                  ? "weights bandwidth"
                                  : (state_is_cache ? "cache bandwidth" : "state bandwidth");
  const std::uint64_t total = counter.bytes[0] + counter.bytes[1] + counter.bytes[2];
  return {{"context", context},
          {"cycles", o.stats.cycles},
          {"time_s", double(o.stats.end_fs) * 1e-15},
          {"dram_bytes",
           {{"weights", counter.bytes[ByteCounter::kWeights]},
            {"state", counter.bytes[ByteCounter::kState]},
            {"activations", counter.bytes[ByteCounter::kActivations]},
            {"total", total}}},
          {"dram_bytes_simulated", o.dram_bytes_read + o.dram_bytes_written},
          {"macs", o.stats.macs},
          {"busy_fraction", {{"array", array}, {"dram_bus", bus}}},
          {"binding", binding}};
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
  ATTNSIM_ASSERT(model.generate > 0, "simulate_generation: the model generates no tokens");
  const std::int64_t first = model.prefill, steps = model.generate - 1, last = first + steps - 1;
  const ModelConfig pre = prefill_model(model);
  std::map<std::int64_t, Json> sim;  // simulated decode steps by context
  Json prefill;
  // Runs the prefill (when asked) and the decode steps at `contexts` in children.
  auto run = [&](const std::vector<std::int64_t>& contexts, bool with_prefill) {
    std::vector<ChildTask> tasks;
    if (with_prefill) tasks.push_back([&hw, &pre] { return simulate_model(hw, pre).dump(); });
    for (std::int64_t c : contexts)
      tasks.push_back([&hw, &model, c] { return simulate_decode_step(hw, model, c).dump(); });
    const std::vector<ChildResult> results = run_in_children(tasks, std::max(opt.jobs, 1));
    for (std::size_t i = 0; i < results.size(); ++i) {
      const std::string what = with_prefill && i == 0
                                   ? std::string("the prefill")
                                   : "the decode step at context " + std::to_string(contexts[i - (with_prefill ? 1 : 0)]);
      if (!results[i].ok) throw UserError(model.source + ": " + what + " failed: " + results[i].output);
      Json j = parse_json_text(results[i].output, what);
      if (with_prefill && i == 0)
        prefill = std::move(j);
      else
        sim[contexts[i - (with_prefill ? 1 : 0)]] = std::move(j);
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
    }
    s["step"] = c - first + 1;
    decode_s += s["time_s"].get<double>();
    if (c == first) first_s = s["time_s"].get<double>();
    if (c == last) last_s = s["time_s"].get<double>();
    ++binding_steps[s["binding"].get<std::string>()];
    step_list.push_back(std::move(s));
  }

  const double ttft = prefill["time_us"].get<double>() * 1e-6;
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
      {"ttft_s", ttft},
      {"tpot_s", steps ? Json{{"mean", decode_s / double(steps)}, {"first", first_s}, {"last", last_s}} : Json()},
      {"total_s", total_s},
      {"tokens_per_s", double(batch * model.generate) / total_s},
      {"decode_tokens_per_s", steps ? double(batch * steps) / decode_s : 0.0},
      {"state", constant_state(model) ? "fixed-size state" : "kv cache"},
      {"state_bytes_per_sequence", {{"after_prefill", state_prefill}, {"at_end", state_end}, {"per_token", per_token}}},
      {"sampling",
       {{"all_steps", opt.all_steps},
        {"linear_tolerance", opt.linear_tolerance},
        {"simulated_steps", simulated},
        {"unverified_intervals", unverified_json}}},
      {"binding_steps", binding},
      {"steps", step_list}};
  Json report = std::move(prefill);
  report["prefill"] = {{"cycles", report["cycles"]}, {"time_us", report["time_us"]}};
  report["generation"] = std::move(g);
  report["model"] = model.resolved;
  return report;
}

}  // namespace attnsim
