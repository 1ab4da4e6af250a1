#include "config/json_reader.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/errors.h"

namespace attnsim {

namespace {
std::string shown(const Json& v) {
  std::string s = v.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}
}  // namespace

void Diagnostics::add(const std::string& json_path, const std::string& rule) {
  problems_.push_back(file_ + ": " + (json_path.empty() ? "/" : json_path) + ": " + rule);
}

void Diagnostics::add(const std::string& json_path, const std::string& rule, const Json& got) {
  add(json_path, rule + ", got " + shown(got));
}

void Diagnostics::throw_if_any() const {
  if (!problems_.empty()) throw UserError(problems_);
}

Json parse_json_text(const std::string& text, const std::string& file) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    // Translate the byte offset into line:column for the user.
    size_t offset = std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    size_t line = 1 + std::count(text.begin(), text.begin() + offset, '\n');
    size_t line_start = text.rfind('\n', offset == 0 ? 0 : offset - 1);
    size_t column = offset - (line_start == std::string::npos ? 0 : line_start + 1) + 1;
    std::string what = e.what();
    auto pos = what.find("syntax error");
    throw UserError(file + ":" + std::to_string(line) + ":" + std::to_string(column) +
                    ": malformed JSON: " + (pos == std::string::npos ? what : what.substr(pos)));
  }
}

Json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot open file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_json_text(ss.str(), path);
}

static size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string did_you_mean(const std::string& key, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::numeric_limits<size_t>::max();
  for (const auto& c : candidates) {
    size_t d = edit_distance(key, c);
    if (d < best_d) best_d = d, best = c;
  }
  // Close enough to be a typo: at most a third of the longer name, and at least 1 edit allowed.
  size_t limit = std::max<size_t>(2, std::max(key.size(), best.size()) / 3);
  return best_d <= limit ? best : "";
}

const Json* JsonView::find(const std::string& key, bool required) const {
  if (!is_object()) return nullptr;
  auto it = node_->find(key);
  if (it == node_->end()) {
    if (required) diag_->add(child_path(key), "is required but not given");
    return nullptr;
  }
  return &*it;
}

JsonView JsonView::object(const std::string& key, bool required) const {
  const Json* v = find(key, required);
  if (v && !v->is_object()) {
    diag_->add(child_path(key), "must be an object", *v);
    v = nullptr;
  }
  return JsonView(v, child_path(key), diag_);
}

std::int64_t JsonView::integer(const std::string& key, std::optional<std::int64_t> dflt, std::int64_t min,
                               std::int64_t max) const {
  const Json* v = find(key, !dflt.has_value() && is_object());
  std::int64_t fallback = dflt.value_or(min);
  if (!v) return fallback;
  std::int64_t x;
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<std::uint64_t>() > std::uint64_t(std::numeric_limits<std::int64_t>::max())) {
      diag_->add(child_path(key), "must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]",
                 *v);
      return fallback;
    }
    x = v->get<std::int64_t>();
  } else if (v->is_number_float() &&
             v->get<double>() == static_cast<double>(static_cast<std::int64_t>(v->get<double>()))) {
    x = static_cast<std::int64_t>(v->get<double>());  // 4096.0 is accepted as 4096
  } else {
    diag_->add(child_path(key), "must be an integer", *v);
    return fallback;
  }
  if (x < min || x > max) {
    diag_->add(child_path(key), "must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]", *v);
    return fallback;
  }
  return x;
}

double JsonView::number(const std::string& key, std::optional<double> dflt, double min, double max,
                        bool min_exclusive) const {
  const Json* v = find(key, !dflt.has_value() && is_object());
  double fallback = dflt.value_or(min);
  if (!v) return fallback;
  if (!v->is_number()) {
    diag_->add(child_path(key), "must be a number", *v);
    return fallback;
  }
  double x = v->get<double>();
  bool low = min_exclusive ? !(x > min) : !(x >= min);
  if (low || !(x <= max)) {
    std::ostringstream rule;
    rule << "must be a number in " << (min_exclusive ? "(" : "[") << min << ", " << max << "]";
    diag_->add(child_path(key), rule.str(), *v);
    return fallback;
  }
  return x;
}

std::string JsonView::string(const std::string& key, std::optional<std::string> dflt) const {
  const Json* v = find(key, !dflt.has_value() && is_object());
  if (!v) return dflt.value_or("");
  if (!v->is_string()) {
    diag_->add(child_path(key), "must be a string", *v);
    return dflt.value_or("");
  }
  return v->get<std::string>();
}

std::string JsonView::choice(const std::string& key, std::optional<std::string> dflt,
                             std::initializer_list<const char*> allowed) const {
  const Json* v = find(key, !dflt.has_value() && is_object());
  std::string fallback = dflt.value_or(*allowed.begin());
  if (!v) return fallback;
  std::string list;
  std::vector<std::string> names;
  for (const char* a : allowed) {
    list += (list.empty() ? "" : "|") + std::string(a);
    names.emplace_back(a);
  }
  if (!v->is_string()) {
    diag_->add(child_path(key), "must be one of " + list, *v);
    return fallback;
  }
  std::string s = v->get<std::string>();
  if (std::find(names.begin(), names.end(), s) == names.end()) {
    std::string hint = did_you_mean(s, names);
    diag_->add(child_path(key), "must be one of " + list + (hint.empty() ? "" : " (did you mean \"" + hint + "\"?)"),
               *v);
    return fallback;
  }
  return s;
}

bool JsonView::boolean(const std::string& key, std::optional<bool> dflt) const {
  const Json* v = find(key, !dflt.has_value() && is_object());
  if (!v) return dflt.value_or(false);
  if (!v->is_boolean()) {
    diag_->add(child_path(key), "must be true or false", *v);
    return dflt.value_or(false);
  }
  return v->get<bool>();
}

void JsonView::reject_unknown_keys(std::initializer_list<const char*> allowed) const {
  reject_unknown_keys(std::vector<std::string>(allowed.begin(), allowed.end()));
}

void JsonView::reject_unknown_keys(const std::vector<std::string>& names) const {
  if (!is_object()) return;
  for (auto it = node_->begin(); it != node_->end(); ++it) {
    if (std::find(names.begin(), names.end(), it.key()) != names.end()) continue;
    std::string hint = did_you_mean(it.key(), names);
    std::string known;
    for (auto& n : names) known += (known.empty() ? "" : ", ") + n;
    diag_->add(child_path(it.key()),
               "unknown key" + (hint.empty() ? " (known keys: " + known + ")" : " (did you mean \"" + hint + "\"?)"));
  }
}

}  // namespace attnsim
