// Functional truth of every attention lowering: small one-layer models are compiled for several
// arrays, dataflows and SRAM sizes, the tile program runs on real data in the functional executor
// (program order and random legal orders), and the attention output and the layer output are
// compared with the independent reference (support/reference.h). Each case also asserts, from the
// phase plans, that the schedule it is meant to exercise was really chosen (several flash Q and
// K/V tiles, several row-fused query blocks with one or two score buffers, unfused S on chip or
// spilled), so coverage cannot silently disappear when a planner changes.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/errors.h"
#include "compiler/attention_lowering.h"
#include "compiler/model_lowering.h"
#include "config/hw_config.h"
#include "config/model_config.h"
#include "ir/executor.h"
#include "ir/graph.h"
#include "support/reference.h"

using namespace attnsim;

namespace {

constexpr double kTolerance = 1e-4;

struct HwSpec {
  int rows = 8, cols = 8;
  const char* dataflow = "os";
  std::int64_t sram_kib = 64;  // 4 banks
  int operand_bytes = 2;
  std::int64_t acc_kib = 0;          // accumulator storage (0: none)
  std::int64_t interleave_bytes = 0;  // SRAM stripes (0: contiguous banks)
};

struct ModelSpec {
  const char* variant = "flash";
  std::int64_t seq_len = 64, head_dim = 16, heads = 1, batch = 1, d_model = 32, ffn = 64;
  const char* activation = "gelu";  // gelu | relu | swiglu
  const char* norm = "layernorm";   // layernorm | rmsnorm
  bool pre_norm = true;
  bool causal = false;
};

// The schedule a case must take, checked on the phase plans.
enum class Path { Flash, RowFused, UnfusedOnChip, UnfusedSpilled };

struct Case {
  const char* label;
  Path path;
  HwSpec hw;
  ModelSpec model;
  int score_buffers = 0;        // RowFused, UnfusedOnChip: the expected number (0: either)
  bool split_pv_tiles = false;  // UnfusedSpilled: P V has several M and several K tiles (causal skips)
  bool check_path = true;       // false: any schedule (the random sweep)
};

HwConfig make_hw(const HwSpec& h) {
  Json doc = {{"array",
               {{"rows", h.rows},
                {"cols", h.cols},
                {"dataflow", h.dataflow},
                {"clock_mhz", 1000},
                {"operand_bytes", h.operand_bytes},
                {"accumulator_bytes", 4}}},
              {"sram", {{"banks", 4}, {"bytes_per_bank", h.sram_kib * 1024 / 4}, {"port_bytes", 64}}},
              {"dram", {{"model", "ideal"}, {"bytes_per_cycle", 64}}},
              {"softmax", {{"lanes", 8}}}};
  if (h.acc_kib) doc["accumulators"] = {{"bytes", h.acc_kib * 1024}};
  if (h.interleave_bytes) doc["sram"]["interleave_bytes"] = h.interleave_bytes;
  return parse_hw_config(doc, "hw.json");
}

ModelConfig make_model(const ModelSpec& m, int operand_bytes) {
  Json layer = {{"d_model", m.d_model},
                {"heads", m.heads},
                {"head_dim", m.head_dim},
                {"seq_len", m.seq_len},
                {"batch", m.batch},
                {"ffn", {{"width", m.ffn}, {"activation", m.activation}}},
                {"norm", m.norm},
                {"norm_position", m.pre_norm ? "pre" : "post"},
                {"causal", m.causal},
                {"attention", {{"variant", m.variant}}}};
  Json doc = {{"description", "functional test"},
              {"dtype", operand_bytes == 4 ? "fp32" : "fp16"},
              {"layers", Json::array({layer})}};
  return parse_model_config(doc, "model.json");
}

// LayerSpec -> the reference's own layer description.
ref::Layer ref_layer(const LayerSpec& s) {
  ref::Layer l;
  l.batch = s.batch;
  l.seq_len = s.seq_len;
  l.d_model = s.d_model;
  l.heads = s.heads;
  l.head_dim = s.head_dim;
  l.ffn_width = s.ffn_width;
  l.norm = s.norm == NormKind::LayerNorm ? ref::Norm::LayerNorm : ref::Norm::RmsNorm;
  l.pre_norm = s.norm_position == NormPosition::Pre;
  switch (s.activation) {
    case Activation::Gelu:
      l.act = ref::Act::Gelu;
      break;
    case Activation::Relu:
      l.act = ref::Act::Relu;
      break;
    case Activation::SwiGlu:
      l.act = ref::Act::SwiGlu;
      break;
  }
  l.causal = s.causal;
  return l;
}

int tensor_index(const TileProgram& p, const std::string& name) {
  for (std::size_t i = 0; i < p.tensors.size(); ++i)
    if (p.tensors[i].name == name) return int(i);
  FAIL("the program has no tensor " << name);
  return -1;
}

const PhaseInfo* find_phase(const CompiledModel& cm, const std::string& name) {
  for (const PhaseInfo& p : cm.phases)
    if (p.name == name) return &p;
  return nullptr;
}

std::string plans(const CompiledModel& cm) {
  std::ostringstream os;
  for (const PhaseInfo& p : cm.phases) os << "  " << p.name << ": " << p.plan << "\n";
  return os.str();
}

// The integers captured by `re` in `text` (REQUIREs a match).
std::vector<std::int64_t> captures(const std::string& text, const std::string& re) {
  std::smatch m;
  INFO("plan: " << text << "\npattern: " << re);
  REQUIRE(std::regex_search(text, m, std::regex(re)));
  std::vector<std::int64_t> v;
  for (std::size_t i = 1; i < m.size(); ++i) v.push_back(std::stoll(m[i].str()));
  return v;
}

// Asserts that the compiler took the schedule the case is meant to exercise.
void check_path(const Case& c, const CompiledModel& cm) {
  INFO("phases:\n" << plans(cm));
  const std::int64_t n = c.model.seq_len;
  const PhaseInfo* attn = find_phase(cm, "L0.attention");
  switch (c.path) {
    case Path::Flash: {
      REQUIRE(attn);
      const auto t = captures(attn->plan, R"(^flash: Q tiles (\d+)x\d+, K/V tiles (\d+)x\d+)");
      CHECK(t[0] < n);  // several Q tiles
      CHECK(t[1] < n);  // several K/V tiles per Q tile
      break;
    }
    case Path::RowFused: {
      REQUIRE(attn);
      const auto t = captures(attn->plan, R"(^row-fused: query blocks of (\d+) rows.*, (\d) score buffer)");
      CHECK(t[0] < n);  // several query blocks
      CHECK((t[1] == 1 || t[1] == 2));  // the mapper's choice (c.score_buffers was the planner's)
      break;
    }
    case Path::UnfusedOnChip: {
      REQUIRE(attn);
      CHECK_THAT(attn->plan, Catch::StartsWith("unfused, S ") && Catch::Contains("on chip"));
      const auto t = captures(attn->plan, R"((\d) score buffer)");
      CHECK((t[0] == 1 || t[0] == 2));  // the mapper's choice (c.score_buffers was the planner's)
      break;
    }
    case Path::UnfusedSpilled: {
      CHECK(!attn);
      // The vanilla cascade's three groups [S] [P] [O], S and P through DRAM, causal or not (a causal
      // layer's groups skip the tiles with no unmasked entry, cascade/lower.h).
      const PhaseInfo *qk = find_phase(cm, "L0.attention.0"), *sm = find_phase(cm, "L0.attention.1"),
                      *pv = find_phase(cm, "L0.attention.2");
      REQUIRE(qk);
      REQUIRE(sm);
      REQUIRE(pv);
      CHECK_THAT(qk->plan, Catch::StartsWith("unfused, S spilled to DRAM"));
      if (c.split_pv_tiles) {
        // O = P V in several row tiles, each summed over several key tiles (causal: the key tiles past a
        // row tile's last query are skipped).
        const auto t = captures(pv->plan, R"(\[O\] loops m:(\d+).* p:(\d+))");
        CHECK(t[0] < n);
        CHECK(t[1] < n);
      }
      break;
    }
  }
}

// The tensors the program moves to or from DRAM occupy disjoint byte ranges. The executor keeps one
// array per tensor and cannot see two tensors alias; the hardware's one DRAM would.
void check_dram_disjoint(const TileProgram& p) {
  std::vector<char> used(p.tensors.size(), 0);
  for (const Instr& in : p.instrs)
    if (in.op == Opcode::Load || in.op == Opcode::Store) used[in.tensor] = 1;
  std::vector<const TensorInfo*> ts;
  for (std::size_t i = 0; i < p.tensors.size(); ++i)
    if (used[i]) ts.push_back(&p.tensors[i]);
  std::sort(ts.begin(), ts.end(), [](const TensorInfo* a, const TensorInfo* b) { return a->dram_base < b->dram_base; });
  for (std::size_t i = 1; i < ts.size(); ++i) {
    INFO(ts[i - 1]->name << " and " << ts[i]->name);
    CHECK(ts[i - 1]->dram_base + ts[i - 1]->bytes() <= ts[i]->dram_base);
  }
}

// Compiles the case, runs its program on random data under each executor seed (0: program order,
// others: random legal orders, see executor.h), and compares L0.o with the reference attention per
// (batch, head) and L0.y with the reference layer.
void run_case(const Case& c, const std::vector<std::uint64_t>& seeds = {0, 1, 2, 3}) {
  INFO("case " << c.label);
  const HwConfig hw = make_hw(c.hw);
  const ModelConfig mc = make_model(c.model, c.hw.operand_bytes);
  const Graph g = build_graph(mc);
  // A flash case fixes its tiles (through a mapping, as a user would) to the largest flash plan that
  // fits with several Q and several K/V tiles (attention_lowering.h): the mapper's own pick may cover
  // N in one tile.
  ModelMapping fixed;
  MapperOptions opt;
  if (c.check_path && c.path == Path::Flash) {
    const std::int64_t n = c.model.seq_len;
    FlashPlan best;
    for (const FlashPlan& f : flash_plan_candidates(hw, n, c.model.head_dim, std::uint64_t(hw.sram.total_bytes())))
      if (f.bq < n && f.bk < n && std::make_pair(f.bq * f.bk, f.bq) > std::make_pair(best.bq * best.bk, best.bq))
        best = f;
    REQUIRE(best.bq > 0);
    fixed.ops.push_back({"L0.attention", {"flash", {{"m", best.bq}, {"p", best.bk}}, {}}});
    opt.fixed = &fixed;
  }
  const CompiledModel cm = compile_model(hw, g, nullptr, opt);
  if (c.check_path) check_path(c, cm);
  const TileProgram p = cm.program.materialise();
  if (hw.accumulators.present) {  // the case must put something there to test it
    bool any = false;
    for (const BufferInfo& b : p.buffers) any = any || hw.in_accumulators(b.region.addr);
    CHECK(any);
  }
  REQUIRE(p.tensors.size() == g.tensors.size());
  for (std::size_t i = 0; i < g.tensors.size(); ++i) REQUIRE(p.tensors[i].name == g.tensors[i].name);
  check_dram_disjoint(p);

  const ref::Layer l = ref_layer(mc.layers.front());
  const ref::LayerWeights w = ref::LayerWeights::random(l, 1000 + std::uint64_t(c.model.seq_len));
  const ref::Mat x = ref::random_values(std::size_t(l.tokens() * l.d_model), 77);

  // The reference: qkv from x (normed first when pre-norm), attention per (batch, head), the layer.
  const std::int64_t t = l.tokens(), d = l.d_model, hd = l.hd(), n = l.seq_len, dh = l.head_dim;
  const ref::Mat qkv_in = l.pre_norm ? ref::norm(l, x, w.norm1) : x;
  const ref::Mat qkv = ref::matmul(qkv_in, w.wqkv, t, d, 3 * hd);
  const double scale = 1 / std::sqrt(double(dh));
  std::vector<ref::Mat> want_heads;  // batch-major, as the graph's heads
  for (std::int64_t b = 0; b < l.batch; ++b)
    for (std::int64_t h = 0; h < l.heads; ++h)
      want_heads.push_back(ref::attention(ref::block(qkv, 3 * hd, b * n, n, h * dh, dh),
                                          ref::block(qkv, 3 * hd, b * n, n, hd + h * dh, dh),
                                          ref::block(qkv, 3 * hd, b * n, n, 2 * hd + h * dh, dh), n, dh, scale,
                                          l.causal));
  const ref::Mat want_y = ref::transformer_layer(l, w, x);

  const int tx = tensor_index(p, "x"), to = tensor_index(p, "L0.o"), ty = tensor_index(p, "L0.y");
  const std::vector<std::pair<int, const ref::Mat*>> inputs = {
      {tx, &x},
      {tensor_index(p, "L0.Wqkv"), &w.wqkv},
      {tensor_index(p, "L0.Wo"), &w.wo},
      {tensor_index(p, "L0.W1"), &w.w1},
      {tensor_index(p, "L0.W2"), &w.w2},
      {tensor_index(p, "L0.norm1"), &w.norm1},
      {tensor_index(p, "L0.norm2"), &w.norm2}};
  for (std::uint64_t seed : seeds) {
    INFO("seed " << seed);
    // A fresh executor per run: DRAM starts as NaN, so a read before its write cannot find the
    // previous run's values.
    Executor e(p, hw.onchip_bytes());
    for (const auto& [idx, values] : inputs) e.set_tensor(idx, *values);
    e.run(seed);
    const ref::Mat o = e.tensor(to), y = e.tensor(ty);
    for (std::int64_t b = 0; b < l.batch; ++b)
      for (std::int64_t h = 0; h < l.heads; ++h) {
        INFO("batch " << b << " head " << h);
        CHECK(ref::max_rel_error(ref::block(o, hd, b * n, n, h * dh, dh), want_heads[b * l.heads + h]) < kTolerance);
      }
    CHECK(ref::max_rel_error(y, want_y) < kTolerance);
  }
}

void run_cases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SECTION(c.label) { run_case(c); }
  }
}

template <typename T>
T pick(std::mt19937_64& rng, std::initializer_list<T> values) {
  return values.begin()[rng() % values.size()];  // rng() % n: the same sequence with every library
}

// The message of the UserError compile_model throws.
std::string compile_error(const HwSpec& h, const ModelSpec& m) {
  const HwConfig hw = make_hw(h);
  const Graph g = build_graph(make_model(m, h.operand_bytes));
  try {
    compile_model(hw, g);
  } catch (const UserError& e) {
    return e.what();
  }
  FAIL("compile_model did not throw");
  return "";
}

}  // namespace

TEST_CASE("flash attention computes attention and the layer on several Q and K/V tiles", "[functional]") {
  // HwSpec: rows, cols, dataflow, SRAM KiB, operand bytes. ModelSpec: variant, N, dh, heads, batch,
  // d_model, ffn, activation, norm, pre-norm, causal.
  run_cases({
      {"N=200 causal pre-norm gelu layernorm, 4x4 os", Path::Flash, {4, 4, "os", 16, 2},
       {"flash", 200, 16, 2, 1, 32, 64, "gelu", "layernorm", true, true}},
      {"N=96 batch 2 post-norm swiglu rmsnorm, 8x8 ws", Path::Flash, {8, 8, "ws", 16, 2},
       {"flash", 96, 32, 1, 2, 48, 64, "swiglu", "rmsnorm", false, false}},
      {"N=64 3 heads causal relu rmsnorm, 16x8 is", Path::Flash, {16, 8, "is", 16, 2},
       {"flash", 64, 16, 3, 1, 32, 48, "relu", "rmsnorm", true, true}},
      {"N=200 dh=32 batch 2, 16x8 ws", Path::Flash, {16, 8, "ws", 24, 2},
       {"flash", 200, 32, 1, 2, 32, 64, "gelu", "layernorm", true, false}},
      {"fp32 N=96 batch 2 causal post-norm, 8x8 os", Path::Flash, {8, 8, "os", 16, 4},
       {"flash", 96, 16, 2, 2, 32, 64, "gelu", "layernorm", false, true}},
  });
}

TEST_CASE("row-fused attention computes attention and the layer over several query blocks", "[functional]") {
  run_cases({
      {"N=200 batch 2 causal, 2 score buffers, 4x4 os", Path::RowFused, {4, 4, "os", 32, 2},
       {"row_fused", 200, 16, 2, 2, 32, 64, "gelu", "layernorm", true, true}, 2},
      {"N=96 dh=32 post-norm relu rmsnorm, 1 score buffer, 16x8 ws", Path::RowFused, {16, 8, "ws", 16, 2},
       {"row_fused", 96, 32, 1, 1, 32, 64, "relu", "rmsnorm", false, false}, 1},
      {"N=64 3 heads causal swiglu, 1 score buffer, 8x8 is", Path::RowFused, {8, 8, "is", 8, 2},
       {"row_fused", 64, 16, 3, 1, 32, 32, "swiglu", "layernorm", false, true}, 1},
      {"N=200 causal, blocks of 10 rows, 1 score buffer, 16x8 os", Path::RowFused, {16, 8, "os", 16, 2},
       {"row_fused", 200, 16, 1, 1, 32, 64, "relu", "rmsnorm", true, true}, 1},
      {"N=96 2 heads batch 2, 2 score buffers, 8x8 is", Path::RowFused, {8, 8, "is", 24, 2},
       {"row_fused", 96, 16, 2, 2, 32, 64, "swiglu", "rmsnorm", true, false}, 2},
      {"fp32 N=100 2 heads causal, 1 score buffer, 8x4 ws", Path::RowFused, {8, 4, "ws", 16, 4},
       {"row_fused", 100, 16, 2, 1, 32, 64, "gelu", "layernorm", false, true}, 1},
  });
}

TEST_CASE("unfused attention computes attention and the layer with S on chip and S spilled", "[functional]") {
  run_cases({
      {"S on chip: N=64 batch 2 causal, 8x8 os", Path::UnfusedOnChip, {8, 8, "os", 64, 2},
       {"unfused", 64, 16, 2, 2, 32, 64, "gelu", "rmsnorm", true, true}, 2},
      {"S on chip: N=96 dh=32 post-norm swiglu, 4x4 ws", Path::UnfusedOnChip, {4, 4, "ws", 96, 2},
       {"unfused", 96, 32, 1, 1, 32, 64, "swiglu", "layernorm", false, false}, 1},
      {"S spilled: N=200 batch 2 causal, split P V tiles, 16x8 is", Path::UnfusedSpilled, {16, 8, "is", 16, 2},
       {"unfused", 200, 16, 2, 2, 32, 64, "relu", "layernorm", true, true}, 0, true},
      {"S spilled: N=96 dh=32 post-norm gelu rmsnorm, 8x8 ws", Path::UnfusedSpilled, {8, 8, "ws", 16, 2},
       {"unfused", 96, 32, 1, 1, 32, 64, "gelu", "rmsnorm", false, false}},
      {"S spilled: N=200 causal post-norm swiglu, 4x4 os", Path::UnfusedSpilled, {4, 4, "os", 16, 2},
       {"unfused", 200, 16, 1, 1, 32, 64, "swiglu", "rmsnorm", false, true}},
      {"S spilled: N=96 2 heads causal, 8x8 ws", Path::UnfusedSpilled, {8, 8, "ws", 24, 2},
       {"unfused", 96, 16, 2, 1, 32, 64, "gelu", "layernorm", true, true}},
      {"fp32 S spilled: N=64 batch 2 causal, 8x8 os", Path::UnfusedSpilled, {8, 8, "os", 16, 4},
       {"unfused", 64, 16, 1, 2, 32, 64, "relu", "rmsnorm", true, true}},
  });
}

TEST_CASE("with accumulator storage and interleaved banks every lowering computes the same", "[functional]") {
  // The same schedules with partial sums (GEMM C tiles, flash's O and S, row-fused's O) in
  // accumulator storage above the SRAM's addresses and the SRAM striped in 64 B: where a tile lives
  // changes timing, not values. Each case checks that some buffer lies in the accumulators.
  run_cases({
      {"flash N=200 causal, 4x4 os, 8 KiB accumulators", Path::Flash, {4, 4, "os", 16, 2, 8, 64},
       {"flash", 200, 16, 2, 1, 32, 64, "gelu", "layernorm", true, true}},
      {"flash N=96 batch 2, 8x8 ws, 8 KiB accumulators", Path::Flash, {8, 8, "ws", 16, 2, 8, 128},
       {"flash", 96, 32, 1, 2, 48, 64, "swiglu", "rmsnorm", false, false}},
      {"row-fused N=200 batch 2 causal, 4x4 os", Path::RowFused, {4, 4, "os", 32, 2, 16, 64},
       {"row_fused", 200, 16, 2, 2, 32, 64, "gelu", "layernorm", true, true}, 2},
      {"S on chip: N=64 batch 2 causal, 8x8 os", Path::UnfusedOnChip, {8, 8, "os", 64, 2, 16, 256},
       {"unfused", 64, 16, 2, 2, 32, 64, "gelu", "rmsnorm", true, true}, 2},
      {"S spilled: N=200 batch 2 causal, 16x8 is", Path::UnfusedSpilled, {16, 8, "is", 16, 2, 4, 64},
       {"unfused", 200, 16, 2, 2, 32, 64, "relu", "layernorm", true, true}, 0, true},
  });
}

TEST_CASE("attention that fits nowhere is a UserError naming the op, the tile and the capacity", "[functional]") {
  SECTION("flash in 1 KiB") {
    const std::string msg =
        compile_error({4, 4, "os", 1, 2}, {"flash", 64, 16, 1, 1, 32, 64, "gelu", "layernorm", true, false});
    CHECK_THAT(msg, Catch::Contains("L0.attention") && Catch::Contains("flash") && Catch::Contains("Q 4x16") &&
                        Catch::Contains("scores 4x4") && Catch::Contains("1024 B"));
  }
  SECTION("row-fused when one score row does not fit") {
    const std::string msg =
        compile_error({4, 4, "os", 16, 2}, {"row_fused", 4096, 16, 1, 1, 32, 64, "gelu", "layernorm", true, false});
    CHECK_THAT(msg, Catch::Contains("L0.attention") && Catch::Contains("row-fused") && Catch::Contains("S 1x4096") &&
                        Catch::Contains("16384 B"));
  }
  SECTION("unfused when one spilled score row does not fit the softmax") {
    const std::string msg =
        compile_error({4, 4, "os", 16, 2}, {"unfused", 4096, 16, 1, 1, 32, 64, "gelu", "layernorm", true, false});
    CHECK_THAT(msg, Catch::Contains("L0.attention") && Catch::Contains("one row of 4096 elements") &&
                        Catch::Contains("16384 B"));
  }
}

TEST_CASE("random small models compute attention and the layer under every lowering", "[functional]") {
  // A deterministic sweep beyond the cases above: odd array sides, sequence lengths and head sizes
  // that divide no tile, fp16 and fp32, whatever schedule the planners pick for the SRAM drawn.
  // Models that fit nowhere are skipped; each variant must still run several times.
  std::mt19937_64 rng(20240611);
  const char* const variants[] = {"unfused", "row_fused", "flash"};
  int ran[3] = {0, 0, 0};
  for (int i = 0; i < 60; ++i) {
    Case c{"", Path::Flash, {}, {}};
    c.check_path = false;
    c.hw = {pick(rng, {2, 3, 4, 5, 8, 16}), pick(rng, {2, 3, 4, 7, 8, 16}), pick<const char*>(rng, {"os", "ws", "is"}),
            pick<std::int64_t>(rng, {8, 12, 16, 24, 32, 48, 64, 96}), pick(rng, {2, 2, 4})};
    c.model = {variants[i % 3],
               pick<std::int64_t>(rng, {1, 5, 17, 33, 64, 100, 130}),
               pick<std::int64_t>(rng, {8, 16, 24, 32}),
               pick<std::int64_t>(rng, {1, 2, 3}),
               pick<std::int64_t>(rng, {1, 2}),
               pick<std::int64_t>(rng, {16, 32, 48}),
               pick<std::int64_t>(rng, {32, 40, 64}),
               pick<const char*>(rng, {"gelu", "relu", "swiglu"}),
               pick<const char*>(rng, {"layernorm", "rmsnorm"}),
               rng() % 2 == 0,
               rng() % 2 == 0};
    std::ostringstream label;
    label << "sweep " << i << ": " << c.hw.rows << "x" << c.hw.cols << " " << c.hw.dataflow << " " << c.hw.sram_kib
          << " KiB, " << c.hw.operand_bytes << " B operands; " << c.model.variant << " N=" << c.model.seq_len
          << " dh=" << c.model.head_dim << " heads=" << c.model.heads << " batch=" << c.model.batch
          << " d_model=" << c.model.d_model << " ffn=" << c.model.ffn << " " << c.model.activation << " "
          << c.model.norm << (c.model.pre_norm ? " pre" : " post") << (c.model.causal ? " causal" : "");
    const std::string text = label.str();
    c.label = text.c_str();
    try {
      compile_model(make_hw(c.hw), build_graph(make_model(c.model, c.hw.operand_bytes)));
    } catch (const UserError&) {
      continue;  // nothing fits: the messages are checked above
    }
    run_case(c, {0, 1, 2});
    ++ran[i % 3];
  }
  for (int v = 0; v < 3; ++v) {
    INFO(variants[v]);
    CHECK(ran[v] >= 10);
  }
}
