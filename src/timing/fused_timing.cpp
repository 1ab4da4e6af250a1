#include "timing/fused_timing.h"

#include <algorithm>
#include <string>

#include "common/errors.h"

namespace attnsim {

namespace {
std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
}  // namespace

FusedAttentionTiming fused_attention_timing(const ArrayConfig& array, const DatapathConfig& dp,
                                            const FusedAttentionDims& dims) {
  if (!dp.admits_fused_attention())
    throw InternalError("fused attention timed on a datapath without in-array softmax and row units");
  if (dims.m <= 0 || dims.n <= 0 || dims.d <= 0)
    throw InternalError("fused attention with an empty shape: m " + std::to_string(dims.m) + ", n " +
                        std::to_string(dims.n) + ", d " + std::to_string(dims.d));
  const std::int64_t r = array.rows, c = array.cols, d = dims.d;
  FusedAttentionTiming t;
  const std::int64_t issue = 2 * d + dp.pe_softmax_cycles(), round_trip = 2 * c;
  t.tile_pe = dp.pe_score_entries >= 2 ? std::max(issue, ceil_div(round_trip, dp.pe_score_entries - 1))
                                       : issue + round_trip;
  const std::int64_t rows_per_unit = ceil_div(std::min(dims.m, r), dp.row_units);
  const std::int64_t ops = dp.row_unit_ops_per_cycle;
  t.tile_row = dp.row_unit_tile_cycles(rows_per_unit, d);
  t.tile = std::max(t.tile_pe, t.tile_row);
  t.query_folds = ceil_div(dims.m, r);
  t.key_tiles = ceil_div(dims.n, c);
  t.occupancy = t.query_folds * t.key_tiles * t.tile;
  t.drain = (r + c - 2) + round_trip + c + ceil_div(rows_per_unit * d, ops) + rows_per_unit * dp.row_unit_exp_cycles;
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
