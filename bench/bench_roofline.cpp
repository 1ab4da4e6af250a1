// GEMMs against the compulsory roofline (report/roofline.h): for each case, the simulated cycles,
// the bound max(MACs / PEs, compulsory DRAM bytes / bandwidth, vector, softmax work), the run as %
// of it, the binding resource, the run as % of the mapped bound (the array's demand as its folds
// allow) and of the roofline against its own traffic (the figure of earlier reports), and the median
// wall time. Targets (issue 12): cloud and edge GEMMs with at least
// 8 folds in every mapped dimension >= 95 % of the bound; cloud 1024^3 >= 90 %; edge 64 x 65536 x 64
// on WS >= 90 %. The cycles do not depend on the run; the wall time is the median of --repeats runs.
// Usage: bench_roofline [--repeats N] [--attention]   (--attention adds LRA text, flash, N = 65536 on
// cloud: minutes)
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bench_support.h"
#include "config/json_reader.h"

using attnsim::bench::Measurement;
using attnsim::bench::run_median;

namespace {

struct Case {
  const char* hw;
  const char* dataflow;  // "" keeps the preset's
  std::int64_t m, k, n;
  double target_pct;  // 0: no target
  const char* why;
};

// cloud: 256 x 256 PEs, so 8 folds in a dimension need 2048; edge: 32 x 32, 256. OS maps M and N onto
// the array, WS K and N, IS K and M: cubes of at least 8 folds cover every dataflow.
const Case kCases[] = {
    {"cloud", "os", 2048, 2048, 2048, 95, ">= 8 folds"},
    {"cloud", "ws", 2048, 2048, 2048, 95, ">= 8 folds"},
    {"cloud", "is", 2048, 2048, 2048, 95, ">= 8 folds"},
    {"cloud", "os", 4096, 4096, 4096, 95, ">= 8 folds"},
    {"edge", "os", 256, 256, 256, 95, ">= 8 folds"},
    {"edge", "ws", 256, 256, 256, 95, ">= 8 folds"},
    {"edge", "is", 256, 256, 256, 95, ">= 8 folds"},
    {"edge", "os", 1024, 1024, 1024, 95, ">= 8 folds"},
    {"edge", "ws", 1024, 1024, 1024, 95, ">= 8 folds"},
    {"edge", "is", 1024, 1024, 1024, 95, ">= 8 folds"},
    {"cloud", "", 1024, 1024, 1024, 90, "issue 12"},
    {"edge", "ws", 64, 65536, 64, 90, "issue 12"},
    {"cloud", "os", 4096, 768, 3072, 95, "BERT FFN"},
    {"cloud", "ws", 4096, 768, 3072, 95, "BERT FFN"},
    {"cloud", "is", 4096, 768, 3072, 95, "BERT FFN"},
    {"cloud", "os", 2048, 2048, 2048, 0, "4 MiB SRAM"},  // the flattering case; see below
};

}  // namespace

int main(int argc, char** argv) {
  int repeats = 3;
  bool attention = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--repeats") && i + 1 < argc)
      repeats = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--attention"))
      attention = true;
    else {
      std::printf("usage: bench_roofline [--repeats N] [--attention]\n");
      return 2;
    }
  }
  char tmpl[] = "/tmp/bench_roofline_XXXXXX";
  const std::string dir = mkdtemp(tmpl) ? tmpl : "/tmp";
  std::printf("GEMMs against the compulsory roofline; wall time: median of %d runs\n", repeats);
  std::printf("%-6s %-3s %-18s %-11s %10s %10s %-8s %8s %8s %8s %8s %9s\n", "hw", "df", "M x K x N", "case", "cycles",
              "bound", "binding", "% bound", "target", "% mapped", "% own", "wall (s)");
  int status = 0, below = 0;
  std::size_t index = 0;
  for (const Case& c : kCases) {
    const std::string out = dir + "/" + std::to_string(index++);
    std::vector<std::string> args = {
        "gemm",  "--hw", c.hw, "--m", std::to_string(c.m), "--k", std::to_string(c.k), "--n", std::to_string(c.n),
        "--out", out};
    if (*c.dataflow) args.insert(args.end(), {"--set", std::string("/array/dataflow=") + c.dataflow});
    if (!std::strcmp(c.why, "4 MiB SRAM")) args.insert(args.end(), {"--set", "/sram/bytes_per_bank=65536"});
    const Measurement m = run_median(args, repeats);
    const std::string shape = std::to_string(c.m) + " x " + std::to_string(c.k) + " x " + std::to_string(c.n);
    if (m.status) {
      std::printf("%-6s %-3s %-18s %-11s failed with status %d\n", c.hw, c.dataflow, shape.c_str(), c.why, m.status);
      status |= m.status;
      continue;
    }
    const attnsim::Json r = attnsim::read_json_file(out + "/report.json");
    const attnsim::Json& rc = r["roofline"]["compulsory"];
    const double pct = rc["pct_of_bound"].get<double>();
    char target[16] = "-";
    if (c.target_pct > 0) {
      std::snprintf(target, sizeof target, "%s%.0f", pct >= c.target_pct ? ">=" : "<", c.target_pct);
      below += pct < c.target_pct;
    }
    std::printf("%-6s %-3s %-18s %-11s %10lld %10lld %-8s %8.1f %8s %8.1f %8.1f %9.3f\n", c.hw,
                r["hardware"]["array"]["dataflow"].get<std::string>().c_str(), shape.c_str(), c.why,
                (long long)r["cycles"].get<std::int64_t>(), (long long)rc["bound_cycles"].get<std::int64_t>(),
                rc["binding"].get<std::string>().c_str(), pct, target, rc["mapped"]["pct_of_bound"].get<double>(),
                r["roofline"]["pct_of_bound"].get<double>(), m.wall_s);
  }
  std::printf("%d of the cases with a target below it\n", below);
  if (attention) {
    // LRA text, flash, N = 65536 on cloud: the attention is softmax- or array-bound.
    const std::string out = dir + "/lra-flash-64k";
    const Measurement m = run_median(
        {"run", "--hw", "cloud", "--model", "lra-text", "--seq-len", "65536", "--variant", "flash", "--out", out}, 1);
    if (m.status) {
      std::printf("lra-text flash N = 65536 on cloud failed with status %d\n", m.status);
      return status | m.status;
    }
    const attnsim::Json r = attnsim::read_json_file(out + "/report.json");
    const attnsim::Json& rc = r["roofline"]["compulsory"];
    std::printf("\nLRA text, flash, N = 65536 on cloud (one run, %.1f s): %lld cycles, array busy %.1f %%\n", m.wall_s,
                (long long)r["cycles"].get<std::int64_t>(), 100.0 * r["busy_fraction"]["array"].get<double>());
    std::printf(
        "  compulsory roofline: %s-bound, %lld cycles (array %lld, DRAM %lld, vector %lld, softmax %lld): "
        "%.1f %%\n",
        rc["binding"].get<std::string>().c_str(), (long long)rc["bound_cycles"].get<std::int64_t>(),
        (long long)rc["demand_cycles"]["array"].get<std::int64_t>(),
        (long long)rc["demand_cycles"]["dram"].get<std::int64_t>(),
        (long long)rc["demand_cycles"]["vector"].get<std::int64_t>(),
        (long long)rc["demand_cycles"]["softmax"].get<std::int64_t>(), rc["pct_of_bound"].get<double>());
    std::printf("  with the array as mapped: %s-bound, %lld cycles (array %lld): %.1f %%\n",
                rc["mapped"]["binding"].get<std::string>().c_str(),
                (long long)rc["mapped"]["bound_cycles"].get<std::int64_t>(),
                (long long)rc["array_mapped_cycles"].get<std::int64_t>(), rc["mapped"]["pct_of_bound"].get<double>());
    std::printf("  against its own traffic: %s-bound, %.1f %%\n", r["roofline"]["bound"].get<std::string>().c_str(),
                r["roofline"]["pct_of_bound"].get<double>());
  }
  return status;
}
