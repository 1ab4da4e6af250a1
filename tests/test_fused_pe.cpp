// The PE-level execution of a GEMM FusedAttention (hw/array/fused_pe_core.h) against the independent
// attention reference (support/reference.h) on real fp32 data, hand-picked and random shapes, causal and
// not, and its cycles against the fast model's closed form (timing/fused_timing.h) on every case of a
// randomized equivalence test; a period one cycle shorter than the closed form's breaks a rule of the
// datapath (so the closed form is the least the PE-level schedule allows). Then the array models through
// IArrayModel in a SystemC child, and a whole layer through the accelerator at both fidelities.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/errors.h"
#include "hw/array/fused_pe_core.h"
#include "support/array_bench.h"
#include "support/isolated.h"
#include "support/reference.h"
#include "support/sanitized.h"
#include "timing/fused_timing.h"

using namespace attnsim;
using attnsim::test::run_isolated;

namespace {

struct Spec {
  int rows = 8, cols = 8;
  int max = 1, add = 1, mul = 1, exp = 4, entries = 2;
  int units = 8, ops = 2, unit_exp = 4;
};

ArrayConfig array_of(const Spec& s) {
  ArrayConfig a;
  a.rows = s.rows, a.cols = s.cols;
  return a;
}

DatapathConfig datapath_of(const Spec& s) {
  DatapathConfig dp;
  dp.present = true;
  dp.pe_max_cycles = s.max, dp.pe_add_cycles = s.add, dp.pe_row_scalar_mul_cycles = s.mul, dp.pe_exp_cycles = s.exp;
  dp.pe_score_entries = s.entries;
  dp.row_units = s.units, dp.row_unit_ops_per_cycle = s.ops, dp.row_unit_exp_cycles = s.unit_exp;
  return dp;
}

std::string describe(const Spec& s, std::int64_t n, std::int64_t d, bool causal, bool blocks) {
  std::ostringstream o;
  o << s.rows << "x" << s.cols << " max " << s.max << " add " << s.add << " mul " << s.mul << " exp " << s.exp
    << " entries " << s.entries << " units " << s.units << " ops " << s.ops << " unit_exp " << s.unit_exp << "; N "
    << n << " d " << d << (causal ? " causal" : "") << (blocks ? " in query blocks" : " one instruction");
  return o.str();
}

struct Outcome {
  std::string error;  // cycles or results that differ
  double rel_error = 0;
};

// One head of attention, N tokens, head dim d, on the PE-level core: one instruction over every query row
// (query folds inside it), or, like the fused lowering, one per block of `rows` queries over the keys it
// can see (causal: up to its last row, mask offset = its first row). Each instruction's cycles must be the
// closed form's; the output is compared with ref::attention.
Outcome run_attention(const Spec& s, std::int64_t n, std::int64_t d, bool causal, bool blocks, std::uint64_t seed) {
  const ref::Mat q = ref::random_values(std::size_t(n * d), seed), k = ref::random_values(std::size_t(n * d), seed + 1),
                 v = ref::random_values(std::size_t(n * d), seed + 2);
  const float scale = float(1.0 / std::sqrt(double(d)));
  ref::Mat o(std::size_t(n * d), std::nanf(""));
  const ArrayConfig a = array_of(s);
  const DatapathConfig dp = datapath_of(s);
  FusedPeCore core(a, dp);
  Outcome out;
  std::ostringstream err;
  const std::int64_t step = blocks ? s.rows : n;
  for (std::int64_t q0 = 0; q0 < n; q0 += step) {
    const std::int64_t rows = std::min(step, n - q0), keys = causal ? q0 + rows : n;
    FusedOperands ops;
    ops.q = q.data() + q0 * d, ops.k = k.data(), ops.v = v.data(), ops.o = o.data() + q0 * d;
    ops.scale = scale, ops.causal = causal, ops.mask_offset = q0;
    const FusedAttentionDims dims{rows, keys, d};
    core.begin(dims, &ops);
    std::int64_t guard = 0;
    while (!core.step())
      if (++guard > 10'000'000) throw std::runtime_error("no end");
    const FusedAttentionTiming t = fused_attention_timing(a, dp, dims);
    if (core.cycles() != t.cycles() || core.free_cycle() != t.occupancy)
      err << " block " << q0 << " (m " << rows << ", n " << keys << "): PE cycles " << core.cycles() << ", free at "
          << core.free_cycle() << "; closed form " << t.cycles() << ", occupancy " << t.occupancy << ";";
  }
  out.error = err.str();
  out.rel_error = ref::max_rel_error(o, ref::attention(q, k, v, n, d, scale, causal));
  return out;
}

// True when the core, run with the tile period `period`, breaks one of the datapath's rules.
bool breaks_rules(const Spec& s, const FusedAttentionDims& dims, std::int64_t period) {
  FusedPeCore core(array_of(s), datapath_of(s));
  core.begin(dims, nullptr, period);
  try {
    while (!core.step()) {
    }
  } catch (const InternalError&) {
    return true;
  }
  return false;
}

Spec random_spec(std::mt19937_64& rng) {
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Spec s;
  s.rows = uni(1, 12), s.cols = uni(1, 12);
  s.max = uni(1, 3), s.add = uni(1, 2), s.mul = uni(1, 2), s.exp = uni(1, 6), s.entries = uni(1, 6);
  s.units = uni(1, s.rows + 2), s.ops = uni(1, 4), s.unit_exp = uni(1, 5);
  return s;
}

}  // namespace

TEST_CASE("fused PE array: hand-picked shapes match the attention reference and the closed form",
          "[fused][fusedpe]") {
  const Spec s;  // 8 x 8, 2 entries, 8 row units at 2 operations
  for (bool causal : {false, true})
    for (bool blocks : {false, true})
      for (auto [n, d] : {std::pair<std::int64_t, std::int64_t>{8, 16}, {20, 16}, {1, 1}, {17, 5}, {33, 8}}) {
        INFO(describe(s, n, d, causal, blocks));
        const Outcome r = run_attention(s, n, d, causal, blocks, 7 + std::uint64_t(n));
        CHECK(r.error.empty());
        CHECK(r.rel_error < 1e-4);
      }
}

TEST_CASE("fused PE array: the closed form by hand, and one cycle less breaks a rule", "[fused][fusedpe]") {
  Spec s;  // 8 x 8, d = 16: F = 18, B = 22, issue 40, wait 2 x 8 + 1 - 1 = 16
  // m = 8, n = 20: 3 tiles, P = max(40, ceil(56 / 2)) = 40, tile_row = 18 + 4 + 8 + 4 = 34; offset: 16 mod 40
  // = 16 > 40 - 40, so 40. Last back at 80 + 18 + 40 = 138; row 7's last P V sum reaches its unit at
  // 138 + 7 + 8 + 22 - 1 = 174, whose job takes 34: 208 cycles; free after 3 x 40 = 120.
  const ArrayConfig a = array_of(s);
  FusedPeCore core(a, datapath_of(s));
  core.begin({8, 20, 16}, nullptr);
  while (!core.step()) {
  }
  CHECK(core.cycles() == 208);
  CHECK(core.free_cycle() == 120);
  // The PEs' pace: with period 39 a front and a back collide.
  CHECK_FALSE(breaks_rules(s, {8, 20, 16}, 40));
  CHECK(breaks_rules(s, {8, 20, 16}, 39));
  // The round trip's pace: a 4 x 64 array, 2 entries, d = 16: wait 128, P = ceil((40 + 128) / 2) = 84; with 83
  // an entry is overwritten before its back (or the max comes back too late).
  s.rows = 4, s.cols = 64, s.units = 4;
  CHECK(fused_attention_timing(array_of(s), datapath_of(s), {4, 640, 16}).tile == 84);
  CHECK_FALSE(breaks_rules(s, {4, 640, 16}, 84));
  CHECK(breaks_rules(s, {4, 640, 16}, 83));
  // One entry: issue + wait = 56 on the 8 x 8 array; 55 is too short.
  s = Spec{};
  s.entries = 1;
  CHECK(fused_attention_timing(array_of(s), datapath_of(s), {8, 40, 16}).tile == 56);
  CHECK(breaks_rules(s, {8, 40, 16}, 55));
  // The row units' pace: 2 units at 1 operation, 4 rows each: 4 x 36 + 4 x 4 + 4 x 16 + 4 x 4 = 240 per tile;
  // with two folds the first fold's last job (with O / l) still holds its unit at 239.
  s = Spec{};
  s.units = 2, s.ops = 1;
  CHECK(fused_attention_timing(array_of(s), datapath_of(s), {16, 20, 16}).tile == 240);
  CHECK_FALSE(breaks_rules(s, {16, 20, 16}, 240));
  CHECK(breaks_rules(s, {16, 20, 16}, 239));
}

TEST_CASE("fused PE array == closed form == reference, random datapaths and shapes", "[fused][fusedpe][equivalence]") {
  std::mt19937_64 rng(20261206);
  const int cases = attnsim::test::sanitized_count(300, 10);
  int tight_checked = 0;
  for (int c = 0; c < cases; ++c) {
    const Spec s = random_spec(rng);
    const std::int64_t n = std::uniform_int_distribution<std::int64_t>(1, 40)(rng);
    const std::int64_t d = std::uniform_int_distribution<std::int64_t>(1, 20)(rng);
    const bool causal = rng() % 2, blocks = rng() % 2;
    INFO("case " << c << ": " << describe(s, n, d, causal, blocks));
    const Outcome r = run_attention(s, n, d, causal, blocks, 1000 + std::uint64_t(c));
    CHECK(r.error.empty());
    CHECK(r.rel_error < 1e-4);
    // Tightness where a shorter period must break a rule: enough tiles after the first for the collision
    // (PEs), the reuse of an entry (round trip), or a fold boundary (row units).
    const FusedAttentionDims dims{n, n, d};
    const FusedAttentionTiming t = fused_attention_timing(array_of(s), datapath_of(s), dims);
    const std::int64_t tiles = t.query_folds * t.key_tiles;
    const bool row_bound = t.tile_row > t.tile_pe;
    const bool enough = row_bound ? t.query_folds >= 2 && n >= 2 * std::int64_t(s.rows) &&
                                        (std::int64_t(s.rows) + s.units - 1) / s.units == t.rows_per_unit
                                  : tiles >= s.entries + t.back_offset / t.tile + 2;
    if (enough && t.tile > 1) {
      ++tight_checked;
      CHECK_FALSE(breaks_rules(s, dims, t.tile));
      CHECK(breaks_rules(s, dims, t.tile - 1));
    }
  }
  CHECK(tight_checked > cases / 10);
}

TEST_CASE("fused attention through both array models: same occupancy, drain and time", "[fused][fusedpe]") {
  std::mt19937_64 rng(77);
  for (int c = 0; c < 4; ++c) {
    const Spec s = random_spec(rng);
    const FusedAttentionDims dims{1 + std::int64_t(rng() % 30), 1 + std::int64_t(rng() % 30), 1 + std::int64_t(rng() % 12)};
    INFO(describe(s, dims.n, dims.d, false, false) << " m " << dims.m);
    auto r = run_isolated([&]() -> std::string {
      std::ostringstream out;
      attnsim::test::run_in_sc_thread([&] {
        ArrayConfig a = array_of(s);
        for (ArrayFidelity f : {ArrayFidelity::Pe, ArrayFidelity::Fast}) {
          a.fidelity = f;
          auto model = make_array_model(a, datapath_of(s));
          wait_fs(1234567);  // not a clock edge
          const fs_t t0 = now_fs();
          const IArrayModel::FusedRun run = model->run_fused_attention(dims, nullptr);
          out << run.occupancy << " " << run.drain << " " << (now_fs() - t0 == run.occupancy * a.period_fs()) << ";";
        }
      });
      return out.str();
    });
    REQUIRE(r.exit_status == 0);
    const FusedAttentionTiming t = fused_attention_timing(array_of(s), datapath_of(s), dims);
    const std::string want = std::to_string(t.occupancy) + " " + std::to_string(t.drain) + " 1;";
    CHECK(r.output == want + want);
  }
}
