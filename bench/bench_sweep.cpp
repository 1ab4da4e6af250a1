// The sweep machinery: a 240-point sweep (LRA text model on the edge preset: 4 attention variants x
// 5 sequence lengths x 3 array sizes x 4 SRAM sizes) run by `attnsim sweep` with -j 1 and -j 2, each
// into a fresh folder, alternating, --runs times (default 3). Prints medians of:
//   wall time of the whole sweep, and per point;
//   the simulation itself per point: sim_s, which each child measures around reading its documents,
//     compiling, simulating and writing its report (status.json);
//   the machinery's overhead per point beyond the simulation: (sweep wall at -j 1 - sum of sim_s) /
//     points: spec validation and expansion, fork, status and results.csv writes, and the wait for
//     each child (target: under 50 ms);
//   the speed-up of -j 2 over -j 1, and the peak RSS of the sweep process.
// Usage: bench_sweep [--runs K] [--keep]
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bench_support.h"
#include "config/json_reader.h"

namespace {

using namespace attnsim;
using namespace attnsim::bench;
namespace fs = std::filesystem;

constexpr double kTargetOverheadMs = 50;

const char* const kSpec = R"({
  "description": "bench_sweep: 240 points",
  "hardware": "edge", "model": "lra-text",
  "axes": [{"path": "/attention/variant", "values": ["unfused", "flash", "primal", "lowrank_linear"]},
           {"path": "/model/seq_len", "values": [256, 512, 1024, 2048, 4096]},
           {"zip": [{"path": "/array/rows", "values": [16, 32, 64]}, {"path": "/array/cols", "values": [16, 32, 64]}]},
           {"path": "/sram/bytes_per_bank", "values": [16384, 32768, 65536, 131072]}]
})";
constexpr int kPoints = 4 * 5 * 3 * 4;

struct SweepRun {
  Measurement m;
  double sum_sim_s = 0, sum_wall_s = 0;
  int points = 0, ok = 0;
};

SweepRun run_sweep(const std::string& spec, const std::string& dir, int jobs) {
  fs::remove_all(dir);
  SweepRun r;
  r.m = run_once({"sweep", spec, "--out", dir, "-j", std::to_string(jobs)}, "/dev/null");
  for (const auto& e : fs::directory_iterator(dir + "/points")) {
    std::ifstream in(e.path() / "status.json");
    std::stringstream ss;
    ss << in.rdbuf();
    const Json s = Json::parse(ss.str());
    ++r.points;
    if (s["status"] == "ok") ++r.ok;
    r.sum_sim_s += s["sim_s"].get<double>();
    r.sum_wall_s += s["wall_s"].get<double>();
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 3;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--runs") && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--keep")) {
      keep = true;
    } else {
      std::fprintf(stderr, "usage: bench_sweep [--runs K] [--keep]\n");
      return 2;
    }
  }
  char tmpl[] = "/tmp/bench_sweep-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string spec = dir + "/spec.json";
  std::ofstream(spec) << kSpec;

  std::printf("attnsim sweep, %d points (LRA text on edge: 4 variants x 5 N x 3 arrays x 4 SRAM sizes), "
              "median of %d run(s) per -j\n\n", kPoints, runs);
  std::printf("%4s %4s %9s %13s %13s %15s %11s %9s\n", "run", "-j", "wall (s)", "per point ms", "sim per pt ms",
              "overhead/pt ms", "peak RSS MB", "ok");
  std::vector<double> wall1, wall2, over1, sim1, per1, rss;
  bool all_ok = true;
  for (int k = 0; k < runs; ++k)
    for (int jobs : {1, 2}) {
      const SweepRun r = run_sweep(spec, dir + "/out-j" + std::to_string(jobs), jobs);
      const double per = r.m.wall_s / kPoints * 1e3, sim = r.sum_sim_s / kPoints * 1e3;
      const double overhead = (r.m.wall_s - r.sum_sim_s) / kPoints * 1e3;
      all_ok = all_ok && r.m.status == 0 && r.ok == kPoints;
      char over_text[32] = "-";
      if (jobs == 1) std::snprintf(over_text, sizeof over_text, "%.2f", overhead);
      std::printf("%4d %4d %9.2f %13.2f %13.2f %15s %11.1f %5d/%d\n", k + 1, jobs, r.m.wall_s, per, sim, over_text,
                  r.m.max_rss_mb, r.ok, kPoints);
      std::fflush(stdout);
      (jobs == 1 ? wall1 : wall2).push_back(r.m.wall_s);
      if (jobs == 1) over1.push_back(overhead), sim1.push_back(sim), per1.push_back(per);
      rss.push_back(r.m.max_rss_mb);
    }
  const double speedup = median(wall1) / median(wall2);
  std::printf("\nmedians: -j 1 %.2f s (%.2f ms per point, of which the simulation %.2f ms), -j 2 %.2f s\n",
              median(wall1), median(per1), median(sim1), median(wall2));
  std::printf("sweep machinery overhead per point (-j 1): %.2f ms (target < %.0f ms: %s)\n", median(over1),
              kTargetOverheadMs, median(over1) < kTargetOverheadMs ? "met" : "NOT met");
  std::printf("speed-up of -j 2 over -j 1 on %ld cores: %.2fx\n", sysconf(_SC_NPROCESSORS_ONLN), speedup);
  std::printf("peak RSS of the sweep process: %.1f MB (median)\n", median(rss));
  if (keep)
    std::printf("sweeps kept in %s\n", dir.c_str());
  else
    fs::remove_all(dir);
  return all_ok ? 0 : 1;
}
