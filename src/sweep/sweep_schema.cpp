#include "sweep/sweep_schema.h"

#include "config/schema_recorder.h"
#include "sweep/sweep_spec.h"

namespace attnsim {

namespace {

// Every key and every axis form; two points in all (presets only, so that it reads no file).
const char* const kSweepExample = R"({
  "$schema": "attnsim-sweep.schema.json",
  "description": "every key and axis form",
  "hardware": "edge",
  "model": "lra-text",
  "timeout_s": 60,
  "trace": {"formats": ["timeline"], "window_cycles": 1000, "max_slices": 1000},
  "axes": [
    {"path": "/model/seq_len", "values": [256], "name": "N"},
    {"zip": [{"path": "/array/rows", "values": [32], "name": "rows"}, {"path": "/array/cols", "values": [32]}]},
    {"name": "sram", "points": [{"label": "small", "set": {"/sram/bytes_per_bank": 16384}},
                                {"label": "large", "set": {"/sram/bytes_per_bank": 65536}}]}
  ]
})";

const std::vector<SchemaDescription>& sweep_descriptions() {
  static const std::vector<SchemaDescription> d = [] {
    std::vector<SchemaDescription> v = {
        {"/$schema", "the JSON Schema this file follows (attnsim schema sweep), for editors; ignored by attnsim"},
        {"/description", "free text, copied into the output folder"},
        {"/hardware", "base hardware: a preset name or a file (relative to the spec's folder)"},
        {"/model", "base model: a preset name or a file (relative to the spec's folder)"},
        {"/timeout_s", "seconds after which a point still running is killed; 0: none (default 0)"},
        {"/trace", "optional: traces written beside each point's report"},
        {"/trace/formats", "trace files to write (default timeline and perfetto)"},
        {"/trace/window_cycles", "utilization timeline window in accelerator cycles; 0: chosen per run (default 0)"},
        {"/trace/max_slices", "most slices per Perfetto trace; 0: the default limit (default 0)"},
        {"/axes",
         "the points are the cartesian product of the axes, first axis outermost. An axis is {path, values, name}, "
         "{zip: [...]} or {name, points: [...]}"},
        {"/axes/[]/zip", "zip form: plain axes {path, values, name} that move together, equal lengths"},
        {"/axes/[]/points", "points form: named derived points, several paths set together"},
        {"/axes/[]/points/[]/label", "this point's value in the axis's column"},
        {"/axes/[]/points/[]/set",
         "JSON pointers (as an axis's path) and the values they take at this point; null removes the key"},
    };
    for (const char* where : {"/axes/[]/", "/axes/[]/zip/[]/"}) {
      const std::string w = where;
      v.push_back({w + "path",
                   "a JSON pointer: /hardware or /model (a whole document: preset or file), /model/seq_len, "
                   "/model/batch, /model/dtype, /attention/variant (with parameters: primal:rank=96), /model/<pointer> "
                   "into the model document, anything else into the hardware document (/array/rows)"});
      v.push_back({w + "values", "the values the path takes, one per point; null removes the key"});
      v.push_back({w + "name", w == "/axes/[]/" ? "the axis's column name (default the path's last token; required "
                                                  "in the points form)"
                                                : "the axis's column name (default the path's last token)"});
    }
    return v;
  }();
  return d;
}

}  // namespace

Json sweep_spec_schema() {
  SchemaRecorder recorder;
  recorder.begin_document();
  parse_sweep_spec(parse_json_text(kSweepExample, "schema example"), "schema example", ".", &recorder);
  return recorder.schema("attnsim sweep spec",
                         "A design-space sweep for attnsim sweep. Whether each path names a value of the hardware or "
                         "model document and each value suits it, axis names used twice, and the point count are "
                         "checked by attnsim sweep --dry-run, not here.",
                         sweep_descriptions());
}

}  // namespace attnsim
