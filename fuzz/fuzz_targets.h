#pragma once
// What each fuzz harness does with one input, shared with tests/test_fuzz_regressions.cpp, which
// replays every input a harness ever found (tests/data/fuzz/NAME-*). Each function lets only a
// UserError pass silently (the tool's exit status 2); anything else escapes as a finding.
#include <cstdint>
#include <sstream>
#include <string>

#include <vector>

#include "cascade/cascade.h"
#include "cascade/lower.h"
#include "cascade/mapping.h"
#include "cli/cli_common.h"
#include "sweep/sweep_spec.h"
#include "common/errors.h"
#include "compiler/model_lowering.h"
#include "config/hw_config.h"
#include "config/model_config.h"
#include "hw/dram/trace_reader.h"
#include "ir/graph.h"
#include "mapper/mapping.h"

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
  ignore_user_errors([&] { parse_sweep_spec(parse_json_text(text, "fuzz.json"), "fuzz.json", ""); });
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

// The mapping readers: the text as a model mapping (--mapping FILE) fixed on a small model whose ops
// cover every mapping kind (GEMMs, flash, row-fused, unfused), compiled with the fast mapper and its
// program generated, so the per-op checks (names, kinds, ranks, fit) and the lowering of the fixed
// tiles run; then the same text as a cascade mapping of vanilla attention (N 128, d 32, on edge),
// planned and lowered.
namespace detail {
inline const HwConfig& edge_hw() {
  static const HwConfig hw = load_hw_config("edge");
  return hw;
}
inline const Graph& mapping_graph() {
  static const Graph g = [] {
    const Json doc = parse_json_text(
        R"({"description": "mapping fuzz", "dtype": "fp16",
            "defaults": {"d_model": 64, "heads": 2, "head_dim": 32, "seq_len": 128, "batch": 1,
                         "ffn": {"width": 128, "activation": "gelu"}, "attention": {"variant": "flash"}},
            "layers": [{}, {"attention": {"variant": "row-fused"}}, {"attention": {"variant": "unfused"}}]})",
        "mapping_fuzz_model.json");
    return build_graph(parse_model_config(doc, "mapping_fuzz_model.json", ModelOverrides{}));
  }();
  return g;
}
// Plans and lowers one head of a bound cascade under mapping m (DRAM tensors for its inputs,
// outputs and spilled intermediates, one after another).
inline void lower_one_head(const HwConfig& hw, const cascade::Cascade& c, const cascade::Mapping& m) {
  const cascade::CascadePlan plan = cascade::plan_cascade(c, m, hw, std::uint64_t(hw.sram.total_bytes()));
  std::vector<TensorInfo> tensors;
  cascade::Binding b;
  b.blocks.resize(c.desc.tensors.size());
  std::uint64_t next = 0;
  for (std::size_t t = 0; t < c.desc.tensors.size(); ++t) {
    bool spilled = false;
    for (int s : plan.spilled) spilled = spilled || s == int(t);
    if (c.desc.tensors[t].role == cascade::TensorRole::Intermediate && !spilled) continue;
    const TensorInfo ti{c.desc.tensors[t].name, next, std::uint64_t(c.rows(int(t))), std::uint64_t(c.cols(int(t))),
                        hw.array.operand_bytes};
    next += (ti.bytes() + 4095) / 4096 * 4096;
    b.blocks[t] = {std::uint16_t(tensors.size()), 0, 0, c.rows(int(t)), c.cols(int(t))};
    tensors.push_back(ti);
  }
  cascade::lower_program(hw, plan, tensors, {b});
}
}  // namespace detail

inline void mapping(const std::string& text) {
  const HwConfig& hw = detail::edge_hw();
  ignore_user_errors([&] {
    const ModelMapping fixed = parse_mapping(parse_json_text(text, "fuzz.json"), "fuzz.json");
    MapperOptions opt;
    opt.effort = MapperEffort::Fast;
    opt.fixed = &fixed;
    CompiledModel cm = compile_model(hw, detail::mapping_graph(), nullptr, opt);
    cm.program.materialise();
  });
  ignore_user_errors([&] {
    const cascade::Cascade c = cascade::bind_cascade(
        cascade::parse_cascade(cascade::vanilla_attention_json(), "vanilla"), {{"N", 128.0}, {"d", 32.0}}, false);
    detail::lower_one_head(hw, c, cascade::parse_mapping(parse_json_text(text, "fuzz.json"), "fuzz.json", c, hw));
  });
}

// The cascade reader (--variant cascade:FILE): parsed, bound (N 128, d 32; causal when the first
// byte is odd, the rest is the file), given the default mapping, planned and lowered for one head.
inline void cascade_file(const std::string& bytes) {
  if (bytes.empty()) return;
  const bool causal = (static_cast<unsigned char>(bytes[0]) & 1) != 0;
  const HwConfig& hw = detail::edge_hw();
  ignore_user_errors([&] {
    const cascade::Cascade c = cascade::bind_cascade(
        cascade::parse_cascade(parse_json_text(bytes.substr(1), "fuzz.json"), "fuzz.json"),
        {{"N", 128.0}, {"d", 32.0}}, causal);
    detail::lower_one_head(hw, c,
                           cascade::default_mapping(c, hw, std::uint64_t(hw.sram.total_bytes()), "fuzz.json"));
  });
}

}  // namespace attnsim::fuzz
