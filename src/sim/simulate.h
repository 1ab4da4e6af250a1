#pragma once
// One simulation end to end: a model's graph built, compiled for the hardware, simulated and reported.
// Shared by the commands that simulate a model (run, compare) and by the sweep engine's points.
#include "config/hw_config.h"
#include "config/json_reader.h"
#include "config/model_config.h"
#include "hw/trace_recorder.h"

namespace attnsim {

// The report's "workload" section for a model run: source, layers, the first layer's shape, variant.
Json model_workload(const ModelConfig& model);
// Builds the model's graph, compiles it for hw, simulates it (traced when trace is not null) and
// returns the report, with the resolved model under "model". One simulation: call it once per
// process (SystemC elaborates once; common/child_run.h runs several in forked children). A model that
// generates (generate > 0) runs sim/generate.h's prefill and decode steps, each in a forked child.
Json simulate_model(const HwConfig& hw, const ModelConfig& model, const TraceOptions* trace = nullptr);

}  // namespace attnsim
