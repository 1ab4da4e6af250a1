#include "sim/simulate.h"

#include "compiler/model_lowering.h"
#include "hw/accelerator.h"
#include "ir/graph.h"
#include "report/report.h"

namespace attnsim {

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
          {"variant", to_string(l0.attention.variant)}};
}

Json simulate_model(const HwConfig& hw, const ModelConfig& model, const TraceOptions* trace) {
  const Graph graph = build_graph(model);
  const CompiledModel compiled = compile_model(hw, graph);
  const SimOutcome outcome = simulate(hw, compiled.program, trace);
  Json report = make_report(hw, model_workload(model), compiled.program, outcome, compiled.phases, &graph);
  report["model"] = model.resolved;
  return report;
}

}  // namespace attnsim
