#pragma once
// The files of a sweep's output folder (sweep_runner.h describes the layout), shared by
// the sweep engine and `attnsim merge`.
#include <optional>
#include <string>
#include <vector>

#include "sweep/sweep_spec.h"
#include "config/json_reader.h"

namespace attnsim {

// What a finished point left: status.json's contents.
struct Finished {
  bool ok = false;
  std::string error;
  double wall_s = 0;  // fork to exit
  double sim_s = 0;   // inside the child: documents, compilation, simulation, report
  Json row;           // headline figures, an object in column order (null when failed)
};

// Writes text to path through a temporary file renamed over it: a reader (or a kill) never sees a
// partial file.
void write_atomically(const std::string& path, const std::string& text);
// Newlines replaced, for one CSV cell or one log line.
std::string one_line(std::string text);
// A point's status.json; nullopt when there is none or it cannot be read (the point runs again).
std::optional<Finished> read_finished(const std::string& path);
std::string format_duration(double seconds);
// results.csv of the finished points (done is indexed by point index), in point order.
std::string results_csv(const SweepSpec& spec, const std::vector<std::optional<Finished>>& done);
// spec.json: the spec as read, its axes, every point's index, hash and axis values, the version.
Json spec_record(const SweepSpec& spec);
// The points of a spec.json record (index, hash, axes; no documents).
SweepSpec spec_from_record(const Json& record, const std::string& source);
// status.json of a finished point.
Json status_record(const SweepPoint& p, const Finished& f);

}  // namespace attnsim
