#pragma once
// Shared by the cascade tests: a small hardware config, and the DRAM tensors and bindings of several
// instances (heads) of a cascade lowered as a standalone program (cascade::lower_program).
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "cascade/cascade.h"
#include "cascade/lower.h"
#include "cascade/mapping.h"
#include "compiler/emitter.h"
#include "config/hw_config.h"
#include "ir/tile_program.h"

namespace attnsim::test {

// A side x side output-stationary array (fp16 operands, fp32 accumulators), sram_kib KiB of SRAM in
// 4 banks with 64 B ports, an ideal DRAM of 64 B/cycle and, when asked, a softmax unit as wide as the
// array.
inline HwConfig cascade_test_hw(int side, std::int64_t sram_kib, bool softmax_unit = true) {
  Json doc = {{"array",
               {{"rows", side},
                {"cols", side},
                {"dataflow", "os"},
                {"clock_mhz", 1000},
                {"operand_bytes", 2},
                {"accumulator_bytes", 4}}},
              {"sram", {{"banks", 4}, {"bytes_per_bank", sram_kib * 1024 / 4}, {"port_bytes", 64}}},
              {"dram", {{"model", "ideal"}, {"bytes_per_cycle", 64}}}};
  if (softmax_unit) doc["softmax"] = {{"lanes", side}};
  return parse_hw_config(doc, "hw.json");
}

struct CascadeHarness {
  std::vector<TensorInfo> tensors;
  std::vector<int> tensor_of;  // per cascade tensor, -1: on chip only
  std::vector<cascade::Binding> bindings;
};

// One DRAM tensor per cascade input, output and spilled intermediate, the instances' blocks stacked
// by rows (4 KiB aligned), except the inputs named in `shared`: one block every instance reads
// (weights shared by the heads, as the model binds them).
inline CascadeHarness make_cascade_harness(const cascade::Cascade& c, const cascade::CascadePlan& plan, int heads,
                                           int elem_bytes, const std::vector<std::string>& shared = {}) {
  CascadeHarness h;
  h.tensor_of.assign(c.desc.tensors.size(), -1);
  std::vector<char> one(c.desc.tensors.size(), 0);
  std::uint64_t next = 0;
  for (std::size_t t = 0; t < c.desc.tensors.size(); ++t) {
    const cascade::TensorDecl& td = c.desc.tensors[t];
    const bool spilled = std::find(plan.spilled.begin(), plan.spilled.end(), int(t)) != plan.spilled.end();
    if (td.role == cascade::TensorRole::Intermediate && !spilled) continue;
    one[t] = td.role == cascade::TensorRole::Input && std::find(shared.begin(), shared.end(), td.name) != shared.end();
    const std::int64_t copies = one[t] ? 1 : heads;
    const TensorInfo ti{td.name, next, std::uint64_t(copies * c.rows(int(t))), std::uint64_t(c.cols(int(t))),
                        elem_bytes};
    next = align_up(next + ti.bytes(), 4096);
    h.tensor_of[t] = int(h.tensors.size());
    h.tensors.push_back(ti);
  }
  for (int i = 0; i < heads; ++i) {
    cascade::Binding b;
    for (std::size_t t = 0; t < c.desc.tensors.size(); ++t) {
      DramBlock blk;
      if (h.tensor_of[t] >= 0)
        blk = {std::uint16_t(h.tensor_of[t]), one[t] ? 0 : i * c.rows(int(t)), 0, c.rows(int(t)), c.cols(int(t))};
      b.blocks.push_back(blk);
    }
    h.bindings.push_back(b);
  }
  return h;
}

}  // namespace attnsim::test
