#pragma once
// Closed-form timing of attention fused in the array (FuseMax class; hw_config.h, DatapathConfig): one
// GEMM instruction of kind FusedAttention computes O = softmax(scale Q K^T) V for m query rows over n
// keys, head dim d, with the scores never leaving the PEs. Shared by the fast array model (the
// accelerator waits this long), the PE-level model (which must arrive at the same numbers by stepping
// the PEs) and the tests.
//
// Binding (after FuseMax's, Nayak et al., MICRO 2024, Sec. 5): query rows on the R array rows, keys on
// the C array columns. For each key tile of C keys, each PE(i, j):
//   Q K^T   d MACs: S[i, j] = sum_e Q[i, e] K[j, e] (Q enters along the rows, K down the columns)
//   softmax max (the tile's row max, passed along the row to the row unit: one compare per PE),
//           row_scalar_mul (the 1/sqrt(d) scale), add (minus the new running max m, broadcast back
//           along the row), exp, add (the row sum, reduced along the row to the row unit)
//   P V     d MACs: O_part[i, f] = sum_j P[i, j] V[j, f] (V enters down the columns, the sum flows
//           along the row and leaves at the edge into row unit i)
// Each PE issues one primitive at a time, so a key tile takes, per PE,
//   issue = 2 d + max + row_scalar_mul + 2 add + exp        cycles.
// The subtraction of the row max cannot start before the tile's row max has travelled along the row to
// the row unit (C cycles) and the new running max has come back (C cycles): a round trip of 2 C cycles
// after the PE's own Q K^T. With E = score_entries >= 2 the PE fills the wait with the Q K^T of the next
// E - 1 tiles (their scores in the other entries), so in steady state a tile starts every
//   tile_pe = max(issue, ceil(2 C / (E - 1)))               cycles,
// and with one entry nothing overlaps the wait: tile_pe = issue + 2 C.
// Row unit i (the 1D array; a unit serves ceil(m / units) rows in turn) per key tile and row does
//   m_new = max(m, tile max), m - m_new, l = alpha l + rowsum (2), O = alpha O + O_part (2 d): 2 d + 4
//   operations, and alpha = exp(m - m_new): one exponential,
//   tile_row = ceil(rows_per_unit (2 d + 4) / ops_per_cycle) + rows_per_unit exp_cycles.
// A key tile occupies the datapath tile = max(tile_pe, tile_row) cycles. Query rows beyond R fold: each
// fold of R rows passes over all key tiles. The array is busy (no other instruction's PE work can
// start) for
//   occupancy = ceil(m / R) ceil(n / C) tile
// and O leaves after the pipeline drains: the skew of the last tile's operands to PE(R-1, C-1), R + C - 2,
// its row-max round trip 2 C, its P V sums crossing the row (C), and the final normalisation O / l in the
// row units (one reciprocal, d multiplies per row):
//   drain = R + C - 2 + 2 C + C + ceil(rows_per_unit d / ops_per_cycle) + rows_per_unit exp_cycles
// An instruction that follows another fused one on the array starts when the occupancy of that one ends
// (its drain overlaps the new one's first tiles: they use the row units and the row edge at
// different times), so a chain of instructions costs its occupancies plus one drain.
// Worked example (the FuseMax-like preset, 256 x 256, d = 64, PE max 1, row_scalar_mul 1, add 1, exp 4,
// 5 entries, 256 row units at 2 operations per cycle, exp 4): issue = 128 + 1 + 1 + 2 + 4 = 136, the round
// trip 512 over 4 tiles = 128, so tile_pe = 136; tile_row = ceil(132 / 2) + 4 = 70, tile = 136; m = 256,
// n = 4096: 16 tiles, occupancy 2176, drain = 510 + 512 + 256 + 32 + 4 = 1314; MAC utilization in steady
// state 128 / 136 = 94.1 %. With 2 entries the round trip sets the pace: tile_pe = 512, 25 %.
#include <array>
#include <cstdint>

#include "config/hw_config.h"

namespace attnsim {

struct FusedAttentionDims {
  std::int64_t m = 0;  // query rows
  std::int64_t n = 0;  // keys (the causal lowering gives only the key tiles a query block can see)
  std::int64_t d = 0;  // head dim
  std::int64_t macs() const { return 2 * m * n * d; }  // Q K^T and P V
};

struct FusedAttentionTiming {
  std::int64_t tile_pe = 0, tile_row = 0, tile = 0;  // cycles per key tile
  std::int64_t query_folds = 0, key_tiles = 0;
  std::int64_t occupancy = 0;  // cycles the array is busy
  std::int64_t drain = 0;      // cycles after the occupancy until O has left
  std::int64_t cycles() const { return occupancy + drain; }  // an isolated instruction
};

// The datapath's own operations of one instruction, for its energy (report/energy.h), by primitive (VecPrim order):
// what the binding above does, counted for the m x n scores computed (PEs beyond m or n do nothing), with
// T = ceil(n / C) key tiles:
//   PEs, per score:          max 1, row_scalar_mul 1 (mul), add 2, exp 1
//   row units, per query row and key tile: max 1 (m_new), add 1 (m - m_new), exp 1 (alpha), mul 1 + add 1
//                            (l = alpha l + rowsum), mul d + add d (O = alpha O + O_part): the 2 d + 4 operations
//                            and one exponential of the timing
//   row units, per query row at the end: reciprocal 1 (1 / l), mul d (O / l)
// so pe = {add 2 m n, mul m n, max m n, exp m n} and row_unit = {add m T (d + 2), mul m T (d + 1) + m d,
// max m T, exp m T, reciprocal m}. The MACs (2 m n d) are the array's, counted as every GEMM's.
struct FusedAttentionActions {
  std::array<std::uint64_t, kVecPrimCount> pe{}, row_unit{};
};
FusedAttentionActions fused_attention_actions(const ArrayConfig& array, const FusedAttentionDims& dims);

// Requires dp.admits_fused_attention() (InternalError otherwise).
FusedAttentionTiming fused_attention_timing(const ArrayConfig& array, const DatapathConfig& dp,
                                            const FusedAttentionDims& dims);

}  // namespace attnsim
