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

 private:
  std::string file_;
  std::vector<std::string> problems_;
};

// Parses text as JSON; a syntax error becomes a UserError naming the file, line and column.
Json parse_json_text(const std::string& text, const std::string& file);
// Reads and parses a file; a missing file is a UserError.
Json read_json_file(const std::string& path);

// The closest candidate by edit distance, or "" when nothing is close.
std::string did_you_mean(const std::string& key, const std::vector<std::string>& candidates);

// A view of one JSON object at a path. Getters take the key, an optional default and the rule.
class JsonView {
 public:
  JsonView(const Json* node, std::string path, Diagnostics* diag) : node_(node), path_(std::move(path)), diag_(diag) {}

  bool is_object() const { return node_ && node_->is_object(); }
  bool has(const std::string& key) const { return is_object() && node_->contains(key); }
  const std::string& path() const { return path_; }
  std::string child_path(const std::string& key) const { return path_ + "/" + key; }
  Diagnostics& diag() const { return *diag_; }
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

 private:
  const Json* find(const std::string& key, bool required) const;
  const Json* node_;
  std::string path_;
  Diagnostics* diag_;
};

}  // namespace attnsim
