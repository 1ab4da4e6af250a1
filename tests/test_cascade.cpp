// Cascades (src/cascade/): the JSON form and its errors, mapping legality, functional truth of the
// generic lowering (vanilla attention as one cascade under unfused, row-fused and flash mappings,
// fixed and random, causal and not; a GEMM) against the independent reference, and the comparison
// with the hand-written flash and row-fused emitters at the planners' tile sizes (DRAM bytes and
// MACs equal, simulated cycles no worse).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "cascade/cascade.h"
#include "cascade/lower.h"
#include "cascade/mapping.h"
#include "common/errors.h"
#include "compiler/attention_lowering.h"
#include "compiler/model_lowering.h"
#include "config/hw_config.h"
#include "config/model_config.h"
#include "hw/accelerator.h"
#include "ir/executor.h"
#include "ir/graph.h"
#include "support/attention_emitters.h"
#include "support/cascade_harness.h"
#include "support/isolated.h"
#include "support/reference.h"
#include "support/small_model.h"

using namespace attnsim;
using namespace attnsim::cascade;

namespace {

constexpr double kTolerance = 1e-4;

HwConfig small_hw(int side = 8, std::int64_t sram_kib = 256, bool softmax_unit = true) {
  return test::cascade_test_hw(side, sram_kib, softmax_unit);
}

Cascade vanilla(std::int64_t n, std::int64_t d, bool causal) {
  return bind_cascade(parse_cascade(vanilla_attention_json(), "vanilla"), {{"N", double(n)}, {"d", double(d)}}, causal);
}

int rank_of(const Cascade& c, const char* name) { return c.desc.rank_index(name); }
int step_of(const Cascade& c, const char* out) {
  for (std::size_t s = 0; s < c.desc.steps.size(); ++s)
    if (c.tensor(c.step(int(s)).out).name == out) return int(s);
  return -1;
}

// Program tensors for `heads` instances of a cascade, heads stacked by rows; bindings of each head.
using Harness = test::CascadeHarness;
Harness make_harness(const Cascade& c, const CascadePlan& plan, int heads, int elem_bytes) {
  return test::make_cascade_harness(c, plan, heads, elem_bytes);
}

// Runs vanilla attention for `heads` heads through the executor under each seed and compares every
// head's O with the reference.
// cosine: the cascade is models/cascades/cosine.json, O = softmax(10 l2norm(Q) l2norm(K)^T) V.
void check_attention(const HwConfig& hw, const Cascade& c, const Mapping& m, int heads,
                     const std::vector<std::uint64_t>& seeds, bool cosine = false) {
  INFO("mapping: " << mapping_to_json(c, m).dump());
  const CascadePlan plan = plan_cascade(c, m, hw, std::uint64_t(hw.sram.total_bytes()));
  const Harness h = make_harness(c, plan, heads, hw.array.operand_bytes);
  const TileProgram p = lower_program(hw, plan, h.tensors, h.bindings);
  const std::int64_t n = c.extent[std::size_t(rank_of(c, "m"))], d = c.extent[std::size_t(rank_of(c, "e"))];
  const int tq = h.tensor_of[std::size_t(c.desc.tensor_index("Q"))],
            tk = h.tensor_of[std::size_t(c.desc.tensor_index("K"))],
            tv = h.tensor_of[std::size_t(c.desc.tensor_index("V"))],
            to = h.tensor_of[std::size_t(c.desc.tensor_index("O"))];
  const ref::Mat q = ref::random_values(std::size_t(heads * n * d), 11 + std::uint64_t(n));
  const ref::Mat k = ref::random_values(std::size_t(heads * n * d), 23 + std::uint64_t(d));
  const ref::Mat v = ref::random_values(std::size_t(heads * n * d), 37);
  Executor ex(p, std::uint64_t(hw.sram.total_bytes()));
  for (std::uint64_t seed : seeds) {
    INFO("executor seed " << seed);
    ex.set_tensor(tq, q);
    ex.set_tensor(tk, k);
    ex.set_tensor(tv, v);
    ex.run(seed);
    const ref::Mat o = ex.tensor(to);
    for (int i = 0; i < heads; ++i) {
      ref::Mat qi = ref::block(q, d, i * n, n, 0, d), ki = ref::block(k, d, i * n, n, 0, d);
      if (cosine) qi = ref::l2_normalize_rows(qi, n, d), ki = ref::l2_normalize_rows(ki, n, d);
      const ref::Mat want =
          ref::attention(qi, ki, ref::block(v, d, i * n, n, 0, d), n, d, cosine ? 10.0 : 1 / std::sqrt(double(d)),
                         c.causal[std::size_t(step_of(c, "P"))] != 0);
      INFO("head " << i);
      CHECK(ref::max_rel_error(ref::block(o, d, i * n, n, 0, d), want) < kTolerance);
    }
  }
}

// The three mapping families of vanilla attention.
Mapping flash_mapping(const Cascade& c, const HwConfig& hw, std::int64_t bq, std::int64_t bk) {
  Mapping m = whole_mapping(c, hw);
  m.groups[0].loops = {{rank_of(c, "m"), bq}, {rank_of(c, "p"), bk}};
  return m;
}
Mapping row_fused_mapping(const Cascade& c, const HwConfig& hw, std::int64_t br, std::int64_t bk, int score_buffers) {
  Mapping m = whole_mapping(c, hw);
  m.groups[0].loops = {{rank_of(c, "m"), br}};
  m.groups[0].stream = {{rank_of(c, "p"), bk}};
  m.tensors[std::size_t(c.desc.tensor_index("S"))].buffers = score_buffers;
  m.tensors[std::size_t(c.desc.tensor_index("P"))].buffers = score_buffers;
  return m;
}
Mapping spilled_mapping(const Cascade& c, const HwConfig& hw, std::int64_t t) {
  Mapping m = whole_mapping(c, hw);
  const int mr = rank_of(c, "m"), pr = rank_of(c, "p");
  m.groups = {{{0}, {{mr, t}, {pr, t}}, {}, {}}, {{1}, {{mr, t}}, {}, {}}, {{2}, {{mr, t}, {pr, t}}, {}, {}}};
  return m;
}

}  // namespace

TEST_CASE("cascade: the vanilla and GEMM cascades parse into their steps", "[cascade]") {
  const Cascade c = vanilla(64, 16, false);
  REQUIRE(c.desc.steps.size() == 3);
  CHECK(c.step(0).kind == StepKind::Contract);
  CHECK(c.step(0).b_transposed);  // K[p,e] is read transposed
  CHECK(c.step(1).kind == StepKind::Softmax);
  CHECK(c.scale[1] == Approx(0.25));  // 1 / sqrt(16)
  CHECK(!c.step(2).b_transposed);
  CHECK(c.tensor(c.step(0).out).elem == ElemKind::Accumulator);
  CHECK(c.tensor(c.step(1).out).elem == ElemKind::Operand);
  // models/cascades/vanilla.json is the same cascade.
  const CascadeDesc file = load_cascade(std::string(ATTNSIM_SOURCE_DIR) + "/models/cascades/vanilla.json");
  REQUIRE(file.steps.size() == 3);
  REQUIRE(file.tensors.size() == c.desc.tensors.size());
  for (std::size_t t = 0; t < file.tensors.size(); ++t) {
    CHECK(file.tensors[t].name == c.desc.tensors[t].name);
    CHECK(file.tensors[t].ranks == c.desc.tensors[t].ranks);
  }
  const Cascade g = bind_cascade(parse_cascade(gemm_json(), "gemm"), {{"M", 5}, {"K", 7}, {"N", 3}}, false);
  CHECK(g.extent == std::vector<std::int64_t>{5, 7, 3});
}

TEST_CASE("cascade: every problem of a cascade file is reported at once with its path", "[cascade][errors]") {
  Json doc = vanilla_attention_json();
  doc["ranks"]["x"] = true;
  doc["steps"][0] = "S[m,p] = K[p,e] * Q[m,e]";
  doc["steps"][1]["over"] = "m";
  doc["steps"][1]["op"] = "softmx";
  doc["outputs"]["Z"] = Json::array({"m", "q"});
  doc["bogus"] = 1;
  try {
    parse_cascade(doc, "c.json");
    FAIL("accepted");
  } catch (const UserError& e) {
    const std::string w = e.what();
    INFO(w);
    CHECK(w.find("c.json: /bogus: unknown key") != std::string::npos);
    CHECK(w.find("c.json: /ranks/x: an extent must be") != std::string::npos);
    CHECK(w.find("c.json: /steps/0: the first operand must be indexed [m,e]") != std::string::npos);
    CHECK(w.find("c.json: /steps/1/op: must be one of softmax|") != std::string::npos);
    CHECK(w.find("(did you mean \"softmax\"?)") != std::string::npos);
    CHECK(w.find("c.json: /outputs/Z: rank \"q\" is not declared in /ranks") != std::string::npos);
    CHECK(e.problems().size() >= 5);
  }
  // Binding: an unknown symbol names the rank's path.
  try {
    bind_cascade(parse_cascade(vanilla_attention_json(), "v.json"), {{"N", 8}}, false);
    FAIL("accepted");
  } catch (const UserError& e) {
    CHECK(std::string(e.what()).find("v.json: /ranks/e: unknown name \"d\"") != std::string::npos);
  }
}

TEST_CASE("cascade: mapping legality names what does not fit", "[cascade][mapping]") {
  const HwConfig hw = small_hw(8, 16);  // 16 KiB
  const Cascade c = vanilla(128, 32, false);
  // Whole S (128 x 128 fp32, double-buffered: 131072 B) cannot fit 16 KiB.
  const std::vector<std::string> p = check_mapping(c, whole_mapping(c, hw), hw, 16384);
  REQUIRE(p.size() == 1);
  CHECK(p[0].find("/groups/0: the buffers need") != std::string::npos);
  CHECK(p[0].find("S 2 x 128x128x4 B") != std::string::npos);
  // Online softmax with the summed rank outside the output's loop: every O tile would stay open.
  Mapping bad = whole_mapping(c, hw);
  bad.groups[0].loops = {{rank_of(c, "p"), 16}, {rank_of(c, "m"), 16}};
  const std::vector<std::string> q = check_mapping(c, bad, hw, 1 << 20);
  REQUIRE(!q.empty());
  CHECK(q[0].find("inside the loop over p") != std::string::npos);
  // A flash mapping that fits: legal, and the mapping round-trips through JSON.
  const Mapping f = flash_mapping(c, hw, 16, 16);  // 11.6 KB of buffers
  CHECK(check_mapping(c, f, hw, 16384).empty());
  // Placement: both S slots at byte 0 overlap each other (and Q, packed from 0).
  Mapping placed = f;
  placed.tensors[std::size_t(c.desc.tensor_index("S"))].at[0] = 0;
  placed.tensors[std::size_t(c.desc.tensor_index("S"))].at[1] = 0;
  const std::vector<std::string> o = check_mapping(c, placed, hw, 16384);
  REQUIRE(!o.empty());
  CHECK(o[0].find("/groups/0: placement: Q slot 0 at 0 overlaps S slot 0 at 0") != std::string::npos);
  const Mapping back = parse_mapping(mapping_to_json(c, f), "m.json", c, hw);
  CHECK(mapping_to_json(c, back) == mapping_to_json(c, f));
  Json j = mapping_to_json(c, f);
  j["groups"][0]["loops"][0]["rank"] = "mm";
  j["buffers"]["S"] = 65537;
  try {
    parse_mapping(j, "m.json", c, hw);
    FAIL("accepted");
  } catch (const UserError& e) {
    const std::string w = e.what();
    CHECK(w.find("m.json: /groups/0/loops/0/rank: no rank \"mm\" (did you mean \"m\"?)") != std::string::npos);
    CHECK(w.find("m.json: /buffers/S: buffering depth is 1 to 65536") != std::string::npos);
  }
}

TEST_CASE("cascade: three slots per buffer fit by capacity, round-trip, place by address and compute attention",
          "[cascade][mapping]") {
  const HwConfig hw = small_hw(8, 16);  // 16 KiB
  const Cascade c = vanilla(128, 32, false);
  const int S = c.desc.tensor_index("S"), K = c.desc.tensor_index("K");
  // Flash 16 x 16: Q 2 x 16x32x2 = 2048, K, V 2 x 16x32x2 = 2048 each, S 2 x 16x16x4 = 2048,
  // P 2 x 16x16x2 = 1024, O 2 x 16x32x4 = 4096, stats 2 x 192 = 384: 13,696 B. A third K slot (+1024)
  // and a third S slot (+1024) make 15,744 B, still under 16 KiB; a third O slot (+2048) too, with the
  // third slot of the stats that follow O (+192), would need 17,984 B.
  Mapping m = flash_mapping(c, hw, 16, 16);
  m.tensors[std::size_t(S)].buffers = 3;
  m.tensors[std::size_t(K)].buffers = 3;
  CascadePlan plan;
  REQUIRE(check_mapping(c, m, hw, 16384, &plan).empty());
  CHECK(plan.groups[0].footprint == 15744);
  CHECK(plan.groups[0].buffers[std::size_t(plan.groups[0].buffer_of[std::size_t(S)])].depth == 3);
  Mapping big = m;
  big.tensors[std::size_t(c.desc.tensor_index("O"))].buffers = 3;
  const std::vector<std::string> p = check_mapping(c, big, hw, 16384);
  REQUIRE(p.size() == 1);
  CHECK_THAT(p[0], Catch::Contains("/groups/0: the buffers need 17984 B, more than the 16384 B of SRAM: O 3 x "
                                   "16x32x4 B;"));
  // The JSON form: buffers 3 and three slot addresses read back byte-identical.
  m.tensors[std::size_t(S)].at[0] = 8192, m.tensors[std::size_t(S)].at[1] = 9216, m.tensors[std::size_t(S)].at[2] = 10240;
  const Json j = mapping_to_json(c, m);
  CHECK(j["buffers"]["S"] == 3);
  CHECK(j["placement"]["S"]["at"] == Json::array({8192, 9216, 10240}));
  CHECK(mapping_to_json(c, parse_mapping(j, "m.json", c, hw)).dump() == j.dump());
  // Two addresses for three slots: the third slot is placed nowhere.
  Mapping short_at = m;
  short_at.tensors[std::size_t(S)].at[2] = -1;
  std::string all;
  for (const std::string& x : check_mapping(c, short_at, hw, 1 << 20)) all += x + "\n";
  CHECK_THAT(all, Catch::Contains("generated mapping of vanilla: /placement/S/at: gives no address for slot 2"));
  // Every tensor of every family with three slots computes attention (the slots rotate 0, 1, 2, 0, ...
  // and every reuse waits for the last reader of the tile two tiles before).
  const HwConfig big_hw = small_hw(8, 256);
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    const Cascade cc = vanilla(48, 16, causal);
    auto deep = [](Mapping x) {
      for (TensorMapping& t : x.tensors) t.buffers = 3;
      return x;
    };
    check_attention(big_hw, cc, deep(flash_mapping(cc, big_hw, 16, 12)), 2, {0, 1, 2, 3});
    check_attention(big_hw, cc, deep(row_fused_mapping(cc, big_hw, 20, 8, 3)), 2, {0, 1, 2});
    check_attention(big_hw, cc, deep(spilled_mapping(cc, big_hw, 16)), 2, {0, 1, 2});
    check_attention(big_hw, cc, deep(spilled_mapping(cc, big_hw, 8)), 3, {0, 4});
  }
}

namespace {

Mapping with_resident(const Cascade& c, Mapping m, const std::vector<const char*>& names, int depth) {
  for (const char* n : names) {
    m.groups[0].resident.push_back(c.desc.tensor_index(n));
    m.tensors[std::size_t(c.desc.tensor_index(n))].buffers = depth;
  }
  return m;
}

}  // namespace

TEST_CASE("cascade: resident K and V are loaded once per head and compute attention", "[cascade][resident]") {
  // N = 48, d = 16, 2 heads, fp16. Flash with 3 query tiles of 16 and 4 key tiles of 12; row-fused
  // with query blocks of 20 (a short last one) and key chunks of 8 (6 chunks). Without residency K
  // and V are loaded once per query block: per head Q 48 x 16 x 2 = 1536 B once, K and V 1536 B
  // each 3 times (flash) = 10,752 B. Resident: Q, K and V once = 3 x 1536 = 4608 B per head, 9216 B
  // for 2 heads: the compulsory bytes; O stored once, 2 x 1536 = 3072 B. Causal: the key loop stops
  // after the tile of the last query, which for the last query tile is every key tile: the same bytes.
  const HwConfig hw = small_hw();
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    const Cascade c = vanilla(48, 16, causal);
    for (int depth : {2, 1}) {
      INFO("resident depth " << depth);
      const Mapping flash = with_resident(c, flash_mapping(c, hw, 16, 12), {"K", "V"}, depth);
      const Mapping rows = with_resident(c, row_fused_mapping(c, hw, 20, 8, 2), {"K", "V"}, depth);
      check_attention(hw, c, flash, 2, {0, 1, 2, 3});
      check_attention(hw, c, rows, 2, {0, 5, 6});
      for (const Mapping* m : {&flash, &rows}) {
        const CascadePlan plan = plan_cascade(c, *m, hw, std::uint64_t(hw.sram.total_bytes()));
        const Harness h = make_harness(c, plan, 2, 2);
        const ProgramCounts k = count_program(ProgramSource::of(lower_program(hw, plan, h.tensors, h.bindings)));
        CHECK(k.load_bytes == 2u * 3 * 48 * 16 * 2);
        CHECK(k.store_bytes == 2u * 48 * 16 * 2);
      }
    }
    // The same flash mapping without residency reloads K and V for every query tile.
    const CascadePlan plain = plan_cascade(c, flash_mapping(c, hw, 16, 12), hw, std::uint64_t(hw.sram.total_bytes()));
    const Harness h = make_harness(c, plain, 2, 2);
    if (!causal)
      CHECK(count_program(ProgramSource::of(lower_program(hw, plain, h.tensors, h.bindings))).load_bytes ==
            2u * (1536 + 2 * 3 * 1536));
  }
  // A resident tensor shared by the heads (one DRAM block) is loaded once for all of them.
  const Cascade c = vanilla(48, 16, false);
  const Mapping m = with_resident(c, flash_mapping(c, hw, 16, 12), {"K", "V"}, 1);
  const CascadePlan plan = plan_cascade(c, m, hw, std::uint64_t(hw.sram.total_bytes()));
  const Harness h = test::make_cascade_harness(c, plan, 3, 2, {"K", "V"});
  const ProgramCounts k = count_program(ProgramSource::of(lower_program(hw, plan, h.tensors, h.bindings)));
  CHECK(k.load_bytes == 3u * 1536 + 2u * 1536);  // Q per head, K and V once
}

TEST_CASE("cascade: a resident list round-trips through JSON and its errors name the path", "[cascade][resident]") {
  const HwConfig hw = small_hw(8, 16);  // 16 KiB
  const Cascade c = vanilla(128, 32, false);
  const Mapping f = with_resident(c, flash_mapping(c, hw, 16, 16), {"K", "V"}, 1);
  // Buffers: Q 2 x 16x32x2 = 2048, K and V 1 x 128x32x2 = 8192 each, S 2 x 16x16x4 = 2048,
  // P 2 x 16x16x2 = 1024, O 2 x 16x32x4 = 4096: 25,600 B; then the online softmax's stats, 2 slots of
  // 16x3x4 = 192 B (25,792 is a 64 B boundary already): they end at 25,600 + 2 x 192 = 25,984 B.
  const std::vector<std::string> p = check_mapping(c, f, hw, 16384);
  REQUIRE(p.size() == 1);
  INFO(p[0]);
  CHECK(p[0].find("/groups/0: the buffers need 25984 B, more than the 16384 B of SRAM: K 1 x 128x32x2 B; V 1 x "
                  "128x32x2 B;") != std::string::npos);
  CHECK(check_mapping(c, f, hw, 32768).empty());
  const Json j = mapping_to_json(c, f);
  CHECK(j["groups"][0]["resident"] == Json::array({"K", "V"}));
  CHECK(mapping_to_json(c, parse_mapping(j, "m.json", c, hw)) == j);
  CHECK(describe(c, f) == "cascade vanilla: [S P O] loops m:16 p:16 resident K V");
  // Reading errors, all at once.
  Json bad = j;
  bad["groups"][0]["resident"] = Json::array({"KK", 3});
  Json bad2 = j;
  bad2["groups"][0]["resident"] = "K";
  for (const auto& [doc, want] : std::vector<std::pair<Json, std::vector<std::string>>>{
           {bad,
            {"m.json: /groups/0/resident/0: no tensor \"KK\" (did you mean \"K\"?)",
             "m.json: /groups/0/resident/1: must be a tensor's name"}},
           {bad2, {"m.json: /groups/0/resident: must be an array of tensor names"}}}) {
    try {
      parse_mapping(doc, "m.json", c, hw);
      FAIL("accepted " << doc.dump());
    } catch (const UserError& e) {
      for (const std::string& w : want) CHECK_THAT(std::string(e.what()), Catch::Contains(w));
    }
  }
  // Legality: a tensor listed twice, one the group writes, one it does not read.
  Mapping twice = f;
  twice.groups[0].resident.push_back(c.desc.tensor_index("K"));
  twice.groups[0].resident.push_back(c.desc.tensor_index("S"));
  const std::vector<std::string> q = check_mapping(c, twice, hw, 1 << 20);
  REQUIRE(q.size() == 2);
  CHECK(q[0] == "generated mapping of vanilla: /groups/0/resident/2: K is listed twice");
  CHECK(q[1] == "generated mapping of vanilla: /groups/0/resident/3: S is not read from DRAM in this group (the "
                "group writes it); only DRAM inputs of a group can be resident");
  Mapping spilled = spilled_mapping(c, hw, 16);
  spilled.groups[0].resident = {c.desc.tensor_index("V")};
  spilled.groups[2].resident = {c.desc.tensor_index("P"), c.desc.tensor_index("V")};  // P comes from DRAM there
  const std::vector<std::string> r = check_mapping(c, spilled, hw, 1 << 20);
  REQUIRE(r.size() == 1);
  CHECK(r[0] == "generated mapping of vanilla: /groups/0/resident/0: no step of the group reads V");
}

TEST_CASE("cascade: vanilla attention under flash, row-fused and unfused mappings matches the reference",
          "[cascade][functional]") {
  const HwConfig hw = small_hw();
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    const Cascade c = vanilla(48, 16, causal);
    // flash: 3 query tiles of 16, 4 key tiles of 12 (several per query tile; causal skips some).
    check_attention(hw, c, flash_mapping(c, hw, 16, 12), 2, {0, 1, 2, 3});
    // row-fused: query blocks of 20 rows (a short last block), key chunks of 8, one and two score buffers.
    check_attention(hw, c, row_fused_mapping(c, hw, 20, 8, 2), 2, {0, 1, 2});
    check_attention(hw, c, row_fused_mapping(c, hw, 20, 8, 1), 2, {0, 5});
    // unfused, S whole on chip (row-fused with one block).
    check_attention(hw, c, row_fused_mapping(c, hw, 48, 16, 1), 2, {0, 7});
    // unfused, S and P spilled to DRAM: three groups.
    check_attention(hw, c, spilled_mapping(c, hw, 16), 2, {0, 1, 2});
  }
}

TEST_CASE("cascade: causal attention spilled as [S] [P] [O] computes and moves only the tiles with an unmasked entry",
          "[cascade]") {
  // N = 64 = 4 tiles of 16, d = 16, one head, 2 B operands in DRAM (S is stored converted to them). Of the
  // 4 x 4 score tiles, those with an unmasked entry (key tile <= query tile) are the lower triangle with
  // its diagonal: 4 + 3 + 2 + 1 = 10 of 16.
  //   [S]: 10 GEMMs of 16 x 16 x 16 = 10 * 4096 = 40960 MACs (all 16: 65536); 10 S tiles stored,
  //        10 * 16 * 16 * 2 B = 5120 B (all: 8192 B).
  //   [P]: row block i (rows 16 i .. 16 i + 15) reads S and writes P up to the end of its diagonal tile
  //        (P V's tiles are 16 x 16 too): 16 (i + 1) columns, 16 * 16 * (1 + 2 + 3 + 4) * 2 B = 5120 B each
  //        way, the masked part of the diagonal tiles zero in P.
  //   [O]: P V loads the same 10 P tiles, 5120 B, and does 10 GEMMs of 16 x 16 x 16 = 40960 MACs.
  const HwConfig hw = small_hw(8, 256);
  for (bool causal : {true, false}) {
    INFO("causal " << causal);
    const Cascade c = vanilla(64, 16, causal);
    const Mapping m = spilled_mapping(c, hw, 16);
    const CascadePlan plan = plan_cascade(c, m, hw, std::uint64_t(hw.sram.total_bytes()));
    const Harness h = make_harness(c, plan, 1, hw.array.operand_bytes);
    const TileProgram p = lower_program(hw, plan, h.tensors, h.bindings);
    const int ts = h.tensor_of[std::size_t(c.desc.tensor_index("S"))],
              tp = h.tensor_of[std::size_t(c.desc.tensor_index("P"))];
    std::uint64_t s_stored = 0, s_loaded = 0, p_stored = 0, p_loaded = 0, s_tiles_stored = 0, p_tiles_loaded = 0,
                  qk_macs = 0, pv_macs = 0;
    for (const Instr& in : p.instrs) {
      if (in.op == Opcode::Store && in.tensor == ts) s_stored += in.bytes(), ++s_tiles_stored;
      if (in.op == Opcode::Load && in.tensor == ts) s_loaded += in.bytes();
      if (in.op == Opcode::Store && in.tensor == tp) p_stored += in.bytes();
      if (in.op == Opcode::Load && in.tensor == tp) p_loaded += in.bytes(), ++p_tiles_loaded;
      if (in.op == Opcode::Gemm) (in.opclass == OpClass::QK ? qk_macs : pv_macs) += in.macs();
    }
    const std::uint64_t tiles = causal ? 10 : 16;
    CHECK(s_tiles_stored == tiles);
    CHECK(p_tiles_loaded == tiles);
    CHECK(s_stored == tiles * 512);
    CHECK(s_loaded == tiles * 512);
    CHECK(p_stored == tiles * 512);
    CHECK(p_loaded == tiles * 512);
    CHECK(qk_macs == tiles * 4096);
    CHECK(pv_macs == tiles * 4096);
    check_attention(hw, c, m, 1, {0, 1, 2});
  }
  // Tiles that do not line up: S in rows of 24 with the keys whole (each row tile up to its last query) and e
  // in two steps, P in blocks of 10 rows, P V in tiles of 16 x 12 (each P block written up to where P V
  // reads its rows: the end of the key tile holding the last row of the P V tile holding the block's last).
  const Cascade c = vanilla(64, 16, true);
  Mapping m = spilled_mapping(c, hw, 16);
  const int mr = rank_of(c, "m"), pr = rank_of(c, "p"), er = rank_of(c, "e");
  m.groups[0].loops = {{mr, 24}, {er, 8}};
  m.groups[1].loops = {{mr, 10}};
  m.groups[2].loops = {{mr, 16}, {pr, 12}};
  check_attention(hw, c, m, 2, {0, 1, 2, 3});
  // Random tiles, the key rank looped, streamed or whole in each group, and [S P] [O]: every legal one
  // computes causal attention (P's entries any group reads are written: unwritten ones would be NaN).
  std::mt19937_64 rng(4242);
  auto pick = [&](std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng); };
  int run = 0;
  for (int i = 0; i < 60; ++i) {
    const std::int64_t n = pick(5, 48), d = pick(2, 16);
    const Cascade cr = vanilla(n, d, true);
    Mapping r = whole_mapping(cr, hw);
    auto keys = [&](GroupMapping& g) {  // p looped, streamed or whole
      const int how = int(pick(0, 2));
      if (how == 0) g.loops.push_back({pr, pick(1, n)});
      if (how == 1) g.stream = {{pr, pick(1, n)}};
    };
    if (pick(0, 1)) {
      r.groups = {{{0}, {{mr, pick(1, n)}}, {}, {}}, {{1}, {{mr, pick(1, n)}}, {}, {}}, {{2}, {{mr, pick(1, n)}}, {}, {}}};
      keys(r.groups[0]);
      if (pick(0, 1)) r.groups[1].stream = {{pr, pick(1, n)}};
    } else {
      r.groups = {{{0, 1}, {{mr, pick(1, n)}}, {}, {}}, {{2}, {{mr, pick(1, n)}}, {}, {}}};
      if (pick(0, 1)) r.groups[0].stream = {{pr, pick(1, n)}};
    }
    keys(r.groups.back());
    for (TensorMapping& t : r.tensors) t.buffers = int(pick(1, 3));
    if (!check_mapping(cr, r, hw, std::uint64_t(hw.sram.total_bytes())).empty()) continue;
    ++run;
    INFO("case " << i << ": N " << n << ", d " << d);
    check_attention(hw, cr, r, int(pick(1, 2)), {0, std::uint64_t(pick(1, 1000))});
  }
  CHECK(run >= 40);
}

TEST_CASE("cascade: ahead 2 round-trips, its rules name the path, and flash issued so computes attention",
          "[cascade][functional]") {
  const HwConfig hw = small_hw(8, 256);
  const Cascade c = vanilla(48, 16, false);
  Mapping m = flash_mapping(c, hw, 16, 12);
  m.groups[0].ahead = 2;
  REQUIRE(check_mapping(c, m, hw, std::uint64_t(hw.sram.total_bytes())).empty());
  const Json j = mapping_to_json(c, m);
  CHECK(j["groups"][0]["ahead"] == 2);
  CHECK(parse_mapping(j, "m.json", c, hw).groups[0].ahead == 2);
  CHECK(mapping_to_json(c, parse_mapping(j, "m.json", c, hw)).dump() == j.dump());
  CHECK_THAT(describe(c, m), Catch::Contains("ahead 2"));
  // Past the range, in JSON and built in code.
  Json bad = j;
  bad["groups"][0]["ahead"] = 3;
  CHECK_THROWS_WITH(parse_mapping(bad, "m.json", c, hw), Catch::Contains("/groups/0/ahead"));
  Mapping three = m;
  three.groups[0].ahead = 3;
  std::string all;
  for (const std::string& x : check_mapping(c, three, hw, 1 << 20)) all += x + "\n";
  CHECK_THAT(all, Catch::Contains("groups/0/ahead: points ahead are 1 to 2, got 3"));
  // No overlap to reorder: one slot of S (Q K^T(j + 1) would overwrite the tile softmax(j) reads).
  Mapping one = m;
  one.tensors[std::size_t(c.desc.tensor_index("S"))].buffers = 1;
  all.clear();
  for (const std::string& x : check_mapping(c, one, hw, 1 << 20)) all += x + "\n";
  CHECK_THAT(all, Catch::Contains("groups/0/ahead: issuing steps 2 points ahead needs the overlap"));
  // Computes attention: one chain, split-K runs (their accumulators two a run: a query tile combines after
  // the next tile's first softmax step), three slots of everything; causal masks with one chain.
  check_attention(hw, c, m, 2, {0, 1, 2, 3});
  Mapping split = m;
  split.groups[0].splits = 3;
  check_attention(hw, c, split, 2, {0, 1, 2});
  for (TensorMapping& t : m.tensors) t.buffers = 3;
  check_attention(hw, c, m, 3, {0, 5});
  const Cascade cc = vanilla(40, 8, true);
  Mapping causal = flash_mapping(cc, hw, 8, 16);
  causal.groups[0].ahead = 2;
  check_attention(hw, cc, causal, 2, {0, 1, 2});
}

TEST_CASE("cascade: random legal mappings of vanilla attention match the reference", "[cascade][functional]") {
  const HwConfig hw = small_hw(8, 256, false);  // SOFTMAX on the vector unit
  std::mt19937_64 rng(2024);
  auto pick = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  int run = 0, families[4] = {}, ahead = 0;
  std::mt19937_64 order_rng(5);  // the issue order (mapping.h, ahead), drawn apart from the mappings' draws
  for (int i = 0; i < 40; ++i) {
    const std::int64_t n = pick(5, 40), d = pick(2, 20);
    const bool causal = pick(0, 1);
    const Cascade c = vanilla(n, d, causal);
    const int mr = rank_of(c, "m"), pr = rank_of(c, "p"), er = rank_of(c, "e"), fr = rank_of(c, "f");
    Mapping m = whole_mapping(c, hw);
    const int family = int(pick(0, 3));
    switch (family) {
      case 0:  // flash
        m.groups[0].loops = {{mr, pick(1, n)}, {pr, pick(1, n)}};
        break;
      case 1:  // row-fused, streamed or not
        m.groups[0].loops = {{mr, pick(1, n)}};
        if (pick(0, 1)) m.groups[0].stream = {{pr, pick(1, n)}};
        break;
      case 2:  // spilled: S tiles in either loop order, with e split; P row blocks; O with f split and p innermost
        m.groups = {{{0}, {}, {}, {}},
                    {{1}, {{mr, pick(1, n)}}, {}, {}},
                    {{2}, {{fr, pick(1, d)}, {mr, pick(1, n)}, {pr, pick(1, n)}}, {}, {}}};
        m.groups[0].loops = pick(0, 1) ? std::vector<Loop>{{mr, pick(1, n)}, {pr, pick(1, n)}, {er, pick(1, d)}}
                                       : std::vector<Loop>{{pr, pick(1, n)}, {mr, pick(1, n)}};
        break;
      default:  // flash for Q K^T, P spilled, O in its own group
        m.groups = {{{0, 1}, {{mr, pick(1, n)}}, {{pr, pick(1, n)}}, {}}, {{2}, {{mr, pick(1, n)}}, {{pr, pick(1, n)}}, {}}};
        break;
    }
    for (TensorMapping& t : m.tensors) t.buffers = int(pick(1, 2));
    // Flash: Q K^T two points ahead where the group overlaps it (split-K runs need a softmax unit: the
    // test above).
    if (family == 0 && order_rng() % 2) {
      Mapping v = m;
      v.groups[0].ahead = 2;
      if (check_mapping(c, v, hw, std::uint64_t(hw.sram.total_bytes())).empty()) m = v, ++ahead;
    }
    if (!check_mapping(c, m, hw, std::uint64_t(hw.sram.total_bytes())).empty()) continue;
    ++run, ++families[family];
    INFO("case " << i << ": N " << n << ", d " << d << ", causal " << causal);
    check_attention(hw, c, m, int(pick(1, 2)), {0, std::uint64_t(pick(1, 1000))});
  }
  // Most draws are legal, and every family ran; so did flash issued two points ahead.
  CHECK(run >= 30);
  for (int f : families) CHECK(f > 0);
  CHECK(ahead > 0);
}

TEST_CASE(
    "cascade: cosine attention from its JSON file under random flash and row-fused mappings matches the "
    "reference",
    "[cascade][functional]") {
  const HwConfig hw = small_hw();
  const CascadeDesc desc = load_cascade(std::string(ATTNSIM_SOURCE_DIR) + "/models/cascades/cosine.json");
  std::mt19937_64 rng(77);
  auto pick = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  for (int i = 0; i < 12; ++i) {
    const std::int64_t n = pick(4, 36), d = pick(2, 16);
    const bool causal = i % 2;
    const Cascade c = bind_cascade(desc, {{"N", double(n)}, {"d", double(d)}}, causal);
    Mapping m = whole_mapping(c, hw);
    if (i % 4 < 2) {
      m.groups[0].loops = {{rank_of(c, "m"), pick(1, n)}, {rank_of(c, "p"), pick(1, n)}};
    } else {
      m.groups[0].loops = {{rank_of(c, "m"), pick(1, n)}};
      m.groups[0].stream = {{rank_of(c, "p"), pick(1, n)}};
    }
    for (TensorMapping& t : m.tensors) t.buffers = int(pick(1, 2));
    INFO("case " << i << ": N " << n << ", d " << d);
    check_attention(hw, c, m, 2, {0, std::uint64_t(pick(1, 1000))}, true);
  }
}

TEST_CASE("cascade: a reduction over all tokens before its consumer (low-rank linear attention) is a group boundary",
          "[cascade][functional]") {
  // O = (Q W_Q) ((W_K^T K^T) V): M = (W_K^T K^T) V sums over every token p before any output row
  // can use it, so it ends group 0 (a barrier after all heads) and group 1 reads it from DRAM.
  const Json doc = Json::parse(R"json({
    "name": "lowrank_linear", "ranks": {"m": "N", "p": "N", "e": "d", "f": "d", "s": "s"},
    "inputs": {"Q": ["m","e"], "K": ["p","e"], "V": ["p","f"], "WQ": ["e","s"], "WKT": ["s","e"]},
    "outputs": {"O": ["m","f"]},
    "steps": ["KpT[s,p] = WKT[s,e] * K[p,e]", "M[s,f] = KpT[s,p] * V[p,f]",
              "Qp[m,s] = Q[m,e] * WQ[e,s]", "O[m,f] = Qp[m,s] * M[s,f]"]})json");
  const HwConfig hw = small_hw();
  const std::int64_t n = 44, d = 12, rank = 5;
  const Cascade c = bind_cascade(parse_cascade(doc, "lowrank.json"), {{"N", n}, {"d", d}, {"s", rank}}, false);
  Mapping m = whole_mapping(c, hw);
  m.groups = {{{0, 1}, {{rank_of(c, "p"), 16}}, {}, {}}, {{2, 3}, {{rank_of(c, "m"), 12}}, {}, {}}};
  const CascadePlan plan = plan_cascade(c, m, hw, std::uint64_t(hw.sram.total_bytes()));
  REQUIRE(plan.spilled == std::vector<int>{c.desc.tensor_index("M")});
  const int heads = 2;
  const Harness h = make_harness(c, plan, heads, 2);
  const TileProgram p = lower_program(hw, plan, h.tensors, h.bindings);
  std::vector<ref::Mat> in;
  const char* const names[] = {"Q", "K", "V", "WQ", "WKT"};
  for (const char* name : names) {
    const int t = c.desc.tensor_index(name);
    in.push_back(ref::random_values(std::size_t(heads * c.rows(t) * c.cols(t)), 500 + std::uint64_t(t)));
  }
  Executor ex(p, std::uint64_t(hw.sram.total_bytes()));
  for (std::uint64_t seed : {0, 4, 8}) {
    for (int i = 0; i < 5; ++i)
      ex.set_tensor(h.tensor_of[std::size_t(c.desc.tensor_index(names[i]))], in[std::size_t(i)]);
    ex.run(seed);
    const ref::Mat o = ex.tensor(h.tensor_of[std::size_t(c.desc.tensor_index("O"))]);
    for (int i = 0; i < heads; ++i) {
      const ref::Mat q = ref::block(in[0], d, i * n, n, 0, d), k = ref::block(in[1], d, i * n, n, 0, d),
                     v = ref::block(in[2], d, i * n, n, 0, d), wq = ref::block(in[3], rank, i * d, d, 0, rank),
                     wkt = ref::block(in[4], d, i * rank, rank, 0, d);
      const ref::Mat kpt = ref::matmul(wkt, ref::transpose(k, n, d), rank, d, n);
      const ref::Mat want = ref::matmul(ref::matmul(q, wq, n, d, rank), ref::matmul(kpt, v, rank, n, d), n, rank, d);
      INFO("seed " << seed << " head " << i);
      CHECK(ref::max_rel_error(ref::block(o, d, i * n, n, 0, d), want) < kTolerance);
    }
  }
}

TEST_CASE("cascade: a GEMM cascade in any loop order matches the reference and moves the bytes it should",
          "[cascade][functional]") {
  const HwConfig hw = small_hw();
  const Cascade c = bind_cascade(parse_cascade(gemm_json(), "gemm"), {{"M", 40}, {"K", 24}, {"N", 36}}, false);
  const int mr = rank_of(c, "m"), kr = rank_of(c, "k"), nr = rank_of(c, "n");
  for (int order = 0; order < 2; ++order) {
    Mapping m = whole_mapping(c, hw);
    m.groups[0].loops =
        order ? std::vector<Loop>{{nr, 16}, {mr, 16}, {kr, 8}} : std::vector<Loop>{{mr, 16}, {nr, 16}, {kr, 8}};
    const CascadePlan plan = plan_cascade(c, m, hw, std::uint64_t(hw.sram.total_bytes()));
    const Harness h = make_harness(c, plan, 1, 2);
    const TileProgram p = lower_program(hw, plan, h.tensors, h.bindings);
    const ref::Mat a = ref::random_values(40 * 24, 5), b = ref::random_values(24 * 36, 6);
    Executor ex(p, std::uint64_t(hw.sram.total_bytes()));
    for (std::uint64_t seed : {0, 9}) {
      ex.set_tensor(h.tensor_of[0], a);
      ex.set_tensor(h.tensor_of[1], b);
      ex.run(seed);
      CHECK(ref::max_rel_error(ex.tensor(h.tensor_of[2]), ref::matmul(a, b, 40, 24, 36)) < kTolerance);
    }
    const ProgramCounts k = count_program(ProgramSource::of(p));
    CHECK(k.macs == 40u * 24 * 36);
    // Every k tile changes, so A and B are loaded once per (m, n) tile: A 3 n-tiles x 40x24, B 3
    // m-tiles x 24x36 (2 B each); C stored once: 40x36 x 2 B.
    CHECK(k.load_bytes == 3u * 40 * 24 * 2 + 3u * 24 * 36 * 2);
    CHECK(k.store_bytes == 40u * 36 * 2);
  }
}

namespace {

std::int64_t simulate_cycles(const HwConfig& hw, const TileProgram& p) {
  const test::IsolatedResult r =
      test::run_isolated([&]() -> std::string { return std::to_string(simulate(hw, p).stats.cycles); });
  REQUIRE(r.exit_status == 0);
  return std::stoll(r.output);
}

TensorInfo head_tensor(const char* name, std::uint64_t base, std::int64_t rows, std::int64_t cols) {
  return {name, base, std::uint64_t(rows), std::uint64_t(cols), 2};
}

}  // namespace

namespace {

// Flash and row-fused for `heads` heads of N x d, hand-written (the reference programs of
// support/attention_emitters.h, at the planners' tile sizes) and generic (the same tiles as a
// mapping of the vanilla cascade).
struct Pair {
  TileProgram hand_flash, gen_flash, hand_rf, gen_rf, gen_rf_placed;
  FlashPlan fp;
  RowFusedPlan rp;
};

// bq, bk: the flash tiles (fixed as a mapping file would; the mapper's own choice may differ).
Pair build_pair(const HwConfig& hw, std::int64_t n, std::int64_t dh, std::int64_t heads, bool causal, std::int64_t bq,
                std::int64_t bk) {
  Pair out;
  const std::uint64_t cap = std::uint64_t(hw.sram.total_bytes());
  const Cascade c = vanilla(n, dh, causal);
  REQUIRE(c.desc.tensor_index("O") == 3);  // tensors: Q K V O S P
  const std::uint64_t part = std::uint64_t(heads * n * dh * 2);
  const std::vector<TensorInfo> tensors = {head_tensor("Q", 0, heads * n, dh), head_tensor("K", part, heads * n, dh),
                                           head_tensor("V", 2 * part, heads * n, dh),
                                           head_tensor("O", 3 * part, heads * n, dh)};
  std::vector<Binding> bindings;
  std::vector<HeadBlocks> hb;
  for (std::int64_t i = 0; i < heads; ++i) {
    const DramBlock q{0, i * n, 0, n, dh}, k{1, i * n, 0, n, dh}, v{2, i * n, 0, n, dh}, o{3, i * n, 0, n, dh};
    bindings.push_back({{q, k, v, o, {}, {}}});
    hb.push_back({q, k, v, o});
  }
  const float scale = float(1 / std::sqrt(double(dh)));
  ModelMapping fixed;
  fixed.ops.push_back({"test", {"flash", {{"m", bq}, {"p", bk}}, {}}});
  out.fp = plan_flash(hw, n, dh, cap, "test", &fixed);
  out.hand_flash.tensors = tensors;
  {
    Emitter em(out.hand_flash, out.hand_flash.tensors);
    test::FlashEmitter fe(hw, out.fp, dh, 0);
    for (const HeadBlocks& h : hb) fe.emit_head(em, h, n, causal, scale);
  }
  out.gen_flash =
      lower_program(hw, plan_cascade(c, flash_mapping(c, hw, out.fp.bq, out.fp.bk), hw, cap), tensors, bindings);
  out.rp = plan_row_fused(hw, n, dh, cap, "test");
  out.hand_rf.tensors = tensors;
  {
    Emitter em(out.hand_rf, out.hand_rf.tensors);
    test::RowFusedEmitter re(hw, out.rp, n, dh, 0);
    for (const HeadBlocks& h : hb) re.emit_head(em, h, causal, scale);
  }
  Mapping rf = row_fused_mapping(c, hw, out.rp.br, out.rp.bk, out.rp.score_buffers);
  out.gen_rf = lower_program(hw, plan_cascade(c, rf, hw, cap), tensors, bindings);
  // The same mapping with every buffer where the hand-written emitter puts it (its buffer names are
  // the tensor's and the slot: Q0, Q1, ..., S0, P0).
  for (const BufferInfo& b : test::RowFusedEmitter(hw, out.rp, n, dh, 0).buffers(0)) {
    const int t = c.desc.tensor_index(b.name.substr(0, b.name.size() - 1));
    REQUIRE(t >= 0);
    rf.tensors[std::size_t(t)].at[b.name.back() - '0'] = std::int64_t(b.region.addr);
  }
  out.gen_rf_placed = lower_program(hw, plan_cascade(c, rf, hw, cap), tensors, bindings);
  return out;
}

}  // namespace

TEST_CASE(
    "cascade: at the planners' tile sizes the generic lowering moves what flash and row-fused move, in no "
    "more cycles",
    "[cascade][compare]") {
  // 16x16 array, 64 KiB SRAM, 4 heads of N = 256, d = 32: flash Q tiles of 32 and K/V tiles of 64
  // (4 per Q tile; the tiles the planner picked before the mapper, fixed), plan_row_fused blocks of 16 rows with key chunks of 16 and two
  // score buffers.
  const HwConfig hw = small_hw(16, 64);
  for (bool causal : {false, true}) {
    const Pair p = build_pair(hw, 256, 32, 4, causal, 32, 64);
    REQUIRE(p.fp.bq == 32);
    REQUIRE(p.fp.bk == 64);
    REQUIRE(p.rp.br == 16);
    REQUIRE(p.rp.score_buffers == 2);
    for (const auto& [name, a, b] :
         {std::tuple<const char*, const TileProgram*, const TileProgram*>{"flash", &p.hand_flash, &p.gen_flash},
          {"row-fused", &p.hand_rf, &p.gen_rf},
          {"row-fused, hand-written placement", &p.hand_rf, &p.gen_rf_placed}}) {
      INFO(name << (causal ? " causal" : "") << ": hand-written " << a->instrs.size() << " instructions, generic "
                << b->instrs.size());
      const ProgramCounts ka = count_program(ProgramSource::of(*a)), kb = count_program(ProgramSource::of(*b));
      CHECK(ka.macs == kb.macs);
      CHECK(ka.store_bytes == kb.store_bytes);
      if (!causal) {
        CHECK(ka.load_bytes == kb.load_bytes);
      } else if (a == &p.hand_flash) {
        // Causal: Q tile i (32 rows) needs key tiles 0 .. ceil(32 (i + 1) / 64) - 1: 1 1 2 2 3 3 4 4,
        // 20 per head for K and for V (4096 B each), Q 16,384 B: 4 x (16,384 + 2 x 20 x 4096) =
        // 720,896 B. The generic lowering finds a tile still in one of its two slots when the
        // next Q tile starts with it: key tiles loaded 1 0 1 0 1 3 4 4 = 14: 4 x (16,384 + 2 x 14 x
        // 4096) = 524,288 B.
        CHECK(ka.load_bytes == 720896);
        CHECK(kb.load_bytes == 524288);
      } else {
        // Causal row-fused: block i (16 rows) reads key chunks 0 .. i (1024 B each): 136 per head for
        // K and for V; 4 x (16,384 + 2 x 136 x 1024) = 1,179,648 B. Blocks 1 and 2 find chunks 0 and
        // 0, 1 still resident (two slots): 133 chunks, 4 x (16,384 + 2 x 133 x 1024) = 1,155,072 B.
        CHECK(ka.load_bytes == 1179648);
        CHECK(kb.load_bytes == 1155072);
      }
      const std::int64_t ca = simulate_cycles(hw, *a), cb = simulate_cycles(hw, *b);
      WARN(name << (causal ? " causal" : "") << ": hand-written " << ca << " cycles, generic " << cb << " cycles");
      CHECK(cb <= ca);
    }
  }
}

TEST_CASE("cascade: when plan_flash's key tile covers N, the generic lowering keeps K and V resident",
          "[cascade][compare]") {
  // 16x16 array, 256 KiB, 4 heads of N = 256, d = 64: plan_flash picks bq = 16, bk = 256 = N, one
  // key tile. The hand-written emitter loads Q once and K and V once per Q tile: per head
  // 256 x 64 x 2 B x (1 + 2 x 16) = 1,081,344 B. The generic one finds the K and V tiles still in
  // their slots: Q, K, V loaded once, 3 x 256 x 64 x 2 = 98,304 B per head. O is stored once
  // (32,768 B per head) by both.
  const HwConfig hw = small_hw(16, 256);
  const Pair p = build_pair(hw, 256, 64, 4, false, 16, 256);
  REQUIRE(p.fp.bq == 16);
  REQUIRE(p.fp.bk == 256);
  const ProgramCounts ka = count_program(ProgramSource::of(p.hand_flash)),
                      kb = count_program(ProgramSource::of(p.gen_flash));
  CHECK(ka.load_bytes == 4u * (256 * 64 * 2 + 16u * 2 * 256 * 64 * 2));  // Q once, K and V 16 times
  CHECK(kb.load_bytes == 4u * 3 * 256 * 64 * 2);
  CHECK(ka.store_bytes == 4u * 256 * 64 * 2);
  CHECK(kb.store_bytes == ka.store_bytes);
  CHECK(ka.macs == kb.macs);
  const std::int64_t ca = simulate_cycles(hw, p.hand_flash), cb = simulate_cycles(hw, p.gen_flash);
  WARN("flash, K/V resident: hand-written " << ca << " cycles, generic " << cb << " cycles");
  CHECK(cb <= ca);
}

namespace {

const std::string kCosine = std::string(ATTNSIM_SOURCE_DIR) + "/models/cascades/cosine.json";

ModelConfig cosine_model(std::int64_t n, bool causal, const std::string& file = kCosine,
                         const std::string& mapping = "") {
  Json attention = {{"variant", "cascade"}, {"file", file}};
  if (!mapping.empty()) attention["mapping"] = mapping;
  Json layer = {{"d_model", 32},    {"heads", 2},
                {"head_dim", 16},   {"seq_len", n},
                {"batch", 2},       {"ffn", {{"width", 64}, {"activation", "gelu"}}},
                {"causal", causal}, {"attention", attention}};
  Json doc = {{"description", "cosine test"}, {"dtype", "fp16"}, {"layers", Json::array({layer})}};
  return parse_model_config(doc, "model.json");
}

int tensor_index(const TileProgram& p, const std::string& name) {
  for (std::size_t i = 0; i < p.tensors.size(); ++i)
    if (p.tensors[i].name == name) return int(i);
  FAIL("no tensor " << name);
  return -1;
}

}  // namespace

namespace {

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path) << text;
  return path;
}

// Compiles a one-layer model whose attention is a cascade file (with an optional mapping file), runs
// it in the executor and compares every head's attention output with
// softmax(scale * f(Q) f(K)^T) V, f = l2norm when `cosine`, else the identity.
void check_model_cascade(const HwConfig& hw, const ModelConfig& mc, bool cosine, double scale,
                         const std::vector<std::string>& phases, const std::string& plan_has) {
  const bool causal = mc.layers.front().causal;
  INFO("causal " << causal);
  const Graph g = build_graph(mc);
  const CompiledModel cm = compile_model(hw, g);
  for (const std::string& name : phases) {
    const PhaseInfo* ph = nullptr;
    for (const PhaseInfo& x : cm.phases)
      if (x.name == name) ph = &x;
    REQUIRE(ph);
    CHECK(ph->plan.find(plan_has) != std::string::npos);
  }
  {
    const TileProgram p = cm.program.materialise();
    // The reference: qkv = layernorm(x) Wqkv (pre-norm), then the attention above per (batch, head).
    const LayerSpec& ls = mc.layers.front();
    ref::Layer l;
    l.batch = ls.batch, l.seq_len = ls.seq_len, l.d_model = ls.d_model, l.heads = ls.heads, l.head_dim = ls.head_dim;
    l.ffn_width = ls.ffn_width, l.norm = ref::Norm::LayerNorm, l.pre_norm = true, l.act = ref::Act::Gelu;
    l.causal = causal;
    const ref::LayerWeights w = ref::LayerWeights::random(l, 4242);
    const ref::Mat x = ref::random_values(std::size_t(l.tokens() * l.d_model), 99);
    const std::int64_t t = l.tokens(), d = l.d_model, dh = l.head_dim, hd = l.heads * dh, n = l.seq_len;
    const ref::Mat qkv = ref::matmul(ref::norm(l, x, w.norm1), w.wqkv, t, d, 3 * hd);
    Executor e(p, std::uint64_t(hw.sram.total_bytes()));
    e.set_tensor(tensor_index(p, "x"), x);
    e.set_tensor(tensor_index(p, "L0.Wqkv"), w.wqkv);
    e.set_tensor(tensor_index(p, "L0.Wo"), w.wo);
    e.set_tensor(tensor_index(p, "L0.W1"), w.w1);
    e.set_tensor(tensor_index(p, "L0.W2"), w.w2);
    e.set_tensor(tensor_index(p, "L0.norm1"), w.norm1);
    e.set_tensor(tensor_index(p, "L0.norm2"), w.norm2);
    for (std::uint64_t seed : {0, 3}) {
      e.run(seed);
      const ref::Mat o = e.tensor(tensor_index(p, "L0.o"));
      for (std::int64_t b = 0; b < l.batch; ++b)
        for (std::int64_t h = 0; h < l.heads; ++h) {
          const ref::Mat q = ref::block(qkv, 3 * hd, b * n, n, h * dh, dh),
                         k = ref::block(qkv, 3 * hd, b * n, n, hd + h * dh, dh),
                         v = ref::block(qkv, 3 * hd, b * n, n, 2 * hd + h * dh, dh);
          const ref::Mat want = cosine ? ref::attention(ref::l2_normalize_rows(q, n, dh),
                                                        ref::l2_normalize_rows(k, n, dh), v, n, dh, scale, causal)
                                       : ref::attention(q, k, v, n, dh, scale, causal);
          INFO("seed " << seed << " batch " << b << " head " << h);
          CHECK(ref::max_rel_error(ref::block(o, hd, b * n, n, h * dh, dh), want) < kTolerance);
        }
    }
  }
}

}  // namespace

TEST_CASE("cascade: cosine attention written only as JSON runs inside a model and matches the reference",
          "[cascade][functional][model]") {
  // 8x8 array, 64 KiB: the cascade mapper's pick around the default mapping (which tiles the queries
  // and the keys, an online softmax); tau = 10 is the file's param.
  for (bool causal : {false, true})
    check_model_cascade(small_hw(8, 64), cosine_model(72, causal), true, 10.0, {"L0.attention"},
                        "cascade cosine: [Qn Kn S P O] loops m:");
}

TEST_CASE("cascade: a model's cascade with a mapping file that spills the scores uses the layer's S and P tensors",
          "[cascade][functional][model]") {
  const std::string file = write_file("attnsim_vanilla_cascade.json", vanilla_attention_json().dump());
  const std::string mapping = write_file("attnsim_vanilla_spilled.json", R"({"groups": [
      {"steps": ["S"], "loops": [{"rank": "m", "tile": 16}, {"rank": "p", "tile": 24}]},
      {"steps": ["P"], "loops": [{"rank": "m", "tile": 8}]},
      {"steps": ["O"], "loops": [{"rank": "m", "tile": 32}, {"rank": "p", "tile": 16}]}]})");
  for (bool causal : {false, true})
    check_model_cascade(small_hw(8, 64), cosine_model(40, causal, file, mapping), false, 0.25,
                        {"L0.attention.0", "L0.attention.1", "L0.attention.2"}, "| [P] loops m:8 |");
}

TEST_CASE("cascade: a model's cascade file with a wrong interface or a missing file is a user error",
          "[cascade][errors][model]") {
  const HwConfig hw = small_hw(8, 64);
  // A missing file: reported at the attention object's path.
  try {
    cosine_model(32, false, "/nonexistent/c.json");
    FAIL("accepted");
  } catch (const UserError& e) {
    CHECK(std::string(e.what()).find("model.json: /layers/0/attention/file: /nonexistent/c.json: cannot open file") !=
          std::string::npos);
  }
  // An output that is not O.
  Json bad = vanilla_attention_json();
  bad["outputs"] = {{"Out", Json::array({"m", "f"})}};
  bad["steps"][2] = "Out[m,f] = P[m,p] * V[p,f]";
  const std::string file = (std::filesystem::temp_directory_path() / "attnsim_cascade_bad_interface.json").string();
  { std::ofstream(file) << bad.dump(); }
  const Graph g = build_graph(cosine_model(32, false, file));
  try {
    compile_model(hw, g);
    FAIL("accepted");
  } catch (const UserError& e) {
    CHECK(std::string(e.what()).find(file + ": /outputs/Out: a model's cascade reads Q, K, V and writes O") !=
          std::string::npos);
  }
}

TEST_CASE("cascade: attnsim run takes a cascade file as the variant", "[cascade][cli]") {
  const std::string model = test::write_small_model("small_cascade.json");
  const std::string dir = test::temp_dir() + "/run_cascade";
  const test::CliResult r =
      test::run_cli("run --hw edge --model " + model + " --variant cascade:" + kCosine + " --out " + dir);
  INFO(r.err);
  REQUIRE(r.status == 0);
  const Json rep = parse_json_text(test::slurp(dir + "/report.json"), "report.json");
  REQUIRE(rep["layers"].size() == 2);
  // MACs per layer as for vanilla attention (the L2 norms and the softmax are vector and softmax
  // work): T = N = 256, D = 64, HD = 64, F = 128, 2 heads of 32: qkv 256*64*192 = 3,145,728;
  // S and O 2 heads * 256*256*32 = 4,194,304 each; out_proj 1,048,576; ffn 2 * 256*64*128 =
  // 4,194,304. Sum 16,777,216.
  for (const Json& l : rep["layers"]) CHECK(l["macs"] == 16777216);
  const test::CliResult tiles =
      test::run_cli("run --hw edge --model " + model + " --variant cascade:" + kCosine + " --emit tiles");
  REQUIRE(tiles.status == 0);
  CHECK(tiles.out.find("# phase L0.attention: cascade cosine: [Qn Kn S P O] loops m:") != std::string::npos);
  CHECK(tiles.out.find("VECTOR l2norm") != std::string::npos);
  CHECK(tiles.out.find("SOFTMAX online_step") != std::string::npos);
  const test::CliResult bad =
      test::run_cli("run --hw edge --model " + model + " --variant cascade:/nonexistent/c.json");
  CHECK(bad.status == 2);
  CHECK(bad.err.find("--variant: /nonexistent/c.json: cannot open file") != std::string::npos);
}
