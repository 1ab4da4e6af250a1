#include "config/schema_recorder.h"

#include <algorithm>
#include <cctype>

#include "common/errors.h"

namespace attnsim {

std::string schema_location(const std::string& json_path) {
  std::string out;
  std::size_t i = 0;
  while (i < json_path.size()) {
    std::size_t j = json_path.find('/', i + 1);
    if (j == std::string::npos) j = json_path.size();
    const std::string segment = json_path.substr(i + 1, j - i - 1);  // json_path[i] is '/'
    const bool index = !segment.empty() && std::all_of(segment.begin(), segment.end(), [](char c) {
      return std::isdigit(static_cast<unsigned char>(c)) != 0;
    });
    out += "/" + (index ? std::string("[]") : segment);
    i = j;
  }
  return out;
}

Json schema_when_one_of(const std::string& key, const std::vector<std::string>& values) {
  Json one_of = Json::array();
  for (const std::string& v : values) one_of.push_back(v);
  return {{"properties", {{key, {{"enum", one_of}}}}}, {"required", Json::array({key})}};
}

Json schema_when_has(const std::string& key) { return {{"required", Json::array({key})}}; }

void SchemaRecorder::begin_document(const std::string& mount) {
  form_of_.clear();
  probed_.clear();
  mount_ = mount;
}

std::string SchemaRecorder::location_of(const std::string& json_path) const {
  std::string out;
  std::size_t i = 0;
  while (i < json_path.size()) {
    std::size_t j = json_path.find('/', i + 1);
    if (j == std::string::npos) j = json_path.size();
    auto node = nodes_.find(out);
    if (node != nodes_.end() && node->second.names)
      out += "/*";
    else
      out += schema_location(json_path.substr(i, j - i));  // one segment: an index becomes []
    i = j;
  }
  return out;
}

SchemaRecorder::Group& SchemaRecorder::group_of(const std::string& object_path) {
  Node& node = nodes_[location_of(object_path)];
  auto form = form_of_.find(object_path);
  if (form == form_of_.end()) return node.groups.front();
  for (Group& g : node.groups)
    if (g.label == form->second) return g;
  throw InternalError("schema: object " + object_path + " takes an unrecorded form " + form->second);
}

void SchemaRecorder::field(const std::string& view_path, const std::string& name, const Json& rule,
                           std::optional<bool> required, bool after_probe) {
  const std::string object_path = mount_ + view_path;
  auto node = nodes_.find(location_of(object_path));
  const std::string key = node != nodes_.end() && node->second.names ? "*" : name;
  Group& g = group_of(object_path);
  auto it = std::find_if(g.properties.begin(), g.properties.end(), [&](const Property& p) { return p.key == key; });
  if (it == g.properties.end()) {
    Property p;
    p.key = key;
    g.properties.push_back(std::move(p));
    it = g.properties.end() - 1;
  }
  if (required) {
    const bool now = *required && !(after_probe && probed_.count({object_path, key}));
    it->required = it->required.value_or(true) && now;
  }
  for (auto kw = rule.begin(); kw != rule.end(); ++kw) {
    if (it->rule.contains(kw.key()) && it->rule[kw.key()] != kw.value())
      throw InternalError("schema: " + location_of(object_path) + "/" + key + " is read with two rules for \"" +
                          kw.key() + "\": " + it->rule[kw.key()].dump() + " and " + kw.value().dump());
    it->rule[kw.key()] = kw.value();
  }
}

void SchemaRecorder::probe(const std::string& object_path, const std::string& key) {
  probed_.insert({mount_ + object_path, key});
}

void SchemaRecorder::keys(const std::string& object_path, const std::vector<std::string>& allowed) {
  Group& g = group_of(mount_ + object_path);
  g.closed = true;
  for (const std::string& k : allowed)
    if (std::find(g.allowed.begin(), g.allowed.end(), k) == g.allowed.end()) g.allowed.push_back(k);
}

void SchemaRecorder::names(const std::string& object_path, const Json& name_rule) {
  Node& node = nodes_[location_of(mount_ + object_path)];
  if (node.names && node.name_rule != name_rule)
    throw InternalError("schema: the names of " + location_of(mount_ + object_path) + " have two rules");
  node.names = true;
  node.name_rule = name_rule;
}

void SchemaRecorder::key_pattern(const std::string& object_path, const std::string& pattern) {
  Group& g = group_of(mount_ + object_path);
  if (std::find(g.patterns.begin(), g.patterns.end(), pattern) == g.patterns.end()) g.patterns.push_back(pattern);
}

void SchemaRecorder::branch(const std::string& view_path, const std::string& label, const Json& condition) {
  const std::string object_path = mount_ + view_path;
  Node& node = nodes_[location_of(object_path)];
  form_of_[object_path] = label;
  for (const Group& g : node.groups) {
    if (g.label != label) continue;
    if (g.condition != condition)
      throw InternalError("schema: form " + label + " of " + location_of(object_path) + " has two conditions");
    return;
  }
  Group g;
  g.label = label;
  g.condition = condition;
  node.groups.push_back(std::move(g));
}

namespace {

bool has_property(const std::vector<std::string>& keys, const std::string& key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

}  // namespace

void SchemaRecorder::render_properties(const std::string& location, const Group& g,
                                       const std::map<std::string, std::string>& texts, std::set<std::string>* used,
                                       Json* out) const {
  Json properties = Json::object();
  Json required = Json::array();
  for (const Property& p : g.properties) {
    const std::string child = location + "/" + p.key;
    auto text = texts.find(child);
    if (text == texts.end()) throw InternalError("schema: " + child + " has no description");
    used->insert(child);
    Json s = {{"description", text->second}};
    for (auto kw = p.rule.begin(); kw != p.rule.end(); ++kw) s[kw.key()] = kw.value();
    if (nodes_.count(child)) {
      const Json object = render(child, texts, used);
      for (auto kw = object.begin(); kw != object.end(); ++kw) s[kw.key()] = kw.value();
    }
    if (nodes_.count(child + "/[]")) s["items"] = render(child + "/[]", texts, used);
    if (p.key == "*" && nodes_.at(location).names) {  // every entry of a name-keyed object
      (*out)["additionalProperties"] = std::move(s);
      continue;
    }
    properties[p.key] = std::move(s);
    if (p.required.value_or(false)) required.push_back(p.key);
  }
  if (!properties.empty()) (*out)["properties"] = std::move(properties);
  if (!required.empty()) (*out)["required"] = std::move(required);
  if (g.patterns.empty()) return;
  Json patterns = Json::object();
  for (const std::string& pattern : g.patterns) {
    const std::string child = location + "/" + pattern;
    auto text = texts.find(child);
    if (text == texts.end()) throw InternalError("schema: " + child + " has no description");
    used->insert(child);
    patterns[pattern] = {{"description", text->second}};
  }
  (*out)["patternProperties"] = std::move(patterns);
}

Json SchemaRecorder::render(const std::string& location, const std::map<std::string, std::string>& texts,
                            std::set<std::string>* used) const {
  const Node& node = nodes_.at(location);
  const Group& base = node.groups.front();
  std::vector<std::string> base_keys;
  for (const Property& p : base.properties) base_keys.push_back(p.key);
  Json out = {{"type", "object"}};
  if (node.names && !node.name_rule.is_null()) out["propertyNames"] = node.name_rule;
  render_properties(location, base, texts, used, &out);
  // Every key an object allows has a rule that some example reached, so that no key of the format
  // escapes the schema's checks (and its description).
  auto check_allowed = [&](const Group& g, const std::vector<std::string>& keys) {
    for (const std::string& k : g.allowed)
      if (!has_property(keys, k) && !has_property(base_keys, k))
        throw InternalError("schema: " + location + "/" + k +
                            " is allowed but no example document reaches the rule that reads it" +
                            (g.label.empty() ? "" : " (form " + g.label + ")"));
  };
  if (base.closed) check_allowed(base, base_keys);
  if (node.groups.size() == 1) {
    if (base.closed) out["additionalProperties"] = false;
    return out;
  }
  // Several forms: each one's keys apply when its condition holds, and each names the keys it allows
  // (propertyNames: additionalProperties would not see the keys the forms share).
  // Keys a pattern allows (comments) are allowed in every form.
  auto names_allowed = [&](const std::vector<std::string>& allowed) -> Json {
    if (base.patterns.empty()) return {{"enum", allowed}};
    Json any = Json::array({{{"enum", allowed}}});
    for (const std::string& p : base.patterns) any.push_back({{"pattern", p}});
    return {{"anyOf", any}};
  };
  if (node.names) throw InternalError("schema: " + location + " is keyed by names and takes several forms");
  if (base.closed) out["propertyNames"] = names_allowed(base.allowed);
  Json all = Json::array();
  for (std::size_t i = 1; i < node.groups.size(); ++i) {
    const Group& g = node.groups[i];
    Json then = Json::object();
    render_properties(location, g, texts, used, &then);
    if (g.closed) {
      std::vector<std::string> keys;
      for (const Property& p : g.properties) keys.push_back(p.key);
      check_allowed(g, keys);
      then["propertyNames"] = names_allowed(g.allowed);
    }
    all.push_back({{"if", g.condition}, {"then", std::move(then)}});
  }
  out["allOf"] = std::move(all);
  return out;
}

Json SchemaRecorder::schema(const std::string& title, const std::string& description,
                            const std::vector<SchemaDescription>& descriptions) const {
  if (!nodes_.count("")) throw InternalError("schema: no document was recorded");
  std::map<std::string, std::string> texts;
  for (const SchemaDescription& d : descriptions)
    if (!texts.emplace(d.location, d.text).second) throw InternalError(std::string("schema: ") + d.location +
                                                                       " is described twice");
  std::set<std::string> used;
  Json out = {{"$schema", "https://json-schema.org/draft/2020-12/schema"}, {"title", title},
              {"description", description}};
  const Json body = render("", texts, &used);
  for (auto kw = body.begin(); kw != body.end(); ++kw) out[kw.key()] = kw.value();
  for (const SchemaDescription& d : descriptions)
    if (!used.count(d.location))
      throw InternalError(std::string("schema: the description of ") + d.location + " names no key the validator reads");
  return out;
}

}  // namespace attnsim
