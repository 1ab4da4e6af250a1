#pragma once
// Closed-form timing of attention fused in the array (FuseMax class; hw_config.h, DatapathConfig): one
// GEMM instruction of kind FusedAttention computes O = softmax(scale Q K^T) V for m query rows over n
// keys, head dim d, with the scores never leaving the PEs. Shared by the fast array model (the
// accelerator waits this long), the PE-level model (hw/array/fused_pe_core.h, which steps every PE, link
// and row unit and arrives at the same cycles) and the tests.
//
// Binding (after FuseMax's, Nayak et al., MICRO 2024, Sec. 5): query rows on the R array rows (a fold of
// R rows at a time), keys on the C array columns (a key tile of C keys at a time); tiles are numbered
// g = fold * key_tiles + key tile. Every PE runs the same program, PE(i, j) i + j cycles after PE(0, 0)
// (the operands' skew); per key tile each PE holds its score in one of its E score entries and issues:
//   front (F = d + row_scalar_mul + max cycles):
//     Q K^T  d MACs in place in the entry (Q enters along the rows, K down the columns);
//     scale  the 1/sqrt(d) multiply (masked and padded keys become -inf);
//     max    its score into the row's max chain: the partial max moves right one PE a cycle.
//   back (B = 2 add + exp + d cycles), once the new running max has come back:
//     minus the running max (add), exp, its share of the row sum (add; the partial sum moves right one PE
//     a cycle), P V: d MACs, V down the columns, the partial sums of O right along the row.
// The round trip: the tile's row max leaves PE(i, C-1) C cycles after PE(i, 0)'s compare, row unit i
// compares it with the running max in one cycle and sends the new one back left one PE a cycle, so
// PE(i, 0), the last to get it, can subtract 2 C + 1 cycles after its compare began: a back may start
// wait = max(0, 2 C + 1 - max) cycles after its front (DatapathConfig::pe_round_trip_wait).
// Schedule (the array's controller): tile g's front starts at g P; its back wait + b cycles after the
// front ends, b the least >= 0 such that the back falls between two fronts (P - issue >= b mod P):
//   offset = wait if wait mod P <= P - issue, else ceil(wait / P) P.
// An entry is held from its front's first MAC to its back's last, issue + offset cycles; E entries in
// turn, and one front plus one back per period, give the tile period of the PEs
//   tile_pe = max(issue, ceil((issue + wait) / E)),  issue = F + B   (DatapathConfig::pe_tile_cycles)
// (with E = 1 that is issue + wait: nothing overlaps the round trip). The partial sums of row i leave
// PE(i, C-1) into row unit i; unit u serves the rows [u r, u r + r) of each fold, r = ceil(min(m, R) /
// units), one job per key tile when the P V sums of its block's last row have arrived (a partial fold's
// jobs start when they would in a full fold, min((u + 1) r, min(m, R)) - 1): m_new - m_old was formed
// at the round trip's turn; now alpha = exp(m_old - m_new), l = alpha l + rowsum, O = alpha O + O_part,
// 2 d + 4 operations and one exponential per row (the compare counted with them), and on a fold's last
// key tile also O / l (one reciprocal, d multiplies per row) after which the O rows leave:
//   tile_row = ceil(r (2 d + 4) / ops) + r exp + ceil(r d / ops) + r exp
// (every tile gets the window of a fold's last one, so that a unit is free whenever its rows' sums arrive).
// A key tile occupies the datapath tile = max(tile_pe, tile_row) cycles, so the array is busy for
//   occupancy = ceil(m / R) ceil(n / C) tile
// and takes the next instruction then. O has left when the last tile's jobs end: its back starts at
// (G - 1) P + F + offset, row i's last O_part reaches the unit C + B - 1 + i cycles later and the unit
// of the last rows (u* with rows up to the fold's last valid row, or u* - 1 with a full r) ends
// job(rows) = tile_row(rows) cycles after its block's last row's sums arrived:
//   drain = F + offset + C + B - 1 - P + max over those units of (its block's last row + job(its rows))
// An instruction that follows another fused one on the array starts when the occupancy of that one ends,
// unless a hazard with what that one still has in flight moves it later (FusedChain below: equal shapes
// have none); its drain overlaps the new one's first tiles, so a chain of equal instructions costs its
// occupancies plus one drain.
// Worked example (the FuseMax-like preset, 256 x 256, d = 64, PE max 1, row_scalar_mul 1, add 1, exp 4,
// 5 entries, 256 row units at 2 operations per cycle, exp 4): F = 66, B = 70, issue = 136, wait = 512;
// tile_pe = max(136, ceil(648 / 5) = 130) = 136; r = 1: tile_row = 66 + 4 + 32 + 4 = 106; tile = 136;
// offset: 512 mod 136 = 104 > 0, so 4 x 136 = 544. m = 256, n = 4096: 16 tiles, occupancy 2176, drain =
// 66 + 544 + 256 + 70 - 1 - 136 + (255 + 106) = 1160. MAC utilization in steady state 128 / 136 = 94.1 %.
// With 2 entries the round trip sets the pace: ceil(648 / 2) = 324 cycles per tile, 39.5 %.
#include <array>
#include <cstdint>
#include <vector>

#include "config/hw_config.h"

namespace attnsim {

struct FusedAttentionDims {
  std::int64_t m = 0;  // query rows
  std::int64_t n = 0;  // keys (the causal lowering gives only the key tiles a query block can see)
  std::int64_t d = 0;  // head dim
  std::int64_t macs() const { return 2 * m * n * d; }  // Q K^T and P V
};

struct FusedAttentionTiming {
  std::int64_t front = 0, back = 0;    // a PE's issue cycles per key tile before and after the round trip
  std::int64_t wait = 0;               // least cycles from a front's end to its back's start
  std::int64_t back_offset = 0;        // cycles from a front's end to its back's start in the schedule
  std::int64_t rows_per_unit = 0;
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

// Requires dp.admits_fused_attention() (InternalError otherwise). period > 0 replaces the tile period (the
// PE-level model's tests use it to show that a shorter one breaks the datapath's rules).
FusedAttentionTiming fused_attention_timing(const ArrayConfig& array, const DatapathConfig& dp,
                                            const FusedAttentionDims& dims, std::int64_t period = 0);

}  // namespace attnsim

namespace attnsim {

// Fused instructions back to back (the fast model's schedule of a sequence, and the PE-level model's
// controller, which checks it: hw/array/fused_pe_core.h). Tiles are numbered across the sequence (global
// tile t uses score entry t mod E), so the pipeline runs on from one instruction into the next: the next
// instruction's fronts start when the previous one's periods end, while its remaining backs and row-unit
// jobs finish. Instruction B (its own period P, front F, back offset o, back B, rows per unit r) may start
// at s >= max(ready, the previous instruction's end of occupancy) only where the datapath has no hazard
// with what earlier instructions still have in flight (all at PE(0, 0)'s time; row i's events i later):
//   (a) a PE issues one primitive a cycle: B's fronts [s + g P, + F) and backs [s + g P + F + o, + B) miss
//       every earlier back still pending;
//   (b) score entries: B's tile g (global b + g) writes entry (b + g) mod E at its first MAC, s + g P, no
//       earlier than the last back on that entry has ended;
//   (c) row units: B's first job on unit u, when the P V sums of row L(u) = min((u + 1) r, min(m, R)) - 1
//       arrive (s + F + o + B - 1 + C + L(u)), no earlier than that unit's last job has ended;
//   (d) a row unit's input buffer per row: B's row sum of row i arrives (s + F + o + add + exp + C + i)
//       after the job that took the row's previous inputs started;
//   (e) the running max's differences m_old - m_new per row and entry: B's tile g's row max reaches row
//       unit i (s + g P + d + row_scalar_mul + C + i) after the job that read the entry's previous one
//       started.
// s is the least start satisfying all five (each rules out an interval or a prefix of starts; the search
// moves s past the one it breaks until none is broken). With equal shapes and s at the end of occupancy
// none binds: the tiles continue the steady state of one instruction, so a chain of equal instructions
// costs its occupancies plus one drain. Shapes that differ can bind: e.g. a short last query block (fewer
// rows per unit: its first job on unit 0 comes r - r' cycles earlier than a full block's would) after a
// block whose row units set the period (c), or a head dim change that puts a new front on a pending back (a).
// In tests/test_fused_pe.cpp's random sequences only (a) and (c) bind (127 and 43 of 170 moved starts, each
// breaking that rule at PE level one cycle earlier); (b), (d) and (e) are the datapath's rules all the same.
// Worked pair by hand (8 x 8, d = 16, 2 entries; 2 row units at 1 operation): a block m 8, n 20 (P 240,
// free at 720, its units' last jobs to 786 and 790), then m 3, n 8 (P' 120; its first jobs 64 and 65 cycles
// after its start): (c) moves its start from 720 to 725; O out at 909 (tests/test_fused_pe.cpp).
struct FusedSchedule {
  std::int64_t start = 0;  // cycle of its first front
  std::int64_t free = 0;   // start + occupancy: the earliest start of the next instruction
  std::int64_t done = 0;   // start + occupancy + drain: its last O row has left
  FusedAttentionTiming timing;
};

class FusedChain {
 public:
  FusedChain(const ArrayConfig& array, const DatapathConfig& dp);
  void reset();
  // The next instruction, its dependencies met at cycle `ready`: placed at the least legal start (or at
  // `start` when >= 0: the tests' way to show that one cycle earlier breaks a rule of the PE-level model).
  // period > 0 replaces its tile period (fused_attention_timing). No allocation.
  FusedSchedule next(const FusedAttentionDims& dims, std::int64_t ready, std::int64_t period = 0,
                     std::int64_t start = -1);
  // The least legal start for `dims` at or after `from`, without placing it.
  std::int64_t earliest(const FusedAttentionDims& dims, const FusedAttentionTiming& t, std::int64_t from) const;
  std::int64_t tiles() const { return tiles_; }  // global tiles placed so far

 private:
  ArrayConfig array_;
  DatapathConfig dp_;
  std::int64_t R_, C_, E_;
  std::int64_t tiles_ = 0, free_ = 0;
  static constexpr std::int64_t kNever = -(std::int64_t(1) << 62);
  // Per score entry: the back of the last tile that used it [back_start, back_end).
  std::vector<std::int64_t> back_start_, back_end_;
  std::vector<std::int64_t> unit_free_;  // per row unit: the end of its last job
  std::vector<std::int64_t> buf_taken_;  // per row: the start of the job that took its last inputs
  std::vector<std::int64_t> diff_read_;  // per row and entry (i E + e): the start of the job that read it
};

}  // namespace attnsim
