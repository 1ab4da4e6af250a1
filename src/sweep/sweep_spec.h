#pragma once
// A design-space sweep: a base hardware config and model, and axes of values written into them.
//
// Spec file (JSON):
//   {
//     "description": "...",                       // optional
//     "hardware": "edge",                         // a preset or a file (relative to the spec's folder)
//     "model": "lra-text",                        // a preset or a file (relative to the spec's folder)
//     "axes": [AXIS, ...],                        // the points are their cartesian product, the first
//                                                 //   axis outermost (it changes slowest)
//     "timeout_s": 600,                           // optional: a point still running is killed (0: none)
//     "trace": {"formats": ["timeline", "perfetto", "vcd"], "window_cycles": 1000, "max_slices": 100000}
//                                                 // optional: traces written beside each point's report
//   }
// AXIS is one of
//   {"path": P, "values": [V, ...], "name": "rows"}  one value per point; name defaults to P's last token
//   {"zip": [{"path": P, "values": [...]}, ...]}     members move together (equal lengths), a column each
//   {"name": N, "points": [{"label": L, "set": {P: V, ...}}, ...]}
//                                                    named derived points: several paths set together
// A path P is a JSON pointer:
//   /hardware             the whole hardware config: a preset name or a file
//   /model                the whole model: a preset name or a file
//   /model/seq_len, /model/batch, /model/dtype
//                         every layer's sequence length, batch, the operand type (as --seq-len,
//                         --batch, --dtype of `attnsim run`)
//   /attention/variant    every layer's attention variant, with parameters ("primal:rank=96")
//   /model/<pointer>      a value inside the model document (/model/defaults/ffn/width)
//   anything else         a value inside the hardware document (/array/rows, /sram/bytes_per_bank,
//                         /dram/preset, ...)
// A null value removes the key ({"/softmax": null}: the hardware without its softmax unit).
// Each point is resolved into the documents it simulates (whole-document paths first, then the
// rest in axis order) and validated as `attnsim run` would; every bad path or value in the spec is
// reported at once. A point is identified by a hash of its resolved documents (and the attnsim
// version), which keys the resumable output.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/json_reader.h"

namespace attnsim {

struct SweepTrace {
  bool enabled = false;
  std::vector<std::string> formats;  // timeline, perfetto, vcd
  std::int64_t window_cycles = 0;    // 0: the tracer's default
  std::uint64_t max_slices = 0;      // 0: the tracer's default
};

struct SweepPoint {
  std::size_t index = 0;
  std::vector<std::pair<std::string, Json>> axes;  // (axis column name, value or label) in axis order
  std::string hw_source, model_source;             // "preset:edge" or a path, for reports
  // The documents are shared by the points that write the same values into them (a sweep of 10^5
  // points has far fewer distinct hardware or model documents).
  std::shared_ptr<const Json> hw_document;          // with the point's values written in
  std::shared_ptr<const Json> model_document;       // the model as resolved (overrides written in)
  const Json& hw_doc() const { return *hw_document; }
  const Json& model_doc() const { return *model_document; }
  Json trace;                                      // the spec's "trace" object (null: no traces)
  std::string hash;                                // 16 hex digits
  double est_cost = 0;                             // estimated wall time of its simulation (s)
  std::string label() const;                       // "seq_len=1024 variant=flash"
  Json axes_object() const;                        // {"seq_len": 1024, "variant": "flash"}
  Json resolved() const;                           // what the hash covers (documents, trace request)
};

struct SweepSpec {
  std::string source, description;
  Json document;                       // as read
  std::vector<std::string> axis_names;
  double timeout_s = 0;
  SweepTrace trace;
  Json trace_json;  // the "trace" object as written (null when absent)
  std::vector<SweepPoint> points;
};

// The format above, for `attnsim sweep --help-spec`.
extern const char* const kSweepSpecHelp;

// The most points a sweep may have; a larger product of the axes is refused before any point is
// expanded. Expansion resolves each distinct hardware and model document once (points share them),
// so validating 10^5 points takes well under a second and 100 MB (tests/test_sweep.cpp).
inline constexpr std::size_t kMaxSweepPoints = 1000000;

// Reads, validates and expands a spec file; UserError with every problem found.
SweepSpec load_sweep_spec(const std::string& path);
// The same from a document; relative file names are taken relative to base_dir. With a recorder,
// the spec's rules are recorded too (config/schema_recorder.h).
SweepSpec parse_sweep_spec(const Json& doc, const std::string& source, const std::string& base_dir,
                           SchemaRecorder* recorder = nullptr);

// Splits points of the given costs into `count` shares of nearly equal total cost; each share
// lists point indices in increasing order. Deterministic.
std::vector<std::vector<std::size_t>> balance_shards(const std::vector<double>& costs, int count);

// FNV-1a 64 of text, as 16 lowercase hex digits.
std::string hash_hex(const std::string& text);

}  // namespace attnsim
