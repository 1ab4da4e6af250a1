#pragma once
// The PE-level execution of a GEMM FusedAttention (attention fused in the array, FuseMax class), as plain
// C++: FusedPeCore::step() advances every PE, the links between them and the row units by one clock cycle,
// on real fp32 data. timing/fused_timing.h describes the binding and the schedule; this model carries it
// out and checks, cycle by cycle, that the datapath's rules hold (ATTNSIM_ASSERT: an InternalError):
//   * a PE issues one primitive at a time: the controller never gives a PE a front and a back in one cycle;
//   * every operand meets its PE in the cycle the PE uses it (Q along the rows, K and V down the columns,
//     the partial row max, row sum and P V sums along the rows, each tagged with its key tile);
//   * a score entry is free when a tile's first MAC writes it (its previous tile's last P V MAC is done);
//   * a PE subtracts a tile's running max only once it has come back from the row unit: the round trip is
//     stepped, not assumed (C link hops out, the unit's compare, C hops back);
//   * a row unit takes a tile's P V sums into its one buffer per row only once it has consumed the previous
//     tile's, and is free when the last of its rows' sums arrives (its job starts then).
// The cycle count emerges: the instruction ends when the last row unit's job has written the last O row.
// The controller's tile period and back offset are the closed form's (or a given period: with a shorter
// one than the closed form's some rule above breaks, which the tests show).
//
// Registers (flat arrays, PE p = i C + j; the links are double-buffered, *_cur read, *_nxt written, swapped
// after each cycle): row link (moving right: Q during Q K^T, the partial max, the partial row sum, the P V
// sums), column link (moving down: K, then V), return link (moving left: the new running max from the row
// unit), per PE E score entries with the tile each holds (-1: free) and E running-max registers with the
// tile they belong to. Per query row of the fold the row unit keeps m, l, O (d values), m_old - m_new of
// the last E tiles, and its input buffer (row sum and d P V sums). What a PE does in a cycle is the
// controller's action for that cycle, delayed by the PE's skew i + j (a ring of actions, as the GEMM
// model's issue ring). No allocation after begin().
#include <cstdint>
#include <vector>

#include "config/hw_config.h"
#include "hw/array/i_array.h"
#include "timing/fused_timing.h"

namespace attnsim {

class FusedPeCore {
 public:
  FusedPeCore(const ArrayConfig& array, const DatapathConfig& dp);

  // One instruction on an empty datapath; operands may be null (zeros move, nothing is written). period > 0
  // replaces the closed form's tile period.
  void begin(const FusedAttentionDims& dims, const FusedOperands* operands, std::int64_t period = 0);
  // One clock cycle; true when O has left (the instruction's last cycle has been stepped).
  bool step();
  std::int64_t cycles() const { return cycle_; }
  // The cycle from which the array takes another instruction: the end of its last tile's period.
  std::int64_t free_cycle() const { return free_cycle_; }

 private:
  enum Kind : std::uint8_t { kNone, kBusy, kQk, kScale, kMax, kSub, kExp, kSum, kPv };
  struct Action {
    Kind kind;
    std::int32_t tile;
    std::int32_t step;  // Q K^T: the head-dim element; P V: the output column
  };
  struct Link {
    float val;
    std::int32_t tile;  // -1: nothing
  };

  Action action_at(std::int64_t c) const;  // the controller's action in cycle c (the ring's source)
  float edge_row(const Action& a, int row) const;
  float edge_col(const Action& a, int col) const;
  bool score_valid(std::int32_t tile, int row, int col) const;
  void row_unit_input(int row, const Action& a, float val);
  void run_job(int unit, std::int32_t tile);
  int fold_rows(std::int32_t tile) const;

  const int R_, C_, E_;
  const DatapathConfig dp_;
  const ArrayConfig array_;

  FusedAttentionDims d_;
  FusedOperands ops_{};
  bool have_ops_ = false;
  FusedAttentionTiming t_;
  std::int64_t tiles_ = 0, key_tiles_ = 0;
  std::int64_t cycle_ = 0, free_cycle_ = 0;
  std::int64_t jobs_left_ = 0, end_ = 0;

  std::vector<Action> ring_;
  std::int64_t ring_mask_ = 0;
  std::vector<Link> row_cur_, row_nxt_, col_cur_, col_nxt_, ret_cur_, ret_nxt_;
  std::vector<float> score_, mreg_;
  std::vector<std::int32_t> score_tile_, mreg_tile_;
  std::vector<Link> turn_;  // per row: the new running max the unit sends back next cycle
  // Row units, per row of the fold.
  std::vector<float> m_run_, l_run_, o_acc_, diff_, sum_in_, o_in_;
  std::vector<std::int32_t> diff_tile_, in_tile_, arrived_;
  std::vector<std::int64_t> unit_free_;
};

}  // namespace attnsim
