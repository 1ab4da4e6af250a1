// The schema recorder on a small validator written here: what each getter records, what has() and
// branch() change, and the checks that keep the schema and its descriptions complete.
#include <catch2/catch.hpp>

#include "common/errors.h"
#include "config/schema_recorder.h"

using namespace attnsim;

namespace {

// A validator of {"size": int in [1, 64] (required), "name": string (optional), "shape": {"kind":
// "box" with "side" or "ball" with "radius"}}; "tag" is read only when present.
void validate(const Json& doc, SchemaRecorder* recorder) {
  Diagnostics diag("t.json");
  diag.record_into(recorder);
  JsonView root(&doc, "", &diag);
  root.reject_unknown_keys({"size", "name", "tag", "shape"});
  root.integer("size", std::nullopt, 1, 64);
  root.string("name", std::string());
  if (root.has("tag")) root.string("tag", std::nullopt);
  JsonView shape = root.object("shape");
  const std::string kind = shape.choice("kind", std::nullopt, {"box", "ball"});
  shape.branch(kind, schema_when_one_of("kind", {kind}));
  shape.reject_unknown_keys({"kind", kind == "box" ? "side" : "radius"});
  shape.number(kind == "box" ? "side" : "radius", std::nullopt, 0.0, 1e3, /*min_exclusive=*/true);
}

const std::vector<SchemaDescription> kTexts = {
    {"/size", "s"}, {"/name", "n"}, {"/tag", "t"}, {"/shape", "sh"}, {"/shape/kind", "k"},
    {"/shape/side", "side in mm"}, {"/shape/radius", "radius in mm"}};

}  // namespace

TEST_CASE("schema recorder: getters give types, ranges, choices; has() and defaults make a key optional",
          "[schema]") {
  SchemaRecorder r;
  for (const char* text : {R"({"size": 4, "tag": "x", "shape": {"kind": "box", "side": 2}})",
                           R"({"size": 4, "shape": {"kind": "ball", "radius": 1}})"}) {
    r.begin_document();
    validate(parse_json_text(text, "t.json"), &r);
  }
  const Json s = r.schema("t", "test", kTexts);
  CHECK(s["$schema"] == "https://json-schema.org/draft/2020-12/schema");
  CHECK(s["properties"]["size"] == Json({{"description", "s"}, {"type", "integer"}, {"minimum", 1}, {"maximum", 64}}));
  CHECK(s["required"] == Json::array({"size", "shape"}));  // name has a default, tag is asked for with has()
  CHECK(s["additionalProperties"] == false);
  const Json& shape = s["properties"]["shape"];
  CHECK(shape["properties"]["kind"]["enum"] == Json::array({"box", "ball"}));
  // Two forms, each with its own key and the keys it allows.
  REQUIRE(shape["allOf"].size() == 2);
  CHECK(shape["allOf"][0]["if"] == schema_when_one_of("kind", {"box"}));
  CHECK(shape["allOf"][0]["then"]["properties"]["side"]["exclusiveMinimum"] == 0.0);
  CHECK(shape["allOf"][0]["then"]["required"] == Json::array({"side"}));
  CHECK(shape["allOf"][0]["then"]["propertyNames"]["enum"] == Json::array({"kind", "side"}));
  CHECK(shape["allOf"][1]["then"]["properties"].contains("radius"));
}

TEST_CASE("schema recorder: a key no example reads, or without a description, is an internal error", "[schema]") {
  SchemaRecorder r;
  r.begin_document();
  validate(parse_json_text(R"({"size": 4, "shape": {"kind": "box", "side": 2}})", "t.json"), &r);
  // "tag" is allowed but no example had it, so its rule was never reached; "ball" was never taken.
  CHECK_THROWS_AS(r.schema("t", "test", kTexts), InternalError);
  r.begin_document();
  validate(parse_json_text(R"({"size": 4, "tag": "x", "shape": {"kind": "box", "side": 2}})", "t.json"), &r);
  std::vector<SchemaDescription> texts = kTexts;
  texts.pop_back();  // /shape/radius: now described, but "ball" is still never read
  CHECK_NOTHROW(r.schema("t", "test", texts));
  CHECK_THROWS_AS(r.schema("t", "test", kTexts), InternalError);  // a description naming no key
  texts.erase(texts.begin());                                       // /size without a description
  CHECK_THROWS_AS(r.schema("t", "test", texts), InternalError);
}

TEST_CASE("schema recorder: array indices share one location", "[schema]") {
  CHECK(schema_location("/layers/3/attention") == "/layers/[]/attention");
  CHECK(schema_location("/axes/0/zip/12/path") == "/axes/[]/zip/[]/path");
  CHECK(schema_location("") == "");
  CHECK(schema_location("/a1/b") == "/a1/b");
}
