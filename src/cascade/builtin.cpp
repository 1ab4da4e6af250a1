#include "cascade/builtin.h"

#include <map>
#include <mutex>

#include "common/errors.h"
#include "config/presets.h"

namespace attnsim::cascade {

const Json& builtin_cascade_json(const std::string& stem) {
  static std::mutex mu;
  static std::map<std::string, Json> parsed;
  std::lock_guard<std::mutex> lock(mu);
  auto it = parsed.find(stem);
  if (it != parsed.end()) return it->second;
  for (const EmbeddedPreset& p : embedded_cascades())
    if (stem == p.name)
      return parsed.emplace(stem, parse_json_text(p.json_text, "models/cascades/" + stem + ".json")).first->second;
  throw InternalError("no built-in cascade " + stem + " (models/cascades/" + stem + ".json)");
}

}  // namespace attnsim::cascade
