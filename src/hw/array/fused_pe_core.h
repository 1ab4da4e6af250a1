#pragma once
// The PE-level execution of GEMM FusedAttention instructions (attention fused in the array, FuseMax class),
// one alone or a sequence back to back, as plain C++: FusedPeCore::step() advances every PE, the links
// between them and the row units by one clock cycle, on real fp32 data. timing/fused_timing.h describes the
// binding and the schedule; this model carries it out and checks, cycle by cycle, that the datapath's rules
// hold (ATTNSIM_ASSERT: an InternalError), across instructions as within one:
//   * a PE issues one primitive at a time: the controller never gives a PE a front and a back in one cycle;
//   * every operand meets its PE in the cycle the PE uses it (Q along the rows, K and V down the columns,
//     the partial row max, row sum and P V sums along the rows, each tagged with its key tile);
//   * a score entry is free when a tile's first MAC writes it (its previous tile's last P V MAC is done);
//   * a PE subtracts a tile's running max only once it has come back from the row unit: the round trip is
//     stepped, not assumed (C link hops out, the unit's compare, C hops back);
//   * a row unit takes a tile's P V sums into its one buffer per row only once it has consumed the previous
//     tile's, and is free when the last of its rows' sums arrives (its job starts then).
// The cycle count emerges: an instruction ends when the last row unit's job has written its last O row.
// The controller's tile period, back offset and the start of each instruction are the closed form's
// (FusedChain: the next instruction's fronts at the end of the previous one's periods unless a hazard with
// what is still in flight moves it later), or given ones: with a shorter period or an earlier start than
// the closed form's some rule above breaks, which the tests show. In a sequence the tiles are numbered
// across instructions (global tile t uses entry t mod E), so the rules above hold between the previous
// instruction's last backs and jobs and the next one's first fronts, round trips and jobs.
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

  // An empty datapath at cycle 0.
  void reset();
  // The next instruction of a sequence, its dependencies met at cycle `ready` (>= cycles()): the controller
  // places it (FusedChain) and returns its sequence number (0, 1, ... since reset). Operands may be null
  // (zeros move, nothing is written); they stay valid until it is done. period > 0 replaces its tile
  // period, start >= 0 its start (the tests' probes). No allocation unless its head dim is the largest yet.
  std::uint32_t enqueue(const FusedAttentionDims& dims, const FusedOperands* operands, std::int64_t ready,
                        std::int64_t period = 0, std::int64_t start = -1);
  // One instruction on an empty datapath (reset, then enqueue at cycle 0).
  void begin(const FusedAttentionDims& dims, const FusedOperands* operands, std::int64_t period = 0) {
    reset();
    enqueue(dims, operands, 0, period);
  }
  // One clock cycle; true when every queued instruction is done (its last O row has left).
  bool step();
  // Nothing in flight: every queued instruction done and its last actions through every PE.
  bool idle() const;
  // Only when idle(): jump to `cycle` without stepping the empty cycles.
  void skip_to(std::int64_t cycle);
  std::int64_t cycles() const { return cycle_; }
  // Instruction k's controller schedule (start, free = start + occupancy), and the cycle at which its last
  // O row left, as stepped (-1 while it has not).
  const FusedSchedule& schedule(std::uint32_t k) const;
  std::int64_t done(std::uint32_t k) const;
  // The cycle from which the array takes another instruction: the end of the last one's last tile period.
  std::int64_t free_cycle() const { return chain_.tiles() ? last_free_ : 0; }

 private:
  enum Kind : std::uint8_t { kNone, kBusy, kQk, kScale, kMax, kSub, kExp, kSum, kPv };
  struct Action {
    Kind kind;
    std::int32_t tile;  // global tile
    std::int32_t step;  // Q K^T: the head-dim element; P V: the output column
    std::uint32_t inst;
  };
  struct Link {
    float val;
    std::int32_t tile;  // -1: nothing
  };
  struct Inst {
    std::uint32_t seq = 0;
    FusedAttentionDims dims;
    FusedOperands ops{};
    bool have_ops = false;
    FusedSchedule sched;
    std::int64_t tile0 = 0, tiles = 0, key_tiles = 0, last_action = 0;
    std::int64_t jobs_left = 0, end = 0;
  };
  static constexpr std::uint32_t kSlots = 1024;  // instructions kept (the accelerator's window is smaller)

  const Inst& inst(std::uint32_t k) const { return insts_[k % kSlots]; }
  Inst& inst(std::uint32_t k) { return insts_[k % kSlots]; }
  Action action_at(std::int64_t c);  // the controller's action in cycle c (the ring's source)
  float edge_row(const Inst& in, const Action& a, int row) const;
  float edge_col(const Inst& in, const Action& a, int col) const;
  bool score_valid(const Inst& in, std::int32_t tile, int row, int col) const;
  void row_unit_input(int row, const Action& a, float val);
  void run_job(int unit, Inst& in, std::int32_t tile);
  int fold_rows(const Inst& in, std::int32_t tile) const;

  const int R_, C_, E_;
  const DatapathConfig dp_;
  const ArrayConfig array_;
  FusedChain chain_;

  std::vector<Inst> insts_;
  std::uint32_t count_ = 0, act_first_ = 0, fin_ = 0;  // queued; the first with actions left; the first not done
  std::int64_t cycle_ = 0, last_free_ = 0, quiet_ = 0;

  std::vector<Action> ring_;
  std::int64_t ring_mask_ = 0;
  std::vector<Link> row_cur_, row_nxt_, col_cur_, col_nxt_, ret_cur_, ret_nxt_;
  std::vector<float> score_, mreg_;
  std::vector<std::int32_t> score_tile_, mreg_tile_;
  std::vector<Link> turn_;  // per row: the new running max the unit sends back next cycle
  // Row units, per row of the fold (O and its input with a stride of the largest head dim yet).
  std::vector<float> m_run_, l_run_, o_acc_, diff_, sum_in_, o_in_;
  std::int64_t dcap_ = 0;
  std::vector<std::int32_t> diff_tile_, in_tile_, arrived_;
  std::vector<std::int64_t> unit_free_;
};

}  // namespace attnsim
