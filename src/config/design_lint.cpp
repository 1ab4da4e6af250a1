#include "config/design_lint.h"

#include <algorithm>
#include <cstdio>
#include <set>

namespace attnsim {

namespace {

std::string num(std::int64_t v) { return std::to_string(v); }

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

bool power_of_two(std::int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

}  // namespace

std::vector<LintWarning> lint_hardware(const HwConfig& hw, std::int64_t head_dim) {
  std::vector<LintWarning> w;
  const ArrayConfig& a = hw.array;
  const SramConfig& s = hw.sram;
  const bool os = a.dataflow == Dataflow::OS;
  const bool psums_in_sram = !os && !hw.accumulators.present;

  // Read side: what the array consumes per cycle at full rate, against what the ports deliver.
  const std::int64_t operand_read = os ? std::int64_t(a.rows + a.cols) * a.operand_bytes
                                       : std::int64_t(a.rows) * a.operand_bytes;
  const std::int64_t psum_bytes = std::int64_t(a.cols) * a.accumulator_bytes;
  const std::int64_t demand_read = operand_read + (psums_in_sram ? psum_bytes : 0);
  const int operands = os ? 2 : 1;  // tiles streamed at once, each in a bank of its own when contiguous
  const std::int64_t read_side = s.interleaved()
                                     ? std::int64_t(s.banks) * s.read_ports * s.port_bytes
                                     : std::int64_t(std::min(s.banks, operands + (psums_in_sram ? 1 : 0))) *
                                           s.read_ports * s.port_bytes;
  if (read_side < demand_read) {
    std::string how = os ? "OS: (rows + cols) x operand_bytes = (" + num(std::int64_t(a.rows)) + " + " +
                               num(std::int64_t(a.cols)) + ") x " + num(std::int64_t(a.operand_bytes))
                         : "rows x operand_bytes = " + num(std::int64_t(a.rows)) + " x " +
                               num(std::int64_t(a.operand_bytes));
    if (psums_in_sram) how += ", + cols x accumulator_bytes of partial sums read back (no accumulator storage)";
    w.push_back({"sram_read_ports", "/sram/port_bytes", false,
                 "the SRAM's read side delivers " + num(read_side) + " B/cycle" +
                     (s.interleaved() ? " (" + num(std::int64_t(s.banks)) + " banks x " +
                                            num(std::int64_t(s.read_ports)) + " read port(s) x " +
                                            num(std::int64_t(s.port_bytes)) + " B, interleaved)"
                                      : " (contiguous banks: each streamed tile lives in one bank, " +
                                            num(std::int64_t(s.read_ports)) + " read port(s) x " +
                                            num(std::int64_t(s.port_bytes)) + " B)") +
                     ", but the " + num(std::int64_t(a.rows)) + "x" + num(std::int64_t(a.cols)) +
                     " array consumes " + num(demand_read) + " B/cycle at full rate (" + how +
                     "): GEMMs will stall on SRAM ports at " +
                     num(100.0 * double(read_side) / double(demand_read)) + "% of the array's rate at best"});
  }
  if (psums_in_sram) {
    const std::int64_t write_side = s.interleaved() ? std::int64_t(s.banks) * s.write_ports * s.port_bytes
                                                    : std::int64_t(s.write_ports) * s.port_bytes;
    if (write_side < psum_bytes)
      w.push_back({"sram_write_ports", "/sram/port_bytes", false,
                   "the SRAM's write side takes " + num(write_side) + " B/cycle, but the " +
                       std::string(to_string(a.dataflow)) + " array writes a row of " + num(std::int64_t(a.cols)) +
                       " partial sums per cycle, " + num(psum_bytes) +
                       " B (no accumulator storage: declare /accumulators or widen the ports)"});
  }

  if (head_dim > 0) {
    const double score_rate = double(a.pes()) / double(head_dim);
    double exp_rate;
    std::string unit, path;
    if (hw.softmax.present) {
      exp_rate = double(std::min(hw.softmax.lanes, hw.softmax.exp_per_cycle));
      unit = "the softmax unit evaluates min(lanes, exp_per_cycle) = " + num(exp_rate) + " exponentials per cycle";
      path = "/softmax/exp_per_cycle";
    } else {
      exp_rate = double(hw.vector.lanes) / double(hw.vector.cost_of(VecPrim::Exp));
      unit = "without a softmax unit, the vector unit evaluates lanes / cost.exp = " + num(std::int64_t(hw.vector.lanes)) +
             " / " + num(std::int64_t(hw.vector.cost_of(VecPrim::Exp))) + " = " + num(exp_rate) +
             " exponentials per cycle";
      path = "/vector/lanes";
    }
    if (exp_rate < score_rate)
      w.push_back({"softmax_rate", path, false,
                   unit + ", but QK^T yields PEs / head_dim = " + num(a.pes()) + " / " + num(head_dim) + " = " +
                       num(score_rate) + " scores per cycle, each needing one: attention's softmax, not the array, "
                       "sets the pace (at best " +
                       num(100.0 * exp_rate / score_rate) + "% of the array's score rate)"});
  }

  const DatapathConfig& dp = hw.datapath;
  if (head_dim > 0 && dp.admits_fused_attention()) {
    const std::int64_t rows_per_unit = (std::int64_t(a.rows) + dp.row_units - 1) / dp.row_units;
    const std::int64_t issue = dp.pe_issue_cycles(head_dim), wait = dp.pe_round_trip_wait(a.cols);
    const std::int64_t pe = dp.pe_tile_cycles(a.cols, head_dim);
    if (pe > issue)
      w.push_back({"score_entries", "/datapath/pe/score_entries", false,
                   "the row max's round trip along the row and back keeps each score entry " + num(wait) +
                       " cycles longer than the PE's " + num(issue) + " cycles of work, which " +
                       num(std::int64_t(dp.pe_score_entries)) + " score entries per PE cannot hide: a key tile takes " +
                       num(pe) + " cycles instead of " + num(issue) + " (at least " +
                       num((issue + wait + issue - 1) / issue) + " entries hide it)"});
    const std::int64_t row =
        dp.row_unit_tile_cycles(rows_per_unit, head_dim) + dp.row_unit_normalize_cycles(rows_per_unit, head_dim);
    if (row > pe)
      w.push_back({"row_unit_rate", "/datapath/row_units/ops_per_cycle", false,
                   "per key tile the row units need " + num(row) + " cycles (" + num(rows_per_unit) +
                       " row(s) per unit x (2 head_dim + 4 = " + num(2 * head_dim + 4) + " operations, and head_dim = " +
                       num(head_dim) + " for the final O / l, at " + num(std::int64_t(dp.row_unit_ops_per_cycle)) +
                       " per cycle + 2 exponentials of " + num(std::int64_t(dp.row_unit_exp_cycles)) +
                       " cycles)) but the PEs only " + num(pe) + ": fused attention runs at most at " +
                       num(100.0 * double(pe) / double(row)) + "% of the PEs' pace"});
  }

  if (s.interleaved() && !power_of_two(s.banks))
    w.push_back({"bank_count", "/sram/banks", false,
                 num(std::int64_t(s.banks)) +
                     " interleaved banks is not a power of two: the simulator picks a bank as (address / " +
                     num(s.interleave_bytes) +
                     ") mod banks at no cost, where hardware needs a divider or a mapping table in the address "
                     "path; the cycles shown leave that out"});
  return w;
}

std::vector<ScheduleAdmission> admitted_schedules(const HwConfig& hw) {
  std::vector<ScheduleAdmission> v;
  // The unfused, row-fused and flash schedules send the scores through the array's edge to a unit that
  // normalises them: the softmax unit, or the vector unit when there is none. Every design has the latter.
  const std::string edge = hw.softmax.present ? "scores leave the array for the softmax unit"
                                              : "scores leave the array for the vector unit (no softmax unit)";
  for (const char* s : {"unfused", "row_fused", "flash"}) v.push_back({s, true, edge});
  const DatapathConfig& dp = hw.datapath;
  if (dp.admits_fused_attention()) {
    v.push_back({"fused", true,
                 "scores stay in the PEs (softmax " + num(dp.pe_softmax_cycles()) + " cycles per score there), " +
                     num(std::int64_t(dp.row_units)) + " row units keep the running statistics"});
  } else {
    std::string missing;
    auto need = [&missing](bool ok, const std::string& what) {
      if (!ok) missing += (missing.empty() ? "" : ", ") + what;
    };
    need(dp.present, "a /datapath section");
    if (dp.present) {
      need(dp.pe_max_cycles > 0, "PE max");
      need(dp.pe_add_cycles > 0, "PE add");
      need(dp.pe_row_scalar_mul_cycles > 0, "PE row_scalar_mul");
      need(dp.pe_exp_cycles > 0, "PE exp");
      need(dp.pe_score_entries > 0, "PE score_entries");
      need(dp.row_units > 0, "row_units");
    }
    v.push_back({"fused", false, "needs " + missing});
  }
  return v;
}

std::vector<LintWarning> lint_model(const ModelConfig& model, const HwConfig* hw) {
  std::vector<LintWarning> w;
  std::set<std::int64_t> head_dims;
  std::set<std::string> seen;  // one warning per rule and layer shape, not per repeated layer
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    const LayerSpec& l = model.layers[i];
    head_dims.insert(l.head_dim);
    const AttentionSpec& at = l.attention;
    if (is_vanilla(at.variant) || at.variant == AttnVariant::Cascade) continue;
    const std::int64_t s = at.rank ? at.rank : default_rank(at.variant, l.head_dim);
    const std::string where = "/layers/" + std::to_string(i) + "/attention";
    if (at.variant == AttnVariant::Primal) {
      const std::int64_t p = at.samples ? at.samples : std::min(l.seq_len, 10 * s);
      const std::string key = "primal " + num(s) + " " + num(p);
      if (s > p && seen.insert(key).second)
        w.push_back({"primal_samples", where + "/rank", true,
                     "primal's rank s = " + num(s) + " is above its sample count p = " + num(p) +
                         (at.samples ? "" : " (min(N, 10 s))") +
                         ": the projections have rank at most p, so the extra rank costs work and buffers and adds "
                         "nothing"});
    }
    const bool clamped = at.variant == AttnVariant::Linformer || at.variant == AttnVariant::Nystromformer;
    const std::string key = std::string(to_string(at.variant)) + " " + num(s) + " " + num(l.seq_len);
    if (!clamped && s >= l.seq_len && seen.insert(key).second)
      w.push_back({"lowrank_rank", where + "/rank", true,
                   std::string(to_string(at.variant)) + "'s rank " + num(s) + " is at least N = " + num(l.seq_len) +
                       ": the low-rank form does no less work than the N x N attention it approximates"});
  }
  if (hw)
    for (std::int64_t d : head_dims)
      for (LintWarning& x : lint_hardware(*hw, d))
        if (x.rule == "softmax_rate") {
          x.message += " (the model's head_dim " + num(d) + ")";
          w.push_back(std::move(x));
        }
  return w;
}

}  // namespace attnsim
