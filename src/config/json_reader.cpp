#include "config/json_reader.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/checked_math.h"
#include "common/errors.h"
#include "config/schema_recorder.h"

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

namespace {

std::string line_col(const std::string& text, size_t offset) {
  offset = std::min(offset, text.size());
  const size_t line = 1 + size_t(std::count(text.begin(), text.begin() + std::ptrdiff_t(offset), '\n'));
  const size_t line_start = offset == 0 ? std::string::npos : text.rfind('\n', offset - 1);
  const size_t column = offset - (line_start == std::string::npos ? 0 : line_start + 1) + 1;
  return std::to_string(line) + ":" + std::to_string(column);
}

// What nlohmann's parser would otherwise fail on without a position (a number literal beyond a
// double: out_of_range.406) or handle by recursion (deep nesting: every copy and dump recurses).
// Returns "" or "LINE:COL: problem". Strings are skipped; malformed text is left to the parser.
std::string scan_limits(const std::string& text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        return line_col(text, i) + ": nesting deeper than " + std::to_string(kMaxJsonDepth) +
               " levels of arrays and objects (the limit for every JSON input)";
    } else if (c == ']' || c == '}') {
      --depth;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      size_t j = i;
      while (j < text.size() && (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '-' ||
                                 text[j] == '+' || text[j] == '.' || text[j] == 'e' || text[j] == 'E'))
        ++j;
      const std::string literal = text.substr(i, j - i);
      const double v = std::strtod(literal.c_str(), nullptr);
      if (std::isinf(v))
        return line_col(text, i) + ": number " + (literal.size() > 40 ? literal.substr(0, 37) + "..." : literal) +
               " is outside the range of a double (+-1.8e308)";
      i = j - 1;
    }
  }
  return "";
}

}  // namespace

Json parse_json_text(const std::string& text, const std::string& file) {
  const std::string limit = scan_limits(text);
  if (!limit.empty()) throw UserError(file + ":" + limit);
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    // Translate the byte offset into line:column for the user.
    const size_t offset = std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    std::string what = e.what();
    auto pos = what.find("syntax error");
    throw UserError(file + ":" + line_col(text, offset) +
                    ": malformed JSON: " + (pos == std::string::npos ? what : what.substr(pos)));
  } catch (const Json::exception& e) {  // anything scan_limits did not foresee still names the file
    throw UserError(file + ": cannot read this JSON: " + e.what());
  }
}

void check_input_file(const std::string& path, const std::string& what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (fs::is_directory(st)) throw UserError(path + ": is a directory, expected a " + what);
  // A device (/dev/zero, a terminal) or a socket never ends like a file; a FIFO (a shell's <(...)) does.
  if (fs::is_character_file(st) || fs::is_block_file(st) || fs::is_socket(st))
    throw UserError(path + ": is a device or socket, expected a " + what);
}

std::string read_text_file(const std::string& path, const std::string& what) {
  check_input_file(path, what);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot open " + what);
  std::string text;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, std::size_t(in.gcount()));
    if (text.size() > kMaxJsonFileBytes)
      throw UserError(path + ": larger than " + std::to_string(kMaxJsonFileBytes >> 20) + " MiB, the limit for a " +
                      what);
  }
  if (in.bad()) throw UserError(path + ": cannot read " + what);
  return text;
}

Json read_json_file(const std::string& path) { return parse_json_text(read_text_file(path), path); }

// True when text is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF).
bool is_utf8(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    int more = 0;
    unsigned lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      more = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      more = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      more = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + std::size_t(more) >= text.size()) return false;  // truncated sequence
    for (int k = 1; k <= more; ++k) {
      const unsigned char b = static_cast<unsigned char>(text[i + std::size_t(k)]);
      if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return false;
    }
    i += std::size_t(more) + 1;
  }
  return true;
}

Json parse_json_value(const std::string& text, const std::string& where) {
  Json value;
  try {
    value = Json::parse(text);
  } catch (const Json::parse_error&) {
    // A bare word such as ws is taken as a string; JSON text must be UTF-8 (every dump checks it).
    if (!is_utf8(text)) throw UserError(where + ": the value is not UTF-8 text");
    return Json(text);
  } catch (const Json::exception&) {
    // A number literal nlohmann cannot hold (1e400): JSON if the text is JSON once such literals are
    // zeros (the scan below then says why it is refused), else a bare word such as 1e400x.
    std::string zeroed = text;
    for (std::size_t i = 0; i < zeroed.size(); ++i) {
      if (!(zeroed[i] == '-' || std::isdigit(static_cast<unsigned char>(zeroed[i])))) continue;
      std::size_t j = i;
      while (j < zeroed.size() && (std::isdigit(static_cast<unsigned char>(zeroed[j])) || zeroed[j] == '-' ||
                                   zeroed[j] == '+' || zeroed[j] == '.' || zeroed[j] == 'e' || zeroed[j] == 'E'))
        ++j;
      if (std::isinf(std::strtod(zeroed.substr(i, j - i).c_str(), nullptr))) {
        zeroed.replace(i, j - i, "0");
        j = i + 1;
      }
      i = j - 1;  // the loop's ++i goes on after the literal
    }
    if (!Json::accept(zeroed)) {
      if (!is_utf8(text)) throw UserError(where + ": the value is not UTF-8 text");
      return Json(text);
    }
  }
  const std::string limit = scan_limits(text);
  if (!limit.empty()) throw UserError(where + ": " + limit.substr(limit.find(": ") + 2) + ", got " + text);
  if (value.is_null() && text.find("null") == std::string::npos)
    throw UserError(where + ": cannot read this value as JSON, got " + text);
  return value;
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

bool JsonView::has(const std::string& key) const {
  if (diag_ && diag_->recorder()) diag_->recorder()->probe(path_, key);
  return is_object() && node_->contains(key);
}

void JsonView::record(const std::string& key, Json rule, bool required) const {
  diag_->recorder()->field(path_, key, std::move(rule), required, /*after_probe=*/true);
}

void JsonView::declare_keys(const std::vector<std::string>& allowed) const {
  if (diag_ && diag_->recorder()) diag_->recorder()->keys(path_, allowed);
}

void JsonView::annotate(const std::string& key, const Json& keywords, std::optional<bool> required) const {
  if (diag_ && diag_->recorder()) diag_->recorder()->field(path_, key, keywords, required, /*after_probe=*/false);
}

void JsonView::branch(const std::string& label, const Json& condition) const {
  if (diag_ && diag_->recorder()) diag_->recorder()->branch(path_, label, condition);
}

void JsonView::declare_named_entries(const Json& entry_rule, const Json& name_rule) const {
  if (!diag_ || !diag_->recorder()) return;
  diag_->recorder()->names(path_, name_rule);
  diag_->recorder()->field(path_, "*", entry_rule, false, /*after_probe=*/false);
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
  if (recording()) record(key, {{"type", "object"}}, required);
  const Json* v = find(key, required);
  if (v && !v->is_object()) {
    diag_->add(child_path(key), "must be an object", *v);
    v = nullptr;
  }
  return JsonView(v, child_path(key), diag_);
}

std::int64_t JsonView::integer(const std::string& key, std::optional<std::int64_t> dflt, std::int64_t min,
                               std::int64_t max) const {
  if (recording()) record(key, {{"type", "integer"}, {"minimum", min}, {"maximum", max}}, !dflt.has_value());
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
  } else if (std::int64_t whole = 0;
             v->is_number_float() && double_to_int64(v->get<double>(), std::numeric_limits<std::int64_t>::min(),
                                                     std::numeric_limits<std::int64_t>::max(), &whole)) {
    // 4096.0 is accepted as 4096; 4096.5 is not an integer; 6.5e20 is out of range (a bare cast is UB).
    if (double(whole) != v->get<double>()) {
      diag_->add(child_path(key), "must be an integer", *v);
      return fallback;
    }
    x = whole;
  } else if (v->is_number_float() && std::isfinite(v->get<double>()) && v->get<double>() == std::floor(v->get<double>())) {
    diag_->add(child_path(key), "must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]", *v);
    return fallback;
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
  if (recording())
    record(key, {{"type", "number"}, {min_exclusive ? "exclusiveMinimum" : "minimum", min}, {"maximum", max}},
           !dflt.has_value());
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
  if (recording()) record(key, {{"type", "string"}}, !dflt.has_value());
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
  if (recording()) {
    Json names = Json::array();
    for (const char* a : allowed) names.push_back(a);
    record(key, {{"type", "string"}, {"enum", names}}, !dflt.has_value());
  }
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
  if (recording()) record(key, {{"type", "boolean"}}, !dflt.has_value());
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

void JsonView::reject_unknown_keys(const std::vector<std::string>& allowed, const std::string& allowed_prefix) const {
  if (diag_ && diag_->recorder()) {
    diag_->recorder()->keys(path_, allowed);
    std::string pattern = "^";  // the prefix as a regular expression
    for (char c : allowed_prefix) pattern += std::string(std::strchr("\\^$.|?*+()[]{}", c) ? "\\" : "") + c;
    diag_->recorder()->key_pattern(path_, pattern);
  }
  // The keys given with the prefix count as known ones in the message, in the document's order.
  std::vector<std::string> names = allowed;
  if (is_object())
    for (auto it = node_->begin(); it != node_->end(); ++it)
      if (it.key().rfind(allowed_prefix, 0) == 0) names.push_back(it.key());
  reject_unknown_keys_of(names);
}

void JsonView::reject_unknown_keys(const std::vector<std::string>& names) const {
  declare_keys(names);
  reject_unknown_keys_of(names);
}

void JsonView::reject_unknown_keys_of(const std::vector<std::string>& names) const {
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
