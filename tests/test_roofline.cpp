// The compulsory roofline (report/roofline.h): demands of each resource derived by hand from the
// workload's shapes and the presets' throughputs, the binding resource, and the report's figures.
#include <catch2/catch.hpp>
#include <cmath>
#include <map>

#include "compiler/gemm_lowering.h"
#include "compiler/model_lowering.h"
#include "config/model_config.h"
#include "hw/accelerator.h"
#include "report/report.h"
#include "report/roofline.h"
#include "support/isolated.h"

using namespace attnsim;
using attnsim::test::run_isolated;

namespace {

HwConfig preset(const std::string& name, const Json& patch = Json::object()) {
  std::string source;
  Json doc = read_hw_document(name, &source);
  doc.merge_patch(patch);
  return parse_hw_config(doc, source);
}

// The peak DRAM bandwidths of the presets' ideal DRAM, in bytes per cycle.
constexpr double kEdgeBpc = 57.11, kCloudBpc = 456.9;

std::int64_t demand(const RooflineBound& b, Resource r) { return b.demand_cycles[std::size_t(r)]; }

const RooflineUnit& unit_named(const Roofline& rf, const std::string& name) {
  for (const RooflineUnit& u : rf.units)
    if (u.name == name) return u;
  FAIL("no roofline unit " << name);
  return rf.units.front();
}

// LRA text (pre-norm, 2 layers, d_model 64, 2 heads of 32, FFN 128 GELU) at N = 1024, fp16.
Graph lra_text_1024() {
  ModelOverrides ov;
  ov.seq_len = 1024;
  return build_graph(load_model_config("lra-text", ov));
}

}  // namespace

TEST_CASE("roofline: a lone GEMM on edge and cloud, array- and DRAM-bound", "[roofline]") {
  SECTION("edge 256^3: array-bound") {
    // MACs 256^3 = 16,777,216 over 32 x 32 = 1024 PEs: 16,384 cycles.
    // DRAM: A, B, C of 256 x 256 fp16 once: 3 * 131,072 = 393,216 B / 57.11 = 6885.2 -> 6886 cycles.
    const Roofline rf = compulsory_roofline(preset("edge"), gemm_graph({256, 256, 256}, 2), kEdgeBpc);
    REQUIRE(rf.units.size() == 1);
    CHECK(rf.units[0].name == "gemm");
    CHECK(rf.work.macs == 16777216);
    CHECK(rf.work.dram_read_bytes == 262144);
    CHECK(rf.work.dram_written_bytes == 131072);
    CHECK(demand(rf.bound, Resource::Array) == 16384);
    CHECK(demand(rf.bound, Resource::Dram) == 6886);
    CHECK(demand(rf.bound, Resource::Vector) == 0);
    CHECK(demand(rf.bound, Resource::Softmax) == 0);
    CHECK(rf.bound.bound_cycles == 16384);
    CHECK(rf.bound.binding == Resource::Array);
    CHECK(rf.sequential_bound_cycles == 16384);
    // As mapped: 8 x 8 folds of max(T = 256, R = 32) = 256 cycles: 16,384, the same.
    CHECK(rf.work.array_mapped_cycles == 16384);
    CHECK(rf.mapped.bound_cycles == 16384);
  }
  SECTION("edge 4096 x 16 x 4096: DRAM-bound") {
    // MACs 4096 * 16 * 4096 = 268,435,456 / 1024 = 262,144 cycles.
    // DRAM: A 4096 x 16 and B 16 x 4096 (131,072 B each) read, C 4096 x 4096 (33,554,432 B) written:
    // 33,816,576 B / 57.11 = 592,130.6 -> 592,131 cycles.
    const Roofline rf = compulsory_roofline(preset("edge"), gemm_graph({4096, 16, 4096}, 2), kEdgeBpc);
    CHECK(demand(rf.bound, Resource::Array) == 262144);
    CHECK(demand(rf.bound, Resource::Dram) == 592131);
    CHECK(rf.bound.bound_cycles == 592131);
    CHECK(rf.bound.binding == Resource::Dram);
    // As mapped (OS, overlapped): F = (4096/32)^2 = 16,384 folds, K = 16 streams in fewer than the
    // R = 32 cycles the results take to drain: 16,384 * max(16, 32) = 524,288, still below the DRAM's.
    CHECK(rf.work.array_mapped_cycles == 524288);
    CHECK(rf.mapped.binding == Resource::Dram);
  }
  SECTION("cloud 1024^3: array-bound") {
    // 1024^3 / 65,536 PEs = 16,384 cycles; DRAM 3 * 2 MiB = 6,291,456 B / 456.9 = 13,769.9 -> 13,770.
    const Roofline rf = compulsory_roofline(preset("cloud"), gemm_graph({1024, 1024, 1024}, 2), kCloudBpc);
    CHECK(demand(rf.bound, Resource::Array) == 16384);
    CHECK(demand(rf.bound, Resource::Dram) == 13770);
    CHECK(rf.bound.binding == Resource::Array);
  }
  SECTION("cloud 4096 x 64 x 4096: DRAM-bound") {
    // 4096 * 64 * 4096 / 65,536 = 16,384 cycles; DRAM: A and B 4096 * 64 * 2 = 524,288 B each, C
    // 33,554,432 B: 34,603,008 B / 456.9 = 75,734.3 -> 75,735 cycles.
    const Roofline rf = compulsory_roofline(preset("cloud"), gemm_graph({4096, 64, 4096}, 2), kCloudBpc);
    CHECK(rf.work.dram_read_bytes + rf.work.dram_written_bytes == 34603008);
    CHECK(demand(rf.bound, Resource::Array) == 16384);
    CHECK(demand(rf.bound, Resource::Dram) == 75735);
    CHECK(rf.bound.binding == Resource::Dram);
  }
}

TEST_CASE("roofline: LRA text on edge, every unit and the run derived by hand", "[roofline]") {
  // T = N = 1024 tokens, D = 64, two heads of d = 32, F = 128; edge: 1024 PEs, 57.11 B/cycle, a
  // 32-lane vector unit (add, mul, max 1 cycle; exp, rsqrt, reciprocal 4), a softmax unit of
  // L = X = 32. Per layer, the units (pre-norm):
  //   norm1 (LayerNorm on x): DRAM x 131,072 B + gamma, beta 256 B read, xn1 131,072 B written =
  //     262,400 B / 57.11 = 4594.6 -> 4595. Vector, E = 65,536 elements, R = 1024 rows: per element
  //     4 add, 3 mul; per row 2 mul, 1 add, 1 rsqrt: add 4E/32 + R/32 = 8192 + 32, mul 3E/32 + 2R/32 =
  //     6144 + 64, rsqrt R/32 * 4 = 128: 14,560 cycles. Vector-bound: 14,560.
  //   qkv_proj: 1024 x 64 x 192 = 12,582,912 MACs / 1024 = 12,288; DRAM xn1 131,072 + Wqkv 24,576 +
  //     qkv 393,216 = 548,864 B -> 9611. Array-bound: 12,288.
  //   attention (qk, softmax, pv): MACs 2 heads * 2 * 1024^2 * 32 = 134,217,728 / 1024 = 131,072;
  //     DRAM qkv 393,216 B read once, o 131,072 B written once = 524,288 B -> 9181; softmax
  //     E = 2 * 1024^2 = 2,097,152, R = 2048, the division moved to O: En = min(E, 2 * 1024 * 32 =
  //     65,536) = 65,536: E/32 + E/32 + R/32 + En/32 = 65,536 + 65,536 + 64 + 2048 = 133,184.
  //     Softmax-bound: 133,184.
  //   out_proj+residual1: 1024 x 64 x 64 = 4,194,304 MACs -> 4096; DRAM o 131,072 + Wo 8192 + x
  //     131,072 read, h 131,072 written = 401,408 B -> 7029; vector Add E/32 = 2048. DRAM-bound: 7029.
  //   norm2: as norm1: 14,560, vector-bound.
  //   ffn_up+ffn_act: 1024 x 64 x 128 = 8,388,608 MACs -> 8192; DRAM xn2 131,072 + W1 16,384 read,
  //     f1act 262,144 written (f1 stays on chip) = 409,600 B -> 7173; GELU on E = 131,072: 5 mul
  //     20,480 + 3 add 12,288 + exp 4096 * 4 + reciprocal 4096 * 4 = 65,536. Vector-bound: 65,536.
  //   ffn_down+residual2: 8,388,608 MACs -> 8192; DRAM f1act 262,144 + W2 16,384 + h 131,072 read,
  //     y 131,072 written = 540,672 B -> 9468; vector 2048. DRAM-bound: 9468.
  // Per layer: 167,772,160 MACs, 2,949,632 B, vector 98,752, softmax 133,184; units' bounds sum to
  // 14,560 + 12,288 + 133,184 + 7029 + 14,560 + 65,536 + 9468 = 256,625.
  // Run (2 layers): array 335,544,320 / 1024 = 327,680; DRAM 5,899,264 / 57.11 = 103,296.5 -> 103,297;
  // vector 197,504; softmax 266,368: array-bound, 327,680. Units in sequence: 513,250.
  const Graph g = lra_text_1024();
  const Roofline rf = compulsory_roofline(preset("edge"), g, kEdgeBpc);
  REQUIRE(rf.units.size() == 14);
  struct Expect {
    const char* name;
    std::int64_t bound;
    Resource binding;
  };
  const Expect units[] = {
      {"L0.norm1", 14560, Resource::Vector},          {"L0.qkv_proj", 12288, Resource::Array},
      {"L0.attention", 133184, Resource::Softmax},    {"L0.out_proj+residual1", 7029, Resource::Dram},
      {"L0.norm2", 14560, Resource::Vector},          {"L0.ffn_up+ffn_act", 65536, Resource::Vector},
      {"L0.ffn_down+residual2", 9468, Resource::Dram}};
  for (int layer = 0; layer < 2; ++layer)
    for (std::size_t i = 0; i < 7; ++i) {
      const RooflineUnit& u = rf.units[std::size_t(layer) * 7 + i];
      std::string name = units[i].name;
      name[1] = char('0' + layer);
      INFO(name);
      CHECK(u.name == name);
      CHECK(u.layer == layer);
      CHECK(u.bound.bound_cycles == units[i].bound);
      CHECK(u.bound.binding == units[i].binding);
    }
  const RooflineUnit& attn = unit_named(rf, "L0.attention");
  CHECK(attn.graph_ops.size() == 3);
  CHECK(attn.work.macs == 134217728);
  CHECK(attn.work.dram_read_bytes == 393216);
  CHECK(attn.work.dram_written_bytes == 131072);
  CHECK(attn.work.softmax_cycles == 133184);
  CHECK(demand(attn.bound, Resource::Array) == 131072);
  CHECK(demand(attn.bound, Resource::Dram) == 9181);
  const RooflineUnit& norm = unit_named(rf, "L1.norm1");
  CHECK(norm.work.vector_cycles == 14560);
  CHECK(norm.work.dram_read_bytes + norm.work.dram_written_bytes == 262400);

  CHECK(rf.work.macs == 335544320);
  CHECK(rf.work.dram_read_bytes + rf.work.dram_written_bytes == 5899264);
  CHECK(demand(rf.bound, Resource::Array) == 327680);
  CHECK(demand(rf.bound, Resource::Dram) == 103297);
  CHECK(demand(rf.bound, Resource::Vector) == 197504);
  CHECK(demand(rf.bound, Resource::Softmax) == 266368);
  CHECK(rf.bound.bound_cycles == 327680);
  CHECK(rf.bound.binding == Resource::Array);
  CHECK(rf.sequential_bound_cycles == 513250);
}

TEST_CASE("roofline: without a softmax unit the softmax work lands on the vector unit", "[roofline]") {
  // LRA text's attention at N = 1024 on edge without its softmax unit. On the 32-lane vector unit,
  // E = 2,097,152, R = 2048, En = 65,536: max E/32 = 65,536; add 2E/32 = 131,072; mul E/32 + En/32 =
  // 65,536 + 2048; exp E/32 * 4 = 262,144; reciprocal R/32 * 4 = 256: 526,592 cycles, vector-bound.
  const Roofline rf =
      compulsory_roofline(preset("edge", Json::parse(R"({"softmax": null})")), lra_text_1024(), kEdgeBpc);
  const RooflineUnit& attn = unit_named(rf, "L0.attention");
  CHECK(attn.work.softmax_cycles == 0);
  CHECK(attn.work.vector_cycles == 526592);
  CHECK(attn.bound.bound_cycles == 526592);
  CHECK(attn.bound.binding == Resource::Vector);
  CHECK(demand(rf.bound, Resource::Softmax) == 0);
}

TEST_CASE("roofline: a causal head needs only its unmasked scores", "[roofline]") {
  // One causal head, N = 8, d = 4 (d_model 4), fp32. Unmasked scores N (N + 1) / 2 = 36:
  // MACs QK 36 * 4 + PV 36 * 4 = 288 (against 2 * 64 * 4 = 512 unmasked). Softmax on edge (L = X = 32):
  // E = 36, R = 8, En = min(36, 8 * 4 = 32) = 32: ceil(36/32) + ceil(36/32) + ceil(8/32) + ceil(32/32)
  // = 2 + 2 + 1 + 1 = 6. DRAM: qkv 8 x 12 fp32 = 384 B read, o 8 x 4 = 128 B written.
  const ModelConfig m = parse_model_config(
      Json::parse(R"({"dtype": "fp32", "layers": [{"d_model": 4, "heads": 1, "head_dim": 4, "seq_len": 8,
          "ffn": {"width": 8, "activation": "gelu"}, "norm": "layernorm", "norm_position": "pre", "causal": true,
          "attention": {"variant": "flash"}}]})"),
      "causal.json");
  const Roofline rf = compulsory_roofline(preset("edge"), build_graph(m), kEdgeBpc);
  const RooflineUnit& attn = unit_named(rf, "L0.attention");
  CHECK(attn.work.macs == 288);
  CHECK(attn.work.softmax_cycles == 6);
  CHECK(attn.work.dram_read_bytes == 384);
  CHECK(attn.work.dram_written_bytes == 128);
}

TEST_CASE("roofline: primal reads only its sampled tokens and keeps its intermediates on chip", "[roofline]") {
  // LRA text with primal, rank s = 20 at N = 1024: p = min(N, 10 s) = 200 sampled tokens of the
  // attention input xn1 (64 columns fp16: 200 * 128 = 25,600 B), We~ and Wr~ (2 heads * 20 x 200 fp16
  // = 16,000 B each), the Q and K columns of qk (1024 x 128 fp16 = 262,144 B), Wc (40 x 32 fp16 =
  // 2560 B) and bc (32 fp16 = 64 B) read; o (1024 x 64 fp16 = 131,072 B) written. Xs, WeT, WrT, qkn,
  // ER and oc stay inside the attention unit.
  ModelOverrides ov;
  ov.seq_len = 1024;
  ov.variant = "primal";
  const Roofline rf = compulsory_roofline(preset("edge"), build_graph(load_model_config("lra-text", ov)), kEdgeBpc);
  const RooflineUnit& attn = unit_named(rf, "L0.attention");
  CHECK(attn.work.dram_read_bytes == 25600 + 2 * 16000 + 262144 + 2560 + 64);
  CHECK(attn.work.dram_written_bytes == 131072);
  // MACs 2 d p s + 4 N d s per head (graph.h): 2 heads * (2 * 32 * 200 * 20 + 4 * 1024 * 32 * 20) = 5,754,880.
  CHECK(attn.work.macs == 5754880);
}

TEST_CASE("roofline: the report against compulsory traffic and against the run's own traffic", "[roofline][gemm]") {
  // cloud 2048^3 with 4 MiB of SRAM (64 banks of 64 KiB): the tiles are too small to read A and B
  // once, so the run moves more than the compulsory 3 * 2048^2 * 2 = 25,165,824 B. Its own-traffic
  // memory bound (bytes moved / 456.9) then exceeds the compute bound 2048^3 / 65,536 = 131,072 and
  // flatters the run; against the compulsory roofline (array-bound, 131,072; DRAM 25,165,824 / 456.9
  // = 55,079.5 -> 55,080) it scores lower.
  const HwConfig hw = preset("cloud", Json::parse(R"({"sram": {"bytes_per_bank": 65536}})"));
  auto r = run_isolated([&] {
    TileProgram p = lower_gemm(hw, {2048, 2048, 2048});
    SimOutcome o = simulate(hw, p);
    return make_report(hw, {{"kind", "gemm"}, {"m", 2048}, {"k", 2048}, {"n", 2048}}, p, o).dump();
  });
  INFO(r.output);
  REQUIRE(r.exit_status == 0);
  const Json rep = Json::parse(r.output);
  const Json& c = rep["roofline"]["compulsory"];
  const double cycles = rep["cycles"].get<double>();
  CHECK(c["bound_cycles"] == 131072);
  CHECK(c["binding"] == "array");
  CHECK(c["demand_cycles"]["dram"] == 55080);
  CHECK(c["dram_read_bytes"].get<std::uint64_t>() + c["dram_written_bytes"].get<std::uint64_t>() == 25165824);
  CHECK(c["pct_of_bound"].get<double>() == Approx(100.0 * 131072 / cycles).epsilon(1e-6));
  // The run's own traffic: what it moved, over the same bandwidth.
  const double moved = rep["dram"]["bytes_read"].get<double>() + rep["dram"]["bytes_written"].get<double>();
  CHECK(moved > 25165824);
  CHECK(rep["roofline"]["memory_bound_cycles"] == std::int64_t(std::ceil(moved / 456.9)));
  CHECK(rep["roofline"]["pct_of_bound"].get<double>() > c["pct_of_bound"].get<double>());
  // The headline row carries both.
  std::map<std::string, Json> row;
  for (const auto& [k, v] : headline_figures(rep)) row[k] = v;
  CHECK(row["roofline_bound"] == rep["roofline"]["bound"]);
  CHECK(row["pct_of_roofline"] == rep["roofline"]["pct_of_bound"]);
  CHECK(row["compulsory_bound_cycles"] == 131072);
  CHECK(row["compulsory_binding"] == "array");
  CHECK(row["pct_of_compulsory_bound"] == c["pct_of_bound"]);
  // 2048^3 fills whole folds (8 x 8 of max(2048, 256) cycles): as mapped, the same bound.
  CHECK(c["array_mapped_cycles"] == 131072);
  CHECK(row["mapped_binding"] == "array");
  CHECK(row["pct_of_mapped_bound"] == c["pct_of_bound"]);
}

TEST_CASE("roofline: flash at N = 65536 on cloud is softmax-bound, not compute-bound", "[roofline][attention]") {
  // LRA text (2 layers, 2 heads of d = 32), flash, N = 65536 on cloud. Per layer's attention:
  //   array: 2 heads * 2 * 65536^2 * 32 MACs / 65,536 PEs = 8,388,608 cycles;
  //   softmax (L = X = 1024): E = 2 * 65536^2 = 8,589,934,592: E/L + E/X = 16,777,216, R/X = 131,072 /
  //   1024 = 128, the division on O: En = 2 * 65536 * 32 = 4,194,304, En/L = 4096: 16,781,440.
  // Two layers: softmax 33,562,880 against the array's 16,777,216 + the projections and FFN
  // (T = 65536: (64 * 192 + 64 * 64 + 2 * 64 * 128) * 65536 / 65536 = 32,768 per layer): 16,842,752.
  // The old figure, MACs / PEs against the cycles, calls the run compute-bound; the compulsory
  // roofline names the softmax unit and its bound is twice the compute bound.
  const HwConfig hw = preset("cloud");
  auto r = run_isolated([&] {
    ModelOverrides ov;
    ov.seq_len = 65536;
    ov.variant = "flash";
    const ModelConfig m = load_model_config("lra-text", ov);
    const Graph g = build_graph(m);
    const CompiledModel cm = compile_model(hw, g);
    const SimOutcome o = simulate(hw, cm.program);
    return make_report(hw, Json::object(), cm.program, o, cm.phases, &g).dump();
  });
  INFO(r.output.substr(0, 2000));
  REQUIRE(r.exit_status == 0);
  const Json rep = Json::parse(r.output);
  const Json& c = rep["roofline"]["compulsory"];
  CHECK(rep["roofline"]["bound"] == "compute");
  CHECK(rep["roofline"]["compute_bound_cycles"] == 16842752);
  CHECK(c["demand_cycles"]["array"] == 16842752);
  CHECK(c["demand_cycles"]["softmax"] == 33562880);
  CHECK(c["binding"] == "softmax");
  CHECK(c["bound_cycles"] == 33562880);
  CHECK(c["pct_of_bound"].get<double>() == Approx(100.0 * 33562880 / rep["cycles"].get<double>()).epsilon(1e-6));
  CHECK(c["pct_of_bound"].get<double>() > rep["roofline"]["pct_of_bound"].get<double>());
  // As mapped on 256 x 256 OS (overlapped), folds start max(T, R) apart. Per head QK (65536 x 32 x
  // 65536): 256 x 256 folds of max(32, 256) = 256 cycles = 16,777,216; PV (65536 x 65536 x 32): 256 x 1
  // folds of max(65536, 256) = 16,777,216 (its transpose the same). 2 layers x 2 heads x 2 GEMMs:
  // 134,217,728. qkv_proj, out_proj, ffn_up, ffn_down: 256 folds of 256 cycles each = 65,536, 4 per
  // layer: 524,288. Array 134,742,016: the array binds, the run is at 95 % of it (head_dim 32 fills
  // one eighth of the array's depth).
  const Json& m = c["mapped"];
  CHECK(c["array_mapped_cycles"] == 134742016);
  CHECK(m["binding"] == "array");
  CHECK(m["bound_cycles"] == 134742016);
  CHECK(m["pct_of_bound"].get<double>() == Approx(100.0 * 134742016 / rep["cycles"].get<double>()).epsilon(1e-6));
  // Per layer, against the layer's own span.
  for (const Json& layer : rep["layers"]) {
    CHECK(layer["compulsory_binding"] == "softmax");
    CHECK(layer["compulsory_bound_cycles"] == 33562880 / 2);
  }
}
