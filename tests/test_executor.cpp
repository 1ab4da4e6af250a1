// The functional executor: each VECTOR and SOFTMAX op against values worked out by hand or by the
// reference library, strided and transposed tiles, a hand-built flash-attention program, the GEMM
// lowering on random data in program order and in random legal orders, and the failures the
// executor exists to expose (missing dependencies, reads of unwritten memory, malformed tiles).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "common/errors.h"
#include "compiler/gemm_lowering.h"
#include "ir/executor.h"
#include "support/reference.h"

using namespace attnsim;

namespace {

constexpr std::uint64_t kSram = 1 << 14;

SramTile tile(std::uint64_t addr, std::uint32_t rows, std::uint32_t cols, std::uint32_t ld = 0,
              std::uint8_t elem_bytes = 4) {
  return {addr, rows, cols, ld, elem_bytes};
}

Instr vec(VecOp op, const SramTile& a, const SramTile& b, const SramTile& c, float imm = 0.f) {
  Instr in;
  in.op = Opcode::Vector;
  in.sub = std::uint8_t(op);
  in.a = a, in.b = b, in.c = c;
  in.imm = imm;
  return in;
}

Instr sm(SmOp op, const SramTile& a, const SramTile& b, const SramTile& c, float scale = 0.f, bool first = false) {
  Instr in;
  in.op = Opcode::Softmax;
  in.sub = std::uint8_t(op);
  in.a = a, in.b = b, in.c = c;
  in.imm = scale;
  in.first = first;
  return in;
}

Instr causal(Instr in, std::int32_t mask_offset) {
  in.causal = true;
  in.mask_offset = mask_offset;
  return in;
}

Instr gemm(const SramTile& a, const SramTile& b, const SramTile& c, bool accumulate = false,
           bool b_transposed = false) {
  Instr in;
  in.op = Opcode::Gemm;
  in.m = a.rows, in.k = a.cols, in.n = c.cols;
  in.a = a, in.b = b, in.c = c;
  in.accumulate = accumulate;
  in.b_transposed = b_transposed;
  return in;
}

// A LOAD or STORE of the whole tensor t (row-major, elem_bytes per element) <-> an SRAM tile.
Instr transfer(Opcode op, const TileProgram& p, int t, const SramTile& s) {
  const TensorInfo& ti = p.tensors[t];
  Instr in;
  in.op = op;
  in.tensor = std::uint16_t(t);
  in.dram_addr = ti.dram_base;
  in.rows = std::uint32_t(ti.rows);
  in.row_bytes = std::uint32_t(ti.cols * ti.elem_bytes);
  in.dram_stride = ti.cols * ti.elem_bytes;
  in.sram = s;
  return in;
}

// Builds a small program: inputs loaded from tensors of their own, then the ops, then the outputs
// stored, everything separated by barriers so that no dependency bookkeeping is needed.
class Harness {
 public:
  // Loads `values` (tile rows x cols) into the tile; the DRAM tensor has elem_bytes per element.
  void input(const SramTile& t, std::vector<float> values, int elem_bytes = 4) {
    const int id = add_tensor("in" + std::to_string(inputs_.size()), t.rows, t.cols, elem_bytes);
    p_.add(transfer(Opcode::Load, p_, id, t));
    inputs_.push_back({id, std::move(values)});
  }
  void op(const Instr& in) {
    p_.add(barrier());
    p_.add(in);
  }
  // Stores the tile into a new tensor; its index in run()'s result is the order of output() calls.
  void output(const SramTile& t, int elem_bytes = 4) {
    p_.add(barrier());
    const int id = add_tensor("out" + std::to_string(outputs_.size()), t.rows, t.cols, elem_bytes);
    p_.add(transfer(Opcode::Store, p_, id, t));
    outputs_.push_back(id);
  }
  std::vector<std::vector<float>> run(std::uint64_t seed = 0) const {
    Executor e(p_, kSram);
    for (const auto& [id, values] : inputs_) e.set_tensor(id, values);
    e.run(seed);
    std::vector<std::vector<float>> out;
    for (int id : outputs_) out.push_back(e.tensor(id));
    return out;
  }
  const TileProgram& program() const { return p_; }

 private:
  static Instr barrier() { return Instr{}; }
  int add_tensor(const std::string& name, std::uint64_t rows, std::uint64_t cols, int elem_bytes) {
    p_.tensors.push_back({name, next_base_, rows, cols, elem_bytes});
    next_base_ += (rows * cols * elem_bytes + 4095) / 4096 * 4096;
    return int(p_.tensors.size()) - 1;
  }
  TileProgram p_;
  std::uint64_t next_base_ = 0;
  std::vector<std::pair<int, std::vector<float>>> inputs_;
  std::vector<int> outputs_;
};

void check_close(const std::vector<float>& got, const std::vector<float>& want, double tol = 1e-6) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(got[i] == Approx(want[i]).margin(tol).epsilon(tol));
  }
}

HwConfig hw_with(int rows, int cols, const char* df, int banks, std::int64_t bank_bytes) {
  Json doc = {{"array", {{"rows", rows}, {"cols", cols}, {"dataflow", df}, {"clock_mhz", 1000}, {"operand_bytes", 2}}},
              {"sram", {{"banks", banks}, {"bytes_per_bank", bank_bytes}, {"port_bytes", 64}}},
              {"dram", {{"model", "ideal"}, {"bytes_per_cycle", 64}}}};
  return parse_hw_config(doc, "test");
}

// Runs a lowered GEMM (tensors A, B, C) on the given inputs and returns C.
std::vector<float> run_gemm_program(const TileProgram& p, const HwConfig& hw, const std::vector<float>& a,
                                    const std::vector<float>& b, std::uint64_t seed) {
  Executor e(p, hw.onchip_bytes());
  e.set_tensor(0, a);
  e.set_tensor(1, b);
  e.run(seed);
  return e.tensor(2);
}

// A 2x3 operand pair used by the elementwise tests.
const std::vector<float> kA = {1, -2, 3, -0.5f, 0, 2};
const std::vector<float> kB = {0.5f, 1, -1, 2, -3, 0.25f};

}  // namespace

TEST_CASE("executor: elementwise vector ops match hand-computed values", "[executor]") {
  const SramTile a = tile(0, 2, 3), b = tile(256, 2, 3), c = tile(512, 2, 3);
  auto run = [&](VecOp op, float imm = 0.f) {
    Harness h;
    h.input(a, kA);
    h.input(b, kB);
    h.op(vec(op, a, b, c, imm));
    h.output(c);
    return h.run()[0];
  };
  check_close(run(VecOp::Add), {1.5f, -1, 2, 1.5f, -3, 2.25f});
  check_close(run(VecOp::Mul), {0.5f, -2, -3, -1, 0, 0.5f});
  check_close(run(VecOp::Scale, 2.f), {2, -4, 6, -1, 0, 4});
  check_close(run(VecOp::AddRow), {1.5f, -1, 2, 0, 1, 1});  // b row 0 = (0.5, 1, -1) on both rows
  check_close(run(VecOp::Copy), kA);
  check_close(run(VecOp::Relu), {1, 0, 3, 0, 0, 2});
  // gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), worked out to 7 digits.
  check_close(run(VecOp::Gelu), {0.841192f, -0.0454023f, 2.9963626f, -0.154286f, 0, 1.9545977f});
  // silu(a) * b: silu(1) = 0.7310586, silu(-2) = -0.2384058, silu(3) = 2.8577224, silu(-0.5) =
  // -0.1887703, silu(0) = 0, silu(2) = 1.7615942.
  check_close(run(VecOp::SwiGlu), {0.3655293f, -0.2384058f, -2.8577224f, -0.3775407f, 0, 0.4403985f});
  check_close(run(VecOp::Exp), {std::exp(1.f), std::exp(-2.f), std::exp(3.f), std::exp(-0.5f), 1, std::exp(2.f)});
}

TEST_CASE("executor: layer norm, RMS norm and row reductions", "[executor]") {
  // Row 0 = (1, 2, 3, 4): mean 2.5, variance 1.25, mean square 7.5. Row 1 random (checked against
  // the reference). gamma = (1, 2, 1, 0.5), beta = (0, 0, 1, -1).
  std::vector<float> x = {1, 2, 3, 4};
  const std::vector<float> row1 = ref::random_values(4, 7);
  x.insert(x.end(), row1.begin(), row1.end());
  const std::vector<float> params = {1, 2, 1, 0.5f, 0, 0, 1, -1};
  const SramTile a = tile(0, 2, 4), p = tile(256, 2, 4), c = tile(512, 2, 4);

  SECTION("layer norm") {
    Harness h;
    h.input(a, x);
    h.input(p, params);
    h.op(vec(VecOp::LayerNorm, a, p, c));
    h.output(c);
    const std::vector<float> y = h.run()[0];
    // (x - 2.5) / sqrt(1.25 + 1e-5) = (-1.3416354, -0.4472118, 0.4472118, 1.3416354), then gamma, beta.
    check_close({y.begin(), y.begin() + 4}, {-1.3416354f, -0.8944236f, 1.4472118f, -0.3291823f});
    CHECK(ref::max_rel_error(y, ref::layernorm(x, 2, 4, params)) < 1e-6);
  }
  SECTION("RMS norm reads gamma from row 0 only") {
    const SramTile gamma = tile(256, 1, 4);
    Harness h;
    h.input(a, x);
    h.input(gamma, {1, 2, 1, 0.5f});
    h.op(vec(VecOp::RmsNorm, a, gamma, c));
    h.output(c);
    const std::vector<float> y = h.run()[0];
    // x / sqrt(7.5 + 1e-5) * gamma.
    check_close({y.begin(), y.begin() + 4}, {0.3651481f, 1.4605925f, 1.0954444f, 0.7302963f});
    CHECK(ref::max_rel_error(y, ref::rmsnorm(x, 2, 4, {1, 2, 1, 0.5f})) < 1e-6);
  }
  SECTION("row max and row sum write column 0 of c only") {
    const std::vector<float> v = {1, 5, -2, 3, -1, -4, -0.5f, -7};
    const SramTile out = tile(512, 2, 2);  // column 1 is never written: stays NaN
    for (VecOp op : {VecOp::RowMax, VecOp::RowSum}) {
      Harness h;
      h.input(a, v);
      h.op(vec(op, a, {}, out));
      h.output(out);
      const std::vector<float> y = h.run()[0];
      CHECK(y[0] == (op == VecOp::RowMax ? 5.f : 7.f));
      CHECK(y[2] == (op == VecOp::RowMax ? -0.5f : -12.5f));
      CHECK(std::isnan(y[1]));
      CHECK(std::isnan(y[3]));
    }
  }
}

TEST_CASE("executor: L2 norm divides each row by its norm, clamped at 1e-12", "[executor]") {
  SECTION("by hand, in place on a strided tile") {
    // (3, 4, 0): norm 5. (1, 2, 2): norm 3. (0, 0, 0): 0 / 1e-12 = 0. (1e-13, 0, 0): the norm
    // 1e-13 is clamped to 1e-12, giving 0.1.
    const SramTile a = tile(0, 4, 3, 5);
    Harness h;
    h.input(a, {3, 4, 0, 1, 2, 2, 0, 0, 0, 1e-13f, 0, 0});
    h.op(vec(VecOp::L2Norm, a, {}, a));
    h.output(a);
    check_close(h.run()[0], {0.6f, 0.8f, 0, 1 / 3.f, 2 / 3.f, 2 / 3.f, 0, 0, 0, 0.1f, 0, 0});
  }
  SECTION("matches the reference on random rows, fp16 source into an fp32 tile") {
    const std::vector<float> x = ref::random_values(6 * 9, 17);
    const SramTile a = tile(0, 6, 9, 12, 2), c = tile(1024, 6, 9);
    Harness h;
    h.input(a, x, 2);
    h.op(vec(VecOp::L2Norm, a, {}, c));
    h.output(c);
    const std::vector<float> y = h.run()[0];
    CHECK(ref::max_rel_error(y, ref::l2_normalize_rows(x, 6, 9)) < 1e-6);
    for (int r = 0; r < 6; ++r) {
      double sq = 0;
      for (int j = 0; j < 9; ++j) sq += double(y[r * 9 + j]) * y[r * 9 + j];
      CHECK(sq == Approx(1).epsilon(1e-6));
    }
  }
}

TEST_CASE("executor: FAVOR+ feature maps and the column division by hand", "[executor]") {
  // Tokens x0 = (1, 1), x1 = (2, 0): |x0|^2 = 2, |x1|^2 = 4. imm = 0.5 (d^(-1/4) for d = 16), so the
  // norm terms are imm^2 |x|^2 / 2 = 0.25 and 0.5; m = 3 features, 1 / sqrt(3).
  // Token 0 with projections (0, 2, -2): exp(0 - 0.25), exp(1 - 0.25), exp(-1 - 0.25), over sqrt(3).
  // Token 1 with projections (4, 0, 1):  exp(2 - 0.5), exp(0 - 0.5), exp(0.5 - 0.5), over sqrt(3).
  const float r3 = 1 / std::sqrt(3.f);
  const std::vector<float> want = {std::exp(-0.25f) * r3, std::exp(0.75f) * r3, std::exp(-1.25f) * r3,
                                   std::exp(1.5f) * r3,   std::exp(-0.5f) * r3, r3};
  SECTION("FavorRows: one token per row, tokens in a strided fp16 tile") {
    const SramTile a = tile(0, 2, 3), x = tile(256, 2, 2, 4, 2), c = tile(512, 2, 3);
    Harness h;
    h.input(a, {0, 2, -2, 4, 0, 1});
    h.input(x, {1, 1, 2, 0}, 2);
    h.op(vec(VecOp::FavorRows, a, x, c, 0.5f));
    h.output(c);
    check_close(h.run()[0], want);
  }
  SECTION("FavorCols: one token per column, the transpose of the same features; in place") {
    const SramTile a = tile(0, 3, 2), x = tile(256, 2, 2);
    Harness h;
    h.input(a, {0, 4, 2, 0, -2, 1});
    h.input(x, {1, 1, 2, 0});
    h.op(vec(VecOp::FavorCols, a, x, a, 0.5f));
    h.output(a);
    check_close(h.run()[0], {want[0], want[3], want[1], want[4], want[2], want[5]});
  }
  SECTION("a zero projection and a zero token give 1 / sqrt(m): no max is subtracted") {
    const SramTile a = tile(0, 1, 4), x = tile(256, 1, 3), c = tile(512, 1, 4);
    Harness h;
    h.input(a, {0, 0, 0, 0});
    h.input(x, {0, 0, 0});
    h.op(vec(VecOp::FavorRows, a, x, c, 0.7f));
    h.output(c);
    check_close(h.run()[0], {0.5f, 0.5f, 0.5f, 0.5f});
  }
  SECTION("DivCol divides each row by column 0 of b, in place") {
    // kA rows (1, -2, 3) / 2 and (-0.5, 0, 2) / -0.5; b's column 1 is never read.
    const SramTile a = tile(0, 2, 3), b = tile(256, 2, 2);
    Harness h;
    h.input(a, kA);
    h.input(b, {2, 100, -0.5f, 100});
    h.op(vec(VecOp::DivCol, a, b, a));
    h.output(a);
    check_close(h.run()[0], {0.5f, -1, 1.5f, 1, 0, -4});
  }
}

TEST_CASE("executor: Nystromformer's column-mean accumulation, c I - a and the scalar division", "[executor]") {
  SECTION("ColMeanAcc: a segment's mean over two tiles, the first of which starts it") {
    // Rows (1, 2), (3, 4) then (5, 6) of a segment of 3 rows: imm = 1/3, mean (3, 4); the row of c
    // sits in row 1 of a 2 x 2 fp32 buffer, row 0 untouched.
    const SramTile t1 = tile(0, 2, 2), t2 = tile(64, 1, 2), c = tile(128, 1, 2), whole = tile(120, 2, 2);
    Harness h;
    h.input(whole, {7, 8, 100, 100});  // c's old contents (100, 100) must be ignored when `first`
    h.input(t1, {1, 2, 3, 4});
    h.input(t2, {5, 6});
    Instr first = vec(VecOp::ColMeanAcc, t1, {}, c, 1.f / 3);
    first.first = true;
    h.op(first);
    h.op(vec(VecOp::ColMeanAcc, t2, {}, c, 1.f / 3));
    h.output(whole);
    check_close(h.run()[0], {7, 8, 3, 4}, 1e-6);
  }
  SECTION("ColMeanAcc with imm = 1: column sums") {
    const SramTile a = tile(0, 3, 3), c = tile(64, 1, 3);
    Harness h;
    h.input(a, {1, 2, 3, 4, 5, 6, 7, 8, 9.5f});
    Instr in = vec(VecOp::ColMeanAcc, a, {}, c, 1.f);
    in.first = true;
    h.op(in);
    h.output(c);
    check_close(h.run()[0], {12, 15, 18.5f});
  }
  SECTION("IdentMinus: imm on the diagonal minus a, in place") {
    const SramTile a = tile(0, 2, 2);
    Harness h;
    h.input(a, {1, 2, -3, 4});
    h.op(vec(VecOp::IdentMinus, a, {}, a, 7.f));
    h.output(a);
    check_close(h.run()[0], {6, -2, 3, 3});
  }
  SECTION("DivScalar: every element over b[0, 0]") {
    const SramTile a = tile(0, 2, 3), b = tile(64, 1, 2), c = tile(128, 2, 3);
    Harness h;
    h.input(a, kA);
    h.input(b, {-2, 100});
    h.op(vec(VecOp::DivScalar, a, b, c));
    h.output(c);
    check_close(h.run()[0], {-0.5f, 1, -1.5f, 0.25f, 0, -1});
  }
  SECTION("shape errors: ColMeanAcc's c not one row of a's width, IdentMinus not square") {
    {
      Harness h;
      h.input(tile(0, 2, 3), {1, 2, 3, 4, 5, 6});
      h.op(vec(VecOp::ColMeanAcc, tile(0, 2, 3), {}, tile(64, 1, 2), 1.f));
      CHECK_THROWS_AS(h.run(), InternalError);
    }
    Harness h;
    h.input(tile(0, 2, 3), {1, 2, 3, 4, 5, 6});
    h.op(vec(VecOp::IdentMinus, tile(0, 2, 3), {}, tile(64, 2, 3), 1.f));
    CHECK_THROWS_AS(h.run(), InternalError);
  }
}

TEST_CASE("executor: prefix mean carries the running sum across tiles", "[executor]") {
  // X (5 x 2) = (1, 2), (3, 4), (5, 0), (-1, 6), (2, -2): prefix sums (1, 2), (4, 6), (9, 6), (8, 12),
  // (10, 10); prefix means (1, 2), (2, 3), (3, 2), (2, 3), (2, 2).
  const std::vector<float> x0 = {1, 2, 3, 4}, x1 = {5, 0, -1, 6, 2, -2};
  auto prefix_mean = [](const SramTile& a, const SramTile& carry, const SramTile& c, float rows_before, bool first) {
    Instr in = vec(VecOp::PrefixMean, a, carry, c, rows_before);
    in.first = first;
    return in;
  };

  SECTION("two tiles by hand: rows 0-1 (first), then rows 2-4 after 2 rows") {
    const SramTile a0 = tile(0, 2, 2), a1 = tile(64, 3, 2), carry = tile(128, 1, 2), c0 = tile(256, 2, 2),
                   c1 = tile(320, 3, 2);
    Harness h;
    h.input(a0, x0);
    h.input(a1, x1);
    h.op(prefix_mean(a0, carry, c0, 0, true));  // the carry was never written: `first` does not read it
    h.output(c0);
    h.output(carry);
    h.op(prefix_mean(a1, carry, c1, 2, false));
    h.output(c1);
    h.output(carry);
    const auto r = h.run();
    check_close(r[0], {1, 2, 2, 3});
    check_close(r[1], {4, 6});  // rows 0-1 summed
    check_close(r[2], {3, 2, 2, 3, 2, 2});
    check_close(r[3], {10, 10});  // all five rows summed
  }
  SECTION("a carry and a position from before the program") {
    // As if rows 0-1 had been done elsewhere: carry (4, 6), imm 2. Strided tile, c aliasing a.
    const SramTile a = tile(0, 3, 2, 4), carry = tile(128, 1, 2);
    Harness h;
    h.input(a, x1);
    h.input(carry, {4, 6});
    h.op(prefix_mean(a, carry, a, 2, false));
    h.output(a);
    h.output(carry);
    const auto r = h.run();
    check_close(r[0], {3, 2, 2, 3, 2, 2});
    check_close(r[1], {10, 10});
  }
  SECTION("`first` drops whatever the carry holds") {
    const SramTile a = tile(0, 2, 2), carry = tile(128, 1, 2);
    Harness h;
    h.input(a, x0);
    h.input(carry, {100, -100});
    h.op(prefix_mean(a, carry, a, 0, true));
    h.output(a);
    h.output(carry);
    const auto r = h.run();
    check_close(r[0], {1, 2, 2, 3});
    check_close(r[1], {4, 6});
  }
  SECTION("strided tiles of uneven heights match the reference") {
    // 11 x 5 in tiles of 4, 1, 3, 3 rows; fp16 sources with a row stride of 8, fp32 results in place.
    constexpr std::uint32_t kCols = 5;
    const std::vector<float> x = ref::random_values(11 * kCols, 23);
    const std::uint32_t heights[] = {4, 1, 3, 3};
    const SramTile carry = tile(4096, 1, kCols);
    Harness h;
    std::uint32_t row0 = 0;
    std::vector<SramTile> tiles;
    for (std::uint32_t i = 0; i < 4; ++i) {
      const SramTile a = tile(i * 512, heights[i], kCols, 8, 2), c = tile(2048 + i * 256, heights[i], kCols);
      h.input(a, {x.begin() + row0 * kCols, x.begin() + (row0 + heights[i]) * kCols}, 2);
      h.op(prefix_mean(a, carry, c, float(row0), i == 0));
      tiles.push_back(c);
      row0 += heights[i];
    }
    for (const SramTile& c : tiles) h.output(c);
    h.output(carry);
    const auto r = h.run();
    std::vector<float> y;
    for (int i = 0; i < 4; ++i) y.insert(y.end(), r[i].begin(), r[i].end());
    CHECK(ref::max_rel_error(y, ref::prefix_mean_rows(x, 11, kCols)) < 1e-6);
    std::vector<float> total(kCols, 0.f);
    for (std::uint32_t i = 0; i < 11 * kCols; ++i) total[i % kCols] += x[i];
    check_close(r[4], total, 1e-5);
  }
}

TEST_CASE("executor: a missing dependency on the prefix-mean carry shows under a random order", "[executor]") {
  // Three PrefixMean tiles of 2 rows continuing a mean over 4 earlier rows: the carry (their sum) is
  // loaded after the inputs, and stored before the means. Dependencies only, no barriers.
  constexpr std::uint32_t kCols = 3, kRows = 6, kBefore = 4;
  const std::vector<float> x = ref::random_values(kRows * kCols, 51), carry_in = {1.5f, -2, 0.25f};
  auto build = [&](bool carry_load_dep, bool carry_store_dep) {
    TileProgram p;
    p.tensors = {{"x", 0, kRows, kCols, 4},
                 {"carry_in", 4096, 1, kCols, 4},
                 {"y", 8192, kRows, kCols, 4},
                 {"carry_out", 12288, 1, kCols, 4}};
    const SramTile carry = tile(4096, 1, kCols);
    std::uint32_t loads[3], means[3];
    for (std::uint32_t j = 0; j < 3; ++j) {
      Instr ld = transfer(Opcode::Load, p, 0, tile(j * 256, 2, kCols));
      ld.dram_addr += j * 2 * kCols * 4;
      ld.rows = 2;
      loads[j] = p.add(ld);
    }
    const std::uint32_t load_carry = p.add(transfer(Opcode::Load, p, 1, carry));
    for (std::uint32_t j = 0; j < 3; ++j) {
      Instr pm = vec(VecOp::PrefixMean, tile(j * 256, 2, kCols), carry, tile(1024 + j * 256, 2, kCols),
                     float(kBefore + 2 * j));
      pm.add_dep(loads[j]);
      if (j == 0 && carry_load_dep) pm.add_dep(load_carry);
      means[j] = p.add(pm);
    }
    Instr st = transfer(Opcode::Store, p, 3, carry);
    if (carry_store_dep) st.add_dep(means[2]);
    p.add(st);
    for (std::uint32_t j = 0; j < 3; ++j) {
      Instr out = transfer(Opcode::Store, p, 2, tile(1024 + j * 256, 2, kCols));
      out.dram_addr += j * 2 * kCols * 4;
      out.rows = 2;
      out.add_dep(means[j]);
      p.add(out);
    }
    return p;
  };
  // The expected means and carry: row i of y = (carry_in + x_0 + ... + x_i) / (kBefore + i + 1).
  std::vector<float> want_y(kRows * kCols), want_carry(kCols);
  for (std::uint32_t c = 0; c < kCols; ++c) {
    double sum = carry_in[c];
    for (std::uint32_t i = 0; i < kRows; ++i) {
      sum += x[i * kCols + c];
      want_y[i * kCols + c] = float(sum / (kBefore + i + 1));
    }
    want_carry[c] = float(sum);
  }
  auto right = [&](const TileProgram& p, std::uint64_t seed) {
    Executor e(p, kSram);
    e.set_tensor(0, x);
    e.set_tensor(1, carry_in);
    e.run(seed);
    return ref::max_rel_error(e.tensor(2), want_y) < 1e-6 && ref::max_rel_error(e.tensor(3), want_carry) < 1e-6;
  };
  auto wrong_under_some_seed = [&](const TileProgram& p) {
    bool wrong = false;
    for (std::uint64_t seed = 1; seed <= 20; ++seed) wrong |= !right(p, seed);
    return wrong;
  };
  const TileProgram good = build(true, true);
  for (std::uint64_t seed = 0; seed <= 20; ++seed) CHECK(right(good, seed));
  SECTION("read after write: the first mean no longer waits for the carry's LOAD") {
    const TileProgram bad = build(false, true);
    CHECK(right(bad, 0));  // program order happens to be right
    CHECK(wrong_under_some_seed(bad));
  }
  SECTION("the carry's STORE no longer waits for the last mean") {
    const TileProgram bad = build(true, false);
    CHECK(right(bad, 0));
    CHECK(wrong_under_some_seed(bad));
  }
}

TEST_CASE("executor: softmax rows with scale, causal mask and in place", "[executor]") {
  // scale 0.5 on (0, 2 ln 2, 2 ln 3) gives exponents (1, 2, 3): softmax (1/6, 2/6, 3/6).
  const float l2 = 2 * std::log(2.f), l3 = 2 * std::log(3.f);
  const std::vector<float> s = {0, l2, l3, 0, l2, l3};
  const SramTile a = tile(0, 2, 3, 4);  // strided: 4 elements between rows
  SECTION("whole rows, written over the scores") {
    Harness h;
    h.input(a, s);
    h.op(sm(SmOp::Rows, a, {}, a, 0.5f));
    h.output(a);
    check_close(h.run()[0], {1 / 6.f, 2 / 6.f, 3 / 6.f, 1 / 6.f, 2 / 6.f, 3 / 6.f});
  }
  SECTION("causal: row r keeps columns j <= r + mask_offset") {
    Harness h;
    h.input(a, s);
    h.op(causal(sm(SmOp::Rows, a, {}, tile(256, 2, 3), 0.5f), 0));
    h.op(causal(sm(SmOp::Rows, a, {}, tile(512, 2, 3), 0.5f), 1));
    h.output(tile(256, 2, 3));
    h.output(tile(512, 2, 3));
    const auto out = h.run();
    check_close(out[0], {1, 0, 0, 1 / 3.f, 2 / 3.f, 0});
    check_close(out[1], {1 / 3.f, 2 / 3.f, 0, 1 / 6.f, 2 / 6.f, 3 / 6.f});
  }
  SECTION("matches the reference on random scores") {
    const std::vector<float> x = ref::random_values(5 * 7, 3);
    const SramTile t = tile(0, 5, 7);
    Harness h;
    h.input(t, x);
    h.op(causal(sm(SmOp::Rows, t, {}, t, 1.7f), 0));
    h.output(t);
    CHECK(ref::max_rel_error(h.run()[0], ref::softmax_rows(x, 5, 7, 1.7f, true)) < 1e-6);
  }
}

TEST_CASE("executor: online softmax steps, rescale and normalize by hand", "[executor]") {
  // Two rows over two key tiles of 3 keys, scale 0.5 (so scaled scores are half the inputs):
  //   row 0, tile 0: scaled (0, ln 2, ln 3): m = ln 3, p = (1/3, 2/3, 1), l = 2, alpha = 0 (first)
  //   row 0, tile 1: scaled (ln 6, 0, 0):    m = ln 6, p = (1, 1/6, 1/6), alpha = 3/6 = 1/2,
  //                                          l = 1/2 * 2 + 4/3 = 7/3
  //   row 1, tile 0: scaled (ln 4, 0, 0):    m = ln 4, p = (1, 1/4, 1/4), l = 3/2
  //   row 1, tile 1: scaled (2.5, 2.5, 2.5): m = 2.5, p = (1, 1, 1), alpha = a1 = exp(ln 4 - 2.5),
  //                                          l = 3/2 a1 + 3
  // Rescale multiplies the running output (6; 8) by alpha (1/2; a1), Normalize divides by l.
  const float l2 = 2 * std::log(2.f), l3 = 2 * std::log(3.f), l4 = 2 * std::log(4.f), l6 = 2 * std::log(6.f);
  const float a1 = std::exp(std::log(4.f) - 2.5f);
  const SramTile s0 = tile(0, 2, 3), s1 = tile(64, 2, 3), stats = tile(128, 2, 3, 4), p0 = tile(256, 2, 3),
                 p1 = tile(320, 2, 3, 0, 2), o = tile(384, 2, 3), out = tile(512, 2, 3);
  const std::vector<float> s0_values = {0, l2, l3, l4, 0, 0}, s1_values = {l6, 0, 0, 5, 5, 5};

  SECTION("two steps, rescale, normalize") {
    Harness h;
    h.input(s0, s0_values);
    h.input(s1, s1_values);
    h.input(o, {6, 6, 6, 8, 8, 8});
    h.op(sm(SmOp::OnlineStep, s0, stats, p0, 0.5f, true));  // stats never written: `first` ignores them
    h.output(p0);
    h.output(stats);
    h.op(sm(SmOp::OnlineStep, s1, stats, p1, 0.5f));
    h.output(p1, 2);
    h.output(stats);
    h.op(sm(SmOp::Rescale, {}, stats, o));
    h.output(o);
    h.op(sm(SmOp::Normalize, o, stats, out));
    h.output(out);
    const auto r = h.run();
    check_close(r[0], {1 / 3.f, 2 / 3.f, 1, 1, 0.25f, 0.25f});
    check_close(r[1], {std::log(3.f), 2, 0, std::log(4.f), 1.5f, 0});
    check_close(r[2], {1, 1 / 6.f, 1 / 6.f, 1, 1, 1});
    check_close(r[3], {std::log(6.f), 7 / 3.f, 0.5f, 2.5f, 1.5f * a1 + 3, a1});
    check_close(r[4], {3, 3, 3, 8 * a1, 8 * a1, 8 * a1});
    const float n0 = 3 / (7 / 3.f), n1 = 8 * a1 / (1.5f * a1 + 3);
    check_close(r[5], {n0, n0, n0, n1, n1, n1});
  }
  SECTION("a row masked out of a later tile keeps its statistics") {
    // mask_offset -1 on tile 1: row 0 keeps j <= -1 (nothing), row 1 keeps j <= 0.
    //   row 0: p = 0, alpha = 1, m = ln 3 and l = 2 unchanged
    //   row 1: m = 2.5, p = (1, 0, 0), alpha = a1, l = 3/2 a1 + 1
    Harness h;
    h.input(s0, s0_values);
    h.input(s1, s1_values);
    h.op(sm(SmOp::OnlineStep, s0, stats, p0, 0.5f, true));
    h.op(causal(sm(SmOp::OnlineStep, s1, stats, p1, 0.5f), -1));
    h.output(p1, 2);
    h.output(stats);
    const auto r = h.run();
    check_close(r[0], {0, 0, 0, 1, 0, 0});
    check_close(r[1], {std::log(3.f), 2, 1, 2.5f, 1.5f * a1 + 1, a1});
  }
}

TEST_CASE("executor: GEMM with strided tiles and a transposed operand", "[executor]") {
  const std::vector<float> a = ref::random_values(3 * 5, 1), b = ref::random_values(5 * 4, 2),
                           c0 = ref::random_values(3 * 4, 3);
  const std::vector<float> want = ref::matmul(a, b, 3, 5, 4);
  const SramTile at = tile(0, 3, 5, 7, 2), ct = tile(1024, 3, 4, 6);
  SECTION("b as stored") {
    const SramTile bt = tile(256, 5, 4, 9, 2);
    Harness h;
    h.input(at, a, 2);
    h.input(bt, b, 2);
    h.op(gemm(at, bt, ct));
    h.output(ct);
    CHECK(ref::max_rel_error(h.run()[0], want) < 1e-6);
  }
  SECTION("b stored transposed (n x k)") {
    const SramTile bt = tile(256, 4, 5, 8, 2);
    Harness h;
    h.input(at, a, 2);
    h.input(bt, ref::transpose(b, 5, 4), 2);
    h.op(gemm(at, bt, ct, false, true));
    h.output(ct);
    CHECK(ref::max_rel_error(h.run()[0], want) < 1e-6);
  }
  SECTION("accumulate adds to c") {
    const SramTile bt = tile(256, 5, 4);
    Harness h;
    h.input(at, a, 2);
    h.input(bt, b, 2);
    h.input(ct, c0);
    h.op(gemm(at, bt, ct, true));
    h.output(ct);
    CHECK(ref::max_rel_error(h.run()[0], ref::add(c0, want)) < 1e-6);
  }
}

TEST_CASE("executor: online softmax over three key tiles equals softmax attention", "[executor]") {
  // A flash-attention program built by hand: Q (12 x 8) in one strided fp16 tile, K and V in three
  // tiles of 4 keys each, S and P double-buffered with WAR dependencies, O accumulated in fp32.
  constexpr std::uint32_t kN = 12, kD = 8, kT = 4, kTiles = kN / kT;
  const float scale = 1 / std::sqrt(float(kD));
  const bool is_causal = GENERATE(false, true);
  INFO("causal " << is_causal);

  TileProgram p;
  p.tensors = {{"Q", 0, kN, kD, 2}, {"K", 4096, kN, kD, 2}, {"V", 8192, kN, kD, 2}, {"O", 12288, kN, kD, 2}};
  const SramTile q = tile(0, kN, kD, 10, 2);
  auto kv_tile = [&](int which, std::uint32_t j) { return tile(256 + (which * kTiles + j) * 64, kT, kD, 0, 2); };
  const SramTile s[2] = {tile(1024, kN, kT), tile(1280, kN, kT)};
  const SramTile pt[2] = {tile(1536, kN, kT, 0, 2), tile(1664, kN, kT, 0, 2)};
  const SramTile o = tile(2048, kN, kD), stats = tile(2560, kN, 3), out = tile(3072, kN, kD, 0, 2);
  auto block_load = [&](int t, std::uint32_t row0, const SramTile& dst) {
    Instr in = transfer(Opcode::Load, p, t, dst);
    in.dram_addr += std::uint64_t(row0) * kD * 2;
    in.rows = dst.rows;
    return p.add(in);
  };
  const std::uint32_t lq = block_load(0, 0, q);
  std::uint32_t lk[kTiles], lv[kTiles];
  for (std::uint32_t j = 0; j < kTiles; ++j) {
    lk[j] = block_load(1, j * kT, kv_tile(0, j));
    lv[j] = block_load(2, j * kT, kv_tile(1, j));
  }
  std::uint32_t step_of[kTiles], pv_of[kTiles];
  for (std::uint32_t j = 0; j < kTiles; ++j) {
    Instr qk = gemm(q, kv_tile(0, j), s[j % 2], false, true);
    qk.add_dep(lq);
    qk.add_dep(lk[j]);
    if (j >= 2) qk.add_dep(step_of[j - 2]);  // S buffer free once its step has read it
    const std::uint32_t g = p.add(qk);
    Instr step = sm(SmOp::OnlineStep, s[j % 2], stats, pt[j % 2], scale, j == 0);
    if (is_causal) step = causal(step, -std::int32_t(j * kT));
    step.add_dep(g);
    if (j >= 2) step.add_dep(pv_of[j - 2]);  // P buffer free once its P V has read it
    if (j >= 1) step.add_dep(step_of[j - 1]);
    step_of[j] = p.add(step);
    Instr pv = gemm(pt[j % 2], kv_tile(1, j), o, j > 0);
    pv.add_dep(step_of[j]);
    pv.add_dep(lv[j]);
    if (j >= 1) {
      Instr rs = sm(SmOp::Rescale, {}, stats, o);
      rs.add_dep(step_of[j]);
      rs.add_dep(pv_of[j - 1]);
      pv.add_dep(p.add(rs));
    }
    pv_of[j] = p.add(pv);
  }
  Instr norm = sm(SmOp::Normalize, o, stats, out);
  norm.add_dep(pv_of[kTiles - 1]);
  Instr st = transfer(Opcode::Store, p, 3, out);
  st.add_dep(p.add(norm));
  p.add(st);

  const std::vector<float> qv = ref::random_values(kN * kD, 11), kv = ref::random_values(kN * kD, 12),
                           vv = ref::random_values(kN * kD, 13);
  const std::vector<float> want = ref::attention(qv, kv, vv, kN, kD, scale, is_causal);
  for (std::uint64_t seed : {0, 1, 2, 3}) {
    INFO("seed " << seed);
    Executor e(p, kSram);
    e.set_tensor(0, qv);
    e.set_tensor(1, kv);
    e.set_tensor(2, vv);
    e.run(seed);
    CHECK(ref::max_rel_error(e.tensor(3), want) < 1e-5);
  }
}

TEST_CASE("executor: the GEMM lowering computes A B for several shapes and SRAM sizes in any legal order",
          "[executor]") {
  struct Hw {
    int rows, cols;
    const char* df;
    int banks;
    std::int64_t bank_bytes;
  };
  const Hw hws[] = {{8, 8, "os", 2, 4096}, {16, 16, "ws", 4, 16384}, {4, 8, "is", 2, 2048}, {32, 32, "os", 8, 65536}};
  const GemmDims shapes[] = {{1, 1, 1}, {16, 16, 16}, {64, 48, 80}, {100, 70, 130}, {33, 200, 17}, {128, 96, 64}};
  int tiled = 0, k_split = 0;
  for (const Hw& x : hws) {
    const HwConfig hw = hw_with(x.rows, x.cols, x.df, x.banks, x.bank_bytes);
    for (const GemmDims& d : shapes) {
      INFO(x.rows << "x" << x.cols << " " << x.df << " " << x.banks << " x " << x.bank_bytes << " B, M=" << d.m
                  << " K=" << d.k << " N=" << d.n);
      const TileProgram p = lower_gemm(hw, d);
      int stores = 0;
      for (const Instr& in : p.instrs) {
        stores += in.op == Opcode::Store;
        k_split += in.op == Opcode::Gemm && in.accumulate;
      }
      tiled += stores > 1;
      const std::vector<float> a = ref::random_values(d.m * d.k, 21), b = ref::random_values(d.k * d.n, 22);
      const std::vector<float> want = ref::matmul(a, b, d.m, d.k, d.n);
      for (std::uint64_t seed : {0, 1, 2, 3}) {
        INFO("seed " << seed);
        CHECK(ref::max_rel_error(run_gemm_program(p, hw, a, b, seed), want) < 1e-5);
      }
    }
  }
  // The sweep covers programs with several output tiles and with K split over accumulating GEMMs.
  CHECK(tiled > 4);
  CHECK(k_split > 0);
}

TEST_CASE("executor: a missing dependency gives wrong numbers under some random order", "[executor]") {
  const HwConfig hw = hw_with(8, 8, "os", 2, 4096);
  const GemmDims d{64, 64, 64};
  const TileProgram good = lower_gemm(hw, d);
  const std::vector<float> a = ref::random_values(d.m * d.k, 31), b = ref::random_values(d.k * d.n, 32);
  const std::vector<float> want = ref::matmul(a, b, d.m, d.k, d.n);
  auto wrong_under_some_seed = [&](const TileProgram& p) {
    bool wrong = false;
    for (std::uint64_t seed = 1; seed <= 10; ++seed)
      wrong |= !(ref::max_rel_error(run_gemm_program(p, hw, a, b, seed), want) < 1e-5);
    return wrong;
  };
  REQUIRE_FALSE(wrong_under_some_seed(good));

  SECTION("write after read: loads no longer wait for the GEMM reading the buffer they overwrite") {
    TileProgram bad = good;
    int removed = 0;
    for (Instr& in : bad.instrs)
      if (in.op == Opcode::Load) removed += in.num_deps, in.num_deps = 0;
    REQUIRE(removed > 0);
    // Program order still happens to be right: only a reordering exposes the hazard.
    CHECK(ref::max_rel_error(run_gemm_program(bad, hw, a, b, 0), want) < 1e-5);
    CHECK(wrong_under_some_seed(bad));
  }
  SECTION("read after write: the first GEMM no longer waits for its B tile") {
    TileProgram bad = good;
    for (Instr& in : bad.instrs)
      if (in.op == Opcode::Gemm) {
        REQUIRE(in.num_deps == 2);
        in.num_deps = 1;  // keeps the A load, drops the B load
        break;
      }
    CHECK(ref::max_rel_error(run_gemm_program(bad, hw, a, b, 0), want) < 1e-5);
    CHECK(wrong_under_some_seed(bad));
  }
}

TEST_CASE("executor: barriers order instructions that have no dependencies", "[executor]") {
  // LOAD x -> s0, Scale s0 -> s1, STORE s1 on three units, with no dependencies at all: only the
  // barriers between them keep the order.
  const std::vector<float> x = {1, 2, 3, 4};
  auto build = [&](bool barriers) {
    TileProgram p;
    p.tensors = {{"x", 0, 1, 4, 4}, {"y", 4096, 1, 4, 4}};
    p.add(transfer(Opcode::Load, p, 0, tile(0, 1, 4)));
    if (barriers) p.add(Instr{});
    p.add(vec(VecOp::Scale, tile(0, 1, 4), {}, tile(64, 1, 4), 3.f));
    if (barriers) p.add(Instr{});
    p.add(transfer(Opcode::Store, p, 1, tile(64, 1, 4)));
    return p;
  };
  auto result = [&](const TileProgram& p, std::uint64_t seed) {
    Executor e(p, kSram);
    e.set_tensor(0, x);
    e.run(seed);
    return e.tensor(1);
  };
  const std::vector<float> want = {3, 6, 9, 12};
  const TileProgram with = build(true), without = build(false);
  bool without_wrong = false;
  for (std::uint64_t seed = 0; seed <= 10; ++seed) {
    INFO("seed " << seed);
    CHECK(result(with, seed) == want);
    without_wrong |= ref::max_rel_error(result(without, seed), want) > 0;
  }
  CHECK(without_wrong);
}

TEST_CASE("executor: unwritten SRAM and unset tensors read as NaN", "[executor]") {
  SECTION("columns never loaded") {
    Harness h;
    h.input(tile(0, 2, 2, 3), {1, 2, 3, 4});
    h.output(tile(0, 2, 3));
    const std::vector<float> y = h.run()[0];
    CHECK(y[0] == 1);
    CHECK(y[1] == 2);
    CHECK(std::isnan(y[2]));
    CHECK(y[3] == 3);
    CHECK(y[4] == 4);
    CHECK(std::isnan(y[5]));
  }
  SECTION("a tensor never set") {
    TileProgram p;
    p.tensors = {{"x", 0, 2, 2, 4}, {"y", 4096, 2, 2, 4}};
    p.add(transfer(Opcode::Load, p, 0, tile(0, 2, 2)));
    p.add(transfer(Opcode::Store, p, 1, tile(0, 2, 2)));
    Executor e(p, kSram);
    e.run();
    for (float v : e.tensor(1)) CHECK(std::isnan(v));
  }
  SECTION("an fp32 tile read as fp16 elements") {
    // fp32 elements at bytes 0, 4; read as fp16 at 0, 2, 4, 6: the odd ones are inside an fp32
    // element and hold no value.
    Harness h;
    h.input(tile(0, 1, 2), {5, 6});
    h.output(tile(0, 1, 4, 0, 2), 2);
    const std::vector<float> y = h.run()[0];
    CHECK(y[0] == 5);
    CHECK(std::isnan(y[1]));
    CHECK(y[2] == 6);
    CHECK(std::isnan(y[3]));
  }
  SECTION("NaN propagates through ops, row max included") {
    Harness h;
    h.input(tile(0, 1, 2), {1, 2});  // a 1 x 4 tile with its last two elements never written
    h.op(vec(VecOp::RowMax, tile(0, 1, 4), {}, tile(256, 1, 1)));
    h.op(gemm(tile(0, 1, 4), tile(512, 4, 1), tile(768, 1, 1)));
    h.op(vec(VecOp::Relu, tile(0, 1, 4), {}, tile(1024, 1, 4)));
    h.output(tile(256, 1, 1));
    h.output(tile(768, 1, 1));
    h.output(tile(1024, 1, 4));
    const auto out = h.run();
    CHECK(std::isnan(out[0][0]));
    CHECK(std::isnan(out[1][0]));
    CHECK(out[2][0] == 1);
    CHECK(std::isnan(out[2][2]));
  }
  SECTION("an accumulating GEMM onto a never-written c") {
    Harness h;
    h.input(tile(0, 1, 1), {2});
    h.op(gemm(tile(0, 1, 1), tile(0, 1, 1), tile(64, 1, 1), true));
    h.output(tile(64, 1, 1));
    CHECK(std::isnan(h.run()[0][0]));
  }
}

TEST_CASE("executor: malformed instructions are internal errors", "[executor]") {
  auto fails = [](const Harness& h) { CHECK_THROWS_AS(h.run(), InternalError); };
  SECTION("GEMM tile shapes that disagree with m, k, n") {
    Harness h;
    Instr g = gemm(tile(0, 2, 3), tile(64, 3, 2), tile(128, 2, 2));
    g.k = 4;
    h.op(g);
    fails(h);
    Harness t;
    t.op(gemm(tile(0, 2, 3), tile(64, 3, 2), tile(128, 2, 2), false, true));  // transposed b must be 2 x 3
    fails(t);
  }
  SECTION("a tile past the end of the SRAM") {
    Harness h;
    h.op(vec(VecOp::Copy, tile(kSram - 16, 2, 4), {}, tile(0, 2, 4)));
    fails(h);
  }
  SECTION("a LOAD past the end of its tensor") {
    TileProgram p;
    p.tensors = {{"x", 0, 4, 4, 2}, {"y", 4096, 4, 4, 2}};
    Instr in = transfer(Opcode::Load, p, 0, tile(0, 4, 4, 0, 2));
    in.dram_addr += 4 * 2;  // starts at row 1: the last row falls off
    p.add(in);
    CHECK_THROWS_AS(Executor(p, kSram).run(), InternalError);
  }
  SECTION("a LOAD whose element size is not the tensor's") {
    TileProgram p;
    p.tensors = {{"x", 0, 4, 4, 2}};
    Instr in = transfer(Opcode::Load, p, 0, tile(0, 4, 2));  // 8 B rows into 2 columns: 4 B elements
    p.add(in);
    CHECK_THROWS_AS(Executor(p, kSram).run(), InternalError);
  }
  SECTION("a first online step with a row masked entirely") {
    Harness h;
    h.input(tile(0, 2, 2), {1, 2, 3, 4});
    h.op(causal(sm(SmOp::OnlineStep, tile(0, 2, 2), tile(64, 2, 3), tile(128, 2, 2), 1.f, true), -1));
    fails(h);
  }
  SECTION("a softmax row masked entirely") {
    Harness h;
    h.input(tile(0, 2, 2), {1, 2, 3, 4});
    h.op(causal(sm(SmOp::Rows, tile(0, 2, 2), {}, tile(0, 2, 2), 1.f), -1));
    fails(h);
  }
  SECTION("stats tiles must have 3 columns") {
    Harness h;
    h.op(sm(SmOp::Rescale, {}, tile(0, 2, 2), tile(64, 2, 2)));
    fails(h);
  }
  SECTION("a prefix-mean carry that is not one row of the tile's width") {
    for (const SramTile& carry : {tile(128, 2, 2), tile(128, 1, 3)}) {
      Harness h;
      h.input(tile(0, 2, 2), {1, 2, 3, 4});
      Instr in = vec(VecOp::PrefixMean, tile(0, 2, 2), carry, tile(64, 2, 2));
      in.first = true;
      h.op(in);
      fails(h);
    }
  }
  SECTION("FAVOR+ tokens that do not match the feature tile, a divisor column of the wrong height") {
    // FavorRows needs a token per row of c (2), FavorCols a token per column of c (3).
    for (VecOp op : {VecOp::FavorRows, VecOp::FavorCols}) {
      Harness h;
      h.input(tile(0, 2, 3), {1, 2, 3, 4, 5, 6});
      h.input(tile(128, op == VecOp::FavorRows ? 3 : 2, 4), std::vector<float>(op == VecOp::FavorRows ? 12 : 8, 1.f));
      h.op(vec(op, tile(0, 2, 3), tile(128, op == VecOp::FavorRows ? 3 : 2, 4), tile(256, 2, 3), 0.5f));
      fails(h);
    }
    Harness h;
    h.input(tile(0, 2, 3), {1, 2, 3, 4, 5, 6});
    h.input(tile(128, 3, 1), {1, 2, 3});
    h.op(vec(VecOp::DivCol, tile(0, 2, 3), tile(128, 3, 1), tile(256, 2, 3)));
    fails(h);
  }
  SECTION("a prefix-mean position that is not a row count") {
    for (float imm : {-1.f, 2.5f}) {
      Harness h;
      h.input(tile(0, 2, 2), {1, 2, 3, 4});
      Instr in = vec(VecOp::PrefixMean, tile(0, 2, 2), tile(128, 1, 2), tile(64, 2, 2), imm);
      in.first = true;
      h.op(in);
      fails(h);
    }
  }
}

TEST_CASE("reference: degenerate layers and attention reduce to known values", "[executor][reference]") {
  ref::Layer l;
  l.batch = 2, l.seq_len = 4, l.d_model = 8, l.heads = 2, l.head_dim = 4, l.ffn_width = 6;
  const std::vector<float> x = ref::random_values(l.tokens() * l.d_model, 41);
  SECTION("attention: causal first query sees its own value, equal scores average the values") {
    const std::vector<float> q = ref::random_values(16, 1), v = ref::random_values(16, 3);
    const std::vector<float> o = ref::attention(q, ref::random_values(16, 2), v, 4, 4, 0.5, true);
    check_close({o.begin(), o.begin() + 4}, {v.begin(), v.begin() + 4});
    const std::vector<float> avg = ref::attention(q, std::vector<float>(16, 0.f), v, 4, 4, 0.5, false);
    for (int c = 0; c < 4; ++c) CHECK(avg[c] == Approx((v[c] + v[4 + c] + v[8 + c] + v[12 + c]) / 4));
  }
  for (ref::Act act : {ref::Act::Gelu, ref::Act::Relu, ref::Act::SwiGlu})
    for (ref::Norm nk : {ref::Norm::LayerNorm, ref::Norm::RmsNorm}) {
      l.act = act, l.norm = nk;
      ref::LayerWeights w = ref::LayerWeights::random(l, 5);
      std::fill(w.wo.begin(), w.wo.end(), 0.f);
      std::fill(w.w2.begin(), w.w2.end(), 0.f);
      // With no attention output and no FFN output, a pre-norm layer is the identity and a
      // post-norm layer is the two norms.
      l.pre_norm = true;
      CHECK(ref::transformer_layer(l, w, x) == x);
      l.pre_norm = false;
      const std::vector<float> want = ref::norm(l, ref::norm(l, x, w.norm1), w.norm2);
      CHECK(ref::max_rel_error(ref::transformer_layer(l, w, x), want) < 1e-6);
    }
}

TEST_CASE("reference: L2 normalisation, prefix means and low-rank attention reduce to known values",
          "[executor][reference]") {
  SECTION("row normalisation and prefix means by hand") {
    check_close(ref::l2_normalize_rows({3, 4, 0, 0, 1e-13f, 0}, 3, 2), {0.6f, 0.8f, 0, 0, 0.1f, 0});
    // (1, 2), (3, 4), (5, 9): means (1, 2), (2, 3), (3, 5).
    check_close(ref::prefix_mean_rows({1, 2, 3, 4, 5, 9}, 3, 2), {1, 2, 2, 3, 3, 5});
  }
  SECTION("primal's sampled tokens spread evenly from the first to the last") {
    using Idx = std::vector<std::int64_t>;
    CHECK(ref::primal_sample_indices(5, 3) == Idx{0, 2, 4});
    CHECK(ref::primal_sample_indices(5, 2) == Idx{0, 4});
    CHECK(ref::primal_sample_indices(5, 1) == Idx{4});
    CHECK(ref::primal_sample_indices(10, 4) == Idx{0, 3, 6, 9});  // floor(i * 9 / 3)
    CHECK(ref::primal_sample_indices(8, 3) == Idx{0, 3, 7});      // floor(7 / 2) = 3
    CHECK(ref::primal_sample_indices(4, 4) == Idx{0, 1, 2, 3});   // p = N takes every token
  }
  SECTION("primal with p = N, identity projections and Wc = [I; I] is qn + kn + bc") {
    // N = d = s = p = 3, head 1 of a 3 x 6 input whose head-1 slice is the identity: X_s = I, so
    // WeT = WrT = I, E = qn, R = kn.
    constexpr std::int64_t kN = 3, kD = 3;
    std::vector<float> x = ref::random_values(kN * 2 * kD, 61);
    for (std::int64_t i = 0; i < kN; ++i)
      for (std::int64_t c = 0; c < kD; ++c) x[i * 2 * kD + kD + c] = i == c ? 1.f : 0.f;
    const std::vector<float> eye = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    std::vector<float> wc = eye;
    wc.insert(wc.end(), eye.begin(), eye.end());
    const std::vector<float> q = ref::random_values(kN * kD, 62), k = ref::random_values(kN * kD, 63),
                             bc = {0.5f, -1, 2};
    const std::vector<float> o = ref::primal_attention(x, kN, 2 * kD, 1, kD, q, k, kD, kN, eye, eye, wc, bc);
    const std::vector<float> want =
        ref::add(ref::add(ref::l2_normalize_rows(q, kN, kD), ref::l2_normalize_rows(k, kN, kD)),
                 {0.5f, -1, 2, 0.5f, -1, 2, 0.5f, -1, 2});
    CHECK(ref::max_rel_error(o, want) < 1e-6);
  }
  SECTION("primal with p < N picks the sampled rows of the head's slice") {
    // N = 5, p = 3 samples tokens 0, 2, 4. s = 1, We~^T = (0, 1, 0) picks token 2: WeT = X_h[2],
    // E[i] = qn_i . X_h[2]; Wr~^T = 0, so R = 0. Wc = (1, 2; 0, 0) (2 x 2), bc = (0, 1): O[i] = (E, 2E + 1).
    constexpr std::int64_t kN = 5, kD = 2, kModel = 6;
    const std::vector<float> x = ref::random_values(kN * kModel, 71), q = ref::random_values(kN * kD, 72),
                             k = ref::random_values(kN * kD, 73);
    const std::vector<float> o =
        ref::primal_attention(x, kN, kModel, 2, kD, q, k, 1, 3, {0, 1, 0}, {0, 0, 0}, {1, 2, 0, 0}, {0, 1});
    const std::vector<float> qn = ref::l2_normalize_rows(q, kN, kD);
    const float* xh2 = x.data() + 2 * kModel + 2 * kD;  // row 2, columns 4 and 5
    for (std::int64_t i = 0; i < kN; ++i) {
      const double e = double(qn[i * 2]) * xh2[0] + double(qn[i * 2 + 1]) * xh2[1];
      CHECK(o[i * 2] == Approx(e).margin(1e-6));
      CHECK(o[i * 2 + 1] == Approx(2 * e + 1).margin(1e-6));
    }
  }
  SECTION("causal primal with identity weights is the normalised prefix means, summed") {
    constexpr std::int64_t kN = 6, kD = 4;
    const std::vector<float> q = ref::random_values(kN * kD, 81), k = ref::random_values(kN * kD, 82);
    std::vector<float> eye(kD * kD, 0.f);
    for (std::int64_t i = 0; i < kD; ++i) eye[i * kD + i] = 1;
    std::vector<float> wc = eye;
    wc.insert(wc.end(), eye.begin(), eye.end());
    const std::vector<float> o =
        ref::primal_causal_attention(q, k, kN, kD, kD, eye, eye, wc, std::vector<float>(kD, 0.f));
    const std::vector<float> want = ref::add(ref::l2_normalize_rows(ref::prefix_mean_rows(q, kN, kD), kN, kD),
                                             ref::l2_normalize_rows(ref::prefix_mean_rows(k, kN, kD), kN, kD));
    CHECK(ref::max_rel_error(o, want) < 1e-6);
    // Row 0 sees token 0 only: qn_0 + kn_0.
    const std::vector<float> first = ref::add(ref::l2_normalize_rows({q.begin(), q.begin() + kD}, 1, kD),
                                              ref::l2_normalize_rows({k.begin(), k.begin() + kD}, 1, kD));
    check_close({o.begin(), o.begin() + kD}, first);
  }
  SECTION("low-rank linear with s = d and identity weights is Q (K^T V) = (Q K^T) V") {
    constexpr std::int64_t kN = 7, kD = 3;
    const std::vector<float> q = ref::random_values(kN * kD, 91), k = ref::random_values(kN * kD, 92),
                             v = ref::random_values(kN * kD, 93), eye = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    const std::vector<float> o = ref::lowrank_linear_attention(q, k, v, kN, kD, kD, eye, eye);
    const std::vector<float> ktv = ref::matmul(ref::transpose(k, kN, kD), v, kD, kN, kD);
    CHECK(ref::max_rel_error(o, ref::matmul(q, ktv, kN, kD, kD)) < 1e-6);
    const std::vector<float> qkt = ref::matmul(q, ref::transpose(k, kN, kD), kN, kD, kN);
    CHECK(ref::max_rel_error(o, ref::matmul(qkt, v, kN, kN, kD)) < 1e-5);
    // Rank 2 with W_K given transposed: the same as projecting first and using identities.
    const std::vector<float> wq = ref::random_values(kD * 2, 94), wkt = ref::random_values(2 * kD, 95);
    const std::vector<float> qw = ref::matmul(q, wq, kN, kD, 2),
                             kw = ref::matmul(k, ref::transpose(wkt, 2, kD), kN, kD, 2);
    const std::vector<float> want = ref::matmul(qw, ref::matmul(ref::transpose(kw, kN, 2), v, 2, kN, kD), kN, 2, kD);
    CHECK(ref::max_rel_error(ref::lowrank_linear_attention(q, k, v, kN, kD, 2, wq, wkt), want) < 1e-5);
  }
}

TEST_CASE("reference: Performer reduces to known values and estimates softmax attention", "[executor][reference]") {
  SECTION("W = 0: every feature is exp(-|x|^2 / (2 sqrt(d))) / sqrt(m), so O weighs v_t by the keys' norms") {
    // d = 4: c^2 = 1 / sqrt(4) = 0.5. phi(q_i) . phi(k_t) = exp(-(|q_i|^2 + |k_t|^2) / 4), and the q
    // factor cancels: O_i = sum_t exp(-|k_t|^2 / 4) v_t / sum_t exp(-|k_t|^2 / 4) for every i.
    // k_0 = 0 (weight 1), k_1 = (2, 0, 0, 0) (weight e^-1).
    constexpr std::int64_t kN = 2, kD = 4, kM = 3;
    const std::vector<float> q = ref::random_values(kN * kD, 101), k = {0, 0, 0, 0, 2, 0, 0, 0},
                             v = {1, 2, 3, 4, -1, 0, 5, 2}, w(kD * kM, 0.f);
    const std::vector<float> o = ref::performer_attention(q, k, v, kN, kD, kM, w);
    const double e = std::exp(-1.0);
    std::vector<float> row(kD);
    for (std::int64_t c = 0; c < kD; ++c) row[c] = float((v[c] + e * v[kD + c]) / (1 + e));
    std::vector<float> want = row;
    want.insert(want.end(), row.begin(), row.end());
    check_close(o, want);
  }
  SECTION("with Gaussian W and many features it approaches softmax attention (an unbiased kernel estimate)") {
    // E_w[phi(q) . phi(k)] = exp(q . k / sqrt(d)) for w ~ N(0, I_d): the softmax kernel. Gaussian
    // entries by Box-Muller from the uniform test values.
    constexpr std::int64_t kN = 5, kD = 4, kM = 40000;
    const std::vector<float> u = ref::random_values(2 * kD * kM, 111);
    std::vector<float> w(kD * kM);
    for (std::size_t i = 0; i < w.size(); ++i) {
      const double u1 = (u[2 * i] + 1) / 2 + 1e-12, u2 = (u[2 * i + 1] + 1) / 2;
      w[i] = float(std::sqrt(-2 * std::log(u1)) * std::cos(2 * 3.14159265358979323846 * u2));
    }
    std::vector<float> q = ref::random_values(kN * kD, 112), k = ref::random_values(kN * kD, 113);
    for (float& x : q) x *= 0.5f;
    for (float& x : k) x *= 0.5f;
    const std::vector<float> v = ref::random_values(kN * kD, 114);
    const std::vector<float> o = ref::performer_attention(q, k, v, kN, kD, kM, w);
    CHECK(ref::max_rel_error(o, ref::attention(q, k, v, kN, kD, 1 / std::sqrt(double(kD)), false)) < 0.02);
  }
}

TEST_CASE("reference: Nystromformer reduces to known values", "[executor][reference]") {
  SECTION("one landmark and equal keys: every output row is the mean of V") {
    // l = 1: A = [1], Z0 = 1 and the iteration keeps it (0.25 (13 - 1 (15 - 1 (7 - 1))) = 1); F = 1; with
    // equal keys softmax(q~ K^T) is uniform, so BV = mean(V) = (2, -1).
    const ref::Mat q = {1, 2, -3, 0.5f, 4, 1}, k = {1, 1, 1, 1, 1, 1}, v = {1, 0, 2, -2, 3, -1};
    const ref::Mat o = ref::nystromformer_attention(q, k, v, 3, 2, 1);
    CHECK(ref::max_rel_error(o, {2, -1, 2, -1, 2, -1}) < 1e-12);
  }
  SECTION("l = N with near-orthogonal tokens: A = F = I, A+ = I, O = V = softmax attention") {
    const ref::Mat q = {20, 0, 0, 0, 20, 0, 0, 0, 20}, v = {1, 2, 3, -4, 5, 6, 7, 8, -9};
    const ref::Mat o = ref::nystromformer_attention(q, q, v, 3, 3, 3);
    CHECK(ref::max_rel_error(o, v) < 1e-9);
    CHECK(ref::max_rel_error(o, ref::attention(q, q, v, 3, 3, 1 / std::sqrt(3.0), false)) < 1e-9);
  }
  SECTION("segments of unequal length: N = 5, l = 2 averages rows [0, 2) and [2, 5)") {
    // Keys equal: BV = mean(V) whatever the landmarks; queries make F; A's rows are uniform (equal
    // keys), A = [[.5, .5], [.5, .5]], whose pseudo-inverse is A itself; A+ BV = BV, F sums to 1:
    // O = mean(V) again, the landmarks' lengths only change F.
    const ref::Mat q = {1, 0, 3, 0, -1, 2, 0, 0, 5, 5}, k(10, 0.5f), v = {1, 1, 2, 2, 3, 3, 4, 4, 5, 5};
    const ref::Mat o = ref::nystromformer_attention(q, k, v, 5, 2, 2);
    CHECK(ref::max_rel_error(o, {3, 3, 3, 3, 3, 3, 3, 3, 3, 3}) < 1e-3);
  }
}
