#include "timing/fused_timing.h"

#include <algorithm>
#include <string>

#include "common/errors.h"

namespace attnsim {

namespace {
std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
}  // namespace

FusedAttentionTiming fused_attention_timing(const ArrayConfig& array, const DatapathConfig& dp,
                                            const FusedAttentionDims& dims, std::int64_t period) {
  if (!dp.admits_fused_attention())
    throw InternalError("fused attention timed on a datapath without in-array softmax and row units");
  if (dims.m <= 0 || dims.n <= 0 || dims.d <= 0)
    throw InternalError("fused attention with an empty shape: m " + std::to_string(dims.m) + ", n " +
                        std::to_string(dims.n) + ", d " + std::to_string(dims.d));
  const std::int64_t r = array.rows, c = array.cols, d = dims.d;
  FusedAttentionTiming t;
  t.front = d + dp.pe_row_scalar_mul_cycles + dp.pe_max_cycles;
  t.back = 2 * std::int64_t(dp.pe_add_cycles) + dp.pe_exp_cycles + d;
  t.wait = dp.pe_round_trip_wait(c);
  t.tile_pe = dp.pe_tile_cycles(c, d);
  t.rows_per_unit = ceil_div(std::min(dims.m, r), dp.row_units);
  auto job = [&](std::int64_t rows) { return dp.row_unit_tile_cycles(rows, d) + dp.row_unit_normalize_cycles(rows, d); };
  t.tile_row = job(t.rows_per_unit);
  t.tile = period > 0 ? period : std::max(t.tile_pe, t.tile_row);
  const std::int64_t p = t.tile, issue = t.front + t.back;
  t.back_offset = t.wait % p <= p - issue ? t.wait : ceil_div(t.wait, p) * p;
  t.query_folds = ceil_div(dims.m, r);
  t.key_tiles = ceil_div(dims.n, c);
  t.occupancy = t.query_folds * t.key_tiles * p;
  // The last fold's valid rows; the unit holding the last of them and the one before it. A unit's job
  // starts with the sums of the last row of its block in a full fold.
  const std::int64_t rows = dims.m - (t.query_folds - 1) * r, per = t.rows_per_unit;
  const std::int64_t last_unit = (rows - 1) / per;
  std::int64_t unit_end = std::min((last_unit + 1) * per, std::min(dims.m, r)) - 1 + job(rows - last_unit * per);
  if (last_unit > 0) unit_end = std::max(unit_end, last_unit * per - 1 + job(per));
  t.drain = t.front + t.back_offset + c + t.back - 1 - p + unit_end;
  return t;
}

FusedAttentionActions fused_attention_actions(const ArrayConfig& array, const FusedAttentionDims& dims) {
  const std::uint64_t m = std::uint64_t(dims.m), n = std::uint64_t(dims.n), d = std::uint64_t(dims.d);
  const std::uint64_t scores = m * n, rows_tiles = m * std::uint64_t(ceil_div(dims.n, array.cols));
  FusedAttentionActions a;
  auto at = [](std::array<std::uint64_t, kVecPrimCount>& v, VecPrim p) -> std::uint64_t& { return v[std::size_t(p)]; };
  at(a.pe, VecPrim::Add) = 2 * scores;
  at(a.pe, VecPrim::Mul) = scores;
  at(a.pe, VecPrim::Max) = scores;
  at(a.pe, VecPrim::Exp) = scores;
  at(a.row_unit, VecPrim::Add) = rows_tiles * (d + 2);
  at(a.row_unit, VecPrim::Mul) = rows_tiles * (d + 1) + m * d;
  at(a.row_unit, VecPrim::Max) = rows_tiles;
  at(a.row_unit, VecPrim::Exp) = rows_tiles;
  at(a.row_unit, VecPrim::Reciprocal) = m;
  return a;
}

}  // namespace attnsim

namespace attnsim {

FusedChain::FusedChain(const ArrayConfig& array, const DatapathConfig& dp)
    : array_(array), dp_(dp), R_(array.rows), C_(array.cols), E_(dp.pe_score_entries) {
  back_start_.resize(std::size_t(E_));
  back_end_.resize(std::size_t(E_));
  unit_free_.resize(std::size_t(std::max<std::int64_t>(dp.row_units, 1)));
  buf_taken_.resize(std::size_t(R_));
  diff_read_.resize(std::size_t(R_ * E_));
  reset();
}

void FusedChain::reset() {
  tiles_ = 0, free_ = 0;
  std::fill(back_start_.begin(), back_start_.end(), kNever);
  std::fill(back_end_.begin(), back_end_.end(), kNever);
  std::fill(unit_free_.begin(), unit_free_.end(), kNever);
  std::fill(buf_taken_.begin(), buf_taken_.end(), kNever);
  std::fill(diff_read_.begin(), diff_read_.end(), kNever);
}

namespace {
// One instruction's tiles relative to its start (timing/fused_timing.h, the binding).
struct Shape {
  std::int64_t p, f, off, b, r, full, folds, keys, tiles, lastfold;
  std::int64_t last_rows(std::int64_t fold) const { return fold + 1 < folds ? full : lastfold; }
  // The row whose P V sums start unit u's job (a partial fold keeps the full folds' timing).
  std::int64_t trigger(std::int64_t u) const { return std::min((u + 1) * r, full) - 1; }
  std::int64_t units(std::int64_t fold) const { return ceil_div(last_rows(fold), r); }
  std::int64_t back(std::int64_t g) const { return g * p + f + off; }
  std::int64_t job(std::int64_t g, std::int64_t u, std::int64_t c) const { return back(g) + b - 1 + c + trigger(u); }
};

Shape shape_of(std::int64_t rows, const FusedAttentionDims& dims, const FusedAttentionTiming& t) {
  Shape s{};
  s.p = t.tile, s.f = t.front, s.off = t.back_offset, s.b = t.back, s.r = t.rows_per_unit;
  s.full = std::min(dims.m, rows);
  s.folds = t.query_folds, s.keys = t.key_tiles, s.tiles = t.query_folds * t.key_tiles;
  s.lastfold = dims.m - (t.query_folds - 1) * rows;
  return s;
}
}  // namespace

std::int64_t FusedChain::earliest(const FusedAttentionDims& dims, const FusedAttentionTiming& t,
                                  std::int64_t from) const {
  const Shape sh = shape_of(R_, dims, t);
  const std::int64_t sum_at = sh.f + sh.off + dp_.pe_add_cycles + dp_.pe_exp_cycles + C_;  // + i: row i's sum
  const std::int64_t max_at = dims.d + dp_.pe_row_scalar_mul_cycles + C_;                 // + g P + i
  const std::int64_t first = std::min(sh.tiles, E_);
  std::int64_t s = from;
  for (;;) {
    std::int64_t need = s;
    for (std::int64_t g = 0; g < first; ++g)  // (b)
      need = std::max(need, back_end_[std::size_t((tiles_ + g) % E_)] - g * sh.p);
    for (std::int64_t u = 0, n = sh.units(0); u < n; ++u)  // (c)
      need = std::max(need, unit_free_[std::size_t(u)] - sh.job(0, u, C_));
    for (std::int64_t i = 0; i < sh.last_rows(0); ++i)  // (d)
      need = std::max(need, buf_taken_[std::size_t(i)] + 1 - sum_at - i);
    for (std::int64_t g = 0; g < first; ++g) {  // (e)
      const std::int64_t e = (tiles_ + g) % E_;
      for (std::int64_t i = 0; i < R_; ++i)
        need = std::max(need, diff_read_[std::size_t(i * E_ + e)] + 1 - g * sh.p - max_at - i);
    }
    for (std::int64_t e = 0; e < E_; ++e) {  // (a)
      const std::int64_t bs = back_start_[std::size_t(e)], be = back_end_[std::size_t(e)];
      if (be <= s) continue;
      for (std::int64_t g = 0; g < sh.tiles && s + g * sh.p < be; ++g)
        for (const std::int64_t at : {s + g * sh.p, s + sh.back(g)}) {
          const std::int64_t len = at == s + g * sh.p ? sh.f : sh.b;
          if (at < be && at + len > bs) need = std::max(need, s + be - at);
        }
    }
    if (need == s) return s;
    s = need;
  }
}

FusedSchedule FusedChain::next(const FusedAttentionDims& dims, std::int64_t ready, std::int64_t period,
                               std::int64_t start) {
  FusedSchedule out;
  out.timing = fused_attention_timing(array_, dp_, dims, period);
  const FusedAttentionTiming& t = out.timing;
  const Shape sh = shape_of(R_, dims, t);
  const std::int64_t s = start >= 0 ? start : earliest(dims, t, std::max(ready, free_));
  out.start = s, out.free = s + t.occupancy, out.done = s + t.cycles();
  // What the instruction leaves in flight for the next: its last tiles' backs, its row units' last jobs,
  // the rows' buffers and differences its last jobs take.
  auto job_len = [&](std::int64_t g, std::int64_t u) {
    const std::int64_t rows = std::min((u + 1) * sh.r, sh.last_rows(g / sh.keys)) - u * sh.r;
    return dp_.row_unit_tile_cycles(rows, dims.d) +
           (g % sh.keys == sh.keys - 1 ? dp_.row_unit_normalize_cycles(rows, dims.d) : 0);
  };
  for (std::int64_t g = std::max<std::int64_t>(0, sh.tiles - E_); g < sh.tiles; ++g) {
    const std::int64_t e = (tiles_ + g) % E_, fold = g / sh.keys;
    back_start_[std::size_t(e)] = s + sh.back(g);
    back_end_[std::size_t(e)] = s + sh.back(g) + sh.b;
    for (std::int64_t i = 0; i < sh.last_rows(fold); ++i)
      diff_read_[std::size_t(i * E_ + e)] = s + sh.job(g, i / sh.r, C_);
  }
  for (std::int64_t fold = std::max<std::int64_t>(0, sh.folds - 2); fold < sh.folds; ++fold) {
    const std::int64_t g = (fold + 1) * sh.keys - 1;  // the fold's last tile
    for (std::int64_t u = 0, n = sh.units(fold); u < n; ++u)
      unit_free_[std::size_t(u)] = s + sh.job(g, u, C_) + job_len(g, u);
    for (std::int64_t i = 0; i < sh.last_rows(fold); ++i) buf_taken_[std::size_t(i)] = s + sh.job(g, i / sh.r, C_);
  }
  tiles_ += sh.tiles;
  free_ = out.free;
  return out;
}

}  // namespace attnsim
