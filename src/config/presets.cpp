#include "config/presets.h"

#include <cstring>

namespace attnsim {

const char* find_preset(const std::string& name) {
  for (const auto& p : embedded_presets())
    if (name == p.name) return p.json_text;
  return nullptr;
}

const char* find_model_preset(const std::string& name) {
  for (const auto& p : embedded_model_presets())
    if (name == p.name) return p.json_text;
  return nullptr;
}

std::string preset_names() {
  std::string s;
  for (const auto& p : embedded_presets()) s += (s.empty() ? "" : ", ") + std::string(p.name);
  return s;
}

}  // namespace attnsim
