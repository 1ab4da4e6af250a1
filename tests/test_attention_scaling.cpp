// How the three attention schedules scale with the sequence length N, from the compiled programs
// alone (compile_model + count_program; the simulator moves exactly the program's bytes, which is
// tested elsewhere): one BERT-base layer (d_model 768, 12 heads of head_dim d = 64, fp16, not
// causal) on the embedded edge and cloud presets, N = 256 ... 16384.
//
// Notation: eb = 2 (fp16 operand and DRAM element bytes), ob = 2, acc = 4 (the presets' operand and
// accumulator bytes), H = 12 heads, d = 64, M = SRAM bytes (edge 16 x 32 KiB = 524288, cloud
// 64 x 512 KiB = 33554432), g = array side (edge 32, cloud 256). "Core" means the instructions of
// the op classes QK, Softmax and PV, i.e. the attention itself without the projections.
//
// Every expected number is computed below from a formula; the tile sizes it needs (bq, br, GEMM
// tiles) come from the mapper's choices the lowering records (the phases' mappings) or from the
// analytic planners (plan_row_fused, whose refusals the lowering reports; choose_gemm_tiling), and
// the worked values in the comments are those they return for the presets at the time of writing.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/errors.h"
#include "compiler/attention_lowering.h"
#include "compiler/gemm_lowering.h"
#include "compiler/model_lowering.h"
#include "config/hw_config.h"
#include "config/model_config.h"
#include "config/presets.h"
#include "ir/graph.h"
#include "ir/tile_program.h"
#include "support/scaling.h"

using namespace attnsim;
using namespace attnsim::test;

namespace {

constexpr std::int64_t kHeads = 12, kDh = 64, kDModel = 768;
constexpr std::uint64_t kEb = 2;  // fp16
const std::vector<std::int64_t> kSeqLens = {256, 512, 1024, 2048, 4096, 8192, 16384};
const char* const kAttention = "L0.attention";

// BERT-base with one layer: the embedded preset's document with "layers" cut to one repeat
// (one_layer checks that it is one layer of batch 1, not causal, at N = n).
ModelConfig bert_one_layer(std::int64_t n, const std::string& variant) {
  ModelConfig m = one_layer("bert-base", n, variant);
  const LayerSpec& l = m.layers[0];
  REQUIRE(l.d_model == kDModel);
  REQUIRE(l.heads == kHeads);
  REQUIRE(l.head_dim == kDh);
  REQUIRE(m.elem_bytes == int(kEb));
  return m;
}

// A preset with /sram/bytes_per_bank divided by `shrink` (as --set /sram/bytes_per_bank=... would).
HwConfig preset_with_smaller_sram(const std::string& preset, std::int64_t shrink) {
  std::string source;
  Json doc = read_hw_document(preset, &source);
  doc["sram"]["bytes_per_bank"] = doc["sram"]["bytes_per_bank"].get<std::int64_t>() / shrink;
  return parse_hw_config(doc, source + " (SRAM / " + std::to_string(shrink) + ")");
}

// Compiles one layer (hw must outlive the program: its generator refers to it).
Built compile(const HwConfig& hw, std::int64_t n, const std::string& variant) {
  return build(hw, bert_one_layer(n, variant), false);
}

Built compile_and_count(const HwConfig& hw, std::int64_t n, const std::string& variant) {
  return build(hw, bert_one_layer(n, variant));
}

// The query block and the key tile the mapper chose for the fused attention kernel (the cascade
// mapping's m and p): flash's bq, bk or, when it ran the kernel as one key block, row-fused's br and
// key chunk (the traffic formula, fused_attention_bytes_per_head, is the same for both).
std::int64_t chosen_query_block(const Built& b) {
  const PhaseInfo* attn = find_phase(b.cm, kAttention);
  REQUIRE(attn != nullptr);
  REQUIRE(attn->mapping.kind == "cascade");
  return attn->mapping.tile_of("m");
}
std::int64_t chosen_key_tile(const Built& b) {
  const PhaseInfo* attn = find_phase(b.cm, kAttention);
  REQUIRE(attn != nullptr);
  return attn->mapping.tile_of("p");
}

std::uint64_t core_macs(const ProgramCounts& c) { return class_macs(c, {OpClass::QK, OpClass::PV}); }

std::uint64_t core_bytes(const ProgramCounts& c) {
  return class_dram_bytes(c, {OpClass::QK, OpClass::Softmax, OpClass::PV});
}

// The SRAM high-water mark of a phase: the bytes of all its buffers (they are live together).
std::uint64_t phase_buffer_bytes(const CompiledModel& cm, const std::string& name, BufClass only = BufClass::kCount) {
  std::uint32_t idx = UINT32_MAX;
  for (std::size_t i = 0; i < cm.phases.size(); ++i)
    if (cm.phases[i].name == name) idx = std::uint32_t(i);
  REQUIRE(idx != UINT32_MAX);
  std::uint64_t sum = 0;
  for (const BufferInfo& b : cm.program.buffers)
    if (b.phase == idx && (only == BufClass::kCount || b.cls == only)) sum += b.region.bytes;
  return sum;
}

std::uint64_t tensor_bytes(const CompiledModel& cm, const std::vector<std::uint64_t>& by_tensor, const std::string& t) {
  for (std::size_t i = 0; i < cm.program.tensors.size(); ++i)
    if (cm.program.tensors[i].name == t) return by_tensor[i];
  FAIL("no tensor " << t);
  return 0;
}

// Flash and row-fused per head (attention_lowering.h): Q read and O written once (2 N d), K and V
// read once per query block of `block` rows (2 N d ceil(N / block)), in elements of eb bytes.
std::uint64_t blocked_bytes_per_head(std::int64_t n, std::int64_t block) {
  return kEb * std::uint64_t(n) * kDh * (2 + 2 * ceil_div_u(n, block));
}
// The same when K and V may stay resident (fused_attention_bytes_per_head): in their two slots (at
// most two key tiles), or kept whole by the phase's mapping ("resident").
std::uint64_t fused_bytes_per_head(std::int64_t n, const Built& b) {
  const PhaseInfo* attn = find_phase(b.cm, kAttention);
  REQUIRE(attn != nullptr);
  return fused_attention_bytes_per_head(kEb, n, kDh, *attn);
}
bool kv_resident(const Built& b) {
  const PhaseInfo* attn = find_phase(b.cm, kAttention);
  REQUIRE(attn != nullptr);
  return test::kv_resident(*attn);
}

// Whether unfused attention keeps the whole N x N score matrix on chip: the row-fused kernel with
// one block of br = N rows and one score buffer must fit (attention_lowering.h). Its buffers, each
// on a 64-byte boundary: Q x2 (N x d fp16), K x2 and V x2 (bk x d fp16, bk = min(N, g)),
// O x2 (N x d fp32), S (N x N fp32), P (N x N fp16):
//   2 N d ob + 4 bk d ob + 6 N^2 + 2 N d acc  (all multiples of 64 here).
// edge, N = 256: 65536 + 16384 + 393216 + 131072 = 606208 > 524288, and the sum grows with N: S is
//   spilled at every N.
// cloud, N = 2048: 524288 + 131072 + 25165824 + 1048576 = 26869760 <= 33554432: on chip (so for
//   every smaller N too); N = 4096: 6 N^2 alone = 100663296 > M: spilled from 4096 on.
bool unfused_on_chip(const HwConfig& hw, std::int64_t n) {
  const std::uint64_t g = std::uint64_t(std::max(hw.array.rows, hw.array.cols));
  const std::uint64_t un = std::uint64_t(n), bk = std::min<std::uint64_t>(un, g), d = kDh;
  const std::uint64_t need = 2 * un * d * 2 + 4 * bk * d * 2 + un * un * (4 + 2) + 2 * un * d * 4;
  return need <= std::uint64_t(hw.sram.total_bytes());
}

}  // namespace

TEST_CASE("unfused attention: 2 N^2 d MACs per head, and 4 N^2 score elements through DRAM where S is spilled",
          "[scaling]") {
  // Per head, S spilled (the vanilla cascade mapped as three groups [S] [P] [O], phases
  // L0.attention.0, .1, .2), in bytes:
  //   [S]: Q, K read as the group's loops and slots dictate, S stored once:     + eb N^2
  //   [P]: S read once, P stored once (row blocks of whole rows):              + 2 eb N^2
  //   [O]: P, V read as the group's loops and slots dictate, O stored once:    + eb N d
  // spilled_input_bytes (support/scaling.h) walks the mapping's loops by the generic lowering's
  // rule for the reads of Q, K, P and V. With the mapper's picks P is read once (the [O] group does
  // not split the head dimension f), so S and P move exactly 4 eb N^2 bytes per head, and the rest
  // (Q, K, V, O) is eb N d times small factors (K, V once per row tile, or once when they stay on
  // chip). Every term is N^2 or N, and the N^2 ones dominate: the log-log slope tends to 2 (the
  // linear Q and O terms pull it below 2).
  // S on chip (row-fused kernel with br = N): Q, K, V read once, O written once:
  // eb N d (2 + 2 ceil(N / N)) = 4 eb N d per head.
  for (const char* preset : {"edge", "cloud"}) {
    const HwConfig hw = load_hw_config(preset);
    std::vector<std::pair<double, double>> spilled;
    std::vector<std::int64_t> spilled_n;
    for (std::int64_t n : kSeqLens) {
      INFO(preset << " N = " << n);
      const Built c = compile_and_count(hw, n, "unfused");
      // MACs: S = Q K^T is N x d x N, O = P V is N x N x d: 2 N^2 d per head, every tile once.
      CHECK(core_macs(c.counts) == std::uint64_t(2 * n * n * kDh * kHeads));
      const PhaseInfo* attn = find_phase(c.cm, kAttention);
      const PhaseInfo* qk = find_phase(c.cm, "L0.attention.0");
      const bool on_chip = unfused_on_chip(hw, n);
      // The plan strings say where S lives, and agree with the derivation above.
      if (on_chip) {
        REQUIRE(attn != nullptr);
        CHECK(qk == nullptr);
        CHECK(attn->plan.find("S " + std::to_string(n) + "x" + std::to_string(n) + " on chip") != std::string::npos);
        CHECK(core_bytes(c.counts) == kHeads * 4 * kEb * std::uint64_t(n) * kDh);
        continue;
      }
      REQUIRE(qk != nullptr);
      CHECK(attn == nullptr);
      CHECK(qk->plan.find("S spilled to DRAM") != std::string::npos);
      REQUIRE(find_phase(c.cm, "L0.attention.1") != nullptr);
      REQUIRE(find_phase(c.cm, "L0.attention.2") != nullptr);
      REQUIRE(qk->mapping.kind == "cascade");
      // The score tensors: each of S, P written once and read once per head.
      const std::uint64_t nn_bytes = kHeads * kEb * std::uint64_t(n) * std::uint64_t(n);
      CHECK(tensor_bytes(c.cm, c.counts.store_bytes_by_tensor, "L0.S") == nn_bytes);
      CHECK(tensor_bytes(c.cm, c.counts.load_bytes_by_tensor, "L0.S") == nn_bytes);
      CHECK(tensor_bytes(c.cm, c.counts.store_bytes_by_tensor, "L0.P") == nn_bytes);
      CHECK(tensor_bytes(c.cm, c.counts.load_bytes_by_tensor, "L0.P") == nn_bytes);
      // The whole core, exactly.
      const std::uint64_t per_head = kEb * std::uint64_t(n * n)                          // S stored
                                     + 2 * kEb * std::uint64_t(n * n)                    // softmax S -> P
                                     + spilled_input_bytes(qk->mapping.cascade, n, kDh, kEb)  // Q, K, P, V
                                     + kEb * std::uint64_t(n * kDh);                     // O stored
      CHECK(core_bytes(c.counts) == kHeads * per_head);
      spilled.push_back({double(n), double(core_bytes(c.counts))});
      spilled_n.push_back(n);
    }
    // The spilled range: edge every N (256 ... 16384), cloud N >= 4096 (see unfused_on_chip).
    if (std::string(preset) == "edge")
      CHECK(spilled_n == kSeqLens);
    else
      CHECK(spilled_n == std::vector<std::int64_t>{4096, 8192, 16384});
    REQUIRE(spilled.size() >= 3);
    const double slope = loglog_slope(spilled);
    INFO(preset << ": unfused core traffic log-log slope over the spilled range " << slope);
    CHECK(std::abs(slope - 2.0) <= 0.1);
  }
}

TEST_CASE("flash attention: 2 N^2 d MACs per head, traffic N d (2 + 2 ceil(N / bq)) per head, or 4 N d with K, V resident",
          "[scaling]") {
  // Per head (fused_attention_bytes_per_head): every Q tile of bq rows is loaded once and its output
  // stored once (2 N d elements over the ceil(N / bq) tiles), and all of K and V are streamed once
  // per Q tile (2 N d ceil(N / bq)): eb N d (2 + 2 ceil(N / bq)) bytes, unless the key tiles are at
  // most two (bk >= N / 2) or the mapping keeps K and V resident (whole per head): then they are
  // read once, 4 eb N d. The
  // scores never leave the chip. When the mapper runs the kernel as one key block (row-fused, br
  // query rows) the count is the same with br for bq. bq and bk are the mapper's choice at each N
  // (the phase's mapping). With N a multiple of bq the re-reading count is 2 eb d (N + N^2 / bq):
  // local log-log slope 2 - 1 / (1 + N / bq). Fitted over N = 1024, 4096, 16384 (equally spaced in
  // log N, so the least-squares slope is the end-to-end one) it must equal the formula's slope for
  // the chosen tiles; Q's two slots (4 bq d B) fit the SRAM.
  for (const char* preset : {"edge", "cloud"}) {
    const HwConfig hw = load_hw_config(preset);
    const std::vector<std::int64_t> fitted = {1024, 4096, 16384};
    std::vector<std::pair<double, double>> measured, formula;
    int reread = 0;  // fitted N where K and V are read once per Q tile
    for (std::int64_t n : kSeqLens) {
      INFO(preset << " N = " << n);
      const Built c = compile_and_count(hw, n, "flash");
      const std::int64_t bq = chosen_query_block(c), bk = chosen_key_tile(c);
      CHECK(std::uint64_t(bq) * 4 * kDh <= std::uint64_t(hw.sram.total_bytes()));
      CHECK(core_macs(c.counts) == std::uint64_t(2 * n * n * kDh * kHeads));
      const std::uint64_t expect = kHeads * fused_bytes_per_head(n, c);
      CHECK(core_bytes(c.counts) == expect);
      if (std::find(fitted.begin(), fitted.end(), n) != fitted.end()) {
        measured.push_back({double(n), double(core_bytes(c.counts))});
        formula.push_back({double(n), double(expect)});
        reread += !kv_resident(c) && ceil_div_u(n, bk) > 2;
      }
    }
    REQUIRE(measured.size() == 3);
    const double slope = loglog_slope(measured), formula_slope = loglog_slope(formula);
    INFO(preset << ": flash slope " << slope << ", formula " << formula_slope);
    CHECK(std::abs(slope - formula_slope) <= 1e-9);
    // Quadratic when K and V are re-read at every fitted N; linear (the compulsory bytes) when they
    // are read once at every one.
    if (reread == 3) CHECK(slope > 1.5);
    if (reread == 0) CHECK(std::abs(slope - 1.0) <= 1e-9);
  }
}

TEST_CASE("flash attention traffic is Omega(N^2 d^2 / M) unless K and V stay on chip", "[scaling]") {
  // Either K and V stay resident (at most two key tiles, in two slots each, or kept whole by the
  // mapping: 2 N d eb <= M for one head) and are read once, 4 eb N d per head; or they are re-read
  // once per Q tile, and then, as Q's
  // two slots alone take 4 bq d bytes of the M (so bq <= M / (4 d)), per head
  //   eb N d (2 + 2 ceil(N / bq)) >= 2 eb N^2 d / bq >= 8 eb N^2 d^2 / M.
  // The mapper picks the fastest tiles (then the fewest bytes among the as fast), so the upper side
  // is not a property of its choice; what holds is the bound, for the preset and for a quarter of
  // its SRAM (/sram/bytes_per_bank / 4).
  for (const char* preset : {"edge", "cloud"}) {
    const HwConfig hw = load_hw_config(preset), small = preset_with_smaller_sram(preset, 4);
    const std::uint64_t m_full = std::uint64_t(hw.sram.total_bytes()),
                        m_small = std::uint64_t(small.sram.total_bytes());
    REQUIRE(m_small * 4 == m_full);
    for (std::int64_t n : {4096, 16384}) {
      INFO(preset << " N = " << n);
      const Built cf = compile_and_count(hw, n, "flash"), cs = compile_and_count(small, n, "flash");
      const double d = double(kDh), nd = double(n);
      for (const auto& [b, m] : {std::pair<const Built*, std::uint64_t>{&cf, m_full}, {&cs, m_small}}) {
        const std::int64_t bq = chosen_query_block(*b), bk = chosen_key_tile(*b);
        const std::uint64_t bytes = core_bytes(b->counts);
        INFO("M = " << m << ": bq " << bq << ", bk " << bk << ", " << bytes << " B");
        CHECK(bytes == kHeads * fused_bytes_per_head(n, *b));
        CHECK(std::uint64_t(bq) * 4 * kDh <= m);
        if (ceil_div_u(n, bk) <= 2 || kv_resident(*b)) {
          CHECK(2 * std::uint64_t(n) * kDh * kEb <= m);
          CHECK(bytes == kHeads * 4 * kEb * std::uint64_t(n) * kDh);
        } else {
          CHECK(double(bytes) >= double(kHeads) * 8 * kEb * nd * nd * d * d / double(m));
        }
      }
    }
  }
}

TEST_CASE("row-fused attention: 2 N^2 d MACs per head, traffic N d (2 + 2 ceil(N / br)) per head", "[scaling]") {
  // Per head (attention_lowering.h): each block of br query rows loads its Q rows once and stores
  // its O rows once (2 N d over all blocks) and streams all of K and V once (2 N d per block):
  // eb N d (2 + 2 ceil(N / br)) bytes, br from plan_row_fused. br is the largest block whose full
  // score rows (br x N, S fp32 and P fp16: 6 br N bytes per score buffer) fit, so once the SRAM
  // limits it br ~ M / (6 N) and the traffic grows as N^3 d / M.
  //   edge: br = 128, 64, 32, 32, 20, 10, 5 for N = 256 ... 16384.
  //   cloud: br = N up to 1024, then 1280, 512, 256, 256.
  // The planner refuses a block so small that this traffic exceeds what spilling the scores costs
  // (unfused): Q, K, V, O once and S (fp32) and P (fp16) written and read, per head
  //   2 N d eb + 2 N d eb + 2 (4 + 2) N^2 = 12 N^2 + 4 eb N d = 12 N^2 + 512 N bytes (d = 64, eb = 2),
  // against 128 N (2 + 2 ceil(N / br)). Per N (dividing by N):
  //   edge N = 2048, br 32: 128 (2 + 128) = 16640  <= 25088: runs
  //   edge N = 4096, br 20: 128 (2 + 410) = 52736  >  49664: refused (also 8192, br 10; 16384, br 5)
  //   cloud N = 16384, br 256: 128 (2 + 128) = 16640 <= 197120: every cloud N runs.
  auto spilled = [](std::int64_t n) { return 12 * std::uint64_t(n) * std::uint64_t(n) + 4 * kEb * std::uint64_t(n) * kDh; };
  for (const char* preset : {"edge", "cloud"}) {
    const HwConfig hw = load_hw_config(preset);
    const std::uint64_t cap = std::uint64_t(hw.sram.total_bytes());
    for (std::int64_t n : kSeqLens) {
      INFO(preset << " N = " << n);
      const bool refused = std::string(preset) == "edge" && n >= 4096;
      CHECK(spilled_bytes_per_head(hw, n, kDh) == spilled(n));
      if (refused) {
        try {
          compile(hw, n, "row_fused");
          FAIL("row-fused should have been refused");
        } catch (const UserError& e) {
          const std::string msg = e.what();
          INFO(msg);
          const std::string key = "fits query blocks of only ";
          const std::size_t at = msg.find(key);
          REQUIRE(at != std::string::npos);
          const std::int64_t br = std::stoll(msg.substr(at + key.size()));
          CHECK(blocked_bytes_per_head(n, br) > spilled(n));
          CHECK(msg.find("use flash") != std::string::npos);
        }
        continue;
      }
      // The planner's largest block is not dominated; the mapper's block (the phase's mapping m, with
      // its key chunk p) is not either, and moves what the formula says.
      const RowFusedPlan p = plan_row_fused(hw, n, kDh, cap, kAttention);
      CHECK(blocked_bytes_per_head(n, p.br) <= spilled(n));
      const Built c = compile_and_count(hw, n, "row_fused");
      const PhaseInfo* attn = find_phase(c.cm, kAttention);
      REQUIRE(attn != nullptr);
      const std::int64_t br = chosen_query_block(c), bk = chosen_key_tile(c);
      CHECK(attn->plan.find("query blocks of " + std::to_string(br) + " rows") != std::string::npos);
      CHECK(core_macs(c.counts) == std::uint64_t(2 * n * n * kDh * kHeads));
      CHECK(core_bytes(c.counts) == kHeads * fused_bytes_per_head(n, c));
      CHECK(fused_bytes_per_head(n, c) <= spilled(n));
      (void)bk;
    }
  }
}

TEST_CASE("flash attention's SRAM high-water mark does not depend on N, row-fused's score rows grow with N",
          "[scaling]") {
  // Flash: with its mapping fixed (a cascade mapping looping over m and p with tiles bq and bk,
  // every buffer double, as a user's --mapping file would give it), the buffers are the same for
  // every N >= max(bq, bk): O(1) SRAM in N. The attention phase's buffers (the generic lowering,
  // one per cascade tensor, slots on 64 B boundaries), each double-buffered: Q bq x d fp16, K and V
  // bk x d fp16, S bq x bk fp32, P bq x bk fp16, O bq x d fp32 (stored from there), stats bq x 3 fp32:
  //   2 (bq d 2 + 2 bk d 2 + bq bk 4 + bq bk 2 + bq d 4 + 12 bq)
  //   cloud, bq = bk = 256: 2 (32768 + 65536 + 262144 + 131072 + 65536 + 3072) = 1120256
  //   edge, bq = bk = 64:   2 (8192 + 16384 + 16384 + 8192 + 16384 + 768) = 132608
  // The mapper's own choice may grow with N (larger Q tiles pay at large N) but always fits.
  for (const char* preset : {"edge", "cloud"}) {
    const HwConfig hw = load_hw_config(preset);
    const std::int64_t t = std::string(preset) == "edge" ? 64 : 256;
    ModelMapping fixed;
    OpMapping om;
    om.kind = "cascade";
    om.cascade = {{"cascade", "vanilla"},
                  {"groups", Json::array({{{"steps", {"S", "P", "O"}},
                                           {"loops", Json::array({{{"rank", "m"}, {"tile", t}}, {{"rank", "p"}, {"tile", t}}})}}})}};
    fixed.ops.push_back({kAttention, om});
    MapperOptions opt;
    opt.fixed = &fixed;
    const std::uint64_t d = kDh, ut = std::uint64_t(t);
    const std::uint64_t steady = 2 * (ut * d * 2 + 2 * ut * d * 2 + ut * ut * 4 + ut * ut * 2 + ut * d * 4 + ut * 3 * 4);
    CHECK(steady == (std::string(preset) == "edge" ? 132608u : 1120256u));  // the sums above
    for (std::int64_t n : kSeqLens) {
      if (n < t) continue;
      INFO(preset << " N = " << n);
      const Graph g = build_graph(bert_one_layer(n, "flash"));
      CHECK(phase_buffer_bytes(compile_model(hw, g, nullptr, opt), kAttention) == steady);
      CHECK(phase_buffer_bytes(compile(hw, n, "flash").cm, kAttention) <= std::uint64_t(hw.sram.total_bytes()));
    }
  }
  // Row-fused: each score buffer holds br full rows of N scores, S fp32 and P fp16: 6 N bytes per
  // query row, linear in N (br and the score buffers are the mapper's, from the phase's mapping).
  // Where the whole sequence's rows are the block (br = N) the high-water mark is at least 6 N^2;
  // where the SRAM limits the block, br <= M / (6 N): the planner's largest block (plan_row_fused)
  // shrinks as N grows, until not even one row fits: one row needs more than M once 6 N > M, i.e.
  // N = 2^17 on edge (786432 > 524288) and N = 2^23 on cloud (50331648 > 33554432), where flash
  // still runs in the same buffers.
  for (const char* preset : {"edge", "cloud"}) {
    const HwConfig hw = load_hw_config(preset);
    const std::uint64_t cap = std::uint64_t(hw.sram.total_bytes());
    std::uint64_t prev_mark = 0;
    std::int64_t prev_br = 0;
    for (std::int64_t n : kSeqLens) {
      INFO(preset << " N = " << n);
      if (std::string(preset) == "edge" && n >= 4096) continue;  // refused: see the traffic test above
      const Built b = compile(hw, n, "row_fused");
      const RowFusedPlan p = plan_row_fused(hw, n, kDh, cap, kAttention);
      const std::uint64_t mark = phase_buffer_bytes(b.cm, kAttention),
                          scores = phase_buffer_bytes(b.cm, kAttention, BufClass::Score);
      const PhaseInfo* attn = find_phase(b.cm, kAttention);
      REQUIRE(attn != nullptr);
      const std::int64_t br = attn->mapping.tile_of("m");
      const std::uint64_t score_buffers = attn->mapping.cascade["buffers"]["S"].get<std::uint64_t>();
      CHECK(scores == score_buffers * std::uint64_t(br) * std::uint64_t(n) * 6);
      CHECK(mark <= cap);
      CHECK(6 * std::uint64_t(br) * std::uint64_t(n) <= cap);
      if (br == n) CHECK(mark >= 6 * std::uint64_t(n) * std::uint64_t(n));
      if (p.br == n) {
        CHECK(p.footprint > prev_mark);
      } else {
        if (prev_br > 0 && prev_br < n / 2) CHECK(p.br <= prev_br);  // both SRAM-limited
        CHECK(6 * std::uint64_t(p.br) * std::uint64_t(n) <= cap);
      }
      prev_mark = p.footprint;
      prev_br = p.br;
    }
    std::int64_t n_fail = 1;
    while (6 * std::uint64_t(n_fail) <= cap) n_fail *= 2;
    INFO(preset << ": one row of scores exceeds the SRAM at N = " << n_fail);
    CHECK_THROWS_AS(plan_row_fused(hw, n_fail, kDh, cap, kAttention), UserError);
    const FlashPlan big = plan_flash(hw, n_fail, kDh, cap, kAttention);  // analytic: nothing is timed
    CHECK(big.footprint <= cap);  // flash still fits
  }
}
