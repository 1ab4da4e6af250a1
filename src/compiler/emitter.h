#pragma once
// The compiler's instruction builder: tags every instruction with the layer and op class being
// lowered, and turns blocks of DRAM tensors and SRAM tiles into LOAD / STORE / GEMM / VECTOR /
// SOFTMAX instructions. Plain C++.
#include <cstdint>
#include <vector>

#include "ir/tile_program.h"

namespace attnsim {

// A block of a row-major DRAM tensor: rows [row0, row0 + rows) x cols [col0, col0 + cols).
struct DramBlock {
  std::uint16_t tensor = 0;
  std::int64_t row0 = 0, col0 = 0, rows = 0, cols = 0;
};

class Emitter {
 public:
  Emitter(ProgramSink& sink, const std::vector<TensorInfo>& tensors) : sink_(sink), tensors_(tensors) {}

  void set_context(int layer, OpClass cls) {
    layer_ = std::uint16_t(layer < 0 ? 0 : layer);
    cls_ = cls;
  }
  void set_class(OpClass cls) { cls_ = cls; }
  OpClass op_class() const { return cls_; }

  // DRAM block <-> SRAM tile of the same shape (dense unless tile.ld says otherwise).
  std::uint32_t load(const DramBlock& b, const SramTile& tile, std::initializer_list<std::uint32_t> deps = {});
  std::uint32_t store(const DramBlock& b, const SramTile& tile, std::initializer_list<std::uint32_t> deps = {});
  std::uint32_t gemm(const SramTile& a, const SramTile& b, const SramTile& c, bool accumulate, bool b_transposed,
                     std::initializer_list<std::uint32_t> deps);
  std::uint32_t vector(VecOp op, const SramTile& a, const SramTile& b, const SramTile& c,
                       std::initializer_list<std::uint32_t> deps, float imm = 0.f, bool first = false);
  // SOFTMAX with an optional causal mask (mask_offset as in tile_program.h).
  std::uint32_t softmax(SmOp op, const SramTile& a, const SramTile& b, const SramTile& c,
                        std::initializer_list<std::uint32_t> deps, float scale = 0.f, bool causal = false,
                        std::int64_t mask_offset = 0, bool first = false);
  // GEMM FusedAttention (tile_program.h, GemmKind): o = softmax(scale q k^T, causal mask) v over key tiles of
  // key_tile keys.
  std::uint32_t fused_attention(const SramTile& q, const SramTile& k, const SramTile& v, const SramTile& o,
                                std::int64_t key_tile, float scale, bool causal, std::int64_t mask_offset,
                                std::initializer_list<std::uint32_t> deps);
  std::uint32_t barrier();

  const TensorInfo& tensor(std::uint16_t t) const { return tensors_[t]; }

 private:
  std::uint32_t add(Instr in, std::initializer_list<std::uint32_t> deps);
  void dram_side(Instr& in, const DramBlock& b, const SramTile& tile) const;

  ProgramSink& sink_;
  const std::vector<TensorInfo>& tensors_;
  std::uint16_t layer_ = 0;
  OpClass cls_ = OpClass::Other;
};

// A dense tile at addr.
inline SramTile tile_at(std::uint64_t addr, std::int64_t rows, std::int64_t cols, int elem_bytes,
                        std::int64_t ld = 0) {
  return {addr, std::uint32_t(rows), std::uint32_t(cols), std::uint32_t(ld), std::uint8_t(elem_bytes)};
}

inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
inline std::uint64_t align_up(std::uint64_t x, std::uint64_t a) { return (x + a - 1) / a * a; }

// Lays out buffers from an SRAM base address, each on a 64-byte boundary (a burst).
class SramAllocator {
 public:
  explicit SramAllocator(std::uint64_t base = 0) : next_(base) {}
  std::uint64_t take(std::uint64_t bytes) {
    const std::uint64_t at = next_;
    next_ = align_up(next_ + bytes, 64);
    return at;
  }
  std::uint64_t used() const { return next_; }

 private:
  std::uint64_t next_;
};

}  // namespace attnsim
