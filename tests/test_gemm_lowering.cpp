// The GEMM lowering, checked against an independent walk over the tile program: every MAC once,
// every output tile stored once, buffers inside the SRAM, dependencies backwards, traffic as estimated.
#include <catch2/catch.hpp>
#include <random>
#include <set>

#include "common/errors.h"
#include "compiler/gemm_lowering.h"

using namespace attnsim;

namespace {

HwConfig hw_with(int rows, int cols, const char* df, int banks, std::int64_t bank_bytes) {
  Json doc = {{"array", {{"rows", rows}, {"cols", cols}, {"dataflow", df}, {"clock_mhz", 1000}, {"operand_bytes", 2}}},
              {"sram", {{"banks", banks}, {"bytes_per_bank", bank_bytes}, {"port_bytes", 64}}},
              {"dram", {{"model", "ideal"}, {"bytes_per_cycle", 64}}}};
  return parse_hw_config(doc, "test");
}

}  // namespace

TEST_CASE("random GEMMs lower to programs that compute every MAC once and fit the SRAM", "[lowering]") {
  std::mt19937_64 rng(12345);
  auto pick = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  const char* dfs[] = {"os", "ws", "is"};
  for (int i = 0; i < 150; ++i) {
    const int rows = int(pick(1, 64)), cols = int(pick(1, 64));
    HwConfig hw = hw_with(rows, cols, dfs[i % 3], int(pick(2, 16)), pick(8, 64) * 1024);
    const GemmDims d{pick(1, 700), pick(1, 700), pick(1, 700)};
    INFO("case " << i << ": " << rows << "x" << cols << " " << dfs[i % 3] << " M=" << d.m << " K=" << d.k
                 << " N=" << d.n);
    TileProgram p;
    try {
      p = lower_gemm(hw, d);
    } catch (const UserError&) {
      continue;  // a case whose smallest tile does not fit is checked elsewhere
    }
    std::uint64_t macs = 0, loaded = 0, stored = 0;
    std::set<std::pair<std::uint64_t, std::uint64_t>> stored_tiles;
    std::uint64_t sram_end = 0;
    for (const Instr& in : p.instrs) {
      for (int j = 0; j < in.num_deps; ++j) REQUIRE(in.deps[j] < in.id);
      switch (in.op) {
        case Opcode::Gemm:
          macs += in.macs();
          REQUIRE(in.num_deps >= 2);  // its A and B loads at least
          for (const SramTile* t : {&in.a, &in.b, &in.c}) sram_end = std::max(sram_end, t->addr + t->extent());
          break;
        case Opcode::Load:
          loaded += in.bytes();
          sram_end = std::max(sram_end, in.sram.addr + in.sram.extent());
          break;
        case Opcode::Store:
          stored += in.bytes();
          REQUIRE(stored_tiles.insert({in.dram_addr, in.rows}).second);  // each output tile once
          break;
        default:
          break;
      }
    }
    CHECK(macs == std::uint64_t(d.m * d.k * d.n));
    CHECK(stored == std::uint64_t(d.m * d.n * 2));
    CHECK(sram_end <= std::uint64_t(hw.sram.total_bytes()));
    const GemmTiling t = choose_gemm_tiling(hw, d);
    CHECK(loaded + stored == t.est_dram_bytes);
    CHECK(loaded >= std::uint64_t((d.m * d.k + d.k * d.n) * 2));  // every input at least once
  }
}

TEST_CASE("tiles keep the array's fold structure", "[lowering]") {
  // On a 32x32 OS array, M is folded over rows and N over cols: tiles of M and N are multiples of 32
  // (or the whole dimension), so no fold is split between two tiles.
  HwConfig hw = hw_with(32, 32, "os", 4, 16384);
  GemmTiling t = choose_gemm_tiling(hw, {1000, 300, 1000});
  CHECK((t.tm % 32 == 0 || t.tm == 1000));
  CHECK((t.tn % 32 == 0 || t.tn == 1000));
}

TEST_CASE("a whole-K panel is loaded once", "[lowering]") {
  // 16 MiB of SRAM holds everything. One tile: A and B loaded once, C stored once; so is a
  // 128-row A panel with the whole K and the whole N (A panel per m tile, B once):
  // traffic = (M K + K N + M N) * 2 bytes = 458752 B.
  HwConfig hw = hw_with(32, 32, "ws", 16, 1 << 20);
  const GemmDims d{256, 128, 512};
  int found = 0;
  for (const GemmTiling& t : gemm_tiling_candidates(hw, d))
    if (t.tk == 128 && t.tn == 512 && (t.tm == 256 || t.tm == 128)) {
      INFO("tiles " << t.tm << "x" << t.tk << "x" << t.tn << (t.n_outer ? " n-outer" : " m-outer"));
      CHECK(t.est_dram_bytes == std::uint64_t((256 * 128 + 128 * 512 + 256 * 512) * 2));
      ++found;
    }
  CHECK(found == 4);  // two tile sizes, two loop orders
}
