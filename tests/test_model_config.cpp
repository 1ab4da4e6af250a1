// Model config: the presets have the shapes their papers state, and every validation rule gives
// FILE: /json/path: rule (or the override's flag: rule), with every problem of a file at once.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "common/errors.h"
#include "config/model_config.h"
#include "config/presets.h"

using namespace attnsim;

namespace {

// The variant names joined as the messages list them: the built-in ones, then "cascade" (a file).
std::string variant_list() {
  std::string s;
  for (const std::string& v : attn_variant_names()) s += (s.empty() ? "" : "|") + v;
  return s + "|cascade";
}

// A small valid model: the defaults give every field, two layer entries.
const char* kValid = R"({
  "description": "test",
  "dtype": "fp16",
  "defaults": {"d_model": 64, "heads": 4, "head_dim": 16, "seq_len": 128,
               "ffn": {"width": 256, "activation": "gelu"}, "attention": {"variant": "flash"}},
  "layers": [{"repeat": 2}, {"heads": 2, "head_dim": 8}]
})";

Json valid() { return parse_json_text(kValid, "m.json"); }

std::vector<std::string> problems_of(const Json& doc, const ModelOverrides& ov = {}) {
  try {
    parse_model_config(doc, "m.json", ov);
  } catch (const UserError& e) {
    return e.problems().empty() ? std::vector<std::string>{e.what()} : e.problems();
  }
  return {};
}

// The problems of the valid model with one value set (or added) at a JSON pointer.
std::vector<std::string> problems_with(const std::string& pointer, const Json& value) {
  Json doc = valid();
  doc[Json::json_pointer(pointer)] = value;
  return problems_of(doc);
}

// The problems of the valid model with one key removed.
std::vector<std::string> problems_without(const std::string& pointer) {
  Json doc = valid();
  Json::json_pointer p(pointer);
  doc[p.parent_pointer()].erase(p.back());
  return problems_of(doc);
}

// Exactly one problem, which must start with FILE: PATH: and contain the rule text.
void check_one(const std::vector<std::string>& p, const std::string& path, const std::string& rule) {
  INFO("expected " << path << ": " << rule);
  for (const auto& s : p) INFO("got: " << s);
  REQUIRE(p.size() == 1);
  CHECK_THAT(p[0], Catch::StartsWith("m.json: " + path + ": "));
  CHECK_THAT(p[0], Catch::Contains(rule));
}

}  // namespace

TEST_CASE("a valid model parses: defaults fill the layers, entries override them", "[model]") {
  ModelConfig m = parse_model_config(valid(), "m.json");
  CHECK(m.source == "m.json");
  CHECK(m.description == "test");
  CHECK(m.dtype == "fp16");
  CHECK(m.elem_bytes == 2);
  REQUIRE(m.layers.size() == 3);
  CHECK(m.layers[0].heads == 4);
  CHECK(m.layers[0].head_dim == 16);
  CHECK(m.layers[0].batch == 1);                          // default
  CHECK(m.layers[0].norm == NormKind::LayerNorm);         // default
  CHECK(m.layers[0].norm_position == NormPosition::Pre);  // default
  CHECK_FALSE(m.layers[0].causal);                        // default
  CHECK(m.layers[0].attention.variant == AttnVariant::Flash);
  CHECK(m.layers[2].heads == 2);  // the entry wins over the defaults
  CHECK(m.layers[2].head_dim == 8);
  CHECK(m.layers[2].d_model == 64);  // the rest still comes from the defaults
  CHECK(m.layers[2].ffn_width == 256);
}

TEST_CASE("every model preset loads with the shapes its description cites", "[model]") {
  REQUIRE(embedded_model_presets().size() >= 5);
  for (const auto& p : embedded_model_presets()) {
    INFO(p.name);
    ModelConfig m = load_model_config(p.name);
    CHECK(m.source == std::string("preset:") + p.name);
    CHECK_FALSE(m.description.empty());
    CHECK(m.dtype == "fp16");
    CHECK(m.elem_bytes == 2);
    for (std::size_t i = 0; i < m.layers.size(); ++i) {
      const LayerSpec& l = m.layers[i];
      CHECK(l.batch == 1);
      // The hybrids: DeiT-S's last layer primal with s = 96, LRA text's layer 1 primal with s = 20.
      const bool primal = (std::string(p.name) == "deit-s-primal" && i == 11) ||
                          (std::string(p.name) == "lra-text-hybrid" && i == 1);
      CHECK(l.attention.variant == (primal ? AttnVariant::Primal : AttnVariant::Flash));
      if (primal) CHECK(l.attention.rank == (i == 11 ? 96 : 20));
    }
  }
  auto check = [](const std::string& name, size_t layers, std::int64_t d, std::int64_t h, std::int64_t dh,
                  std::int64_t n, std::int64_t f, Activation act, NormKind norm, NormPosition pos, bool causal) {
    INFO(name);
    ModelConfig m = load_model_config(name);
    REQUIRE(m.layers.size() == layers);
    for (const LayerSpec& l : m.layers) {
      CHECK(l.d_model == d);
      CHECK(l.heads == h);
      CHECK(l.head_dim == dh);
      CHECK(l.seq_len == n);
      CHECK(l.ffn_width == f);
      CHECK(l.activation == act);
      CHECK(l.norm == norm);
      CHECK(l.norm_position == pos);
      CHECK(l.causal == causal);
    }
  };
  using A = Activation;
  using K = NormKind;
  using P = NormPosition;
  check("bert-base", 12, 768, 12, 64, 512, 3072, A::Gelu, K::LayerNorm, P::Post, false);
  check("deit-s", 12, 384, 6, 64, 197, 1536, A::Gelu, K::LayerNorm, P::Pre, false);
  check("lra-text", 2, 64, 2, 32, 4096, 128, A::Gelu, K::LayerNorm, P::Pre, false);
  check("gpt-wikitext103", 6, 512, 8, 64, 512, 2048, A::Gelu, K::LayerNorm, P::Pre, true);
  check("llama2-7b-layer", 1, 4096, 32, 128, 4096, 11008, A::SwiGlu, K::RmsNorm, P::Pre, true);
  check("llama2-7b", 32, 4096, 32, 128, 4096, 11008, A::SwiGlu, K::RmsNorm, P::Pre, true);
  check("llama3-8b", 32, 4096, 32, 128, 8192, 14336, A::SwiGlu, K::RmsNorm, P::Pre, true);
  // Generation and grouped-query attention as the descriptions cite them.
  const ModelConfig l2 = load_model_config("llama2-7b"), l3 = load_model_config("llama3-8b"),
                    gpt = load_model_config("gpt-wikitext103");
  CHECK((l2.generate == 128 && l2.prefill == 4096 && l2.layers[0].kv_heads == 32));
  CHECK((l3.generate == 128 && l3.prefill == 8192 && l3.layers[0].kv_heads == 8));
  CHECK((gpt.generate == 0 && gpt.prefill == 512 && gpt.layers[0].kv_heads == 8));  // defaults: none, seq_len, heads
}

TEST_CASE("an unknown model name lists the presets", "[model][errors]") {
  try {
    load_model_config("bert-bsae");
    FAIL("no error");
  } catch (const UserError& e) {
    std::string what = e.what();
    CHECK_THAT(what, Catch::StartsWith("bert-bsae: no such file, and no model preset of that name"));
    for (const char* name : {"bert-base", "deit-s", "gpt-wikitext103", "llama2-7b-layer", "lra-text"})
      CHECK_THAT(what, Catch::Contains(name));
    CHECK(what ==
          "bert-bsae: no such file, and no model preset of that name (model presets: " + model_preset_names() + ")");
  }
}

TEST_CASE("a model file is read when it exists, and its problems name the file", "[model]") {
  std::string path = "/tmp/attnsim_test_model_" + std::to_string(::getpid()) + ".json";
  {
    Json doc = valid();
    std::ofstream(path) << doc.dump(2);
  }
  ModelConfig m = load_model_config(path);
  CHECK(m.source == path);
  CHECK(m.layers.size() == 3);
  {
    Json doc = valid();
    doc["layers"][1]["heads"] = 0;
    std::ofstream(path) << doc.dump(2);
  }
  try {
    load_model_config(path);
    FAIL("no error");
  } catch (const UserError& e) {
    REQUIRE(e.problems().size() == 1);
    CHECK(e.problems()[0] == path + ": /layers/1/heads: must be an integer in [1, 4096], got 0");
  }
  std::remove(path.c_str());
}

TEST_CASE("a model must be a JSON object", "[model][errors]") {
  check_one(problems_of(Json::array()), "/", "a model must be a JSON object");
}

TEST_CASE("model: unknown keys are rejected with a did-you-mean at every level", "[model][errors]") {
  check_one(problems_with("/layer", Json::array()), "/layer", "unknown key (did you mean \"layers\"?)");
  check_one(problems_with("/defaults/head", 4), "/defaults/head", "unknown key (did you mean \"heads\"?)");
  check_one(problems_with("/layers/1/seqlen", 4), "/layers/1/seqlen", "unknown key (did you mean \"seq_len\"?)");
  check_one(problems_with("/defaults/ffn/widht", 4), "/defaults/ffn/widht", "unknown key (did you mean \"width\"?)");
}

TEST_CASE("model: sizes must be positive and never wrap", "[model][errors]") {
  for (const char* key : {"d_model", "heads", "head_dim", "seq_len", "batch"}) {
    INFO(key);
    check_one(problems_with(std::string("/layers/1/") + key, 0), std::string("/layers/1/") + key,
              "must be an integer in [1, ");
    auto p = problems_with(std::string("/layers/1/") + key, -1);
    check_one(p, std::string("/layers/1/") + key, "got -1");
  }
  check_one(problems_with("/layers/0/repeat", 0), "/layers/0/repeat", "must be an integer in [1, 4096], got 0");
  check_one(problems_with("/defaults/ffn/width", 0), "/defaults/ffn/width",
            "must be an integer in [1, 1048576], got 0");
  // 2^64 - 1 must be refused as it is, not wrapped to -1 or truncated to a small size.
  check_one(problems_with("/layers/1/heads", std::uint64_t(-1)), "/layers/1/heads", "must be an integer in [1, 4096]");
}

TEST_CASE("model: sizes have upper bounds", "[model][errors]") {
  check_one(problems_with("/defaults/seq_len", (1 << 20) + 1), "/defaults/seq_len",
            "must be an integer in [1, 1048576], got 1048577");
  CHECK(problems_with("/defaults/seq_len", 1 << 20).empty());
  check_one(problems_with("/defaults/d_model", (1 << 16) + 1), "/defaults/d_model",
            "must be an integer in [1, 65536], got 65537");
  check_one(problems_with("/defaults/heads", 4097), "/defaults/heads", "must be an integer in [1, 4096]");
  check_one(problems_with("/defaults/head_dim", 4097), "/defaults/head_dim", "must be an integer in [1, 4096]");
  check_one(problems_with("/defaults/batch", 65537), "/defaults/batch", "must be an integer in [1, 65536]");
}

TEST_CASE("model: a size must be an integer", "[model][errors]") {
  check_one(problems_with("/defaults/heads", "4"), "/defaults/heads", "must be an integer, got \"4\"");
  check_one(problems_with("/defaults/heads", 4.5), "/defaults/heads", "must be an integer, got 4.5");
  CHECK(problems_with("/defaults/heads", 4.0).empty());  // 4.0 is 4
}

TEST_CASE("model: a bad value in the defaults is reported once, at /defaults", "[model][errors]") {
  // Three layers inherit heads; the problem is where it is written.
  check_one(problems_with("/defaults/heads", 0), "/defaults/heads", "must be an integer in [1, 4096], got 0");
}

TEST_CASE("model: dtype is fp32, fp16, bf16 or int8 with its element size", "[model][errors]") {
  check_one(problems_with("/dtype", "fp-16"), "/dtype", "must be one of fp32|fp16|bf16|int8 (did you mean \"fp16\"?)");
  for (auto [name, bytes] :
       std::vector<std::pair<std::string, int>>{{"fp32", 4}, {"fp16", 2}, {"bf16", 2}, {"int8", 1}}) {
    Json doc = valid();
    doc["dtype"] = name;
    CHECK(parse_model_config(doc, "m.json").elem_bytes == bytes);
  }
  Json doc = valid();
  doc.erase("dtype");
  CHECK(parse_model_config(doc, "m.json").dtype == "fp16");  // the default
}

TEST_CASE("model: an unknown attention variant gets a did-you-mean", "[model][errors]") {
  check_one(problems_with("/layers/1/attention", Json{{"variant", "flsh"}}), "/layers/1/attention/variant",
            "must be one of " + variant_list() + " (did you mean \"flash\"?), got \"flsh\"");
  check_one(problems_with("/defaults/attention/variant", "rowfused"), "/defaults/attention/variant",
            "(did you mean \"row_fused\"?)");
  check_one(problems_with("/defaults/attention", Json::object()), "/defaults/attention/variant",
            "is required but not given");
  check_one(problems_with("/defaults/attention/variant", 3), "/defaults/attention/variant", "must be a string");
  for (const std::string& v : attn_variant_names()) {
    Json doc = valid();
    doc["layers"] = Json::array({Json{{"repeat", 2}}});  // heads * head_dim = d_model, as primal needs
    doc["defaults"]["attention"]["variant"] = v;
    CHECK(to_string(parse_model_config(doc, "m.json").layers[0].attention.variant) == v);
  }
}

TEST_CASE("model: the vanilla variants take no parameters", "[model][errors]") {
  check_one(problems_with("/defaults/attention/rank", 20), "/defaults/attention/rank", "unknown key");
  check_one(problems_with("/layers/1/attention", Json{{"variant", "unfused"}, {"varient", "x"}}),
            "/layers/1/attention/varient", "unknown key (did you mean \"variant\"?)");
}

TEST_CASE("model: activation, norm, norm_position and causal take only their values", "[model][errors]") {
  check_one(problems_with("/defaults/ffn/activation", "gelu2"), "/defaults/ffn/activation",
            "must be one of gelu|relu|swiglu (did you mean \"gelu\"?)");
  check_one(problems_with("/layers/1/norm", "batchnorm"), "/layers/1/norm", "must be one of layernorm|rmsnorm");
  check_one(problems_with("/layers/1/norm_position", "middle"), "/layers/1/norm_position", "must be one of pre|post");
  check_one(problems_with("/layers/1/causal", "yes"), "/layers/1/causal", "must be true or false, got \"yes\"");
}

TEST_CASE("model: ffn is one object, replaced whole by a layer entry", "[model][errors]") {
  // The entry's ffn does not inherit the defaults' activation.
  check_one(problems_with("/layers/1/ffn", Json{{"width", 100}}), "/layers/1/ffn/activation",
            "is required but not given");
  check_one(problems_with("/defaults/ffn", 256), "/defaults/ffn", "must be an object, got 256");
  Json doc = valid();
  doc["layers"][1]["ffn"] = Json{{"width", 100}, {"activation", "relu"}};
  ModelConfig m = parse_model_config(doc, "m.json");
  CHECK(m.layers[0].ffn_width == 256);
  CHECK(m.layers[0].activation == Activation::Gelu);
  CHECK(m.layers[2].ffn_width == 100);
  CHECK(m.layers[2].activation == Activation::Relu);
}

TEST_CASE("model: a field given neither in the layer nor in the defaults is named at the layer", "[model][errors]") {
  // Entry 1 gives heads itself; entry 0 has only its repeat.
  check_one(problems_without("/defaults/heads"), "/layers/0/heads",
            "is required (in the layer or in /defaults) but not given");
  // Neither entry gives seq_len: one problem per entry (not per repeated layer).
  auto p = problems_without("/defaults/seq_len");
  REQUIRE(p.size() == 2);
  CHECK(p[0] == "m.json: /layers/0/seq_len: is required (in the layer or in /defaults) but not given");
  CHECK(p[1] == "m.json: /layers/1/seq_len: is required (in the layer or in /defaults) but not given");
}

TEST_CASE("model: a missing ffn or attention is named at the layer", "[model][errors]") {
  auto p = problems_without("/defaults/ffn");
  REQUIRE(p.size() == 2);
  CHECK(p[0] == "m.json: /layers/0/ffn: is required (in the layer or in /defaults) but not given");
  CHECK(p[1] == "m.json: /layers/1/ffn: is required (in the layer or in /defaults) but not given");
  p = problems_without("/defaults/attention");
  REQUIRE(p.size() == 2);
  CHECK(p[0] == "m.json: /layers/0/attention: is required (in the layer or in /defaults) but not given");
}

TEST_CASE("model: layers must be a non-empty array of objects", "[model][errors]") {
  check_one(problems_with("/layers", Json::array()), "/layers", "must be a non-empty array of layer objects, got []");
  check_one(problems_with("/layers", Json::object()), "/layers", "must be a non-empty array");
  check_one(problems_with("/layers/1", 3), "/layers/1", "must be an object, got 3");
  check_one(problems_without("/layers"), "/layers", "is required but not given");
}

TEST_CASE("model: repeat belongs to layer entries, not to the defaults", "[model][errors]") {
  check_one(problems_with("/defaults/repeat", 2), "/defaults/repeat", "repeat belongs to a layer entry");
}

TEST_CASE("model: repeat expands an entry in place", "[model]") {
  Json doc = valid();
  doc["layers"] = Json::parse(R"([{"repeat": 3}, {"heads": 2, "head_dim": 8, "repeat": 2}, {"heads": 1}])");
  ModelConfig m = parse_model_config(doc, "m.json");
  REQUIRE(m.layers.size() == 6);
  std::vector<std::int64_t> heads;
  for (const auto& l : m.layers) heads.push_back(l.heads);
  CHECK(heads == std::vector<std::int64_t>{4, 4, 4, 2, 2, 1});
  CHECK(m.layers[4].head_dim == 8);
  CHECK(m.layers[5].head_dim == 16);
}

TEST_CASE("model: every layer keeps the first layer's d_model, seq_len and batch", "[model][errors]") {
  check_one(problems_with("/layers/1/d_model", 32), "/layers/1/d_model",
            "must equal the first layer's d_model (64), since each layer reads the previous layer's output, got 32");
  check_one(problems_with("/layers/1/seq_len", 64), "/layers/1/seq_len", "must equal the first layer's seq_len (128)");
  check_one(problems_with("/layers/1/batch", 2), "/layers/1/batch", "must equal the first layer's batch (1)");
}

TEST_CASE("model: products of sizes are bounded", "[model][errors]") {
  Json doc = valid();
  doc["defaults"]["seq_len"] = 1 << 20;
  doc["defaults"]["batch"] = 32;
  auto p = problems_of(doc);
  REQUIRE(p.size() == 2);  // one per layer entry
  CHECK(p[0] == "m.json: /layers/0: batch * seq_len (tokens) must be at most 16777216, got 32 * 1048576 = 33554432");
  doc = valid();
  doc["defaults"]["batch"] = 4096;
  doc["defaults"]["seq_len"] = 1;
  doc["defaults"]["heads"] = 32;
  p = problems_of(doc);
  REQUIRE(p.size() == 1);  // entry 1 has 2 heads
  CHECK(p[0] == "m.json: /layers/0: batch * heads (attention instances) must be at most 65536, got 4096 * 32 = 131072");
}

TEST_CASE("model: at most 4096 layers after repeats", "[model][errors]") {
  Json doc = valid();
  doc["layers"] = Json::parse(R"([{"repeat": 4096}, {"repeat": 1}])");
  check_one(problems_of(doc), "/layers", "must describe at most 4096 layers after repeats, got 4097");
}

TEST_CASE("model: every problem of a file is reported at once", "[model][errors]") {
  Json doc = valid();
  doc["dtype"] = "fp8";
  doc["defaults"]["head_dim"] = 0;
  doc["layers"][1]["heads"] = -2;
  doc["layers"][1]["attention"] = Json{{"variant", "falsh"}};
  doc["extra"] = 1;
  auto p = problems_of(doc);
  REQUIRE(p.size() == 5);
  std::string all;
  for (const auto& s : p) all += s + "\n";
  CHECK_THAT(all, Catch::Contains("m.json: /extra: unknown key"));
  CHECK_THAT(all, Catch::Contains("m.json: /dtype: must be one of fp32|fp16|bf16|int8"));
  CHECK_THAT(all, Catch::Contains("m.json: /defaults/head_dim: must be an integer in [1, 4096], got 0"));
  CHECK_THAT(all, Catch::Contains("m.json: /layers/1/heads: must be an integer in [1, 4096], got -2"));
  CHECK_THAT(all, Catch::Contains("m.json: /layers/1/attention/variant: must be one of unfused|row_fused|flash"));
}

TEST_CASE("model overrides: seq_len, batch, variant and dtype apply to every layer", "[model][overrides]") {
  Json doc = valid();
  doc["layers"][1]["seq_len"] = 128;  // an entry's own value is overridden too
  doc["layers"][1]["attention"] = Json{{"variant", "unfused"}};
  ModelOverrides ov;
  ov.seq_len = 1024;
  ov.batch = 4;
  ov.variant = "row_fused";
  ov.dtype = "int8";
  ModelConfig m = parse_model_config(doc, "m.json", ov);
  CHECK(m.dtype == "int8");
  CHECK(m.elem_bytes == 1);
  for (const auto& l : m.layers) {
    CHECK(l.seq_len == 1024);
    CHECK(l.batch == 4);
    CHECK(l.attention.variant == AttnVariant::RowFused);
  }
  // resolved is the document with the overrides written in: it parses to the same model.
  ModelConfig again = parse_model_config(m.resolved, "resolved");
  REQUIRE(again.layers.size() == m.layers.size());
  CHECK(again.layers[2].seq_len == 1024);
  CHECK(again.layers[2].attention.variant == AttnVariant::RowFused);
  CHECK(again.dtype == "int8");
  CHECK(m.resolved["defaults"]["seq_len"] == 1024);
  CHECK(m.resolved["layers"][1]["seq_len"] == 1024);
}

TEST_CASE("model overrides apply before validation", "[model][overrides]") {
  // A model without seq_len is completed by --seq-len; a bad variant in the file is replaced.
  Json doc = valid();
  doc["defaults"].erase("seq_len");
  doc["defaults"]["attention"] = Json{{"variant", "flsh"}};
  ModelOverrides ov;
  ov.seq_len = 256;
  ov.variant = "flash";
  ModelConfig m = parse_model_config(doc, "m.json", ov);
  CHECK(m.layers[0].seq_len == 256);
  CHECK(m.layers[0].attention.variant == AttnVariant::Flash);
  // An override to the variant already written keeps the object as written.
  doc = valid();
  ov = {};
  ov.variant = "flash";
  m = parse_model_config(doc, "m.json", ov);
  CHECK(m.resolved["defaults"]["attention"] == Json{{"variant", "flash"}});
}

TEST_CASE("model overrides: a bad override is named by its flag", "[model][overrides][errors]") {
  ModelOverrides ov;
  ov.seq_len = -5;
  auto p = problems_of(valid(), ov);
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "--seq-len: must be an integer in [1, 1048576], got -5");
  ov = {};
  ov.batch = 1 << 20;
  p = problems_of(valid(), ov);
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "--batch: must be an integer in [1, 65536], got 1048576");
  ov = {};
  ov.variant = "flsh";
  p = problems_of(valid(), ov);
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "--variant: must be one of " + variant_list() + " (did you mean \"flash\"?), got \"flsh\"");
  ov = {};
  ov.dtype = "bf61";
  p = problems_of(valid(), ov);
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "--dtype: must be one of fp32|fp16|bf16|int8 (did you mean \"bf16\"?), got \"bf61\"");
  // A combination made invalid by an override is still named in the file.
  ov = {};
  ov.seq_len = 1 << 20;
  ov.batch = 32;
  p = problems_of(valid(), ov);
  REQUIRE(p.size() == 2);
  CHECK_THAT(p[0], Catch::StartsWith("m.json: /layers/0: batch * seq_len (tokens) must be at most"));
}

TEST_CASE("model overrides work on presets", "[model][overrides]") {
  ModelOverrides ov;
  ov.seq_len = 2048;
  ov.variant = "unfused";
  ModelConfig m = load_model_config("bert-base", ov);
  REQUIRE(m.layers.size() == 12);
  CHECK(m.layers[11].seq_len == 2048);
  CHECK(m.layers[11].attention.variant == AttnVariant::Unfused);
}

TEST_CASE("model: the --help variant syntax names exactly the parameters the parser accepts", "[model][cli]") {
  // The expected table, written from the variants' papers (model_config.h): primal takes a rank and
  // a sample count, the other low-rank forms a rank, the vanilla ones nothing.
  const std::vector<std::pair<std::string, std::vector<std::string>>> expected = {
      {"unfused", {"spill"}},   {"row_fused", {}},          {"flash", {}},
      {"primal", {"rank", "samples"}}, {"primal_causal", {"rank"}}, {"lowrank_linear", {"rank"}},
      {"linformer", {"rank"}},  {"performer", {"rank"}},   {"nystromformer", {"rank"}}, {"fused", {}}};
  const std::string help = variant_syntax_help();
  REQUIRE(expected.size() == attn_variant_names().size());
  for (const auto& [name, params] : expected) {
    INFO(name);
    std::string problem;
    CHECK(parse_variant_spec(name, &problem).has_value());
    for (const std::string& p : params) {
      CHECK(parse_variant_spec(name + ":" + p + (p == "spill" ? "=1" : "=7"), &problem).has_value());  // spill: 0 or 1
      const bool named = help.find(name + " takes " + p) != std::string::npos ||
                         help.find(" and " + p + " = ") != std::string::npos;
      CHECK(named);
    }
    if (params.empty()) {
      CHECK_FALSE(parse_variant_spec(name + ":rank=7", &problem).has_value());
      CHECK(help.find(name) != std::string::npos);
    }
  }
  CHECK(help.find("primal:rank=96,samples=200") != std::string::npos);
  CHECK(help.find("cascade:FILE") != std::string::npos);
}
