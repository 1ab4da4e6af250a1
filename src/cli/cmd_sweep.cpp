// attnsim sweep: the command around the sweep engine (sweep/sweep_runner.h, which describes the output
// folder): arguments, the dry run's listing, Ctrl-C, progress lines and the closing summary.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <iostream>

#include "cli/cli_common.h"
#include "common/errors.h"
#include "sweep/sweep_output.h"
#include "sweep/sweep_runner.h"
#include "sweep/sweep_spec.h"

namespace attnsim::cli {

namespace {

constexpr int kExitSomePointFailed = 1;
constexpr int kExitInterrupted = 130;
constexpr int kMaxJobs = 256;

volatile int g_stop = 0;
extern "C" void on_stop_signal(int) { g_stop = 1; }

}  // namespace

int cmd_sweep(const Args& args) {
  po::options_description opts("options");
  std::string spec_path, out_dir, shard_text;
  int jobs = 0;
  double timeout_s = -1;
  opts.add_options()("help,h", "this text")("spec", po::value(&spec_path)->required(),
                                            "the sweep spec (JSON; its format: attnsim sweep --help-spec)")(
      "out", po::value(&out_dir), "output folder (required unless --dry-run; created; rerunning resumes it)")(
      "jobs,j", po::value(&jobs), "points simulated at once (default: the number of cores)")(
      "timeout", po::value(&timeout_s), "seconds after which a point is killed and recorded as failed "
                                        "(default: the spec's timeout_s, else none)")(
      "shard", po::value(&shard_text),
      "I/N: run only share I (0 <= I < N) of N shares of the points balanced by estimated cost, for a job "
      "array; each share into its own --out, combined by attnsim merge")(
      "retry-failed", "run again the points that failed before (by default a failed point is finished)")(
      "dry-run", "list the points (index, hash, axis values) without simulating")(
      "help-spec", "describe the spec file format");
  po::positional_options_description pos;
  pos.add("spec", 1);
  for (const std::string& a : args)
    if (a == "--help-spec") {
      std::cout << kSweepSpecHelp;
      return 0;
    }
  po::variables_map vm;
  if (!parse_options("sweep", "SPEC --out DIR [-j N] [--shard I/N] [--timeout S] [--retry-failed] [--dry-run]", opts, &pos,
                     args, vm))
    return 0;
  const int cores = int(sysconf(_SC_NPROCESSORS_ONLN));
  if (!vm.count("jobs")) jobs = cores > 0 ? cores : 1;
  if (jobs < 1 || jobs > kMaxJobs)
    throw UserError("--jobs: must be between 1 and " + std::to_string(kMaxJobs) + ", got " + std::to_string(jobs));
  if (vm.count("timeout") && timeout_s < 0) throw UserError("--timeout: must be at least 0 seconds");

  if (out_dir.empty() && !vm.count("dry-run")) throw UserError("--out: the output folder is required");
  int shard = 0, shards = 1;
  if (vm.count("shard")) {
    char tail = 0;
    if (std::sscanf(shard_text.c_str(), "%d/%d%c", &shard, &shards, &tail) != 2 || shards < 1 || shards > 100000 ||
        shard < 0 || shard >= shards)
      throw UserError("--shard " + shard_text + ": expected I/N with 0 <= I < N <= 100000, e.g. --shard 0/4");
  }

  const SweepSpec spec = load_sweep_spec(spec_path);
  if (timeout_s < 0) timeout_s = spec.timeout_s;
  std::vector<double> costs;
  for (const SweepPoint& p : spec.points) costs.push_back(p.est_cost);
  const std::vector<std::vector<std::size_t>> shares = balance_shards(costs, shards);
  const std::vector<std::size_t>& mine = shares[std::size_t(shard)];
  if (vm.count("dry-run")) {
    double total = 0, share = 0;
    for (double c : costs) total += c;
    for (std::size_t i : mine) share += costs[i];
    std::cout << spec.points.size() << " points of " << spec.source << ", estimated " << format_duration(total)
              << " of simulation";
    if (shards > 1)
      std::cout << "; share " << shard << "/" << shards << ": " << mine.size() << " points, estimated "
                << format_duration(share);
    std::cout << "\n  index  point             est (s)  axes\n";
    for (std::size_t i : mine) {
      const SweepPoint& p = spec.points[i];
      char est[32];
      std::snprintf(est, sizeof est, "%9.3f", p.est_cost);
      std::cout << "  " << p.index << "  " << p.hash << "  " << est << "  " << p.label() << "\n";
    }
    return 0;
  }
  SweepRunOptions ro;
  ro.out_dir = out_dir;
  ro.jobs = jobs;
  ro.timeout_s = timeout_s;
  ro.shard = shard;
  ro.shards = shards;
  ro.retry_failed = vm.count("retry-failed") > 0;
  ro.stop = &g_stop;

  g_stop = 0;
  struct sigaction sa {}, old_int {}, old_term {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  const bool tty = isatty(2);
  auto on_plan = [&](const SweepPlan& plan) {
    std::cerr << "attnsim sweep: " << plan.points << " points (" << spec.source << ")";
    if (shards > 1) std::cerr << ", share " << shard << "/" << shards << " of them: " << plan.share;
    if (plan.finished) std::cerr << ", " << plan.finished << " already finished in " << out_dir;
    std::cerr << "; running " << plan.to_run << ", " << jobs << " at a time\n";
  };
  auto on_progress = [&](const SweepProgress& pr) {
    char line[160];
    std::snprintf(line, sizeof line, "[%zu/%zu] ok %zu, failed %zu | elapsed %s, ETA %s", pr.finished, pr.share,
                  pr.ok, pr.failed, format_duration(pr.elapsed_s).c_str(), format_duration(pr.eta_s).c_str());
    const ChildResult& r = *pr.result;
    if (tty) {
      std::fprintf(stderr, "\r  %-78s", line);
    } else {
      std::fprintf(stderr, "  %s  %s: %s %.2f s%s%s\n", line, pr.point->label().c_str(), r.ok ? "ok" : "FAILED",
                   r.seconds, r.ok ? "" : ": ", r.ok ? "" : one_line(r.output).c_str());
    }
    std::fflush(stderr);
  };
  const SweepOutcome out = run_sweep(spec, ro, on_plan, on_progress);
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (tty) std::fprintf(stderr, "\r%82s\r", "");

  std::cout << "sweep " << spec.source;
  if (shards > 1) std::cout << " share " << shard << "/" << shards;
  std::cout << ": " << out.ok << " of " << mine.size() << " points ok, " << out.failed << " failed";
  if (out.missing) std::cout << ", " << out.missing << " not run";
  std::cout << " (" << out.simulated_now << " simulated now in " << format_duration(out.elapsed_s) << ")\n";
  for (const auto& [p, error] : out.failures)
    std::cout << "  failed: point " << p->index << " (" << p->label() << "): " << one_line(error) << "\n";
  std::cout << "results in " << out_dir << "/results.csv\n";
  if (g_stop) {
    std::cerr << "attnsim sweep: interrupted; rerun the same command to finish the remaining " << out.missing
              << " points\n";
    return kExitInterrupted;
  }
  return out.failed ? kExitSomePointFailed : 0;
}

}  // namespace attnsim::cli
