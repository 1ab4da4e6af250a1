#include "timing/array_timing.h"

#include <algorithm>

#include "common/errors.h"

namespace attnsim {

static std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

FoldPlan fold_plan(int rows, int cols, Dataflow df, TimingMode mode, const GemmDims& d) {
  ATTNSIM_ASSERT(d.m > 0 && d.k > 0 && d.n > 0 && rows > 0 && cols > 0, "GEMM and array dimensions must be positive");
  FoldPlan p;
  const std::int64_t R = rows, C = cols;
  switch (df) {
    case Dataflow::OS:
      p.row_folds = ceil_div(d.m, R), p.col_folds = ceil_div(d.n, C), p.stream = d.k, p.preload = 0;
      break;
    case Dataflow::WS:
      p.row_folds = ceil_div(d.k, R), p.col_folds = ceil_div(d.n, C), p.stream = d.m, p.preload = R;
      break;
    case Dataflow::IS:
      p.row_folds = ceil_div(d.k, R), p.col_folds = ceil_div(d.m, C), p.stream = d.n, p.preload = R;
      break;
  }
  p.folds = p.row_folds * p.col_folds;
  p.fold_cycles = p.preload + R + C + p.stream - 2;
  p.interval = mode == TimingMode::ScaleSim ? p.fold_cycles : std::max(p.stream, R);
  return p;
}

std::int64_t gemm_cycles(int rows, int cols, Dataflow df, TimingMode mode, const GemmDims& d) {
  FoldPlan p = fold_plan(rows, cols, df, mode, d);
  if (mode == TimingMode::ScaleSim) return p.folds * p.fold_cycles;
  return p.preload + (p.folds - 1) * p.interval + rows + cols + p.stream - 2;
}

std::int64_t scalesim_reported_cycles(int rows, int cols, Dataflow df, const GemmDims& d) {
  return gemm_cycles(rows, cols, df, TimingMode::ScaleSim, d) - 1;
}

}  // namespace attnsim
