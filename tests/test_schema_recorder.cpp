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

namespace {

// {"//...": comments, "ops": {NAME: {"size": int in [1, 8]}}, "depth": {NAME: 1 or 2}}: objects keyed by
// names, checked by hand like the mapping readers do.
void validate_named(const Json& doc, SchemaRecorder* recorder) {
  Diagnostics diag("n.json");
  diag.record_into(recorder);
  JsonView root(&doc, "", &diag);
  root.reject_unknown_keys({"ops", "depth"}, "//");
  const JsonView ops = root.object("ops");
  ops.declare_named_entries({{"type", "object"}}, {{"pattern", "^L"}});
  for (auto it = doc["ops"].begin(); it != doc["ops"].end(); ++it) {
    const JsonView op = ops.object(it.key());
    op.reject_unknown_keys({"size"});
    op.integer("size", std::nullopt, 1, 8);
  }
  root.annotate("depth", {{"type", "object"}});
  JsonView(doc.contains("depth") ? &doc["depth"] : nullptr, "/depth", &diag)
      .declare_named_entries({{"type", "integer"}, {"minimum", 1}, {"maximum", 2}});
  diag.throw_if_any();
}

}  // namespace

TEST_CASE("schema recorder: objects keyed by names, key patterns and a document mounted inside another",
          "[schema]") {
  const std::vector<SchemaDescription> texts = {{"/^//", "comment"}, {"/ops", "o"},      {"/ops/*", "op"},
                                                {"/ops/*/size", "s"}, {"/depth", "d"}, {"/depth/*", "slots"}};
  SchemaRecorder r;
  r.begin_document();
  // Two ops: both names record into the one entry "*" (no "L0" or "L1" property appears).
  validate_named(parse_json_text(R"({"//": "x", "ops": {"L0": {"size": 2}, "L1": {"size": 3}}, "depth": {"A": 1}})",
                                 "n.json"),
                 &r);
  const Json s = r.schema("n", "test", texts);
  CHECK(s["patternProperties"] == Json({{"^//", {{"description", "comment"}}}}));
  CHECK(s["additionalProperties"] == false);
  const Json& ops = s["properties"]["ops"];
  CHECK(ops["propertyNames"] == Json({{"pattern", "^L"}}));
  CHECK(!ops.contains("properties"));
  CHECK(ops["additionalProperties"]["properties"]["size"]["maximum"] == 8);
  CHECK(ops["additionalProperties"]["required"] == Json::array({"size"}));
  CHECK(s["properties"]["depth"]["additionalProperties"] ==
        Json({{"description", "slots"}, {"type", "integer"}, {"minimum", 1}, {"maximum", 2}}));

  // The same format mounted at /wrap/* of an outer document: its locations are below the mount.
  SchemaRecorder outer;
  outer.begin_document();
  const Json doc = parse_json_text(R"({"wrap": {"w0": {}}})", "w.json");
  {
    Diagnostics diag("w.json");
    diag.record_into(&outer);
    JsonView root(&doc, "", &diag);
    root.reject_unknown_keys({"wrap"});
    root.object("wrap").declare_named_entries({{"type", "object"}});
  }
  outer.begin_document("/wrap/*");
  validate_named(parse_json_text(R"({"//": "x", "ops": {"L0": {"size": 2}}, "depth": {"A": 1}})", "n.json"), &outer);
  std::vector<SchemaDescription> wrapped = {{"/wrap", "w"}, {"/wrap/*", "one"}};
  for (const SchemaDescription& t : texts) wrapped.push_back({"/wrap/*" + t.location, t.text});
  const Json w = outer.schema("w", "test", wrapped);
  CHECK(w["properties"]["wrap"]["additionalProperties"]["properties"]["ops"]["additionalProperties"]["properties"]
         ["size"]["minimum"] == 1);
  // A description for a location no reader reached is refused, as for plain keys.
  wrapped.push_back({"/wrap/*/ops/L0", "a name, not a location"});
  CHECK_THROWS_AS(outer.schema("w", "test", wrapped), InternalError);
}
