#pragma once
// Generation: a model's prompt processed at once (the prefill), then one decode step per further
// generated token (ir/decode_graph.h), each simulated on the accelerator. Shared by run, compare and
// the sweep engine's points (a model with "generate" > 0).
//
// Tokens: the prefill processes `prefill` tokens per sequence and yields the first generated token
// (time to first token = the prefill's time); each of the other generate - 1 tokens takes one decode
// step, step k (1 .. generate - 1) at context prefill + k - 1 (tokens already in the cache). The cache
// holds prefill + generate - 1 tokens per sequence.
//
// Sampled simulation: decode steps differ only in the context (the cache length). The first and the
// last step are simulated; an interval between two simulated steps is accepted as linear when the
// steps at its quarter points and midpoint, simulated, lie within `linear_tolerance` of the straight
// line between its ends in cycles and in every DRAM byte count; otherwise both halves are examined the
// same way. The
// steps inside an accepted interval are interpolated linearly. Past `max_simulated` simulations the
// remaining intervals are interpolated and listed as unverified. `all_steps` simulates every step.
//
// Sampled layers: a decode step of a model whose L > 3 layers are all alike is simulated with its
// first 1, 2 and 3 layers (one child per step maps its first layer, then forks the three simulations,
// which inherit the picks); when the 3-layer figures lie within `linear_tolerance` of the line through
// the 1- and 2-layer ones (cycles, time, MACs, the busy times of the array and the DRAM bus, the DRAM
// bytes served and counted), every figure is extrapolated along that line to L layers (f(L) = f(3) +
// (L - 3) (f(3) - f(2)); busy fractions and the binding resource from the extrapolated figures);
// otherwise the step is simulated with all its layers. Each step says which (`layers_simulated`).
//
// The prefill of such a model is sampled the same way: its first 1, 2 and 3 layers simulated, each in
// a child (the mapper's picks for the layer made once before they fork), and extrapolated to L layers
// when every statistic (cycles, time, MACs, instructions, DRAM bytes and busy time, the units' busy
// and stall times) and every action the energy prices lies on the line within `linear_tolerance` (a
// busy or stall time within the tolerance of the run's time, the rest of itself); otherwise the prefill
// is simulated whole. The report's headline figures are then the L layers' (cycles, time, MACs,
// utilization, busy fractions, stalls, DRAM bytes, the roofline, program counts, energy; the compulsory
// roofline from the whole model's graph), while the schedule, phases, per-layer and per-op tables, SRAM
// banks, accumulators and the DRAM model's statistics are the 3 simulated layers' (listed under
// prefill.from_simulated_layers; the per-op energy columns of report.csv are left empty).
// `prefill.layers_simulated` ([1,2,3] or "all") says which. `all_layers` simulates every layer of
// every step and of the prefill.
#include <cstdint>

#include "config/hw_config.h"
#include "config/json_reader.h"
#include "config/model_config.h"

namespace attnsim {

struct GenerationOptions {
  bool all_steps = false;          // simulate every decode step
  bool all_layers = false;         // simulate every layer of the prefill and of a decode step (no layer extrapolation)
  int jobs = 1;                    // simulations at once (forked children)
  double linear_tolerance = 1e-3;  // relative, for accepting an interval as linear
  int max_simulated = 40;          // decode steps simulated at most when sampling
  // Skip the prefill: the decode steps depend on it only through the context, so a long prompt need
  // not be simulated to measure them. The report then has no time to first token (null), no total
  // tokens per second, "prefill": {"simulated": false} and, in place of the prefill's report at the
  // top level, the hardware's source and resolved config only.
  bool decode_only = false;
};

// The DRAM bytes of one decode step's LOAD and STORE instructions, by what they move (no simulation:
// the step compiled and its instructions counted).
struct DecodeStepBytes {
  std::uint64_t weights = 0, state = 0, activations = 0;  // state: the KV cache or the recurrent state
};
DecodeStepBytes decode_step_bytes(const HwConfig& hw, const ModelConfig& model, std::int64_t context);

// The cycle-accurate DRAM's command counts and rank power-state residencies (rank cycles) of a prefill's
// first 1, 2 and 3 layers (f[0..2], objects of integers keyed alike; a residency's key ends in
// "_rank_cycles") extrapolated to `layers` along the line through the 2- and 3-layer values, when each
// 3-layer value lies within tol of the line through the other two, a command count's deviation taken
// against all the commands and a residency's against all the rank cycles (which banks a refresh finds
// open moves with the DRAM's state, so the banks a PREA closes and the precharged rank cycles need
// not lie on a line within tol of themselves); null otherwise. Used by the prefill's extrapolation.
Json extrapolate_dram_commands(const Json f[3], std::int64_t layers, double tol);

// The figures of one decode step at `context`, simulated (one SystemC elaboration: run it in a
// process of its own). Keys: context, cycles, time_s, dram_bytes {weights, state, activations,
// total} (counted from the step's LOAD and STORE instructions), dram_bytes_simulated (what the DRAM
// model served), macs, busy_fraction {array, dram_bus}, binding.
Json simulate_decode_step(const HwConfig& hw, const ModelConfig& model, std::int64_t context);

// Whether a decode step of this model may be extrapolated from its first layers: more than 3 layers,
// all alike.
bool layers_extrapolable(const ModelConfig& model);

// The prefill's model: every layer at seq_len = prefill and no generation (lowrank_linear layers run
// their non-causal form: the same reductions, the prompt's outputs aside).
ModelConfig prefill_model(const ModelConfig& model);

// The generation report: the prefill's report at the top level (summed up, with which layers were
// simulated, under "prefill"), and under "generation" the figures
// (time to first token, time per output token, tokens per second, cache or state bytes per sequence,
// every step with its DRAM bytes split, binding resource and whether it was simulated).
Json simulate_generation(const HwConfig& hw, const ModelConfig& model, const GenerationOptions& opt = {});

}  // namespace attnsim
