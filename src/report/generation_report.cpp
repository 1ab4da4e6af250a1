#include "report/generation_report.h"

#include <cstdio>
#include <fstream>
#include <iterator>

#include "common/errors.h"

namespace attnsim {

namespace {

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string bytes_text(double b) {
  if (b >= 1e9) return fmt("%.3f GB", b / 1e9);
  if (b >= 1e6) return fmt("%.3f MB", b / 1e6);
  if (b >= 1e3) return fmt("%.3f kB", b / 1e3);
  return fmt("%.0f B", b);
}

std::string step_line(const Json& s) {
  const Json& d = s["dram_bytes"];
  return "step " + std::to_string(s["step"].get<std::int64_t>()) + " (context " +
         std::to_string(s["context"].get<std::int64_t>()) + "): " + fmt("%.4g", s["time_s"].get<double>() * 1e3) +
         " ms, DRAM weights " + bytes_text(d["weights"].get<double>()) + ", cache/state " +
         bytes_text(d["state"].get<double>()) + ", activations " + bytes_text(d["activations"].get<double>()) +
         ", bound by " + s["binding"].get<std::string>();
}

}  // namespace

void print_generation(std::ostream& os, const Json& r) {
  const Json& g = r.at("generation");
  os << "attnsim generation: prefill " << g["prefill_tokens"] << " tokens, " << g["generate_tokens"]
     << " tokens generated, batch " << g["batch"] << " (" << g["state"].get<std::string>() << ")\n";
  if (g["ttft_s"].is_null())
    os << "  time to first token     not simulated (decode steps only)\n";
  else
    os << "  time to first token     " << fmt("%.6g", g["ttft_s"].get<double>() * 1e3) << " ms (the prefill, "
       << r["cycles"] << " cycles"
       << (r.contains("prefill") && r["prefill"].value("layers_simulated", Json("all")).is_array()
               ? "; extrapolated to " + r["prefill"]["layers"].dump() +
                     " layers from its first 1, 2 and 3, simulated (per-layer tables: those 3)"
               : std::string())
       << ")\n";
  if (!g["tpot_s"].is_null())
    os << "  time per output token   mean " << fmt("%.6g", g["tpot_s"]["mean"].get<double>() * 1e3) << " ms, first "
       << fmt("%.6g", g["tpot_s"]["first"].get<double>() * 1e3) << " ms, last "
       << fmt("%.6g", g["tpot_s"]["last"].get<double>() * 1e3) << " ms\n";
  if (g["tokens_per_s"].is_null())
    os << "  tokens per second       decode alone " << fmt("%.6g", g["decode_tokens_per_s"].get<double>()) << "\n";
  else
    os << "  tokens per second       " << fmt("%.6g", g["tokens_per_s"].get<double>()) << " (decode alone "
       << fmt("%.6g", g["decode_tokens_per_s"].get<double>()) << ")\n";
  const Json& sb = g["state_bytes_per_sequence"];
  os << "  cache/state per sequence " << bytes_text(sb["after_prefill"].get<double>()) << " after the prefill, "
     << bytes_text(sb["at_end"].get<double>()) << " at the end (" << bytes_text(sb["per_token"].get<double>())
     << " per token)\n";
  const Json& steps = g["steps"];
  if (!steps.empty()) {
    os << "  first " << step_line(steps.front()) << "\n";
    os << "  last  " << step_line(steps.back()) << "\n";
  }
  os << "  binding resource        ";
  bool firstb = true;
  for (auto it = g["binding_steps"].begin(); it != g["binding_steps"].end(); ++it, firstb = false)
    os << (firstb ? "" : ", ") << it.key() << " in " << it.value() << " step(s)";
  os << "\n  simulated steps         " << g["sampling"]["simulated_steps"].dump() << " of " << g["decode_steps"]
     << (g["sampling"]["all_steps"].get<bool>() ? " (all)" : " (the others interpolated)");
  if (!g["sampling"]["unverified_intervals"].empty())
    os << "; intervals interpolated without a linearity check: " << g["sampling"]["unverified_intervals"].dump();
  os << "\n";
  const Json& layers = g["sampling"].value("layers", Json::object());
  if (layers.value("steps_extrapolated_from_3_layers", 0) > 0)
    os << "  layers per step         " << layers["steps_extrapolated_from_3_layers"]
       << " simulated step(s) extrapolated from their first 1, 2 and 3 layers, "
       << layers["steps_simulated_whole"] << " simulated whole (--all-layers: every layer)\n";
}

void write_generation_steps_csv(const std::string& path, const Json& r) {
  std::ofstream f(path);
  if (!f) throw UserError(path + ": cannot write");
  f << "step,context,simulated,cycles,time_s,dram_weights_bytes,dram_state_bytes,dram_activation_bytes,"
       "dram_total_bytes,binding\n";
  for (const Json& s : r.at("generation").at("steps")) {
    const Json& d = s["dram_bytes"];
    f << s["step"] << "," << s["context"] << "," << (s["simulated"].get<bool>() ? "true" : "false") << ","
      << s["cycles"] << "," << s["time_s"] << "," << d["weights"] << "," << d["state"] << "," << d["activations"]
      << "," << d["total"] << "," << s["binding"].get<std::string>() << "\n";
  }
  if (!f) throw UserError(path + ": cannot write");
}

const std::vector<std::string>& generation_figure_columns() {
  static const std::vector<std::string> columns = {
      "prefill_tokens",           "generate_tokens",    "ttft_s",
      "tpot_mean_s",              "tpot_first_s",       "tpot_last_s",
      "tokens_per_s",             "decode_tokens_per_s", "state_bytes_per_sequence",
      "last_step_dram_weights_bytes", "last_step_dram_state_bytes", "last_step_dram_activations_bytes",
      "last_step_binding"};
  return columns;
}

void append_generation_figures(const Json& r, std::vector<std::pair<std::string, Json>>* row) {
  if (!r.contains("generation")) return;
  const Json& g = r["generation"];
  const bool steps = !g["tpot_s"].is_null();
  const Json& last = g["steps"].empty() ? Json::object() : g["steps"].back();
  auto step_bytes = [&](const char* k) { return last.contains("dram_bytes") ? last["dram_bytes"][k] : Json(""); };
  // In the order of generation_figure_columns().
  const Json values[] = {g["prefill_tokens"],
                         g["generate_tokens"],
                         g["ttft_s"],
                         steps ? g["tpot_s"]["mean"] : Json(""),
                         steps ? g["tpot_s"]["first"] : Json(""),
                         steps ? g["tpot_s"]["last"] : Json(""),
                         g["tokens_per_s"],
                         g["decode_tokens_per_s"],
                         g["state_bytes_per_sequence"]["at_end"],
                         step_bytes("weights"),
                         step_bytes("state"),
                         step_bytes("activations"),
                         last.value("binding", Json(""))};
  const std::vector<std::string>& names = generation_figure_columns();
  ATTNSIM_ASSERT(std::size(values) == names.size(), "a generation figure without its column name");
  for (std::size_t i = 0; i < names.size(); ++i) row->emplace_back(names[i], values[i]);
}

}  // namespace attnsim
