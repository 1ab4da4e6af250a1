// attnsim sweep: every point of a sweep spec (sweep_spec.h) simulated in a forked child of its
// own, N at a time; resumable, and safe to kill at any moment.
//
// Output folder:
//   spec.json                  the spec as read, its axes, every point's index, hash and axis values,
//                              and the attnsim version
//   points/HASH/report.json    a finished point's full report (traces beside it when asked for)
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
#include "cli/sweep_spec.h"
#include "common/errors.h"
#include "compiler/model_lowering.h"
#include "config/model_config.h"
#include "hw/accelerator.h"
#include "ir/graph.h"
#include "report/report.h"

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

// What a finished point left: status.json's contents.
struct Finished {
  bool ok = false;
  std::string error;
  double wall_s = 0;  // fork to exit
  double sim_s = 0;   // inside the child: documents, compilation, simulation, report
  Json row;  // headline figures, an object in column order (null when failed)
};

// Writes text to path through a temporary file renamed over it: a reader (or a kill) never sees a
// partial file.
void write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw UserError(tmp + ": cannot write");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw UserError(path + ": cannot replace: " + ec.message());
}

std::string one_line(std::string text) {
  for (std::size_t at = 0; (at = text.find('\n', at)) != std::string::npos;) text.replace(at, 1, " | ");
  return text;
}

std::optional<Finished> read_finished(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    const Json s = Json::parse(ss.str());
    Finished f;
    f.ok = s.at("status") == "ok";
    f.error = s.value("error", "");
    f.wall_s = s.value("wall_s", 0.0);
    f.sim_s = s.value("sim_s", 0.0);
    f.row = s.value("row", Json());
    if (f.ok && !f.row.is_object()) return std::nullopt;
    return f;
  } catch (const Json::exception&) {
    return std::nullopt;  // torn or foreign: the point runs again
  }
}

std::string format_duration(double s) {
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) % 3600) / 60);
  return buf;
}

// results.csv: the header comes from the first finished point's row, so it only has headline columns
// once one point succeeded; a failed point's headline cells are empty.
std::string results_csv(const SweepSpec& spec, const std::vector<std::optional<Finished>>& done) {
  std::vector<std::string> headline;
  for (const auto& f : done)
    if (f && f->ok) {
      for (auto it = f->row.begin(); it != f->row.end(); ++it) headline.push_back(it.key());
      break;
    }
  std::string out = "index,point,status,error";
  for (const std::string& a : spec.axis_names) out += "," + csv_cell(Json("axis." + a));
  for (const std::string& h : headline) out += "," + csv_cell(Json(h));
  out += "\n";
  for (const SweepPoint& p : spec.points) {
    const auto& f = done[p.index];
    if (!f) continue;
    out += std::to_string(p.index) + "," + p.hash + "," + (f->ok ? "ok" : "failed") + "," +
           csv_cell(Json(one_line(f->error)));
    for (const auto& [name, value] : p.axes) out += "," + csv_cell(value);
    for (const std::string& h : headline) out += "," + (f->ok && f->row.contains(h) ? csv_cell(f->row[h]) : "");
    out += "\n";
  }
  return out;
}

Json spec_record(const SweepSpec& spec) {
  Json points = Json::array();
  for (const SweepPoint& p : spec.points) {
    Json axes = Json::object();
    for (const auto& [name, value] : p.axes) axes[name] = value;
    points.push_back({{"index", p.index}, {"point", p.hash}, {"axes", axes}});
  }
  return {{"attnsim_version", ATTNSIM_VERSION},
          {"spec", spec.source},
          {"document", spec.document},
          {"axes", spec.axis_names},
          {"points", points}};
}

// Runs in the child: one point, its report written beside its status; returns {"row": the headline
// figures, "sim_s": the seconds spent reading the documents, compiling, simulating and reporting}.
std::string simulate_point(const SweepPoint& p, const std::string& point_dir) {
  const Clock::time_point start = Clock::now();
  const HwConfig hw = parse_hw_config(p.hw_doc, p.hw_source);
  const ModelConfig model = parse_model_config(p.model_doc, p.model_source);
  const Graph graph = build_graph(model);
  const CompiledModel compiled = compile_model(hw, graph);
  const SimOutcome outcome = simulate(hw, compiled.program);
  Json report = make_report(hw, model_workload(model), compiled.program, outcome, compiled.phases);
  report["model"] = model.resolved;
  Json axes = Json::object();
  for (const auto& [name, value] : p.axes) axes[name] = value;
  report["sweep_point"] = {{"index", p.index}, {"point", p.hash}, {"axes", axes}};
  write_atomically(point_dir + "/report.json", report.dump(2) + "\n");
  Json row = Json::object();
  for (const auto& [column, value] : headline_figures(report)) row[column] = value;
  return Json{{"row", row}, {"sim_s", std::chrono::duration<double>(Clock::now() - start).count()}}.dump();
}

}  // namespace

int cmd_sweep(const Args& args) {
  po::options_description opts("options");
  std::string spec_path, out_dir;
  int jobs = 0;
  double timeout_s = -1;
  opts.add_options()("help,h", "this text")("spec", po::value(&spec_path)->required(),
                                            "the sweep spec (JSON; its format: attnsim sweep --help-spec)")(
      "out", po::value(&out_dir)->required(), "output folder (created; rerunning resumes it)")(
      "jobs,j", po::value(&jobs), "points simulated at once (default: the number of cores)")(
      "timeout", po::value(&timeout_s), "seconds after which a point is killed and recorded as failed "
                                        "(default: the spec's timeout_s, else none)")(
      "retry-failed", "run again the points that failed before (by default a failed point is finished)")(
      "dry-run", "list the points (index, hash, axis values) without simulating")(
      "help-spec", "describe the spec file format");
  po::positional_options_description pos;
  pos.add("spec", 1);
  Args effective = args;
  for (const std::string& a : args)
    if (a == "--help-spec") {
      std::cout << kSweepSpecHelp;
      return 0;
    }
  po::variables_map vm;
  if (!parse_options("sweep", "SPEC --out DIR [-j N] [--timeout S] [--retry-failed] [--dry-run]", opts, &pos,
                     effective, vm))
    return 0;
  const int cores = int(sysconf(_SC_NPROCESSORS_ONLN));
  if (!vm.count("jobs")) jobs = cores > 0 ? cores : 1;
  if (jobs < 1 || jobs > kMaxJobs)
    throw UserError("--jobs: must be between 1 and " + std::to_string(kMaxJobs) + ", got " + std::to_string(jobs));
  if (vm.count("timeout") && timeout_s < 0) throw UserError("--timeout: must be at least 0 seconds");

  const SweepSpec spec = load_sweep_spec(spec_path);
  if (timeout_s < 0) timeout_s = spec.timeout_s;
  if (vm.count("dry-run")) {
    std::cout << spec.points.size() << " points of " << spec.source << "\n";
    for (const SweepPoint& p : spec.points) std::cout << "  " << p.index << "  " << p.hash << "  " << p.label() << "\n";
    return 0;
  }
  make_directories(out_dir + "/points");
  write_atomically(out_dir + "/spec.json", spec_record(spec).dump(2) + "\n");

  const bool retry = vm.count("retry-failed") > 0;
  std::vector<std::optional<Finished>> done(spec.points.size());
  std::vector<const SweepPoint*> todo;
  std::size_t skipped = 0;
  for (const SweepPoint& p : spec.points) {
    done[p.index] = read_finished(out_dir + "/points/" + p.hash + "/status.json");
    if (done[p.index] && !done[p.index]->ok && retry) done[p.index].reset();
    if (done[p.index])
      ++skipped;
    else
      todo.push_back(&p);
  }
  std::cerr << "attnsim sweep: " << spec.points.size() << " points (" << spec.source << ")";
  if (skipped) std::cerr << ", " << skipped << " already finished in " << out_dir;
  std::cerr << "; running " << todo.size() << ", " << jobs << " at a time\n";

  std::vector<ChildTask> tasks;
  for (const SweepPoint* p : todo) {
    const std::string dir = out_dir + "/points/" + p->hash;
    tasks.push_back([p, dir] {
      make_directories(dir);
      write_atomically(dir + "/point.json", p->resolved().dump(2) + "\n");
      return simulate_point(*p, dir);
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
    Json status = {{"index", p.index}, {"point", p.hash},   {"label", p.label()},
                   {"status", f.ok ? "ok" : "failed"}, {"error", f.error}, {"wall_s", f.wall_s}, {"sim_s", f.sim_s},
                   {"row", f.ok ? f.row : Json()}};
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
                  skipped + finished_now, spec.points.size(), skipped + finished_now - failed_now, failed_now,
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
  for (const auto& f : done) f ? (f->ok ? ++ok : ++failed) : ++missing;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << "sweep " << spec.source << ": " << ok << " of " << spec.points.size() << " points ok, " << failed
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
