#pragma once
// The sweep engine: the points of a spec (sweep_spec.h) simulated each in a forked child of its own
// (child_run.h), N at a time, into an output folder (sweep_output.h); resumable, and safe to kill at
// any moment. `attnsim sweep` parses its arguments, calls run_sweep and prints.
//
// Output folder:
//   spec.json                  the spec as read, its axes, every point's index, hash and axis values,
//                              and the attnsim version (and, for a share, which points are its own)
//   points/HASH/point.json     the point's resolved hardware and model documents
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
// rows depend only on the points, not on the jobs or on the order in which they finished.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "common/child_run.h"
#include "sweep/sweep_spec.h"

namespace attnsim {

struct SweepRunOptions {
  std::string out_dir;
  int jobs = 1;                      // points simulated at once
  double timeout_s = 0;              // a point still running after this long is killed, failed (0: none)
  int shard = 0, shards = 1;         // run only share `shard` of `shards` (balance_shards by cost)
  bool retry_failed = false;         // run again the points that failed before
  const volatile int* stop = nullptr;  // once nonzero, no point starts and running ones are killed
};

// Before any point runs: what is to be done.
struct SweepPlan {
  std::size_t points = 0;    // in the spec
  std::size_t share = 0;     // of them, this share's
  std::size_t finished = 0;  // of the share, already finished in the output folder (skipped)
  std::size_t to_run = 0;
};

// After each point finishes (in order of completion).
struct SweepProgress {
  const SweepPoint* point = nullptr;
  const ChildResult* result = nullptr;
  std::size_t finished = 0, ok = 0, failed = 0;  // of the share, including those finished before
  std::size_t share = 0;
  double elapsed_s = 0, eta_s = 0;  // since the first point started; the rest at the mean pace so far
};

struct SweepOutcome {
  std::size_t ok = 0, failed = 0, missing = 0;  // of the share: missing were not run (interrupted)
  std::size_t simulated_now = 0;
  double elapsed_s = 0;
  // The failed points of the share in point order, with their reasons.
  std::vector<std::pair<const SweepPoint*, std::string>> failures;
};

// Runs the share's unfinished points of `spec` into o.out_dir (created). on_plan is called once
// before the first point starts, on_progress after each point.
SweepOutcome run_sweep(const SweepSpec& spec, const SweepRunOptions& o,
                       const std::function<void(const SweepPlan&)>& on_plan,
                       const std::function<void(const SweepProgress&)>& on_progress);

}  // namespace attnsim
