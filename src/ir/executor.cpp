#include "ir/executor.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "common/errors.h"

namespace attnsim {

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

std::string where(const Instr& in) { return "instruction " + std::to_string(in.id) + " (" + to_string(in.op) + ")"; }

[[noreturn]] void fail(const Instr& in, const std::string& what) { throw InternalError(where(in) + ": " + what); }

std::string shape(const SramTile& t) { return std::to_string(t.rows) + "x" + std::to_string(t.cols); }

void require_shape(const Instr& in, const SramTile& t, const char* name, std::uint32_t rows, std::uint32_t cols) {
  if (t.rows != rows || t.cols != cols)
    fail(in, std::string("tile ") + name + " is " + shape(t) + ", expected " + std::to_string(rows) + "x" +
                 std::to_string(cols));
}

// max that propagates NaN: std::max drops a NaN in its second argument, which would hide a read of
// unwritten memory behind a row maximum.
float nan_max(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return kNaN;
  return a > b ? a : b;
}

// The unmasked columns of row r are [0, limit): with a causal mask, element (r, j) is masked when
// j > r + mask_offset.
std::uint32_t unmasked_cols(const Instr& in, std::uint32_t r, std::uint32_t cols) {
  if (!in.causal) return cols;
  const std::int64_t last = std::int64_t(r) + in.mask_offset;  // last unmasked column
  return std::uint32_t(std::clamp<std::int64_t>(last + 1, 0, cols));
}

float gelu(float x) {
  const double kC = std::sqrt(2.0 / 3.14159265358979323846), xd = x;
  return float(0.5 * xd * (1.0 + std::tanh(kC * (xd + 0.044715 * xd * xd * xd))));
}

float silu(float x) { return float(double(x) / (1.0 + std::exp(-double(x)))); }

}  // namespace

Executor::Executor(const TileProgram& p, std::uint64_t sram_bytes)
    : program_(p), sram_bytes_(sram_bytes), sram_(sram_bytes, kNaN) {
  dram_.reserve(p.tensors.size());
  for (const TensorInfo& t : p.tensors) dram_.emplace_back(t.alias_of >= 0 ? 0 : t.rows * t.cols, kNaN);
  // An alias reads and writes the storage of the tensor it aliases (the same bytes, another shape).
  storage_.resize(p.tensors.size());
  for (std::size_t t = 0; t < p.tensors.size(); ++t) {
    const int a = p.tensors[t].alias_of;
    ATTNSIM_ASSERT(a < int(t) && (a < 0 || (p.tensors[std::size_t(a)].alias_of < 0 &&
                                           p.tensors[std::size_t(a)].bytes() == p.tensors[t].bytes())),
                   "tensor " + p.tensors[t].name + " aliases a tensor of another size or a later one");
    storage_[t] = a >= 0 ? std::size_t(a) : t;
  }
}

void Executor::set_tensor(int t, const std::vector<float>& row_major) {
  ATTNSIM_ASSERT(t >= 0 && std::size_t(t) < dram_.size(), "set_tensor: no tensor " + std::to_string(t));
  std::vector<float>& d = dram_[storage_[std::size_t(t)]];
  ATTNSIM_ASSERT(row_major.size() == d.size(), "set_tensor: tensor " + program_.tensors[t].name + " has " +
                                                   std::to_string(d.size()) + " elements, got " +
                                                   std::to_string(row_major.size()));
  d = row_major;
}

std::vector<float> Executor::tensor(int t) const {
  ATTNSIM_ASSERT(t >= 0 && std::size_t(t) < dram_.size(), "tensor: no tensor " + std::to_string(t));
  return dram_[storage_[std::size_t(t)]];
}

void Executor::run(std::uint64_t seed) {
  // SRAM holds nothing from before the program starts.
  std::fill(sram_.begin(), sram_.end(), kNaN);
  const std::vector<Instr>& ins = program_.instrs;
  const std::size_t n = ins.size();
  for (std::size_t i = 0; i < n; ++i) {
    ATTNSIM_ASSERT(ins[i].id == i, "instruction " + std::to_string(i) + " has id " + std::to_string(ins[i].id));
    for (int d = 0; d < ins[i].num_deps; ++d)
      ATTNSIM_ASSERT(ins[i].deps[d] < i, where(ins[i]) + " depends on a later instruction");
  }
  if (seed == 0) {
    for (const Instr& in : ins) execute(in);
    return;
  }

  // A barrier waits for everything before it and holds back everything after it, so the program is
  // a sequence of barrier-free segments run one after the other. Within a segment each unit is an
  // in-order queue; at each step one of the queue heads whose dependencies have completed runs,
  // chosen uniformly. SOFTMAX is a queue of its own even on hardware that runs it on the vector
  // unit: the compiler may not rely on that sharing (tile_program.h), and more legal orders expose
  // more missing dependencies. rng() % size instead of a std:: distribution keeps orders identical
  // across standard libraries.
  std::mt19937_64 rng(seed);
  std::vector<char> done(n, 0);
  constexpr std::size_t kUnits = std::size_t(Opcode::Barrier);  // LOAD, STORE, GEMM, VECTOR, SOFTMAX
  std::array<std::vector<std::uint32_t>, kUnits> queues;
  std::size_t begin = 0;
  while (begin < n) {
    std::size_t end = begin;
    while (end < n && ins[end].op != Opcode::Barrier) ++end;
    for (auto& q : queues) q.clear();
    for (std::size_t i = begin; i < end; ++i) queues[std::size_t(ins[i].op)].push_back(std::uint32_t(i));
    std::array<std::size_t, kUnits> head{};
    for (std::size_t left = end - begin; left > 0; --left) {
      std::array<std::size_t, kUnits> ready;
      std::size_t num_ready = 0;
      for (std::size_t u = 0; u < kUnits; ++u) {
        if (head[u] == queues[u].size()) continue;
        const Instr& in = ins[queues[u][head[u]]];
        bool ok = true;
        for (int d = 0; d < in.num_deps && ok; ++d) ok = done[in.deps[d]];
        if (ok) ready[num_ready++] = u;
      }
      // Dependencies point backwards, so the earliest head is always ready.
      ATTNSIM_ASSERT(num_ready > 0, "no instruction is ready");
      const std::size_t u = ready[rng() % num_ready];
      const std::uint32_t id = queues[u][head[u]++];
      execute(ins[id]);
      done[id] = 1;
    }
    if (end < n) done[end] = 1;  // the barrier
    begin = end + 1;
  }
}

void Executor::execute(const Instr& in) {
  switch (in.op) {
    case Opcode::Load:
      return load(in);
    case Opcode::Store:
      return store(in);
    case Opcode::Gemm:
      return gemm(in);
    case Opcode::Vector:
      return vector_op(in);
    case Opcode::Softmax:
      return softmax_op(in);
    case Opcode::Barrier:
      return;
  }
  fail(in, "unknown opcode");
}

void Executor::check_tile(const SramTile& t, const char* what, const Instr& in) const {
  if (t.rows == 0 || t.cols == 0) fail(in, std::string("tile ") + what + " is empty (" + shape(t) + ")");
  if (t.elem_bytes == 0) fail(in, std::string("tile ") + what + " has 0-byte elements");
  // Rows that overlap would make two elements share an address.
  if (t.ld != 0 && t.ld < t.cols)
    fail(in, std::string("tile ") + what + " has ld " + std::to_string(t.ld) + " < cols " + std::to_string(t.cols));
  if (t.extent() > sram_bytes_ || t.addr > sram_bytes_ - t.extent())
    fail(in, std::string("tile ") + what + " [" + std::to_string(t.addr) + ", " + std::to_string(t.addr + t.extent()) +
                 ") is outside the SRAM of " + std::to_string(sram_bytes_) + " B");
}

std::vector<float> Executor::gather(const SramTile& t) const {
  std::vector<float> v(t.elems());
  const std::uint64_t e = t.elem_bytes, row_step = std::uint64_t(t.stride()) * e;
  for (std::uint32_t r = 0; r < t.rows; ++r) {
    const float* src = sram_.data() + t.addr + r * row_step;
    float* dst = v.data() + std::uint64_t(r) * t.cols;
    for (std::uint32_t c = 0; c < t.cols; ++c) dst[c] = src[c * e];
  }
  return v;
}

void Executor::scatter(const SramTile& t, const std::vector<float>& v) {
  const std::uint64_t e = t.elem_bytes, row_step = std::uint64_t(t.stride()) * e;
  for (std::uint32_t r = 0; r < t.rows; ++r) {
    float* dst = sram_.data() + t.addr + r * row_step;
    const float* src = v.data() + std::uint64_t(r) * t.cols;
    for (std::uint32_t c = 0; c < t.cols; ++c) {
      dst[c * e] = src[c];
      // The element's other bytes hold no value of their own (see executor.h).
      for (std::uint64_t b = 1; b < e; ++b) dst[c * e + b] = kNaN;
    }
  }
}

std::vector<std::uint64_t> Executor::block_rows(const Instr& in) const {
  if (in.tensor >= program_.tensors.size()) fail(in, "no tensor " + std::to_string(in.tensor));
  const TensorInfo& t = program_.tensors[in.tensor];
  check_tile(in.sram, "sram", in);
  if (in.rows != in.sram.rows)
    fail(in, "block of " + std::to_string(in.rows) + " rows into an SRAM tile of " + shape(in.sram));
  if (in.row_bytes % in.sram.cols != 0)
    fail(in, std::to_string(in.row_bytes) + " B rows do not split into " + std::to_string(in.sram.cols) + " elements");
  const std::uint64_t e = in.row_bytes / in.sram.cols;
  // The block's DRAM element size must be the tensor's, or its addresses would not name elements.
  if (e != std::uint64_t(t.elem_bytes))
    fail(in, std::to_string(e) + " B DRAM elements in tensor " + t.name + " of " + std::to_string(t.elem_bytes) +
                 " B elements");
  if (in.dram_addr < t.dram_base || (in.dram_addr - t.dram_base) % e != 0 || in.dram_stride % e != 0)
    fail(in, "block at dram " + std::to_string(in.dram_addr) + " stride " + std::to_string(in.dram_stride) +
                 " is not on an element of tensor " + t.name + " (base " + std::to_string(t.dram_base) + ")");
  const std::uint64_t first = (in.dram_addr - t.dram_base) / e, stride = in.dram_stride / e, total = t.rows * t.cols;
  std::vector<std::uint64_t> rows(in.rows);
  for (std::uint32_t r = 0; r < in.rows; ++r) {
    rows[r] = first + r * stride;
    if (rows[r] + in.sram.cols > total)
      fail(in, "block row " + std::to_string(r) + " ends at element " + std::to_string(rows[r] + in.sram.cols) +
                   " of tensor " + t.name + " (" + std::to_string(t.rows) + "x" + std::to_string(t.cols) + ")");
  }
  return rows;
}

void Executor::load(const Instr& in) {
  const std::vector<std::uint64_t> rows = block_rows(in);
  const std::vector<float>& src = dram_[storage_[in.tensor]];
  const std::uint32_t cols = in.sram.cols;
  std::vector<float> v(in.sram.elems());
  for (std::uint32_t r = 0; r < in.rows; ++r) std::copy_n(src.begin() + rows[r], cols, v.begin() + r * cols);
  scatter(in.sram, v);
}

void Executor::store(const Instr& in) {
  const std::vector<std::uint64_t> rows = block_rows(in);
  const std::vector<float> v = gather(in.sram);
  std::vector<float>& dst = dram_[storage_[in.tensor]];
  const std::uint32_t cols = in.sram.cols;
  for (std::uint32_t r = 0; r < in.rows; ++r) std::copy_n(v.begin() + r * cols, cols, dst.begin() + rows[r]);
}

// Attention fused in the array, as the PEs and row units compute it (tile_program.h, GemmKind):
// per key tile of in.rows keys, fp32 scores, the tile's row max, p = exp(scale s - m_new), the row
// unit's alpha = exp(m_old - m_new), l = alpha l + rowsum(p), O = alpha O + p V; O / l at the end.
void Executor::fused_attention(const Instr& in) {
  const std::uint32_t m = in.m, d = in.k, n = in.n, tile = in.rows;
  if (m == 0 || d == 0 || n == 0 || tile == 0) fail(in, "empty fused attention");
  if (!in.b_transposed) fail(in, "fused attention takes K as stored (b_transposed)");
  check_tile(in.a, "a", in);
  check_tile(in.b, "b", in);
  check_tile(in.v, "v", in);
  check_tile(in.c, "c", in);
  require_shape(in, in.a, "a (Q)", m, d);
  require_shape(in, in.b, "b (K)", n, d);
  require_shape(in, in.v, "v (V)", n, d);
  require_shape(in, in.c, "c (O)", m, d);
  const std::vector<float> q = gather(in.a), kk = gather(in.b), v = gather(in.v);
  std::vector<float> o(std::size_t(m) * d, 0.f);
  std::vector<float> p(tile);
  std::vector<double> part(d);
  for (std::uint32_t r = 0; r < m; ++r) {
    const std::uint32_t lim = unmasked_cols(in, r, n);
    if (lim == 0) fail(in, "row " + std::to_string(r) + " is masked entirely");
    float m_run = kNegInf, l_run = 0.f;
    float* orow = o.data() + std::size_t(r) * d;
    for (std::uint32_t j0 = 0; j0 < lim; j0 += tile) {
      const std::uint32_t j1 = std::min(lim, j0 + tile);
      float m_tile = kNegInf;
      for (std::uint32_t j = j0; j < j1; ++j) {
        double s = 0;  // the PE's accumulator
        for (std::uint32_t e = 0; e < d; ++e) s += double(q[std::size_t(r) * d + e]) * kk[std::size_t(j) * d + e];
        p[j - j0] = in.imm * float(s);
        m_tile = nan_max(m_tile, p[j - j0]);
      }
      const float m_new = nan_max(m_run, m_tile);
      const float alpha = m_run == kNegInf ? 0.f : float(std::exp(double(m_run) - m_new));
      double sum = 0;
      std::fill(part.begin(), part.end(), 0.0);
      for (std::uint32_t j = j0; j < j1; ++j) {
        const float pj = float(std::exp(double(p[j - j0]) - m_new));
        sum += pj;
        for (std::uint32_t e = 0; e < d; ++e) part[e] += double(pj) * v[std::size_t(j) * d + e];
      }
      l_run = float(double(alpha) * l_run + sum);
      for (std::uint32_t e = 0; e < d; ++e) orow[e] = float(double(alpha) * orow[e] + part[e]);
      m_run = m_new;
    }
    for (std::uint32_t e = 0; e < d; ++e) orow[e] = orow[e] / l_run;
  }
  scatter(in.c, o);
}

void Executor::gemm(const Instr& in) {
  if (in.is_fused_attention()) return fused_attention(in);
  const std::uint32_t m = in.m, k = in.k, n = in.n;
  if (m == 0 || k == 0 || n == 0) fail(in, "empty GEMM");
  check_tile(in.a, "a", in);
  check_tile(in.b, "b", in);
  check_tile(in.c, "c", in);
  require_shape(in, in.a, "a", m, k);
  if (in.b_transposed)
    require_shape(in, in.b, "b (transposed)", n, k);
  else
    require_shape(in, in.b, "b", k, n);
  require_shape(in, in.c, "c", m, n);

  const std::vector<float> a = gather(in.a), bs = gather(in.b);
  std::vector<float> b(std::size_t(k) * n);  // logical b, k x n
  if (in.b_transposed) {
    for (std::uint32_t nn = 0; nn < n; ++nn)
      for (std::uint32_t kk = 0; kk < k; ++kk) b[std::size_t(kk) * n + nn] = bs[std::size_t(nn) * k + kk];
  } else {
    b = bs;
  }
  std::vector<float> c = in.accumulate ? gather(in.c) : std::vector<float>(std::size_t(m) * n, 0.f);
  // Double accumulation, so that the only float rounding is where the hardware keeps a value.
  std::vector<double> acc(n);
  for (std::uint32_t i = 0; i < m; ++i) {
    float* crow = c.data() + std::size_t(i) * n;
    std::copy_n(crow, n, acc.begin());
    for (std::uint32_t kk = 0; kk < k; ++kk) {
      const double aik = a[std::size_t(i) * k + kk];
      const float* brow = b.data() + std::size_t(kk) * n;
      for (std::uint32_t j = 0; j < n; ++j) acc[j] += aik * brow[j];
    }
    for (std::uint32_t j = 0; j < n; ++j) crow[j] = float(acc[j]);
  }
  scatter(in.c, c);
}

void Executor::vector_op(const Instr& in) {
  const VecOp op = in.vec_op();
  if (op >= VecOp::kCount) fail(in, "unknown vector op " + std::to_string(in.sub));
  const SramTile& ct = in.c;
  check_tile(ct, "c", in);
  const std::uint32_t rows = ct.rows, cols = ct.cols;
  const bool row_reduce = op == VecOp::RowMax || op == VecOp::RowSum;
  check_tile(in.a, "a", in);
  if (row_reduce) {
    if (in.a.rows != rows) fail(in, "tile a is " + shape(in.a) + " for " + std::to_string(rows) + " result rows");
  } else if (op == VecOp::ColMeanAcc) {
    if (rows != 1 || in.a.cols != cols)
      fail(in, "tile c is " + shape(ct) + " for a of " + shape(in.a) + ", expected 1x" + std::to_string(in.a.cols));
  } else {
    require_shape(in, in.a, "a", rows, cols);
  }
  // a is gathered whole before anything is written, so c may alias a (in-place ops).
  const std::vector<float> a = gather(in.a);
  std::vector<float> b;
  switch (op) {
    case VecOp::Add:
    case VecOp::Mul:
    case VecOp::SwiGlu:
      check_tile(in.b, "b", in);
      require_shape(in, in.b, "b", rows, cols);
      b = gather(in.b);
      break;
    case VecOp::AddRow:
    case VecOp::RmsNorm:
    case VecOp::LayerNorm: {
      // Only the parameter rows the op reads must exist.
      const std::uint32_t need = op == VecOp::LayerNorm ? 2 : 1;
      check_tile(in.b, "b", in);
      if (in.b.rows < need || in.b.cols != cols)
        fail(in,
             "tile b is " + shape(in.b) + ", expected at least " + std::to_string(need) + "x" + std::to_string(cols));
      b = gather(in.b);
      break;
    }
    case VecOp::PrefixMean:
      // The carry: read unless `first` (then it starts at 0, and whatever b holds is never read).
      check_tile(in.b, "b", in);
      require_shape(in, in.b, "b (carry)", 1, cols);
      b = in.first ? std::vector<float>(cols, 0.f) : gather(in.b);
      if (!(in.imm >= 0.f) || in.imm != std::floor(in.imm))
        fail(in, "prefix mean position imm = " + std::to_string(in.imm) + " is not a row count");
      break;
    case VecOp::FavorRows:
    case VecOp::FavorCols:
      // The tokens, one per row of b (any width d): one per row of c, or one per column of c.
      check_tile(in.b, "b", in);
      if (in.b.rows != (op == VecOp::FavorRows ? rows : cols))
        fail(in, "tile b (tokens) is " + shape(in.b) + " for c of " + shape(ct) + ", expected one token row per " +
                     (op == VecOp::FavorRows ? "row" : "column") + " of c");
      b = gather(in.b);
      break;
    case VecOp::IdentMinus:
      if (rows != cols) fail(in, "tile c is " + shape(ct) + ", expected a square tile");
      break;
    case VecOp::DivScalar:
      check_tile(in.b, "b", in);  // only b[0, 0] is read
      b = gather(in.b);
      break;
    case VecOp::DivCol:
      // Only column 0 of b is read; it must have a row per row of c.
      check_tile(in.b, "b", in);
      if (in.b.rows != rows) fail(in, "tile b is " + shape(in.b) + ", expected " + std::to_string(rows) + " rows");
      b = gather(in.b);
      break;
    default:
      break;
  }

  // Row reductions write only column 0 of c: the rest of c keeps what it held.
  // So does ColMeanAcc unless `first`: it adds to c.
  const bool keep_c = row_reduce || (op == VecOp::ColMeanAcc && !in.first);
  std::vector<float> c = keep_c ? gather(ct) : std::vector<float>(std::size_t(rows) * cols);
  const std::size_t total = std::size_t(rows) * cols;
  switch (op) {
    case VecOp::Add:
      for (std::size_t i = 0; i < total; ++i) c[i] = a[i] + b[i];
      break;
    case VecOp::Mul:
      for (std::size_t i = 0; i < total; ++i) c[i] = a[i] * b[i];
      break;
    case VecOp::Scale:
      for (std::size_t i = 0; i < total; ++i) c[i] = a[i] * in.imm;
      break;
    case VecOp::AddRow:
      for (std::uint32_t r = 0; r < rows; ++r)
        for (std::uint32_t j = 0; j < cols; ++j) c[std::size_t(r) * cols + j] = a[std::size_t(r) * cols + j] + b[j];
      break;
    case VecOp::Copy:
      c = a;
      break;
    case VecOp::Relu:
      for (std::size_t i = 0; i < total; ++i) c[i] = a[i] > 0.f || std::isnan(a[i]) ? a[i] : 0.f;
      break;
    case VecOp::Gelu:
      for (std::size_t i = 0; i < total; ++i) c[i] = gelu(a[i]);
      break;
    case VecOp::SwiGlu:
      for (std::size_t i = 0; i < total; ++i) c[i] = silu(a[i]) * b[i];
      break;
    case VecOp::LayerNorm:
    case VecOp::RmsNorm:
      for (std::uint32_t r = 0; r < rows; ++r) {
        const float* x = a.data() + std::size_t(r) * cols;
        float* y = c.data() + std::size_t(r) * cols;
        double mean = 0, sq = 0;
        if (op == VecOp::LayerNorm) {
          for (std::uint32_t j = 0; j < cols; ++j) mean += x[j];
          mean /= cols;
        }
        for (std::uint32_t j = 0; j < cols; ++j) sq += (x[j] - mean) * (x[j] - mean);
        const double inv = 1.0 / std::sqrt(sq / cols + 1e-5);
        for (std::uint32_t j = 0; j < cols; ++j) {
          const double v = (x[j] - mean) * inv * b[j];
          y[j] = float(op == VecOp::LayerNorm ? v + b[cols + j] : v);
        }
      }
      break;
    case VecOp::RowMax:
    case VecOp::RowSum:
      for (std::uint32_t r = 0; r < rows; ++r) {
        const float* x = a.data() + std::size_t(r) * in.a.cols;
        float mx = x[0];
        double sum = 0;
        for (std::uint32_t j = 0; j < in.a.cols; ++j) mx = nan_max(mx, x[j]), sum += x[j];
        c[std::size_t(r) * cols] = op == VecOp::RowMax ? mx : float(sum);
      }
      break;
    case VecOp::Exp:
      for (std::size_t i = 0; i < total; ++i) c[i] = std::exp(a[i]);
      break;
    case VecOp::L2Norm:
      for (std::uint32_t r = 0; r < rows; ++r) {
        const float* x = a.data() + std::size_t(r) * cols;
        float* y = c.data() + std::size_t(r) * cols;
        double sq = 0;
        for (std::uint32_t j = 0; j < cols; ++j) sq += double(x[j]) * x[j];
        const double norm = std::max(std::sqrt(sq), 1e-12);
        for (std::uint32_t j = 0; j < cols; ++j) y[j] = float(x[j] / norm);
      }
      break;
    case VecOp::PrefixMean: {
      // Running sums in double, seeded with the fp32 carry; the carry goes back as fp32.
      std::vector<double> run(b.begin(), b.begin() + cols);
      for (std::uint32_t r = 0; r < rows; ++r) {
        const float* x = a.data() + std::size_t(r) * cols;
        float* y = c.data() + std::size_t(r) * cols;
        const double pos = double(in.imm) + r + 1;
        for (std::uint32_t j = 0; j < cols; ++j) {
          run[j] += x[j];
          y[j] = float(run[j] / pos);
        }
      }
      for (std::uint32_t j = 0; j < cols; ++j) b[j] = float(run[j]);
      scatter(in.b, b);
      break;
    }
    case VecOp::FavorRows:
    case VecOp::FavorCols: {
      // FAVOR+'s positive features, in double from the stored a and b: the token's squared norm,
      // then exp(imm a - imm^2 |x|^2 / 2) / sqrt(m). No max-subtraction stabiliser: performer-pytorch
      // subtracts the largest exponent inside the exp (and adds an eps) for numerical safety, which
      // cancels in num / den up to the eps; this op is the paper's formula as tile_program.h documents it.
      const bool by_rows = op == VecOp::FavorRows;
      const std::uint32_t d = in.b.cols, tokens = in.b.rows;
      const double imm = in.imm, inv_sqrt_m = 1.0 / std::sqrt(double(by_rows ? cols : rows));
      std::vector<double> half_sq(tokens);  // imm^2 |x_t|^2 / 2 per token
      for (std::uint32_t t = 0; t < tokens; ++t) {
        double sq = 0;
        for (std::uint32_t j = 0; j < d; ++j) sq += double(b[std::size_t(t) * d + j]) * b[std::size_t(t) * d + j];
        half_sq[t] = imm * imm * sq / 2;
      }
      for (std::uint32_t r = 0; r < rows; ++r)
        for (std::uint32_t j = 0; j < cols; ++j) {
          const std::size_t i = std::size_t(r) * cols + j;
          c[i] = float(std::exp(imm * a[i] - half_sq[by_rows ? r : j]) * inv_sqrt_m);
        }
      break;
    }
    case VecOp::DivCol:
      for (std::uint32_t r = 0; r < rows; ++r) {
        const double den = b[std::size_t(r) * in.b.cols];
        for (std::uint32_t j = 0; j < cols; ++j)
          c[std::size_t(r) * cols + j] = float(a[std::size_t(r) * cols + j] / den);
      }
      break;
    case VecOp::ColMeanAcc: {
      // The column sums in double, then one float add to what c held (0 when `first`).
      const std::uint32_t ar = in.a.rows;
      for (std::uint32_t j = 0; j < cols; ++j) {
        double sum = 0;
        for (std::uint32_t r = 0; r < ar; ++r) sum += a[std::size_t(r) * cols + j];
        c[j] = float(double(c[j]) + double(in.imm) * sum);
      }
      break;
    }
    case VecOp::IdentMinus:
      for (std::uint32_t r = 0; r < rows; ++r)
        for (std::uint32_t j = 0; j < cols; ++j)
          c[std::size_t(r) * cols + j] = (r == j ? in.imm : 0.f) - a[std::size_t(r) * cols + j];
      break;
    case VecOp::DivScalar: {
      const double den = b[0];
      for (std::size_t i = 0; i < total; ++i) c[i] = float(a[i] / den);
      break;
    }
    case VecOp::kCount:
      break;
  }
  scatter(ct, c);
}

void Executor::softmax_op(const Instr& in) {
  const SmOp op = in.sm_op();
  if (op >= SmOp::kCount) fail(in, "unknown softmax op " + std::to_string(in.sub));
  const SramTile& ct = in.c;
  check_tile(ct, "c", in);
  const std::uint32_t rows = ct.rows, cols = ct.cols;
  const float scale = in.imm;

  switch (op) {
    case SmOp::Rows: {
      check_tile(in.a, "a", in);
      require_shape(in, in.a, "a", rows, cols);
      // Gathering a first makes an in-place softmax (a aliasing c) read the whole row before writing it.
      const std::vector<float> a = gather(in.a);
      std::vector<float> c(a.size(), 0.f);
      for (std::uint32_t r = 0; r < rows; ++r) {
        const std::uint32_t lim = unmasked_cols(in, r, cols);
        if (lim == 0) fail(in, "row " + std::to_string(r) + " is masked entirely");
        const float* x = a.data() + std::size_t(r) * cols;
        float* y = c.data() + std::size_t(r) * cols;
        float mx = scale * x[0];
        for (std::uint32_t j = 0; j < lim; ++j) mx = nan_max(mx, scale * x[j]);
        double sum = 0;
        for (std::uint32_t j = 0; j < lim; ++j) sum += std::exp(double(scale * x[j]) - mx);
        for (std::uint32_t j = 0; j < lim; ++j) y[j] = float(std::exp(double(scale * x[j]) - mx) / sum);
      }
      scatter(ct, c);
      return;
    }
    case SmOp::OnlineStep: {
      check_tile(in.a, "a", in);
      check_tile(in.b, "b", in);
      require_shape(in, in.a, "a", rows, cols);
      require_shape(in, in.b, "b (stats)", rows, 3);
      const std::vector<float> a = gather(in.a);
      std::vector<float> stats = gather(in.b);
      std::vector<float> c(a.size(), 0.f);
      for (std::uint32_t r = 0; r < rows; ++r) {
        float* st = stats.data() + std::size_t(r) * 3;
        const float m_old = in.first ? kNegInf : st[0];
        const float l_old = in.first ? 0.f : st[1];
        const std::uint32_t lim = unmasked_cols(in, r, cols);
        if (lim == 0 && m_old == kNegInf)
          fail(in, "row " + std::to_string(r) + " has no unmasked key and no running max");
        const float* x = a.data() + std::size_t(r) * cols;
        float* y = c.data() + std::size_t(r) * cols;
        float m_new = m_old;
        for (std::uint32_t j = 0; j < lim; ++j) m_new = nan_max(m_new, scale * x[j]);
        double sum = 0;
        for (std::uint32_t j = 0; j < lim; ++j) {
          y[j] = float(std::exp(double(scale * x[j]) - m_new));
          sum += y[j];
        }
        const float alpha = m_old == kNegInf ? 0.f : float(std::exp(double(m_old) - m_new));
        st[0] = m_new;
        st[1] = float(double(alpha) * l_old + sum);
        st[2] = alpha;
      }
      scatter(in.b, stats);
      scatter(ct, c);
      return;
    }
    case SmOp::Rescale:
    case SmOp::Normalize: {
      check_tile(in.b, "b", in);
      require_shape(in, in.b, "b (stats)", rows, 3);
      const std::vector<float> stats = gather(in.b);
      // Rescale updates c in place; Normalize reads a.
      std::vector<float> c;
      if (op == SmOp::Rescale) {
        c = gather(ct);
      } else {
        check_tile(in.a, "a", in);
        require_shape(in, in.a, "a", rows, cols);
        c = gather(in.a);
      }
      for (std::uint32_t r = 0; r < rows; ++r) {
        const float s = stats[std::size_t(r) * 3 + (op == SmOp::Rescale ? 2 : 1)];
        float* y = c.data() + std::size_t(r) * cols;
        for (std::uint32_t j = 0; j < cols; ++j) y[j] = op == SmOp::Rescale ? y[j] * s : y[j] / s;
      }
      scatter(ct, c);
      return;
    }
    case SmOp::Merge: {
      check_tile(in.b, "b", in);
      require_shape(in, ct, "c (stats)", rows, 3);
      require_shape(in, in.b, "b (stats)", rows, 3);
      std::vector<float> sc = gather(ct), sb = gather(in.b);
      for (std::uint32_t r = 0; r < rows; ++r) {
        float* x = sc.data() + std::size_t(r) * 3;
        float* y = sb.data() + std::size_t(r) * 3;
        if (x[0] == kNegInf && y[0] == kNegInf) fail(in, "row " + std::to_string(r) + " merges two empty partials");
        const float m = nan_max(x[0], y[0]);
        const float ac = x[0] == kNegInf ? 0.f : float(std::exp(double(x[0]) - m));
        const float ab = y[0] == kNegInf ? 0.f : float(std::exp(double(y[0]) - m));
        x[1] = float(double(ac) * x[1] + double(ab) * y[1]);
        x[0] = m;
        x[2] = ac;
        y[2] = ab;
      }
      scatter(in.b, sb);
      scatter(ct, sc);
      return;
    }
    case SmOp::kCount:
      break;
  }
}

}  // namespace attnsim
