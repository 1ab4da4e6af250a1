#include "compiler/emitter.h"

#include "common/errors.h"

namespace attnsim {

std::uint32_t Emitter::add(Instr in, std::initializer_list<std::uint32_t> deps) {
  in.layer = layer_;
  in.opclass = cls_;
  for (std::uint32_t d : deps) in.add_dep(d);
  return sink_.add(in);
}

void Emitter::dram_side(Instr& in, const DramBlock& b, const SramTile& tile) const {
  const TensorInfo& t = tensors_[b.tensor];
  ATTNSIM_ASSERT(b.row0 >= 0 && b.col0 >= 0 && b.rows > 0 && b.cols > 0 &&
                     std::uint64_t(b.row0 + b.rows) <= t.rows && std::uint64_t(b.col0 + b.cols) <= t.cols,
                 "DRAM block outside tensor " + t.name);
  ATTNSIM_ASSERT(tile.rows == std::uint32_t(b.rows) && tile.cols == std::uint32_t(b.cols),
                 "SRAM tile shape differs from the DRAM block of " + t.name);
  const std::uint64_t eb = std::uint64_t(t.elem_bytes);
  in.tensor = b.tensor;
  in.dram_addr = t.dram_base + (std::uint64_t(b.row0) * t.cols + std::uint64_t(b.col0)) * eb;
  in.rows = std::uint32_t(b.rows);
  in.row_bytes = std::uint32_t(std::uint64_t(b.cols) * eb);
  in.dram_stride = t.cols * eb;
  in.sram = tile;
}

std::uint32_t Emitter::load(const DramBlock& b, const SramTile& tile, std::initializer_list<std::uint32_t> deps) {
  Instr in;
  in.op = Opcode::Load;
  dram_side(in, b, tile);
  return add(in, deps);
}

std::uint32_t Emitter::store(const DramBlock& b, const SramTile& tile, std::initializer_list<std::uint32_t> deps) {
  Instr in;
  in.op = Opcode::Store;
  dram_side(in, b, tile);
  return add(in, deps);
}

std::uint32_t Emitter::gemm(const SramTile& a, const SramTile& b, const SramTile& c, bool accumulate,
                            bool b_transposed, std::initializer_list<std::uint32_t> deps) {
  Instr in;
  in.op = Opcode::Gemm;
  in.m = a.rows, in.k = a.cols, in.n = b_transposed ? b.rows : b.cols;
  ATTNSIM_ASSERT((b_transposed ? b.cols : b.rows) == in.k && c.rows == in.m && c.cols == in.n,
                 "GEMM tile shapes disagree");
  in.accumulate = accumulate;
  in.b_transposed = b_transposed;
  in.a = a, in.b = b, in.c = c;
  return add(in, deps);
}

std::uint32_t Emitter::fused_attention(const SramTile& q, const SramTile& k, const SramTile& v, const SramTile& o,
                                      std::int64_t key_tile, float scale, bool causal, std::int64_t mask_offset,
                                      std::initializer_list<std::uint32_t> deps) {
  Instr in;
  in.op = Opcode::Gemm;
  in.sub = std::uint8_t(GemmKind::FusedAttention);
  in.m = q.rows, in.k = q.cols, in.n = k.rows;
  ATTNSIM_ASSERT(k.cols == in.k && v.rows == in.n && v.cols == in.k && o.rows == in.m && o.cols == in.k && key_tile > 0,
                 "fused attention tile shapes disagree");
  in.b_transposed = true;
  in.rows = std::uint32_t(key_tile);
  in.imm = scale;
  in.causal = causal;
  in.mask_offset = std::int32_t(mask_offset);
  in.a = q, in.b = k, in.v = v, in.c = o;
  return add(in, deps);
}

std::uint32_t Emitter::vector(VecOp op, const SramTile& a, const SramTile& b, const SramTile& c,
                              std::initializer_list<std::uint32_t> deps, float imm, bool first) {
  Instr in;
  in.op = Opcode::Vector;
  in.sub = std::uint8_t(op);
  in.a = a, in.b = b, in.c = c;
  in.imm = imm;
  in.first = first;
  return add(in, deps);
}

std::uint32_t Emitter::softmax(SmOp op, const SramTile& a, const SramTile& b, const SramTile& c,
                               std::initializer_list<std::uint32_t> deps, float scale, bool causal,
                               std::int64_t mask_offset, bool first) {
  Instr in;
  in.op = Opcode::Softmax;
  in.sub = std::uint8_t(op);
  in.a = a, in.b = b, in.c = c;
  in.imm = scale;
  in.causal = causal;
  in.mask_offset = std::int32_t(mask_offset);
  in.first = first;
  return add(in, deps);
}

std::uint32_t Emitter::barrier() {
  Instr in;
  in.op = Opcode::Barrier;
  return add(in, {});
}

}  // namespace attnsim
