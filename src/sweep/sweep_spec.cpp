#include "sweep/sweep_spec.h"

#include <cstdio>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <numeric>
#include <unordered_map>

#include "common/errors.h"
#include "config/hw_config.h"
#include "config/model_config.h"
#include "config/schema_recorder.h"
#include "compiler/attention_lowering.h"
#include "ir/graph.h"

namespace attnsim {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxListedPointProblems = 20;

// One JSON-pointer assignment of an axis value.
struct Assignment {
  std::string path;
  Json value;
};

// One value of an axis: the table cells it contributes and what it writes.
struct Choice {
  std::vector<std::pair<std::string, Json>> cells;
  std::vector<Assignment> sets;
  std::string where;  // its JSON path in the spec, for messages
};

std::string last_token(const std::string& pointer) {
  const std::size_t slash = pointer.rfind('/');
  return slash == std::string::npos ? pointer : pointer.substr(slash + 1);
}

std::string cell_text(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// A file name relative to the spec's folder when such a file exists there, else as written (a
// file relative to the working directory, or a preset name).
std::string locate(const std::string& name, const std::string& base_dir) {
  if (name.empty() || fs::path(name).is_absolute() || base_dir.empty()) return name;
  const fs::path candidate = fs::path(base_dir) / name;
  std::error_code ec;
  if (fs::exists(candidate, ec) && !fs::is_directory(candidate, ec)) return candidate.lexically_normal().string();
  return name;
}

// What a cost estimate needs of a model, computed once per distinct model document: the MACs of
// its matrix products and the bytes of its graph tensors (every tensor once: weights, activations;
// not the vanilla attention's N x N scores S and probabilities P, counted per schedule below).
struct ModelEstimate {
  double macs = 0;
  double tensor_bytes = 0;
};

ModelEstimate estimate_model(const ModelConfig& model) {
  const Graph g = build_graph(model);
  ModelEstimate e;
  for (const GraphOp& op : g.ops) {
    if (op.kind != OpKind::MatMul) continue;
    for (const OpInstance& in : op.instances) {
      const TensorView& a = in.in[0];
      e.macs += double(in.out.rows) * double(in.out.cols) * double(a.transposed ? a.rows : a.cols);
    }
  }
  auto ends_with = [](const std::string& s, const char* tail) {
    const std::size_t n = std::strlen(tail);
    return s.size() >= n && s.compare(s.size() - n, n, tail) == 0;
  };
  for (const GraphTensor& t : g.tensors)
    if (!ends_with(t.name, ".S") && !ends_with(t.name, ".P"))
      e.tensor_bytes += double(t.rows) * double(t.cols) * double(t.elem_bytes);
  return e;
}

// DRAM bytes of a model, roughly: every graph tensor once, plus what the vanilla attention
// schedules move beyond that, from their planners' tile sizes: flash re-reads K and V once per Q
// tile, unfused spills its scores when they do not fit, row-fused re-reads K and V once per query
// block (attention_lowering.h). A schedule the planner refuses adds nothing: that point fails at once.
double estimate_dram_bytes(const HwConfig& hw, const ModelConfig& model, const ModelEstimate& m) {
  double bytes = m.tensor_bytes;
  const std::uint64_t cap = std::uint64_t(hw.sram.total_bytes());
  for (const LayerSpec& l : model.layers) {
    const double heads = double(l.batch * l.heads), n = double(l.seq_len), d = double(l.head_dim);
    const double eb = double(hw.array.operand_bytes);
    try {
      switch (l.attention.variant) {
        case AttnVariant::Flash: {
          // The analytic planner's choice: an estimate needs no timed search.
          const FlashPlan p = plan_flash(hw, l.seq_len, l.head_dim, cap, "estimate");
          bytes += heads * eb * n * d * 2 * std::ceil(n / double(p.bq));
          break;
        }
        case AttnVariant::Unfused:
          if (plan_row_fused(hw, l.seq_len, l.head_dim, cap, "estimate", true).br == 0)
            bytes += heads * double(spilled_bytes_per_head(hw, l.seq_len, l.head_dim));
          break;
        case AttnVariant::RowFused: {
          const RowFusedPlan p = plan_row_fused(hw, l.seq_len, l.head_dim, cap, "estimate");
          bytes += heads * double(row_fused_bytes_per_head(hw, l.seq_len, l.head_dim, p.br));
          break;
        }
        default:
          break;
      }
    } catch (const UserError&) {
    }
  }
  return bytes;
}

// Estimated wall time (s) of simulating a model, from this machine's measurements (bench_lra and
// runs with the cycle DRAM): 5 ms per process; the array's ideal cycles (MACs / PEs) at 1.5 ns of
// wall time per simulated cycle (1.2-1.8 ns for flash and unfused on edge and cloud; row-fused's
// many small tiles are slower); with the cycle-accurate DRAM, 15 ns per byte moved (13-23 ns for
// the LRA model at N = 4096 on DDR4-3200).
double estimate_cost(const HwConfig& hw, const ModelConfig& model, const ModelEstimate& m) {
  double cost = 5e-3 + 1.5e-9 * m.macs / double(hw.array.rows * hw.array.cols);
  if (hw.dram.model == DramModel::Cycle) cost += 15e-9 * estimate_dram_bytes(hw, model, m);
  return cost;
}

bool is_model_path(const std::string& path) {
  return path == "/model" || path.rfind("/model/", 0) == 0 || path == "/attention/variant";
}

// The hardware document of a point: the base (or the /hardware value) with the hardware paths set,
// validated as `attnsim run` would.
struct HwResolved {
  std::string source;
  std::shared_ptr<const Json> doc;
  HwConfig hw;
};

// Base hardware documents by name, read once per spec (sources and documents).
using BaseDocs = std::map<std::string, std::pair<std::string, Json>>;

HwResolved resolve_hw(const std::string& hw_base, const std::vector<const Assignment*>& sets,
                      const std::string& base_dir, BaseDocs* base_docs = nullptr) {
  std::string hw_name = hw_base;
  for (const Assignment* a : sets) {
    if (a->path != "/hardware") continue;
    if (!a->value.is_string())
      throw UserError(a->path + ": must be a preset name or a file name, got " + a->value.dump());
    hw_name = a->value.get<std::string>();
  }
  HwResolved r;
  Json doc;
  const std::string where = locate(hw_name, base_dir);
  if (base_docs) {
    auto it = base_docs->find(where);
    if (it == base_docs->end()) {
      std::string source;
      Json d = read_hw_document(where, &source);
      it = base_docs->emplace(where, std::make_pair(source, std::move(d))).first;
    }
    r.source = it->second.first;
    doc = it->second.second;
  } else {
    doc = read_hw_document(where, &r.source);
  }
  for (const Assignment* a : sets) {
    if (a->path == "/hardware") continue;
    if (a->path.rfind("/attention/", 0) == 0 || a->path == "/attention")
      throw UserError(a->path + ": the attention is set whole through /attention/variant, with parameters "
                                "(\"primal:rank=96\")");
    try {
      const Json::json_pointer ptr(a->path);
      if (a->value.is_null()) {  // null removes the key: {"/softmax": null} is hardware without a softmax unit
        if (doc.contains(ptr)) doc[ptr.parent_pointer()].erase(ptr.back());
      } else {
        doc[ptr] = a->value;
      }
    } catch (const Json::exception& e) {
      throw UserError(a->path + ": cannot set this path in the hardware document (" + e.what() + ")");
    }
  }
  r.hw = parse_hw_config(doc, r.source);  // validation: the child parses it again
  r.doc = std::make_shared<const Json>(std::move(doc));
  return r;
}

// The model of a point: the base (or the /model value) with /model/... paths set and the
// seq_len, batch, dtype and variant overrides applied, validated.
struct ModelResolved {
  std::string source;
  std::shared_ptr<const Json> doc;  // the model as resolved
  ModelConfig model;
  ModelEstimate estimate;
};

ModelResolved resolve_model(const std::string& model_base, const std::vector<const Assignment*>& sets,
                            const std::string& base_dir) {
  std::string model_name = model_base;
  for (const Assignment* a : sets) {
    if (a->path != "/model") continue;
    if (!a->value.is_string())
      throw UserError(a->path + ": must be a preset name or a file name, got " + a->value.dump());
    model_name = a->value.get<std::string>();
  }
  ModelResolved r;
  Json model_doc = read_model_document(locate(model_name, base_dir), &r.source);
  ModelOverrides ov;
  auto positive = [](const Assignment& a) {
    if (!a.value.is_number_integer() || a.value.get<std::int64_t>() < 1)
      throw UserError(a.path + ": must be a positive integer, got " + a.value.dump());
    return a.value.get<std::int64_t>();
  };
  auto text = [](const Assignment& a) {
    if (!a.value.is_string()) throw UserError(a.path + ": must be a string, got " + a.value.dump());
    return a.value.get<std::string>();
  };
  for (const Assignment* a : sets) {
    if (a->path == "/model") continue;
    if (a->path == "/model/seq_len") {
      ov.seq_len = positive(*a);
    } else if (a->path == "/model/batch") {
      ov.batch = positive(*a);
    } else if (a->path == "/model/dtype") {
      ov.dtype = text(*a);
    } else if (a->path == "/attention/variant") {
      ov.variant = text(*a);
    } else {
      const std::string pointer = a->path.substr(6);
      try {
        const Json::json_pointer ptr(pointer);
        if (a->value.is_null()) {
          if (model_doc.contains(ptr)) model_doc[ptr.parent_pointer()].erase(ptr.back());
        } else {
          model_doc[ptr] = a->value;
        }
      } catch (const Json::exception& e) {
        throw UserError(a->path + ": cannot set this path in the model document (" + e.what() + ")");
      }
    }
  }
  r.model = parse_model_config(model_doc, r.source, ov);
  r.doc = std::make_shared<const Json>(r.model.resolved);
  r.estimate = estimate_model(r.model);
  return r;
}

// Resolves one combination of assignments whole (used to check each value alone on the base
// documents): the hardware first, then the model, as a point is.
void resolve(const std::string& hw_base, const std::string& model_base, const std::vector<Assignment>& sets,
             const std::string& base_dir) {
  std::vector<const Assignment*> hw_sets, model_sets;
  for (const Assignment& a : sets) (is_model_path(a.path) ? model_sets : hw_sets).push_back(&a);
  resolve_hw(hw_base, hw_sets, base_dir);
  resolve_model(model_base, model_sets, base_dir);
}

// SweepPoint::resolved().dump() in two halves, composed from the documents' dumps (made once per
// document, not once per point): the hardware half ends where the model's source begins. Its
// FNV-1a hash keys the point; FNV runs left to right, so the hardware half's state is kept per
// hardware document and each point only hashes its model half.
std::string resolved_hw_half(const std::string& hw_source, const std::string& hw_dump) {
  return "{\"attnsim_version\":" + Json(ATTNSIM_VERSION).dump() + ",\"hardware\":{\"source\":" +
         Json(hw_source).dump() + ",\"document\":" + hw_dump + "},\"model\":{\"source\":";
}
std::string resolved_model_half(const std::string& model_source, const std::string& model_dump,
                                const std::string& trace_dump) {
  return Json(model_source).dump() + ",\"document\":" + model_dump + "}" +
         (trace_dump.empty() ? "" : ",\"trace\":" + trace_dump) + "}";
}

std::vector<Choice> plain_axis(const JsonView& axis, const std::string& name, Diagnostics& diag) {
  std::vector<Choice> choices;
  const std::string path = axis.string("path", std::nullopt);
  axis.annotate("path", {{"pattern", "^/"}});
  axis.annotate("values", {{"type", "array"}, {"minItems", 1}}, /*required=*/true);
  if (!axis.has("path")) return choices;
  if (path.empty() || path[0] != '/') {
    diag.add(axis.child_path("path"), "must be a JSON pointer starting with /", Json(path));
    return choices;
  }
  const Json* values = axis.has("values") ? &(*axis.node())["values"] : nullptr;
  if (!values || !values->is_array() || values->empty()) {
    diag.add(axis.child_path("values"), "must be a non-empty list of values");
    return choices;
  }
  for (std::size_t i = 0; i < values->size(); ++i) {
    Choice c;
    c.cells.emplace_back(name.empty() ? last_token(path) : name, (*values)[i]);
    c.sets.push_back({path, (*values)[i]});
    c.where = axis.child_path("values") + "/" + std::to_string(i);
    choices.push_back(std::move(c));
  }
  return choices;
}

std::vector<Choice> parse_axis(const JsonView& axis, Diagnostics& diag) {
  if (!axis.is_object()) {
    diag.add(axis.path(), "an axis must be an object with \"path\" and \"values\", \"zip\", or \"points\"");
    return {};
  }
  // Three forms, told apart in this order: zip, points, a plain path and values.
  if (axis.has("zip")) {
    axis.branch("zip", schema_when_has("zip"));
    axis.annotate("zip", {{"type", "array"}, {"minItems", 2}}, /*required=*/true);
    axis.reject_unknown_keys({"zip"});
    const Json& members = (*axis.node())["zip"];
    if (!members.is_array() || members.size() < 2) {
      diag.add(axis.child_path("zip"), "must be a list of at least two axes ({\"path\", \"values\"})");
      return {};
    }
    std::vector<std::vector<Choice>> lists;
    for (std::size_t m = 0; m < members.size(); ++m) {
      const JsonView member(&members[m], axis.child_path("zip") + "/" + std::to_string(m), &diag);
      if (!member.is_object()) {
        diag.add(member.path(), "must be an axis object {\"path\", \"values\"}");
        return {};
      }
      member.reject_unknown_keys({"path", "values", "name"});
      lists.push_back(plain_axis(member, member.string("name", ""), diag));
      if (lists.back().empty()) return {};
      if (lists.back().size() != lists.front().size()) {
        diag.add(member.child_path("values"),
                 "zipped axes move together and must have the same number of values (" +
                     std::to_string(lists.front().size()) + " in the first)",
                 Json(lists.back().size()));
        return {};
      }
    }
    std::vector<Choice> zipped(lists.front().size());
    for (std::size_t i = 0; i < zipped.size(); ++i) {
      zipped[i].where = lists.front()[i].where;
      for (const auto& list : lists) {
        zipped[i].cells.push_back(list[i].cells.front());
        zipped[i].sets.push_back(list[i].sets.front());
      }
    }
    return zipped;
  }
  if (axis.has("points")) {
    axis.branch("points", {{"required", Json::array({"points"})}, {"not", schema_when_has("zip")}});
    axis.annotate("points", {{"type", "array"}, {"minItems", 1}}, /*required=*/true);
    axis.reject_unknown_keys({"name", "points"});
    const std::string name = axis.string("name", std::nullopt);
    const Json& points = (*axis.node())["points"];
    if (!points.is_array() || points.empty()) {
      diag.add(axis.child_path("points"), "must be a non-empty list of {\"label\", \"set\": {PATH: VALUE}}");
      return {};
    }
    std::vector<Choice> choices;
    for (std::size_t i = 0; i < points.size(); ++i) {
      const JsonView p(&points[i], axis.child_path("points") + "/" + std::to_string(i), &diag);
      if (!p.is_object()) {
        diag.add(p.path(), "must be an object {\"label\", \"set\": {PATH: VALUE}}");
        continue;
      }
      p.reject_unknown_keys({"label", "set"});
      p.annotate("set", {{"type", "object"}, {"minProperties", 1}, {"propertyNames", {{"pattern", "^/"}}}},
                 /*required=*/true);
      Choice c;
      c.where = p.path();
      c.cells.emplace_back(name, Json(p.string("label", std::nullopt)));
      const Json* set = p.has("set") ? &(*p.node())["set"] : nullptr;
      if (!set || !set->is_object() || set->empty()) {
        diag.add(p.child_path("set"), "must be a non-empty object of JSON pointers and values");
        continue;
      }
      for (auto it = set->begin(); it != set->end(); ++it) {
        if (it.key().empty() || it.key()[0] != '/')
          diag.add(p.child_path("set"), "keys must be JSON pointers starting with /", Json(it.key()));
        c.sets.push_back({it.key(), it.value()});
      }
      choices.push_back(std::move(c));
    }
    return choices;
  }
  axis.branch("path", {{"not", {{"anyOf", Json::array({schema_when_has("zip"), schema_when_has("points")})}}}});
  axis.reject_unknown_keys({"path", "values", "name"});
  return plain_axis(axis, axis.string("name", ""), diag);
}

}  // namespace

const char* const kSweepSpecHelp = R"(A sweep spec is a JSON file:
  {
    "description": "...",                 optional
    "hardware": "edge",                   base hardware: a preset or a file (relative to the spec's folder)
    "model": "lra-text",                  base model: a preset or a file (relative to the spec's folder)
    "axes": [AXIS, ...],                  the points are their cartesian product, first axis outermost
    "timeout_s": 600,                     optional: a point still running after this is killed
    "trace": {"formats": ["timeline", "perfetto", "vcd"], "window_cycles": 1000, "max_slices": 100000}
                                          optional: traces written beside each point's report
  }
AXIS is one of
  {"path": P, "values": [V, ...], "name": N}          one value per point (N defaults to P's last token)
  {"zip": [{"path": P, "values": [...]}, ...]}        members move together, equal lengths
  {"name": N, "points": [{"label": L, "set": {P: V, ...}}, ...]}
                                                      named derived points (several paths set together)
P is a JSON pointer:
  /hardware, /model             the whole hardware config or model (a preset or a file)
  /model/seq_len, /model/batch, /model/dtype
                                every layer's N, batch, the operand type (as run --seq-len/--batch/--dtype)
  /attention/variant            every layer's attention, with parameters: "primal:rank=96"
  /model/<pointer>              a value in the model document: /model/defaults/ffn/width
  anything else                 a value in the hardware document: /array/rows, /sram/bytes_per_bank,
                                /dram/preset, ...
A null value removes the key: {"/softmax": null} is the hardware without its softmax unit.
Every bad path or value is reported at once. Example (configs/sweeps/default.json):
  {"hardware": "edge", "model": "lra-text",
   "axes": [{"path": "/hardware", "values": ["edge", "cloud"]},
            {"path": "/attention/variant", "values": ["unfused", "flash", "primal", "lowrank_linear"]},
            {"path": "/model/seq_len", "values": [256, 1024, 4096, 16384]}]}
)";

namespace {
constexpr std::uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ull;  // FNV-1a 64; the prime is 2^40 + 2^8 + 0xb3
std::uint64_t fnv_update(std::uint64_t h, const std::string& text) {
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}
std::string hex16(std::uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
  return buf;
}
}  // namespace

std::string hash_hex(const std::string& text) {
  const std::uint64_t h = fnv_update(kFnvOffsetBasis, text);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
  return buf;
}

std::string SweepPoint::label() const {
  std::string s;
  for (const auto& [name, value] : axes) s += (s.empty() ? "" : " ") + name + "=" + cell_text(value);
  return s;
}

Json SweepPoint::axes_object() const {
  Json o = Json::object();
  for (const auto& [name, value] : axes) o[name] = value;
  return o;
}

Json SweepPoint::resolved() const {
  Json r = {{"attnsim_version", ATTNSIM_VERSION},
            {"hardware", {{"source", hw_source}, {"document", hw_doc()}}},
            {"model", {{"source", model_source}, {"document", model_doc()}}}};
  if (!trace.is_null()) r["trace"] = trace;  // a traced point is another point: its files differ
  return r;
}

SweepSpec parse_sweep_spec(const Json& doc, const std::string& source, const std::string& base_dir,
                           SchemaRecorder* recorder) {
  Diagnostics diag(source);
  diag.record_into(recorder);
  const JsonView root(&doc, "", &diag);
  if (!root.is_object()) {
    diag.add("/", "a sweep spec is an object with \"hardware\", \"model\" and \"axes\"");
    diag.throw_if_any();
  }
  root.reject_unknown_keys({"$schema", "description", "hardware", "model", "axes", "timeout_s", "trace"});
  root.string("$schema", "");  // the schema an editor checks the file against (attnsim schema sweep)
  SweepSpec spec;
  spec.source = source;
  spec.document = doc;
  spec.description = root.string("description", "");
  const std::string hw_base = root.string("hardware", std::nullopt);
  const std::string model_base = root.string("model", std::nullopt);
  spec.timeout_s = root.number("timeout_s", 0.0, 0.0, 1e7);
  if (root.has("trace")) {
    const JsonView t = root.object("trace");
    t.reject_unknown_keys({"formats", "window_cycles", "max_slices"});
    spec.trace.enabled = true;
    spec.trace_json = doc["trace"];
    spec.trace.window_cycles = t.integer("window_cycles", 0, 0, std::int64_t(1) << 40);
    spec.trace.max_slices = std::uint64_t(t.integer("max_slices", 0, 0, std::int64_t(1) << 32));
    t.annotate("formats", {{"type", "array"},
                           {"minItems", 1},
                           {"items", {{"enum", Json::array({"timeline", "perfetto", "vcd"})}}}});
    if (t.has("formats")) {
      const Json& f = doc["trace"]["formats"];
      if (!f.is_array() || f.empty()) diag.add("/trace/formats", "must be a non-empty list of timeline, perfetto, vcd");
      for (std::size_t i = 0; f.is_array() && i < f.size(); ++i) {
        const std::string name = f[i].is_string() ? f[i].get<std::string>() : "";
        if (name != "timeline" && name != "perfetto" && name != "vcd")
          diag.add("/trace/formats/" + std::to_string(i), "must be timeline, perfetto or vcd", f[i]);
        else
          spec.trace.formats.push_back(name);
      }
    } else {
      spec.trace.formats = {"timeline", "perfetto"};
    }
  }
  std::vector<std::vector<Choice>> axes;
  root.annotate("axes", {{"type", "array"}, {"minItems", 1}}, /*required=*/true);
  const Json* axes_node = root.has("axes") ? &doc["axes"] : nullptr;
  if (!axes_node || !axes_node->is_array() || axes_node->empty()) {
    diag.add("/axes", "must be a non-empty list of axes");
  } else {
    for (std::size_t i = 0; i < axes_node->size(); ++i)
      axes.push_back(parse_axis(JsonView(&(*axes_node)[i], "/axes/" + std::to_string(i), &diag), diag));
  }
  // A malformed axis has no choices; the others' values are still checked, so that every problem
  // is reported in one pass.
  const bool structure_ok = diag.ok();

  // Column names: unique.
  std::map<std::string, std::string> seen;
  for (const auto& axis : axes)
    for (const auto& [name, value] : axis.empty() ? std::vector<std::pair<std::string, Json>>{} : axis.front().cells) {
      spec.axis_names.push_back(name);
      if (!seen.emplace(name, axis.front().where).second)
        diag.add(axis.front().where, "axis name \"" + name + "\" is used twice; give one a \"name\"");
    }
  // The number of points, before anything is resolved: a sweep above the limit is refused at once.
  std::size_t count = 1;
  for (const auto& axis : axes) {
    if (axis.empty()) continue;
    if (count > kMaxSweepPoints / axis.size()) {
      diag.add("/axes", "the product of the axes has more than " + std::to_string(kMaxSweepPoints) + " points");
      diag.throw_if_any();
    }
    count *= axis.size();
  }
  // Every value alone on the base documents: a bad path or value is named where it is written.
  for (const auto& axis : axes)
    for (const Choice& c : axis) {
      try {
        resolve(hw_base, model_base, c.sets, base_dir);
      } catch (const UserError& e) {
        std::string what;
        for (const Assignment& a : c.sets) what += (what.empty() ? "" : ", ") + a.path + " = " + a.value.dump();
        diag.add(c.where, what + ": " + e.what());
      }
    }
  if (!structure_ok && diag.ok()) diag.add("/axes", "internal error: a malformed axis was not reported");
  diag.throw_if_any();

  // Which axes write into the hardware and which into the model: a point's hardware document
  // depends only on its choices on the former, its model on the latter. Each distinct document is
  // resolved, validated and dumped once, and shared by every point that has it.
  std::vector<bool> touches_hw(axes.size(), false), touches_model(axes.size(), false);
  for (std::size_t a = 0; a < axes.size(); ++a)
    for (const Choice& c : axes[a])
      for (const Assignment& s : c.sets) (is_model_path(s.path) ? touches_model : touches_hw)[a] = true;
  struct HwEntry {
    std::string error;  // empty when valid
    HwResolved r;
    std::uint64_t hash_state = 0;  // FNV-1a over the hardware half of the point's resolved text
  };
  struct ModelEntry {
    std::string error;
    ModelResolved r;
    std::string half;  // the model half of the resolved text
  };
  std::map<std::vector<std::uint32_t>, HwEntry> hw_cache;
  BaseDocs base_docs;
  std::map<std::vector<std::uint32_t>, ModelEntry> model_cache;
  const std::string trace_dump = spec.trace_json.is_null() ? "" : spec.trace_json.dump();
  std::unordered_map<std::string, std::size_t> by_hash;
  std::size_t point_problems = 0;
  std::vector<std::uint32_t> pick(axes.size()), hw_key, model_key;
  spec.points.reserve(count);
  for (std::size_t index = 0; index < count; ++index) {
    // Mixed radix, the last axis fastest.
    std::size_t rest = index;
    for (std::size_t a = axes.size(); a-- > 0;) {
      pick[a] = std::uint32_t(rest % axes[a].size());
      rest /= axes[a].size();
    }
    hw_key.clear(), model_key.clear();
    for (std::size_t a = 0; a < axes.size(); ++a) {
      if (touches_hw[a]) hw_key.push_back(pick[a]);
      if (touches_model[a]) model_key.push_back(pick[a]);
    }
    auto hw_it = hw_cache.find(hw_key);
    if (hw_it == hw_cache.end()) {
      HwEntry e;
      std::vector<const Assignment*> sets;
      for (std::size_t a = 0; a < axes.size(); ++a)
        for (const Assignment& s : axes[a][pick[a]].sets)
          if (!is_model_path(s.path)) sets.push_back(&s);
      try {
        e.r = resolve_hw(hw_base, sets, base_dir, &base_docs);
        e.hash_state = fnv_update(kFnvOffsetBasis, resolved_hw_half(e.r.source, e.r.doc->dump()));
      } catch (const UserError& err) {
        e.error = err.what();
      }
      hw_it = hw_cache.emplace(hw_key, std::move(e)).first;
    }
    auto model_it = model_cache.end();
    if (hw_it->second.error.empty()) {
      model_it = model_cache.find(model_key);
      if (model_it == model_cache.end()) {
        ModelEntry e;
        std::vector<const Assignment*> sets;
        for (std::size_t a = 0; a < axes.size(); ++a)
          for (const Assignment& s : axes[a][pick[a]].sets)
            if (is_model_path(s.path)) sets.push_back(&s);
        try {
          e.r = resolve_model(model_base, sets, base_dir);
          e.half = resolved_model_half(e.r.source, e.r.doc->dump(), trace_dump);
        } catch (const UserError& err) {
          e.error = err.what();
        }
        model_it = model_cache.emplace(model_key, std::move(e)).first;
      }
    }
    SweepPoint p;
    p.index = index;
    for (std::size_t a = 0; a < axes.size(); ++a) {
      const Choice& c = axes[a][pick[a]];
      p.axes.insert(p.axes.end(), c.cells.begin(), c.cells.end());
    }
    const std::string& error = !hw_it->second.error.empty() ? hw_it->second.error : model_it->second.error;
    if (!error.empty()) {
      if (++point_problems <= kMaxListedPointProblems)
        diag.add("/axes", "point " + std::to_string(index) + " (" + p.label() + "): " + error);
      continue;
    }
    const HwEntry& hw = hw_it->second;
    const ModelEntry& model = model_it->second;
    p.hw_source = hw.r.source;
    p.model_source = model.r.source;
    p.hw_document = hw.r.doc;
    p.model_document = model.r.doc;
    p.est_cost = estimate_cost(hw.r.hw, model.r.model, model.r.estimate);
    p.trace = spec.trace_json;
    p.hash = hex16(fnv_update(hw.hash_state, model.half));
    const auto [it, fresh] = by_hash.emplace(p.hash, index);
    if (!fresh)
      diag.add("/axes", "points " + std::to_string(it->second) + " and " + std::to_string(index) + " (" + p.label() +
                            ") simulate the same documents; remove the repeated value");
    spec.points.push_back(std::move(p));
  }
  if (point_problems > kMaxListedPointProblems)
    diag.add("/axes", "... and " + std::to_string(point_problems - kMaxListedPointProblems) +
                          " more points whose combination of values is invalid");
  diag.throw_if_any();
  return spec;
}

std::vector<std::vector<std::size_t>> balance_shards(const std::vector<double>& costs, int count) {
  // Longest processing time first: the costliest point goes to the least loaded shard (ties: the
  // lower point index first, the lower shard index), within 4/3 of the best possible makespan.
  std::vector<std::size_t> order(costs.size());
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return costs[a] > costs[b]; });
  std::vector<std::vector<std::size_t>> shards(std::size_t(count < 1 ? 1 : count));
  std::vector<double> load(shards.size(), 0.0);
  for (std::size_t i : order) {
    const std::size_t s = std::size_t(std::min_element(load.begin(), load.end()) - load.begin());
    shards[s].push_back(i);
    load[s] += costs[i];
  }
  for (auto& s : shards) std::sort(s.begin(), s.end());
  return shards;
}

SweepSpec load_sweep_spec(const std::string& path) {
  const fs::path p(path);
  return parse_sweep_spec(read_json_file(path), path, p.parent_path().string());
}

}  // namespace attnsim
