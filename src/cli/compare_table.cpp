#include "cli/compare_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iterator>
#include <sstream>

#include "report/generation_report.h"

namespace attnsim::cli {

namespace {

// Rounded as the report rounds its fractions; a ratio of equal figures stays exactly 1.
double round6(double x) { return x == 0 ? 0 : std::round(x * 1e6) / 1e6; }

Json ratio_or_null(double a, double b) { return b > 0 ? Json(round6(a / b)) : Json(nullptr); }

std::uint64_t dram_bytes(const Json& report) {
  return report["dram"]["bytes_read"].get<std::uint64_t>() + report["dram"]["bytes_written"].get<std::uint64_t>();
}

// The attention core's share of the array's busy cycles, from the report's per-op-class totals.
Json attention_array_share(const Json& report) {
  if (!report.contains("ops")) return nullptr;
  static const char* const kAttentionClasses[] = {"qk", "pv", "softmax", "global", "lowrank"};
  std::int64_t attention = 0, all = 0;
  for (auto it = report["ops"].begin(); it != report["ops"].end(); ++it) {
    const std::int64_t busy = it.value()["array_busy_cycles"].get<std::int64_t>();
    all += busy;
    if (std::find(std::begin(kAttentionClasses), std::end(kAttentionClasses), it.key()) != std::end(kAttentionClasses))
      attention += busy;
  }
  return all > 0 ? Json(round6(double(attention) / double(all))) : Json(nullptr);
}

// The attention core's share of the ops' energy (report/energy.h op_energy: their own actions, without the
// run's DRAM background and leakage), from the report's per-op-class totals.
Json attention_energy_share(const Json& report) {
  if (!report.contains("ops")) return nullptr;
  static const char* const kAttentionClasses[] = {"qk", "pv", "softmax", "global", "lowrank"};
  double attention = 0, all = 0;
  for (auto it = report["ops"].begin(); it != report["ops"].end(); ++it) {
    if (!it.value().contains("energy_pj")) return nullptr;
    const double pj = it.value()["energy_pj"]["total"].get<double>();
    all += pj;
    if (std::find(std::begin(kAttentionClasses), std::end(kAttentionClasses), it.key()) != std::end(kAttentionClasses))
      attention += pj;
  }
  return all > 0 ? Json(round6(attention / all)) : Json(nullptr);
}

std::string fixed(const Json& v, int decimals) {
  if (!v.is_number()) return v.is_string() ? v.get<std::string>() : "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v.get<double>());
  return buf;
}

std::string percent(const Json& v) {
  if (!v.is_number()) return v.is_string() ? v.get<std::string>() : "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f %%", 100.0 * v.get<double>());
  return buf;
}

std::string integer(const Json& v) { return v.is_number() ? v.dump() : "-"; }

std::string first_line(const std::string& s) {
  const std::size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl) + " (...)";
}

std::string csv_cell(const Json& v) {
  if (v.is_null()) return "";
  const std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}

// The generation's ratio columns (compare_table.h), each the figure of generation_figures() it divides.
const char* const kGenerationRatios[] = {"ttft_ratio", "tpot_ratio", "tokens_per_s_ratio", "state_bytes_ratio",
                                         "step_dram_bytes_ratio"};
const char* const kGenerationRatioOf[] = {"ttft_s", "tpot_mean_s", "tokens_per_s", "state_bytes_per_sequence",
                                          "last_step_dram_bytes"};

// A report's generation figures (report/generation_report.h, a figure it lacks as null) and the last
// step's DRAM bytes in all, keyed by column.
Json generation_figures(const Json& report) {
  std::vector<std::pair<std::string, Json>> figures;
  append_generation_figures(report, &figures);
  Json f = Json::object();
  for (auto& [k, v] : figures) f[k] = v.is_string() && v.get<std::string>().empty() ? Json(nullptr) : std::move(v);
  Json total = 0;
  for (const char* k : {"last_step_dram_weights_bytes", "last_step_dram_state_bytes", "last_step_dram_activations_bytes"})
    total = f.value(k, Json(nullptr)).is_number() && total.is_number()
                ? Json(total.get<std::uint64_t>() + f[k].get<std::uint64_t>())
                : Json(nullptr);
  f["last_step_dram_bytes"] = total;
  return f;
}

Json ratio_of(const Json& a, const Json& b) {
  return a.is_number() && b.is_number() ? ratio_or_null(a.get<double>(), b.get<double>()) : Json(nullptr);
}

std::string seq_len_list(const Json& seq_lens) {
  std::string s;
  for (const Json& n : seq_lens) s += (s.empty() ? "" : ", ") + n.dump();
  return s;
}

}  // namespace

namespace {

// The energy components (report/energy.h) and area components whose columns the table has.
const char* const kEnergyComponents[] = {"array", "sram", "vector", "softmax", "dma", "dram", "leakage"};
const char* const kAreaComponents[] = {"array", "sram", "accumulators", "vector", "softmax", "dma", "dram_phy"};

// energy_share_C: component C's energy over the run's total; area_C_mm2: its area (0 for a unit the
// hardware lacks: the no_softmax datapath has no softmax unit's area). Null where the report has none.
void add_component_columns(const Json& r, Json* row) {
  const Json& e = r["energy"];
  const double total = e["total_pj"].get<double>();
  for (const char* c : kEnergyComponents)
    (*row)[std::string("energy_share_") + c] =
        total > 0 && e["components_pj"].contains(c) ? Json(round6(e["components_pj"][c].get<double>() / total)) : Json(nullptr);
  for (const char* c : kAreaComponents)
    (*row)[std::string("area_") + c + "_mm2"] = r["area_mm2"].value(c, Json(nullptr));
}

}  // namespace

const std::vector<std::string>& compare_columns(bool generation) {
  static const std::vector<std::string> columns = {"seq_len",
                                                   "variant",
                                                   "status",
                                                   "cycles",
                                                   "time_us",
                                                   "macs",
                                                   "utilization",
                                                   "dram_bytes",
                                                   "sram_high_water_bytes",
                                                   "attention_sram_bytes",
                                                   "softmax_unit_busy",
                                                   "softmax_work",
                                                   "attention_array_share",
                                                   "macs_per_dram_byte",
                                                   "compulsory_binding",
                                                   "pct_of_compulsory_bound",
                                                   "energy_total_pj",
                                                   "energy_dram_dynamic_pj",
                                                   "energy_dram_background_pj",
                                                   "average_power_w",
                                                   "pj_per_token",
                                                   "gmacs_per_s_per_w",
                                                   "gmacs_per_s_per_mm2",
                                                   "area_mm2",
                                                   "attention_energy_share",
                                                   "energy_share_array",
                                                   "energy_share_sram",
                                                   "energy_share_vector",
                                                   "energy_share_softmax",
                                                   "energy_share_dma",
                                                   "energy_share_dram",
                                                   "energy_share_leakage",
                                                   "area_array_mm2",
                                                   "area_sram_mm2",
                                                   "area_accumulators_mm2",
                                                   "area_vector_mm2",
                                                   "area_softmax_mm2",
                                                   "area_dma_mm2",
                                                   "area_dram_phy_mm2",
                                                   "cycles_ratio",
                                                   "macs_ratio",
                                                   "dram_bytes_ratio",
                                                   "energy_ratio",
                                                   "error"};
  static const std::vector<std::string> with_generation = [] {
    std::vector<std::string> c(columns.begin(), columns.end() - 1);  // the error stays last
    c.insert(c.end(), generation_figure_columns().begin(), generation_figure_columns().end());
    c.insert(c.end(), std::begin(kGenerationRatios), std::end(kGenerationRatios));
    c.push_back("error");
    return c;
  }();
  return generation ? with_generation : columns;
}

Json compare_table(const Comparison& c) {
  Json table = Json::array();
  for (std::size_t n = 0; n < c.seq_lens.size(); ++n) {
    const ComparePoint& base = c.at(n, 0);
    const Json base_generation = c.generation && base.ok ? generation_figures(base.report) : Json::object();
    for (std::size_t v = 0; v < c.variants.size(); ++v) {
      const ComparePoint& p = c.at(n, v);
      Json row = Json::object();
      for (const std::string& col : compare_columns(c.generation)) row[col] = nullptr;  // fixes the key order
      row["seq_len"] = p.seq_len;
      row["variant"] = p.variant;
      row["status"] = p.ok ? "ok" : "failed";
      row["error"] = p.ok ? "" : p.error;
      if (p.ok) {
        const Json& r = p.report;
        const std::uint64_t dram = dram_bytes(r), macs = r["macs"].get<std::uint64_t>();
        row["cycles"] = r["cycles"];
        row["time_us"] = r["time_us"];
        row["macs"] = r["macs"];
        row["utilization"] = r["utilization"];
        row["dram_bytes"] = dram;
        row["sram_high_water_bytes"] = r["sram"]["high_water_bytes"];
        row["attention_sram_bytes"] = r["sram"].value("attention_high_water_bytes", Json(nullptr));
        row["softmax_unit_busy"] = r["busy_fraction"]["softmax_unit"];
        row["softmax_work"] = r["busy_fraction"]["softmax_work"];
        row["attention_array_share"] = attention_array_share(r);
        row["macs_per_dram_byte"] = dram ? Json(round6(double(macs) / double(dram))) : Json(nullptr);
        if (r.contains("roofline") && r["roofline"].contains("compulsory")) {
          row["compulsory_binding"] = r["roofline"]["compulsory"]["binding"];
          row["pct_of_compulsory_bound"] = r["roofline"]["compulsory"]["pct_of_bound"];
        }
        if (r.contains("energy") && r["energy"].contains("total_pj")) {
          const Json& e = r["energy"];
          row["energy_total_pj"] = e["total_pj"];
          row["energy_dram_dynamic_pj"] = e["dram_components_pj"]["dynamic"];
          row["energy_dram_background_pj"] = e["dram_components_pj"]["background"];
          row["average_power_w"] = e["average_power_w"];
          row["pj_per_token"] = e.value("pj_per_token", Json(nullptr));
          row["gmacs_per_s_per_w"] = e["gmacs_per_s_per_w"];
          row["gmacs_per_s_per_mm2"] = e["gmacs_per_s_per_mm2"];
          row["area_mm2"] = r["area_mm2"]["total"];
          row["attention_energy_share"] = attention_energy_share(r);
          add_component_columns(r, &row);
        }
        if (base.ok) {
          const Json& b = base.report;
          if (row["energy_total_pj"].is_number() && b.contains("energy") && b["energy"].contains("total_pj"))
            row["energy_ratio"] =
                ratio_or_null(row["energy_total_pj"].get<double>(), b["energy"]["total_pj"].get<double>());
          row["cycles_ratio"] = ratio_or_null(r["cycles"].get<double>(), b["cycles"].get<double>());
          row["macs_ratio"] = ratio_or_null(double(macs), b["macs"].get<double>());
          row["dram_bytes_ratio"] = ratio_or_null(double(dram), double(dram_bytes(b)));
        }
        if (c.generation) {
          const Json f = generation_figures(r);
          for (const std::string& col : generation_figure_columns()) row[col] = f.value(col, Json(nullptr));
          for (std::size_t k = 0; k < std::size(kGenerationRatios); ++k)
            row[kGenerationRatios[k]] =
                ratio_of(f[kGenerationRatioOf[k]], base_generation.value(kGenerationRatioOf[k], Json(nullptr)));
        }
      }
      table.push_back(std::move(row));
    }
  }
  return table;
}

Json compare_crossover(const Comparison& c) {
  if (c.seq_lens.size() < 2 || c.variants.size() < 2 || !c.at(0, 0).vanilla) return nullptr;
  std::vector<std::size_t> by_n(c.seq_lens.size());
  for (std::size_t n = 0; n < by_n.size(); ++n) by_n[n] = n;
  std::sort(by_n.begin(), by_n.end(), [&](std::size_t a, std::size_t b) { return c.seq_lens[a] < c.seq_lens[b]; });
  Json variants = Json::array();
  for (std::size_t v = 1; v < c.variants.size(); ++v) {
    if (c.at(0, v).vanilla) continue;
    Json cycles_from = nullptr, macs_from = nullptr, not_compared = Json::array();
    for (std::size_t n : by_n) {
      const ComparePoint &base = c.at(n, 0), &p = c.at(n, v);
      if (!base.ok || !p.ok) {
        not_compared.push_back(c.seq_lens[n]);
        continue;
      }
      if (cycles_from.is_null() && p.report["cycles"].get<std::int64_t>() < base.report["cycles"].get<std::int64_t>())
        cycles_from = c.seq_lens[n];
      if (macs_from.is_null() && p.report["macs"].get<std::uint64_t>() < base.report["macs"].get<std::uint64_t>())
        macs_from = c.seq_lens[n];
    }
    variants.push_back({{"variant", c.variants[v]},
                        {"fewer_cycles_from_seq_len", cycles_from},
                        {"fewer_macs_from_seq_len", macs_from},
                        {"not_compared", not_compared}});
  }
  if (variants.empty()) return nullptr;
  Json seq_lens = Json::array();
  for (std::size_t n : by_n) seq_lens.push_back(c.seq_lens[n]);
  return {{"baseline", c.variants[0]}, {"seq_lens", seq_lens}, {"variants", variants}};
}

namespace {

// Right-aligned columns under `header`, the first (the variant) left-aligned; a row of one cell is a
// failed point, printed with the first line of its error.
void print_aligned(std::ostream& os, const std::vector<std::string>& header,
                   const std::vector<std::vector<std::string>>& cells, const std::vector<const Json*>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t k = 0; k < header.size(); ++k) width[k] = header[k].size();
  for (const auto& line : cells)
    for (std::size_t k = 0; k < line.size(); ++k) width[k] = std::max(width[k], line[k].size());
  auto print_line = [&](const std::vector<std::string>& line) {
    for (std::size_t k = 0; k < line.size(); ++k) {
      const std::string pad(width[k] - line[k].size(), ' ');
      os << "  " << (k == 0 ? line[k] + pad : pad + line[k]);
    }
    os << "\n";
  };
  print_line(header);
  for (std::size_t v = 0; v < cells.size(); ++v) {
    if (cells[v].size() > 1) {
      print_line(cells[v]);
    } else {
      const std::string& name = cells[v][0];
      os << "  " << name << std::string(width[0] - name.size(), ' ')
         << "  failed: " << first_line((*rows[v])["error"].get<std::string>()) << "\n";
    }
  }
}

// Under a table: where each variant's energy goes, % of its total per component (nothing without energy).
void print_energy_shares(std::ostream& os, const Json& table, std::size_t n, std::size_t nv) {
  std::size_t name_width = 0;
  bool shares = false;
  for (std::size_t v = 0; v < nv; ++v) {
    const Json& row = table[n * nv + v];
    shares |= row["energy_share_array"].is_number();
    name_width = std::max(name_width, row["variant"].get<std::string>().size());
  }
  if (!shares) return;
  os << "  energy by component, % of each variant's total\n    " << std::string(name_width, ' ');
  for (const char* comp : kEnergyComponents) os << std::setw(9) << comp;
  os << "\n";
  for (std::size_t v = 0; v < nv; ++v) {
    const Json& row = table[n * nv + v];
    if (!row["energy_share_array"].is_number()) continue;
    const std::string name = row["variant"].get<std::string>();
    os << "    " << name << std::string(name_width - name.size(), ' ');
    for (const char* comp : kEnergyComponents)
      os << std::setw(9) << fixed(100 * row[std::string("energy_share_") + comp].get<double>(), 1);
    os << "\n";
  }
}

std::string milliseconds(const Json& seconds) {
  if (!seconds.is_number()) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", seconds.get<double>() * 1e3);
  return buf;
}

std::string text_or_dash(const Json& v) { return v.is_string() ? v.get<std::string>() : "-"; }

}  // namespace

void print_comparison(std::ostream& os, const Comparison& c, const Json& table, const Json& crossover) {
  static const std::vector<std::string> kHeader = {
      "variant",   "cycles",       "time (us)",    "MACs",       "util",        "DRAM bytes", "SRAM HWM", "attn SRAM",
      "softmax unit", "softmax work", "attn share", "MACs/DRAM B", "bound", "% of bound", "energy (uJ)", "W", "GMAC/s/W",
      "mm^2", "cycles x", "MACs x", "DRAM x", "energy x"};
  static const std::vector<std::string> kGenerationHeader = {
      "variant",       "TTFT (ms)",   "TPOT mean (ms)", "TPOT first", "TPOT last", "tokens/s",  "step weights B",
      "step cache/state B", "step act. B", "cache/state per seq B", "step bound", "TTFT x", "TPOT x", "tokens/s x",
      "cache/state x", "step DRAM x"};
  const std::size_t nv = c.variants.size();
  for (std::size_t n = 0; n < c.seq_lens.size(); ++n) {
    std::vector<std::vector<std::string>> cells, generation;
    std::vector<const Json*> rows;
    for (std::size_t v = 0; v < nv; ++v) {
      const Json& row = table[n * nv + v];
      rows.push_back(&row);
      if (row["status"] != "ok") {
        cells.push_back({row["variant"].get<std::string>()});
        generation.push_back(cells.back());
        continue;
      }
      cells.push_back({row["variant"].get<std::string>(), integer(row["cycles"]), fixed(row["time_us"], 3),
                       integer(row["macs"]), percent(row["utilization"]), integer(row["dram_bytes"]),
                       integer(row["sram_high_water_bytes"]), integer(row["attention_sram_bytes"]),
                       percent(row["softmax_unit_busy"]),
                       percent(row["softmax_work"]), percent(row["attention_array_share"]),
                       fixed(row["macs_per_dram_byte"], 2), text_or_dash(row["compulsory_binding"]),
                       fixed(row["pct_of_compulsory_bound"], 1),
                       row["energy_total_pj"].is_number() ? fixed(row["energy_total_pj"].get<double>() * 1e-6, 3) : "-",
                       fixed(row["average_power_w"], 2), fixed(row["gmacs_per_s_per_w"], 1), fixed(row["area_mm2"], 1),
                       fixed(row["cycles_ratio"], 3), fixed(row["macs_ratio"], 3), fixed(row["dram_bytes_ratio"], 3),
                       fixed(row["energy_ratio"], 3)});
      if (c.generation)
        generation.push_back({row["variant"].get<std::string>(), milliseconds(row["ttft_s"]),
                              milliseconds(row["tpot_mean_s"]), milliseconds(row["tpot_first_s"]),
                              milliseconds(row["tpot_last_s"]), fixed(row["tokens_per_s"], 1),
                              integer(row["last_step_dram_weights_bytes"]), integer(row["last_step_dram_state_bytes"]),
                              integer(row["last_step_dram_activations_bytes"]), integer(row["state_bytes_per_sequence"]),
                              text_or_dash(row["last_step_binding"]), fixed(row["ttft_ratio"], 3),
                              fixed(row["tpot_ratio"], 3), fixed(row["tokens_per_s_ratio"], 3),
                              fixed(row["state_bytes_ratio"], 3), fixed(row["step_dram_bytes_ratio"], 3)});
    }
    os << "\nN = " << c.seq_lens[n] << (c.generation ? " (the prefill; " : " (") << "x: ratio to " << c.variants[0]
       << ")\n";
    print_aligned(os, kHeader, cells, rows);
    print_energy_shares(os, table, n, nv);
    if (!c.generation) continue;
    os << "\ngeneration after a prompt of N = " << c.seq_lens[n];
    const auto generated = std::find_if(rows.begin(), rows.end(), [](const Json* r) { return (*r)["generate_tokens"].is_number(); });
    if (generated != rows.end()) os << ", " << (**generated)["generate_tokens"].dump() << " tokens generated";
    os << " (step: the last decode step; x: ratio to " << c.variants[0] << ")\n";
    print_aligned(os, kGenerationHeader, generation, rows);
  }
  if (crossover.is_null()) return;
  os << "\ncrossover against " << crossover["baseline"].get<std::string>() << " over the given N ("
     << seq_len_list(crossover["seq_lens"]) << "):\n";
  std::size_t name_width = 0;
  for (const Json& x : crossover["variants"]) name_width = std::max(name_width, x["variant"].get<std::string>().size());
  for (const Json& x : crossover["variants"]) {
    const std::string name = x["variant"].get<std::string>();
    const Json &cyc = x["fewer_cycles_from_seq_len"], &macs = x["fewer_macs_from_seq_len"];
    os << "  " << name << std::string(name_width - name.size(), ' ')
       << "  cycles: " << (cyc.is_null() ? "not cheaper at any given N" : "first cheaper at N = " + cyc.dump())
       << "; MACs: " << (macs.is_null() ? "not fewer at any given N" : "first fewer at N = " + macs.dump());
    if (!x["not_compared"].empty())
      os << " (not compared at N = " << seq_len_list(x["not_compared"]) << ": a run failed)";
    os << "\n";
  }
}

std::string compare_csv(const Json& table, bool generation) {
  std::ostringstream out;
  const std::vector<std::string>& cols = compare_columns(generation);
  for (std::size_t k = 0; k < cols.size(); ++k) out << (k ? "," : "") << cols[k];
  out << "\n";
  for (const Json& row : table) {
    for (std::size_t k = 0; k < cols.size(); ++k) out << (k ? "," : "") << csv_cell(row[cols[k]]);
    out << "\n";
  }
  return out.str();
}

}  // namespace attnsim::cli
