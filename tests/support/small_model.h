#pragma once
// The small model of the CLI tests: two layers (d_model 64, 2 heads of head_dim 32, FFN 128 GELU,
// N = 256, batch 1, flash), small enough to simulate in well under a second.
#include <string>

#include "support/cli.h"

namespace attnsim::test {

inline const char* const kSmallModel = R"({
  "description": "two small layers",
  "dtype": "fp16",
  "defaults": {"d_model": 64, "heads": 2, "head_dim": 32, "seq_len": 256, "batch": 1,
               "ffn": {"width": 128, "activation": "gelu"}, "attention": {"variant": "flash"}},
  "layers": [{"repeat": 2}]
})";

// Writes kSmallModel into the temporary directory under `name`; returns its path.
inline std::string write_small_model(const std::string& name) { return write_temp(name, kSmallModel); }

}  // namespace attnsim::test
