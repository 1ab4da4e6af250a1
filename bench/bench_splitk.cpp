// Split-K decode attention (flash-decoding; cascade/mapping.h, splits) against the one serial chain of
// online-softmax steps: time per output token of a decode step at batch 1 and 8, contexts 4K, 32K and
// 128K, on the cloud and edge presets (ideal DRAM), for Llama-3-8B (GQA, 8 K/V heads) and the GPT model.
// Each step is compiled twice: with the mapper's choice (which times 2, 4, 8, 16 runs beside one chain
// for each decode attention) and with that same mapping's splits removed (one chain, the mapper's other
// choices kept), and timed by the program timer (mapper/program_timer.h, the mapper's own timing, within
// 2 % of the SystemC accelerator) on 1 and 2 layers: TPOT = t1 + (layers - 1) (t2 - t1), as the
// generation extrapolates identical layers. Figures are printed, not asserted.
// Usage: bench_splitk [--model NAME] [--hw NAME] [--batch B] [--context C]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "compiler/model_lowering.h"
#include "config/hw_config.h"
#include "config/model_config.h"
#include "ir/decode_graph.h"
#include "mapper/mapping.h"
#include "mapper/program_timer.h"

using namespace attnsim;

namespace {

struct Timed {
  double cycles = 0;       // the step
  double attention = 0;    // its attention phase (L0.attention), alone
  std::string mapping;     // the attention's cascade mapping, as --emit mapping prints it
  Json cascade;
};

double time_program(const HwConfig& hw, const CompiledModel& cm) {
  ProgramTimer t(hw);
  cm.program.generate(t);
  return double(t.finish().cycles);
}

Timed time_step(const HwConfig& hw, const ModelConfig& m, std::int64_t context, const ModelMapping* fixed) {
  const DecodeStepGraph d = build_decode_step_graph(m, context, context + 2);
  MapperOptions opt;
  opt.fixed = fixed;
  const CompiledModel cm = compile_model(hw, d.graph, nullptr, opt);
  Timed r;
  r.cycles = time_program(hw, cm);
  for (const auto& [name, om] : mapping_of(cm).ops)
    if (name == "L0.attention") r.cascade = om.cascade, r.mapping = om.cascade["groups"][0].dump();
  return r;
}

ModelConfig first_layers(ModelConfig m, std::size_t n) {
  m.layers.resize(n);
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> models = {"llama3-8b", "gpt-wikitext103"}, hws = {"cloud", "edge"};
  std::vector<std::int64_t> batches = {1, 8}, contexts = {4096, 32768, 131072};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--model")) models = {argv[i + 1]};
    if (!std::strcmp(argv[i], "--hw")) hws = {argv[i + 1]};
    if (!std::strcmp(argv[i], "--batch")) batches = {std::atoll(argv[i + 1])};
    if (!std::strcmp(argv[i], "--context")) contexts = {std::atoll(argv[i + 1])};
  }
  std::printf("%-16s %-6s %5s %7s %11s %11s %7s %11s  %s\n", "model", "hw", "batch", "context", "TPOT 1 ms",
              "TPOT pick ms", "gain %", "TPOT 4 ms", "the mapper's decode attention (L0)");
  for (const std::string& hw_name : hws) {
    std::string source;
    const HwConfig hw = parse_hw_config(read_hw_document(hw_name, &source), source);
    for (const std::string& model : models)
      for (std::int64_t b : batches)
        for (std::int64_t c : contexts) {
          ModelOverrides ov;
          ov.batch = b;
          ov.prefill = c;
          ov.generate = 2;
          ov.seq_len = c;
          const ModelConfig m = load_model_config(model, ov);
          const std::size_t L = m.layers.size();
          const ModelConfig m1 = first_layers(m, 1), m2 = first_layers(m, 2);
          const Timed p1 = time_step(hw, m1, c, nullptr), p2 = time_step(hw, m2, c, nullptr);
          // The same mappings with one chain: the attention ops' splits removed.
          ModelMapping serial;
          serial.source = "serial";
          for (int l = 0; l < 2; ++l) {
            OpMapping om;
            om.kind = "cascade";
            om.cascade = (l == 0 ? p1 : p2).cascade;
            om.cascade["groups"][0].erase("splits");
            serial.ops.emplace_back("L" + std::to_string(l) + ".attention", om);
          }
          ModelMapping serial1 = serial;
          serial1.ops.resize(1);
          const Timed s1 = time_step(hw, m1, c, &serial1), s2 = time_step(hw, m2, c, &serial);
          // And with 4 runs forced on the same loops (when the pick loops over the keys).
          double t4 = -1;
          if (p1.cascade["groups"][0]["loops"].size() == 2) {
            ModelMapping four = serial, four1;
            for (auto& op : four.ops) op.second.cascade["groups"][0]["splits"] = 4;
            four1 = four;
            four1.ops.resize(1);
            t4 = 0;
            const Timed f1 = time_step(hw, m1, c, &four1), f2 = time_step(hw, m2, c, &four);
            t4 = (f1.cycles + double(L - 1) * (f2.cycles - f1.cycles)) / double(hw.array.clock_mhz) / 1e3;
          }
          const double mhz = double(hw.array.clock_mhz);
          auto tpot = [&](double t1, double t2) { return (t1 + double(L - 1) * (t2 - t1)) / mhz / 1e3; };
          const double ts = tpot(s1.cycles, s2.cycles), tp = tpot(p1.cycles, p2.cycles);
          std::printf("%-16s %-6s %5lld %7lld %11.4f %11.4f %7.2f %11s  %s\n", model.c_str(), hw_name.c_str(),
                      (long long)b, (long long)c, ts, tp, 100.0 * (ts - tp) / ts,
                      t4 < 0 ? "-" : std::to_string(t4).substr(0, 10).c_str(), p1.mapping.c_str());
          std::fflush(stdout);
        }
  }
  return 0;
}
