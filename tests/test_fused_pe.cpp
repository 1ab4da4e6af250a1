// The PE-level execution of a GEMM FusedAttention (hw/array/fused_pe_core.h) against the independent
// attention reference (support/reference.h) on real fp32 data, hand-picked and random shapes, causal and
// not, and its cycles against the fast model's closed form (timing/fused_timing.h) on every case of a
// randomized equivalence test; a period one cycle shorter than the closed form's breaks a rule of the
// datapath (so the closed form is the least the PE-level schedule allows). Then sequences of 2 to 6
// instructions back to back on one datapath (FusedChain): a pair by hand, and random sequences (shapes,
// head dims, causal or not, ready cycles, datapaths) where every instruction's end at PE level equals the
// fast model's, the outputs match the reference, and every start a hazard moved breaks a rule one cycle
// earlier. Then the array models through IArrayModel in a SystemC child, a sequence at both fidelities.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <map>
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

namespace {

// A sequence of fused instructions back to back: each one query block of its own head (N tokens, head dim d,
// causal or not; rows [q0, q0 + m) against the keys they see), its dependencies met at cycle `ready`.
struct SeqInstr {
  std::int64_t n = 0, d = 0, q0 = 0, m = 0, ready = 0;
  bool causal = false;
  std::uint64_t seed = 0;
  std::int64_t keys() const { return causal ? q0 + m : n; }
};

struct SeqOutcome {
  std::vector<FusedSchedule> fast;              // the fast model's chain
  std::vector<std::int64_t> pe_start, pe_done;  // the PE-level model's
  double rel_error = 0;                         // worst over the instructions, against ref::attention
  bool broke = false;                           // the PE-level model broke a rule (InternalError)
  std::string rule;                             // which
};

// The PE-level core runs the whole sequence (queued at once, each with its ready cycle; instruction `probe`
// forced to start at `probe_start`, the sequence cut after it); the fast model's FusedChain places the same.
SeqOutcome run_sequence(const Spec& s, const std::vector<SeqInstr>& seq, std::size_t probe = SIZE_MAX,
                        std::int64_t probe_start = -1) {
  const ArrayConfig a = array_of(s);
  const DatapathConfig dp = datapath_of(s);
  SeqOutcome out;
  const std::size_t count = std::min(seq.size(), probe == SIZE_MAX ? seq.size() : probe + 1);
  std::vector<ref::Mat> q(count), k(count), v(count), o(count);
  FusedChain chain(a, dp);
  FusedPeCore core(a, dp);
  try {
    for (std::size_t i = 0; i < count; ++i) {
      const SeqInstr& in = seq[i];
      q[i] = ref::random_values(std::size_t(in.n * in.d), in.seed);
      k[i] = ref::random_values(std::size_t(in.n * in.d), in.seed + 1);
      v[i] = ref::random_values(std::size_t(in.n * in.d), in.seed + 2);
      o[i].assign(std::size_t(in.m * in.d), std::nanf(""));
      FusedOperands ops;
      ops.q = q[i].data() + in.q0 * in.d, ops.k = k[i].data(), ops.v = v[i].data(), ops.o = o[i].data();
      ops.scale = float(1.0 / std::sqrt(double(in.d))), ops.causal = in.causal, ops.mask_offset = in.q0;
      const FusedAttentionDims dims{in.m, in.keys(), in.d};
      const std::int64_t forced = i == probe ? probe_start : -1;
      out.fast.push_back(chain.next(dims, in.ready, 0, forced));
      core.enqueue(dims, &ops, in.ready, 0, forced);
    }
    std::int64_t guard = 0;
    while (!core.step())
      if (++guard > 10'000'000) throw std::runtime_error("no end");
  } catch (const InternalError& e) {
    out.broke = true;
    out.rule = e.what();
    return out;
  }
  for (std::size_t i = 0; i < count; ++i) {
    const SeqInstr& in = seq[i];
    out.pe_start.push_back(core.schedule(std::uint32_t(i)).start);
    out.pe_done.push_back(core.done(std::uint32_t(i)));
    const ref::Mat want = ref::attention(q[i], k[i], v[i], in.n, in.d, 1.0 / std::sqrt(double(in.d)), in.causal);
    const ref::Mat rows(want.begin() + in.q0 * in.d, want.begin() + (in.q0 + in.m) * in.d);
    out.rel_error = std::max(out.rel_error, ref::max_rel_error(o[i], rows));
  }
  return out;
}

std::string describe(const Spec& s, const std::vector<SeqInstr>& seq) {
  std::ostringstream o;
  o << describe(s, 0, 0, false, false) << "; sequence:";
  for (const SeqInstr& in : seq)
    o << " [N " << in.n << " d " << in.d << " rows " << in.q0 << "+" << in.m << " keys " << in.keys()
      << (in.causal ? " causal" : "") << " ready " << in.ready << "]";
  return o.str();
}

std::vector<SeqInstr> random_sequence(std::mt19937_64& rng, std::uint64_t seed) {
  auto uni = [&](std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng); };
  const int count = int(uni(2, 6));
  const bool same = rng() % 3 == 0, same_d = rng() % 3 != 0;  // consecutive equal blocks; one head dim
  std::vector<SeqInstr> seq;
  SeqInstr first;
  for (int i = 0; i < count; ++i) {
    SeqInstr in;
    in.n = uni(1, 40);
    in.d = same_d && i ? seq[0].d : uni(1, 20);
    in.m = uni(1, in.n);
    in.q0 = uni(0, in.n - in.m);
    in.causal = rng() % 2;
    if (same && i) in = seq[0];
    in.seed = seed + 10 * std::uint64_t(i);
    in.ready = rng() % 4 == 0 ? uni(0, 400) : 0;  // mostly as soon as the array takes it
    seq.push_back(in);
  }
  return seq;
}

}  // namespace

TEST_CASE("fused PE array: two instructions back to back, by hand", "[fused][fusedpe]") {
  // The 8 x 8 array of the hand case above (d = 16, 2 entries, 8 row units at 2 operations, exp 4): F = 18,
  // B = 22, wait 16, P = 40, offset 40 (16 mod 40 = 16 > 40 - 40 = 0), tile_row(1 row) = 18 + 4 + 8 + 4 = 34.
  // A = (m 8, n 20): 3 tiles (global 0..2), fronts at 0, 40, 80, backs at 58, 98, 138; free at 120.
  // B = (m 8, n 8) ready at 0: s >= 120. (a) A's last back [138, 160) against B's front [120, 138) and back
  // [178, 200): clear. (b) B's tile (global 3) uses entry 1, last held by A's tile 1 to 98 + 22 = 120 <= 120.
  // (c) unit u's last A job starts at 138 + 22 - 1 + 8 + u = 167 + u for 34 cycles, to 201 + u; B's starts
  // at 120 + 18 + 40 + 21 + 8 + u = 207 + u. (d) row i's buffer taken at 167 + i; B's row sum arrives at
  // 120 + 18 + 40 + 1 + 4 + 8 + i = 191 + i. (e) row i's difference of entry 1 read at A's tile 1's job,
  // 127 + i; B's row max reaches the unit at 120 + 16 + 1 + 8 + i = 145 + i. So B starts at 120, free at
  // 160, and its O has left when its unit 7's job ends: 207 + 7 + 34 = 248 (A's at 208, as alone); the
  // pair takes 248 = 3 x 40 + 1 x 40 + B's drain 88 (= 18 + 40 + 8 + 22 - 1 - 40 + 7 + 34).
  // With 2 row units at 1 operation instead, A has 4 rows a unit: tile_row(4) = 4 x 36 + 4 x 4 = 160, O / l
  // 4 x 16 + 4 x 4 = 80, P = 240, offset 16 (16 <= 240 - 40); backs at 240 g + 34; unit u's job of tile g
  // starts when row L(u) = 4 u + 3 has its sums, 240 g + 34 + 22 - 1 + 8 + 4 u + 3 = 240 g + 66 + 4 u, the
  // last (g = 2, with O / l, 240 cycles) ends at 786 + 4 u; free at 720. B' = (m 3, n 8), a short last
  // block: 2 rows a unit (tile_row(2) = 80, O / l 40, P' = 120, offset 16), its first job on unit u when row
  // L'(u) = min(2 u + 2, 3) - 1 has its sums: s + 34 + 29 + L'(u) = s + 64 (unit 0), s + 65 (unit 1), which
  // (c) puts at or after 786 and 790: s = 725, not 720 (at 724 unit 1 is still busy when row 2's sums
  // arrive). (d) rows 0-2's buffers were taken at 546, their new sums arrive at s + 47 + i; (e) entry 1 was
  // read at 306 + 4 u, B's maxima arrive at s + 25 + i; (b) entry 1 was free at 296; (a) A's last back ended
  // at 536. B' ends with unit 0's job (2 rows, 120 cycles) at 725 + 64 + 120 = 909 (unit 1: 1 row, 60, 850).
  Spec s;
  FusedChain chain(array_of(s), datapath_of(s));
  const FusedSchedule a = chain.next({8, 20, 16}, 0), b = chain.next({8, 8, 16}, 0);
  CHECK(a.start == 0);
  CHECK(a.done == 208);
  CHECK(b.start == 120);
  CHECK(b.free == 160);
  CHECK(b.done == 248);
  std::vector<SeqInstr> seq(2);
  seq[0] = {20, 16, 0, 8, 0, false, 5};
  seq[1] = {8, 16, 0, 8, 0, false, 9};
  SeqOutcome r = run_sequence(s, seq);
  REQUIRE_FALSE(r.broke);
  CHECK(r.pe_done == std::vector<std::int64_t>{208, 248});
  CHECK(r.rel_error < 1e-4);
  s.units = 2, s.ops = 1;
  seq[1] = {8, 16, 0, 3, 0, false, 9};
  FusedChain chain2(array_of(s), datapath_of(s));
  const FusedSchedule a2 = chain2.next({8, 20, 16}, 0), b2 = chain2.next({3, 8, 16}, 0);
  CHECK(a2.free == 720);
  CHECK(b2.start == 725);
  CHECK(b2.done == 909);
  r = run_sequence(s, seq);
  REQUIRE_FALSE(r.broke);
  CHECK(r.pe_start == std::vector<std::int64_t>{0, 725});
  CHECK(r.pe_done[1] == 909);
  CHECK(r.rel_error < 1e-4);
  CHECK(run_sequence(s, seq, 1, 724).broke);
}

TEST_CASE("fused PE array == fast model's chain == reference, random instruction sequences",
          "[fused][fusedpe][equivalence]") {
  std::mt19937_64 rng(20261207);
  const int cases = attnsim::test::sanitized_count(300, 10);
  int delayed = 0, equal_runs = 0, old_breaks = 0;
  std::map<std::string, int> rules;  // the rule one cycle earlier breaks, and how often
  for (int c = 0; c < cases; ++c) {
    const Spec s = random_spec(rng);
    const std::vector<SeqInstr> seq = random_sequence(rng, 5000 + 100 * std::uint64_t(c));
    INFO("case " << c << ": " << describe(s, seq));
    const SeqOutcome r = run_sequence(s, seq);
    REQUIRE_FALSE(r.broke);
    CHECK(r.rel_error < 1e-4);
    std::int64_t fast_total = 0, pe_total = 0, prev_free = 0;
    for (std::size_t i = 0; i < seq.size(); ++i) {
      INFO("instruction " << i);
      CHECK(r.pe_start[i] == r.fast[i].start);
      CHECK(r.pe_done[i] == r.fast[i].done);
      fast_total = std::max(fast_total, r.fast[i].done), pe_total = std::max(pe_total, r.pe_done[i]);
      // A start later than both its ready cycle and the end of the previous occupancy is a hazard's: one
      // cycle earlier must break a rule at PE level.
      const std::int64_t bound = std::max(seq[i].ready, prev_free);
      if (r.fast[i].start > bound) {
        ++delayed;
        const SeqOutcome early = run_sequence(s, seq, i, r.fast[i].start - 1);
        CHECK(early.broke);
        ++rules[early.rule];
        // Starting it at the end of the previous occupancy (the chain before hazards were modelled) breaks
        // one too, mostly.
        old_breaks += run_sequence(s, seq, i, bound).broke;
      }
      prev_free = r.fast[i].free;
    }
    CHECK(fast_total == pe_total);
    // Equal instructions back to back, as soon as possible: no hazard, occupancies plus the last drain.
    bool equal = seq[0].ready == 0;
    for (const SeqInstr& in : seq) equal = equal && in.ready == 0 && in.m == seq[0].m && in.keys() == seq[0].keys() && in.d == seq[0].d;
    if (equal) {
      ++equal_runs;
      const FusedAttentionTiming t = fused_attention_timing(array_of(s), datapath_of(s), {seq[0].m, seq[0].keys(), seq[0].d});
      CHECK(pe_total == std::int64_t(seq.size()) * t.occupancy + t.drain);
    }
  }
  CHECK(delayed > 0);
  CHECK(old_breaks > 0);
  if (cases >= 100) CHECK(equal_runs > 0);
  WARN("instructions delayed by a hazard: " << delayed << " (" << old_breaks
       << " break a rule at the end of the previous occupancy); sequences of equal instructions: " << equal_runs);
  for (const auto& [rule, n] : rules) WARN(n << " x one cycle earlier: " << rule);
}

TEST_CASE("fused attention through both array models: the same starts, occupancies and ends of a sequence",
          "[fused][fusedpe]") {
  std::mt19937_64 rng(77);
  for (int c = 0; c < 4; ++c) {
    const Spec s = random_spec(rng);
    std::vector<FusedAttentionDims> dims;
    for (int i = 0; i < 3; ++i)
      dims.push_back({1 + std::int64_t(rng() % 30), 1 + std::int64_t(rng() % 30), 1 + std::int64_t(rng() % 12)});
    const std::int64_t gap = std::int64_t(rng() % 50);  // the second one's dependencies met later
    INFO(describe(s, 0, 0, false, false) << "; gap " << gap);
    auto r = run_isolated([&]() -> std::string {
      std::ostringstream out;
      attnsim::test::run_in_sc_thread([&] {
        ArrayConfig a = array_of(s);
        for (ArrayFidelity f : {ArrayFidelity::Pe, ArrayFidelity::Fast}) {
          a.fidelity = f;
          auto model = make_array_model(a, datapath_of(s));
          wait_fs(1234567);  // not a clock edge
          const fs_t t0 = now_fs(), p = a.period_fs();
          std::vector<fs_t> ends;
          sc_core::sc_event issued;
          int pending = 0;
          sc_core::sc_spawn([&] {  // the retire side: ends in order
            for (int i = 0; i < 3; ++i) {
              while (pending == 0) sc_core::wait(issued);
              model->end_fused();
              --pending;
              ends.push_back(now_fs());
            }
          });
          for (int i = 0; i < 3; ++i) {
            if (i == 1) wait_fs(gap * p);
            const IArrayModel::FusedRun run = model->run_fused_attention(dims[std::size_t(i)], nullptr);
            ++pending;
            issued.notify(sc_core::SC_ZERO_TIME);
            out << (run.start_fs - t0) / p << " " << run.occupancy << " " << (now_fs() - t0) / p << ";";
          }
          while (ends.size() < 3) wait_fs(p);
          for (const fs_t e : ends) out << " " << (e - t0) / p;
          out << "|";
        }
      });
      return out.str();
    });
    REQUIRE(r.exit_status == 0);
    // The closed form's chain: the first at 0, the second ready after its occupancy plus the gap.
    FusedChain chain(array_of(s), datapath_of(s));
    std::ostringstream want;
    std::vector<FusedSchedule> sc;
    std::int64_t now = 0;
    for (int i = 0; i < 3; ++i) {
      if (i == 1) now += gap;
      sc.push_back(chain.next(dims[std::size_t(i)], now));
      now = sc.back().free;
      want << sc.back().start << " " << sc.back().timing.occupancy << " " << sc.back().free << ";";
    }
    std::int64_t done = 0;
    for (const FusedSchedule& x : sc) want << " " << (done = std::max(done, x.done));
    want << "|";
    CHECK(r.output == want.str() + want.str());
  }
}
