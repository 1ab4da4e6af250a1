#include "hw/array/fused_pe_core.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "common/errors.h"

namespace attnsim {

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
}  // namespace

FusedPeCore::FusedPeCore(const ArrayConfig& array, const DatapathConfig& dp)
    : R_(array.rows), C_(array.cols), E_(dp.pe_score_entries), dp_(dp), array_(array), chain_(array, dp) {
  if (!dp.admits_fused_attention())
    throw InternalError("PE-level fused attention on a datapath without in-array softmax and row units");
  std::int64_t size = 1;
  while (size < std::int64_t(R_) + C_ + 2) size *= 2;
  ring_.assign(std::size_t(size), Action{kNone, -1, 0, 0});
  ring_mask_ = size - 1;
  insts_.resize(kSlots);
  const std::size_t pes = std::size_t(R_) * std::size_t(C_);
  for (std::vector<Link>* v : {&row_cur_, &row_nxt_, &col_cur_, &col_nxt_, &ret_cur_, &ret_nxt_}) v->resize(pes);
  score_.resize(pes * std::size_t(E_));
  mreg_.resize(pes * std::size_t(E_));
  score_tile_.resize(pes * std::size_t(E_));
  mreg_tile_.resize(pes * std::size_t(E_));
  turn_.resize(std::size_t(R_));
  m_run_.resize(std::size_t(R_));
  l_run_.resize(std::size_t(R_));
  sum_in_.resize(std::size_t(R_));
  diff_.resize(std::size_t(R_) * std::size_t(E_));
  diff_tile_.resize(std::size_t(R_) * std::size_t(E_));
  in_tile_.resize(std::size_t(R_));
  arrived_.resize(std::size_t(R_));
  unit_free_.resize(std::size_t(R_));
  reset();
}

void FusedPeCore::reset() {
  chain_.reset();
  count_ = act_first_ = fin_ = 0;
  cycle_ = last_free_ = quiet_ = 0;
  std::fill(ring_.begin(), ring_.end(), Action{kNone, -1, 0, 0});
  for (std::vector<Link>* v : {&row_cur_, &row_nxt_, &col_cur_, &col_nxt_, &ret_cur_, &ret_nxt_})
    std::fill(v->begin(), v->end(), Link{0.f, -1});
  std::fill(score_tile_.begin(), score_tile_.end(), -1);
  std::fill(mreg_tile_.begin(), mreg_tile_.end(), -1);
  std::fill(turn_.begin(), turn_.end(), Link{0.f, -1});
  std::fill(diff_tile_.begin(), diff_tile_.end(), -1);
  std::fill(in_tile_.begin(), in_tile_.end(), -1);
  std::fill(arrived_.begin(), arrived_.end(), -1);
  std::fill(unit_free_.begin(), unit_free_.end(), 0);
  std::fill(l_run_.begin(), l_run_.end(), 0.f);
}

std::uint32_t FusedPeCore::enqueue(const FusedAttentionDims& dims, const FusedOperands* operands, std::int64_t ready,
                                   std::int64_t period, std::int64_t start) {
  ATTNSIM_ASSERT(ready >= cycle_, "fused instruction queued for a cycle the PE array has stepped");
  ATTNSIM_ASSERT(start < 0 || start >= cycle_, "fused instruction started at a cycle the PE array has stepped");
  ATTNSIM_ASSERT(count_ - fin_ < kSlots, "too many fused instructions in flight for the PE-level model");
  const std::uint32_t k = count_++;
  Inst& in = inst(k);
  in.seq = k;
  in.dims = dims;
  in.have_ops = operands && operands->q && operands->k && operands->v && operands->o;
  in.ops = operands ? *operands : FusedOperands{};
  if (!in.have_ops) in.ops.causal = false;
  in.tile0 = chain_.tiles();
  in.sched = chain_.next(dims, ready, period, start);
  const FusedAttentionTiming& t = in.sched.timing;
  in.key_tiles = t.key_tiles;
  in.tiles = t.query_folds * t.key_tiles;
  ATTNSIM_ASSERT(in.tile0 + in.tiles < std::numeric_limits<std::int32_t>::max(),
                 "fused attention too large for the PE-level model");
  in.last_action = in.sched.start + (in.tiles - 1) * t.tile + t.front + t.back_offset + t.back;
  in.end = 0;
  in.jobs_left = 0;
  for (std::int64_t f = 0; f < t.query_folds; ++f)
    in.jobs_left += (fold_rows(in, std::int32_t(in.tile0 + f * in.key_tiles)) + t.rows_per_unit - 1) /
                    t.rows_per_unit * in.key_tiles;
  last_free_ = in.sched.free;
  quiet_ = std::max(quiet_, in.last_action + R_ + C_);
  if (dims.d > dcap_) {  // a larger head dim: the rows' O and inputs laid out again (not per cycle)
    std::vector<float> o(std::size_t(R_ * dims.d), 0.f), oi(std::size_t(R_ * dims.d), 0.f);
    for (std::int64_t r = 0; r < R_; ++r)
      for (std::int64_t e = 0; e < dcap_; ++e) {
        o[std::size_t(r * dims.d + e)] = o_acc_[std::size_t(r * dcap_ + e)];
        oi[std::size_t(r * dims.d + e)] = o_in_[std::size_t(r * dcap_ + e)];
      }
    o_acc_.swap(o), o_in_.swap(oi);
    dcap_ = dims.d;
  }
  return k;
}

const FusedSchedule& FusedPeCore::schedule(std::uint32_t k) const {
  ATTNSIM_ASSERT(k < count_ && inst(k).seq == k, "schedule of a fused instruction not kept");
  return inst(k).sched;
}

std::int64_t FusedPeCore::done(std::uint32_t k) const {
  const Inst& in = inst(k);
  ATTNSIM_ASSERT(k < count_ && in.seq == k, "end of a fused instruction not kept");
  return in.jobs_left == 0 && cycle_ >= in.end ? in.end : -1;
}

bool FusedPeCore::idle() const { return fin_ == count_ && cycle_ >= quiet_; }

void FusedPeCore::skip_to(std::int64_t cycle) {
  ATTNSIM_ASSERT(idle(), "fused PE array skipped while busy");
  if (cycle <= cycle_) return;
  std::fill(ring_.begin(), ring_.end(), Action{kNone, -1, 0, 0});
  cycle_ = cycle;
}

int FusedPeCore::fold_rows(const Inst& in, std::int32_t tile) const {
  const std::int64_t f = (tile - in.tile0) / in.key_tiles;
  return int(std::min<std::int64_t>(R_, in.dims.m - f * R_));
}

// The controller: instruction k's tile g (global tile0 + g) has its front in [s + g P, s + g P + F), its
// back in [s + g P + F + offset, ... + B) (timing/fused_timing.h); a multi-cycle primitive acts in its first
// cycle and keeps the PE busy after. Several instructions may have actions in one cycle (the previous
// one's backs between the next one's fronts), never two at once.
FusedPeCore::Action FusedPeCore::action_at(std::int64_t c) {
  Action a{kNone, -1, 0, 0};
  for (std::uint32_t k = act_first_; k < count_; ++k) {
    const Inst& in = inst(k);
    if (c < in.sched.start) break;  // starts increase
    if (c >= in.last_action) {
      if (k == act_first_) ++act_first_;
      continue;
    }
    const FusedAttentionTiming& t = in.sched.timing;
    const std::int64_t p = t.tile, rel = c - in.sched.start;
    const std::int64_t g = rel / p;
    std::int64_t r = rel - g * p;
    if (g < in.tiles && r < t.front) {
      ATTNSIM_ASSERT(a.kind == kNone, "the controller gave a PE two primitives in one cycle");
      a.tile = std::int32_t(in.tile0 + g), a.inst = k;
      if (r < in.dims.d) {
        a.kind = kQk, a.step = std::int32_t(r);
      } else if ((r -= in.dims.d) < dp_.pe_row_scalar_mul_cycles) {
        a.kind = r == 0 ? kScale : kBusy;
      } else {
        a.kind = r == dp_.pe_row_scalar_mul_cycles ? kMax : kBusy;
      }
    }
    const std::int64_t x = rel - t.front - t.back_offset;
    if (x < 0) continue;
    const std::int64_t h = x / p;
    r = x - h * p;
    if (h >= in.tiles || r >= t.back) continue;
    ATTNSIM_ASSERT(a.kind == kNone, "the controller gave a PE two primitives in one cycle");
    a.tile = std::int32_t(in.tile0 + h), a.inst = k;
    const std::int64_t add = dp_.pe_add_cycles, ex = dp_.pe_exp_cycles;
    if (r < add)
      a.kind = r == 0 ? kSub : kBusy;
    else if ((r -= add) < ex)
      a.kind = r == 0 ? kExp : kBusy;
    else if ((r -= ex) < add)
      a.kind = r == 0 ? kSum : kBusy;
    else
      a.kind = kPv, a.step = std::int32_t(r - add);
  }
  return a;
}

// What enters row `row` at the left edge for action a: Q during Q K^T, the start of the max chain (-inf),
// of the row sum and of the P V sums (0).
float FusedPeCore::edge_row(const Inst& in, const Action& a, int row) const {
  if (a.kind == kMax) return kNegInf;
  if (a.kind != kQk || !in.have_ops) return 0.f;
  const std::int64_t q = ((a.tile - in.tile0) / in.key_tiles) * R_ + row;
  return q < in.dims.m ? in.ops.q[q * in.dims.d + a.step] : 0.f;
}

// What enters column `col` at the top: K during Q K^T, V during P V (zero beyond the last key).
float FusedPeCore::edge_col(const Inst& in, const Action& a, int col) const {
  if ((a.kind != kQk && a.kind != kPv) || !in.have_ops) return 0.f;
  const std::int64_t key = ((a.tile - in.tile0) % in.key_tiles) * C_ + col;
  if (key >= in.dims.n) return 0.f;
  return (a.kind == kQk ? in.ops.k : in.ops.v)[key * in.dims.d + a.step];
}

bool FusedPeCore::score_valid(const Inst& in, std::int32_t tile, int row, int col) const {
  const std::int64_t local = tile - in.tile0;
  const std::int64_t key = (local % in.key_tiles) * C_ + col;
  if (key >= in.dims.n) return false;
  return !in.ops.causal || key <= (local / in.key_tiles) * R_ + row + in.ops.mask_offset;
}

// Row unit input from PE(row, C-1): the tile max (the round trip's turn: the new running max goes back
// next cycle), the row sum, the P V sums; the last P V sum of the last row of a unit's block starts the
// unit's job.
void FusedPeCore::row_unit_input(int row, const Action& a, float val) {
  Inst& in = inst(a.inst);
  const std::int64_t local = a.tile - in.tile0;
  const std::size_t slot = std::size_t(row) * std::size_t(E_) + std::size_t(a.tile % E_);
  if (a.kind == kMax) {
    const float m_old = local % in.key_tiles == 0 ? kNegInf : m_run_[std::size_t(row)];
    const float m_new = std::max(m_old, val);
    if (row < fold_rows(in, a.tile)) {  // a padding row of a partial fold has no job to read it
      ATTNSIM_ASSERT(diff_tile_[slot] < 0, "a running max difference overwritten before its job read it");
      diff_[slot] = m_old == kNegInf ? kNegInf : m_old - m_new;
      diff_tile_[slot] = a.tile;
    }
    m_run_[std::size_t(row)] = m_new;
    turn_[std::size_t(row)] = Link{m_new, a.tile};
    return;
  }
  const std::int64_t d = in.dims.d;
  const int rows = fold_rows(in, a.tile), per = int(in.sched.timing.rows_per_unit), unit = row / per;
  // A unit's job starts when the sums of the last row of its block in a full fold arrive (a partial fold's
  // jobs keep the full folds' timing): row min((u + 1) r, min(m, R)) - 1.
  if (a.kind == kPv && a.step + 1 == d && unit * per < rows &&
      row == std::min<std::int64_t>((unit + 1) * per, std::min<std::int64_t>(in.dims.m, R_)) - 1) {
    if (row < rows) {
      ATTNSIM_ASSERT(in_tile_[std::size_t(row)] == a.tile, "P V sums of a tile whose row sum did not arrive");
      o_in_[std::size_t(row * dcap_ + a.step)] = val;
      arrived_[std::size_t(row)] = a.tile;
    }
    run_job(unit, in, a.tile);
    return;
  }
  if (row >= rows) return;  // padding of a partial fold: no row unit work
  if (a.kind == kSum) {
    ATTNSIM_ASSERT(in_tile_[std::size_t(row)] < 0, "a row unit's input buffer overwritten before its job took it");
    in_tile_[std::size_t(row)] = a.tile;
    sum_in_[std::size_t(row)] = val;
    return;
  }
  ATTNSIM_ASSERT(in_tile_[std::size_t(row)] == a.tile, "P V sums of a tile whose row sum did not arrive");
  o_in_[std::size_t(row * dcap_ + a.step)] = val;
  if (a.step + 1 < d) return;
  arrived_[std::size_t(row)] = a.tile;
}

// Unit `unit`'s job for `tile`: its rows' online-softmax update, and on the fold's last key tile O / l and
// the O rows out. It starts now and holds the unit for the closed form's operation count at its rate.
void FusedPeCore::run_job(int unit, Inst& in, std::int32_t tile) {
  ATTNSIM_ASSERT(unit_free_[std::size_t(unit)] <= cycle_, "a row unit still busy when its rows' sums arrived");
  const int per = int(in.sched.timing.rows_per_unit), first = unit * per, last = std::min(first + per, fold_rows(in, tile));
  const std::int64_t local = tile - in.tile0;
  const bool first_tile = local % in.key_tiles == 0, last_tile = local % in.key_tiles == in.key_tiles - 1;
  const std::size_t d = std::size_t(in.dims.d);
  for (int row = first; row < last; ++row) {
    const std::size_t r = std::size_t(row), slot = r * std::size_t(E_) + std::size_t(tile % E_);
    ATTNSIM_ASSERT(arrived_[r] == tile && in_tile_[r] == tile && diff_tile_[slot] == tile,
                   "a row unit's job before its rows' inputs arrived");
    float* o = o_acc_.data() + r * std::size_t(dcap_);
    const float* inp = o_in_.data() + r * std::size_t(dcap_);
    if (first_tile) {
      l_run_[r] = sum_in_[r];
      std::copy(inp, inp + d, o);
    } else {
      const float alpha = diff_[slot] == kNegInf ? 0.f : std::exp(diff_[slot]);
      l_run_[r] = alpha * l_run_[r] + sum_in_[r];
      for (std::size_t e = 0; e < d; ++e) o[e] = alpha * o[e] + inp[e];
    }
    in_tile_[r] = -1;
    diff_tile_[slot] = -1;
    const std::int64_t q = (local / in.key_tiles) * R_ + row;
    if (last_tile && in.have_ops)
      for (std::size_t e = 0; e < d; ++e) in.ops.o[std::size_t(q) * d + e] = o[e] / l_run_[r];
  }
  const std::int64_t rows = last - first;
  const std::int64_t busy = dp_.row_unit_tile_cycles(rows, in.dims.d) +
                            (last_tile ? dp_.row_unit_normalize_cycles(rows, in.dims.d) : 0);
  unit_free_[std::size_t(unit)] = cycle_ + busy;
  in.end = std::max(in.end, cycle_ + busy);
  --in.jobs_left;
}

bool FusedPeCore::step() {
  const std::int64_t c = cycle_;
  ring_[std::size_t(c & ring_mask_)] = action_at(c);
  const std::size_t E = std::size_t(E_), C = std::size_t(C_);
  for (int i = 0; i < R_; ++i) {
    const Link drive = turn_[std::size_t(i)];  // the unit's compare of last cycle enters the return link
    turn_[std::size_t(i)] = Link{0.f, -1};
    for (int j = 0; j < C_; ++j) {
      const std::size_t p = std::size_t(i) * C + std::size_t(j);
      // The return link: a new running max reaching this PE is kept with its tile's entry.
      const Link back = ret_cur_[p];
      if (back.tile >= 0) {
        const std::size_t s = p * E + std::size_t(back.tile % E_);
        mreg_[s] = back.val;
        mreg_tile_[s] = back.tile;
      }
      ret_nxt_[p] = j + 1 < C_ ? ret_cur_[p + 1] : drive;
      Link& rn = row_nxt_[p];
      Link& cn = col_nxt_[p];
      rn = cn = Link{0.f, -1};
      const std::int64_t rel = c - i - j;
      if (rel < 0) continue;
      const Action a = ring_[std::size_t(rel & ring_mask_)];
      if (a.kind == kNone || a.kind == kBusy) continue;
      const Inst& in = inst(a.inst);
      const Link left = j ? row_cur_[p - 1] : Link{edge_row(in, a, i), a.tile};
      const Link up = i ? col_cur_[p - C] : Link{edge_col(in, a, j), a.tile};
      const std::size_t s = p * E + std::size_t(a.tile % E_);
      switch (a.kind) {
        case kQk:
          ATTNSIM_ASSERT(left.tile == a.tile && up.tile == a.tile, "Q K^T operands out of step at a PE");
          if (a.step == 0) {
            ATTNSIM_ASSERT(score_tile_[s] < 0, "a score entry overwritten before its P V ended");
            score_tile_[s] = a.tile;
            score_[s] = 0.f;
          }
          score_[s] += left.val * up.val;
          rn = left, cn = up;
          break;
        case kScale:
          score_[s] = score_valid(in, a.tile, i, j) ? score_[s] * in.ops.scale : kNegInf;
          break;
        case kMax:
          ATTNSIM_ASSERT(left.tile == a.tile, "the row max chain out of step");
          rn = Link{std::max(left.val, score_[s]), a.tile};
          break;
        case kSub:
          ATTNSIM_ASSERT(mreg_tile_[s] == a.tile, "a PE subtracted the running max before it came back");
          score_[s] = mreg_[s] == kNegInf ? kNegInf : score_[s] - mreg_[s];
          break;
        case kExp:
          score_[s] = std::exp(score_[s]);
          break;
        case kSum:
          ATTNSIM_ASSERT(left.tile == a.tile, "the row sum chain out of step");
          rn = Link{left.val + score_[s], a.tile};
          break;
        case kPv:
          ATTNSIM_ASSERT(left.tile == a.tile && up.tile == a.tile && score_tile_[s] == a.tile,
                         "P V operands out of step at a PE");
          rn = Link{left.val + score_[s] * up.val, a.tile};
          cn = up;
          if (a.step + 1 == in.dims.d) score_tile_[s] = -1;
          break;
        default:
          break;
      }
    }
    // Row unit i reads PE(i, C-1)'s output as it stood at the start of this cycle.
    const std::int64_t rel = c - i - C_;
    if (rel < 0) continue;
    const Action a = ring_[std::size_t(rel & ring_mask_)];
    if (a.kind != kMax && a.kind != kSum && a.kind != kPv) continue;
    const Link& out = row_cur_[std::size_t(i) * C + C - 1];
    ATTNSIM_ASSERT(out.tile == a.tile, "a row unit's input out of step");
    row_unit_input(i, a, out.val);
  }
  std::swap(row_cur_, row_nxt_);
  std::swap(col_cur_, col_nxt_);
  std::swap(ret_cur_, ret_nxt_);
  ++cycle_;
  while (fin_ < count_ && inst(fin_).jobs_left == 0 && cycle_ >= inst(fin_).end) ++fin_;
  for (std::uint32_t k = fin_; k < count_; ++k)
    if (inst(k).jobs_left > 0 || cycle_ < inst(k).end) return false;
  return true;
}

}  // namespace attnsim
