// Performer (FAVOR+) and Nystromformer as cascades (src/compiler/favor_nystrom_lowering.*): the
// step kinds they need (favor, segment_mean, pinv, matrix-vector contractions) in JSON with
// path-aware errors and mapping rules; the built-in descriptions equal models/cascades/*.json; the
// default mappings and random legal mappings, lowered by the generic lowering and run in the
// functional executor (program order and random legal orders), against the independent references
// (support/reference.h: performer_attention, nystromformer_attention, in double). Both variants are
// non-causal only (graph.h), so there is no causal case.
#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "../fuzz/fuzz_targets.h"
#include "cascade/cascade.h"
#include "cascade/lower.h"
#include "cascade/mapping.h"
#include "common/errors.h"
#include "compiler/favor_nystrom_lowering.h"
#include "config/hw_config.h"
#include "ir/executor.h"
#include "support/cascade_harness.h"
#include "support/reference.h"

using namespace attnsim;
using namespace attnsim::cascade;

namespace {

constexpr double kTolerance = 1e-4;

HwConfig fn_hw(int side, std::int64_t sram_kib, bool softmax_unit = true) {
  return test::cascade_test_hw(side, sram_kib, softmax_unit);
}

Cascade bind_variant(const Json& doc, std::int64_t n, std::int64_t d, std::int64_t s) {
  return bind_cascade(parse_cascade(doc, doc["name"].get<std::string>()),
                      {{"N", double(n)}, {"d", double(d)}, {"s", double(s)}}, false);
}

int rank_of(const Cascade& c, const char* r) { return c.desc.rank_index(r); }
int step_of(const Cascade& c, const char* out) {
  for (std::size_t s = 0; s < c.desc.steps.size(); ++s)
    if (c.tensor(c.step(int(s)).out).name == out) return int(s);
  FAIL("no step writes " << out);
  return -1;
}

// DRAM tensors for `heads` instances: per-head tensors stacked by rows; the shared ones (W, WT, ones,
// I: one block that every head reads, as the model binds them) once.
using Harness = test::CascadeHarness;
Harness make_harness(const Cascade& c, const CascadePlan& plan, int heads) {
  return test::make_cascade_harness(c, plan, heads, 2, {"W", "WT", "ones", "I"});
}

// Lowers cascade c under mapping m for `heads` heads, runs it under each seed and compares every
// head's O with the reference. Returns the program's counts (for the callers' checks).
ProgramCounts check_variant(const HwConfig& hw, const Cascade& c, const Mapping& m, int heads,
                            const std::vector<std::uint64_t>& seeds) {
  INFO("mapping: " << describe(c, m));
  const CascadePlan plan = plan_cascade(c, m, hw, std::uint64_t(hw.sram.total_bytes()));
  const Harness h = make_harness(c, plan, heads);
  const TileProgram p = lower_program(hw, plan, h.tensors, h.bindings);
  const bool performer = c.desc.name == "performer";
  const std::int64_t n = c.extent[std::size_t(rank_of(c, "m"))], d = c.extent[std::size_t(rank_of(c, "e"))],
                     s = c.extent[std::size_t(rank_of(c, performer ? "r" : "i"))];
  auto tensor = [&](const char* name) { return h.tensor_of[std::size_t(c.desc.tensor_index(name))]; };
  // Q, K, V scaled to [-0.5, 0.5] as a layer's would be; the random features W in [-1, 1].
  auto scaled = [](ref::Mat m, float f) {
    for (float& x : m) x *= f;
    return m;
  };
  const ref::Mat q = scaled(ref::random_values(std::size_t(heads * n * d), 101 + std::uint64_t(n)), 0.5f),
                 k = scaled(ref::random_values(std::size_t(heads * n * d), 202 + std::uint64_t(d)), 0.5f),
                 v = ref::random_values(std::size_t(heads * n * d), 303);
  const ref::Mat w = ref::random_values(std::size_t(d * s), 404);
  ref::Mat ident(std::size_t(s * s), 0.f);
  for (std::int64_t i = 0; i < s; ++i) ident[std::size_t(i * s + i)] = 1.f;
  Executor ex(p, hw.onchip_bytes());
  for (std::uint64_t seed : seeds) {
    INFO("executor seed " << seed);
    ex.set_tensor(tensor("Q"), q);
    ex.set_tensor(tensor("K"), k);
    ex.set_tensor(tensor("V"), v);
    if (performer) {
      ex.set_tensor(tensor("W"), w);
      ex.set_tensor(tensor("WT"), ref::transpose(w, d, s));
      ex.set_tensor(tensor("ones"), ref::Mat(std::size_t(n), 1.f));
    } else {
      ex.set_tensor(tensor("I"), ident);
    }
    ex.run(seed);
    const ref::Mat o = ex.tensor(tensor("O"));
    for (int i = 0; i < heads; ++i) {
      const ref::Mat qi = ref::block(q, d, i * n, n, 0, d), ki = ref::block(k, d, i * n, n, 0, d),
                     vi = ref::block(v, d, i * n, n, 0, d);
      const ref::Mat want = performer ? ref::performer_attention(qi, ki, vi, n, d, s, w)
                                      : ref::nystromformer_attention(qi, ki, vi, n, d, s);
      INFO("head " << i);
      CHECK(ref::max_rel_error(ref::block(o, d, i * n, n, 0, d), want) < kTolerance);
    }
  }
  return count_program(ProgramSource::of(p));
}

}  // namespace

TEST_CASE("favor/nystrom: the built-in cascades are models/cascades/performer.json and nystromformer.json",
          "[cascade][favor_nystrom]") {
  for (const char* name : {"performer", "nystromformer"}) {
    INFO(name);
    const Json& builtin = std::string(name) == "performer" ? performer_cascade_json() : nystromformer_cascade_json();
    const CascadeDesc a = parse_cascade(builtin, name);
    const CascadeDesc b =
        load_cascade(std::string(ATTNSIM_SOURCE_DIR) + "/models/cascades/" + std::string(name) + ".json");
    CHECK(a.name == b.name);
    REQUIRE(a.tensors.size() == b.tensors.size());
    for (std::size_t t = 0; t < a.tensors.size(); ++t) {
      CHECK(a.tensors[t].name == b.tensors[t].name);
      CHECK(a.tensors[t].ranks == b.tensors[t].ranks);
    }
    REQUIRE(a.steps.size() == b.steps.size());
    for (std::size_t s = 0; s < a.steps.size(); ++s) {
      CHECK(a.steps[s].kind == b.steps[s].kind);
      CHECK(a.steps[s].in == b.steps[s].in);
      CHECK(a.steps[s].out == b.steps[s].out);
      CHECK(a.steps[s].scale == b.steps[s].scale);
      CHECK(a.steps[s].iterations == b.steps[s].iterations);
    }
  }
  // The step kinds as parsed: favor over columns for the keys (KfT[r,p] from K[p,e]), over rows for
  // the queries; its scale defaults to e^(-1/4) = 16^(-1/4) = 0.5; z is a matrix-vector product.
  const Cascade p = bind_variant(performer_cascade_json(), 40, 16, 12);
  CHECK(p.step(step_of(p, "KfT")).kind == StepKind::Favor);
  CHECK(p.step(step_of(p, "KfT")).tokens_in_cols);
  CHECK(!p.step(step_of(p, "Qf")).tokens_in_cols);
  CHECK(p.scale[std::size_t(step_of(p, "Qf"))] == Approx(0.5));
  CHECK(p.step(step_of(p, "z")).kind == StepKind::Contract);
  CHECK(p.step(step_of(p, "z")).over == rank_of(p, "p"));
  CHECK(p.cols(p.desc.tensor_index("z")) == 1);
  const Cascade y = bind_variant(nystromformer_cascade_json(), 40, 16, 8);
  CHECK(y.step(step_of(y, "Qs")).kind == StepKind::SegmentMean);
  CHECK(y.step(step_of(y, "Qs")).over == rank_of(y, "m"));
  CHECK(y.tensor(y.desc.tensor_index("Qs")).elem == ElemKind::Accumulator);
  CHECK(y.step(step_of(y, "Z")).kind == StepKind::Pinv);
  CHECK(y.step(step_of(y, "Z")).iterations == 6);
}

TEST_CASE("favor/nystrom: every problem of the new step kinds is reported at once with its path",
          "[cascade][favor_nystrom][errors]") {
  // (A step whose output is refused leaves its tensor undefined, so its readers are reported too:
  // the cases below keep the refused steps apart.)
  Json seg = nystromformer_cascade_json();
  seg["steps"][0]["out"] = "Qs[i,m]";  // segment_mean keeps the second rank
  try {
    parse_cascade(seg, "s.json");
    FAIL("accepted");
  } catch (const UserError& e) {
    CHECK(std::string(e.what()).find("s.json: /steps/0/out: segment_mean writes L[i,e] from X[m,e]") !=
          std::string::npos);
  }
  Json doc = nystromformer_cascade_json();
  doc["steps"][9]["iterations"] = 0;                 // 1 .. 64
  doc["steps"][9]["in"] = Json::array({"A", "SA"});  // the identity is indexed [j,i]
  doc["steps"][1]["over"] = "p";                     // segment_mean takes no over
  doc["steps"][2]["iterations"] = 3;                 // only pinv
  try {
    parse_cascade(doc, "n.json");
    FAIL("accepted");
  } catch (const UserError& e) {
    const std::string w = e.what();
    INFO(w);
    CHECK(w.find("n.json: /steps/1/over: segment_mean takes no \"over\"") != std::string::npos);
    CHECK(w.find("n.json: /steps/2/iterations: only pinv takes \"iterations\"") != std::string::npos);
    CHECK(w.find("n.json: /steps/9/iterations:") != std::string::npos);
    CHECK(w.find("n.json: /steps/9/in: pinv's second input is the identity, indexed like A transposed (j,i)") !=
          std::string::npos);
  }
  Json per = performer_cascade_json();
  per["steps"][1]["in"] = Json::array({"KwT", "V"});  // V[p,f]: the token indexes KwT, f is the norm's: fine
  per["steps"][5]["in"] = Json::array({"Qw", "K"});   // K[p,e]: p does not index Qw[m,r]
  per["steps"][3] = "z[r] = KfT[r,p] * ones[r]";      // a matrix-vector product sums the shared rank
  try {
    parse_cascade(per, "p.json");
    FAIL("accepted");
  } catch (const UserError& e) {
    const std::string w = e.what();
    INFO(w);
    CHECK(w.find("p.json: /steps/5/in: favor: the first rank of K (the token) must index Qw too") != std::string::npos);
    CHECK(w.find("p.json: /steps/3: ") != std::string::npos);
    CHECK(w.find("p.json: /steps/1/") == std::string::npos);
  }
  // Binding: more segments than rows.
  try {
    bind_variant(nystromformer_cascade_json(), 8, 4, 9);
    FAIL("accepted");
  } catch (const UserError& e) {
    CHECK(std::string(e.what()).find("nystromformer: /steps/0/out: segment_mean makes at most as many segments") !=
          std::string::npos);
  }
}

TEST_CASE("favor/nystrom: mappings that split what a step needs whole are refused with the rule",
          "[cascade][favor_nystrom][mapping]") {
  const HwConfig hw = fn_hw(8, 256);
  const Cascade p = bind_variant(performer_cascade_json(), 64, 16, 12);
  Mapping m = favor_nystrom_default_mapping(p, hw, std::uint64_t(hw.sram.total_bytes()), "test");
  CHECK(check_mapping(p, m, hw, std::uint64_t(hw.sram.total_bytes())).empty());
  m.groups[1].loops.push_back({rank_of(p, "r"), 4});  // the features of Qf tiled: 1 / sqrt(m) needs them all
  const std::vector<std::string> pr = check_mapping(p, m, hw, std::uint64_t(hw.sram.total_bytes()));
  REQUIRE(!pr.empty());
  CHECK(pr[0].find("/groups/1/loops/1: Qf needs its features and the norm on chip: keep rank r whole") !=
        std::string::npos);
  const Cascade y = bind_variant(nystromformer_cascade_json(), 64, 16, 8);
  Mapping n = favor_nystrom_default_mapping(y, hw, std::uint64_t(hw.sram.total_bytes()), "test");
  n.groups[1].loops.push_back({rank_of(y, "i"), 4});  // A's rows tiled: pinv needs the whole matrix
  const std::vector<std::string> yr = check_mapping(y, n, hw, std::uint64_t(hw.sram.total_bytes()));
  bool pinv = false;
  for (const std::string& s : yr)
    pinv |= s.find("Z needs the whole matrix on chip: keep rank i whole") != std::string::npos;
  CHECK(pinv);
  // The landmarks themselves streamed: segment_mean keeps its segments whole.
  Mapping q = favor_nystrom_default_mapping(y, hw, std::uint64_t(hw.sram.total_bytes()), "test");
  q.groups[0].stream.push_back({rank_of(y, "i"), 4});
  bool seg = false;
  for (const std::string& s : check_mapping(y, q, hw, std::uint64_t(hw.sram.total_bytes())))
    seg |= s.find("Qs needs its segments on chip: keep rank i whole") != std::string::npos;
  CHECK(seg);
  // Not even the smallest token tiles fit in 4 KiB (8 rows: one side of the 8x8 array, the planners'
  // smallest below 16). Group 0, each slot on a 64 B boundary: M 2 x 768, KwT 2 x 384, K and V
  // 2 x 256 each, WT 384, KfT 2 x 192, z 2 x 64 (48 B used), ones 2 x 64 = 4352 B, the last slot ending
  // 16 B early: 4336 B. The error names the SRAM, the group and the buffers.
  const HwConfig tiny = fn_hw(8, 4);
  try {
    favor_nystrom_default_mapping(p, tiny, std::uint64_t(tiny.sram.total_bytes()), "L0.attention");
    FAIL("accepted");
  } catch (const UserError& e) {
    const std::string w = e.what();
    INFO(w);
    CHECK(w.find("hw.json: /sram: L0.attention: performer's smallest token tiles (8 rows) do not fit: default mapping "
                 "of performer: /groups/0: the buffers need 4336 B") != std::string::npos);
    CHECK(w.find("the buffers need") != std::string::npos);
  }
}

TEST_CASE("favor/nystrom: the default mappings compute Performer and Nystromformer",
          "[cascade][favor_nystrom][functional]") {
  // Small SRAMs force several token tiles, the last one partial (N = 150 with tiles of 16 or 32);
  // N not a multiple of l makes segments of unequal length straddle token chunks; several heads share
  // W, WT, ones and I (one DRAM block): the lowering loads them once.
  struct Case {
    std::int64_t n, d, s;
    int side;
    std::int64_t kib;
  };
  std::set<std::uint64_t> ones_seen;
  for (const Case& k : {Case{150, 16, 20, 8, 32}, Case{64, 8, 12, 4, 16}, Case{90, 16, 17, 8, 64}}) {
    INFO("performer N " << k.n << " d " << k.d << " m " << k.s);
    const HwConfig hw = fn_hw(k.side, k.kib);
    const Cascade c = bind_variant(performer_cascade_json(), k.n, k.d, k.s);
    const Mapping m = favor_nystrom_default_mapping(c, hw, std::uint64_t(hw.sram.total_bytes()), "test");
    INFO(describe(c, m));
    CHECK(m.groups[0].loops[0].tile < k.n);  // several K/V tiles
    const ProgramCounts counts = check_variant(hw, c, m, 3, {0, 1, 2, 3, 5, 8});
    // MACs per head: W^T K^T, M, Q W, num: 4 N d m; z, den: 2 N m.
    const std::uint64_t n = std::uint64_t(k.n), d = std::uint64_t(k.d), s = std::uint64_t(k.s);
    CHECK(counts.macs == 3 * (4 * n * d * s + 2 * n * s));
    // DRAM bytes (2 B elements): W^T and W once for the three heads (one block, one slot); per head
    // K, V and Q once, M and z stored and loaded back once; O stored once. The ones column (one
    // block for all heads) is loaded per head when there are more K/V tiles than its two slots, else
    // once: its tiles are still there when the next head starts.
    const std::uint64_t kv_tiles =
        (n + std::uint64_t(m.groups[0].loops[0].tile) - 1) / std::uint64_t(m.groups[0].loops[0].tile);
    const std::uint64_t ones_loads = kv_tiles > 2 ? 3 : 1;
    ones_seen.insert(ones_loads);
    CHECK(counts.load_bytes == 2 * (2 * s * d) + ones_loads * 2 * n + 3 * 2 * (3 * n * d + s * d + s));
    CHECK(counts.store_bytes == 3 * 2 * (s * d + s + n * d));
  }
  CHECK(ones_seen.size() == 2);  // both: the ones tiles reloaded per head, and kept
  for (const Case& k :
       {Case{70, 16, 8, 4, 16}, Case{150, 16, 12, 8, 16}, Case{45, 8, 7, 8, 32}, Case{20, 8, 20, 4, 32}}) {
    INFO("nystromformer N " << k.n << " d " << k.d << " l " << k.s);
    const HwConfig hw = fn_hw(k.side, k.kib);
    const Cascade c = bind_variant(nystromformer_cascade_json(), k.n, k.d, k.s);
    const Mapping m = favor_nystrom_default_mapping(c, hw, std::uint64_t(hw.sram.total_bytes()), "test");
    INFO(describe(c, m));
    const ProgramCounts counts = check_variant(hw, c, m, 2, {0, 1, 2, 4, 7});
    // MACs per head: S N l d, O N l d, SB N l d, BV N l d; SA l^2 d, W l^2 d; pinv l^3 (A^T = I A^T)
    // + 6 x 4 l^3.
    const std::uint64_t n = std::uint64_t(k.n), d = std::uint64_t(k.d), l = std::uint64_t(k.s);
    CHECK(counts.macs == 2 * (4 * n * l * d + 2 * l * l * d + 25 * l * l * l));
    // DRAM bytes (2 B elements): I once for both heads; per head Q and K for the landmarks, K and V
    // for BV, Q for the scores (5 N d), the landmarks Q~ (stored, loaded once) and K~ (stored, loaded
    // by A's group and by the scores'), W (stored, loaded once); O stored.
    CHECK(counts.load_bytes == 2 * l * l + 2 * 2 * (5 * n * d + 4 * l * d));
    CHECK(counts.store_bytes == 2 * 2 * (3 * l * d + n * d));
  }
}

TEST_CASE("favor/nystrom: random legal mappings of both cascades compute the right numbers",
          "[cascade][favor_nystrom][functional]") {
  // Random token tiles, streams instead of loops, buffering depths and group splits (every
  // intermediate crossing a group boundary goes through DRAM), with and without a softmax unit;
  // illegal draws are skipped (check_mapping) and most draws are legal.
  std::mt19937_64 rng(4711);
  auto pick = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  int ran[2] = {0, 0};
  for (int i = 0; i < 48; ++i) {
    const bool performer = i % 2 == 0;
    const std::int64_t n = pick(6, 48), d = pick(2, 12),
                       s = performer ? pick(1, 10) : pick(1, std::min<std::int64_t>(n, 9));
    const HwConfig hw = fn_hw(int(pick(0, 1) ? 4 : 8), 256, pick(0, 1) != 0);
    const Cascade c = bind_variant(performer ? performer_cascade_json() : nystromformer_cascade_json(), n, d, s);
    const int mr = rank_of(c, "m"), pr = rank_of(c, "p");
    auto tiled = [&](int r) { return Loop{r, pick(1, c.extent[std::size_t(r)])}; };
    Mapping m = whole_mapping(c, hw);
    // Group boundaries: after a random subset of the steps (every cut is a legal partition).
    std::vector<int> cuts;
    for (std::size_t st = 0; st + 1 < c.desc.steps.size(); ++st)
      if (pick(0, 3) == 0) cuts.push_back(int(st));
    // The reductions over all keys must end before their readers start (performer: after z; nystrom:
    // after Kl and after W), so those cuts are always there.
    for (const char* after : performer ? std::vector<const char*>{"z"} : std::vector<const char*>{"Kl", "W"})
      cuts.push_back(step_of(c, after));
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    m.groups.clear();
    int from = 0;
    for (int cut : cuts) {
      GroupMapping g;
      for (int st = from; st <= cut; ++st) g.steps.push_back(st);
      m.groups.push_back(g);
      from = cut + 1;
    }
    GroupMapping last;
    for (int st = from; st < int(c.desc.steps.size()); ++st) last.steps.push_back(st);
    m.groups.push_back(last);
    // Per group: loop or stream the token rank(s) its steps use, or keep them whole.
    for (GroupMapping& g : m.groups) {
      std::set<int> ranks;
      for (int st : g.steps)
        for (int r : c.step_ranks(st)) ranks.insert(r);
      for (int r : {pr, mr}) {
        if (!ranks.count(r)) continue;
        const int how = int(pick(0, 2));
        if (how == 1) g.loops.push_back(tiled(r));
        if (how == 2) g.stream.push_back(tiled(r));
      }
    }
    for (TensorMapping& t : m.tensors) t.buffers = int(pick(1, 2));
    if (!check_mapping(c, m, hw, std::uint64_t(hw.sram.total_bytes())).empty()) continue;
    ++ran[performer ? 0 : 1];
    INFO("case " << i << (performer ? " performer" : " nystromformer") << ": N " << n << ", d " << d << ", s " << s);
    check_variant(hw, c, m, int(pick(1, 2)), {0, std::uint64_t(pick(1, 1000))});
  }
  INFO("legal draws: performer " << ran[0] << ", nystromformer " << ran[1]);
  CHECK(ran[0] >= 10);
  CHECK(ran[1] >= 10);
}

TEST_CASE("favor/nystrom: the cascade fuzz harness takes the new seeds (a user error at most)",
          "[cascade][favor_nystrom][fuzz]") {
  // fuzz/corpus/cascade/{performer,nystromformer}.json: the variants with their rank fixed, through
  // the harness's path (parsed, bound, the generic default mapping, lowered for one head).
  for (const char* name : {"performer", "nystromformer"}) {
    INFO(name);
    std::ifstream in(std::string(ATTNSIM_SOURCE_DIR) + "/fuzz/corpus/cascade/" + name + ".json");
    REQUIRE(in);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK_NOTHROW(attnsim::fuzz::cascade_file(text));
    CHECK_NOTHROW(attnsim::fuzz::cascade_file("1" + text.substr(1)));  // bound causal
  }
}
