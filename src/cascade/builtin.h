#pragma once
// The cascades the compiler lowers its built-in low-rank variants and the layers' row-wise ops from
// (compiler/rowwise_cascades.h): models/cascades/*.json, embedded at build time (config/presets.h),
// so that a variant or an op is its description and nothing else.
// Plain C++.
#include <string>

#include "config/json_reader.h"

namespace attnsim::cascade {

// The embedded cascade named `stem` (models/cascades/STEM.json); InternalError when there is none.
const Json& builtin_cascade_json(const std::string& stem);

}  // namespace attnsim::cascade
