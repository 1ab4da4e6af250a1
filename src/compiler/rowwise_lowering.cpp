#include "compiler/rowwise_lowering.h"

#include <algorithm>
#include <sstream>

#include "common/errors.h"

namespace attnsim {

namespace {

std::uint64_t rowwise_footprint(std::int64_t rb, std::int64_t cols, int inputs, std::int64_t out_cols,
                                std::int64_t param_rows, int eb) {
  const std::uint64_t tile = align_up(std::uint64_t(rb * cols * eb), 64),
                      out = align_up(std::uint64_t(rb * out_cols * eb), 64);
  return 2 * (tile * std::uint64_t(inputs) + out) + align_up(std::uint64_t(param_rows * cols * eb), 64);
}

}  // namespace

RowwisePlan plan_rowwise(const HwConfig& hw, const RowwiseJob& j, std::uint64_t capacity, const std::string& what) {
  const int eb = hw.array.operand_bytes;
  RowwisePlan p;
  p.cols = j.in0.cols;
  p.inputs = j.inputs;
  p.out_cols = j.reduce ? 1 : p.cols;
  p.param_rows = j.has_params ? j.params.rows : 0;
  // Blocks large enough that the DRAM latency is hidden: two latencies' worth of bytes at the peak
  // bandwidth (with double buffering the next block is in flight while this one is used), at least
  // 16 KiB; and at most an eighth of the SRAM, so that double-buffered inputs and outputs use at
  // most about three quarters of it. Not larger: the first load and the last store of a phase are
  // exposed, so blocks that grew with the SRAM made more SRAM cost cycles.
  const std::int64_t row_bytes = p.cols * eb;
  const double latency = hw.dram.model == DramModel::Ideal ? double(hw.dram.latency_cycles) : 100.0;
  const std::int64_t target_bytes = std::max<std::int64_t>(16384, std::int64_t(2 * hw.dram.peak_bytes_per_cycle * latency));
  std::int64_t rb = std::max<std::int64_t>(1, std::min(std::int64_t(capacity / 8), target_bytes) / row_bytes);
  rb = std::min(rb, j.in0.rows);
  while (rb > 1 && rowwise_footprint(rb, p.cols, p.inputs, p.out_cols, p.param_rows, eb) > capacity) rb /= 2;
  if (rowwise_footprint(rb, p.cols, p.inputs, p.out_cols, p.param_rows, eb) > capacity) {
    std::ostringstream msg;
    msg << hw.source << ": /sram: " << what << ": one row of " << p.cols << " elements, double-buffered in "
        << (p.inputs + 1) << " buffers" << (p.param_rows ? " with its parameters" : "") << ", needs "
        << rowwise_footprint(1, p.cols, p.inputs, p.out_cols, p.param_rows, eb) << " B, more than the " << capacity
        << " B of SRAM available";
    throw UserError(msg.str());
  }
  if (j.softmax && j.causal && j.causal_tm > 0) {
    // A block must lie inside one m tile of the P V GEMM: take the largest divisor of its rows.
    while (rb > 1 && j.causal_tm % rb) --rb;
  }
  p.rb = rb;
  p.footprint = rowwise_footprint(rb, p.cols, p.inputs, p.out_cols, p.param_rows, eb);
  return p;
}

RowwiseEmitter::RowwiseEmitter(const HwConfig& hw, const RowwisePlan& plan, std::uint64_t base) : hw_(hw), p_(plan) {
  const std::uint64_t tile = std::uint64_t(plan.rb * plan.cols * hw.array.operand_bytes);
  SramAllocator al(base);
  for (int i = 0; i < 2; ++i) {
    in0_[i] = al.take(tile);
    in1_[i] = plan.inputs > 1 ? al.take(tile) : in0_[i];
    out_[i] = al.take(std::uint64_t(plan.rb * plan.out_cols * hw.array.operand_bytes));
  }
  params_ = al.take(std::uint64_t(plan.param_rows * plan.cols * hw.array.operand_bytes));
}

std::vector<BufferInfo> RowwiseEmitter::buffers(std::uint32_t phase, BufClass in_cls, BufClass out_cls) const {
  const std::uint64_t tile = std::uint64_t(p_.rb * p_.cols * hw_.array.operand_bytes);
  std::vector<BufferInfo> v;
  for (int i = 0; i < 2; ++i) {
    const std::string s = std::to_string(i);
    v.push_back({"in" + s, {in0_[i], tile}, in_cls, phase});
    if (p_.inputs > 1) v.push_back({"in_b" + s, {in1_[i], tile}, in_cls, phase});
    v.push_back({"out" + s, {out_[i], std::uint64_t(p_.rb * p_.out_cols * hw_.array.operand_bytes)}, out_cls, phase});
  }
  if (p_.param_rows)
    v.push_back({"params", {params_, std::uint64_t(p_.param_rows * p_.cols * hw_.array.operand_bytes)},
                 BufClass::Weight, phase});
  return v;
}

void RowwiseEmitter::emit(Emitter& em, const RowwiseJob& j) {
  const int eb = hw_.array.operand_bytes;
  const std::int64_t rows = j.in0.rows, cols = j.in0.cols;
  std::uint32_t params_load = kNoInstr;
  if (j.has_params) params_load = em.load(j.params, tile_at(params_, j.params.rows, cols, eb), {});
  for (std::int64_t r0 = 0; r0 < rows; r0 += p_.rb) {
    const std::int64_t rb = std::min(p_.rb, rows - r0);
    std::int64_t w = cols;
    if (j.softmax && j.causal) {
      const std::int64_t tm = j.causal_tm > 0 ? j.causal_tm : rb, tk = j.causal_tk > 0 ? j.causal_tk : 1;
      const std::int64_t m_end = std::min(rows, (r0 / tm + 1) * tm);
      w = std::min(cols, ceil_div(m_end, tk) * tk);
    }
    slot_ = (slot_ + 1) % 2;
    const int s = slot_;
    const SramTile t0 = tile_at(in0_[s], rb, w, eb, cols), t1 = tile_at(in1_[s], rb, w, eb, cols),
                   to = j.reduce ? tile_at(out_[s], rb, 1, eb) : tile_at(out_[s], rb, w, eb, cols);
    const std::uint32_t l0 =
        em.load({j.in0.tensor, j.in0.row0 + r0, j.in0.col0, rb, w}, t0, {in0_reader_[s]});
    std::uint32_t l1 = kNoInstr;
    if (j.inputs > 1) l1 = em.load({j.in1.tensor, j.in1.row0 + r0, j.in1.col0, rb, w}, t1, {in1_reader_[s]});
    std::uint32_t op;
    if (j.softmax) {
      op = em.softmax(SmOp::Rows, t0, {}, to, {l0, out_reader_[s]}, j.scale, j.causal, r0);
    } else {
      const SramTile b = j.has_params ? tile_at(params_, j.params.rows, cols, eb) : (j.inputs > 1 ? t1 : SramTile{});
      op = em.vector(j.op, t0, b, to, {l0, l1, params_load, out_reader_[s]});
    }
    in0_reader_[s] = op;
    in1_reader_[s] = op;
    out_reader_[s] = em.store({j.out.tensor, j.out.row0 + r0, j.out.col0, rb, j.reduce ? 1 : w}, to, {op});
  }
}

}  // namespace attnsim
