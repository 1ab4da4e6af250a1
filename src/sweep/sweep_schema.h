#pragma once
// The JSON Schema (draft 2020-12) of a sweep spec, recorded from parse_sweep_spec run over an
// example spec that takes every axis form (config/schema_recorder.h).
#include "config/json_reader.h"

namespace attnsim {

Json sweep_spec_schema();

}  // namespace attnsim
