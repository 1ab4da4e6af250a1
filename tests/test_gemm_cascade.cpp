// GEMMs with their fused epilogues as cascades (models/cascades/gemm*.json) run by the generic
// lowering with a mapping translated from a GEMM tiling (compiler/gemm_cascade.h): the executor's
// results against a reference GEMM (and activation / residual) in double precision, and the timed
// cycles, the bytes and the buffers' addresses against the hand-written GemmEmitter's program for the
// same tiling (tests/support/gemm_emitter.h, the reference).
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "cascade/builtin.h"
#include "cascade/cascade.h"
#include "common/errors.h"
#include "compiler/gemm_cascade.h"
#include "compiler/gemm_lowering.h"
#include "config/hw_config.h"
#include "hw/accelerator.h"
#include "ir/executor.h"
#include "mapper/program_timer.h"
#include "support/gemm_emitter.h"
#include "support/isolated.h"
#include "support/reference.h"

using namespace attnsim;
using test::GemmEmitter;

namespace {

HwConfig test_hw(int side, std::int64_t sram_kib, std::int64_t acc_kib, const char* df = "os", std::int64_t port = 64) {
  Json doc = {{"array",
               {{"rows", side},
                {"cols", side},
                {"dataflow", df},
                {"clock_mhz", 1000},
                {"operand_bytes", 2},
                {"accumulator_bytes", 4}}},
              {"sram", {{"banks", 4}, {"bytes_per_bank", sram_kib * 1024 / 4}, {"port_bytes", port}}},
              {"dram", {{"model", "ideal"}, {"bytes_per_cycle", 64}}}};
  if (acc_kib) doc["accumulators"] = {{"bytes", acc_kib * 1024}};
  return parse_hw_config(doc, "hw.json");
}

// The program GemmEmitter writes for tiling t (lower_gemm's, with an epilogue and R after C).
TileProgram hand_program(const HwConfig& hw, const GemmDims& d, const GemmTiling& t, Epilogue epi) {
  TileProgram p = lower_gemm_cascade(hw, d, t, epi);  // the same tensors
  p.instrs.clear();
  p.buffers.clear();
  Emitter em(p, p.tensors);
  GemmEmitter g(hw, t, 0, std::uint64_t(hw.sram.total_bytes()));
  g.emit(em, whole_gemm_blocks(d, epi));
  return p;
}

std::int64_t timed(const HwConfig& hw, const TileProgram& p) {
  return time_program(hw, [&](ProgramSink& s) { ProgramSource::of(p).generate(s); }).cycles;
}

std::uint64_t load_bytes(const TileProgram& p) {
  std::uint64_t b = 0;
  for (const Instr& in : p.instrs)
    if (in.op == Opcode::Load) b += in.bytes();
  return b;
}

const Epilogue kEpilogues[] = {Epilogue::None, Epilogue::Gelu, Epilogue::Relu, Epilogue::AddResidual};

}  // namespace

TEST_CASE("gemm cascades: the built-in descriptions are models/cascades/gemm*.json", "[gemm_cascade][cascade]") {
  for (Epilogue e : kEpilogues) {
    const std::string stem = gemm_cascade_stem(e);
    const cascade::CascadeDesc file =
        cascade::load_cascade(std::string(ATTNSIM_SOURCE_DIR) + "/models/cascades/" + stem + ".json");
    const cascade::Cascade c = gemm_cascade(e, {5, 7, 3});
    REQUIRE(file.steps.size() == c.desc.steps.size());
    CHECK(c.desc.steps.size() == (e == Epilogue::None ? 1u : 2u));
    CHECK(c.extent == std::vector<std::int64_t>{5, 7, 3});
  }
}

TEST_CASE("gemm cascades: every translatable tiling computes the GEMM and its epilogue", "[gemm_cascade][functional]") {
  // 8x8 OS array, 64 KiB of SRAM; with and without 16 KiB of accumulator storage.
  for (std::int64_t acc_kib : {0, 16}) {
    const HwConfig hw = test_hw(8, 64, acc_kib);
    for (const GemmDims d : {GemmDims{40, 24, 36}, GemmDims{33, 17, 50}}) {
      const ref::Mat a = ref::random_values(std::size_t(d.m * d.k), 5), b = ref::random_values(std::size_t(d.k * d.n), 6),
                     r = ref::random_values(std::size_t(d.m * d.n), 7);
      const ref::Mat c = ref::matmul(a, b, d.m, d.k, d.n);
      for (Epilogue e : kEpilogues) {
        const int inputs = e == Epilogue::AddResidual ? 1 : 0;
        const ref::Mat want = e == Epilogue::Gelu   ? ref::gelu(c)
                              : e == Epilogue::Relu ? ref::relu(c)
                              : inputs              ? ref::add(c, r)
                                                    : c;
        int tried = 0;
        for (const GemmTiling& t : gemm_tiling_candidates(hw, d, 0, inputs)) {
          if (!gemm_cascade_translatable(t, false)) continue;
          ++tried;
          INFO("acc " << acc_kib << " KiB, " << d.m << "x" << d.k << "x" << d.n << " " << gemm_cascade_stem(e)
                      << " tiles " << t.tm << "x" << t.tk << "x" << t.tn << (t.n_outer ? " n-outer" : " m-outer")
                      << (t.c_in_accumulators ? ", C in accumulators" : ""));
          const TileProgram p = lower_gemm_cascade(hw, d, t, e);
          Executor ex(p, hw.onchip_bytes());
          ex.set_tensor(0, a);
          ex.set_tensor(1, b);
          if (inputs) ex.set_tensor(3, r);
          ex.run(3);
          CHECK(ref::max_rel_error(ex.tensor(2), want) < 1e-4);
          // Every MAC once; C (Y) stored once.
          std::uint64_t macs = 0, stored = 0;
          for (const Instr& in : p.instrs) {
            if (in.op == Opcode::Gemm) macs += in.macs();
            if (in.op == Opcode::Store) stored += in.bytes();
          }
          CHECK(macs == std::uint64_t(d.m * d.k * d.n));
          CHECK(stored == std::uint64_t(d.m * d.n * 2));
        }
        CHECK(tried > 0);
      }
    }
  }
}

TEST_CASE("gemm cascades: the generic lowering times as GemmEmitter on the same tilings", "[gemm_cascade][timing]") {
  struct Hw {
    const char* name;
    HwConfig hw;
  };
  std::vector<Hw> hws = {{"edge", load_hw_config("edge")}, {"cloud", load_hw_config("cloud")},
                         {"8x8 os acc", test_hw(8, 64, 16)}, {"16x16 ws", test_hw(16, 256, 0, "ws")}};
  int equal = 0, fewer_loads = 0, total = 0;
  for (const Hw& h : hws) {
    const HwConfig& hw = h.hw;
    const std::int64_t s = hw.array.rows;
    for (const GemmDims d : {GemmDims{8 * s, 4 * s, 6 * s}, GemmDims{3 * s + 5, 5 * s, 2 * s + 3}, GemmDims{s, 16 * s, s}}) {
      for (Epilogue e : kEpilogues) {
        const int inputs = e == Epilogue::AddResidual ? 1 : 0;
        for (const GemmTiling& t : gemm_tiling_candidates(hw, d, 0, inputs)) {
          REQUIRE(gemm_cascade_translatable(t, false));
          ++total;
          const TileProgram hand = hand_program(hw, d, t, e), gen = lower_gemm_cascade(hw, d, t, e);
          // gemm_layout places the buffers where the reference's independent layout does.
          const std::vector<BufferInfo> hb = GemmEmitter(hw, t, 0, std::uint64_t(hw.sram.total_bytes()))
                                                 .buffers("", 0, BufClass::Activation, BufClass::Weight, BufClass::Output);
          REQUIRE(gen.buffers.size() == hb.size());
          for (std::size_t i = 0; i < hb.size(); ++i) {
            CHECK(gen.buffers[i].name == hb[i].name);
            CHECK(gen.buffers[i].region.addr == hb[i].region.addr);
            CHECK(gen.buffers[i].region.bytes == hb[i].region.bytes);
          }
          const std::int64_t hc = timed(hw, hand), gc = timed(hw, gen);
          const std::uint64_t hl = load_bytes(hand), gl = load_bytes(gen);
          INFO(h.name << " " << d.m << "x" << d.k << "x" << d.n << " " << gemm_cascade_stem(e) << " tiles " << t.tm << "x"
                      << t.tk << "x" << t.tn << (t.n_outer ? " n-outer" : " m-outer")
                      << (t.c_in_accumulators ? ", C in accumulators" : "") << ": hand " << hc << " cycles " << hl
                      << " B loaded, generic " << gc << " cycles " << gl << " B loaded");
          if (gemm_cascade_loads_as_emitter(t)) {
            CHECK(gl == hl);
            CHECK(gc == hc);
            equal += gc == hc;
          } else {
            // A block still in its other slot is read from there: fewer bytes (the cycles may differ
            // either way, by the order the bus then serves the rest).
            CHECK(gl < hl);
            ++fewer_loads;
          }
        }
      }
    }
  }
  WARN(total << " tilings: " << equal << " equal, " << fewer_loads << " with fewer loads");
}


namespace {

std::int64_t simulated(const HwConfig& hw, const TileProgram& p) {
  const test::IsolatedResult r =
      test::run_isolated([&]() -> std::string { return std::to_string(simulate(hw, p).stats.cycles); });
  REQUIRE(r.exit_status == 0);
  return std::stoll(r.output);
}

}  // namespace

TEST_CASE("gemm cascades: the simulated accelerator gives GemmEmitter's cycles", "[gemm_cascade][timing][sim]") {
  // The whole accelerator (not only the program timer): loads in flight together complete out of
  // order, so a GEMM must wait for each of its operands' loads. A few tilings of the edge preset and of
  // a 16x16 WS array with accumulator storage, each epilogue, picked spread over the candidates, and
  // one with the inner operand resident (the cascade's resident input: one row-major buffer where
  // GemmEmitter has a slot per tile) and one with the outer panel resident (2 x K-tiles slots).
  Json ws = {{"array", {{"rows", 16}, {"cols", 16}, {"dataflow", "ws"}, {"timing", "overlapped"},
                        {"clock_mhz", 1000}, {"operand_bytes", 2}, {"accumulator_bytes", 4}}},
             {"sram", {{"banks", 8}, {"bytes_per_bank", 16384}, {"port_bytes", 64}}},
             {"accumulators", {{"bytes", 32768}}},
             {"dram", {{"model", "ideal"}, {"bytes_per_cycle", 32}}}};
  const std::vector<HwConfig> hws = {load_hw_config("edge"), parse_hw_config(ws, "ws.json")};
  int compared = 0;
  for (const HwConfig& hw : hws) {
    const GemmDims d{4 * hw.array.rows + 7, 6 * hw.array.rows, 3 * hw.array.cols};
    for (Epilogue e : kEpilogues) {
      std::vector<GemmTiling> ts;
      for (const GemmTiling& t : gemm_tiling_candidates(hw, d, 0, e == Epilogue::AddResidual ? 1 : 0))
        if (gemm_cascade_translatable(t, false) && gemm_cascade_loads_as_emitter(t)) ts.push_back(t);
      REQUIRE(ts.size() >= 2);
      std::vector<GemmTiling> picks = {ts.front(), ts[ts.size() / 2]};
      for (const GemmTiling& t : ts)  // and one keeping its inner operand resident
        if (t.inner_resident) {
          picks.push_back(t);
          break;
        }
      for (const GemmTiling& t : ts)  // and one keeping its outer panel resident
        if (t.outer_resident) {
          picks.push_back(t);
          break;
        }
      for (const GemmTiling& t : ts)  // and one with k in the middle (a row of C tiles open over k)
        if (t.k_middle) {
          picks.push_back(t);
          break;
        }
      for (const GemmTiling& t : ts)  // and one with a lead block (its first outer tiles k-outer)
        if (t.lead_block > 0) {
          picks.push_back(t);
          break;
        }
      REQUIRE(picks.size() == 6);
      for (const GemmTiling& t : picks) {
        INFO(hw.source << " " << gemm_cascade_stem(e) << " tiles " << t.tm << "x" << t.tk << "x" << t.tn
                       << (t.n_outer ? " n-outer" : " m-outer") << (t.k_middle ? ", k in the middle" : "")
                       << (t.lead_block ? ", lead block" : "")
                       << (t.c_in_accumulators ? ", C in accumulators" : ""));
        CHECK(simulated(hw, lower_gemm_cascade(hw, d, t, e)) == simulated(hw, hand_program(hw, d, t, e)));
        ++compared;
      }
    }
  }
  CHECK(compared == 48);
}

TEST_CASE("gemm cascades: a GEMM waits for both operand loads, which complete out of order",
          "[gemm_cascade][timing][sim]") {
  // test_gemm_end_to_end's WS case: 32x32 WS overlapped, M=64, K=256, N=32 in one tile, ideal memory,
  // 16 contiguous banks of 32 KiB with 64 B ports. A (32768 B, bank 0) loads in 512 cycles, B
  // (16384 B, bank 2) in 256 alongside it: B completes first, and the GEMM starts at 512, when A is in;
  // the run ends at 1664 (derived there). Waiting for the later-issued load (B) alone would give 1408.
  Json doc = {{"array", {{"rows", 32}, {"cols", 32}, {"dataflow", "ws"}, {"timing", "overlapped"},
                         {"clock_mhz", 1000}, {"operand_bytes", 2}}},
              {"sram", {{"banks", 16}, {"bytes_per_bank", 32768}, {"port_bytes", 64}}},
              {"dram", {{"model", "ideal"}, {"bytes_per_cycle", 1e9}, {"latency_cycles", 0}}},
              {"dma", {{"outstanding", 1024}}}};
  const HwConfig hw = parse_hw_config(doc, "ws.json");
  const GemmDims d{64, 256, 32};
  int found = 0;
  for (const GemmTiling& t : gemm_tiling_candidates(hw, d))
    if (t.tm == 64 && t.tk == 256 && t.tn == 32 && !t.n_outer && gemm_cascade_translatable(t, false)) {
      ++found;
      CHECK(simulated(hw, lower_gemm_cascade(hw, d, t)) == 1664);
    }
  CHECK(found == 1);
}

TEST_CASE("gemm cascades: chain and in_place in a mapping file, and their rules", "[gemm_cascade][mapping]") {
  const HwConfig hw = test_hw(8, 64, 16);
  const cascade::Cascade c = gemm_cascade(Epilogue::AddResidual, {32, 16, 24});
  const Json doc = Json::parse(R"({"cascade": "gemm_residual",
    "groups": [{"steps": ["C", "Y"], "loops": [{"rank": "m", "tile": 16}, {"rank": "n", "tile": 8}, {"rank": "k", "tile": 8}],
                "chain": true}],
    "placement": {"Y": {"in_place": "C"}}})");
  const cascade::Mapping m = cascade::parse_mapping(doc, "m.json", c, hw);
  CHECK(m.groups[0].chain);
  const int y = c.desc.tensor_index("Y"), cc = c.desc.tensor_index("C");
  CHECK(m.tensors[std::size_t(y)].in_place == cc);
  // Printed as read.
  const cascade::Mapping back = cascade::parse_mapping(cascade::mapping_to_json(c, m), "back.json", c, hw);
  CHECK(back.groups[0].chain);
  CHECK(back.tensors[std::size_t(y)].in_place == cc);
  // In place, Y takes no buffer of its own: A, B, R and C double-buffered, C's slots 16 x 8 x 4 B.
  const cascade::CascadePlan plan = cascade::plan_cascade(c, m, hw, std::uint64_t(hw.sram.total_bytes()));
  CHECK(plan.groups[0].buffers.size() == 4);
  CHECK(plan.groups[0].buffer_of[std::size_t(y)] == plan.groups[0].buffer_of[std::size_t(cc)]);

  // Over a DRAM input: the rule names the placement.
  Json bad = doc;
  bad["placement"]["Y"]["in_place"] = "R";
  const std::vector<std::string> p =
      cascade::check_mapping(c, cascade::parse_mapping(bad, "m.json", c, hw), hw, std::uint64_t(hw.sram.total_bytes()));
  REQUIRE(p.size() == 1);
  CHECK(p[0].find("m.json: /placement/Y/in_place: R must be written in this group") != std::string::npos);
  // One of bank, at, in_place.
  bad["placement"]["Y"] = Json{{"bank", 1}, {"in_place", "C"}};
  try {
    cascade::parse_mapping(bad, "m.json", c, hw);
    FAIL("accepted");
  } catch (const UserError& e) {
    CHECK(std::string(e.what()).find("m.json: /placement/Y: gives one of") != std::string::npos);
  }
}

TEST_CASE("gemm cascades: k in the middle keeps a row of C tiles open over k", "[gemm_cascade][mapping]") {
  // 8x8 OS, 64 KiB SRAM; M = 16, K = 32, N = 24 with tiles 8 x 16 x 8, loop order m, k, n: 2 rows of
  // 3 C tiles, 2 K steps each. Derived by hand: the loads are A's 16 x 32 once (each (m, k) tile serves
  // the row's 3 C tiles in one run) = 1024 B, B's 32 x 24 once per row = 2 x 1536 B, and with the residual
  // R's 16 x 24 once = 768 B: 4096 B (4864 B with R); 2 x 2 x 3 = 12 GEMMs of 8 x 16 x 8, 6 stores of 8 x 8.
  const HwConfig hw = test_hw(8, 64, 0);
  const GemmDims d{16, 32, 24};
  int found = 0;
  for (Epilogue e : {Epilogue::None, Epilogue::AddResidual})
    for (const GemmTiling& t : gemm_tiling_candidates(hw, d, 0, e == Epilogue::AddResidual ? 1 : 0)) {
      if (!(t.k_middle && !t.n_outer && !t.inner_resident && t.tm == 8 && t.tk == 16 && t.tn == 8)) continue;
      ++found;
      REQUIRE(gemm_cascade_translatable(t, false));
      REQUIRE(gemm_cascade_loads_as_emitter(t));
      const TileProgram p = lower_gemm_cascade(hw, d, t, e);
      std::uint64_t gemms = 0, stores = 0;
      for (const Instr& in : p.instrs) gemms += in.op == Opcode::Gemm, stores += in.op == Opcode::Store;
      CHECK(load_bytes(p) == (e == Epilogue::None ? 4096u : 4864u));
      CHECK(gemms == 12);
      CHECK(stores == 6);
      CHECK(timed(hw, p) == timed(hw, hand_program(hw, d, t, e)));
      // The mapping: loops m, k, n and C in 2 x 3 slots; with fewer slots than the 3 open tiles the rule
      // names the loop.
      const cascade::Cascade c = gemm_cascade(e, d);
      cascade::Mapping m = gemm_cascade_mapping(hw, c, t, std::uint64_t(hw.sram.total_bytes()));
      REQUIRE(m.groups[0].loops.size() == 3);
      CHECK(m.groups[0].loops[1].rank == c.desc.rank_index("k"));
      const int cc = c.desc.tensor_index("C");
      CHECK(m.tensors[std::size_t(cc)].buffers == 6);
      m.tensors[std::size_t(cc)].buffers = 2;
      const std::vector<std::string> prob = cascade::check_mapping(c, m, hw, std::uint64_t(hw.sram.total_bytes()));
      // (and with the epilogue, that Y reads the sum from inside the loop over k)
      REQUIRE(prob.size() == (e == Epilogue::None ? 1u : 2u));
      CHECK(prob[0].find("/groups/0/loops/1: the loop over n is inside the loop over k, which C sums over: its 3 "
                         "tiles stay open, which needs a buffer of as many slots (C has 2)") != std::string::npos);
    }
  CHECK(found == 2);
}

TEST_CASE("gemm cascades: a lead block walks its first rows with k outermost", "[gemm_cascade][mapping]") {
  // 8x8 OS, 64 KiB SRAM; M = 32, K = 32, N = 16 with tiles 8 x 16 x 8, m outer, A's panels and B
  // resident, lead block of 2 rows: the block's points in the order (k, n, m) = (0,0,0) (0,0,1) (0,1,0)
  // (0,1,1) (1,0,0) ..., then rows 2 and 3 with k innermost. Each tile is loaded at its first use, so
  // by hand the loads are, as (tensor, first row, first column): A(0,0) B(0,0) A(8,0) B(0,8) A(0,16)
  // B(16,0) A(8,16) B(16,8), then A(16,0) A(16,16) A(24,0) A(24,16): A once (2048 B) and B once
  // (1024 B); 16 GEMMs; the block's 4 C tiles finish one per GEMM of its last K sweep (k = 1, GEMMs 5
  // to 8), each stored right after it: the first store after the 5th GEMM, in the order (0,0) (8,0) (0,8) (8,8).
  const HwConfig hw = test_hw(8, 64, 0);
  const GemmDims d{32, 32, 16};
  const std::uint64_t ob = 2, a0 = 0, b0 = align_up(d.m * d.k * ob, 4096), c0 = align_up(b0 + d.k * d.n * ob, 4096);
  auto a_at = [&](std::uint64_t r, std::uint64_t k) { return a0 + (r * std::uint64_t(d.k) + k) * ob; };
  auto b_at = [&](std::uint64_t k, std::uint64_t n) { return b0 + (k * std::uint64_t(d.n) + n) * ob; };
  auto c_at = [&](std::uint64_t r, std::uint64_t n) { return c0 + (r * std::uint64_t(d.n) + n) * ob; };
  const std::vector<std::uint64_t> loads = {a_at(0, 0),   b_at(0, 0),   a_at(8, 0),   b_at(0, 8),
                                            a_at(0, 16),  b_at(16, 0),  a_at(8, 16),  b_at(16, 8),
                                            a_at(16, 0),  a_at(16, 16), a_at(24, 0),  a_at(24, 16)};
  const std::vector<std::uint64_t> first_stores = {c_at(0, 0), c_at(8, 0), c_at(0, 8), c_at(8, 8)};
  int found = 0;
  for (const GemmTiling& t : gemm_tiling_candidates(hw, d)) {
    if (!(t.lead_block == 2 && !t.n_outer && t.tm == 8 && t.tk == 16 && t.tn == 8)) continue;
    ++found;
    REQUIRE(gemm_cascade_translatable(t, false));
    const TileProgram p = lower_gemm_cascade(hw, d, t);
    std::vector<std::uint64_t> l, st;
    int gemms = 0, gemms_before_first_store = -1;
    for (const Instr& in : p.instrs) {
      if (in.op == Opcode::Load) l.push_back(in.dram_addr);
      if (in.op == Opcode::Gemm) ++gemms;
      if (in.op == Opcode::Store) {
        st.push_back(in.dram_addr);
        if (gemms_before_first_store < 0) gemms_before_first_store = gemms;
      }
    }
    CHECK(l == loads);
    CHECK(load_bytes(p) == 3072);
    CHECK(gemms == 16);
    CHECK(gemms_before_first_store == 5);
    REQUIRE(st.size() == 8);
    CHECK(std::vector<std::uint64_t>(st.begin(), st.begin() + 4) == first_stores);
    CHECK(timed(hw, p) == timed(hw, hand_program(hw, d, t, Epilogue::None)));
    // The mapping says so, and a C buffer too small for the block's 4 open tiles is refused.
    const cascade::Cascade c = gemm_cascade(Epilogue::None, d);
    cascade::Mapping m = gemm_cascade_mapping(hw, c, t, std::uint64_t(hw.sram.total_bytes()));
    CHECK(m.groups[0].lead == 2);
    CHECK(cascade::mapping_to_json(c, m)["groups"][0]["lead"].get<int>() == 2);
    const int cc = c.desc.tensor_index("C");
    CHECK(m.tensors[std::size_t(cc)].buffers == 6);
    m.tensors[std::size_t(cc)].buffers = 3;
    const std::vector<std::string> prob = cascade::check_mapping(c, m, hw, std::uint64_t(hw.sram.total_bytes()));
    REQUIRE(prob.size() == 1);
    CHECK(prob[0].find("/groups/0/lead: the lead block keeps 4 tiles of C open, which needs a buffer of as many "
                       "slots (it has 3)") != std::string::npos);
  }
  CHECK(found == 1);
}

TEST_CASE("gemm cascades: instances sharing a weight keep it on chip, in no more cycles than GemmEmitter",
          "[gemm_cascade][timing][functional]") {
  // Three GEMMs C_i = A_i B with one B (a model op of several instances: a weight, one per head or
  // batch element), emitted one after another. GemmEmitter starts each GEMM afresh and loads B again;
  // the generic lowering runs the instances as one group and reads a B block still in its slot.
  const std::int64_t inst = 3;
  for (const std::int64_t port : {64, 1024})
  for (std::int64_t acc_kib : {0, 16}) {
    const HwConfig hw = test_hw(8, 64, acc_kib, "os", port);
    for (const GemmDims d : {GemmDims{40, 24, 36}, GemmDims{16, 64, 16}}) {
      const ref::Mat a = ref::random_values(std::size_t(inst * d.m * d.k), 11),
                     b = ref::random_values(std::size_t(d.k * d.n), 12);
      const ref::Mat want = ref::matmul(a, b, inst * d.m, d.k, d.n);  // the stacked A_i times B
      const std::uint64_t ob = 2, b_base = align_up(inst * d.m * d.k * ob, 4096),
                          c_base = align_up(b_base + d.k * d.n * ob, 4096);
      std::vector<GemmBlocks> blocks;
      for (std::int64_t i = 0; i < inst; ++i) {
        GemmBlocks x;
        x.a = {0, i * d.m, 0, d.m, d.k};
        x.b = {1, 0, 0, d.k, d.n};
        x.c = {2, i * d.m, 0, d.m, d.n};
        blocks.push_back(x);
      }
      int tried = 0, fewer = 0;
      for (const GemmTiling& t : gemm_tiling_candidates(hw, d)) {
        if (!gemm_cascade_translatable(t, false)) continue;
        ++tried;
        TileProgram hand, gen;
        for (TileProgram* p : {&hand, &gen})
          p->tensors = {{"A", 0, std::uint64_t(inst * d.m), std::uint64_t(d.k), int(ob)},
                        {"B", b_base, std::uint64_t(d.k), std::uint64_t(d.n), int(ob)},
                        {"C", c_base, std::uint64_t(inst * d.m), std::uint64_t(d.n), int(ob)}};
        {
          Emitter em(hand, hand.tensors);
          GemmEmitter g(hw, t, 0, std::uint64_t(hw.sram.total_bytes()));
          for (const GemmBlocks& x : blocks) g.emit(em, x);
        }
        {
          Emitter em(gen, gen.tensors);
          GemmCascadeEmitter(hw, t, Epilogue::None, std::uint64_t(hw.sram.total_bytes())).emit(em, blocks);
        }
        const std::int64_t hc = timed(hw, hand), gc = timed(hw, gen);
        const std::uint64_t hl = load_bytes(hand), gl = load_bytes(gen);
        INFO(port << " B ports, acc " << acc_kib << " KiB, " << inst << " x " << d.m << "x" << d.k << "x" << d.n << " tiles " << t.tm << "x"
                    << t.tk << "x" << t.tn << " " << describe_gemm_order(t) << ": hand " << hc << " cycles " << hl
                    << " B loaded, generic " << gc << " cycles " << gl << " B loaded");
        CHECK(gl <= hl);
        // A resident A (n outer) is the instances' own: the next one's tiles load into its one slot
        // as the last one's reads of each tile are done, as GemmEmitter's (a slot per tile) do. The
        // resident operand is one row-major buffer (GemmEmitter: a slot per tile), so with 64-byte ports
        // its tiles' rows take more accesses: up to 0.1 % more cycles there (3 x 40x24x36, tiles 8x16x8
        // n,m,k: 3912 against 3910), none with 1024-byte ports.
        if (port == 64 && t.inner_resident)
          CHECK(double(gc) <= 1.001 * double(hc));
        else
          CHECK(gc <= hc);
        fewer += gl < hl;
        Executor ex(gen, hw.onchip_bytes());
        ex.set_tensor(0, a);
        ex.set_tensor(1, b);
        ex.run(3);
        CHECK(ref::max_rel_error(ex.tensor(2), want) < 1e-4);
      }
      CHECK(tried > 0);
      CHECK(fewer > 0);  // B kept on chip from one instance to the next somewhere
    }
  }
}

TEST_CASE("gemm cascades: tilings needing more than 64 slots run as GemmEmitter's", "[gemm_cascade][timing][functional]") {
  // Buffers of more slots than a mapping holds inline (cascade::kInlineSlots): k in the middle over
  // many inner tiles (2 x inner C tiles), a lead block of many C tiles, resident outer panels of many
  // K tiles. On an 8x8 OS array with 64 KiB of SRAM: M = 16, K = 32, N = 320 (40 n tiles of 8: 80 C
  // slots of 8 x 8 x 4 B with k in the middle), and M = 16, K = 1024, N = 16 (128 K tiles of 8: 256 A
  // slots of 8 x 8 x 2 B with A's panels resident), and M = 32, K = 32, N = 256 (a lead block of 2 rows
  // of 32 C tiles: 66 C slots). With 64-byte SRAM ports and with 1024-byte ones: a resident inner
  // operand is one row-major buffer in the cascade mapping (its tile a strided block of it) where
  // GemmEmitter has a slot per tile, so with narrow ports its tiles take more accesses: the same bytes,
  // up to 1 % more cycles where the array waits on the banks (16x32x320 with B resident: 4826 against
  // 4814); with ports as wide as a tile's rows the cycles are the same.
  int k_middle = 0, lead = 0, panels = 0;
  for (const std::int64_t port : {64, 1024})
  for (const GemmDims d : {GemmDims{16, 32, 320}, GemmDims{16, 1024, 16}, GemmDims{32, 32, 256}}) {
    Json doc = {{"array", {{"rows", 8}, {"cols", 8}, {"dataflow", "os"}, {"clock_mhz", 1000}, {"operand_bytes", 2},
                           {"accumulator_bytes", 4}}},
                {"sram", {{"banks", 4}, {"bytes_per_bank", 16384}, {"port_bytes", port}}},
                {"dram", {{"model", "ideal"}, {"bytes_per_cycle", 64}}}};
    const HwConfig hw = parse_hw_config(doc, "hw.json");
    const ref::Mat a = ref::random_values(std::size_t(d.m * d.k), 21), b = ref::random_values(std::size_t(d.k * d.n), 22);
    const ref::Mat want = ref::matmul(a, b, d.m, d.k, d.n);
    for (const GemmTiling& t : gemm_tiling_candidates(hw, d)) {
      const std::int64_t n_inner = t.n_outer ? ceil_div(d.m, t.tm) : ceil_div(d.n, t.tn), nk = ceil_div(d.k, t.tk);
      const std::int64_t c_slots = t.k_middle ? 2 * n_inner : t.lead_block > 0 ? t.lead_block * n_inner + 2 : 2;
      const std::int64_t panel_slots = t.outer_resident ? (t.lead_block > 0 ? t.lead_block + 1 : 2) * nk : 2;
      if (std::max(c_slots, panel_slots) <= 64) continue;
      REQUIRE(gemm_cascade_translatable(t, false));
      k_middle += t.k_middle && c_slots > 64;
      lead += t.lead_block > 0 && c_slots > 64;
      panels += panel_slots > 64;
      const TileProgram hand = hand_program(hw, d, t, Epilogue::None), gen = lower_gemm_cascade(hw, d, t);
      const std::int64_t hc = timed(hw, hand), gc = timed(hw, gen);
      INFO(port << " B ports, " << d.m << "x" << d.k << "x" << d.n << " tiles " << t.tm << "x" << t.tk << "x" << t.tn << " "
               << describe_gemm_order(t) << ", " << c_slots << " C slots, " << panel_slots << " panel slots: hand "
               << hc << " cycles " << load_bytes(hand) << " B loaded, generic " << gc << " cycles " << load_bytes(gen)
               << " B loaded");
      if (gemm_cascade_loads_as_emitter(t)) {
        CHECK(load_bytes(gen) == load_bytes(hand));
        if (port == 64 && t.inner_resident)
          CHECK(std::abs(double(gc) / double(hc) - 1) <= 0.01);
        else
          CHECK(gc == hc);
      } else {
        CHECK(load_bytes(gen) < load_bytes(hand));
      }
      // Every slot of the mapping (past the inline ones too) at GemmEmitter's address for it.
      const cascade::Cascade c = gemm_cascade(Epilogue::None, d);
      const cascade::Mapping m = gemm_cascade_mapping(hw, c, t, std::uint64_t(hw.sram.total_bytes()));
      int checked = 0;
      for (const BufferInfo& bi : GemmEmitter(hw, t, 0, std::uint64_t(hw.sram.total_bytes()))
                                      .buffers("", 0, BufClass::Activation, BufClass::Weight, BufClass::Output)) {
        const int tensor = c.desc.tensor_index(bi.name.substr(0, 1)), slot = std::stoi(bi.name.substr(1));
        const cascade::TensorMapping& tm = m.tensors[std::size_t(tensor)];
        if (slot >= tm.buffers) continue;  // a resident inner operand: one slot holding all of it
        CHECK(tm.at[slot] == std::int64_t(bi.region.addr));
        ++checked;
      }
      CHECK(checked > 64);
      Executor ex(gen, hw.onchip_bytes());
      ex.set_tensor(0, a);
      ex.set_tensor(1, b);
      ex.run(3);
      CHECK(ref::max_rel_error(ex.tensor(2), want) < 1e-4);
    }
  }
  WARN("more than 64 slots: " << k_middle << " with k in the middle, " << lead << " lead blocks, " << panels
                              << " with resident panels");
  CHECK(k_middle > 0);
  CHECK(lead > 0);
  CHECK(panels > 0);
}

TEST_CASE("gemm cascades: B read transposed computes, times and loads as GemmEmitter", "[gemm_cascade][timing][functional]") {
  // B stored N x K (K for S = Q K^T): the cascade's B has ranks (n, k), each tile a tn x tk block of
  // it, the GEMM reading it transposed. Against GemmEmitter's program on the same tiling (its B slots
  // hold the same tn x tk blocks) and the double-precision reference with B transposed.
  struct Hw {
    const char* name;
    HwConfig hw;
  };
  const std::vector<Hw> hws = {{"edge", load_hw_config("edge")}, {"8x8 os acc", test_hw(8, 64, 16)},
                               {"16x16 ws", test_hw(16, 256, 0, "ws")}};
  int total = 0, equal = 0;
  for (const Hw& h : hws) {
    const HwConfig& hw = h.hw;
    const std::int64_t s = hw.array.rows;
    for (const GemmDims d : {GemmDims{3 * s + 5, 5 * s, 2 * s + 3}, GemmDims{4 * s, 2 * s, 6 * s}}) {
      const ref::Mat a = ref::random_values(std::size_t(d.m * d.k), 31), bt = ref::random_values(std::size_t(d.n * d.k), 32),
                     r = ref::random_values(std::size_t(d.m * d.n), 33);
      const ref::Mat c = ref::matmul(a, ref::transpose(bt, d.n, d.k), d.m, d.k, d.n);
      for (Epilogue e : kEpilogues) {
        const int inputs = e == Epilogue::AddResidual ? 1 : 0;
        const ref::Mat want = e == Epilogue::Gelu ? ref::gelu(c) : e == Epilogue::Relu ? ref::relu(c) : inputs ? ref::add(c, r) : c;
        for (const GemmTiling& t : gemm_tiling_candidates(hw, d, 0, inputs)) {
          REQUIRE(gemm_cascade_translatable(t, true));
          ++total;
          const TileProgram gen = lower_gemm_cascade(hw, d, t, e, true);
          TileProgram hand = gen;  // the same tensors (B N x K)
          hand.instrs.clear();
          {
            Emitter em(hand, hand.tensors);
            GemmBlocks blocks = whole_gemm_blocks(d, e);
            blocks.b = {1, 0, 0, d.n, d.k};
            blocks.b_transposed = true;
            GemmEmitter(hw, t, 0, std::uint64_t(hw.sram.total_bytes())).emit(em, blocks);
          }
          const std::int64_t hc = timed(hw, hand), gc = timed(hw, gen);
          INFO(h.name << " " << d.m << "x" << d.k << "x" << d.n << " " << gemm_cascade_stem(e) << " tiles " << t.tm << "x"
                      << t.tk << "x" << t.tn << " " << describe_gemm_order(t) << ": hand " << hc << " cycles "
                      << load_bytes(hand) << " B loaded, generic " << gc << " cycles " << load_bytes(gen) << " B loaded");
          if (gemm_cascade_loads_as_emitter(t)) {
            CHECK(load_bytes(gen) == load_bytes(hand));
            CHECK(gc == hc);
            equal += gc == hc;
          } else {
            CHECK(load_bytes(gen) < load_bytes(hand));
          }
          Executor ex(gen, hw.onchip_bytes());
          ex.set_tensor(0, a);
          ex.set_tensor(1, bt);
          if (inputs) ex.set_tensor(3, r);
          ex.run(3);
          CHECK(ref::max_rel_error(ex.tensor(2), want) < 1e-4);
        }
      }
    }
  }
  WARN(total << " tilings with B transposed: " << equal << " in GemmEmitter's cycles");
  CHECK(equal > 0);
}
