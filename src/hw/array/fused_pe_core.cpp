#include "hw/array/fused_pe_core.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/errors.h"

namespace attnsim {

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
}  // namespace

FusedPeCore::FusedPeCore(const ArrayConfig& array, const DatapathConfig& dp)
    : R_(array.rows), C_(array.cols), E_(dp.pe_score_entries), dp_(dp), array_(array) {
  if (!dp.admits_fused_attention())
    throw InternalError("PE-level fused attention on a datapath without in-array softmax and row units");
  std::int64_t size = 1;
  while (size < std::int64_t(R_) + C_ + 2) size *= 2;
  ring_.assign(std::size_t(size), Action{kNone, -1, 0});
  ring_mask_ = size - 1;
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
}

void FusedPeCore::begin(const FusedAttentionDims& dims, const FusedOperands* operands, std::int64_t period) {
  d_ = dims;
  t_ = fused_attention_timing(array_, dp_, dims, period);
  have_ops_ = operands && operands->q && operands->k && operands->v && operands->o;
  ops_ = operands ? *operands : FusedOperands{};
  if (!have_ops_) ops_.causal = false;
  key_tiles_ = t_.key_tiles;
  tiles_ = t_.query_folds * t_.key_tiles;
  ATTNSIM_ASSERT(tiles_ < std::numeric_limits<std::int32_t>::max(), "fused attention too large for the PE-level model");
  cycle_ = 0, end_ = 0;
  free_cycle_ = tiles_ * t_.tile;
  jobs_left_ = 0;
  for (std::int64_t f = 0; f < t_.query_folds; ++f)
    jobs_left_ += (fold_rows(std::int32_t(f * key_tiles_)) + t_.rows_per_unit - 1) / t_.rows_per_unit * key_tiles_;
  std::fill(ring_.begin(), ring_.end(), Action{kNone, -1, 0});
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
  o_acc_.assign(std::size_t(R_ * dims.d), 0.f);  // per instruction, not per cycle
  o_in_.assign(std::size_t(R_ * dims.d), 0.f);
}

int FusedPeCore::fold_rows(std::int32_t tile) const {
  const std::int64_t f = tile / key_tiles_;
  return int(std::min<std::int64_t>(R_, d_.m - f * R_));
}

// The controller: tile g's front in [g P, g P + F), its back in [g P + F + offset, ... + B)
// (timing/fused_timing.h); a multi-cycle primitive acts in its first cycle and keeps the PE busy after.
FusedPeCore::Action FusedPeCore::action_at(std::int64_t c) const {
  Action a{kNone, -1, 0};
  const std::int64_t p = t_.tile;
  const std::int64_t g = c / p;
  std::int64_t r = c - g * p;
  if (g < tiles_ && r < t_.front) {
    a.tile = std::int32_t(g);
    if (r < d_.d) {
      a.kind = kQk, a.step = std::int32_t(r);
    } else if ((r -= d_.d) < dp_.pe_row_scalar_mul_cycles) {
      a.kind = r == 0 ? kScale : kBusy;
    } else {
      a.kind = r == dp_.pe_row_scalar_mul_cycles ? kMax : kBusy;
    }
  }
  const std::int64_t x = c - t_.front - t_.back_offset;
  if (x < 0) return a;
  const std::int64_t h = x / p;
  r = x - h * p;
  if (h >= tiles_ || r >= t_.back) return a;
  ATTNSIM_ASSERT(a.kind == kNone, "the controller gave a PE a front and a back in one cycle");
  a.tile = std::int32_t(h);
  const std::int64_t add = dp_.pe_add_cycles, ex = dp_.pe_exp_cycles;
  if (r < add)
    a.kind = r == 0 ? kSub : kBusy;
  else if ((r -= add) < ex)
    a.kind = r == 0 ? kExp : kBusy;
  else if ((r -= ex) < add)
    a.kind = r == 0 ? kSum : kBusy;
  else
    a.kind = kPv, a.step = std::int32_t(r - add);
  return a;
}

// What enters row `row` at the left edge for action a: Q during Q K^T, the start of the max chain (-inf),
// of the row sum and of the P V sums (0).
float FusedPeCore::edge_row(const Action& a, int row) const {
  if (a.kind == kMax) return kNegInf;
  if (a.kind != kQk || !have_ops_) return 0.f;
  const std::int64_t q = (a.tile / key_tiles_) * R_ + row;
  return q < d_.m ? ops_.q[q * d_.d + a.step] : 0.f;
}

// What enters column `col` at the top: K during Q K^T, V during P V (zero beyond the last key).
float FusedPeCore::edge_col(const Action& a, int col) const {
  if ((a.kind != kQk && a.kind != kPv) || !have_ops_) return 0.f;
  const std::int64_t key = (a.tile % key_tiles_) * C_ + col;
  if (key >= d_.n) return 0.f;
  return (a.kind == kQk ? ops_.k : ops_.v)[key * d_.d + a.step];
}

bool FusedPeCore::score_valid(std::int32_t tile, int row, int col) const {
  const std::int64_t key = (tile % key_tiles_) * C_ + col;
  if (key >= d_.n) return false;
  return !ops_.causal || key <= (tile / key_tiles_) * R_ + row + ops_.mask_offset;
}

// Row unit input from PE(row, C-1): the tile max (the round trip's turn: the new running max goes back
// next cycle), the row sum, the P V sums; the last P V sum of the last row of a unit's block starts the
// unit's job.
void FusedPeCore::row_unit_input(int row, const Action& a, float val) {
  const std::size_t slot = std::size_t(row) * std::size_t(E_) + std::size_t(a.tile % E_);
  if (a.kind == kMax) {
    const float m_old = a.tile % key_tiles_ == 0 ? kNegInf : m_run_[std::size_t(row)];
    const float m_new = std::max(m_old, val);
    diff_[slot] = m_old == kNegInf ? kNegInf : m_old - m_new;
    diff_tile_[slot] = a.tile;
    m_run_[std::size_t(row)] = m_new;
    turn_[std::size_t(row)] = Link{m_new, a.tile};
    return;
  }
  const int rows = fold_rows(a.tile), per = int(t_.rows_per_unit), unit = row / per;
  // A unit's job starts when the sums of the last row of its block in a full fold arrive (a partial fold's
  // jobs keep the full folds' timing): row min((u + 1) r, min(m, R)) - 1.
  if (a.kind == kPv && a.step + 1 == d_.d && unit * per < rows &&
      row == std::min<std::int64_t>((unit + 1) * per, std::min<std::int64_t>(d_.m, R_)) - 1) {
    if (row < rows) {
      ATTNSIM_ASSERT(in_tile_[std::size_t(row)] == a.tile, "P V sums of a tile whose row sum did not arrive");
      o_in_[std::size_t(row) * std::size_t(d_.d) + std::size_t(a.step)] = val;
      arrived_[std::size_t(row)] = a.tile;
    }
    run_job(unit, a.tile);
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
  o_in_[std::size_t(row) * std::size_t(d_.d) + std::size_t(a.step)] = val;
  if (a.step + 1 < d_.d) return;
  arrived_[std::size_t(row)] = a.tile;
}

// Unit `unit`'s job for `tile`: its rows' online-softmax update, and on the fold's last key tile O / l and
// the O rows out. It starts now and holds the unit for the closed form's operation count at its rate.
void FusedPeCore::run_job(int unit, std::int32_t tile) {
  ATTNSIM_ASSERT(unit_free_[std::size_t(unit)] <= cycle_, "a row unit still busy when its rows' sums arrived");
  const int per = int(t_.rows_per_unit), first = unit * per, last = std::min(first + per, fold_rows(tile));
  const bool first_tile = tile % key_tiles_ == 0, last_tile = tile % key_tiles_ == key_tiles_ - 1;
  const std::size_t d = std::size_t(d_.d);
  for (int row = first; row < last; ++row) {
    const std::size_t r = std::size_t(row), slot = r * std::size_t(E_) + std::size_t(tile % E_);
    ATTNSIM_ASSERT(arrived_[r] == tile && in_tile_[r] == tile && diff_tile_[slot] == tile,
                   "a row unit's job before its rows' inputs arrived");
    float* o = o_acc_.data() + r * d;
    const float* in = o_in_.data() + r * d;
    if (first_tile) {
      l_run_[r] = sum_in_[r];
      std::copy(in, in + d, o);
    } else {
      const float alpha = diff_[slot] == kNegInf ? 0.f : std::exp(diff_[slot]);
      l_run_[r] = alpha * l_run_[r] + sum_in_[r];
      for (std::size_t e = 0; e < d; ++e) o[e] = alpha * o[e] + in[e];
    }
    in_tile_[r] = -1;
    const std::int64_t q = (tile / key_tiles_) * R_ + row;
    if (last_tile && have_ops_)
      for (std::size_t e = 0; e < d; ++e) ops_.o[std::size_t(q) * d + e] = o[e] / l_run_[r];
  }
  const std::int64_t rows = last - first;
  const std::int64_t busy =
      dp_.row_unit_tile_cycles(rows, d_.d) + (last_tile ? dp_.row_unit_normalize_cycles(rows, d_.d) : 0);
  unit_free_[std::size_t(unit)] = cycle_ + busy;
  end_ = std::max(end_, cycle_ + busy);
  --jobs_left_;
}

bool FusedPeCore::step() {
  ATTNSIM_ASSERT(jobs_left_ > 0 || cycle_ < end_, "fused PE array stepped after its instruction ended");
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
      const Link left = j ? row_cur_[p - 1] : Link{edge_row(a, i), a.tile};
      const Link up = i ? col_cur_[p - C] : Link{edge_col(a, j), a.tile};
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
          score_[s] = score_valid(a.tile, i, j) ? score_[s] * ops_.scale : kNegInf;
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
          if (a.step + 1 == d_.d) score_tile_[s] = -1;
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
  return jobs_left_ == 0 && cycle_ >= end_;
}

}  // namespace attnsim
