#include "timing/sram_traffic.h"

namespace attnsim {

SramTraffic gemm_sram_traffic(const ArrayConfig& a, const Instr& g) {
  const GemmDims d{g.m, g.k, g.n};
  const FoldPlan p = fold_plan(a.rows, a.cols, a.dataflow, a.timing, d);
  const std::uint64_t ob = a.operand_bytes, acc = a.accumulator_bytes;
  const std::uint64_t A = d.m * d.k * ob, B = d.k * d.n * ob, Cb = d.m * d.n * acc;
  SramTraffic t;
  switch (a.dataflow) {
    case Dataflow::OS:
      t.a_read = A * p.col_folds, t.b_read = B * p.row_folds, t.c_written = Cb, t.c_read = g.accumulate ? Cb : 0;
      break;
    case Dataflow::WS:
      t.b_read = B, t.a_read = A * p.col_folds;
      t.c_written = Cb * p.row_folds, t.c_read = Cb * (p.row_folds - 1 + (g.accumulate ? 1 : 0));
      break;
    case Dataflow::IS:
      t.a_read = A, t.b_read = B * p.col_folds;
      t.c_written = Cb * p.row_folds, t.c_read = Cb * (p.row_folds - 1 + (g.accumulate ? 1 : 0));
      break;
  }
  return t;
}

}  // namespace attnsim
