// BERT-base (12 layers, 12 heads of 64) on the cloud preset through the whole simulator, one run
// per attention schedule at N = 4096: wall time and peak RSS (medians), simulated cycles (from
// report.json). Then flash at N = 65536 against N = 4096: peak RSS must not grow with N, since the
// program is streamed and flash's buffers do not depend on N. Targets (printed, not asserted):
// under 10 s per N = 4096 run, RSS(65536) / RSS(4096) about 1.
// N = 65536 runs all 12 layers when one such run takes at most --max-seconds (default 60); else it
// and its N = 4096 reference use a one-layer BERT-base written to a temporary model file.
// Usage: bench_attention [--repeats N] [--max-seconds S]
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "bench_support.h"
#include "config/json_reader.h"
#include "config/presets.h"

using attnsim::bench::Measurement;
using attnsim::bench::report_cycles;
using attnsim::bench::run_once;

namespace {

struct Result {
  Measurement m;  // medians
  double cycles = -1;
};

// `first` (already measured, may be empty) plus repeats - first.size() more runs.
Result measure(const std::vector<std::string>& args, const std::string& out_dir, int repeats,
               std::vector<Measurement> first = {}) {
  std::vector<std::string> a = args;
  a.insert(a.end(), {"--out", out_dir});
  while (int(first.size()) < repeats) first.push_back(run_once(a));
  return {median_of_runs(first), double(report_cycles(out_dir + "/report.json"))};
}

std::vector<std::string> run_args(const std::string& model, const std::string& n, const std::string& variant) {
  return {"run", "--hw", "cloud", "--model", model, "--seq-len", n, "--variant", variant};
}

void print_row(const char* what, const char* n, const char* layers, const Result& r) {
  std::printf("%-10s %6s %7s %10.3f %12.1f %14.0f %7d\n", what, n, layers, r.m.wall_s, r.m.max_rss_mb, r.cycles,
              r.m.status);
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 3;
  double max_seconds = 60;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--repeats") && i + 1 < argc)
      repeats = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--max-seconds") && i + 1 < argc)
      max_seconds = std::atof(argv[++i]);
    else {
      std::printf("usage: bench_attention [--repeats N] [--max-seconds S]\n");
      return 2;
    }
  }
  char tmpl[] = "/tmp/bench_attention_XXXXXX";
  if (!mkdtemp(tmpl)) {
    std::printf("cannot create a temporary directory\n");
    return 1;
  }
  const std::string dir = tmpl;
  int status = 0;

  std::printf("BERT-base (12 layers) on cloud, N = 4096, whole simulator, median of %d runs\n", repeats);
  std::printf("%-10s %6s %7s %10s %12s %14s %7s\n", "variant", "N", "layers", "wall (s)", "peak RSS MB", "cycles",
              "status");
  Result flash4k;
  double slowest = 0;
  for (const char* v : {"flash", "row_fused", "unfused"}) {
    const Result r = measure(run_args("bert-base", "4096", v), dir + "/" + v + "_4096", repeats);
    print_row(v, "4096", "12", r);
    status |= r.m.status;
    slowest = std::max(slowest, r.m.wall_s);
    if (!std::strcmp(v, "flash")) flash4k = r;
  }
  std::printf("target: under 10 s each: %s (slowest %.3f s)\n\n", slowest < 10 ? "met" : "NOT met", slowest);

  // Flash at N = 65536: all 12 layers if one run stays within max_seconds, else one layer.
  std::printf("flash, N = 4096 vs N = 65536 (median of %d runs)\n", repeats);
  const std::vector<std::string> big12 = run_args("bert-base", "65536", "flash");
  std::vector<std::string> probe = big12;
  probe.insert(probe.end(), {"--out", dir + "/flash_65536"});
  const Measurement first = run_once(probe);
  Result big, ref = flash4k;
  const char* layers = "12";
  if (first.status == 0 && first.wall_s <= max_seconds) {
    big = measure(big12, dir + "/flash_65536", repeats, {first});
  } else {
    std::printf("12 layers at N = 65536 took %.1f s (status %d), over %.0f s: using a 1-layer BERT-base\n",
                first.wall_s, first.status, max_seconds);
    attnsim::Json doc = attnsim::parse_json_text(attnsim::find_model_preset("bert-base"), "preset:bert-base");
    doc["layers"] = attnsim::Json::array({attnsim::Json{{"repeat", 1}}});
    const std::string model = dir + "/bert-base-1layer.json";
    std::ofstream(model) << doc.dump(2) << "\n";
    layers = "1";
    big = measure(run_args(model, "65536", "flash"), dir + "/flash1_65536", repeats);
    ref = measure(run_args(model, "4096", "flash"), dir + "/flash1_4096", repeats);
  }
  std::printf("%-10s %6s %7s %10s %12s %14s %7s\n", "variant", "N", "layers", "wall (s)", "peak RSS MB", "cycles",
              "status");
  print_row("flash", "4096", layers, ref);
  print_row("flash", "65536", layers, big);
  status |= big.m.status | ref.m.status;
  const double ratio = big.m.max_rss_mb / ref.m.max_rss_mb;
  std::printf("N = 65536 ran with %s layer(s) (%s)\n", layers,
              std::string(layers) == "12" ? "all of BERT-base" : "a temporary one-layer BERT-base model file");
  std::printf("RSS(65536) / RSS(4096) = %.3f  (target: RSS not growing with N, ratio about 1: %s)\n", ratio,
              ratio < 1.1 ? "met" : "NOT met");
  // The attention core's work grows 256x ((65536 / 4096)^2), the projections and FFN 16x.
  std::printf("cycles(65536) / cycles(4096) = %.1f (attention core work x256, projections and FFN x16)\n",
              big.cycles / ref.cycles);
  return status;
}
