#pragma once
// Helpers of the tests that compile one-layer models and check what their programs count
// (test_attention_scaling.cpp, test_seed_table.cpp): a model preset cut to one layer, the program
// compiled from it with its counts, sums over op classes, phase lookup, log-log slopes and the DRAM
// bytes of one GEMM's operands.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "compiler/gemm_lowering.h"
#include "compiler/model_lowering.h"
#include "config/hw_config.h"
#include "config/json_reader.h"
#include "config/model_config.h"
#include "config/presets.h"
#include "ir/graph.h"
#include "ir/tile_program.h"

namespace attnsim::test {

// A model preset cut to one layer (its "layers" replaced by one repeat of the defaults), at sequence
// length n with `variant` on its layer; checked to be one non-causal layer of batch 1 at N = n.
inline ModelConfig one_layer(const std::string& preset, std::int64_t n, const std::string& variant) {
  Json doc = parse_json_text(find_model_preset(preset), "preset:" + preset);
  doc["layers"] = Json::array({Json{{"repeat", 1}}});
  ModelOverrides ov;
  ov.seq_len = n;
  ov.variant = variant;
  ModelConfig m = parse_model_config(doc, "preset:" + preset + " (1 layer)", ov);
  REQUIRE(m.layers.size() == 1);
  REQUIRE(m.layers[0].seq_len == n);
  REQUIRE(m.layers[0].batch == 1);
  REQUIRE(!m.layers[0].causal);
  return m;
}

// The graph and the program compiled from it (the program refers to the graph and to hw, which
// must outlive it), and the program's counts when asked for.
struct Built {
  std::unique_ptr<Graph> graph;
  CompiledModel cm;
  ProgramCounts counts;
};

inline Built build(const HwConfig& hw, const ModelConfig& m, bool count = true, const MapperOptions& opt = {}) {
  Built b;
  b.graph = std::make_unique<Graph>(build_graph(m));
  b.cm = compile_model(hw, *b.graph, nullptr, opt);
  if (count) b.counts = count_program(b.cm.program);
  return b;
}

// A model preset cut to one layer (one_layer), compiled.
inline Built build(const HwConfig& hw, const std::string& preset, std::int64_t n, const std::string& variant,
                   bool count = true, const MapperOptions& opt = {}) {
  return build(hw, one_layer(preset, n, variant), count, opt);
}

// MACs of the instructions of the given op classes.
inline std::uint64_t class_macs(const ProgramCounts& c, const std::vector<OpClass>& classes) {
  std::uint64_t m = 0;
  for (OpClass k : classes) m += c.macs_by_class[std::size_t(k)];
  return m;
}

// DRAM bytes loaded and stored by the instructions of the given op classes.
inline std::uint64_t class_dram_bytes(const ProgramCounts& c, const std::vector<OpClass>& classes) {
  std::uint64_t b = 0;
  for (OpClass k : classes) b += c.load_bytes_by_class[std::size_t(k)] + c.store_bytes_by_class[std::size_t(k)];
  return b;
}

inline const PhaseInfo* find_phase(const CompiledModel& cm, const std::string& name) {
  for (const PhaseInfo& p : cm.phases)
    if (p.name == name) return &p;
  return nullptr;
}

// Least-squares slope of ln y against ln x.
inline double loglog_slope(const std::vector<std::pair<double, double>>& pts) {
  double mx = 0, my = 0;
  for (const auto& [x, y] : pts) mx += std::log(x), my += std::log(y);
  mx /= double(pts.size()), my /= double(pts.size());
  double sxy = 0, sxx = 0;
  for (const auto& [x, y] : pts) {
    const double dx = std::log(x) - mx;
    sxy += dx * (std::log(y) - my);
    sxx += dx * dx;
  }
  return sxy / sxx;
}

inline std::uint64_t ceil_div_u(std::int64_t a, std::int64_t b) { return std::uint64_t((a + b - 1) / b); }

// DRAM bytes per head of vanilla attention run as one fused kernel (flash, row-fused, unfused with S
// on chip; the cascade mapping's query block bq and key tile or chunk bk): Q read and O written once
// (2 N d elements), K and V read once per query block (2 N d ceil(N / bq)), unless all of their
// ceil(N / bk) key tiles fit in their two buffer slots: the generic lowering then finds every later
// use resident (cascade/lower.h) and reads them once (2 N d).
inline std::uint64_t fused_attention_bytes_per_head(std::uint64_t eb, std::int64_t n, std::int64_t d, std::int64_t bq,
                                                    std::int64_t bk) {
  const std::uint64_t kv_reads = ceil_div_u(n, bk) <= 2 ? 1 : ceil_div_u(n, bq);
  return eb * std::uint64_t(n) * std::uint64_t(d) * (2 + 2 * kv_reads);
}

// Whether the attention phase's cascade mapping keeps K and V resident (its group's "resident" list,
// cascade/mapping.h: each read once per head, whatever the tiles).
inline bool kv_resident(const PhaseInfo& attn) {
  const Json& m = attn.mapping.cascade;
  if (!m.is_object() || !m.contains("groups") || !m["groups"].is_array() || m["groups"].empty()) return false;
  const Json& g = m["groups"][0];
  return g.contains("resident") && g["resident"].size() == 2;
}
// The same bytes under the attention phase's mapping: its query block and key tile or chunk, or
// Q, K, V read and O written once (4 N d) when it keeps K and V resident.
inline std::uint64_t fused_attention_bytes_per_head(std::uint64_t eb, std::int64_t n, std::int64_t d,
                                                    const PhaseInfo& attn) {
  if (kv_resident(attn)) return eb * std::uint64_t(n) * std::uint64_t(d) * 4;
  return fused_attention_bytes_per_head(eb, n, d, attn.mapping.tile_of("m"), attn.mapping.tile_of("p"));
}

// DRAM bytes of the operands of one GEMM C[m x n] = A[m x k] B[k x n] (elements of eb bytes) as
// the hand-written GemmEmitter::emit reads them (tests/support/gemm_emitter.h): its loop is outer x inner x k (m, n, k or
// n, m, k) and a tile of A (block (mi, ki)) or B (block (ki, ni)) is loaded only when it differs
// from the one on chip.
//   m, n, k order: with nk = 1 A's tile (mi, 0) stays over the whole inner n loop, so A is read
//   once; else every step loads again and A is read nn times. B's block changes every step unless
//   nk = nn = 1 (then one tile serves the GEMM), so B is read nm times, or once.
//   n, m, k order: the same with A and B (and nm, nn) exchanged.
//   Residency (GemmTiling): k in the middle (m, k, n) or a resident panel reads the outer operand
//   once; a resident inner operand is read once.
inline std::uint64_t gemm_operand_bytes(const GemmTiling& t, const GemmDims& d, std::uint64_t eb) {
  const std::uint64_t nm = ceil_div_u(d.m, t.tm), nn = ceil_div_u(d.n, t.tn), nk = ceil_div_u(d.k, t.tk);
  const std::uint64_t a = std::uint64_t(d.m * d.k) * eb, b = std::uint64_t(d.k * d.n) * eb;
  const bool outer_once = t.k_middle || t.outer_resident;
  if (!t.n_outer)
    return a * (nk == 1 || outer_once ? 1 : nn) + b * ((nk == 1 && nn == 1) || t.inner_resident ? 1 : nm);
  return b * (nk == 1 || outer_once ? 1 : nm) + a * ((nk == 1 && nm == 1) || t.inner_resident ? 1 : nn);
}

// DRAM bytes per head of the DRAM inputs of the spilled unfused mapping's contraction groups (the
// vanilla cascade mapped as [S] [P] [O]; `mapping` is its JSON, --emit mapping's): Q and K read by
// S = Q K^T (group 0), P and V by O = P V (group 2), elements of eb bytes, m and p of extent n, e and f
// of extent d. By the generic lowering's rule (cascade/lower.h): the group walks its loops (outer to
// inner); at each point a DRAM input needs the tile of its looped ranks (a rank not looped whole);
// a tile already in one of the tensor's slots is not loaded again, any other is loaded into the next
// slot (round robin over its buffering depth, default 2). A resident input is loaded once, whole.
// Walked here point by point for one head.
inline std::uint64_t spilled_input_bytes(const Json& mapping, std::int64_t n, std::int64_t d, std::uint64_t eb) {
  auto extent = [&](const std::string& r) { return r == "m" || r == "p" ? n : d; };
  std::uint64_t total = 0;
  const struct {
    int group;
    const char* tensor;
    const char* ranks[2];
  } inputs[] = {{0, "Q", {"m", "e"}}, {0, "K", {"p", "e"}}, {2, "P", {"m", "p"}}, {2, "V", {"p", "f"}}};
  for (const auto& in : inputs) {
    const Json& g = mapping["groups"][std::size_t(in.group)];
    const std::string t = in.tensor;
    bool resident = false;
    if (g.contains("resident"))
      for (const Json& r : g["resident"]) resident |= r.get<std::string>() == t;
    if (resident) {
      total += eb * std::uint64_t(n) * std::uint64_t(d);
      continue;
    }
    const int depth =
        mapping.contains("buffers") && mapping["buffers"].contains(t) ? mapping["buffers"][t].get<int>() : 2;
    std::vector<std::pair<std::string, std::int64_t>> loops;
    for (const Json& l : g["loops"]) loops.push_back({l["rank"].get<std::string>(), l["tile"].get<std::int64_t>()});
    std::vector<std::int64_t> idx(loops.size(), 0);
    std::vector<std::vector<std::int64_t>> slots(static_cast<std::size_t>(depth));  // the tile each slot holds
    int cur = -1;
    for (bool more = true; more;) {
      std::vector<std::int64_t> key;
      std::uint64_t elems = 1;
      for (const char* r : in.ranks) {
        std::int64_t lo = 0, len = extent(r);
        for (std::size_t i = 0; i < loops.size(); ++i)
          if (loops[i].first == r) lo = idx[i] * loops[i].second, len = std::min(loops[i].second, extent(r) - lo);
        key.push_back(lo);
        key.push_back(len);
        elems *= std::uint64_t(len);
      }
      if (std::find(slots.begin(), slots.end(), key) == slots.end()) {
        cur = (cur + 1) % depth;
        slots[std::size_t(cur)] = key;
        total += eb * elems;
      }
      more = false;
      for (std::size_t i = loops.size(); i-- > 0;) {
        if (++idx[i] * loops[i].second < extent(loops[i].first)) {
          more = true;
          break;
        }
        idx[i] = 0;
      }
    }
  }
  return total;
}

}  // namespace attnsim::test
