#pragma once
// attnsim compare's figures: a row per (sequence length, attention variant) taken from each run's
// report, ratios against the first variant, the sequence lengths at which the other variants become
// cheaper, and the terminal and CSV forms. Plain C++ on reports, testable with hand-made ones.
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "config/json_reader.h"

namespace attnsim::cli {

// One simulated point: the model with one attention variant on every layer, at one N.
struct ComparePoint {
  std::int64_t seq_len = 0;
  std::string variant;   // canonical command-line form: "flash", "primal:rank=96"
  bool vanilla = false;  // unfused, row_fused or flash
  bool ok = false;
  std::string error;  // when !ok: why the run failed
  Json report;        // when ok: the run's report (what attnsim run writes to report.json)
};

struct Comparison {
  bool generation = false;             // the points generate: seq_lens are prompt lengths, reports have "generation"
  std::vector<std::int64_t> seq_lens;  // in the order given
  std::vector<std::string> variants;   // in the order given; the first is the baseline of the ratios
  std::vector<ComparePoint> points;    // sequence-length major: points[n * variants.size() + v]
  const ComparePoint& at(std::size_t n, std::size_t v) const { return points[n * variants.size() + v]; }
};

// The table's columns in order: the CSV header, and the keys of every row of compare_table.
//   seq_len, variant, status ("ok" | "failed"), cycles, time_us, macs, utilization,
//   dram_bytes (read + written), sram_high_water_bytes, softmax_unit_busy (a fraction, or "absent"),
//   softmax_work (fraction of the run spent on softmax work wherever it ran),
//   attention_array_share (array busy cycles of op classes qk, pv, softmax, global, lowrank over the
//   array busy cycles of all classes), macs_per_dram_byte (arithmetic intensity),
//   compulsory_binding, pct_of_compulsory_bound (the report's compulsory roofline: the resource that
//   bounds the run, "array" | "dram" | "vector" | "softmax", and the run as % of that bound),
//   energy_total_pj, energy_dram_dynamic_pj, energy_dram_background_pj, average_power_w,
//   pj_per_token, gmacs_per_s_per_w (GMAC/s per W = GMAC/J), gmacs_per_s_per_mm2, area_mm2 (the
//   report's energy and area; null without them), attention_energy_share (the energy of op classes qk, pv,
//   softmax, global, lowrank over that of all classes, each op's own actions: no DRAM background or leakage),
//   cycles_ratio, macs_ratio, dram_bytes_ratio, energy_ratio (against the first variant at the same N),
//   [generation columns], error.
// The figures above are the prefill's when the points generate. The generation columns (only with
// `generation`) are report/generation_report.h's generation_figure_columns (time to first token, time
// per output token mean / first / last, tokens per second, cache or state bytes per sequence at the
// end, the last decode step's DRAM bytes split into weights, cache or state and activations, its
// binding resource), then their ratios to the first variant at the same N: ttft_ratio,
// tpot_ratio (mean), tokens_per_s_ratio, state_bytes_ratio (per sequence), step_dram_bytes_ratio
// (the last step's weights + cache or state + activations).
const std::vector<std::string>& compare_columns(bool generation = false);

// One row per point, in point order. The figures are null for a failed point; a ratio is null when
// the first variant failed at that N or its figure is 0; error is "" for a point that ran.
Json compare_table(const Comparison& c);

// Where the other variants become cheaper than the first: null unless there are at least two
// sequence lengths, the first variant is vanilla and another is not. Otherwise
//   {"baseline": first variant, "seq_lens": the given N ascending,
//    "variants": [{"variant", "fewer_cycles_from_seq_len", "fewer_macs_from_seq_len", "not_compared"}]}
// for each non-vanilla variant: the smallest given N at which it takes fewer cycles (does fewer MACs)
// than the first variant, null at none; not_compared: the N at which either run failed.
Json compare_crossover(const Comparison& c);

// One table per sequence length (rows: variants), with a generation table after each when the points
// generate, then the crossover when there is one.
void print_comparison(std::ostream& os, const Comparison& c, const Json& table, const Json& crossover);

// A header line and one line per table row: same table, same bytes.
std::string compare_csv(const Json& table, bool generation = false);

}  // namespace attnsim::cli
