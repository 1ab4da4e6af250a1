#pragma once
// Presets embedded at build time: hardware (configs/presets/*.json), DRAM devices
// (configs/dram/*.json), energy and area tables (configs/energy/*.json), models (models/*.json) and cascades (models/cascades/*.json), each keyed by its
// file stem.
#include <string>
#include <vector>

namespace attnsim {

struct EmbeddedPreset {
  const char* name;
  const char* json_text;
};

const std::vector<EmbeddedPreset>& embedded_presets();        // configs/presets/*.json
const std::vector<EmbeddedPreset>& embedded_dram_presets();   // configs/dram/*.json
const std::vector<EmbeddedPreset>& embedded_energy_presets(); // configs/energy/*.json (config/energy_table.h)
const std::vector<EmbeddedPreset>& embedded_model_presets();  // models/*.json
const std::vector<EmbeddedPreset>& embedded_cascades();       // models/cascades/*.json (built-in variants, row-wise ops)
// The preset's JSON text, or nullptr if there is no preset of that name.
const char* find_preset(const std::string& name);
std::string preset_names();  // "cloud, edge, ..." for messages
// The model preset's JSON text, or nullptr (model_preset_names() is in config/model_config.h).
const char* find_model_preset(const std::string& name);

}  // namespace attnsim
