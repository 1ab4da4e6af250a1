#include "config/model_config.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "common/errors.h"
#include "config/presets.h"
#include "config/schema_recorder.h"

namespace attnsim {

namespace {

// Upper bounds on sizes. None of the presets is within a factor of 16 of them; they exist so that a
// typo (an extra digit, a byte count where an element count belongs) is caught here, and so that
// every tensor size below stays far from 64-bit overflow: the largest tensor of a layer, the score
// matrix (batch * heads * seq_len) x seq_len, is at most 2^24 tokens * 2^12 heads * 2^20 columns =
// 2^56 elements.
constexpr std::int64_t kMaxDModel = std::int64_t(1) << 16;
constexpr std::int64_t kMaxHeads = std::int64_t(1) << 12;
constexpr std::int64_t kMaxHeadDim = std::int64_t(1) << 12;
constexpr std::int64_t kMaxSeqLen = std::int64_t(1) << 20;
constexpr std::int64_t kMaxBatch = std::int64_t(1) << 16;
constexpr std::int64_t kMaxFfnWidth = std::int64_t(1) << 20;
constexpr std::int64_t kMaxRepeat = std::int64_t(1) << 12;
constexpr std::int64_t kMaxLayers = std::int64_t(1) << 12;
constexpr std::int64_t kMaxTokens = std::int64_t(1) << 24;  // batch * seq_len
// The graph holds one attention instance per (layer, batch, head), about 600 bytes each; these keep
// it under a gigabyte. Llama-2-7B whole (32 layers of 32 heads) at batch 64 is 2^16.
constexpr std::int64_t kMaxLayerHeads = std::int64_t(1) << 16;  // batch * heads
constexpr std::int64_t kMaxModelHeads = std::int64_t(1) << 20;  // sum over layers of batch * heads

struct DtypeInfo {
  const char* name;
  int bytes;
};
constexpr DtypeInfo kDtypes[] = {{"fp32", 4}, {"fp16", 2}, {"bf16", 2}, {"int8", 1}};

const std::vector<std::string>& dtype_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& d : kDtypes) v.emplace_back(d.name);
    return v;
  }();
  return names;
}

int dtype_bytes(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return d.bytes;
  return 0;
}

// "must be one of a|b|c (did you mean "b"?)": the same wording as JsonView::choice, for lists that
// are only known at run time (variants) and for command-line overrides, which have no JsonView.
std::string one_of_rule(const std::string& got, const std::vector<std::string>& names) {
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : "|") + n;
  std::string hint = did_you_mean(got, names);
  return "must be one of " + list + (hint.empty() ? "" : " (did you mean \"" + hint + "\"?)");
}

std::optional<AttnVariant> variant_from_name(std::string name) {
  std::replace(name.begin(), name.end(), '-', '_');
  const auto& names = attn_variant_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return AttnVariant(i);
  if (name == "cascade") return AttnVariant::Cascade;
  return std::nullopt;
}

// The accepted variant names for messages: the built-in ones and "cascade".
std::vector<std::string> accepted_variant_names() {
  std::vector<std::string> v = attn_variant_names();
  v.push_back("cascade");
  return v;
}

// Reads a cascade variant's file (and mapping file); a problem is returned, not thrown.
std::string read_cascade_files(AttentionSpec& spec) {
  try {
    spec.cascade_doc = read_json_file(spec.cascade_file);
    if (!spec.mapping_file.empty()) spec.mapping_doc = read_json_file(spec.mapping_file);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

// The parameters each variant accepts, with their upper bounds.
std::vector<std::pair<std::string, std::int64_t>> variant_params(AttnVariant v) {
  switch (v) {
    case AttnVariant::Primal:
      return {{"rank", 1 << 16}, {"samples", 1 << 20}};
    case AttnVariant::PrimalCausal:
    case AttnVariant::LowRankLinear:
    case AttnVariant::Linformer:
    case AttnVariant::Performer:
    case AttnVariant::Nystromformer:
      return {{"rank", 1 << 16}};
    case AttnVariant::Unfused:
      return {{"spill", 1}};
    default:
      return {};
  }
}

void set_param(AttentionSpec& spec, const std::string& key, std::int64_t value) {
  if (key == "rank") spec.rank = value;
  if (key == "samples") spec.samples = value;
  if (key == "spill") spec.spill = value;
}

// The layer fields given in one object: "defaults" or one layer entry. A field that is present but
// invalid is still set (to a fallback), so that it is reported once, as invalid, and not a second
// time as missing.
struct PartialLayer {
  std::optional<std::int64_t> d_model, heads, head_dim, seq_len, batch, kv_heads;
  std::optional<std::int64_t> ffn_width;  // set together with activation when "ffn" is given
  std::optional<Activation> activation;
  std::optional<NormKind> norm;
  std::optional<NormPosition> norm_position;
  std::optional<bool> causal;
  std::optional<AttentionSpec> attention;
};

// Reads and checks "attention": the variant name, and (for the variants known here) no other keys.
AttentionSpec read_attention(const JsonView& layer) {
  JsonView a = layer.object("attention");
  AttentionSpec spec;
  if (!a.is_object()) return spec;  // "must be an object" already recorded
  spec.params = *a.node();
  std::string name = a.string("variant", std::nullopt);
  // Missing ("is required") or not a string ("must be a string"): already recorded.
  if (!a.node()->contains("variant") || !a.node()->at("variant").is_string()) return spec;
  // Each variant is spelled with '_' or '-' (variant_from_name).
  auto spellings = [](const std::string& canonical) {
    std::string dashed = canonical;
    std::replace(dashed.begin(), dashed.end(), '_', '-');
    return dashed == canonical ? std::vector<std::string>{canonical} : std::vector<std::string>{canonical, dashed};
  };
  if (a.recording()) {
    std::vector<std::string> all;
    for (const std::string& n : accepted_variant_names())
      for (const std::string& s : spellings(n)) all.push_back(s);
    a.annotate("variant", {{"enum", all}});
  }
  std::optional<AttnVariant> v = variant_from_name(name);
  if (!v) {
    a.diag().add(a.child_path("variant"), one_of_rule(name, accepted_variant_names()), name);
    return spec;  // unknown variant: its parameters cannot be checked
  }
  spec.variant = *v;
  a.branch(to_string(*v), schema_when_one_of("variant", spellings(to_string(*v))));
  if (*v == AttnVariant::Cascade) {
    a.reject_unknown_keys({"variant", "file", "mapping"});
    spec.cascade_file = a.string("file", std::nullopt);
    spec.mapping_file = a.string("mapping", std::string());
    // The files' existence and contents are checked here, not recorded: a schema cannot open files.
    if (!spec.cascade_file.empty() && !a.recording()) {
      const std::string problem = read_cascade_files(spec);
      if (!problem.empty()) a.diag().add(a.child_path("file"), problem);
    }
    return spec;
  }
  // Vanilla attention has no parameters; anything else is a typo or meant for another variant.
  std::vector<std::string> keys = {"variant"};
  for (const auto& [key, max] : variant_params(*v)) keys.push_back(key);
  a.reject_unknown_keys(keys);
  for (const auto& [key, max] : variant_params(*v))
    if (a.has(key)) set_param(spec, key, a.integer(key, std::nullopt, 1, max));
  return spec;
}

PartialLayer read_layer_fields(const JsonView& v) {
  PartialLayer p;
  auto size = [&v](const char* key, std::int64_t max, std::optional<std::int64_t>& out) {
    if (v.has(key)) out = v.integer(key, std::nullopt, 1, max);
  };
  size("d_model", kMaxDModel, p.d_model);
  size("heads", kMaxHeads, p.heads);
  size("head_dim", kMaxHeadDim, p.head_dim);
  size("seq_len", kMaxSeqLen, p.seq_len);
  size("batch", kMaxBatch, p.batch);
  size("kv_heads", kMaxHeads, p.kv_heads);
  if (v.has("ffn")) {
    JsonView f = v.object("ffn");
    f.reject_unknown_keys({"width", "activation"});
    p.ffn_width = f.integer("width", std::nullopt, 1, kMaxFfnWidth);
    std::string act = f.choice("activation", std::nullopt, {"gelu", "relu", "swiglu"});
    p.activation = act == "relu" ? Activation::Relu : act == "swiglu" ? Activation::SwiGlu : Activation::Gelu;
  }
  if (v.has("norm"))
    p.norm =
        v.choice("norm", std::nullopt, {"layernorm", "rmsnorm"}) == "rmsnorm" ? NormKind::RmsNorm : NormKind::LayerNorm;
  if (v.has("norm_position"))
    p.norm_position =
        v.choice("norm_position", std::nullopt, {"pre", "post"}) == "post" ? NormPosition::Post : NormPosition::Pre;
  if (v.has("causal")) p.causal = v.boolean("causal", std::nullopt);
  if (v.has("attention")) p.attention = read_attention(v);
  return p;
}

// A layer entry over the defaults. A required field given in neither is reported at the entry's
// path, since that is where the user would add it (or in "defaults", which the rule mentions).
LayerSpec merge_layer(const PartialLayer& dflt, const PartialLayer& entry, const std::string& path, Diagnostics& diag) {
  auto pick = [](const auto& e, const auto& d) { return e ? e : d; };
  auto required = [&](const char* key, std::optional<std::int64_t> e, std::optional<std::int64_t> d) {
    auto v = pick(e, d);
    if (!v) diag.add(path + "/" + key, "is required (in the layer or in /defaults) but not given");
    return v.value_or(1);
  };
  LayerSpec s;
  s.d_model = required("d_model", entry.d_model, dflt.d_model);
  s.heads = required("heads", entry.heads, dflt.heads);
  s.head_dim = required("head_dim", entry.head_dim, dflt.head_dim);
  s.seq_len = required("seq_len", entry.seq_len, dflt.seq_len);
  s.batch = pick(entry.batch, dflt.batch).value_or(1);
  s.kv_heads = pick(entry.kv_heads, dflt.kv_heads).value_or(s.heads);
  if (s.kv_heads > s.heads || s.heads % s.kv_heads != 0)
    diag.add(path + "/kv_heads",
             "must divide heads (" + std::to_string(s.heads) + "): each K/V head serves heads / kv_heads query heads",
             s.kv_heads);
  // "ffn" is one object: an entry's "ffn" replaces the defaults' whole, never field by field.
  const PartialLayer& ffn_from = entry.ffn_width ? entry : dflt;
  if (!ffn_from.ffn_width) diag.add(path + "/ffn", "is required (in the layer or in /defaults) but not given");
  s.ffn_width = ffn_from.ffn_width.value_or(1);
  s.activation = ffn_from.activation.value_or(Activation::Gelu);
  s.norm = pick(entry.norm, dflt.norm).value_or(NormKind::LayerNorm);
  s.norm_position = pick(entry.norm_position, dflt.norm_position).value_or(NormPosition::Pre);
  s.causal = pick(entry.causal, dflt.causal).value_or(false);
  auto attention = pick(entry.attention, dflt.attention);
  if (!attention) diag.add(path + "/attention", "is required (in the layer or in /defaults) but not given");
  s.attention = attention.value_or(AttentionSpec{});

  auto product = [&](const char* what, std::int64_t a, std::int64_t b, std::int64_t max) {
    if (a * b > max)
      diag.add(path, std::string(what) + " must be at most " + std::to_string(max) + ", got " + std::to_string(a) +
                         " * " + std::to_string(b) + " = " + std::to_string(a * b));
  };
  product("batch * seq_len (tokens)", s.batch, s.seq_len, kMaxTokens);
  product("batch * heads (attention instances)", s.batch, s.heads, kMaxLayerHeads);
  return s;
}

// Writes key = value into "defaults" (creating it) and into every layer entry that sets key, so the
// override wins over whatever the document says. `keep` (may be null) says an existing value stays.
void override_layer_field(Json& doc, const char* key, const Json& value, bool (*keep)(const Json&, const Json&)) {
  auto write = [&](Json& obj) {
    if (keep && obj.contains(key) && keep(obj[key], value)) return;
    obj[key] = value;
  };
  if (!doc.contains("defaults")) doc["defaults"] = Json::object();
  // A malformed "defaults" or entry is left alone: validation reports it as written.
  if (doc["defaults"].is_object()) write(doc["defaults"]);
  if (doc.contains("layers") && doc["layers"].is_array())
    for (Json& entry : doc["layers"])
      if (entry.is_object() && entry.contains(key)) write(entry);
}

// An "attention" object that already names the overriding variant keeps its parameters.
bool same_variant(const Json& existing, const Json& value) {
  return existing.is_object() && existing.contains("variant") && existing["variant"] == value["variant"];
}

// Validates the overrides and writes the valid ones into doc; returns the problems, one per bad
// flag.
std::vector<std::string> apply_overrides(Json& doc, const ModelOverrides& ov) {
  std::vector<std::string> problems;
  auto size = [&](const char* flag, const char* key, std::int64_t value, std::int64_t max) {
    if (value == 0) return;  // 0: keep
    if (value < 1 || value > max) {
      problems.push_back(std::string(flag) + ": must be an integer in [1, " + std::to_string(max) + "], got " +
                         std::to_string(value));
      return;
    }
    override_layer_field(doc, key, value, nullptr);
  };
  size("--seq-len", "seq_len", ov.seq_len, kMaxSeqLen);
  size("--batch", "batch", ov.batch, kMaxBatch);
  if (!ov.variant.empty()) {
    std::string problem;
    const std::optional<AttentionSpec> spec = parse_variant_spec(ov.variant, &problem);
    if (!spec) {
      problems.push_back("--variant: " + problem);
    } else {
      Json a = {{"variant", to_string(spec->variant)}};
      if (!spec->cascade_file.empty()) a["file"] = spec->cascade_file;
      if (spec->rank) a["rank"] = spec->rank;
      if (spec->samples) a["samples"] = spec->samples;
      if (spec->spill) a["spill"] = spec->spill;
      // Without parameters, a layer already of this variant keeps its own.
      override_layer_field(doc, "attention", a, a.size() == 1 ? same_variant : nullptr);
    }
  }
  auto top = [&](const char* flag, const char* key, std::int64_t value, std::int64_t min, std::int64_t max) {
    if (value == 0) return;  // 0: keep
    if (value < min || value > max)
      problems.push_back(std::string(flag) + ": must be an integer in [" + std::to_string(min) + ", " +
                         std::to_string(max) + "], got " + std::to_string(value));
    else
      doc[key] = value;
  };
  top("--generate", "generate", ov.generate, 1, kMaxSeqLen);
  top("--prefill", "prefill", ov.prefill, 1, kMaxSeqLen);
  if (!ov.dtype.empty()) {
    if (!dtype_bytes(ov.dtype))
      problems.push_back("--dtype: " + one_of_rule(ov.dtype, dtype_names()) + ", got \"" + ov.dtype + "\"");
    else
      doc["dtype"] = ov.dtype;
  }
  return problems;
}

}  // namespace

const std::vector<std::string>& attn_variant_names() {
  static const std::vector<std::string> names = {"unfused", "row_fused", "flash", "primal", "primal_causal",
                                                 "lowrank_linear", "linformer", "performer",
                                                 "nystromformer", "fused"};
  return names;
}

// What a variant's parameters mean, with their defaults (default_rank and the primal samples rule).
const char* param_meaning(AttnVariant v, const std::string& key) {
  if (key == "samples") return "the samples p (default min(N, 10 s))";
  if (key == "spill") return "1: always spill the score matrix to DRAM, even when it fits on chip (default: spill only when it does not)";
  switch (v) {
    case AttnVariant::Linformer:
      return "the projected length k (default 256, clamped to N)";
    case AttnVariant::Performer:
      return "the random features m (default round(d ln d), d = head_dim)";
    case AttnVariant::Nystromformer:
      return "the landmarks l (default 64, clamped to N)";
    default:
      return "the rank s (default 20)";
  }
}

std::string variant_syntax_help() {
  std::string text = "NAME or NAME:PARAM=INT,PARAM=INT; ";
  std::string bare;
  for (std::size_t i = 0; i < attn_variant_names().size(); ++i) {
    const AttnVariant v = AttnVariant(i);
    const auto params = variant_params(v);
    if (params.empty()) {
      bare += (bare.empty() ? "" : ", ") + attn_variant_names()[i];
      continue;
    }
    text += attn_variant_names()[i] + " takes ";
    for (std::size_t k = 0; k < params.size(); ++k)
      text += (k ? " and " : "") + params[k].first + " = " + param_meaning(v, params[k].first);
    text += "; ";
  }
  return text + bare + " take none (e.g. primal:rank=96,samples=200); or cascade:FILE, a variant written as a cascade (models/cascades/)";
}

std::int64_t default_rank(AttnVariant v, std::int64_t head_dim) {
  if (v == AttnVariant::Performer) {
    // m = round(d ln d) random features. FAVOR+'s analysis (Choromanski et al., ICLR 2021, section 4)
    // asks for m = Theta(d log d), and performer-pytorch's default is nb_features = int(d * log(d))
    // with the natural log. That code truncates (d = 32: int(110.9) = 110); we round to the nearest
    // integer (111), the integer closest to the formula, which the paper states without a rounding
    // convention: the two differ by at most one feature. At least 1 (d = 1 gives 1 ln 1 = 0).
    const double d = double(head_dim);
    return std::max<std::int64_t>(1, std::llround(d * std::log(d)));
  }
  if (v == AttnVariant::Nystromformer) return kDefaultNystromLandmarks;
  return v == AttnVariant::Linformer ? kDefaultLinformerK : kDefaultRank;
}

// A cascade's softmaxes mask causally when the layer is causal (cascade.h).
bool supports_causal(AttnVariant v) {
  return is_vanilla(v) || v == AttnVariant::PrimalCausal || v == AttnVariant::Cascade;
}

std::string decode_alternative(AttnVariant v) {
  switch (v) {
    case AttnVariant::Primal:
      return "primal_causal (prefix means of q and k, learned projections)";
    case AttnVariant::Linformer:
    case AttnVariant::Performer:
    case AttnVariant::Nystromformer:
      return "lowrank_linear (causal as the recurrence M_i = M_{i-1} + (W_K^T k_i) v_i^T) or flash";
    case AttnVariant::Cascade:
      return "flash, primal_causal or lowrank_linear";
    default:
      return "";
  }
}

bool is_vanilla(AttnVariant v) {
  return v == AttnVariant::Unfused || v == AttnVariant::RowFused || v == AttnVariant::Flash || v == AttnVariant::Fused;
}

std::optional<AttentionSpec> parse_variant_spec(const std::string& text, std::string* problem) {
  const std::size_t colon = text.find(':');
  const std::string name = text.substr(0, colon);
  const std::optional<AttnVariant> v = variant_from_name(name);
  if (!v) {
    *problem = one_of_rule(name, accepted_variant_names()) + ", got \"" + name + "\"";
    return std::nullopt;
  }
  AttentionSpec spec;
  spec.variant = *v;
  spec.params = Json{{"variant", to_string(*v)}};
  if (*v == AttnVariant::Cascade) {
    // "cascade:FILE": the rest is a path (it may hold ':' and ',').
    if (colon == std::string::npos || colon + 1 == text.size()) {
      *problem = "cascade needs a file: \"cascade:models/cascades/NAME.json\"";
      return std::nullopt;
    }
    spec.cascade_file = text.substr(colon + 1);
    spec.params["file"] = spec.cascade_file;
    const std::string p = read_cascade_files(spec);
    if (!p.empty()) {
      *problem = p;
      return std::nullopt;
    }
    return spec;
  }
  if (colon == std::string::npos) return spec;
  const auto allowed = variant_params(*v);
  std::stringstream ss(text.substr(colon + 1));
  std::string item;
  while (std::getline(ss, item, ',')) {
    const std::size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    auto it = std::find_if(allowed.begin(), allowed.end(), [&](const auto& p) { return p.first == key; });
    if (it == allowed.end()) {
      std::string list;
      for (const auto& p : allowed) list += (list.empty() ? "" : ", ") + p.first;
      *problem = std::string(to_string(*v)) + " has " + (list.empty() ? "no parameters" : "parameters " + list) +
                 ", got \"" + key + "\"";
      return std::nullopt;
    }
    char* end = nullptr;
    const std::string val = eq == std::string::npos ? "" : item.substr(eq + 1);
    const long long x = std::strtoll(val.c_str(), &end, 10);
    if (val.empty() || *end || x < 1 || x > it->second) {
      *problem = key + " must be an integer in [1, " + std::to_string(it->second) + "], got \"" + val + "\"";
      return std::nullopt;
    }
    set_param(spec, key, x);
    spec.params[key] = x;
  }
  return spec;
}

const char* to_string(AttnVariant v) {
  if (v == AttnVariant::Cascade) return "cascade";
  const auto& names = attn_variant_names();
  return size_t(v) < names.size() ? names[size_t(v)].c_str() : "?";
}

ModelConfig parse_model_config(const Json& doc, const std::string& source, const ModelOverrides& ov,
                               SchemaRecorder* recorder) {
  Diagnostics diag(source);
  diag.record_into(recorder);
  if (!doc.is_object()) {
    diag.add("", "a model must be a JSON object", doc);
    diag.throw_if_any();
  }
  ModelConfig m;
  m.source = source;
  m.resolved = doc;
  std::vector<std::string> problems = apply_overrides(m.resolved, ov);
  const Json& d = m.resolved;

  JsonView root(&d, "", &diag);
  root.reject_unknown_keys({"$schema", "description", "dtype", "defaults", "layers", "generate", "prefill"});
  m.generate = root.integer("generate", 0, 0, kMaxSeqLen);
  const std::int64_t prefill = root.has("prefill") ? root.integer("prefill", std::nullopt, 1, kMaxSeqLen) : 0;
  root.string("$schema", std::string());  // the schema an editor checks the file against (attnsim schema model)
  m.description = root.string("description", std::string());
  m.dtype = root.choice("dtype", std::string("fp16"), {"fp32", "fp16", "bf16", "int8"});
  m.elem_bytes = dtype_bytes(m.dtype);

  JsonView defaults = root.object("defaults", /*required=*/false);
  defaults.reject_unknown_keys({"d_model", "heads", "head_dim", "seq_len", "batch", "ffn", "norm", "norm_position",
                                "causal", "attention", "repeat", "kv_heads"});
  defaults.annotate("repeat", {{"not", Json::object()}});
  if (defaults.has("repeat"))
    diag.add(defaults.child_path("repeat"), "repeat belongs to a layer entry, not to the defaults");
  PartialLayer dflt = read_layer_fields(defaults);

  root.annotate("layers", {{"type", "array"}, {"minItems", 1}}, /*required=*/true);
  auto layers_it = d.find("layers");
  if (layers_it == d.end()) {
    diag.add("/layers", "is required but not given");
  } else if (!layers_it->is_array() || layers_it->empty()) {
    diag.add("/layers", "must be a non-empty array of layer objects", *layers_it);
  } else {
    std::int64_t total = 0, attention_heads = 0;
    LayerSpec first;
    bool first_ok = false;
    for (size_t i = 0; i < layers_it->size(); ++i) {
      const Json& entry = (*layers_it)[i];
      std::string path = "/layers/" + std::to_string(i);
      if (!entry.is_object()) {
        diag.add(path, "must be an object", entry);
        continue;
      }
      size_t problems_before = diag.problems().size();
      JsonView e(&entry, path, &diag);
      e.reject_unknown_keys({"d_model", "heads", "head_dim", "seq_len", "batch", "ffn", "norm", "norm_position",
                             "causal", "attention", "repeat", "kv_heads"});
      LayerSpec spec = merge_layer(dflt, read_layer_fields(e), path, diag);
      std::int64_t repeat = e.integer("repeat", 1, 1, kMaxRepeat);
      total += repeat;
      bool entry_ok = diag.problems().size() == problems_before;
      if (i == 0) {
        first = spec;
        first_ok = entry_ok;
      } else if (first_ok && entry_ok) {  // a broken entry's fallbacks would only add noise
        // A layer reads the previous layer's output tensor itself: the residual stream keeps its shape
        // (tokens x d_model) through the model. Heads, FFN and attention may differ per layer.
        auto same = [&](const char* key, std::int64_t got, std::int64_t want) {
          if (got != want)
            diag.add(path + "/" + key,
                     "must equal the first layer's " + std::string(key) + " (" + std::to_string(want) +
                         "), since each layer reads the previous layer's output",
                     got);
        };
        same("d_model", spec.d_model, first.d_model);
        same("seq_len", spec.seq_len, first.seq_len);
        same("batch", spec.batch, first.batch);
      }
      if (entry_ok && spec.attention.variant == AttnVariant::Primal && spec.heads * spec.head_dim != spec.d_model)
        // Primal samples each head's slice of the layer input: heads must tile d_model exactly.
        diag.add(path + "/attention/variant",
                 "primal needs heads * head_dim = d_model (it samples each head's slice of the layer input), got " +
                     std::to_string(spec.heads) + " * " + std::to_string(spec.head_dim) + " != " +
                     std::to_string(spec.d_model),
                 "primal");
      // Generation: every layer decodes token by token (the first refusal per layer entry).
      const std::string alternative = decode_alternative(spec.attention.variant);
      if (entry_ok && m.generate > 0 && !alternative.empty())
        diag.add(path + "/attention/variant",
                 std::string(to_string(spec.attention.variant)) +
                     " cannot generate token by token (it has no causal recurrence); use " + alternative,
                 to_string(spec.attention.variant));
      else if (entry_ok && m.generate > 0 && !spec.causal)
        diag.add(path + "/causal", "must be true to generate (/generate is " + std::to_string(m.generate) +
                                       "): decoding attends to past tokens only", spec.causal);
      // lowrank_linear's causal form is the recurrence the decode steps run (model_config.h).
      else if (entry_ok && spec.causal && !supports_causal(spec.attention.variant) &&
               !(m.generate > 0 && spec.attention.variant == AttnVariant::LowRankLinear))
        diag.add(path + "/attention/variant",
                 std::string(to_string(spec.attention.variant)) +
                     " has no causal form; a causal layer takes unfused, row_fused, flash, fused or primal_causal",
                 to_string(spec.attention.variant));
      attention_heads += repeat * spec.batch * spec.heads;
      // Expanding stops at the limit, so a runaway file costs no memory before it is refused.
      if (total <= kMaxLayers) m.layers.insert(m.layers.end(), size_t(repeat), spec);
    }
    if (total > kMaxLayers)
      diag.add("/layers", "must describe at most " + std::to_string(kMaxLayers) + " layers after repeats, got " +
                              std::to_string(total));
    else if (attention_heads > kMaxModelHeads)
      diag.add("/layers", "must have at most " + std::to_string(kMaxModelHeads) +
                              " attention heads in all (layers * batch * heads; the graph holds each), got " +
                              std::to_string(attention_heads));
  }

  if (!m.layers.empty()) {
    m.prefill = prefill ? prefill : m.layers.front().seq_len;
    if (m.generate > 0 && m.prefill + m.generate > kMaxSeqLen)
      diag.add("/generate", "prefill + generate must be at most " + std::to_string(kMaxSeqLen) + " tokens, got " +
                                std::to_string(m.prefill) + " + " + std::to_string(m.generate),
               m.generate);
  }
  problems.insert(problems.end(), diag.problems().begin(), diag.problems().end());
  if (!problems.empty()) throw UserError(problems);
  return m;
}

Json read_model_document(const std::string& file_or_preset, std::string* source) {
  std::error_code ec;
  // A directory that happens to share a preset's name is not a model file.
  if (std::filesystem::exists(file_or_preset, ec) && !std::filesystem::is_directory(file_or_preset, ec)) {
    *source = file_or_preset;
    return read_json_file(file_or_preset);
  }
  if (const char* text = find_model_preset(file_or_preset)) {
    *source = "preset:" + file_or_preset;
    return parse_json_text(text, *source);
  }
  if (std::filesystem::is_directory(file_or_preset, ec))
    throw UserError(file_or_preset + ": is a directory, expected a file (and no model preset has that name)");
  throw UserError(file_or_preset +
                  ": no such file, and no model preset of that name (model presets: " + model_preset_names() + ")");
}

ModelConfig load_model_config(const std::string& file_or_preset, const ModelOverrides& ov) {
  std::string source;
  const Json doc = read_model_document(file_or_preset, &source);
  return parse_model_config(doc, source, ov);
}

std::string model_preset_names() {
  std::string s;
  for (const auto& p : embedded_model_presets()) s += (s.empty() ? "" : ", ") + std::string(p.name);
  return s;
}

}  // namespace attnsim
