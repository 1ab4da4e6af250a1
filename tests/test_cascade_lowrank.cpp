// The low-rank variants as cascades (models/cascades/{primal, primal_causal, lowrank_linear,
// linformer}.json): the step kinds they add to the cascade IR (gather, prefix_mean, add_row, a sum of
// two contractions) with their JSON errors and mapping rules, and functional truth: each cascade
// lowered by the generic lowering, run in the executor (program order and random legal orders),
// against the independent references of support/reference.h, under the mapping the compiler picks
// and under random legal mappings (groups, loops, tiles, streaming, buffering drawn at random).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "cascade/builtin.h"
#include "cascade/cascade.h"
#include "cascade/lower.h"
#include "cascade/mapping.h"
#include "common/errors.h"
#include "config/hw_config.h"
#include "ir/executor.h"
#include "support/cascade_harness.h"
#include "support/reference.h"

using namespace attnsim;
using namespace attnsim::cascade;

namespace {

constexpr double kTolerance = 1e-4;

HwConfig lr_hw(int side, std::int64_t sram_kib, bool softmax_unit) {
  return test::cascade_test_hw(side, sram_kib, softmax_unit);
}

std::string file_of(const std::string& stem) {
  return std::string(ATTNSIM_SOURCE_DIR) + "/models/cascades/" + stem + ".json";
}

struct Shape {
  std::int64_t n, d, s, p;
};

Cascade bind(const std::string& stem, const Shape& sh) {
  return bind_cascade(load_cascade(file_of(stem)),
                      {{"N", double(sh.n)}, {"d", double(sh.d)}, {"s", double(sh.s)}, {"p", double(sh.p)}}, false);
}

// One DRAM tensor per cascade input, output and spilled intermediate; `shared` inputs once (weights).
using Harness = test::CascadeHarness;
Harness make_harness(const Cascade& c, const CascadePlan& plan, int heads, const std::vector<std::string>& shared) {
  return test::make_cascade_harness(c, plan, heads, 2, shared);
}

// The reference output of one instance from its inputs (by cascade tensor name).
ref::Mat reference(const std::string& stem, const Shape& sh, const std::map<std::string, ref::Mat>& in) {
  const std::int64_t n = sh.n, d = sh.d, s = sh.s;
  auto at = [&](const char* name) -> const ref::Mat& { return in.at(name); };
  if (stem == "lowrank_linear")
    return ref::lowrank_linear_attention(at("Q"), at("K"), at("V"), n, d, s, at("WQ"), at("WKT"));
  if (stem == "linformer")
    return ref::linformer_attention(at("Q"), at("K"), at("V"), n, d, s, at("E"), at("F"), 1 / std::sqrt(double(d)));
  ref::Mat wc = at("WcE");
  wc.insert(wc.end(), at("WcR").begin(), at("WcR").end());  // Wc = [WcE; WcR] (2s x d)
  if (stem == "primal_causal")
    return ref::primal_causal_attention(at("Q"), at("K"), n, d, s, at("WeT"), at("WrT"), wc, at("bc"));
  // The reference gathers head 0 of an n x d "layer input" itself.
  return ref::primal_attention(at("X"), n, d, 0, d, at("Q"), at("K"), s, sh.p, at("WeS"), at("WrS"), wc, at("bc"));
}

// Lowers c under m for `heads` instances, runs it under each executor seed and compares every
// instance's O with the reference.
void check_cascade(const std::string& stem, const Shape& sh, const HwConfig& hw, const Cascade& c, const Mapping& m,
                   int heads, const std::vector<std::uint64_t>& seeds, const std::vector<std::string>& shared) {
  INFO(stem << " N " << sh.n << " d " << sh.d << " s " << sh.s << " p " << sh.p << " heads " << heads
            << "; mapping: " << mapping_to_json(c, m).dump());
  const CascadePlan plan = plan_cascade(c, m, hw, std::uint64_t(hw.sram.total_bytes()));
  const Harness h = make_harness(c, plan, heads, shared);
  const TileProgram p = lower_program(hw, plan, h.tensors, h.bindings);
  std::vector<ref::Mat> data(c.desc.tensors.size());
  for (std::size_t t = 0; t < c.desc.tensors.size(); ++t)
    if (c.desc.tensors[t].role == TensorRole::Input && h.tensor_of[t] >= 0)
      data[t] = ref::random_values(std::size_t(h.tensors[std::size_t(h.tensor_of[t])].rows * c.cols(int(t))),
                                   1000 + 17 * t + std::uint64_t(sh.n));
  Executor ex(p, std::uint64_t(hw.sram.total_bytes()));
  const int to = h.tensor_of[std::size_t(c.desc.tensor_index("O"))];
  for (std::uint64_t seed : seeds) {
    INFO("executor seed " << seed);
    for (std::size_t t = 0; t < data.size(); ++t)
      if (!data[t].empty()) ex.set_tensor(h.tensor_of[t], data[t]);
    ex.run(seed);
    const ref::Mat o = ex.tensor(to);
    for (int i = 0; i < heads; ++i) {
      std::map<std::string, ref::Mat> in;
      for (std::size_t t = 0; t < data.size(); ++t) {
        if (data[t].empty()) continue;
        const bool one = std::find(shared.begin(), shared.end(), c.desc.tensors[t].name) != shared.end();
        const std::int64_t rows = c.rows(int(t)), cols = c.cols(int(t));
        in[c.desc.tensors[t].name] = ref::block(data[t], cols, one ? 0 : i * rows, rows, 0, cols);
      }
      INFO("instance " << i);
      CHECK(ref::max_rel_error(ref::block(o, sh.d, i * sh.n, sh.n, 0, sh.d), reference(stem, sh, in)) < kTolerance);
    }
  }
}

int step_writing(const Cascade& c, const char* out) { return c.producer(c.desc.tensor_index(out)); }

// The compiler's mapping shape: the groups its variant has (global reduction / barrier, then the
// token stream), token tiles `tile` over the row rank.
Mapping compiler_like(const std::string& stem, const Cascade& c, const HwConfig& hw, std::int64_t tile,
                      std::int64_t chunk) {
  Mapping m = whole_mapping(c, hw);
  auto steps = [&](const char* a, const char* b) {
    std::vector<int> v;
    for (int s = step_writing(c, a); s <= step_writing(c, b); ++s) v.push_back(s);
    return v;
  };
  const int mr = c.desc.rank_index("m");
  if (stem == "lowrank_linear")
    m.groups = {{steps("KpT", "M"), {{c.desc.rank_index("p"), chunk}}, {}, {}}, {steps("Qp", "O"), {{mr, tile}}, {}, {}}};
  else if (stem == "linformer")
    m.groups = {{steps("Kt", "Vt"), {{c.desc.rank_index("p"), chunk}}, {}, {}}, {steps("S", "O"), {{mr, tile}}, {}, {}}};
  else if (stem == "primal")
    m.groups = {{steps("Xs", "WrT"), {{c.desc.rank_index("j"), chunk}}, {}, {}}, {steps("Qn", "O"), {{mr, tile}}, {}, {}}};
  else
    m.groups = {{steps("Qm", "O"), {{mr, tile}}, {}, {}}};
  return m;
}

const char* const kStems[] = {"primal", "primal_causal", "lowrank_linear", "linformer"};

std::vector<std::string> shared_of(const std::string& stem) {
  if (stem == "linformer") return {"E", "F"};
  if (stem == "lowrank_linear") return {};
  return {"WcE", "WcR", "bc"};
}

}  // namespace

TEST_CASE("cascade lowrank: the low-rank cascade files parse into the step kinds they need", "[cascade][lowrank]") {
  const Shape sh{40, 8, 3, 7};
  const Cascade primal = bind("primal", sh);
  CHECK(primal.step(step_writing(primal, "Xs")).kind == StepKind::Gather);
  const StepDecl& y = primal.step(step_writing(primal, "Y"));
  CHECK(y.kind == StepKind::Contract);
  CHECK(y.in.size() == 4);  // [E | R] Wc as E WcE + R WcR
  CHECK(primal.step(step_writing(primal, "O")).map == MapOp::AddRow);
  CHECK(primal.step(step_writing(primal, "E")).b_transposed);  // WeT[r,e] read as its transpose
  CHECK(primal.extent[std::size_t(primal.desc.rank_index("j"))] == 7);
  const Cascade causal = bind("primal_causal", sh);
  const StepDecl& qm = causal.step(step_writing(causal, "Qm"));
  CHECK(qm.map == MapOp::PrefixMean);
  CHECK(qm.over == causal.desc.rank_index("m"));
  CHECK(bind("lowrank_linear", sh).desc.steps.size() == 6);
  CHECK(bind("linformer", sh).step(3).mask == Mask::None);
  // The compiler lowers the embedded copies: the same documents.
  for (const char* stem : {"primal", "primal_causal", "lowrank_linear", "linformer"})
    CHECK(builtin_cascade_json(stem) == read_json_file(file_of(stem)));
}

TEST_CASE("cascade lowrank: errors of the new step kinds name the file, the path and the rule",
          "[cascade][lowrank][errors]") {
  // One document, each step wrong in one way (each writes its own output, so no error hides another).
  const Json doc = Json::parse(R"json({
    "name": "bad", "ranks": {"m": 4, "e": 3, "r": 2, "t": 5, "f": 3, "j": 2},
    "inputs": {"Q": ["m","e"], "A": ["m","r"], "B": ["r","f"], "C": ["m","t"], "D": ["t","f"], "X": ["t","e"]},
    "outputs": {"O1": ["m","e"], "O2": ["m","f"], "O3": ["m","f"], "O4": ["m","t"], "O5": ["j","e"]},
    "steps": [{"out": "O1[m,e]", "op": "prefix_mean", "over": "e", "in": "Q"},
              "O2[m,f] = A[m,r] * B[r,f] + B[r,f] * A[m,r]",
              "O3[m,f] = A[m,r] * B[r,f] + C[m,t] * D[t,f]",
              {"out": "O4[m,t]", "op": "add_row", "in": ["C", "Q"]},
              {"out": "O5[j,e]", "op": "gather", "in": "X", "over": "t"}]})json");
  try {
    parse_cascade(doc, "p.json");
    FAIL("accepted");
  } catch (const UserError& e) {
    const std::string w = e.what();
    INFO(w);
    CHECK(w.find("p.json: /steps/0/over: prefix_mean scans the row (first) rank of Q") != std::string::npos);
    CHECK(w.find("p.json: /steps/1: each term of a sum of contractions is X[m,r] * Y[r,f]") != std::string::npos);
    CHECK(w.find("p.json: /steps/2: both terms of a sum of contractions sum over the same rank (r, t)") !=
          std::string::npos);
    CHECK(w.find("p.json: /steps/3/in: add_row adds a bias b[u,b] (u of extent 1) to X[a,b]") != std::string::npos);
    CHECK(w.find("p.json: /steps/4: gather takes no \"over\" or \"scale\"") != std::string::npos);
  }
  Json g = doc;
  g["steps"] = Json::array({Json{{"out", "O5[j,e]"}, {"op", "gather"}, {"in", "A"}}});
  g["outputs"] = Json{{"O5", Json::array({"j", "e"})}};
  try {
    parse_cascade(g, "g.json");
    FAIL("accepted");
  } catch (const UserError& e) {
    CHECK(std::string(e.what()).find("g.json: /steps/0/out: gather writes [sample rank, the column rank of A]") !=
          std::string::npos);
  }
  // Binding: more samples than rows, a bias with more than one row.
  Json b = read_json_file(file_of("primal"));
  b["ranks"]["u"] = "2";
  try {
    bind_cascade(parse_cascade(b, "b.json"), {{"N", 10}, {"d", 4}, {"s", 2}, {"p", 11}}, false);
    FAIL("accepted");
  } catch (const UserError& e) {
    const std::string w = e.what();
    INFO(w);
    CHECK(w.find("b.json: /steps/0/out: gather takes at most as many rows as X has") != std::string::npos);
    CHECK(w.find("b.json: /steps/10/in: add_row's bias bc must have one row") != std::string::npos);
  }
  // Mapping rules: the prefix mean's carry needs whole rows; a gather loads whole rows.
  const HwConfig hw = lr_hw(8, 256, true);
  const Cascade c = bind("primal_causal", {24, 8, 3, 1});
  Mapping m = whole_mapping(c, hw);
  m.groups[0].loops = {{c.desc.rank_index("m"), 8}, {c.desc.rank_index("e"), 4}};
  std::vector<std::string> p = check_mapping(c, m, hw, 1 << 20);
  REQUIRE(!p.empty());
  CHECK(p[0].find("/groups/0: Qm carries whole rows over e; do not loop over it or stream it") != std::string::npos);
  const Cascade pc = bind("primal", {24, 8, 3, 5});
  Mapping gm = whole_mapping(pc, hw);
  gm.groups[0].stream = {{pc.desc.rank_index("e"), 4}};
  p = check_mapping(pc, gm, hw, 1 << 20);
  bool named = false;
  for (const std::string& x : p) named |= x.find("/groups/0/stream/e: gather Xs loads whole rows") != std::string::npos;
  CHECK(named);
}

TEST_CASE("cascade lowrank: each low-rank cascade under the compiler's mapping shape matches its reference",
          "[cascade][lowrank][functional]") {
  // Several token tiles with a short last one (N = 44, tiles of 12; K/V and sample chunks of 16 and 3),
  // two heads, the shared weights bound once for both; SOFTMAX on its unit and on the vector unit.
  for (bool softmax_unit : {true, false}) {
    const HwConfig hw = lr_hw(8, 256, softmax_unit);
    for (const char* stem : kStems) {
      const Shape sh{44, 8, 5, 7};
      const Cascade c = bind(stem, sh);
      const std::string st = stem;
      check_cascade(stem, sh, hw, c, compiler_like(st, c, hw, 12, st == "primal" ? 3 : 16), 2, {0, 1, 2, 3},
                    shared_of(stem));
      // Whole: one tile per rank, and p = 1 (the last token only) for primal.
      const Shape one{30, 8, 4, 1};
      const Cascade w = bind(stem, one);
      check_cascade(stem, one, hw, w, compiler_like(st, w, hw, 30, st == "primal" ? 1 : 30), 2, {0, 5}, {});
    }
  }
}

TEST_CASE("cascade lowrank: random legal mappings of each low-rank cascade match the reference",
          "[cascade][lowrank][functional]") {
  // Any partition of the steps into groups, any subset of their ranks looped in any order with any
  // tile, a rank streamed now and then, 1 or 2 buffers per tensor: what check_mapping accepts must
  // compute the reference (the issue's property: every mapping the mapper can pick runs correctly).
  const HwConfig hw = lr_hw(8, 256, false);
  std::mt19937_64 rng(4711), rng_interleave(815);
  auto pick = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  int interleaved = 0;
  for (const char* stem : kStems) {
    int legal = 0, multi_group = 0;
    for (int i = 0; i < 300 && legal < 14; ++i) {
      const Shape sh{pick(6, 30), pick(2, 9), pick(1, 6), 0};
      Shape s2 = sh;
      s2.p = pick(1, sh.n);
      if (std::string(stem) == "linformer") s2.s = std::min(s2.s, s2.n);
      const Cascade c = bind(stem, s2);
      Mapping m = whole_mapping(c, hw);
      m.groups.clear();
      const int nsteps = int(c.desc.steps.size());
      for (int s = 0; s < nsteps; ++s) {
        if (m.groups.empty() || pick(0, 3) == 0) m.groups.emplace_back();
        m.groups.back().steps.push_back(s);
      }
      for (GroupMapping& g : m.groups) {
        std::vector<int> ranks;
        for (int s : g.steps)
          for (int r : c.step_ranks(s))
            if (std::find(ranks.begin(), ranks.end(), r) == ranks.end()) ranks.push_back(r);
        std::shuffle(ranks.begin(), ranks.end(), rng);
        for (int r : ranks) {
          const std::int64_t ext = c.extent[std::size_t(r)];
          const int what = int(pick(0, 5));
          if (what <= 2)
            g.loops.push_back({r, pick(1, ext)});
          else if (what == 3 && g.stream.empty())
            g.stream.push_back({r, pick(1, ext)});
        }
      }
      for (TensorMapping& t : m.tensors) t.buffers = int(pick(1, 2));
      // Interleaved heads (2 or 3 per pass) in some groups, drawn apart so the other draws stay as they were.
      for (GroupMapping& g : m.groups)
        if (std::uniform_int_distribution<int>(0, 2)(rng_interleave) == 0)
          g.interleave = std::uniform_int_distribution<int>(2, 3)(rng_interleave);
      const int heads = int(pick(1, 2)) + std::uniform_int_distribution<int>(0, 1)(rng_interleave);
      if (!check_mapping(c, m, hw, std::uint64_t(hw.sram.total_bytes())).empty()) {
        // The same mapping without interleaving may be legal: draw it so (the draws above stay as they were).
        for (GroupMapping& g : m.groups) g.interleave = 1;
        if (!check_mapping(c, m, hw, std::uint64_t(hw.sram.total_bytes())).empty()) continue;
      }
      ++legal;
      multi_group += m.groups.size() > 1;
      for (const GroupMapping& g : m.groups) interleaved += g.interleave > 1 && heads > 1;
      INFO("draw " << i);
      check_cascade(stem, s2, hw, c, m, heads, {0, std::uint64_t(pick(1, 1000))}, shared_of(stem));
    }
    INFO(stem);
    CHECK(legal >= 10);
    CHECK(multi_group >= 3);
  }
  CHECK(interleaved >= 8);
}

TEST_CASE("cascade lowrank: Linformer's heads interleaved load each tile of E and F once per chunk",
          "[cascade][lowrank][functional][interleave]") {
  // N = 44 in K/V tiles of 12 (4 tiles, the last of 8), 3 heads, E and F one block for all of them.
  // Heads one at a time: every head loads E's 4 tiles (12 loads of E). Interleaved 2 per pass: the
  // chunks {0, 1} and {2} each walk the 4 tiles once, 8 loads of E, and the results are the same.
  const HwConfig hw = lr_hw(8, 256, true);
  const Shape sh{44, 8, 5, 0};
  const Cascade c = bind("linformer", sh);
  CHECK(c.tensor(c.desc.tensor_index("E")).shared);
  CHECK(c.tensor(c.desc.tensor_index("F")).shared);
  CHECK(!c.tensor(c.desc.tensor_index("K")).shared);
  for (int interleave : {1, 2, 3}) {
    Mapping m = compiler_like("linformer", c, hw, 12, 12);
    m.groups[0].interleave = interleave;
    m.tensors[std::size_t(c.desc.tensor_index("Kt"))].buffers = 1;
    INFO("interleave " << interleave);
    check_cascade("linformer", sh, hw, c, m, 3, {0, 1, 2}, shared_of("linformer"));
    const CascadePlan plan = plan_cascade(c, m, hw, std::uint64_t(hw.sram.total_bytes()));
    // Kt (k x d fp32, 1 slot) once per interleaved head; Vt (2 slots) twice per head.
    const BufferPlan& kt = plan.groups[0].buffers[std::size_t(plan.groups[0].buffer_of[std::size_t(c.desc.tensor_index("Kt"))])];
    CHECK(kt.copies == interleave);
    CHECK(kt.span_bytes() == std::uint64_t(interleave - 1) * ((5 * 8 * 4 + 63) / 64 * 64) + 5 * 8 * 4);
    const Harness h = make_harness(c, plan, 3, shared_of("linformer"));
    const TileProgram p = lower_program(hw, plan, h.tensors, h.bindings);
    const TensorInfo& e = h.tensors[std::size_t(h.tensor_of[std::size_t(c.desc.tensor_index("E"))])];
    int e_loads = 0;
    for (const Instr& in : p.instrs)
      e_loads += in.op == Opcode::Load && in.dram_addr >= e.dram_base && in.dram_addr < e.dram_base + e.bytes();
    CHECK(e_loads == 4 * (interleave == 1 ? 3 : interleave == 2 ? 2 : 1));
  }
  // The JSON form round-trips the interleave; a group with state of its own refuses it.
  Mapping m = compiler_like("linformer", c, hw, 12, 12);
  m.groups[0].interleave = 2;
  const Json j = mapping_to_json(c, m);
  CHECK(j["groups"][0]["interleave"] == 2);
  CHECK(!j["groups"][1].contains("interleave"));
  CHECK(mapping_to_json(c, parse_mapping(j, "m.json", c, hw)) == j);
  Mapping online = whole_mapping(c, hw);
  online.groups = {{{0, 1}, {{c.desc.rank_index("p"), 12}}, {}, {}},
                   {{2, 3, 4}, {{c.desc.rank_index("m"), 12}, {c.desc.rank_index("k"), 4}}, {}, {}}};
  REQUIRE(check_mapping(c, online, hw, 1 << 20).empty());
  online.groups[1].interleave = 2;
  const std::vector<std::string> p = check_mapping(c, online, hw, 1 << 20);
  REQUIRE(!p.empty());
  CHECK(p[0].find("/groups/1/interleave: P keeps state across the loops (online softmax statistics)") !=
        std::string::npos);
  Json bad = j;
  bad["groups"][0]["interleave"] = 0;
  CHECK_THROWS_WITH(parse_mapping(bad, "m.json", c, hw), Catch::Contains("m.json: /groups/0/interleave"));
}

TEST_CASE("cascade lowrank: primal's [E | R] Wc is one GEMM of K = 2 s per token tile", "[cascade][lowrank]") {
  // N = 44 in tiles of 12: 4 tiles per head, 2 heads. Eo and Ro share one buffer side by side, WcE and
  // WcR one above the other, so Y = Eo WcE + Ro WcR runs as [Eo | Ro] [WcE; WcR]: 8 GEMMs with K = 2 s =
  // 10 (M = 12, 12, 12, 8), and no GEMM with K = s = 5 reads Eo's buffer. The stream's GEMMs are then
  // E, R and Y per tile: 24; the global group's WeT and WrT, one per head each (p = 7 whole): 4.
  const HwConfig hw = lr_hw(8, 256, true);
  const Shape sh{44, 8, 5, 7};
  const Cascade c = bind("primal", sh);
  const CascadePlan plan =
      plan_cascade(c, compiler_like("primal", c, hw, 12, 7), hw, std::uint64_t(hw.sram.total_bytes()));
  const Harness h = make_harness(c, plan, 2, shared_of("primal"));
  const TileProgram p = lower_program(hw, plan, h.tensors, h.bindings);
  int gemms = 0, concat = 0;
  for (const Instr& in : p.instrs) {
    if (in.op != Opcode::Gemm) continue;
    ++gemms;
    if (in.k == 10) {
      ++concat;
      CHECK(in.n == 8);
      CHECK(in.a.stride() == 10);  // [Eo | Ro]: rows of 2 s operands
    }
  }
  CHECK(concat == 8);
  CHECK(gemms == 24 + 4);
}
