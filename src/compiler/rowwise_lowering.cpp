#include "compiler/rowwise_lowering.h"

#include <algorithm>
#include <sstream>

#include "common/errors.h"

namespace attnsim {

namespace {

// Double-buffered S and P blocks of rb rows.
std::uint64_t rowwise_footprint(std::int64_t rb, std::int64_t cols, int eb) {
  return 4 * align_up(std::uint64_t(rb * cols * eb), 64);
}

}  // namespace

RowwisePlan plan_rowwise(const HwConfig& hw, const RowwiseJob& j, std::uint64_t capacity, const std::string& what) {
  const int eb = hw.array.operand_bytes;
  RowwisePlan p;
  p.cols = j.in0.cols;
  // Blocks large enough that the DRAM latency is hidden: two latencies' worth of bytes at the peak
  // bandwidth (with double buffering the next block is in flight while this one is used), at least
  // 16 KiB; and at most an eighth of the SRAM, so that double-buffered inputs and outputs use at
  // most about three quarters of it. Not larger: the first load and the last store of a phase are
  // exposed, so blocks that grew with the SRAM made more SRAM cost cycles. (The row-wise ops'
  // cascades take their blocks by the same rule, compiler/rowwise_cascades.cpp.)
  const std::int64_t row_bytes = p.cols * eb;
  const double latency = hw.dram.model == DramModel::Ideal ? double(hw.dram.latency_cycles) : 100.0;
  const std::int64_t target_bytes = std::max<std::int64_t>(16384, std::int64_t(2 * hw.dram.peak_bytes_per_cycle * latency));
  std::int64_t rb = std::max<std::int64_t>(1, std::min(std::int64_t(capacity / 8), target_bytes) / row_bytes);
  rb = std::min(rb, j.in0.rows);
  while (rb > 1 && rowwise_footprint(rb, p.cols, eb) > capacity) rb /= 2;
  if (rowwise_footprint(rb, p.cols, eb) > capacity) {
    std::ostringstream msg;
    msg << hw.source << ": /sram: " << what << ": one row of " << p.cols << " elements, double-buffered in 2 buffers"
        << ", needs " << rowwise_footprint(1, p.cols, eb) << " B, more than the " << capacity
        << " B of SRAM available";
    throw UserError(msg.str());
  }
  if (j.causal && j.causal_tm > 0) {
    // A block must lie inside one m tile of the P V GEMM: take the largest divisor of its rows.
    while (rb > 1 && j.causal_tm % rb) --rb;
  }
  p.rb = rb;
  p.footprint = rowwise_footprint(rb, p.cols, eb);
  return p;
}

RowwiseEmitter::RowwiseEmitter(const HwConfig& hw, const RowwisePlan& plan, std::uint64_t base) : hw_(hw), p_(plan) {
  const std::uint64_t tile = std::uint64_t(plan.rb * plan.cols * hw.array.operand_bytes);
  SramAllocator al(base);
  for (int i = 0; i < 2; ++i) {
    in0_[i] = al.take(tile);
    out_[i] = al.take(tile);
  }
}

std::vector<BufferInfo> RowwiseEmitter::buffers(std::uint32_t phase, BufClass in_cls, BufClass out_cls) const {
  const std::uint64_t tile = std::uint64_t(p_.rb * p_.cols * hw_.array.operand_bytes);
  std::vector<BufferInfo> v;
  for (int i = 0; i < 2; ++i) {
    const std::string s = std::to_string(i);
    v.push_back({"in" + s, {in0_[i], tile}, in_cls, phase});
    v.push_back({"out" + s, {out_[i], tile}, out_cls, phase});
  }
  return v;
}

void RowwiseEmitter::emit(Emitter& em, const RowwiseJob& j) {
  const int eb = hw_.array.operand_bytes;
  const std::int64_t rows = j.in0.rows, cols = j.in0.cols;
  for (std::int64_t r0 = 0; r0 < rows; r0 += p_.rb) {
    const std::int64_t rb = std::min(p_.rb, rows - r0);
    std::int64_t w = cols;
    if (j.causal) {
      const std::int64_t tm = j.causal_tm > 0 ? j.causal_tm : rb, tk = j.causal_tk > 0 ? j.causal_tk : 1;
      const std::int64_t m_end = std::min(rows, (r0 / tm + 1) * tm);
      w = std::min(cols, ceil_div(m_end, tk) * tk);
    }
    slot_ = (slot_ + 1) % 2;
    const int s = slot_;
    const SramTile t0 = tile_at(in0_[s], rb, w, eb, cols), to = tile_at(out_[s], rb, w, eb, cols);
    const std::uint32_t l0 =
        em.load({j.in0.tensor, j.in0.row0 + r0, j.in0.col0, rb, w}, t0, {in0_reader_[s]});
    const std::uint32_t op = em.softmax(SmOp::Rows, t0, {}, to, {l0, out_reader_[s]}, j.scale, j.causal, r0);
    in0_reader_[s] = op;
    out_reader_[s] = em.store({j.out.tensor, j.out.row0 + r0, j.out.col0, rb, w}, to, {op});
  }
}

}  // namespace attnsim
