#include "sweep/sweep_runner.h"

#include <chrono>
#include <optional>

#include "common/errors.h"
#include "config/model_config.h"
#include "report/report.h"
#include "report/trace.h"
#include "sim/simulate.h"
#include "sweep/sweep_output.h"

namespace attnsim {

namespace {

using Clock = std::chrono::steady_clock;

constexpr double kResultsEverySeconds = 1.0;

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

// What a child's result says about its point: the headline row and the simulation time, or why it failed.
Finished finished_of(const ChildResult& r) {
  Finished f;
  f.ok = r.ok;
  f.wall_s = r.seconds;
  if (!r.ok) {
    f.error = r.output;
    return f;
  }
  try {
    const Json result = Json::parse(r.output);
    f.row = result.at("row");
    f.sim_s = result.at("sim_s").get<double>();
  } catch (const Json::exception& e) {
    f.ok = false;
    f.error = std::string("internal error: unreadable result: ") + e.what();
  }
  return f;
}

}  // namespace

SweepOutcome run_sweep(const SweepSpec& spec, const SweepRunOptions& o,
                       const std::function<void(const SweepPlan&)>& on_plan,
                       const std::function<void(const SweepProgress&)>& on_progress) {
  if (o.shards < 1 || o.shard < 0 || o.shard >= o.shards)
    throw InternalError("run_sweep: share " + std::to_string(o.shard) + " of " + std::to_string(o.shards));
  std::vector<double> costs;
  for (const SweepPoint& p : spec.points) costs.push_back(p.est_cost);
  const std::vector<std::size_t> mine = balance_shards(costs, o.shards)[std::size_t(o.shard)];

  make_directories(o.out_dir + "/points");
  Json record = spec_record(spec);
  if (o.shards > 1) record["shard"] = {{"index", o.shard}, {"count", o.shards}, {"points", mine}};
  write_atomically(o.out_dir + "/spec.json", record.dump(2) + "\n");

  std::vector<std::optional<Finished>> done(spec.points.size());
  std::vector<const SweepPoint*> todo;
  SweepPlan plan;
  plan.points = spec.points.size();
  plan.share = mine.size();
  for (std::size_t i : mine) {
    const SweepPoint& p = spec.points[i];
    done[p.index] = read_finished(o.out_dir + "/points/" + p.hash + "/status.json");
    if (done[p.index] && !done[p.index]->ok && o.retry_failed) done[p.index].reset();
    if (done[p.index])
      ++plan.finished;
    else
      todo.push_back(&p);
  }
  plan.to_run = todo.size();
  if (on_plan) on_plan(plan);

  std::vector<ChildTask> tasks;
  for (const SweepPoint* p : todo) {
    const std::string dir = o.out_dir + "/points/" + p->hash;
    tasks.push_back([p, dir, &spec] {
      make_directories(dir);
      write_atomically(dir + "/point.json", p->resolved().dump(2) + "\n");
      return simulate_point(*p, spec.trace, dir);
    });
  }

  const Clock::time_point start = Clock::now();
  Clock::time_point last_write = start;
  std::size_t finished_now = 0, failed_now = 0;
  auto on_done = [&](std::size_t k, const ChildResult& r) {
    const SweepPoint& p = *todo[k];
    Finished f = finished_of(r);
    const std::string dir = o.out_dir + "/points/" + p.hash;
    make_directories(dir);
    write_atomically(dir + "/status.json", status_record(p, f).dump(2) + "\n");
    if (!f.ok) ++failed_now;
    done[p.index] = std::move(f);
    ++finished_now;
    SweepProgress progress;
    progress.point = &p;
    progress.result = &r;
    progress.share = mine.size();
    progress.finished = plan.finished + finished_now;
    progress.failed = failed_now;
    progress.ok = progress.finished - failed_now;
    progress.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
    progress.eta_s = progress.elapsed_s / double(finished_now) * double(todo.size() - finished_now);
    if (on_progress) on_progress(progress);
    if (std::chrono::duration<double>(Clock::now() - last_write).count() >= kResultsEverySeconds) {
      write_atomically(o.out_dir + "/results.csv", results_csv(spec, done));
      last_write = Clock::now();
    }
  };
  ChildOptions copts;
  copts.jobs = o.jobs;
  copts.timeout_s = o.timeout_s;
  copts.stop = o.stop;
  run_in_children(tasks, copts, on_done);
  write_atomically(o.out_dir + "/results.csv", results_csv(spec, done));

  SweepOutcome out;
  for (std::size_t i : mine) done[i] ? (done[i]->ok ? ++out.ok : ++out.failed) : ++out.missing;
  for (const SweepPoint& p : spec.points)
    if (done[p.index] && !done[p.index]->ok) out.failures.emplace_back(&p, done[p.index]->error);
  out.simulated_now = finished_now;
  out.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  return out;
}

}  // namespace attnsim
