#pragma once
// The generation section of a report (sim/generate.h) for people: the terminal table, the per-step
// CSV and the headline columns a sweep or a comparison collects.
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "config/json_reader.h"

namespace attnsim {

// Time to first token, time per output token (mean, first, last step), tokens per second, cache or
// state bytes per sequence, the DRAM bytes of the first and last step split by what they move, the
// binding resource, and which steps were simulated.
void print_generation(std::ostream& os, const Json& report);
// One row per decode step: step, context, simulated, cycles, time_s, DRAM bytes (weights, state,
// activations, total), binding.
void write_generation_steps_csv(const std::string& path, const Json& report);
// The headline columns of a generation, in order: prefill_tokens, generate_tokens, ttft_s,
// tpot_{mean,first,last}_s, tokens_per_s, decode_tokens_per_s, state_bytes_per_sequence (at the end),
// last_step_dram_{weights,state,activations}_bytes, last_step_binding.
const std::vector<std::string>& generation_figure_columns();
// For a report with a "generation" section: its headline columns appended to `row` (nothing otherwise;
// "" for a figure a generation without decode steps lacks).
void append_generation_figures(const Json& report, std::vector<std::pair<std::string, Json>>* row);

}  // namespace attnsim
