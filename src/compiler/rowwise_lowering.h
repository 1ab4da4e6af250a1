#pragma once
// The spilled row softmax of unfused attention: blocks of whole score rows stream DRAM -> SRAM ->
// softmax unit -> SRAM -> DRAM with double-buffered inputs and outputs, so loads, the unit and stores
// overlap. (The row-wise ops of a model's layers, norms, residual adds, activations, are cascades:
// compiler/rowwise_cascades.h.)
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/emitter.h"
#include "config/hw_config.h"
#include "ir/tile_program.h"

namespace attnsim {

struct RowwiseJob {
  DramBlock in0, out;  // rows x cols each: S and P
  float scale = 0.f;
  bool causal = false;
  // Causal softmax of a spilled S: the GEMM that reads P uses m tiles of causal_tm rows and k tiles
  // of causal_tk columns; a row block writes P up to the end of the k tile holding its m tile's
  // last row, masked part zero, so that the GEMM only reads what was written.
  std::int64_t causal_tm = 0, causal_tk = 0;
};

struct RowwisePlan {
  std::int64_t rb = 0;  // rows per block
  std::int64_t cols = 0;
  std::uint64_t footprint = 0;
};

// Rows per block for a job of `cols` columns (the same plan serves every instance of the op).
RowwisePlan plan_rowwise(const HwConfig& hw, const RowwiseJob& shape, std::uint64_t capacity, const std::string& what);

class RowwiseEmitter {
 public:
  RowwiseEmitter(const HwConfig& hw, const RowwisePlan& plan, std::uint64_t base);
  std::vector<BufferInfo> buffers(std::uint32_t phase, BufClass in_cls, BufClass out_cls) const;
  void emit(Emitter& em, const RowwiseJob& job);

 private:
  const HwConfig& hw_;
  RowwisePlan p_;
  std::uint64_t in0_[2], out_[2];
  std::uint32_t in0_reader_[2] = {kNoInstr, kNoInstr}, out_reader_[2] = {kNoInstr, kNoInstr};
  int slot_ = -1;
};

}  // namespace attnsim
