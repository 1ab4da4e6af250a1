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
