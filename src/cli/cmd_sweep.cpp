// attnsim sweep: every point of a sweep spec (sweep_spec.h) simulated in a forked child of its
// own, N at a time; resumable, and safe to kill at any moment.
//
// Output folder:
//   spec.json                  the spec as read, its axes, every point's index, hash and axis values,
//                              and the attnsim version
//   points/HASH/report.json    a finished point's full report (with the spec's "trace", the trace
//                              files beside it: timeline.csv, trace.json, trace.vcd)
//   points/HASH/status.json    written last, atomically: ok or failed (with the reason), the wall
//                              time (wall_s: fork to exit; sim_s: the simulation inside the child)
//                              and the headline row; its presence means "finished"
//   results.csv                one row per finished point in point order: index, point (hash),
//                              status, error, one axis.NAME column per axis, then the report's
//                              headline figures (empty for a failed point); rewritten atomically
//                              (a temporary file renamed over it) at most once a second and at the end
// Rerunning the same command skips the finished points, so an interrupted sweep loses nothing; the
// rows depend only on the points, not on -j or on the order in which they finished.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "cli/child_run.h"
#include "cli/cli_common.h"
#include "cli/sweep_output.h"
#include "cli/sweep_spec.h"
#include "common/errors.h"
#include "config/model_config.h"
#include "report/report.h"
#include "report/trace.h"

namespace attnsim::cli {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kExitSomePointFailed = 1;
constexpr int kExitInterrupted = 130;
constexpr int kMaxJobs = 256;
constexpr double kResultsEverySeconds = 1.0;

volatile int g_stop = 0;
extern "C" void on_stop_signal(int) { g_stop = 1; }

// Runs in the child: one point, its report written beside its status; returns {"row": the headline
// figures, "sim_s": the seconds spent reading the documents, compiling, simulating and reporting}.
std::string simulate_point(const SweepPoint& p, const SweepTrace& trace, const std::string& point_dir) {
  const Clock::time_point start = Clock::now();
  const HwConfig hw = parse_hw_config(p.hw_doc(), p.hw_source);
  const ModelConfig model = parse_model_config(p.model_doc(), p.model_source);
  TraceOptions topts;
  if (trace.enabled) {
    topts.dir = point_dir;
    std::string formats;
    for (const std::string& f : trace.formats) formats += (formats.empty() ? "" : ",") + f;
    parse_trace_formats(formats, &topts, "/trace/formats");
    topts.window_cycles = trace.window_cycles;
    if (trace.max_slices > 0) topts.max_slices = trace.max_slices;
  }
  Json report = simulate_model(hw, model, trace.enabled ? &topts : nullptr);
  report["sweep_point"] = {{"index", p.index}, {"point", p.hash}, {"axes", p.axes_object()}};
  write_atomically(point_dir + "/report.json", report.dump(2) + "\n");
  Json row = Json::object();
  for (const auto& [column, value] : headline_figures(report)) row[column] = value;
  return Json{{"row", row}, {"sim_s", std::chrono::duration<double>(Clock::now() - start).count()}}.dump();
}

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
  make_directories(out_dir + "/points");
  Json record = spec_record(spec);
  if (shards > 1) record["shard"] = {{"index", shard}, {"count", shards}, {"points", mine}};
  write_atomically(out_dir + "/spec.json", record.dump(2) + "\n");

  const bool retry = vm.count("retry-failed") > 0;
  std::vector<std::optional<Finished>> done(spec.points.size());
  std::vector<const SweepPoint*> todo;
  std::size_t skipped = 0;
  for (std::size_t i : mine) {
    const SweepPoint& p = spec.points[i];
    done[p.index] = read_finished(out_dir + "/points/" + p.hash + "/status.json");
    if (done[p.index] && !done[p.index]->ok && retry) done[p.index].reset();
    if (done[p.index])
      ++skipped;
    else
      todo.push_back(&p);
  }
  std::cerr << "attnsim sweep: " << spec.points.size() << " points (" << spec.source << ")";
  if (shards > 1) std::cerr << ", share " << shard << "/" << shards << " of them: " << mine.size();
  if (skipped) std::cerr << ", " << skipped << " already finished in " << out_dir;
  std::cerr << "; running " << todo.size() << ", " << jobs << " at a time\n";

  std::vector<ChildTask> tasks;
  for (const SweepPoint* p : todo) {
    const std::string dir = out_dir + "/points/" + p->hash;
    tasks.push_back([p, dir, &spec] {
      make_directories(dir);
      write_atomically(dir + "/point.json", p->resolved().dump(2) + "\n");
      return simulate_point(*p, spec.trace, dir);
    });
  }

  g_stop = 0;
  struct sigaction sa {}, old_int {}, old_term {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  const bool tty = isatty(2);
  const Clock::time_point start = Clock::now();
  Clock::time_point last_write = start;
  std::size_t finished_now = 0, failed_now = 0;
  auto on_done = [&](std::size_t k, const ChildResult& r) {
    const SweepPoint& p = *todo[k];
    Finished f;
    f.ok = r.ok;
    f.wall_s = r.seconds;
    if (r.ok) {
      try {
        const Json result = Json::parse(r.output);
        f.row = result.at("row");
        f.sim_s = result.at("sim_s").get<double>();
      } catch (const Json::exception& e) {
        f.ok = false;
        f.error = std::string("internal error: unreadable result: ") + e.what();
      }
    } else {
      f.error = r.output;
    }
    const Json status = status_record(p, f);
    const std::string dir = out_dir + "/points/" + p.hash;
    make_directories(dir);
    write_atomically(dir + "/status.json", status.dump(2) + "\n");
    done[p.index] = std::move(f);
    ++finished_now;
    if (!done[p.index]->ok) ++failed_now;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const double eta = elapsed / double(finished_now) * double(todo.size() - finished_now);
    char line[160];
    std::snprintf(line, sizeof line, "[%zu/%zu] ok %zu, failed %zu | elapsed %s, ETA %s",
                  skipped + finished_now, mine.size(), skipped + finished_now - failed_now, failed_now,
                  format_duration(elapsed).c_str(), format_duration(eta).c_str());
    if (tty) {
      std::fprintf(stderr, "\r  %-78s", line);
    } else {
      std::fprintf(stderr, "  %s  %s: %s %.2f s%s%s\n", line, p.label().c_str(), r.ok ? "ok" : "FAILED", r.seconds,
                   r.ok ? "" : ": ", r.ok ? "" : one_line(r.output).c_str());
    }
    std::fflush(stderr);
    if (std::chrono::duration<double>(Clock::now() - last_write).count() >= kResultsEverySeconds) {
      write_atomically(out_dir + "/results.csv", results_csv(spec, done));
      last_write = Clock::now();
    }
  };
  ChildOptions copts;
  copts.jobs = jobs;
  copts.timeout_s = timeout_s;
  copts.stop = &g_stop;
  run_in_children(tasks, copts, on_done);
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (tty) std::fprintf(stderr, "\r%82s\r", "");
  write_atomically(out_dir + "/results.csv", results_csv(spec, done));

  std::size_t ok = 0, failed = 0, missing = 0;
  for (std::size_t i : mine) done[i] ? (done[i]->ok ? ++ok : ++failed) : ++missing;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << "sweep " << spec.source;
  if (shards > 1) std::cout << " share " << shard << "/" << shards;
  std::cout << ": " << ok << " of " << mine.size() << " points ok, " << failed
            << " failed";
  if (missing) std::cout << ", " << missing << " not run";
  std::cout << " (" << finished_now << " simulated now in " << format_duration(elapsed) << ")\n";
  for (const SweepPoint& p : spec.points)
    if (done[p.index] && !done[p.index]->ok)
      std::cout << "  failed: point " << p.index << " (" << p.label() << "): " << one_line(done[p.index]->error)
                << "\n";
  std::cout << "results in " << out_dir << "/results.csv\n";
  if (g_stop) {
    std::cerr << "attnsim sweep: interrupted; rerun the same command to finish the remaining " << missing
              << " points\n";
    return kExitInterrupted;
  }
  return failed ? kExitSomePointFailed : 0;
}

}  // namespace attnsim::cli
