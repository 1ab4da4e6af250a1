#pragma once
// The register-transfer-level systolic array, as plain C++ (no SystemC): PeArrayCore::step() advances
// every PE's registers by one clock cycle. PeArray (pe_array.cpp) calls it once per cycle from the
// caller's SC_THREAD and waits one clock period after each call.
//
// ---------------------------------------------------------------------------------------------------
// Mapping (timing/array_timing.h): the two non-streamed GEMM dimensions are spread over the R x C array and
// folded, the third (length T) streams through it. Fold g covers row-fold rf = g / col_folds and
// col-fold cf = g % col_folds. Partial folds are padded with zero operands to the whole array, so every
// fold is timed (and stepped) on the full R x C, as in SCALE-Sim.
//   OS: PE(i,j) owns C[rf*R+i][cf*C+j]; row i streams A[rf*R+i][t], column j streams B[t][cf*C+j].
//   WS: PE(i,j) holds B[rf*R+i][cf*C+j]; row i streams A[t][rf*R+i]; column j emits C[t][cf*C+j].
//   IS: PE(i,j) holds A[cf*C+j][rf*R+i]; row i streams B[rf*R+i][t]; column j emits C[cf*C+j][t].
// (WS and IS are the same hardware; only the feeders and the output addressing differ.)
//
// Registers (all flat arrays indexed p = i*C + j; "*_cur/*_nxt" pairs are read by a neighbour and are
// double-buffered: a cycle computes every *_nxt from *_cur, then the pairs are swapped, so the order in
// which PEs are visited does not matter. Registers read only by their own PE are updated in place.)
//   h      (all)    : the streamed operand moving right (OS: A; WS: A; IS: B) with its tag.
//   v      (OS)     : B moving down, with its tag.
//   acc    (OS)     : the accumulator of the fold being computed.
//   sacc   (OS)     : the shadow accumulator: takes acc's final value on the fold's last MAC and holds it
//                     until it can enter the drain path.
//   drain  (OS)     : a per-column output path moving down; results leave below row R-1.
//   psum   (WS/IS)  : the partial sum moving down (row 0 starts from 0); row R-1 emits C values.
//   chain  (WS/IS)  : the shadow stationary register; doubles as the load shift-chain (see below).
//   w      (WS/IS)  : the active stationary register the MAC uses.
// Every operand carries a tag: valid, fold number, element index t, and first/last flags (t == 0,
// t == T-1). The first-tagged operand of a fold resets the OS accumulator or swaps the shadow
// stationary register into the active one, PE by PE as the skewed wave passes; the last-tagged operand
// moves the OS result to the shadow accumulator or retires the active stationary value.
//
// Skew: the sequencer issues one stream element per cycle; row i sees it i cycles later and column j
// sees it j cycles later (a triangular delay line, modelled as a ring of issue records), so element t of
// fold g meets PE(i,j) at cycle s_g + t + i + j, where s_g is the cycle its first element was issued.
//
// Stationary load (WS/IS): over R consecutive cycles the loader issues the fold's tile into the top of
// each column, deepest row first (target row R-1 first, row 0 last); column j is delayed j cycles like
// the stream. The chain shifts values down; a register only takes a value from above while values are
// in transit (a wave, not a free-running shift), so row i's register is first overwritten at load
// start + j + i, and after R cycles every row holds its own value (state "resident").
//
// When a fold starts and ends (the cycle count is not computed, it emerges from this):
//   * A fold ends in the cycle in which PE(R-1,C-1) consumes its last-tagged operand (for WS/IS that
//     is also the cycle its last partial sum leaves the bottom row). The GEMM ends when its last fold
//     ends; run_gemm returns the number of cycles stepped until then.
//   * scalesim mode: a fold's first action (its stationary load, or for OS its stream) starts in the
//     cycle after the previous fold ended; WS/IS streaming starts the cycle after the load's last step.
//     So each fold takes L = P + R + C + T - 2 cycles and a GEMM F*L.
//   * overlapped mode: the stream port starts fold g when fold g-1's T elements have all been issued and
//       - WS/IS: fold g's tile is completely loaded (R load cycles), the load having started no earlier
//         than the cycle fold g-1 started streaming (see the hazard argument below);
//       - OS: R cycles have passed since fold g-1 started: each column's drain path moves one result a
//         cycle and a fold leaves R results per column in the (single) shadow accumulators.
//     Hence s_g = s_{g-1} + max(T, R) and the GEMM takes P + (F-1) max(T,R) + R + C + T - 2 cycles.
//
// Why double-buffering is enough here despite the skew (asserted every cycle, ATTNSIM_ASSERT):
//   WS/IS, shadow (chain) register of PE(i,j): fold g's value is swapped into w at s_g + i + j. Fold
//   g+1's load starts at s_g (not earlier), so the load wave first overwrites row i of column j at the
//   end of cycle s_g + j + i: the same cycle as the swap, which reads the register before it is written.
//   The skew of the load by column and the wave-like (not free-running) shift are both essential: a
//   load that shifted all rows of all columns together in the R cycles before s_{g+1} (TPU-style) would
//   overwrite PE(i,j)'s shadow at s_{g+1} - R, before its swap at s_g + i + j whenever
//   max(T,R) < R + i + j. Counterexample: 4x4 WS, M = 4 (T = 4), K = 8, N = 4 (F = 2): PE(3,3) swaps
//   fold 0 in at s_0 + 6 but fold 1's load would begin at s_0 + 4 - 4 = s_0.
//   WS/IS, active register w: fold g's last use is at s_g + T - 1 + i + j, fold g+1's swap at
//   s_{g+1} + i + j >= s_g + T + i + j.
//   OS, accumulator: fold g's last MAC is at s_g + T - 1 + i + j, fold g+1's first at >= s_g + T + i + j.
//   OS, shadow accumulator: fold g's result of PE(i,j) is written at e + i, with e = s_g + T - 1 + j.
//   The drain path gives priority to values passing from above, so row i's result enters the path at
//   e + 2i + 1 (rows 0..i-1 pass first) and fold g+1 writes the shadow again at e + max(T,R) + i; the
//   shadow is free in time iff i + 1 <= max(T, R), which holds for every row because max(T,R) >= R.
//   (With an interval of R-1, row R-1 would be overwritten: the R in max(T, R) is tight for OS.)
//   No deeper per-PE buffer is needed.
//
// Worked example, 2x2 WS, M = 3 (T = 3), K = 2, N = 2 (F = 1, P = R = 2), cycles numbered from 0:
//   cycles 0-1: load column 0 (B[1][0] then B[0][0]); column 1 loads in cycles 1-2.
//   cycle 2: A[0][0] enters row 0 (first), PE(0,0) swaps in B[0][0] and computes A[0][0] B[0][0].
//   cycles 3, 4: A[1][0], A[2][0] (last) enter row 0; row 1 gets A[t][1] one cycle later (3, 4, 5).
//   cycle 6: PE(1,1) consumes A[2][1] (tagged last, it entered row 1 at cycle 5 and moved right one PE)
//   and the psum for C[2][1] leaves the bottom row: the fold, and the GEMM, end after 7 cycles.
//   Closed form: L = P + R + C + T - 2 = 2 + 2 + 2 + 3 - 2 = 7; SCALE-Sim would print 6.
// Overlapped, 2x2 OS, M = 4, K = 1 (T = 1), N = 2 (F = 2): fold 0's only element is issued at cycle 0 and
//   reaches PE(1,1) at cycle 0 + 1 + 1 = 2; fold 1 may be issued once T = 1 and R = 2 cycles have passed,
//   at cycle 2, and reaches PE(1,1) at cycle 4: 5 cycles = 0 + (2-1) max(1,2) + 2 + 2 + 1 - 2 (scalesim:
//   fold 1 is issued the cycle after fold 0 ends, at 3, and ends at 5: 6 cycles = 2 * (2 + 2 + 1 - 2)).
//
// OS results of the last fold are still in the shadow accumulators / drain path when the GEMM's last
// MAC has happened (PE(R-1,C-1)'s result leaves the bottom R cycles later); like array_timing.h (and
// SCALE-Sim), the cycle count stops at the last MAC, and flush() moves those results out untimed.
#include <cstdint>
#include <vector>

#include "config/hw_config.h"
#include "hw/array/i_array.h"
#include "timing/array_timing.h"

namespace attnsim {

class PeArrayCore {
 public:
  PeArrayCore(int rows, int cols, Dataflow df, TimingMode mode);

  // Resets every register and the sequencer for one GEMM. operands may be null (zeros move instead).
  void begin(const GemmDims& dims, const GemmOperands* operands);
  // One clock cycle: the sequencer issues, then every PE's registers advance. Returns true when the
  // GEMM's last fold ended in this cycle.
  bool step();
  // After the last timed cycle: moves out the results still inside the array (OS), untimed.
  void flush();
  std::int64_t cycles() const { return cycle_; }

 private:
  enum : std::uint8_t { kValid = 1, kFirst = 2, kLast = 4 };
  // The streamed operand (and, for OS, B moving down) with its tag.
  struct Op {
    std::int32_t val;
    std::int32_t fold;
    std::int32_t idx;  // element index t within the fold's stream
    std::uint32_t flags;
  };
  // A partial sum moving down a column (WS/IS) with the tag of the operand that produced it.
  struct Psum {
    std::int64_t val;
    std::int32_t fold;
    std::int32_t idx;
    std::uint32_t flags;
  };
  // An OS result on its way down the drain path.
  struct Drained {
    std::int64_t val;
    std::int32_t fold;
    std::int32_t row;  // the PE row that produced it
    std::uint32_t valid;
  };
  // A stationary value in the load chain: its destination row and its state.
  enum : std::uint8_t { kFree = 0, kTransit = 1, kResident = 2 };
  struct Chain {
    std::int32_t val;
    std::int32_t fold;
    std::int32_t target;
    std::uint32_t state;
  };
  // What the sequencer issued in one cycle (read back i or j cycles later through the skew).
  struct Issue {
    std::int32_t fold;
    std::int32_t idx;  // stream: element t; load: load step (target row R-1-step)
    std::uint32_t flags;
  };

  void sequence();
  void feed();
  void step_os();
  void step_stationary();
  std::int32_t stream_value(int row, std::int32_t fold, std::int32_t t) const;
  std::int32_t os_b_value(int col, std::int32_t fold, std::int32_t t) const;
  std::int32_t load_value(int col, std::int32_t fold, std::int32_t target) const;
  void emit_stationary(int col, const Psum& p);
  void emit_os(int col, const Drained& d);
  bool os_empty() const;

  // Configuration.
  const int R_, C_;
  const Dataflow df_;
  const TimingMode mode_;
  const bool stationary_;

  // The GEMM being run.
  GemmDims d_;
  GemmOperands ops_{};
  bool have_ops_ = false;
  FoldPlan plan_;
  std::int64_t F_ = 0, T_ = 0;

  // Sequencer.
  std::int64_t cycle_ = 0;         // cycles stepped so far
  std::int64_t next_stream_ = 0;   // next fold to start streaming
  std::int64_t stream_fold_ = -1;  // fold being streamed, or -1
  std::int64_t stream_t_ = 0;      // next element of stream_fold_
  std::int64_t last_stream_start_ = 0;
  std::int64_t next_load_ = 0;   // next fold to load (WS/IS)
  std::int64_t load_fold_ = -1;  // fold being loaded, or -1
  std::int64_t load_step_ = 0;
  std::int64_t loaded_ = 0;     // folds whose load has completed (in an earlier cycle)
  std::int64_t completed_ = 0;  // folds that have ended
  std::int64_t emitted_ = 0;    // results that left the array (for the final consistency check)
  std::vector<Issue> stream_ring_, load_ring_;
  std::int64_t ring_mask_ = 0;

  // Edge inputs of this cycle.
  std::vector<Op> row_in_;      // R: streamed operand entering each row
  std::vector<Op> col_in_;      // C: OS: B entering each column
  std::vector<Chain> load_in_;  // C: WS/IS: stationary value entering each column

  // PE registers (see the header comment).
  std::vector<Op> h_cur_, h_nxt_;
  std::vector<Op> v_cur_, v_nxt_;
  std::vector<std::int64_t> acc_;
  std::vector<std::uint8_t> acc_open_;
  std::vector<std::int32_t> acc_fold_;
  std::vector<std::int64_t> sacc_;
  std::vector<std::uint8_t> sacc_full_;
  std::vector<std::int32_t> sacc_fold_;
  std::vector<Drained> drain_cur_, drain_nxt_;
  std::vector<Psum> psum_cur_, psum_nxt_;
  std::vector<Chain> chain_cur_, chain_nxt_;
  std::vector<std::int32_t> w_, w_fold_;
  std::vector<std::uint8_t> w_live_;  // the active value still has uses left in its fold
};

}  // namespace attnsim
