#pragma once
// A functional executor for tile programs: runs LOAD / STORE / GEMM / VECTOR / SOFTMAX / BARRIER on
// real float data, so that every compiler lowering can be checked against a reference
// implementation. Plain C++, no SystemC, no timing.
//
// Memory model:
// - DRAM: each tensor of the program is a row-major array of rows x cols values at
//   TensorInfo::dram_base, elem_bytes bytes per element. LOAD / STORE addresses are translated to
//   the element they name and must fall inside the instruction's `tensor`. A tensor with alias_of
//   shares the array of the tensor it aliases (the same bytes seen with another shape).
// - SRAM: a byte-addressed space of sram_bytes (pass HwConfig::onchip_bytes(), so that the
//   accumulator storage above the SRAM's addresses is included; the executor does not tell them
//   apart: where partial sums live changes timing, not values). An element of e bytes at byte address x is held as
//   one float keyed by x; writing it also poisons bytes x+1 .. x+e-1 with NaN, so that a tile read
//   with a layout other than the one it was written with shows up as NaN.
// - Every value is a float whatever its elem_bytes (no rounding to fp16 / int8): the executor
//   checks dataflow and indexing, not numerics of narrow types.
// - SRAM starts as NaN at every run, and DRAM tensors not given by set_tensor start as NaN, so
//   reading anything never written shows up as NaN in the output.
//
// Order: run(0) executes in program order. run(seed != 0) executes in a pseudo-random order that
// respects only what the hardware guarantees (tile_program.h): program order within each of the
// five units (LOAD, STORE, GEMM, VECTOR, SOFTMAX), every dependency, and barriers. A hazard the
// compiler forgot to cover with a dependency then shows up as wrong numbers under some seed.
//
// Any malformed instruction (tile shapes that disagree, an access outside the tensor or the SRAM,
// a causal row with no key and no running max) is a compiler bug: InternalError.
#include <cstdint>
#include <vector>

#include "ir/tile_program.h"

namespace attnsim {

class Executor {
 public:
  // Keeps a reference to `p`, which must outlive the executor.
  Executor(const TileProgram& p, std::uint64_t sram_bytes);

  // Sets tensor t (row-major, rows x cols values).
  void set_tensor(int t, const std::vector<float>& row_major);
  // Tensor t as it is now (row-major).
  std::vector<float> tensor(int t) const;

  // Executes the whole program once; seed 0 is program order, any other seed a random legal order.
  void run(std::uint64_t seed = 0);

 private:
  void execute(const Instr& in);
  void load(const Instr& in);
  void store(const Instr& in);
  void gemm(const Instr& in);
  void fused_attention(const Instr& in);
  void vector_op(const Instr& in);
  void softmax_op(const Instr& in);

  // The DRAM element index (within in.tensor) of the first element of each block row; every
  // element of the block is checked to lie inside the tensor.
  std::vector<std::uint64_t> block_rows(const Instr& in) const;
  // Checks that a tile lies inside the SRAM and is well-formed.
  void check_tile(const SramTile& t, const char* what, const Instr& in) const;
  // Reads a tile into a dense row-major rows x cols array, and writes one back.
  std::vector<float> gather(const SramTile& t) const;
  void scatter(const SramTile& t, const std::vector<float>& v);

  const TileProgram& program_;
  std::uint64_t sram_bytes_;
  std::vector<float> sram_;               // one slot per byte address
  std::vector<std::vector<float>> dram_;  // one row-major array per tensor (empty for an alias)
  std::vector<std::size_t> storage_;      // per tensor: the tensor whose array holds its bytes
};

}  // namespace attnsim
