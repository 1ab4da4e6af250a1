#pragma once
// Row-wise ops of a model's layers as cascades: layer and RMS norms, residual adds, activations (GELU,
// ReLU, SwiGLU), copies (a decode step's K and V rows appended to the cache), L2 norms, bias rows and
// row reductions. Each graph op kind is its built-in cascade, models/cascades/KIND.json (KIND as
// to_string(OpKind): layernorm, rmsnorm, add, gelu, relu, swiglu, copy, l2norm, add_row, row_sum,
// row_max; embedded, cascade/builtin.h), written over the rows m (extent M) and columns c (extent C) of
// the op: input X (the op's first input), a second input when the op has one (R, U: X's shape; g, b: a
// norm's parameters or a bias row), output Y (M x C, or M for a reduction). Bound to the op's shape and
// lowered by the generic lowering (cascade/lower.h) under a mapping, one phase per op, every instance
// of the op in turn. Plain C++.
//
// The default mapping is the row-wise stream: one group, a loop over m in blocks of whole rows (the
// tile of m: blocks of at least 16 KiB and two DRAM latencies' worth of bytes, at most an eighth of the
// SRAM, halved until the plan fits), X, the second input of X's shape and Y double-buffered so
// that loads, the vector unit and stores overlap, a norm's parameters and a bias row single-buffered
// (loaded by the first block and kept), packed in tensor order. A user's --mapping may give the op's
// whole cascade mapping (kind "cascade", as --emit mapping prints it).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cascade/cascade.h"
#include "cascade/lower.h"
#include "cascade/mapping.h"
#include "compiler/emitter.h"
#include "config/hw_config.h"
#include "ir/graph.h"
#include "ir/tile_program.h"
#include "mapper/mapping.h"

namespace attnsim {

// Whether op kind k is a row-wise op with a built-in cascade (above).
bool has_rowwise_cascade(OpKind k);

// The built-in cascade of op kind k bound to a shape: M rows, C columns; InternalError for a kind
// without one.
cascade::Cascade rowwise_cascade(OpKind k, std::int64_t rows, std::int64_t cols);

// The default mapping (above) of a bound row-wise cascade; a UserError naming `what` when one row
// does not fit.
cascade::Mapping rowwise_default_mapping(const cascade::Cascade& c, const HwConfig& hw, std::uint64_t capacity,
                                         const std::string& what);

// The rows per block (the tile of m) of a row-wise cascade's mapping.
std::int64_t rowwise_block_rows(const cascade::Cascade& c, const cascade::Mapping& m);

// The DRAM blocks of one instance of a row-wise op: X from in[0], the second input from in[1], Y from out.
cascade::Binding rowwise_binding(const cascade::Cascade& c, const OpInstance& i);

// One phase: a graph op lowered from its cascade.
struct RowwisePhase {
  std::string plan;                  // "row blocks of 10x768, double-buffered; cascade layernorm: ..."
  OpMapping mapping;                 // kind "cascade"
  std::vector<BufferInfo> buffers;   // phase 0 (the caller renumbers): inputs and outputs Activation,
                                     // parameters Weight
  std::function<void(Emitter&)> emit;  // every instance in turn; may run more than once
};

// The phase of row-wise op `op` (has_rowwise_cascade(op.kind)): the user's fixed mapping for op.name
// when `fixed` has one (errors name the file and /ops/NAME/mapping/...), else the default mapping.
RowwisePhase lower_rowwise_op(const HwConfig& hw, const GraphOp& op, std::uint64_t capacity,
                              const ModelMapping* fixed);

}  // namespace attnsim
