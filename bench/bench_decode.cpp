// Generation through the whole simulator: Llama-2-7B (32 layers), prefill 4096, generate 256 tokens,
// batch 8, on the cloud preset with the ideal DRAM and with the cycle-accurate HBM2 controller: wall
// time and peak RSS of `attnsim run`, time to first token and time per output token from its
// report.json, the decode steps it simulated. Targets (printed, not asserted): ideal DRAM under 10 s
// and 256 MB; HBM2 under 120 s. Each simulated step is extrapolated from its first 1, 2 and 3 layers
// where they lie on a line (src/sim/generate.h), and so is the prefill. The CPU time (the command's and its children's) and the load average
// beside the wall time: on a shared machine the wall time says little alone.
// Usage: bench_decode [--jobs N] [--timeout S] [--ideal-only]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "bench_support.h"
#include "config/json_reader.h"

using attnsim::bench::Measurement;
using attnsim::bench::run_once;

int main(int argc, char** argv) {
  std::string jobs = "2";
  double timeout_s = 1800;
  bool ideal_only = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--jobs") && i + 1 < argc)
      jobs = argv[++i];
    else if (!std::strcmp(argv[i], "--timeout") && i + 1 < argc)
      timeout_s = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--ideal-only"))
      ideal_only = true;
  }
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf("Llama-2-7B, prefill 4096, generate 256, batch 8, cloud (--jobs %s; load average %.2f)\n", jobs.c_str(),
              load[0]);
  std::printf("%-8s %8s %8s %8s %10s %24s %10s  %s\n", "DRAM", "wall s", "CPU s", "RSS MB", "TTFT ms",
              "TPOT mean/first/last ms", "target", "simulated steps");
  struct Case {
    const char* name;
    std::vector<std::string> sets;
    double target_s;
  };
  std::vector<Case> cases = {{"ideal", {}, 10}, {"hbm2", {"--set", R"(/dram={"model":"cycle","preset":"hbm2"})"}, 120}};
  if (ideal_only) cases.resize(1);
  for (const Case& c : cases) {
    const std::string out = "/tmp/bench_decode_" + std::string(c.name);
    std::vector<std::string> args = {"run", "--hw", "cloud", "--model", "llama2-7b", "--prefill", "4096", "--generate",
                                     "256", "--batch", "8", "--jobs", jobs, "--out", out};
    args.insert(args.end(), c.sets.begin(), c.sets.end());
    const Measurement m = run_once(args, out + ".stderr", timeout_s);
    double ttft = -1, tpot = -1, tpot_first = -1, tpot_last = -1;
    std::string simulated = m.timed_out ? "timed out" : "failed (see " + out + ".stderr)";
    if (m.status == 0) {
      const attnsim::Json r = attnsim::read_json_file(out + "/report.json");
      const attnsim::Json& g = r["generation"];
      ttft = g["ttft_s"].get<double>() * 1e3;
      tpot = g["tpot_s"]["mean"].get<double>() * 1e3;
      tpot_first = g["tpot_s"]["first"].get<double>() * 1e3;
      tpot_last = g["tpot_s"]["last"].get<double>() * 1e3;
      const attnsim::Json& layers = g["sampling"]["layers"];
      simulated = g["sampling"]["simulated_steps"].dump() + ", " +
                  layers["steps_extrapolated_from_3_layers"].dump() + " from 1-3 layers, " +
                  layers["steps_simulated_whole"].dump() + " whole";
    }
    char tpots[64];
    std::snprintf(tpots, sizeof tpots, "%.3f/%.3f/%.3f", tpot, tpot_first, tpot_last);
    std::printf("%-8s %8.2f %8.2f %8.1f %10.3f %24s %9s%s  %s\n", c.name, m.wall_s, m.cpu_s, m.max_rss_mb, ttft, tpots,
                m.wall_s < c.target_s && m.max_rss_mb < 256 ? "met " : "missed ",
                (" <" + std::to_string(int(c.target_s)) + " s").c_str(), simulated.c_str());
  }
  return 0;
}
