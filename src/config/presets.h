#pragma once
// Hardware presets embedded at build time from configs/presets/*.json.
#include <string>
#include <vector>

namespace attnsim {

struct EmbeddedPreset {
  const char* name;
  const char* json_text;
};

const std::vector<EmbeddedPreset>& embedded_presets();       // configs/presets/*.json
const std::vector<EmbeddedPreset>& embedded_dram_presets();  // configs/dram/*.json
// The preset's JSON text, or nullptr if there is no preset of that name.
const char* find_preset(const std::string& name);
std::string preset_names();  // "cloud, edge, ..." for messages

}  // namespace attnsim
