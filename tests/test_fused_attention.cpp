// Attention fused in the array (FuseMax class): the datapath section, the closed-form timing of the fused
// instruction (derived by hand in the comments), the fused lowering executed on real data against the
// independent reference (support/reference.h), the accelerator's cycles against the closed form, its
// DRAM traffic against the compulsory Q, K, V, O bytes, and the unfused always-spill option.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/errors.h"
#include "compiler/emitter.h"
#include "compiler/fused_attention_lowering.h"
#include "compiler/model_lowering.h"
#include "config/design_lint.h"
#include "config/hw_config.h"
#include "config/json_reader.h"
#include "config/model_config.h"
#include "hw/accelerator.h"
#include "ir/executor.h"
#include "ir/graph.h"
#include "sim/simulate.h"
#include "support/isolated.h"
#include "support/reference.h"
#include "timing/fused_timing.h"

using namespace attnsim;
using attnsim::test::run_isolated;

namespace {

struct DpSpec {
  int rows = 8, cols = 8;
  int exp = 4, entries = 2;
  int units = 8, ops = 2, unit_exp = 4;
  std::int64_t sram_kib = 64;
};

Json fused_hw_doc(const DpSpec& s) {
  return {{"array", {{"rows", s.rows}, {"cols", s.cols}, {"clock_mhz", 1000}, {"operand_bytes", 2}}},
          {"sram", {{"banks", 4}, {"bytes_per_bank", s.sram_kib * 1024 / 4}, {"port_bytes", 64}}},
          {"dram", {{"model", "ideal"}, {"bytes_per_cycle", 64}}},
          {"softmax", {{"lanes", 8}}},
          {"datapath",
           {{"pe", {{"max", 1}, {"add", 1}, {"row_scalar_mul", 1}, {"exp", s.exp}, {"score_entries", s.entries}}},
            {"row_units", {{"count", s.units}, {"ops_per_cycle", s.ops}, {"exp_cycles", s.unit_exp}}}}}};
}

HwConfig fused_hw(const DpSpec& s) { return parse_hw_config(fused_hw_doc(s), "hw.json"); }

ModelConfig one_layer(const char* variant, std::int64_t n, std::int64_t dh, std::int64_t heads, std::int64_t batch,
                      bool causal) {
  Json layer = {{"d_model", dh * heads},
                {"heads", heads},
                {"head_dim", dh},
                {"seq_len", n},
                {"batch", batch},
                {"ffn", {{"width", 2 * dh * heads}, {"activation", "gelu"}}},
                {"norm", "layernorm"},
                {"norm_position", "pre"},
                {"causal", causal},
                {"attention", {{"variant", variant}}}};
  return parse_model_config({{"description", "fused test"}, {"dtype", "fp16"}, {"layers", Json::array({layer})}},
                            "model.json");
}

int tensor_index(const TileProgram& p, const std::string& name) {
  for (std::size_t i = 0; i < p.tensors.size(); ++i)
    if (p.tensors[i].name == name) return int(i);
  FAIL("the program has no tensor " << name);
  return -1;
}

// Compiles a one-layer model with the fused variant, runs it in the functional executor (program order
// and random legal orders) and compares each head's attention output with the reference.
void check_fused_functional(const DpSpec& hs, std::int64_t n, std::int64_t dh, std::int64_t heads,
                            std::int64_t batch, bool causal) {
  INFO("N " << n << " dh " << dh << " heads " << heads << " batch " << batch << " causal " << causal << " array "
            << hs.rows << "x" << hs.cols);
  const HwConfig hw = fused_hw(hs);
  const ModelConfig mc = one_layer("fused", n, dh, heads, batch, causal);
  const Graph g = build_graph(mc);
  const CompiledModel cm = compile_model(hw, g);
  bool fused_phase = false;
  for (const PhaseInfo& ph : cm.phases) fused_phase |= ph.plan.rfind("fused in the array", 0) == 0;
  REQUIRE(fused_phase);
  const TileProgram p = cm.program.materialise();
  std::uint64_t fused = 0;
  for (const Instr& in : p.instrs) fused += in.is_fused_attention();
  // One instruction per (batch, head, query block of the array's rows).
  CHECK(fused == std::uint64_t(batch * heads * ((n + hs.rows - 1) / hs.rows)));

  const std::int64_t d = dh * heads, t = batch * n;
  const double scale = 1 / std::sqrt(double(dh));
  const int to = tensor_index(p, "L0.o");
  for (std::uint64_t seed : {0, 1, 2}) {
    INFO("seed " << seed);
    Executor e(p, hw.onchip_bytes());
    // The whole layer runs on random x and weights; the reference computes Q, K, V from them (in double).
    const ref::Layer l = [&] {
      ref::Layer x;
      x.batch = batch, x.seq_len = n, x.d_model = d, x.heads = heads, x.head_dim = dh, x.ffn_width = 2 * d;
      x.norm = ref::Norm::LayerNorm, x.pre_norm = true, x.act = ref::Act::Gelu, x.causal = causal;
      return x;
    }();
    const ref::LayerWeights w = ref::LayerWeights::random(l, 500 + std::uint64_t(n));
    const ref::Mat x = ref::random_values(std::size_t(t * d), 77);
    e.set_tensor(tensor_index(p, "x"), x);
    e.set_tensor(tensor_index(p, "L0.Wqkv"), w.wqkv);
    e.set_tensor(tensor_index(p, "L0.Wo"), w.wo);
    e.set_tensor(tensor_index(p, "L0.W1"), w.w1);
    e.set_tensor(tensor_index(p, "L0.W2"), w.w2);
    e.set_tensor(tensor_index(p, "L0.norm1"), w.norm1);
    e.set_tensor(tensor_index(p, "L0.norm2"), w.norm2);
    e.run(seed);
    const ref::Mat q = ref::matmul(ref::norm(l, x, w.norm1), w.wqkv, t, d, 3 * d);
    const ref::Mat o = e.tensor(to);
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t h = 0; h < heads; ++h) {
        INFO("batch " << b << " head " << h);
        const ref::Mat want =
            ref::attention(ref::block(q, 3 * d, b * n, n, h * dh, dh), ref::block(q, 3 * d, b * n, n, d + h * dh, dh),
                           ref::block(q, 3 * d, b * n, n, 2 * d + h * dh, dh), n, dh, scale, causal);
        CHECK(ref::max_rel_error(ref::block(o, d, b * n, n, h * dh, dh), want) < 1e-4);
      }
    CHECK(ref::max_rel_error(e.tensor(tensor_index(p, "L0.y")), ref::transformer_layer(l, w, x)) < 1e-4);
  }
}

// A program of fused attention instructions on operands already in SRAM, simulated in a child process;
// returns the run's cycles.
std::int64_t simulate_fused(const HwConfig& hw, const std::vector<FusedAttentionDims>& instrs, bool dependent) {
  auto r = run_isolated([&] {
    ProgramSource src;
    src.summary = "fused";
    src.generate = [&](ProgramSink& sink) {
      std::vector<TensorInfo> none;
      Emitter em(sink, none);
      std::uint32_t prev = kNoInstr;
      for (const FusedAttentionDims& d : instrs) {
        // Q, O at 0 and 4 KiB; K, V at 16 and 32 KiB (other banks: no port contention among them).
        const SramTile q = tile_at(0, d.m, d.d, 2), o = tile_at(4096, d.m, d.d, 2);
        const SramTile k = tile_at(16384, d.n, d.d, 2), v = tile_at(32768, d.n, d.d, 2);
        prev = em.fused_attention(q, k, v, o, hw.array.cols, 0.25f, false, 0, {dependent ? prev : kNoInstr});
      }
    };
    return std::to_string(simulate(hw, src).stats.cycles);
  });
  REQUIRE(r.exit_status == 0);
  return std::stoll(r.output);
}

}  // namespace

TEST_CASE("fused attention timing: the closed form by hand", "[fused][timing]") {
  DpSpec s;  // 8x8, PE max 1 add 1 row_scalar_mul 1 exp 4, 2 entries, 8 row units at 2 ops, exp 4
  HwConfig hw = fused_hw(s);
  // d = 16: front F = 16 + 1 + 1 = 18, back B = 2 + 4 + 16 = 22, issue 40; the row-max round trip keeps an
  // entry 2 x 8 + 1 - 1 = 16 cycles longer, 2 entries: tile_pe = max(40, ceil(56 / 2)) = 40. Rows per unit 1:
  // tile_row = ceil(36 / 2) + 4 + ceil(16 / 2) + 4 = 34. m = 8, n = 20: 1 query fold x ceil(20 / 8) = 3 key
  // tiles: occupancy 120. Back offset: 16 mod 40 > 40 - 40, so 40. drain = F + offset + C + B - 1 - P +
  // (last row 7 + its unit's job 34) = 18 + 40 + 8 + 22 - 1 - 40 + 41 = 88.
  FusedAttentionTiming t = fused_attention_timing(hw.array, hw.datapath, {8, 20, 16});
  CHECK(t.tile_pe == 40);
  CHECK(t.tile_row == 34);
  CHECK(t.tile == 40);
  CHECK(t.occupancy == 120);
  CHECK(t.drain == 88);
  CHECK(t.cycles() == 208);
  // m = 20 > 8 rows: 3 query folds x 3 key tiles x 40 = 360.
  CHECK(fused_attention_timing(hw.array, hw.datapath, {20, 20, 16}).occupancy == 360);
  // One score entry: nothing overlaps the round trip, 40 + 16 = 56 per tile.
  s.entries = 1;
  CHECK(fused_attention_timing(fused_hw(s).array, fused_hw(s).datapath, {8, 20, 16}).tile == 56);
  // A 4 x 64 array (d = 16): an entry held 40 + 128; 2 entries: max(40, 168 / 2) = 84; 5 entries: 40.
  s = DpSpec{};
  s.rows = 4, s.cols = 64, s.units = 4;
  CHECK(fused_attention_timing(fused_hw(s).array, fused_hw(s).datapath, {4, 64, 16}).tile == 84);
  s.entries = 5;
  CHECK(fused_attention_timing(fused_hw(s).array, fused_hw(s).datapath, {4, 64, 16}).tile == 40);
  // 2 row units at 1 op per cycle: 4 rows each, 4 x 36 + 4 x 4 + (4 x 16 + 4 x 4 for O / l) = 240 cycles per
  // tile: the 1D array sets the pace.
  s = DpSpec{};
  s.units = 2, s.ops = 1;
  hw = fused_hw(s);
  t = fused_attention_timing(hw.array, hw.datapath, {8, 20, 16});
  CHECK(t.tile_row == 240);
  CHECK(t.tile == 240);
  // Back offset 16 (16 mod 240 <= 200); the unit of rows 4..7 ends last: drain = 18 + 16 + 8 + 22 - 1 - 240 +
  // (7 + 240) = 70.
  CHECK(t.drain == 70);
  // The FuseMax-like preset at BERT's d = 64: F = 66, B = 70, issue 136, an entry held 136 + 512 over 5
  // entries: tile_pe = max(136, 130) = 136; tile_row = 66 + 4 + 32 + 4 = 106; m = 256, n = 4096: 16 tiles,
  // occupancy 2176; offset 4 x 136 = 544 (512 mod 136 > 0); drain 66 + 544 + 256 + 70 - 1 - 136 + (255 + 106)
  // = 1160.
  const HwConfig fm = load_hw_config("fusemax-cloud");
  t = fused_attention_timing(fm.array, fm.datapath, {256, 4096, 64});
  CHECK(t.tile == 136);
  CHECK(t.tile_row == 106);
  CHECK(t.occupancy == 2176);
  CHECK(t.drain == 1160);
}

TEST_CASE("fused attention on the accelerator takes the closed form's cycles", "[fused][accelerator]") {
  const HwConfig hw = fused_hw(DpSpec{});
  // One instruction m 8, n 20, d 16: 120 + 88 = 208 cycles (SRAM ports: K is 640 B in one 64 B port bank,
  // 10 cycles, well under 120).
  CHECK(simulate_fused(hw, {{8, 20, 16}}, false) == 208);
  // Two independent ones: the second starts when the first's occupancy ends, 120 + 120 + 88 = 328.
  CHECK(simulate_fused(hw, {{8, 20, 16}, {8, 20, 16}}, false) == 328);
  // Dependent (the second needs the first's output): 208 + 208 = 416.
  CHECK(simulate_fused(hw, {{8, 20, 16}, {8, 20, 16}}, true) == 416);
  // Randomized: a chain of independent instructions costs its occupancies plus the last one's drain (all
  // drains equal here: m = 8 on every instruction).
  std::mt19937_64 rng(13);
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<FusedAttentionDims> v;
    std::int64_t want = 0;
    const int count = 1 + int(rng() % 4);
    for (int i = 0; i < count; ++i) {
      const FusedAttentionDims d{8, 1 + std::int64_t(rng() % 40), 16};
      v.push_back(d);
      want += fused_attention_timing(hw.array, hw.datapath, d).occupancy;
    }
    want += 88;
    INFO("trial " << trial);
    CHECK(simulate_fused(hw, v, false) == want);
  }
  // Both array fidelities, and a pair where a hazard moves the second start (tests/test_fused_pe.cpp, by
  // hand): 2 row units at 1 operation, a short block (m 3) after a full one: starts 0 and 725, O out at 909.
  DpSpec two;
  two.units = 2, two.ops = 1;
  for (ArrayFidelity f : {ArrayFidelity::Fast, ArrayFidelity::Pe}) {
    HwConfig h = fused_hw(DpSpec{});
    h.array.fidelity = f;
    INFO("fidelity " << (f == ArrayFidelity::Pe ? "pe" : "fast"));
    CHECK(simulate_fused(h, {{8, 20, 16}, {8, 20, 16}}, false) == 328);
    CHECK(simulate_fused(h, {{8, 20, 16}, {8, 20, 16}}, true) == 416);
    h = fused_hw(two);
    h.array.fidelity = f;
    CHECK(simulate_fused(h, {{8, 20, 16}, {3, 8, 16}}, false) == 909);
  }
}

TEST_CASE("fused attention computes attention and the layer", "[fused][functional]") {
  // Hand-picked: one query block and one key tile, several of each, a partial last block, causal.
  check_fused_functional(DpSpec{}, 8, 16, 1, 1, false);
  check_fused_functional(DpSpec{}, 40, 16, 2, 1, false);
  check_fused_functional(DpSpec{}, 37, 16, 2, 2, true);
  DpSpec wide;
  wide.rows = 4, wide.cols = 16;
  check_fused_functional(wide, 50, 8, 1, 1, true);
  // Random shapes.
  std::mt19937_64 rng(2026);
  for (int i = 0; i < 3; ++i) {
    DpSpec s;
    s.rows = 4 << (rng() % 2), s.cols = 4 << (rng() % 3);
    const std::int64_t n = 5 + std::int64_t(rng() % 60), dh = 8 << (rng() % 2);
    check_fused_functional(s, n, dh, 1 + std::int64_t(rng() % 2), 1, rng() % 2 == 0);
  }
}

TEST_CASE("fused attention moves only the compulsory Q, K, V and O bytes", "[fused][traffic]") {
  const HwConfig hw = fused_hw(DpSpec{});
  const std::int64_t n = 40, dh = 16, heads = 2, batch = 2;
  const CompiledModel cm = compile_model(hw, build_graph(one_layer("fused", n, dh, heads, batch, false)));
  const ProgramCounts c = count_program(cm.program);
  // Attention's LOADs are classed qk (Q, K) and pv (V), its STOREs pv (O): 2 B x 40 x 16 = 1280 B per
  // head and tensor, 4 heads: Q + K + V = 15360 B loaded, O = 5120 B stored.
  CHECK(c.load_bytes_by_class[std::size_t(OpClass::QK)] + c.load_bytes_by_class[std::size_t(OpClass::PV)] == 15360);
  CHECK(c.store_bytes_by_class[std::size_t(OpClass::PV)] == 5120);
  // MACs of the fused instructions: 2 N^2 d per head = 2 x 1600 x 16 x 4 = 204800.
  CHECK(c.macs_by_class[std::size_t(OpClass::QK)] == 204800);
}

TEST_CASE("the datapath section: validation and the schedules it admits", "[fused][config]") {
  Json doc = fused_hw_doc(DpSpec{});
  doc["datapath"]["pe"] = {{"score_entries", 2}};
  try {
    parse_hw_config(doc, "hw.json");
    FAIL("accepted score storage without PE primitives");
  } catch (const UserError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("hw.json: /datapath/pe/score_entries"));
  }
  doc["datapath"]["pe"] = {{"max", 1}, {"exp", -1}, {"bogus", 1}};
  try {
    parse_hw_config(doc, "hw.json");
    FAIL("accepted a negative exp cost and an unknown key");
  } catch (const UserError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("/datapath/pe/exp") && Catch::Contains("/datapath/pe/bogus"));
  }
  // The schedules: the cloud preset has no datapath section, fusemax-cloud admits all four.
  auto fused_row = [](const HwConfig& hw) {
    for (const ScheduleAdmission& a : admitted_schedules(hw))
      if (a.schedule == "fused") return a;
    return ScheduleAdmission{};
  };
  const ScheduleAdmission cloud = fused_row(load_hw_config("cloud"));
  CHECK(!cloud.admitted);
  CHECK_THAT(cloud.why, Catch::Contains("a /datapath section"));
  CHECK(fused_row(load_hw_config("fusemax-cloud")).admitted);
  doc = fused_hw_doc(DpSpec{});
  doc["datapath"].erase("row_units");
  doc["datapath"]["pe"].erase("exp");
  const ScheduleAdmission partial = fused_row(parse_hw_config(doc, "hw.json"));
  CHECK(!partial.admitted);
  CHECK(partial.why == "needs PE exp, row_units");
  // A fused model on a datapath without it is a user error naming /datapath.
  try {
    compile_model(load_hw_config("cloud"), build_graph(one_layer("fused", 64, 16, 1, 1, false)));
    FAIL("compiled fused attention on the cloud preset");
  } catch (const UserError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("preset:cloud: /datapath"));
  }
  // The row_unit_rate lint: 2 units at 1 op per cycle on 8 rows, d = 16: 240 cycles per tile against 40.
  DpSpec slow;
  slow.units = 2, slow.ops = 1;
  bool warned = false;
  for (const LintWarning& w : lint_hardware(fused_hw(slow), 16)) warned |= w.rule == "row_unit_rate";
  CHECK(warned);
  // The score_entries lint: 2 entries on a 4 x 64 array, d = 16: an entry is held 40 + 128 cycles, 84 per
  // tile against the PE's 40.
  DpSpec few;
  few.rows = 4, few.cols = 64, few.units = 4;
  warned = false;
  for (const LintWarning& w : lint_hardware(fused_hw(few), 16)) warned |= w.rule == "score_entries";
  CHECK(warned);
  CHECK(lint_hardware(load_hw_config("fusemax-cloud"), 64).empty());
}

TEST_CASE("unfused:spill=1 on fusemax-cloud: traffic and latency within 2 % of the hand derivation",
          "[fused][spill]") {
  // BERT-base layer (12 heads of d = 64), N = 1024, batch 1, on fusemax-cloud (456.9 B/cycle of DRAM,
  // 256 x 256 PEs, output-stationary, a 1024-lane softmax unit). The published unfused baseline writes
  // the score matrix and reads it back twice per head: S = Q K^T out, S in and P out for the softmax,
  // P in for P V; 2-byte elements. Per head, in bytes (N^2 = 1048576, N d = 65536):
  //   qk       Q, K in 2 x 2 N d = 262144, S out 2 N^2 = 2097152          -> 2359296
  //   softmax  S in 2 N^2, P out 2 N^2                                    -> 4194304
  //   pv       P in 2 N^2 = 2097152, V in 2 N d = 131072, O out 131072    -> 2359296
  // The DRAM binds each phase: the array needs 16 output folds of 256 x 256 for Q K^T (k = 64), one
  // per R = 256 cycles when chained (array_timing.h: a fold's results drain in R cycles): 4096 cycles
  // per head against 2359296 / 456.9 = 5163.7; P V is 8 folds of T = 512: 4096 again; the softmax
  // unit's three passes over N^2 elements take 3 N^2 / 1024 = 3072 cycles per head against
  // 4194304 / 456.9 = 9180.0 (the 1D array of the published design, 256 units at 2 operations per
  // cycle, would take 3 N^2 / 512 = 6144: still under the DRAM). So a phase takes its bytes over the
  // bus plus what cannot overlap a transfer: Q K^T's first GEMM before its first store (a 512 x 512 x
  // 64 tile, F = 4 folds, T = 64: 3 x 256 + 256 + 256 + 64 - 2 = 1342 cycles) and P V's last GEMM after
  // its last load (512 x 512 x 64 with k = 512, F = 2, T = 512: 512 + 256 + 256 + 512 - 2 = 1534); the
  // softmax streams from its first load to its last store.
  const HwConfig hw = load_hw_config("fusemax-cloud");
  ModelOverrides ov;
  ov.seq_len = 1024, ov.batch = 1, ov.variant = "unfused:spill=1";
  const ModelConfig mc = load_model_config(std::string(ATTNSIM_SOURCE_DIR) + "/models/bert-base-layer.json", ov);
  auto r = run_isolated([&] { return simulate_model(hw, mc)["ops"].dump(); });
  INFO(r.output);
  REQUIRE(r.exit_status == 0);
  const Json ops = Json::parse(r.output);
  const double bw = 456.9, heads = 12;
  struct Want {
    const char* op;
    double bytes, exposed;
  };
  double total_want = 0, total_got = 0;
  for (const Want& w : {Want{"qk", 2359296, 1342}, Want{"softmax", 4194304, 0}, Want{"pv", 2359296, 1534}}) {
    const Json& o = ops[w.op];
    const double bytes = o["dram_read_bytes"].get<double>() + o["dram_written_bytes"].get<double>();
    const double cycles = o["end_cycle"].get<double>() - o["start_cycle"].get<double>();
    const double want = heads * w.bytes / bw + w.exposed;
    INFO(w.op << ": " << cycles << " cycles against " << want << ", " << bytes << " B against " << heads * w.bytes);
    CHECK(bytes == heads * w.bytes);
    CHECK(std::abs(cycles / want - 1) < 0.02);
    total_want += want, total_got += cycles;
  }
  // The three phases run one after another: the attention core end to end.
  const double core = ops["pv"]["end_cycle"].get<double>() - ops["qk"]["start_cycle"].get<double>();
  INFO("attention core " << core << " cycles, phases " << total_got << ", derivation " << total_want);
  CHECK(std::abs(core / total_want - 1) < 0.02);
}

TEST_CASE("fused attention pipelines its query blocks across heads: no drain exposed", "[fused][pipeline]") {
  // fusemax-cloud, d = 64: an instruction over N = 1024 keys occupies the array 4 key tiles x 136 = 544
  // cycles and drains 1314 after (the closed form by hand above). A block's Q and O slot is reused
  // b instructions later, which starts (b - 1) x 544 cycles after it; the block is free after 544 + 1314
  // and its 32 KiB O store: b = 3 + ceil(1314 / 544) = 6 slots. At N = 4096 (occupancy 2176): 3 + 1 = 4.
  const HwConfig hw = load_hw_config("fusemax-cloud");
  CHECK(plan_fused_attention(hw, 1024, 64, std::uint64_t(hw.sram.total_bytes()), "t").q_buffers == 6);
  CHECK(plan_fused_attention(hw, 4096, 64, std::uint64_t(hw.sram.total_bytes()), "t").q_buffers == 4);
  // BERT-base layer, N = 1024, batch 4: 4 x 12 heads x 4 query blocks = 192 instructions back to back,
  // 192 x 544 = 104448 cycles, plus the last one's drain (1314) and the first one's K, V and Q loads
  // (128 + 128 + 32 KiB = 294912 B over 456.9 B/cycle = 645.5, and the DRAM latency 94): 106502 for the
  // attention core, within 1 % (with two slots the drain was exposed every other instruction: 1.9x).
  ModelOverrides ov;
  ov.seq_len = 1024, ov.batch = 4, ov.variant = "fused";
  const ModelConfig mc = load_model_config(std::string(ATTNSIM_SOURCE_DIR) + "/models/bert-base-layer.json", ov);
  auto r = run_isolated([&] { return simulate_model(hw, mc)["ops"].dump(); });
  REQUIRE(r.exit_status == 0);
  const Json ops = Json::parse(r.output);
  const double core = ops["pv"]["end_cycle"].get<double>() - ops["qk"]["start_cycle"].get<double>();
  INFO("attention core " << core << " cycles");
  CHECK(std::abs(core / 106502.0 - 1) < 0.01);
}
