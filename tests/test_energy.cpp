// Energy and area (report/energy.h, config/energy_table.h): components derived by hand from a GEMM's
// counts, counts against the simulator's own, the SRAM curve, an absent softmax unit, bad tables.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <map>

#include "common/errors.h"
#include "compiler/gemm_lowering.h"
#include "config/model_config.h"
#include "hw/accelerator.h"
#include "report/energy.h"
#include "report/report.h"
#include "sim/simulate.h"
#include "support/cli.h"
#include "support/isolated.h"
#include "timing/fused_timing.h"

using namespace attnsim;
using attnsim::test::run_cli;
using attnsim::test::run_isolated;
using attnsim::test::write_temp;

namespace {

// 32x32 OS fp16 (4-byte partial sums), one contiguous 128 KiB SRAM bank with 64 B ports, 64 B/cycle
// ideal DRAM at 1 GHz, the 45 nm table (DDR4 by default for the ideal model).
HwConfig small_hw(const std::string& patch = "{}") {
  Json doc = parse_json_text(R"({
    "array": {"rows": 32, "cols": 32, "dataflow": "os", "timing": "scalesim", "clock_mhz": 1000, "operand_bytes": 2},
    "sram": {"banks": 1, "bytes_per_bank": 131072, "port_bytes": 64},
    "dram": {"model": "ideal", "bytes_per_cycle": 64, "latency_cycles": 0},
    "dma": {"outstanding": 64}
  })",
                             "test");
  doc.merge_patch(parse_json_text(patch, "patch"));
  return parse_hw_config(doc, "test");
}

Json run_gemm_one_tile(const HwConfig& hw, std::int64_t m, std::int64_t k, std::int64_t n) {
  auto r = run_isolated([&] {
    ModelMapping fixed;
    fixed.ops.push_back({"gemm", {"gemm", {{"m", m}, {"k", k}, {"n", n}}, {"m", "n", "k"}}});
    MapperOptions opt;
    opt.fixed = &fixed;
    const GemmTiling t = choose_gemm_tiling(hw, {m, k, n}, 0, "gemm", 0, opt);
    TileProgram p = lower_gemm(hw, {m, k, n}, t);
    SimOutcome o = simulate(hw, p);
    return make_report(hw, {{"kind", "gemm"}, {"m", m}, {"k", k}, {"n", n}}, p, o).dump();
  });
  INFO(r.output);
  REQUIRE(r.exit_status == 0);
  return Json::parse(r.output);
}

double sum_components(const Json& c) {  // in the breakdown's order
  double s = 0;
  for (const char* k : {"array", "sram", "vector", "softmax", "datapath", "dma", "dram", "leakage"})
    s += c[k].get<double>();
  return s;
}

std::uint64_t sum(const Json& arr) {
  std::uint64_t s = 0;
  for (const Json& v : arr) s += v.get<std::uint64_t>();
  return s;
}

}  // namespace

TEST_CASE("energy: a GEMM's MAC, SRAM, DMA and DRAM energy derived by hand from its counts", "[energy]") {
  // M = K = N = 64 as one tile on 32x32 OS: 64^3 = 262,144 MACs.
  // DRAM (timing/sram_traffic.h, the store converts partial sums to operands): A and B 64 x 64 x 2 B
  // = 8192 B read each, C 8192 B written: 24,576 B, all of it through the DMA.
  // SRAM (one bank, 64 B port words; every transfer is a whole number of words):
  //   written: LOAD A 8192 + LOAD B 8192 + the GEMM's C at 4 B, 64 x 64 x 4 = 16,384: 32,768 B = 512 accesses;
  //   read: A once per column fold (2) 16,384 + B once per row fold (2) 16,384 + STORE reads C 16,384:
  //         49,152 B = 768 accesses.
  // Per action at 45 nm:
  //   MAC  = fp16 MAC 2.0 + 2 operands x 2 B x 0.08 + partial sum read and write 2 x 4 B x 0.08 = 2.96 pJ
  //   SRAM = 10 pJ x sqrt(131072 / 8192) x (64 / 8) = 10 x 4 x 8 = 320 pJ per access, read or write
  //   DMA 2.0 pJ/B; DDR4 102.4 pJ/B.
  // array = 262,144 x 2.96 = 775,946.24 pJ; SRAM = (512 + 768) x 320 = 409,600 pJ;
  // DMA = 24,576 x 2 = 49,152 pJ; DRAM = 24,576 x 102.4 = 2,516,582.4 pJ; no vector or softmax work.
  const HwConfig hw = small_hw();
  const Json r = run_gemm_one_tile(hw, 64, 64, 64);
  const Json& e = r["energy"];
  const Json& c = e["components_pj"];
  CHECK(e["actions"]["macs"] == 262144);
  CHECK(e["actions"]["dram_read_bytes"] == 16384);
  CHECK(e["actions"]["dram_written_bytes"] == 8192);
  CHECK(e["actions"]["dma_bytes"] == 24576);
  CHECK(sum(e["actions"]["sram_write_accesses"]) == 512);
  CHECK(sum(e["actions"]["sram_read_accesses"]) == 768);
  CHECK(c["array"].get<double>() == Approx(775946.24).epsilon(1e-12));
  CHECK(c["sram"].get<double>() == Approx(409600.0).epsilon(1e-12));
  CHECK(c["dma"].get<double>() == Approx(49152.0).epsilon(1e-12));
  CHECK(c["dram"].get<double>() == Approx(2516582.4).epsilon(1e-12));
  CHECK(c["vector"] == 0.0);
  CHECK(c["softmax"] == 0.0);
  // Leakage: 10 mW/mm^2 over the on-chip area, PHY excluded:
  //   PEs 1024 x 6112 um^2 = 6.258688 mm^2; SRAM 131,072 B x 5.5 x 16^-0.1 um^2/B = 0.546338 mm^2;
  //   vector 32 lanes (the array's cols) x 12,453 um^2 = 0.398496 mm^2; DMA 0.5 mm^2: 7.703522 mm^2.
  //   x 10 mW/mm^2 = 77.03522 mW = 7.703522e10 pJ/s, times the run's time.
  const double sram_mm2 = 131072 * 5.5 * std::pow(16.0, -0.1) * 1e-6;
  const double leak_mm2 = 6.258688 + sram_mm2 + 0.398496 + 0.5;
  const double seconds = r["cycles"].get<double>() * 1e-9;  // 1 GHz
  CHECK(c["leakage"].get<double>() == Approx(10.0 * leak_mm2 * 1e9 * seconds).epsilon(1e-6));
  CHECK(r["area_mm2"]["dram_phy"].get<double>() == Approx(64 * 0.2));  // 64 GB/s x 0.2 mm^2 per GB/s
  CHECK(r["area_mm2"]["softmax"] == 0.0);
  // The components sum to the total exactly (same order), and the derived figures follow from it.
  CHECK(sum_components(c) == e["total_pj"].get<double>());
  CHECK(e["pj_per_mac"].get<double>() == Approx(e["total_pj"].get<double>() / 262144));
  CHECK(e["edp_j_s"].get<double>() == Approx(e["total_pj"].get<double>() * 1e-12 * seconds).epsilon(1e-6));
}

TEST_CASE("energy: the action counts are the simulator's own counts", "[energy]") {
  // A GEMM the mapper tiles on a banked, interleaved SRAM: counts by other routes must agree.
  const HwConfig hw = small_hw(R"({"sram": {"banks": 8, "bytes_per_bank": 16384, "interleave_bytes": 64}})");
  auto out = run_isolated([&] {
    TileProgram p = lower_gemm(hw, {96, 80, 112});
    SimOutcome o = simulate(hw, p);
    return make_report(hw, {{"kind", "gemm"}, {"m", 96}, {"k", 80}, {"n", 112}}, p, o).dump();
  });
  REQUIRE(out.exit_status == 0);
  const Json r = Json::parse(out.output);
  const Json& a = r["energy"]["actions"];
  CHECK(a["macs"] == 96 * 80 * 112);  // M N K
  // DRAM bytes are what the DRAM model moved.
  CHECK(a["dram_read_bytes"] == r["dram"]["bytes_read"]);
  CHECK(a["dram_written_bytes"] == r["dram"]["bytes_written"]);
  // SRAM bytes are the bytes through the banks' ports; every bank's accesses cover its bytes in port words.
  std::uint64_t read = 0, written = 0;
  for (std::size_t b = 0; b < r["sram"]["banks"].size(); ++b) {
    const Json& bank = r["sram"]["banks"][b];
    read += bank["read_bytes"].get<std::uint64_t>(), written += bank["written_bytes"].get<std::uint64_t>();
    CHECK(a["sram_read_accesses"][b].get<std::uint64_t>() * 64 >= bank["read_bytes"].get<std::uint64_t>());
    CHECK(a["sram_write_accesses"][b].get<std::uint64_t>() * 64 >= bank["written_bytes"].get<std::uint64_t>());
  }
  CHECK(a["sram_read_bytes"] == read);
  CHECK(a["sram_written_bytes"] == written);
  CHECK(sum_components(r["energy"]["components_pj"]) == r["energy"]["total_pj"].get<double>());
}

TEST_CASE("energy: a larger SRAM bank costs more per access, a wider port too", "[energy]") {
  // 45 nm: 10 pJ x sqrt(C / 8 KiB) x (W / 8 B).
  const HwConfig small = small_hw(R"({"sram": {"bytes_per_bank": 32768}})");
  const HwConfig large = small_hw(R"({"sram": {"bytes_per_bank": 524288}})");
  const HwConfig wide = small_hw(R"({"sram": {"bytes_per_bank": 32768, "port_bytes": 128}})");
  const ActionEnergies s = action_energies(small, area_breakdown(small));
  const ActionEnergies l = action_energies(large, area_breakdown(large));
  const ActionEnergies w = action_energies(wide, area_breakdown(wide));
  CHECK(s.sram_read == Approx(10.0 * 2 * 8));  // 32 KiB: sqrt(4) = 2, 64 B: 8 -> 160 pJ
  CHECK(l.sram_read == Approx(10.0 * 8 * 8));  // 512 KiB: sqrt(64) = 8 -> 640 pJ
  CHECK(w.sram_read == Approx(10.0 * 2 * 16));  // 128 B port: 320 pJ
  CHECK(l.sram_read > s.sram_read);
  // Horowitz's points the fit passes through: 8 KB and 32 KB 64-bit reads, 10 and 20 pJ.
  const PowerLawCurve& read = small.energy.table.sram_read_pj;
  CHECK(read.at(8192, 8) == Approx(10.0));
  CHECK(read.at(32768, 8) == Approx(20.0));
  CHECK(read.at(1048576, 8) == Approx(113.137).epsilon(1e-4));  // against his 100 pJ at 1 MB: +13 %
  // Area per byte falls as periphery amortizes: the larger bank is denser.
  CHECK(area_breakdown(large).sram / 524288 < area_breakdown(small).sram / 32768);
}

TEST_CASE("energy: no softmax unit costs no softmax area or energy; its work moves to the vector unit", "[energy]") {
  // One head, N = 8, d = 4, unfused: a SOFTMAX Rows over the 8 x 8 scores: 1 max per element (64),
  // 1 exp per element (64), 1 reciprocal per row (8), on whichever unit runs it.
  const ModelConfig m = parse_model_config(
      Json::parse(R"({"dtype": "fp16", "layers": [{"d_model": 4, "heads": 1, "head_dim": 4, "seq_len": 8,
          "ffn": {"width": 8, "activation": "relu"}, "norm": "layernorm", "norm_position": "pre",
          "attention": {"variant": "unfused"}}]})"),
      "tiny.json");
  auto run = [&](const HwConfig& hw) {
    auto r = run_isolated([&] { return simulate_model(hw, m).dump(); });
    INFO(r.output);
    REQUIRE(r.exit_status == 0);
    return Json::parse(r.output);
  };
  Json with_doc = read_json_file(std::string(ATTNSIM_SOURCE_DIR) + "/configs/presets/edge.json");
  Json without_doc = with_doc;
  without_doc.erase("softmax");
  const HwConfig with_unit = parse_hw_config(with_doc, "edge"), without_unit = parse_hw_config(without_doc, "edge-");
  const Json rw = run(with_unit), ro = run(without_unit);
  const Json& sm = rw["energy"]["actions"]["softmax_lane_ops"];
  CHECK(sm["max"] == 64);
  CHECK(sm["exp"] == 64);
  CHECK(sm["reciprocal"] == 8);
  CHECK(rw["energy"]["components_pj"]["softmax"].get<double>() > 0);
  CHECK(rw["area_mm2"]["softmax"].get<double>() > 0);
  CHECK(ro["energy"]["components_pj"]["softmax"] == 0.0);
  CHECK(ro["area_mm2"]["softmax"] == 0.0);
  for (const auto& [prim, n] : ro["energy"]["actions"]["softmax_lane_ops"].items()) CHECK(n == 0);
  // The vector unit does the softmax's lane operations on top of its own.
  for (const auto& [prim, n] : sm.items())
    CHECK(ro["energy"]["actions"]["vector_lane_ops"][prim].get<std::uint64_t>() ==
          rw["energy"]["actions"]["vector_lane_ops"][prim].get<std::uint64_t>() + n.get<std::uint64_t>());
  // Per token (N = 8 tokens, batch 1) and per watt and mm^2, from the report's own totals:
  //   GMAC/s/W = MACs / (total pJ x 1e-12 J) / 1e9;  GMAC/s/mm^2 = MACs / seconds / 1e9 / chip mm^2.
  const Json& e = rw["energy"];
  const double total_pj = e["total_pj"].get<double>(), macs = rw["macs"].get<double>();
  CHECK(e["tokens"] == 8);
  CHECK(e["pj_per_token"].get<double>() == Approx(total_pj / 8).epsilon(1e-12));
  CHECK(e["gmacs_per_s_per_w"].get<double>() == Approx(macs / (total_pj * 1e-12) / 1e9).epsilon(1e-12));
  CHECK(e["gmacs_per_s_per_mm2"].get<double>() ==
        Approx(macs / e["actions"]["seconds"].get<double>() / 1e9 / rw["area_mm2"]["total"].get<double>())
            .epsilon(1e-12));
  // Per op class: the softmax op's lane operations (timing/unit_timing.cpp, SOFTMAX Rows: per element 1 max,
  // 2 add (x - max, row sum), 2 mul (scale, x 1/sum), 1 exp; per row 1 reciprocal) priced at 45 nm:
  //   64 x 0.1 + 128 x 0.9 + 128 x 3.7 + 64 x 18.5 + 8 x 16.6 = 6.4 + 115.2 + 473.6 + 1,184 + 132.8 = 1,912 pJ.
  CHECK(rw["ops"]["softmax"]["energy_pj"]["softmax"].get<double>() == Approx(1912.0).epsilon(1e-12));
  CHECK(ro["ops"]["softmax"]["energy_pj"]["softmax"] == 0.0);
  CHECK(ro["ops"]["softmax"]["energy_pj"]["vector"].get<double>() == Approx(1912.0).epsilon(1e-12));
  // Summed over op classes (and over layers), each part is the run's; DRAM dynamic included.
  const Json& comp = e["components_pj"];
  std::map<std::string, double> by_class, by_layer;
  for (const auto& [name, op] : rw["ops"].items())
    for (const auto& [part, pj] : op["energy_pj"].items()) by_class[part] += pj.get<double>();
  for (const Json& layer : rw["layers"])
    for (const auto& [part, pj] : layer["energy_pj"].items()) by_layer[part] += pj.get<double>();
  for (const char* part : {"array", "sram", "vector", "softmax", "datapath", "dma"}) {
    INFO(part);
    CHECK(by_class[part] == Approx(comp[part].get<double>()).epsilon(1e-9));
    CHECK(by_layer[part] == Approx(comp[part].get<double>()).epsilon(1e-9));
  }
  CHECK(by_class["dram_dynamic"] == Approx(e["dram_components_pj"]["dynamic"].get<double>()).epsilon(1e-9));
  CHECK(by_class["total"] == Approx(total_pj - comp["leakage"].get<double>() -
                                    e["dram_components_pj"]["background"].get<double>())
                                 .epsilon(1e-9));
  // The area without the unit is the area with it less the unit's: 32 lanes x 12,453 + 32 exp units x 47,536 um^2.
  CHECK(rw["area_mm2"]["total"].get<double>() - ro["area_mm2"]["total"].get<double>() ==
        Approx((32 * 12453.0 + 32 * 47536.0) * 1e-6));
}

TEST_CASE("energy: the fused datapath's operations counted and priced by hand; an absent one costs nothing",
          "[energy][fused]") {
  // One instruction on an 8 x 8 array, m 8 query rows, n 20 keys, d 16: T = ceil(20 / 8) = 3 key tiles,
  // 160 scores. PEs per score: max 1, mul 1, add 2, exp 1. Row units per row and key tile: max 1, add d + 2 =
  // 18, mul d + 1 = 17, exp 1; per row at the end: reciprocal 1, mul d = 16.
  //   pe:       add 320, mul 160, max 160, exp 160
  //   row unit: add 8 x 3 x 18 = 432, mul 8 x 3 x 17 + 8 x 16 = 536, max 24, exp 24, reciprocal 8
  ArrayConfig array;
  array.rows = array.cols = 8;
  const FusedAttentionActions a = fused_attention_actions(array, {8, 20, 16});
  auto pe = [&](VecPrim p) { return a.pe[std::size_t(p)]; };
  auto ru = [&](VecPrim p) { return a.row_unit[std::size_t(p)]; };
  CHECK(pe(VecPrim::Add) == 320);
  CHECK(pe(VecPrim::Mul) == 160);
  CHECK(pe(VecPrim::Max) == 160);
  CHECK(pe(VecPrim::Exp) == 160);
  CHECK(pe(VecPrim::Reciprocal) == 0);
  CHECK(ru(VecPrim::Add) == 432);
  CHECK(ru(VecPrim::Mul) == 536);
  CHECK(ru(VecPrim::Max) == 24);
  CHECK(ru(VecPrim::Exp) == 24);
  CHECK(ru(VecPrim::Reciprocal) == 8);

  // A layer of the fused variant, N = 40, d = 16, 2 heads, on an 8 x 8 array with 2 score entries and 8 row
  // units of 2 operations a cycle. Each head's query blocks together have 40 rows over all 40 keys (T = 5):
  // 1,600 scores and 200 row-tiles a head; 2 heads:
  //   pe:       add 6,400, mul 3,200, max 3,200, exp 3,200
  //   row unit: add 2 x 200 x 18 = 7,200, mul 2 x (200 x 17 + 40 x 16) = 8,080, max 400, exp 400, reciprocal 80
  // At 45 nm each step adds its fp32 operand's register read and write, 8 B x 0.08 = 0.64 pJ:
  //   pe:  6,400 x 1.54 + 3,200 x 1.74 + 3,200 x 0.74 + 3,200 x 8.74 = 9,856 + 5,568 + 2,368 + 27,968 = 45,760 pJ
  //   row: 7,200 x 1.54 + 8,080 x 4.34 + 400 x 0.74 + 400 x 19.14 + 80 x 17.24
  //        = 11,088 + 35,067.2 + 296 + 7,656 + 1,379.2 = 55,486.4 pJ            datapath = 101,246.4 pJ
  // Area: 64 PEs x (374 + 2 entries x 144) + 8 units x 2 x 12,453 = 42,368 + 199,248 um^2 = 0.241616 mm^2.
  Json doc = {{"array", {{"rows", 8}, {"cols", 8}, {"clock_mhz", 1000}, {"operand_bytes", 2}}},
              {"sram", {{"banks", 4}, {"bytes_per_bank", 16384}, {"port_bytes", 64}}},
              {"dram", {{"model", "ideal"}, {"bytes_per_cycle", 64}}},
              {"softmax", {{"lanes", 8}}},
              {"datapath",
               {{"pe", {{"max", 1}, {"add", 1}, {"row_scalar_mul", 1}, {"exp", 4}, {"score_entries", 2}}},
                {"row_units", {{"count", 8}, {"ops_per_cycle", 2}, {"exp_cycles", 4}}}}}};
  auto model = [](const char* variant) {
    Json layer = {{"d_model", 32}, {"heads", 2}, {"head_dim", 16}, {"seq_len", 40},
                  {"ffn", {{"width", 64}, {"activation", "gelu"}}}, {"norm", "layernorm"},
                  {"norm_position", "pre"}, {"attention", {{"variant", variant}}}};
    return parse_model_config(Json{{"dtype", "fp16"}, {"layers", Json::array({layer})}}, "one.json");
  };
  auto run = [&](const HwConfig& hw, const char* variant) {
    const ModelConfig m = model(variant);
    auto r = run_isolated([&] { return simulate_model(hw, m).dump(); });
    INFO(r.output);
    REQUIRE(r.exit_status == 0);
    return Json::parse(r.output);
  };
  const HwConfig fused = parse_hw_config(doc, "fused.json");
  const Json rf = run(fused, "fused");
  const Json& e = rf["energy"];
  const Json& pe_ops = e["actions"]["datapath_pe_ops"];
  const Json& ru_ops = e["actions"]["row_unit_ops"];
  CHECK(pe_ops == Json{{"add", 6400}, {"mul", 3200}, {"max", 3200}, {"exp", 3200}});
  CHECK(ru_ops == Json{{"add", 7200}, {"mul", 8080}, {"max", 400}, {"exp", 400}, {"reciprocal", 80}});
  CHECK(e["per_action_pj"]["datapath_pe_op"]["exp"].get<double>() == Approx(8.74).epsilon(1e-12));
  CHECK(e["components_pj"]["datapath"].get<double>() == Approx(101246.4).epsilon(1e-12));
  CHECK(sum_components(e["components_pj"]) == e["total_pj"].get<double>());
  // All of it is attention's (the fused instructions are classed qk), and the op classes sum to the run.
  CHECK(rf["ops"]["qk"]["energy_pj"]["datapath"].get<double>() == Approx(101246.4).epsilon(1e-12));
  double sram_by_class = 0;
  for (const auto& [name, op] : rf["ops"].items()) sram_by_class += op["energy_pj"]["sram"].get<double>();
  CHECK(sram_by_class == Approx(e["components_pj"]["sram"].get<double>()).epsilon(1e-9));
  CHECK(rf["area_mm2"]["datapath"].get<double>() == Approx(0.241616).epsilon(1e-12));

  // The same hardware running flash: the datapath's area stays, its energy is 0.
  const Json rl = run(fused, "flash");
  CHECK(rl["energy"]["components_pj"]["datapath"] == 0.0);
  CHECK(rl["area_mm2"]["datapath"].get<double>() == Approx(0.241616).epsilon(1e-12));
  // No datapath: no datapath area or energy; the chip is smaller by exactly its area.
  doc.erase("datapath");
  const HwConfig plain = parse_hw_config(doc, "plain.json");
  const Json rp = run(plain, "flash");
  CHECK(rp["energy"]["components_pj"]["datapath"] == 0.0);
  CHECK(rp["area_mm2"]["datapath"] == 0.0);
  for (const auto& [prim, n] : rp["energy"]["actions"]["datapath_pe_ops"].items()) CHECK(n == 0);
  CHECK(rl["area_mm2"]["total"].get<double>() - rp["area_mm2"]["total"].get<double>() ==
        Approx(0.241616).epsilon(1e-9));
}

TEST_CASE("energy: the presets select tables, datatypes and DRAM technologies", "[energy]") {
  const HwConfig cloud = load_hw_config("cloud");
  CHECK(cloud.energy.present);
  CHECK(cloud.energy.datatype == Datatype::Fp16);  // operand_bytes 2
  CHECK(cloud.energy.dram == DramTech::Hbm2);
  CHECK(cloud.energy.table.node_nm == 45);
  const HwConfig tpu = load_hw_config("tpu-v1");
  CHECK(tpu.energy.datatype == Datatype::Int8);
  const HwConfig seven = small_hw(R"({"energy": {"preset": "7nm", "datatype": "bf16", "dram": "hbm3"}})");
  CHECK(seven.energy.table.node_nm == 7);
  CHECK(seven.energy.datatype == Datatype::Bf16);
  // 45 nm x 0.25: the bf16 MAC 1.48 -> 0.37 pJ; HBM3 per byte is the DRAM's, the same at both nodes (25 pJ/B).
  CHECK(seven.energy.table.mac_pj[std::size_t(Datatype::Bf16)] == Approx(0.37));
  CHECK(seven.energy.table.dram_pj_per_byte[std::size_t(DramTech::Hbm3)] == Approx(25.0));
  // The cycle-accurate DRAM's device family names the technology.
  Json doc = Json::parse(R"({"array": {"rows": 8, "cols": 8, "clock_mhz": 1000}, "sram": {"banks": 1, "bytes_per_bank": 65536,
      "port_bytes": 64}, "dram": {"model": "cycle", "preset": "lpddr4-4266"}})");
  CHECK(parse_hw_config(doc, "t").energy.dram == DramTech::Lpddr4);
}

TEST_CASE("energy: a bad energy section or table is a path-aware error, exit 2", "[energy][bad_input]") {
  auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string unknown = message([] { small_hw(R"({"energy": {"preset": "9nm"}})"); });
  CHECK_THAT(unknown, Catch::Contains("/energy/preset") && Catch::Contains("45nm, 7nm"));
  const std::string width = message([] { small_hw(R"({"energy": {"datatype": "int8"}})"); });
  CHECK_THAT(width, Catch::Contains("/energy/datatype") && Catch::Contains("operand_bytes is 2"));
  // A table with a negative MAC energy, a source left empty and a misspelt key: every problem at once.
  Json table = read_json_file(std::string(ATTNSIM_SOURCE_DIR) + "/configs/energy/45nm.json");
  table["energy"]["mac_pj"]["int8"]["value"] = -0.3;
  table["energy"]["dma_pj_per_byte"]["source"] = "";
  table["area"]["dma_mm"] = table["area"]["dma_mm2"];
  const std::string path = write_temp("bad_energy.json", table.dump(1));
  const std::string bad = message([&] { small_hw(R"({"energy": {"file": ")" + path + R"("}})"); });
  CHECK_THAT(bad, Catch::Contains("bad_energy.json") && Catch::Contains("/energy/mac_pj/int8/value") &&
                      Catch::Contains("/energy/dma_pj_per_byte/source") && Catch::Contains("/area/dma_mm"));
  // From the command line: exit 2 with the same message.
  Json hw_doc = read_json_file(std::string(ATTNSIM_SOURCE_DIR) + "/configs/presets/edge.json");
  hw_doc["energy"] = {{"file", path}};
  const std::string hw_path = write_temp("hw_bad_energy.json", hw_doc.dump());
  const auto r = run_cli("area --hw " + hw_path);
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("/energy/mac_pj/int8/value"));
}

TEST_CASE("energy: attnsim area prints the total and the breakdown", "[energy][cli]") {
  // Edge at 45 nm: 32 x 32 fp16 PEs x 6112 um^2 = 6.258688 mm^2 of array.
  const auto r = run_cli("area --hw edge --json");
  REQUIRE(r.status == 0);
  const Json a = Json::parse(r.out);
  CHECK(a["array"].get<double>() == Approx(1024 * 6112e-6));
  CHECK(a["total"].get<double>() == Approx(a["array"].get<double>() + a["sram"].get<double>() +
                                           a["accumulators"].get<double>() + a["vector"].get<double>() +
                                           a["softmax"].get<double>() + a["dma"].get<double>() +
                                           a["dram_phy"].get<double>()));
  const auto t = run_cli("area --hw cloud");
  CHECK(t.status == 0);
  CHECK_THAT(t.out, Catch::Contains("dram_phy") && Catch::Contains("mm^2"));
}
