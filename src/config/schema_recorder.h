#pragma once
// A JSON Schema (draft 2020-12) recorded from the validators themselves. A validator run with
// Diagnostics::record_into(&recorder) reports, through its JsonView getters, every rule it applies:
// the type, range and choices of each key, whether a missing key is reported, the keys an object may
// have, and the forms an object takes (a DRAM model, an attention variant, a sweep axis). Run over
// example documents that reach every branch, the recorder holds the rules of the whole format;
// schema() writes them out with a description (and unit) per key from a table, and refuses to write
// a schema with a key that no example reached or that has no description, so the two cannot drift.
//
// Rules the validators check across fields (a value bounded by another, a power of two, a file
// that must exist) are not recorded; the schema is therefore looser than the validator, never
// stricter: every document the validator accepts, the schema accepts.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "config/json_reader.h"

namespace attnsim {

// What a key means, by its location: the JSON path with array indices as [] ("/layers/[]/heads"), the
// entries of an object keyed by names as * ("/ops/*/kind"), and a key pattern as itself ("/^//").
struct SchemaDescription {
  std::string location;
  std::string text;
};

class SchemaRecorder {
 public:
  // Starts a new example document: which keys were asked for with has(), and which form each object
  // takes, are per document. mount: the location the document sits at in the format (a cascade
  // mapping inside a mapping file's op: "/ops/*/mapping"); every path it records is taken below it.
  void begin_document(const std::string& mount = "");

  // Called by JsonView (json_reader.h) while recording; object_path is the JSON path of the object.
  // after_probe: a getter's rule, optional when has() asked for the key first (the validator then
  // reads it only when given); otherwise `required` says it all.
  // required: nullopt when the record says nothing about it (a keyword added by annotate()).
  void field(const std::string& object_path, const std::string& key, const Json& rule, std::optional<bool> required,
             bool after_probe);
  void probe(const std::string& object_path, const std::string& key);
  void keys(const std::string& object_path, const std::vector<std::string>& allowed);
  void branch(const std::string& object_path, const std::string& label, const Json& condition);
  // The object's keys are names (ops, tensors): its entries are recorded as the key "*" and written as
  // additionalProperties, with `name_rule` (a JSON Schema, or null) as propertyNames.
  void names(const std::string& object_path, const Json& name_rule);
  // Keys matching `pattern` (a regular expression) are allowed besides the listed ones (comments).
  void key_pattern(const std::string& object_path, const std::string& pattern);

  // The schema of the recorded format. InternalError when a key some object allows was never read,
  // when a key has no description, or when a description names no key.
  Json schema(const std::string& title, const std::string& description,
              const std::vector<SchemaDescription>& descriptions) const;

 private:
  struct Property {
    std::string key;
    Json rule = Json::object();
    std::optional<bool> required;  // every record that said anything said so
  };
  // The keys of an object, or of one of its forms.
  struct Group {
    std::string label;  // "" for the keys every form shares
    Json condition;
    std::vector<Property> properties;
    bool closed = false;  // the validator rejects keys outside `allowed`
    std::vector<std::string> allowed;
    std::vector<std::string> patterns;  // and keys matching these
  };
  struct Node {
    std::vector<Group> groups = {Group{}};
    bool names = false;  // keyed by names: the entries' rule is the property "*"
    Json name_rule;
  };

  Group& group_of(const std::string& object_path);
  // The location of a JSON path below the mount: array indices become [], names in a name-keyed object *.
  std::string location_of(const std::string& json_path) const;
  Json render(const std::string& location, const std::map<std::string, std::string>& texts,
              std::set<std::string>* used) const;
  void render_properties(const std::string& location, const Group& g, const std::map<std::string, std::string>& texts,
                         std::set<std::string>* used, Json* out) const;

  std::map<std::string, Node> nodes_;                       // by location
  std::string mount_;                                       // this document's location in the format
  std::map<std::string, std::string> form_of_;              // this document: object path -> group label
  std::set<std::pair<std::string, std::string>> probed_;    // this document: (object path, key)
};

// Conditions for JsonView::branch: the object's `key` is one of `values`; the object has `key`.
Json schema_when_one_of(const std::string& key, const std::vector<std::string>& values);
Json schema_when_has(const std::string& key);

// The location of a JSON path: array indices become [] (names in a name-keyed object need the
// recorder, which knows which objects those are).
std::string schema_location(const std::string& json_path);

}  // namespace attnsim
