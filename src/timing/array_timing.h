#pragma once
// Closed-form timing of one GEMM on an R x C systolic array. Shared by the fast array model (which
// waits this long) and by tests; the PE-level model must arrive at the same numbers by moving data.
//
// Mapping (SCALE-Sim v2's): the two non-streamed GEMM dimensions are spread over the array and
// folded; the third, of length T, streams through it.
//   OS: M over rows, N over cols, K streams:  F = ceil(M/R) ceil(N/C), T = K
//   WS: K over rows, N over cols, M streams:  F = ceil(K/R) ceil(N/C), T = M  (B stationary)
//   IS: K over rows, M over cols, N streams:  F = ceil(K/R) ceil(M/C), T = N  (A stationary)
// Every fold is timed on the whole array, also when it is partly filled (SCALE-Sim pads folds).
//
// scalesim mode: folds run one after another, each L = P + R + C + T - 2 cycles, where P is the
// preload of the stationary operand (R cycles for WS and IS, none for OS): skewed operands enter
// over T cycles and the last one reaches PE(R-1, C-1) R + C - 2 cycles after it entered.
// The GEMM occupies the array F * L cycles. SCALE-Sim v2 reports F * L - 1, the 0-based index
// of the last of those cycles (32x32 OS M=K=N=64: F=4, L=126, 504 cycles busy, SCALE-Sim prints 503).
//
// overlapped mode (double-buffered stationary operands and shadow accumulators, as in TPU-style
// arrays): fold f+1 starts streaming max(T, R) cycles after fold f did. T because the operands of
// fold f must have entered; R because the next stationary tile takes R cycles to shift into the
// shadow registers (WS, IS), or the previous fold's R x C results take R cycles to drain out of the
// shadow accumulators (OS). Only the first preload and the last fold's skew are exposed:
//   cycles = P + (F - 1) max(T, R) + R + C + T - 2
// The hardware this assumes (the PE-level model builds it, see pe_array_core.h): the next
// stationary tile is loaded into shadow registers as a wave skewed by one cycle per column, like the
// operands, and each PE swaps shadow to active when the fold's first operand reaches it. A plain
// shift chain that all PEs swap at once cannot meet max(T, R) (4x4 WS, M=4, K=8, N=4: PE(3,3) still
// needs fold 0's weight 6 cycles after fold 1's load would overwrite it). OS drains one result per
// column per cycle: R cycles of throughput, though one result can take up to 2R-1 cycles to leave.
// Both modes stop counting at the last MAC: the last OS fold's results drain after that, uncharged,
// as in SCALE-Sim's figures.
// Worked example, 32x32, M=K=N=64: OS: 0 + 3*64 + 32+32+64-2 = 318 (scalesim: 504).
//   WS, M=100, K=30, N=70: F=3, T=100: 32 + 2*100 + 32+32+100-2 = 394 (scalesim: 3*194 = 582).
//
// Chained GEMM instructions (ArrayConfig::gemm_chaining, overlapped timing only). The shadow registers
// and accumulators that overlap the folds of one GEMM do not care which instruction a fold belongs to,
// so the next instruction's first fold follows the previous instruction's last fold under the same
// hazards. With s_last the cycle the previous instruction's last fold started streaming, T_prev its
// stream length, ready the cycle this instruction's dependencies are met:
//   WS/IS: first_stream = max(s_last + max(T_prev, R), ready + P)
//          (the stream port is busy T_prev cycles; the preload may start at s_last, when the previous
//           fold's swap wave has begun, and takes P = R cycles; the active registers are free after the
//           previous fold's last operand passed, s_last + T_prev + i + j, before this fold's swap wave)
//   OS:    first_stream = max(s_last + T_prev + max(0, R - T), ready)
//          (the stream port is busy T_prev cycles; and each PE's shadow accumulator must have drained
//           before this fold's last MAC refills it: PE(i,j) writes it at s + T - 1 + i + j and row i's
//           value leaves it up to 2i + 1 cycles after being written, behind the rows above it, so the
//           last MACs of consecutive folds must be R apart: s_next + T - 1 >= s_last + T_prev - 1 + R.
//           Within one GEMM T = T_prev and this is the max(T, R) above; between instructions a short
//           stream after a long one (T < R) must wait longer than max(T_prev, R).)
//   done = first_stream + (F - 1) max(T, R) + R + C + T - 2, and s_last becomes first_stream + (F - 1) max(T, R).
// The instruction's first array action (start) is its preload, at max(ready, s_last) for WS/IS, or its
// first stream element for OS. An isolated instruction (no previous one, or one that ended before
// ready) gets exactly gemm_cycles(). This covers an OS instruction that continues the accumulation of
// the previous one into the same C tile (its results leave the shadow accumulators in order after the
// previous one's), a WS/IS instruction reusing the previous one's stationary tile (the tile is reloaded
// into the shadow registers under the previous fold, as any other tile; keeping it resident instead
// would only gain when T_prev < R), and unrelated independent instructions alike: the hardware cannot
// tell them apart. Dependencies are the caller's business (ready).
// Without chaining (or in scalesim mode), an instruction starts when the previous one is done:
//   start = max(ready, done_prev), done = start + gemm_cycles().
// Worked example, 32x32 OS, overlapped, chained: GEMM 1 M=64 K=100 N=32 (F=2, T=100) ready at 0:
//   first_stream 0, s_last = 100, done = 100 + 32+32+100-2 = 262 (= gemm_cycles). GEMM 2 M=32 K=10 N=32
//   (F=1, T=10), ready at 0: first_stream = max(100 + 100 + max(0, 32-10), 0) = 222 (max(T_prev, R)
//   alone would give 200, and PE(31,0)'s shadow accumulator would still hold GEMM 1's value when GEMM 2's
//   last MAC there writes it), done = 222 + 32+32+10-2 = 294, against 262 + 72 = 334 unchained.
#include <cstdint>

#include "config/hw_config.h"

namespace attnsim {

struct GemmDims {
  std::int64_t m = 0, k = 0, n = 0;
  std::int64_t macs() const { return m * k * n; }
};

struct FoldPlan {
  std::int64_t folds = 0;        // F
  std::int64_t row_folds = 0;    // folds of the dimension mapped on rows
  std::int64_t col_folds = 0;    // folds of the dimension mapped on cols
  std::int64_t stream = 0;       // T, the streamed dimension
  std::int64_t preload = 0;      // P, cycles to load the stationary operand (0 for OS)
  std::int64_t fold_cycles = 0;  // L = P + R + C + T - 2, one fold alone
  std::int64_t interval = 0;     // cycles between fold starts (scalesim: L, overlapped: max(T, R))
};

FoldPlan fold_plan(int rows, int cols, Dataflow df, TimingMode mode, const GemmDims& d);
// Cycles the array is busy with one GEMM instruction.
std::int64_t gemm_cycles(int rows, int cols, Dataflow df, TimingMode mode, const GemmDims& d);
// What SCALE-Sim v2 reports as compute cycles for this GEMM alone: F * L - 1.
std::int64_t scalesim_reported_cycles(int rows, int cols, Dataflow df, const GemmDims& d);

// When one GEMM instruction runs on the array, in cycles since the start of the simulation.
struct GemmSchedule {
  std::int64_t start = 0;         // its first array action (preload, or first stream element for OS)
  std::int64_t first_stream = 0;  // its first fold starts streaming
  std::int64_t done = 0;          // its last MAC has happened: the cycle after it (dependents may start here)
};

// Schedules GEMM instructions in program order on one array (see "Chained GEMM instructions" above).
// Plain C++: the fast array model waits what it returns; the PE-level model must agree (its tests).
class ArrayChain {
 public:
  ArrayChain(int rows, int cols, Dataflow df, TimingMode mode, bool chaining);
  explicit ArrayChain(const ArrayConfig& cfg)
      : ArrayChain(cfg.rows, cfg.cols, cfg.dataflow, cfg.timing, cfg.gemm_chaining) {}
  // The next instruction, its dependencies met at cycle `ready` (not earlier than any previous ready).
  GemmSchedule next(const GemmDims& d, std::int64_t ready);
  bool chaining() const { return chaining_; }

 private:
  const int rows_, cols_;
  const Dataflow df_;
  const TimingMode mode_;
  const bool chaining_;  // gemm_chaining and overlapped timing
  bool any_ = false;     // an instruction has been scheduled
  std::int64_t last_fold_start_ = 0, last_stream_ = 0, last_done_ = 0;
};

}  // namespace attnsim
