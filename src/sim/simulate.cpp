#include "sim/simulate.h"

#include <algorithm>

#include "common/errors.h"
#include "compiler/model_lowering.h"
#include "hw/accelerator.h"
#include "ir/graph.h"
#include "report/report.h"
#include "sim/generate.h"

namespace attnsim {

namespace {

// The first layer's variant parameters as resolved, in the command line's form ("rank=20,samples=200";
// "" for the vanilla variants; the cascade variant's file).
std::string variant_params_text(const LayerSpec& l) {
  const AttentionSpec& a = l.attention;
  if (a.variant == AttnVariant::Cascade) return "file=" + a.cascade_file;
  if (is_vanilla(a.variant)) return "";
  std::int64_t s = a.rank ? a.rank : default_rank(a.variant, l.head_dim);
  // Linformer's projected length and Nystromformer's landmarks are clamped to N (model_config.h).
  if (a.variant == AttnVariant::Linformer || a.variant == AttnVariant::Nystromformer) s = std::min(s, l.seq_len);
  std::string text = "rank=" + std::to_string(s);
  // Primal's samples p default to min(N, 10 s) (model_config.h).
  if (a.variant == AttnVariant::Primal)
    text += ",samples=" + std::to_string(a.samples ? a.samples : std::min(l.seq_len, 10 * s));
  return text;
}

}  // namespace

Json model_workload(const ModelConfig& model) {
  const LayerSpec& l0 = model.layers.front();
  return {{"kind", "model"},
          {"model", model.source},
          {"layers", model.layers.size()},
          {"seq_len", l0.seq_len},
          {"batch", l0.batch},
          {"d_model", l0.d_model},
          {"heads", l0.heads},
          {"head_dim", l0.head_dim},
          {"dtype", model.dtype},
          {"variant", to_string(l0.attention.variant)},
          {"variant_params", variant_params_text(l0)}};
}

Json simulate_model(const HwConfig& hw, const ModelConfig& model, const TraceOptions* trace) {
  if (model.generate > 0) {  // the prefill and the decode steps, each simulated in a child of its own
    if (trace) throw UserError("--trace: not with generation (each decode step is a simulation of its own)");
    return simulate_generation(hw, model);
  }
  const Graph graph = build_graph(model);
  const CompiledModel compiled = compile_model(hw, graph);
  const SimOutcome outcome = simulate(hw, compiled.program, trace);
  Json report = make_report(hw, model_workload(model), compiled.program, outcome, compiled.phases, &graph);
  report["model"] = model.resolved;
  return report;
}

}  // namespace attnsim
