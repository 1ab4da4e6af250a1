#pragma once
// The JSON Schemas (draft 2020-12) of the hardware config, the model description, the energy table
// (configs/energy/) and the DRAM device description (configs/dram/), recorded from their validators
// (config/schema_recorder.h) run over example documents that reach every rule.
#include "config/json_reader.h"

namespace attnsim {

Json hw_config_schema();
Json model_config_schema();
Json energy_table_schema();
Json dram_device_schema();

}  // namespace attnsim
