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

}  // namespace attnsim
