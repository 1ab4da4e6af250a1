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

ArrayChain::ArrayChain(int rows, int cols, Dataflow df, TimingMode mode, bool chaining)
    : rows_(rows), cols_(cols), df_(df), mode_(mode), chaining_(chaining && mode == TimingMode::Overlapped) {}

GemmSchedule ArrayChain::next(const GemmDims& d, std::int64_t ready) {
  const FoldPlan p = fold_plan(rows_, cols_, df_, mode_, d);
  const std::int64_t R = rows_;
  GemmSchedule g;
  if (!chaining_ || !any_) {
    g.start = any_ ? std::max(ready, last_done_) : ready;
    g.first_stream = g.start + p.preload;
    g.done = g.start + gemm_cycles(rows_, cols_, df_, mode_, d);
  } else {
    const std::int64_t stream_free = df_ == Dataflow::OS
                                         ? last_fold_start_ + last_stream_ + std::max<std::int64_t>(0, R - p.stream)
                                         : last_fold_start_ + std::max(last_stream_, R);
    g.first_stream = std::max(stream_free, ready + p.preload);
    // WS/IS: the preload may begin once the previous fold has started streaming (its swap wave leads the
    // load wave, pe_array_core.h); it need not wait until it can end exactly at first_stream.
    g.start = df_ == Dataflow::OS ? g.first_stream : std::max(ready, last_fold_start_);
    g.done = g.first_stream + (p.folds - 1) * p.interval + R + cols_ + p.stream - 2;
  }
  any_ = true;
  last_fold_start_ = g.first_stream + (p.folds - 1) * p.interval;
  last_stream_ = p.stream;
  last_done_ = g.done;
  return g;
}

}  // namespace attnsim
