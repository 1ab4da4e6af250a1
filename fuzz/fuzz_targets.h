#pragma once
// What each fuzz harness does with one input, shared with tests/test_fuzz_regressions.cpp, which
// replays every input a harness ever found (tests/data/fuzz/NAME-*). Each function lets only a
// UserError pass silently (the tool's exit status 2); anything else escapes as a finding.
#include <cstdint>
#include <sstream>
#include <string>

#include "cli/cli_common.h"
#include "cli/sweep_spec.h"
#include "common/errors.h"
#include "config/hw_config.h"
#include "config/model_config.h"
#include "hw/dram/trace_reader.h"

namespace attnsim::fuzz {

template <class F>
void ignore_user_errors(F body) {
  try {
    body();
  } catch (const UserError&) {
  }
}

// The hardware-config reader: JSON text -> parse_hw_config (array, SRAM, ideal or cycle DRAM with a
// preset and overrides, DMA, vector and softmax units); then the same text as a --set value.
inline void hw_config(const std::string& text) {
  ignore_user_errors([&] { parse_hw_config(parse_json_text(text, "fuzz.json"), "fuzz.json"); });
  ignore_user_errors([&] {
    std::string source;
    Json doc = read_hw_document("edge", &source);
    cli::apply_overrides(doc, {"/array/clock_mhz=" + text}, source);
    parse_hw_config(doc, source);
  });
}

// The model reader: defaults, layers, repeats, attention variants and their parameters, the limits.
inline void model(const std::string& text) {
  ignore_user_errors([&] { parse_model_config(parse_json_text(text, "fuzz.json"), "fuzz.json", ModelOverrides{}); });
}

// The sweep-spec reader: axes, zips, named points, every point resolved against the presets and
// validated, hashes, cost estimates. Run from an empty folder so that file names find no files.
inline void sweep_spec(const std::string& text) {
  ignore_user_errors([&] { cli::parse_sweep_spec(parse_json_text(text, "fuzz.json"), "fuzz.json", ""); });
}

// The DRAM trace reader. The first byte picks the format (auto, dramsim3, ramulator, plain), whether
// DDR4-3200's 8 GiB capacity is enforced and the tCK (1 fs, the shortest, or DDR4-3200's 625 ps).
inline void dram_trace(const std::string& bytes) {
  if (bytes.empty()) return;
  static const TraceFormat kFormats[] = {TraceFormat::Auto, TraceFormat::DramSim3, TraceFormat::Ramulator,
                                         TraceFormat::Plain};
  const unsigned char head = static_cast<unsigned char>(bytes[0]);
  const std::uint64_t capacity = (head & 4) ? std::uint64_t(1) << 33 : 0;
  const std::int64_t tck_fs = (head & 8) ? 1 : 625000;
  ignore_user_errors([&] {
    std::istringstream in(bytes.substr(1));
    read_trace(in, "fuzz.trace", kFormats[head & 3], tck_fs, capacity);
  });
}

}  // namespace attnsim::fuzz
