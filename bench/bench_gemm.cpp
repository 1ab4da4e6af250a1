// GEMM 4096 x 64 x 4096 through the whole simulator (lowering, SystemC top, ideal DRAM, report)
// on 32x32 and 128x128 arrays in all three dataflows: wall time and peak RSS (targets: < 1 s and
// < 100 MB each; SCALE-Sim v2 needs 200-600 s and 3 GB for the 32x32 runs). Then the fast array
// model against the PE-level model on a 32x32 array, as a ratio (target: fast >= 100x faster).
// Usage: bench_gemm [--repeats N] [--pe-k K]
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bench_support.h"
#include "config/json_reader.h"

using attnsim::bench::Measurement;
using attnsim::bench::run_median;

int main(int argc, char** argv) {
  int repeats = 5;
  std::string pe_k = "64";
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--repeats") && i + 1 < argc)
      repeats = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--pe-k") && i + 1 < argc)
      pe_k = argv[++i];
    else {
      std::printf("usage: bench_gemm [--repeats N] [--pe-k K]\n");
      return 2;
    }
  }
  std::printf("GEMM 4096 x 64 x 4096, whole simulator, median of %d runs\n", repeats);
  std::printf("%-9s %-9s %10s %12s %8s\n", "array", "dataflow", "wall (s)", "peak RSS MB", "status");
  for (const char* size : {"32", "128"}) {
    for (const char* df : {"os", "ws", "is"}) {
      // 32x32 on the edge preset; 128x128 on the cloud preset's memory system with a 128x128 array.
      const bool small = std::string(size) == "32";
      Measurement m = run_median({"gemm", "--hw", small ? "edge" : "cloud", "--m", "4096", "--k", "64", "--n", "4096",
                                  "--set", std::string("/array/rows=") + size, "--set",
                                  std::string("/array/cols=") + size, "--set", std::string("/array/dataflow=") + df},
                                 repeats);
      std::printf("%-9s %-9s %10.3f %12.1f %8d\n", (std::string(size) + "x" + size).c_str(), df, m.wall_s, m.max_rss_mb,
                  m.status);
    }
  }
  std::printf("\nfast vs PE-level array model, 32x32 OS overlapped, GEMM 4096 x %s x 4096 (median of 3)\n",
              pe_k.c_str());
  std::vector<std::string> base = {"gemm", "--hw", "edge", "--m", "4096", "--k", pe_k, "--n", "4096"};
  auto with = [&](const char* fidelity) {
    auto a = base;
    a.insert(a.end(), {"--set", std::string("/array/fidelity=") + fidelity});
    return a;
  };
  Measurement fast = run_median(with("fast"), 3), pe = run_median(with("pe"), 3);
  std::printf("%-6s %10.3f s %10.1f MB  status %d\n", "fast", fast.wall_s, fast.max_rss_mb, fast.status);
  std::printf("%-6s %10.3f s %10.1f MB  status %d\n", "pe", pe.wall_s, pe.max_rss_mb, pe.status);
  std::printf("PE-level / fast wall time: %.0fx\n", pe.wall_s / fast.wall_s);

  // The same GEMM on the edge preset with the cycle-accurate DRAM controller in place of the ideal
  // 57.11 B/cycle model: simulated cycles, achieved bandwidth and the slowdown against ideal.
  std::printf("\nGEMM 4096 x 64 x 4096 on edge (32x32 OS), ideal vs cycle-accurate DRAM (median of 3)\n");
  std::printf("%-13s %10s %9s %9s %10s %10s %8s\n", "dram", "cycles", "GB/s", "% peak", "slowdown", "wall (s)",
              "RSS MB");
  char tmpl[] = "/tmp/bench_gemm_XXXXXX";
  const std::string dir = mkdtemp(tmpl) ? tmpl : "/tmp";
  double ideal_cycles = 0;
  int status = fast.status | pe.status;
  for (const char* dram : {"ideal", "ddr4-3200", "lpddr4-4266", "hbm2", "hbm3"}) {
    std::vector<std::string> args = {"gemm", "--hw", "edge", "--m",   "4096",          "--k",
                                     "64",   "--n",  "4096", "--out", dir + "/" + dram};
    if (std::string(dram) != "ideal")
      args.insert(args.end(), {"--set", std::string(R"(/dram={"model":"cycle","preset":")") + dram + "\"}"});
    Measurement m = run_median(args, 3);
    status |= m.status;
    if (m.status) {
      std::printf("%-13s failed with status %d\n", dram, m.status);
      continue;
    }
    attnsim::Json r = attnsim::read_json_file(dir + "/" + dram + "/report.json");
    const double cycles = r["cycles"].get<double>();
    if (ideal_cycles == 0) ideal_cycles = cycles;
    std::printf("%-13s %10.0f %9.2f %9.1f %9.3fx %10.3f %8.1f\n", dram, cycles, r["dram"]["avg_GBps"].get<double>(),
                r["dram"]["pct_of_peak"].get<double>(), cycles / ideal_cycles, m.wall_s, m.max_rss_mb);
  }
  return status;
}
