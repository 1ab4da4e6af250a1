// The LRA text model (preset lra-text: 2 layers, d_model 64, 2 heads of 32) through the whole
// simulator at N = 4096 and N = 65536, with every attention variant of attn_variant_names() (so a
// variant added later is benchmarked without touching this file), on the cloud and edge presets:
// wall time and peak RSS of the attnsim child (medians), simulated cycles (from report.json) and
// the exit status. Then the hybrid preset lra-text-hybrid (layer 0 flash, layer 1 primal) at both N
// on cloud. Targets (printed, not asserted): each run under 5 s and under 256 MB.
// A run that fails (a crash, an internal error) is a row with its status, and its message (the last
// line the child wrote to stderr) is listed under the table; the others still run. A point attnsim
// refuses as input (exit status 2: a tile that does not fit, a dominated schedule such as
// row-fused with one-row query blocks) is a "refused" row with its message, and has no target.
// The children's stderr goes to a file per point, so the table stays clean. A run still going after
// --timeout seconds (default 600) is killed and its row says "timeout" (target NOT met, not a failure).
// Usage: bench_lra [--runs K] [--hw LIST] [--variants LIST] [--seq-lens LIST] [--timeout S] [--no-hybrid] [--keep]
//   LIST is comma-separated; a variant may carry parameters as for `attnsim compare`
//   (primal:rank=96,samples=200: an item KEY=VALUE belongs to the variant before it).
// Exit status: 0 when every run succeeded, 1 when one failed, 2 on bad options.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench_support.h"
#include "config/json_reader.h"
#include "config/model_config.h"

using attnsim::bench::Measurement;
using attnsim::bench::median_of_runs;
using attnsim::bench::report_cycles;
using attnsim::bench::run_once;

namespace {

constexpr double kTargetSeconds = 5.0;
constexpr double kTargetRssMb = 256.0;

struct Options {
  int runs = 3;
  std::vector<std::string> hws = {"cloud", "edge"};
  std::vector<std::string> variants = attnsim::attn_variant_names();
  std::vector<std::string> seq_lens = {"4096", "65536"};
  double timeout_s = 600;
  bool hybrid = true;
  bool keep = false;
};

struct Row {
  std::string hw, model, variant, n;
  Measurement m;  // medians over the successful runs, or the failed or timed-out run
  std::int64_t cycles = -1;
  std::string error;  // the failed run's message, "" when every run succeeded
  // Exit status 2: attnsim refused the point as bad input (a schedule that does not fit or is
  // dominated, e.g. row-fused on edge at large N): not a failure of the simulator, no target.
  bool refused() const { return !m.timed_out && m.term_signal == 0 && m.status == 2; }
  bool failed() const { return !m.timed_out && !refused() && (m.status != 0 || m.term_signal != 0); }
  bool met() const {
    return !failed() && !refused() && !m.timed_out && m.wall_s < kTargetSeconds && m.max_rss_mb < kTargetRssMb;
  }
};

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    if (comma > start) items.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return items;
}

// Variant specs from a comma-separated list; KEY=VALUE items join the variant before them.
std::vector<std::string> split_variants(const std::string& text) {
  std::vector<std::string> specs;
  for (const std::string& item : split(text)) {
    if (!specs.empty() && item.find('=') != std::string::npos && item.find(':') == std::string::npos)
      specs.back() += (specs.back().find(':') == std::string::npos ? ":" : ",") + item;
    else
      specs.push_back(item);
  }
  return specs;
}

std::string last_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  return last;
}

// Up to opt.runs runs of one point; the first failure or timeout ends the point (and is the row).
Row measure(const std::string& dir, const std::string& hw, const std::string& model, const std::string& variant,
            const std::string& n, const Options& opt) {
  Row row;
  row.hw = hw;
  row.model = model;
  row.variant = variant.empty() ? "(model's own)" : variant;
  row.n = n;
  std::string tag = hw + "_" + model + "_" + (variant.empty() ? "own" : variant) + "_" + n;
  for (char& c : tag)
    if (c == '/' || c == ':' || c == ',' || c == '=' || c == '.') c = '_';
  const std::string out = dir + "/" + tag, err = out + ".stderr";
  std::filesystem::remove_all(out);
  std::vector<std::string> args = {"run", "--hw", hw, "--model", model, "--seq-len", n, "--out", out};
  if (!variant.empty()) args.insert(args.end(), {"--variant", variant});
  std::vector<Measurement> ms;
  for (int i = 0; i < opt.runs; ++i) {
    const Measurement m = run_once(args, err, opt.timeout_s);
    if (m.timed_out || m.status != 0 || m.term_signal != 0) {
      row.m = m;
      if (!m.timed_out) row.error = last_line(err);
      return row;
    }
    ms.push_back(m);
  }
  row.m = median_of_runs(ms);
  row.cycles = report_cycles(out + "/report.json");
  return row;
}

std::string status_text(const Row& r) {
  if (r.m.timed_out) return "timeout";
  if (r.m.term_signal) return "signal " + std::to_string(r.m.term_signal);
  if (r.m.status == 127) return "exec failed";
  if (r.refused()) return "refused";
  if (r.m.status) return "exit " + std::to_string(r.m.status);
  return "ok";
}

// Column widths of the hardware and variant names (the longest given, at least the defaults').
struct Widths {
  int hw = 6, variant = 14;
};

void print_header(const Widths& w) {
  std::printf("%-*s %-*s %6s %9s %12s %15s %-11s %s\n", w.hw, "hw", w.variant, "variant", "N", "wall (s)",
              "peak RSS MB", "cycles", "status", "target");
}

void print_row(const Widths& w, const Row& r) {
  const std::string cycles = r.cycles >= 0 ? std::to_string(r.cycles) : "-";
  std::printf("%-*s %-*s %6s %9.3f %12.1f %15s %-11s %s\n", w.hw, r.hw.c_str(), w.variant, r.variant.c_str(),
              r.n.c_str(), r.m.wall_s, r.m.max_rss_mb, cycles.c_str(), status_text(r).c_str(),
              r.failed() ? "failed" : r.refused() ? "-" : (r.met() ? "met" : "NOT met"));
  std::fflush(stdout);
}

std::string all_variants() {
  std::string all;
  for (const std::string& v : attnsim::attn_variant_names()) all += (all.empty() ? "" : ",") + v;
  return all;
}

int usage() {
  std::printf(
      "usage: bench_lra [--runs K] [--hw LIST] [--variants LIST] [--seq-lens LIST] [--timeout S] [--no-hybrid]\n"
      "                 [--keep]\n"
      "  --runs K          runs per point, median reported (default 3)\n"
      "  --hw LIST         hardware presets or files (default cloud,edge); the hybrid runs on cloud only\n"
      "  --variants LIST   attention variants (default all: %s)\n"
      "  --seq-lens LIST   sequence lengths (default 4096,65536)\n"
      "  --timeout S       kill a run still going after S seconds (default 600; 0: never)\n"
      "  --no-hybrid       skip lra-text-hybrid\n"
      "  --keep            keep the reports and the children's stderr in the temporary directory\n",
      all_variants().c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (!std::strcmp(argv[i], "--runs") && has_value) {
      opt.runs = std::atoi(argv[++i]);
      if (opt.runs < 1) return usage();
    } else if (!std::strcmp(argv[i], "--hw") && has_value) {
      opt.hws = split(argv[++i]);
    } else if (!std::strcmp(argv[i], "--variants") && has_value) {
      opt.variants = split_variants(argv[++i]);
    } else if (!std::strcmp(argv[i], "--seq-lens") && has_value) {
      opt.seq_lens = split(argv[++i]);
    } else if (!std::strcmp(argv[i], "--timeout") && has_value) {
      opt.timeout_s = std::atof(argv[++i]);
      if (opt.timeout_s < 0) return usage();
    } else if (!std::strcmp(argv[i], "--no-hybrid")) {
      opt.hybrid = false;
    } else if (!std::strcmp(argv[i], "--keep")) {
      opt.keep = true;
    } else {
      return usage();
    }
  }
  for (const std::string& v : opt.variants) {
    std::string problem;
    if (!attnsim::parse_variant_spec(v, &problem)) {
      std::printf("--variants: %s\n", problem.c_str());
      return 2;
    }
  }
  if (opt.hws.empty() || opt.variants.empty() || opt.seq_lens.empty()) return usage();
  char tmpl[] = "/tmp/bench_lra_XXXXXX";
  if (!mkdtemp(tmpl)) {
    std::printf("cannot create a temporary directory\n");
    return 1;
  }
  const std::string dir = tmpl;
  Widths w;
  for (const std::string& hw : opt.hws) w.hw = std::max(w.hw, int(hw.size()));
  for (const std::string& v : opt.variants) w.variant = std::max(w.variant, int(v.size()));

  std::vector<Row> rows;
  std::printf("LRA text (lra-text: 2 layers, d_model 64, 2 heads of 32), whole simulator, median of %d run(s)",
              opt.runs);
  if (opt.timeout_s > 0) std::printf(", a run killed after %.0f s", opt.timeout_s);
  std::printf("\n");
  std::printf("targets (printed, not asserted): wall < %.0f s and peak RSS < %.0f MB per run\n\n", kTargetSeconds,
              kTargetRssMb);
  print_header(w);
  for (const std::string& hw : opt.hws)
    for (const std::string& n : opt.seq_lens)
      for (const std::string& v : opt.variants) {
        rows.push_back(measure(dir, hw, "lra-text", v, n, opt));
        print_row(w, rows.back());
      }

  const bool cloud = std::find(opt.hws.begin(), opt.hws.end(), "cloud") != opt.hws.end();
  if (opt.hybrid && cloud) {
    std::printf("\nlra-text-hybrid (layer 0 flash, layer 1 primal rank 20) on cloud\n");
    print_header(w);
    for (const std::string& n : opt.seq_lens) {
      rows.push_back(measure(dir, "cloud", "lra-text-hybrid", "", n, opt));
      rows.back().variant = "hybrid";
      print_row(w, rows.back());
    }
  }

  int met = 0, failed = 0, refused = 0;
  std::string not_met, failures, refusals;
  for (const Row& r : rows) {
    const std::string name = r.hw + " " + (r.model == "lra-text" ? "" : r.model + " ") + r.variant + " N=" + r.n;
    if (r.met()) {
      ++met;
    } else if (r.refused()) {
      ++refused;
      refusals += "  " + name + ": " + r.error + "\n";
    } else if (r.failed()) {
      ++failed;
      failures += "  " + name + ": " + status_text(r) + (r.error.empty() ? "" : ": " + r.error) + "\n";
    } else {
      char buf[96];
      if (r.m.timed_out)
        std::snprintf(buf, sizeof buf, " (killed after %.0f s)", r.m.wall_s);
      else
        std::snprintf(buf, sizeof buf, " (%.2f s, %.0f MB)", r.m.wall_s, r.m.max_rss_mb);
      not_met += "  " + name + buf + "\n";
    }
  }
  const int rest = int(rows.size()) - met - failed - refused;
  std::printf(
      "\nsummary: targets (< %.0f s, < %.0f MB) met by %d of %zu rows, NOT met by %d, failed %d, refused by "
      "attnsim %d\n",
      kTargetSeconds, kTargetRssMb, met, rows.size(), rest, failed, refused);
  if (!refusals.empty()) std::printf("refused (exit status 2, the simulator's message):\n%s", refusals.c_str());
  if (!not_met.empty()) std::printf("NOT met:\n%s", not_met.c_str());
  if (!failures.empty()) std::printf("failed:\n%s", failures.c_str());
  if (opt.keep)
    std::printf("reports and stderr kept in %s\n", dir.c_str());
  else
    std::filesystem::remove_all(dir);
  return failed ? 1 : 0;
}
