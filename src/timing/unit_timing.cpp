#include "timing/unit_timing.h"

#include <algorithm>
#include <initializer_list>
#include <string>

#include "common/errors.h"

namespace attnsim {

namespace {

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

// Builds PrimCounts from {primitive, count} lists, so the table below reads like the derivations.
struct Count {
  VecPrim prim;
  int n;
};
PrimCounts counts(std::initializer_list<Count> per_elem, std::initializer_list<Count> per_row = {},
                  std::initializer_list<Count> per_b_elem = {}) {
  PrimCounts c;
  for (const Count& x : per_elem) c.per_elem[std::size_t(x.prim)] += x.n;
  for (const Count& x : per_row) c.per_row[std::size_t(x.prim)] += x.n;
  for (const Count& x : per_b_elem) c.per_b_elem[std::size_t(x.prim)] += x.n;
  return c;
}

bool is_favor(const Instr& in) {
  return in.op == Opcode::Vector && (in.vec_op() == VecOp::FavorRows || in.vec_op() == VecOp::FavorCols);
}

constexpr VecPrim kAdd = VecPrim::Add, kMul = VecPrim::Mul, kMax = VecPrim::Max, kExp = VecPrim::Exp,
                  kRsqrt = VecPrim::Rsqrt, kRecip = VecPrim::Reciprocal;

// The rows and elements an instruction's passes stream: the source a for reductions (their c is
// one element per row), the destination c otherwise.
const SramTile& timed_tile(const Instr& in) {
  if (in.op == Opcode::Vector && (in.vec_op() == VecOp::RowMax || in.vec_op() == VecOp::RowSum)) return in.a;
  if (in.op == Opcode::Softmax && (in.sm_op() == SmOp::Rows || in.sm_op() == SmOp::OnlineStep)) return in.a;
  return in.c;
}

}  // namespace

PrimCounts vec_op_prims(VecOp op) {
  switch (op) {
    // One adder or multiplier pass per element. Copy converts the dtype on its way through the
    // adder (x + 0), which is where the format converters sit.
    case VecOp::Add:
    case VecOp::AddRow:
    case VecOp::Copy:
      return counts({{kAdd, 1}});
    case VecOp::Mul:
    case VecOp::Scale:
      return counts({{kMul, 1}});
    // max(x, 0) on the comparator.
    case VecOp::Relu:
      return counts({{kMax, 1}});
    // gelu(x) = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), with tanh(u) = 1 - 2/(exp(2u)+1):
    // 1 + tanh(u) = 2 (1 - r) with r = 1/(exp(2u)+1), so gelu(x) = x (1 - r). Per element:
    //   x2 = x*x (mul), w = 0.044715*x2 (mul), w + 1 (add), x*(w+1) (mul), 2u = 2 sqrt(2/pi) * that (mul),
    //   exp(2u) (exp), + 1 (add), r = 1/(...) (reciprocal), 1 - r (add), x*(1 - r) (mul):
    //   5 mul, 3 add, 1 exp, 1 reciprocal.
    case VecOp::Gelu:
      return counts({{kMul, 5}, {kAdd, 3}, {kExp, 1}, {kRecip, 1}});
    // silu(a) * b = a / (1 + exp(-a)) * b: exp(-a) (exp, the sign folded into its input), + 1 (add),
    // 1/(...) (reciprocal), a * that (mul), * b (mul).
    case VecOp::SwiGlu:
      return counts({{kExp, 1}, {kAdd, 1}, {kRecip, 1}, {kMul, 2}});
    // Two-pass variance, then normalise (the passes of unit_sram_traffic):
    //   per element: sum (add); d = x - mean (add), d*d (mul), sum of d^2 (add);
    //                d * rstd (mul), * gamma (mul), + beta (add): 4 add, 3 mul.
    //   per row: mean = sum * (1/cols) (mul), var = sum_d2 * (1/cols) (mul), var + eps (add),
    //            rstd = rsqrt(var + eps) (rsqrt): 2 mul, 1 add, 1 rsqrt.
    case VecOp::LayerNorm:
      return counts({{kAdd, 4}, {kMul, 3}}, {{kMul, 2}, {kAdd, 1}, {kRsqrt, 1}});
    // per element: x*x (mul), sum (add); x * rrms (mul), * gamma (mul): 3 mul, 1 add.
    // per row: mean of squares = sum * (1/cols) (mul), + eps (add), rsqrt: 1 mul, 1 add, 1 rsqrt.
    case VecOp::RmsNorm:
      return counts({{kMul, 3}, {kAdd, 1}}, {{kMul, 1}, {kAdd, 1}, {kRsqrt, 1}});
    // Reductions: one comparator or adder step per source element.
    case VecOp::RowMax:
      return counts({{kMax, 1}});
    case VecOp::RowSum:
      return counts({{kAdd, 1}});
    case VecOp::Exp:
      return counts({{kExp, 1}});
    // c = a / max(||a_row||, 1e-12) = a * rsqrt(max(sum_row(a^2), 1e-24)), two passes (see unit_sram_traffic):
    //   per element: x*x (mul), sum (add); x * rnorm (mul): 2 mul, 1 add.
    //   per row: rnorm = rsqrt(...) (rsqrt), the clamp folded into its input (as SwiGlu folds the sign into exp's).
    // No 1/cols: the norm is a sum, not a mean.
    case VecOp::L2Norm:
      return counts({{kMul, 2}, {kAdd, 1}}, {{kRsqrt, 1}});
    // c[r, :] = (carry + sum_{r' <= r} a[r', :]) / (imm + r + 1), one pass down the tile's rows:
    //   per element: the running sum down each column (prefix_sum), + carry (add), * 1/position (mul).
    //   per row: 1/position (reciprocal); the position imm + r + 1 is the row counter the unit walks
    //   the tile with, offset by imm, and enters the reciprocal as its input.
    // The new carry is the last row's carry + running sum, already computed: written, not recomputed.
    // `first` does not shorten it: the carry add adds 0 through the pipeline like any other.
    case VecOp::PrefixMean:
      return counts({{VecPrim::PrefixSum, 1}, {kAdd, 1}, {kMul, 1}}, {{kRecip, 1}});
    // FAVOR+ features, c = exp(imm a - imm^2 |x|^2 / 2) / sqrt(m), one token x (a row of b, d wide)
    // per row of c (FavorRows) or per column of c (FavorCols):
    //   per token: its squared norm, d mul (x_j^2) + d add (the sum), counted per element of b;
    //     then * imm^2/2 (mul), counted per token (per row of b).
    //   per element of c: imm * a (mul), - the token's norm term (add), exp, * 1/sqrt(m) (mul):
    //     2 mul, 1 add, 1 exp (imm, imm^2/2 and 1/sqrt(m) are constants of the instruction).
    // No max subtraction (see tile_program.h): no max pass.
    case VecOp::FavorRows:
    case VecOp::FavorCols:
      return counts({{kMul, 2}, {kAdd, 1}, {kExp, 1}}, {{kMul, 1}}, {{kMul, 1}, {kAdd, 1}});
    // c[r, :] = a[r, :] / b[r, 0]: per row 1 / b[r, 0] (reciprocal); per element a * that (mul).
    case VecOp::DivCol:
      return counts({{kMul, 1}}, {{kRecip, 1}});
    // c[0, :] += imm * sum_r a[r, :]: per element of a, one add down its column; per element of c
    // (counted in the third slot, which vector_op_cycles gives c's elements for this op): * imm (mul),
    // + c (add; `first` adds 0 through the pipeline like PrefixMean's carry).
    case VecOp::ColMeanAcc:
      return counts({{kAdd, 1}}, {}, {{kMul, 1}, {kAdd, 1}});
    // c = imm I - a: one add per element (imm - a on the diagonal, 0 - a elsewhere).
    case VecOp::IdentMinus:
      return counts({{kAdd, 1}});
    // c = a / b[0, 0]: one reciprocal per instruction (the third slot, given 1 element), then a * that (mul).
    case VecOp::DivScalar:
      return counts({{kMul, 1}}, {}, {{kRecip, 1}});
    case VecOp::kCount:
      break;
  }
  throw InternalError("vec_op_prims: not a VecOp: " + std::to_string(int(op)));
}

PrimCounts softmax_prims_on_vector(SmOp op) {
  switch (op) {
    // Pass 1: row max (max). Pass 2: x - max (add), * scale (mul), exp, row sum (add).
    // Per row: 1 / sum (reciprocal). Pass 3: * (1 / sum) (mul).
    case SmOp::Rows:
      return counts({{kMax, 1}, {kAdd, 2}, {kMul, 2}, {kExp, 1}}, {{kRecip, 1}});
    // Pass 1: tile row max (max). Per row: m_new = max(m_old, tile max) (max), m_old - m_new (add),
    // alpha = exp(...) (exp), alpha * l seeds the row sum (mul). Pass 2: x - m_new (add), * scale
    // (mul), exp, row sum (add).
    case SmOp::OnlineStep:
      return counts({{kMax, 1}, {kAdd, 2}, {kMul, 1}, {kExp, 1}}, {{kMax, 1}, {kAdd, 1}, {kExp, 1}, {kMul, 1}});
    // c *= alpha (mul).
    case SmOp::Rescale:
      return counts({{kMul, 1}});
    // Per row 1 / l (reciprocal); per element a * (1 / l) (mul).
    case SmOp::Normalize:
      return counts({{kMul, 1}}, {{kRecip, 1}});
    // Per row: max(m_c, m_b) (max), the two differences (add), their exponentials (exp), the two
    // products and their sum for l (mul, add).
    case SmOp::Merge:
      return counts({}, {{kMax, 1}, {kAdd, 3}, {kExp, 2}, {kMul, 2}});
    case SmOp::kCount:
      break;
  }
  throw InternalError("softmax_prims_on_vector: not an SmOp: " + std::to_string(int(op)));
}

std::int64_t vector_cycles(const VectorConfig& v, const PrimCounts& c, std::uint64_t elems, std::uint64_t rows,
                           std::uint64_t b_elems) {
  ATTNSIM_ASSERT(v.lanes > 0, "the vector unit needs lanes");
  const std::uint64_t lanes = std::uint64_t(v.lanes);
  std::uint64_t issue = 0;
  for (int p = 0; p < kVecPrimCount; ++p) {
    const std::uint64_t vectors = ceil_div(std::uint64_t(c.per_elem[p]) * elems, lanes) +
                                  ceil_div(std::uint64_t(c.per_row[p]) * rows, lanes) +
                                  ceil_div(std::uint64_t(c.per_b_elem[p]) * b_elems, lanes);
    issue += vectors * std::uint64_t(v.cost[p]);
  }
  return std::int64_t(v.latency_cycles) + std::int64_t(issue);
}

namespace {

// What one VECTOR instruction asks of the unit: its primitive counts and the extents they apply to.
struct VectorWork {
  PrimCounts counts;
  std::uint64_t elems = 0, rows = 0, b_elems = 0;
};

VectorWork vector_work(const Instr& in) {
  const SramTile& t = timed_tile(in);
  const PrimCounts c = vec_op_prims(in.vec_op());
  // The FAVOR+ maps count their per-token work on the tokens, the rows of b, and stream b's elements.
  if (is_favor(in)) return {c, t.elems(), in.b.rows, in.b.elems()};
  // ColMeanAcc streams a (its c is one row) and scales and accumulates c's elements; DivScalar takes
  // one reciprocal of b[0, 0].
  if (in.vec_op() == VecOp::ColMeanAcc) return {c, in.a.elems(), 0, in.c.elems()};
  if (in.vec_op() == VecOp::DivScalar) return {c, t.elems(), t.rows, 1};
  return {c, t.elems(), t.rows, 0};
}

LaneOps lane_ops_of(const PrimCounts& c, std::uint64_t elems, std::uint64_t rows, std::uint64_t b_elems) {
  LaneOps ops{};
  for (int p = 0; p < kVecPrimCount; ++p)
    ops[std::size_t(p)] = std::uint64_t(c.per_elem[p]) * elems + std::uint64_t(c.per_row[p]) * rows +
                          std::uint64_t(c.per_b_elem[p]) * b_elems;
  return ops;
}

}  // namespace

std::int64_t vector_op_cycles(const VectorConfig& v, const Instr& in) {
  ATTNSIM_ASSERT(in.op == Opcode::Vector, "vector_op_cycles takes a VECTOR instruction");
  const VectorWork w = vector_work(in);
  return vector_cycles(v, w.counts, w.elems, w.rows, w.b_elems);
}

LaneOps unit_lane_ops(const Instr& in) {
  if (in.op == Opcode::Vector) {
    const VectorWork w = vector_work(in);
    return lane_ops_of(w.counts, w.elems, w.rows, w.b_elems);
  }
  ATTNSIM_ASSERT(in.op == Opcode::Softmax && in.sub < std::uint8_t(SmOp::kCount),
                 "unit_lane_ops takes a VECTOR or SOFTMAX instruction");
  const SramTile& t = timed_tile(in);
  return lane_ops_of(softmax_prims_on_vector(in.sm_op()), t.elems(), t.rows, 0);
}

std::int64_t softmax_op_cycles(const HwConfig& hw, const Instr& in) {
  ATTNSIM_ASSERT(in.op == Opcode::Softmax, "softmax_op_cycles takes a SOFTMAX instruction");
  ATTNSIM_ASSERT(in.sub < std::uint8_t(SmOp::kCount), "not an SmOp");
  const SramTile& t = timed_tile(in);
  const std::uint64_t E = t.elems(), r = t.rows;
  if (!hw.softmax.present) return vector_cycles(hw.vector, softmax_prims_on_vector(in.sm_op()), E, r);

  const SoftmaxConfig& s = hw.softmax;
  ATTNSIM_ASSERT(s.lanes > 0 && s.exp_per_cycle > 0, "the softmax unit needs lanes and exponential units");
  const std::uint64_t L = std::uint64_t(s.lanes);
  const std::uint64_t X = std::uint64_t(std::min(s.lanes, s.exp_per_cycle));
  std::uint64_t cycles = 0;
  switch (in.sm_op()) {
    case SmOp::Rows:  // max pass, exp + sum pass, per-row reciprocal, normalise pass
      cycles = ceil_div(E, L) + ceil_div(E, X) + ceil_div(r, X) + ceil_div(E, L);
      break;
    case SmOp::OnlineStep:  // max pass, per-row m_new and alpha, exp + sum pass
      cycles = ceil_div(E, L) + ceil_div(r, X) + ceil_div(E, X);
      break;
    case SmOp::Rescale:  // multiply pass
      cycles = ceil_div(E, L);
      break;
    case SmOp::Normalize:  // per-row reciprocal, multiply pass
      cycles = ceil_div(r, X) + ceil_div(E, L);
      break;
    case SmOp::Merge:  // per row: the max and the two exponentials
      cycles = ceil_div(r, L) + 2 * ceil_div(r, X);
      break;
    case SmOp::kCount:
      throw InternalError("softmax_op_cycles: not an SmOp");
  }
  return std::int64_t(s.latency_cycles) + std::int64_t(cycles);
}

UnitTraffic unit_sram_traffic(const Instr& in) {
  ATTNSIM_ASSERT(in.sub < (in.op == Opcode::Vector ? std::uint8_t(VecOp::kCount) : std::uint8_t(SmOp::kCount)),
                 "not a VecOp or SmOp");
  UnitTraffic t;
  const std::uint64_t A = in.a.bytes(), B = in.b.bytes(), C = in.c.bytes();
  // Bytes of the first n rows of b (bias, gamma, beta rows).
  auto b_rows = [&](std::uint64_t n) { return std::min<std::uint64_t>(n, in.b.rows) * in.b.cols * in.b.elem_bytes; };
  if (in.op == Opcode::Vector) {
    switch (in.vec_op()) {
      case VecOp::Add:
      case VecOp::Mul:
      case VecOp::SwiGlu:
        t.a_read = A, t.b_read = B, t.c_written = C;
        break;
      case VecOp::Scale:
      case VecOp::Copy:
      case VecOp::Relu:
      case VecOp::Gelu:
      case VecOp::Exp:
        t.a_read = A, t.c_written = C;
        break;
      case VecOp::AddRow:
        t.a_read = A, t.b_read = b_rows(1), t.c_written = C;
        break;
      case VecOp::LayerNorm:  // sum pass; deviation pass writes d to c; normalise pass reads d back
        t.a_read = 2 * A, t.b_read = b_rows(2), t.c_written = 2 * C, t.c_read = C;
        break;
      case VecOp::RmsNorm:  // sum-of-squares pass; normalise pass
        t.a_read = 2 * A, t.b_read = b_rows(1), t.c_written = C;
        break;
      case VecOp::RowMax:
      case VecOp::RowSum:  // one result per row, in column 0 of c
        t.a_read = A, t.c_written = std::uint64_t(in.c.rows) * in.c.elem_bytes;
        break;
      case VecOp::L2Norm:  // sum-of-squares pass; normalise pass
        t.a_read = 2 * A, t.c_written = C;
        break;
      case VecOp::PrefixMean:  // one pass; the carry row is read (unless `first`: it starts at 0) and updated
        t.a_read = A, t.c_written = C, t.b_read = in.first ? 0 : b_rows(1), t.b_written = b_rows(1);
        break;
      case VecOp::FavorRows:
      case VecOp::FavorCols:  // the tokens' norms (b once), then one pass over a
        t.a_read = A, t.b_read = B, t.c_written = C;
        break;
      case VecOp::DivCol:  // column 0 of b: one element per row
        t.a_read = A, t.b_read = std::uint64_t(in.b.rows) * in.b.elem_bytes, t.c_written = C;
        break;
      case VecOp::ColMeanAcc:  // one pass over a; c read (unless `first`) and written once
        t.a_read = A, t.c_read = in.first ? 0 : C, t.c_written = C;
        break;
      case VecOp::IdentMinus:
        t.a_read = A, t.c_written = C;
        break;
      case VecOp::DivScalar:  // b[0, 0] once
        t.a_read = A, t.b_read = in.b.elem_bytes, t.c_written = C;
        break;
      case VecOp::kCount:
        throw InternalError("unit_sram_traffic: not a VecOp");
    }
    return t;
  }
  ATTNSIM_ASSERT(in.op == Opcode::Softmax, "unit_sram_traffic takes a VECTOR or SOFTMAX instruction");
  switch (in.sm_op()) {
    case SmOp::Rows:  // max pass, exp pass (writes the exponentials), normalise pass (in place)
      t.a_read = 2 * A, t.c_written = 2 * C, t.c_read = C;
      break;
    case SmOp::OnlineStep:  // max pass, exp pass; the stats are read (unless fresh) and updated
      t.a_read = 2 * A, t.c_written = C, t.b_read = in.first ? 0 : B, t.b_written = B;
      break;
    case SmOp::Rescale:
      t.c_read = C, t.c_written = C, t.b_read = B;
      break;
    case SmOp::Normalize:
      t.a_read = A, t.b_read = B, t.c_written = C;
      break;
    case SmOp::Merge:  // both stats tiles read and updated
      t.b_read = B, t.b_written = B, t.c_read = C, t.c_written = C;
      break;
    case SmOp::kCount:
      throw InternalError("unit_sram_traffic: not an SmOp");
  }
  return t;
}

}  // namespace attnsim
