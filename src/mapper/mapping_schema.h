#pragma once
// The JSON Schemas (draft 2020-12) of the mapping file (--emit mapping, --mapping: mapper/mapping.h,
// a cascade mapping inside each op of kind cascade) and of a cascade mapping file on its own (a
// model's "attention": {"variant": "cascade", "mapping": FILE}: cascade/mapping.h), recorded from
// their readers (config/schema_recorder.h) run over example documents that reach every rule.
#include "config/json_reader.h"

namespace attnsim {

Json mapping_schema();
Json cascade_mapping_schema();

}  // namespace attnsim
