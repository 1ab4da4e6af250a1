// Row reductions as graph ops: a hand-built graph with RowSum and RowMax over a tensor, and a
// MatMul reading a transposed view, compiled and executed on real data against sums, maxima and a
// product computed here.
#include <catch2/catch.hpp>
#include <cmath>

#include "compiler/model_lowering.h"
#include "ir/executor.h"
#include "ir/graph.h"

using namespace attnsim;

TEST_CASE("row reductions and transposed views lower and compute what they say", "[graph][functional]") {
  const std::int64_t rows = 100, cols = 300, n = 24;
  Graph g;
  g.elem_bytes = 2;
  auto tensor = [&](const char* name, std::int64_t r, std::int64_t c, TensorKind k) {
    g.tensors.push_back({name, r, c, 2, k, 0});
    return int(g.tensors.size() - 1);
  };
  const int x = tensor("x", rows, cols, TensorKind::Input), w = tensor("w", n, cols, TensorKind::Weight),
            s = tensor("s", rows, 1, TensorKind::Output), m = tensor("m", rows, 1, TensorKind::Output),
            y = tensor("y", rows, n, TensorKind::Output);
  auto whole = [&](int t) { return TensorView{t, 0, 0, g.tensors[t].rows, g.tensors[t].cols, false}; };
  TensorView wt = whole(w);
  wt.transposed = true;  // y = x w^T: w stored n x cols, read as cols x n
  g.ops.push_back({OpKind::RowSum, "sum", 0, OpClass::Other, {{{whole(x), TensorView{}}, whole(s)}}});
  g.ops.push_back({OpKind::RowMax, "max", 0, OpClass::Other, {{{whole(x), TensorView{}}, whole(m)}}});
  g.ops.push_back({OpKind::MatMul, "proj", 0, OpClass::Other, {{{whole(x), wt}, whole(y)}}});
  g.input = x, g.output = y;
  REQUIRE_NOTHROW(check_graph(g));

  // A small SRAM so the reductions take several row blocks.
  const HwConfig hw = parse_hw_config(
      {{"array", {{"rows", 8}, {"cols", 8}, {"clock_mhz", 1000}, {"operand_bytes", 2}}},
       {"sram", {{"banks", 4}, {"bytes_per_bank", 16384}, {"port_bytes", 64}}},
       {"dram", {{"model", "ideal"}, {"bytes_per_cycle", 64}}}},
      "test");
  const CompiledModel cm = compile_model(hw, g);
  const TileProgram p = cm.program.materialise();
  std::vector<float> xv(std::size_t(rows * cols)), wv(std::size_t(n * cols));
  for (std::size_t i = 0; i < xv.size(); ++i) xv[i] = float(std::sin(0.37 * double(i)));
  for (std::size_t i = 0; i < wv.size(); ++i) wv[i] = float(std::cos(0.11 * double(i)));
  for (std::uint64_t seed : {0, 1, 2}) {
    Executor ex(p, hw.onchip_bytes());
    ex.set_tensor(x, xv);
    ex.set_tensor(w, wv);
    ex.run(seed);
    const std::vector<float> sv = ex.tensor(s), mv = ex.tensor(m), yv = ex.tensor(y);
    for (std::int64_t r = 0; r < rows; ++r) {
      double sum = 0, mx = -1e30;
      for (std::int64_t c = 0; c < cols; ++c) sum += xv[r * cols + c], mx = std::max(mx, double(xv[r * cols + c]));
      CHECK(sv[r] == Approx(sum).margin(1e-3));
      CHECK(mv[r] == Approx(mx));
      for (std::int64_t j = 0; j < n; ++j) {
        double dot = 0;
        for (std::int64_t c = 0; c < cols; ++c) dot += double(xv[r * cols + c]) * wv[j * cols + c];
        CHECK(yv[r * n + j] == Approx(dot).margin(1e-3));
      }
    }
  }
  // The reductions really ran in several row blocks.
  int sum_blocks = 0;
  for (const Instr& in : p.instrs)
    if (in.op == Opcode::Vector && in.vec_op() == VecOp::RowSum) ++sum_blocks;
  CHECK(sum_blocks > 1);
}
