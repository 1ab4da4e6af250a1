#pragma once
// Path-aware, validating access to a JSON document. Every getter records a problem instead of
// throwing, so that one pass reports every problem of a file at once, each as
//   FILE: /json/path: rule, got VALUE
// Unknown keys are rejected with a did-you-mean; integers are range-checked as signed 64-bit values
// before any narrowing, so a negative size never wraps into a huge unsigned one.
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace attnsim {

using Json = nlohmann::ordered_json;

class SchemaRecorder;  // config/schema_recorder.h

// Collects the problems found in one file.
class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}
  void add(const std::string& json_path, const std::string& rule);
  void add(const std::string& json_path, const std::string& rule, const Json& got);
  bool ok() const { return problems_.empty(); }
  const std::vector<std::string>& problems() const { return problems_; }
  const std::string& file() const { return file_; }
  // Throws UserError with every recorded problem if there is any.
  void throw_if_any() const;
  // While set, every JsonView over these diagnostics also records the rule it applies (type, range,
  // choices, required or not, known keys) into the recorder: `attnsim schema` runs the validators
  // on example documents this way, so that the JSON Schema is the validators' own rules.
  void record_into(SchemaRecorder* recorder) { recorder_ = recorder; }
  SchemaRecorder* recorder() const { return recorder_; }

 private:
  std::string file_;
  std::vector<std::string> problems_;
  SchemaRecorder* recorder_ = nullptr;
};

// The deepest nesting of arrays and objects a document may have. Configs, models and sweep specs
// need at most 6 levels; the bound keeps every recursive walk of a document (copy, dump, compare)
// far from the stack's end (a 200 KB file of nested brackets is 100,000 levels deep).
inline constexpr int kMaxJsonDepth = 64;

// Parses text as JSON; a syntax error becomes a UserError naming the file, line and column, and so
// do nesting deeper than kMaxJsonDepth and a number literal outside a double's range (1e400).
Json parse_json_text(const std::string& text, const std::string& file);
// Reads and parses a file; a missing file or a directory is a UserError.
Json read_json_file(const std::string& path);
// The largest file read whole (configs, models, specs: a few KB; sweep results: a few MB).
inline constexpr std::size_t kMaxJsonFileBytes = std::size_t(256) << 20;
// Refuses a directory, a device or a socket given where a file of `what` is expected (UserError).
void check_input_file(const std::string& path, const std::string& what);
// Reads a whole file as text; a missing file or a directory is a UserError ("FILE: what" when
// `what` names the kind of file, e.g. "trace file").
std::string read_text_file(const std::string& path, const std::string& what = "file");
// A command-line value (--set /a/b=VALUE): JSON when it parses as JSON, else the text as a string.
// `where` names it in errors; an overflowing number literal or too deep nesting is a UserError.
Json parse_json_value(const std::string& text, const std::string& where);

// The closest candidate by edit distance, or "" when nothing is close.
std::string did_you_mean(const std::string& key, const std::vector<std::string>& candidates);

// A view of one JSON object at a path. Getters take the key, an optional default and the rule.
class JsonView {
 public:
  JsonView(const Json* node, std::string path, Diagnostics* diag) : node_(node), path_(std::move(path)), diag_(diag) {}

  bool is_object() const { return node_ && node_->is_object(); }
  // Whether the key is given. Asking first makes a key optional in the recorded schema: what the
  // validator reads only when present is not required, whatever the getter's default says.
  bool has(const std::string& key) const;
  const std::string& path() const { return path_; }
  std::string child_path(const std::string& key) const { return path_ + "/" + key; }
  Diagnostics& diag() const { return *diag_; }
  // Whether the rules are being recorded for a schema (Diagnostics::record_into).
  bool recording() const { return diag_ && diag_->recorder(); }
  const Json* node() const { return node_; }

  // A child object; records a problem if present but not an object, or missing and required.
  JsonView object(const std::string& key, bool required = true) const;

  std::int64_t integer(const std::string& key, std::optional<std::int64_t> dflt, std::int64_t min,
                       std::int64_t max) const;
  double number(const std::string& key, std::optional<double> dflt, double min, double max,
                bool min_exclusive = false) const;
  std::string string(const std::string& key, std::optional<std::string> dflt) const;
  std::string choice(const std::string& key, std::optional<std::string> dflt,
                     std::initializer_list<const char*> allowed) const;
  bool boolean(const std::string& key, std::optional<bool> dflt) const;

  // Records every key of this object that is not in allowed, with a did-you-mean.
  void reject_unknown_keys(std::initializer_list<const char*> allowed) const;
  void reject_unknown_keys(const std::vector<std::string>& allowed) const;
  // The same, also allowing the keys that start with allowed_prefix (comments: "//").
  void reject_unknown_keys(const std::vector<std::string>& allowed, const std::string& allowed_prefix) const;

  // For the schema only (no effect on validation), beside the code that applies the rule:
  // the keys this object may have when the code checks them by hand (declare_keys); keywords of a
  // rule the code checks by hand on a key, e.g. an array's length (annotate; `required` says whether
  // the code reports the key missing); and that the code takes one of several forms of this object,
  // `label`, whose keys and rules follow, applying when the document matches `condition` (a JSON
  // Schema), e.g. {"properties": {"model": {"const": "cycle"}}}.
  void declare_keys(const std::vector<std::string>& allowed) const;
  void annotate(const std::string& key, const Json& keywords, std::optional<bool> required = std::nullopt) const;
  void branch(const std::string& label, const Json& condition) const;
  // This object's keys are names (ops, tensors, steps) that the code checks by hand, each entry's
  // value following `entry_rule` (keywords of a JSON Schema); `name_rule` constrains the names (null:
  // any name). Getters on this view record into the same entry rule.
  void declare_named_entries(const Json& entry_rule, const Json& name_rule = Json()) const;

 private:
  const Json* find(const std::string& key, bool required) const;
  // Records the rule of a getter (only while recording); `required` is the getter's, before has().
  void record(const std::string& key, Json rule, bool required) const;
  void reject_unknown_keys_of(const std::vector<std::string>& names) const;  // the check, nothing recorded
  const Json* node_;
  std::string path_;
  Diagnostics* diag_;
};

}  // namespace attnsim
