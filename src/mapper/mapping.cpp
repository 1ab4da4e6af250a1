#include "mapper/mapping.h"

#include <algorithm>

#include "common/errors.h"
#include "config/schema_recorder.h"

namespace attnsim {

namespace {

struct KindRanks {
  const char* kind;
  std::vector<std::string> ranks;
  bool has_loop_order;
};

const std::vector<KindRanks>& kinds() {
  static const std::vector<KindRanks> k = {
      {"gemm", {"m", "k", "n"}, true},
      {"flash", {"m", "p"}, false},
      {"row_fused", {"m"}, false},
      {"cascade", {}, false},
      {"fused", {"m", "p"}, false},
  };
  return k;
}

const KindRanks* kind_of(const std::string& name) {
  for (const KindRanks& k : kinds())
    if (name == k.kind) return &k;
  return nullptr;
}

std::string escape_pointer(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string ModelMapping::where(const std::string& op, const std::string& field) const {
  return (source.empty() ? std::string("mapping") : source) + ": /ops/" + escape_pointer(op) +
         (field.empty() ? "" : "/" + field);
}

Json op_mapping_to_json(const OpMapping& m) {
  Json j = Json::object();
  j["kind"] = m.kind;
  if (m.kind == "cascade") {
    j["mapping"] = m.cascade;
    return j;
  }
  // Tile factors in the kind's rank order, not alphabetically.
  Json tile = Json::object();
  if (const KindRanks* k = kind_of(m.kind)) {
    for (const std::string& r : k->ranks)
      if (m.tile.count(r)) tile[r] = m.tile.at(r);
  } else {
    for (const auto& [r, v] : m.tile) tile[r] = v;
  }
  j["tile"] = tile;
  if (m.kind == "fused") {
    // Every field in a fixed order: the binding, the residency, the buffers, causal.
    if (!m.units.empty()) {
      Json u = Json::object();
      for (const char* t : {"S", "P", "O"})
        if (m.units.count(t)) u[t] = m.units.at(t);
      j["units"] = u;
    }
    if (m.has_resident) j["resident"] = m.resident;
    if (!m.buffers.empty()) {
      Json b = Json::object();
      for (const char* t : {"Q", "O", "K", "V"})
        if (m.buffers.count(t)) b[t] = m.buffers.at(t);
      j["buffers"] = b;
    }
    if (m.causal >= 0) j["causal"] = m.causal == 1;
    return j;
  }
  if (!m.loop_order.empty()) j["loop_order"] = m.loop_order;
  if (m.has_resident) j["resident"] = m.resident;
  if (m.lead_block > 0) j["lead_block"] = m.lead_block;
  return j;
}

Json mapping_to_json(const ModelMapping& m) {
  Json j = Json::object();
  j["mapping_version"] = 1;
  Json ops = Json::object();
  for (const auto& [name, om] : m.ops) ops[name] = op_mapping_to_json(om);
  j["ops"] = ops;
  return j;
}

ModelMapping parse_mapping(const Json& doc, const std::string& source, SchemaRecorder* recorder) {
  Diagnostics diag(source);
  diag.record_into(recorder);
  ModelMapping m;
  m.source = source;
  JsonView root(&doc, "", &diag);
  if (!root.is_object()) {
    diag.add("", "a mapping must be a JSON object with \"mapping_version\" and \"ops\"", doc);
    diag.throw_if_any();
  }
  root.reject_unknown_keys({"mapping_version", "ops"});
  root.integer("mapping_version", 1, 1, 1);
  root.annotate("ops", {{"type", "object"}}, /*required=*/true);
  const Json* ops = doc.contains("ops") ? &doc["ops"] : nullptr;
  JsonView(ops, "/ops", &diag).declare_named_entries({{"type", "object"}});
  if (!ops) {
    diag.add("/ops", "is required: an object from op name (as in --emit tiles, e.g. L0.qkv_proj) to its mapping");
  } else if (!ops->is_object()) {
    diag.add("/ops", "must be an object from op name to its mapping", *ops);
  } else {
    for (auto it = ops->begin(); it != ops->end(); ++it) {
      const std::string path = "/ops/" + escape_pointer(it.key());
      JsonView v(&it.value(), path, &diag);
      if (!v.is_object()) {
        diag.add(path, "must be an object with \"kind\" and \"tile\"", it.value());
        continue;
      }
      OpMapping om;
      om.kind = v.choice("kind", std::nullopt, {"gemm", "flash", "row_fused", "cascade", "fused"});
      v.branch(om.kind, schema_when_one_of("kind", {om.kind}));
      if (om.kind == "cascade") {
        v.reject_unknown_keys({"kind", "mapping"});
        // Its content is recorded from the cascade mapping's reader (mapper/mapping_schema.cpp).
        v.annotate("mapping", {{"type", "object"}}, /*required=*/true);
        const Json* cm = it.value().contains("mapping") ? &it.value()["mapping"] : nullptr;
        if (!cm || !cm->is_object())
          diag.add(path + "/mapping", "kind cascade needs \"mapping\": a cascade mapping object (as --emit mapping prints it)",
                   cm ? *cm : Json());
        else
          om.cascade = *cm;
        m.ops.emplace_back(it.key(), om);
        continue;
      }
      if (om.kind == "fused") {
        // Attention fused in the array (mapper/fused_search.h): names and ranges here; the binding, the
        // key tile, the residency and causal against the layer and the hardware when compiled.
        v.reject_unknown_keys({"kind", "tile", "units", "resident", "buffers", "causal"});
        const JsonView tv = v.object("tile", false);
        tv.reject_unknown_keys({"m", "p"});
        for (const char* r : {"m", "p"})
          if (tv.has(r) || tv.recording()) om.tile[r] = tv.integer(r, 1, 1, std::int64_t(1) << 40);
        const JsonView uv = v.object("units", false);
        uv.reject_unknown_keys({"S", "P", "O"});
        for (const char* t : {"S", "P", "O"})
          if (uv.has(t) || uv.recording()) om.units[t] = uv.choice(t, std::string("array"), {"array", "pe", "softmax", "vector"});
        if (v.has("resident") || v.recording()) {
          v.annotate("resident", {{"type", "array"}, {"items", {{"enum", {"K", "V"}}}}, {"uniqueItems", true}});
          const Json& r = it.value().contains("resident") ? it.value()["resident"] : Json::array();
          bool ok = r.is_array();
          std::vector<std::string> names;
          if (ok)
            for (const Json& x : r) {
              const bool known = x.is_string() && (x.get<std::string>() == "K" || x.get<std::string>() == "V");
              if (!known || std::find(names.begin(), names.end(), x.get<std::string>()) != names.end()) {
                ok = false;
                break;
              }
              names.push_back(x.get<std::string>());
            }
          if (!ok)
            diag.add(path + "/resident", "must be a list of distinct inputs kept whole on chip per head, \"K\" and/or \"V\"", r);
          else
            om.resident = names, om.has_resident = true;
        }
        const JsonView bv = v.object("buffers", false);
        bv.reject_unknown_keys({"Q", "O", "K", "V"});
        for (const char* t : {"Q", "O"})
          if (bv.has(t) || bv.recording()) om.buffers[t] = bv.integer(t, 2, 1, 8);
        for (const char* t : {"K", "V"})
          if (bv.has(t) || bv.recording()) om.buffers[t] = bv.integer(t, 2, 1, 2);
        if (v.has("causal") || v.recording()) om.causal = v.boolean("causal", false) ? 1 : 0;
        m.ops.emplace_back(it.key(), om);
        continue;
      }
      v.reject_unknown_keys({"kind", "tile", "loop_order", "resident", "lead_block"});
      const KindRanks* k = kind_of(om.kind);
      if (!k) continue;
      std::string ranks;
      for (const std::string& r : k->ranks) ranks += (ranks.empty() ? "" : ", ") + r;
      const bool gemm = om.kind == "gemm";
      v.annotate("tile", {{"type", "object"}, {"propertyNames", {{"enum", k->ranks}}}});
      v.annotate("loop_order", k->has_loop_order ? Json{{"enum", Json::array({Json::array({"m", "n", "k"}),
                                                                             Json::array({"n", "m", "k"}),
                                                                             Json::array({"m", "k", "n"}),
                                                                             Json::array({"n", "k", "m"})})}}
                                                 : Json{{"not", Json::object()}});
      v.annotate("resident", gemm ? Json{{"type", "array"}, {"items", {{"enum", {"A", "B"}}}}, {"uniqueItems", true}}
                                  : Json{{"not", Json::object()}});
      if (!gemm) v.annotate("lead_block", {{"not", Json::object()}});
      if (v.has("tile")) {
        const Json& t = it.value()["tile"];
        if (!t.is_object()) {
          diag.add(path + "/tile", "must be an object from rank (" + ranks + ") to tile factor", t);
        } else {
          JsonView tv(&t, path + "/tile", &diag);
          tv.reject_unknown_keys(k->ranks);
          for (const std::string& r : k->ranks)
            if (tv.has(r)) om.tile[r] = tv.integer(r, std::nullopt, 1, std::int64_t(1) << 40);
        }
      }
      if (v.has("loop_order")) {
        const Json& lo = it.value()["loop_order"];
        std::vector<std::string> order;
        bool ok = k->has_loop_order && lo.is_array();
        if (ok)
          for (const Json& r : lo) {
            if (!r.is_string()) {
              ok = false;
              break;
            }
            order.push_back(r.get<std::string>());
          }
        std::vector<std::string> a = order, b = k->ranks;
        std::sort(a.begin(), a.end());
        std::sort(b.begin(), b.end());
        // A GEMM keeps its reduction innermost (the C tile accumulates in place) or in the middle
        // (the outer row's C tiles stay on chip): never outermost.
        if (ok && (a != b || order.front() == "k")) ok = false;
        if (!ok)
          diag.add(path + "/loop_order",
                   k->has_loop_order ? "must be a permutation of [\"m\", \"n\", \"k\"] with k not outermost: "
                                       "[\"m\", \"n\", \"k\"], [\"n\", \"m\", \"k\"], [\"m\", \"k\", \"n\"] or "
                                       "[\"n\", \"k\", \"m\"]"
                                     : "is not a choice for kind " + om.kind,
                   lo);
        else
          om.loop_order = order;
      }
      if (v.has("resident")) {
        const Json& r = it.value()["resident"];
        bool ok = om.kind == "gemm" && r.is_array();
        std::vector<std::string> names;
        if (ok)
          for (const Json& x : r) {
            const bool known = x.is_string() && (x.get<std::string>() == "A" || x.get<std::string>() == "B");
            if (!known || std::find(names.begin(), names.end(), x.get<std::string>()) != names.end()) {
              ok = false;
              break;
            }
            names.push_back(x.get<std::string>());
          }
        if (!ok)
          diag.add(path + "/resident",
                   om.kind == "gemm" ? "must be a list of distinct operands kept on chip, \"A\" and/or \"B\" (or [])"
                                     : "is not a choice for kind " + om.kind,
                   r);
        else
          om.resident = names, om.has_resident = true;
      }
      if (v.has("lead_block")) {
        if (om.kind != "gemm")
          diag.add(path + "/lead_block", "is not a choice for kind " + om.kind, it.value()["lead_block"]);
        else
          om.lead_block = v.integer("lead_block", std::nullopt, 0, 2);
      }
      m.ops.emplace_back(it.key(), om);
    }
  }
  diag.throw_if_any();
  return m;
}

namespace {

// One line of JSON with a space after every ':' and ',' (nlohmann's compact form has none).
std::string one_line(const Json& j) {
  if (j.is_object()) {
    std::string s = "{";
    bool first = true;
    for (auto it = j.begin(); it != j.end(); ++it) {
      s += (first ? "" : ", ") + Json(it.key()).dump() + ": " + one_line(it.value());
      first = false;
    }
    return s + "}";
  }
  if (j.is_array()) {
    std::string s = "[";
    for (std::size_t i = 0; i < j.size(); ++i) s += (i ? ", " : "") + one_line(j[i]);
    return s + "]";
  }
  return j.dump();
}

}  // namespace

std::string mapping_to_text(const ModelMapping& m) {
  std::string s = "{\n  \"mapping_version\": 1,\n  \"ops\": {";
  for (std::size_t i = 0; i < m.ops.size(); ++i)
    s += std::string(i ? "," : "") + "\n    " + Json(m.ops[i].first).dump() + ": " + one_line(op_mapping_to_json(m.ops[i].second));
  s += m.ops.empty() ? "}\n}\n" : "\n  }\n}\n";
  return s;
}

ModelMapping read_mapping_file(const std::string& path) { return parse_mapping(read_json_file(path), path); }

}  // namespace attnsim
