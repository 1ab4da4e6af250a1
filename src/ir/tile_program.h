#pragma once
// The tile program: what the compiler emits and the hardware executes. Plain C++, no SystemC.
// Each instruction runs on one unit; units execute their own instructions in program order, and an
// instruction starts only when every instruction it depends on has completed. A BARRIER is seen
// by every unit and waits for all instructions before it.
//
// Units: LOAD -> load DMA, STORE -> store DMA, GEMM -> array, VECTOR -> vector unit,
// SOFTMAX -> the softmax unit when the hardware has one, else the vector unit (at its own cost).
// The compiler never relies on two instructions of different opcodes sharing a unit: every
// ordering it needs is a dependency.
//
// Programs can be large (N^2 tiles), so the compiler streams instructions into a ProgramSink; the
// simulator consumes them through a bounded window, and a TileProgram collects them when a whole
// listing is wanted (tests, --emit tiles, the functional executor).
#include <array>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace attnsim {

enum class Opcode : std::uint8_t { Load, Store, Gemm, Vector, Softmax, Barrier };
const char* to_string(Opcode op);

// A byte range of the on-chip address space: the SRAM's banks (contiguous or interleaved, see
// config/sram_map.h), then, above them, the accumulator storage when the hardware declares one.
struct SramRegion {
  std::uint64_t addr = 0;
  std::uint64_t bytes = 0;
};

// A 2-D tile in SRAM: element (r, c) is at addr + (r * ld + c) * elem_bytes.
struct SramTile {
  std::uint64_t addr = 0;
  std::uint32_t rows = 0, cols = 0;
  std::uint32_t ld = 0;  // elements between row starts; 0 means cols (dense)
  std::uint8_t elem_bytes = 0;

  std::uint32_t stride() const { return ld ? ld : cols; }
  std::uint64_t elems() const { return std::uint64_t(rows) * cols; }
  std::uint64_t bytes() const { return elems() * elem_bytes; }  // payload
  std::uint64_t extent() const {                                // bytes from addr to the last element's end
    return rows == 0 ? 0 : (std::uint64_t(rows - 1) * stride() + cols) * elem_bytes;
  }
  SramRegion region() const { return {addr, extent()}; }
};

// VECTOR operations, elementwise over the destination tile c unless noted (a, b: sources).
enum class VecOp : std::uint8_t {
  Add,        // c = a + b
  Mul,        // c = a * b
  Scale,      // c = a * imm
  AddRow,     // c = a + b[0, :] (bias broadcast over rows)
  Copy,       // c = a (dtype conversion)
  Relu,       // c = max(a, 0)
  Gelu,       // c = gelu(a), tanh approximation
  SwiGlu,     // c = silu(a) * b
  LayerNorm,  // c = (a - mean_row) / sqrt(var_row + 1e-5) * b[0, :] + b[1, :]
  RmsNorm,    // c = a / sqrt(mean_row(a^2) + 1e-5) * b[0, :]
  RowMax,     // c[r, 0] = max_j a[r, j]
  RowSum,     // c[r, 0] = sum_j a[r, j]
  Exp,        // c = exp(a)
  L2Norm,     // c = a / max(||a_row||_2, 1e-12) (row-wise L2 normalisation)
  PrefixMean, // causal prefix mean along the rows, carried across tiles in b (1 x cols fp32, the
              // running sum of all earlier rows; treated as 0 when `first`):
              //   c[r, :] = (b[0, :] + sum_{r' <= r} a[r', :]) / (imm + r + 1), then b[0, :] += sum_r a[r, :]
              // imm = the number of rows before this tile (the position of row 0)
  FavorRows,  // Performer's positive random features, one token per row of a (= X W, rows x m) with the
              // token's own row in b (X, rows x d): c[r, j] = exp(imm a[r, j] - imm^2 ||b[r, :]||^2 / 2) / sqrt(m)
              // (imm = d^(-1/4), m = c.cols)
  FavorCols,  // the same with one token per column of a (= W^T X^T, m x cols), b (X, cols x d):
              // c[i, j] = exp(imm a[i, j] - imm^2 ||b[j, :]||^2 / 2) / sqrt(m) (m = c.rows)
  DivCol,     // c[r, :] = a[r, :] / b[r, 0]
  ColMeanAcc, // column sums accumulated into one row (c is 1 x a.cols): c[0, :] = (first ? 0 : c[0, :]) +
              // imm * sum_r a[r, :] (Nystromformer's segment means over token tiles, imm = 1 / segment length;
              // imm = 1: column sums)
  IdentMinus, // c = imm * I - a (square tiles: imm - a[r, r] on the diagonal, -a[r, j] elsewhere)
  DivScalar,  // c = a / b[0, 0] (one scalar of b divides every element)
  kCount
};
const char* to_string(VecOp op);

// SOFTMAX operations. scale = imm; with `causal`, element (r, j) is masked (-inf) when
// j > r + mask_offset (mask_offset = first query row - first key column of the tile).
enum class SmOp : std::uint8_t {
  Rows,        // c = softmax_row(scale * a): a holds whole score rows (a and c may alias)
  OnlineStep,  // flash step on a score tile a; b = stats (rows x 3 fp32: running max m, sum l,
               // rescale alpha); `first` starts m = -inf, l = 0. Writes c = exp(scale*a - m_new),
               // alpha = exp(m_old - m_new), l = alpha * l + rowsum(c), m = m_new.
  Rescale,     // c[r, :] *= b[r, 2] (alpha): the running output before the next P V
  Normalize,   // c = a / b[r, 1] (l): the final output rows
  Merge,       // split-K's combine of two partial softmaxes (flash-decoding): c and b are the stats of two
               // partials over disjoint keys (rows x 3 fp32 each). Per row m = max(m_c, m_b),
               // alpha_c = exp(m_c - m), alpha_b = exp(m_b - m); c becomes (m, alpha_c l_c + alpha_b l_b,
               // alpha_c) and b[r, 2] = alpha_b (both written): Rescale each partial output by its
               // alpha and add them, and the sum is the running output of c's statistics.
  kCount
};
const char* to_string(SmOp op);

// GEMM kinds (Instr::sub of a GEMM).
enum class GemmKind : std::uint8_t {
  Plain,           // c (+)= a b (or a b^T)
  FusedAttention,  // attention fused in the array (timing/fused_timing.h): c = softmax(imm a b^T) v with the
                   // scores kept in the PEs: a = Q (m x k), b = K (n x k, b_transposed), v = V (n x k),
                   // c = O (m x k); with `causal`, score (r, j) is masked when j > r + mask_offset. The
                   // online softmax runs over key tiles of the array's width; the running statistics stay
                   // in the row units, so the instruction reads nothing but Q, K, V and writes only O.
                   // Instr::rows = keys per tile (the array's cols), the step of the online softmax.
  kCount
};

// What an instruction is part of, for the per-op report.
enum class OpClass : std::uint8_t {
  Other,
  QkvProj,   // Q, K, V projections
  QK,        // S = Q K^T
  Softmax,   // softmax, online softmax and its rescales
  PV,        // O = P V
  OutProj,   // output projection
  Ffn,       // feed-forward GEMMs and activation
  Norm,      // layer norm / RMS norm
  Residual,  // residual adds
  Global,    // low-rank attention's work before its global barrier: primal's sampled-token
             // projections, lowrank-linear's (K W_K)^T V reduction over all N, performer's
             // Kf^T V and Kf^T 1
  LowRank,   // low-rank attention's per-token work: normalisations, prefix means, projections
  kCount
};
const char* to_string(OpClass c);

struct Instr {
  static constexpr int kMaxDeps = 4;
  Opcode op = Opcode::Barrier;
  std::uint8_t num_deps = 0;
  OpClass opclass = OpClass::Other;
  std::uint8_t sub = 0;                        // VecOp or SmOp
  std::uint16_t tensor = 0;                    // LOAD, STORE: index into the program's tensors
  std::uint16_t layer = 0;                     // model layer (for the per-layer report)
  std::uint32_t id = 0;                        // position in the program
  std::array<std::uint32_t, kMaxDeps> deps{};  // ids of earlier instructions

  // LOAD / STORE: a 2-D block of a row-major DRAM tensor <-> the SRAM tile `sram`. DRAM elements
  // are row_bytes / sram.cols bytes each; SRAM elements sram.elem_bytes (a STORE of fp32
  // accumulators to an fp16 tensor converts).
  std::uint64_t dram_addr = 0;    // first byte of the block
  std::uint32_t rows = 0;         // block rows (= sram.rows)
  std::uint32_t row_bytes = 0;    // contiguous DRAM bytes per row
  std::uint64_t dram_stride = 0;  // bytes between block rows in DRAM
  SramTile sram;

  // GEMM: c[m x n] (+)= a[m x k] b[k x n]; with b_transposed, b is stored n x k (b^T is used).
  // VECTOR / SOFTMAX: a, b sources, c destination (see VecOp, SmOp).
  std::uint32_t m = 0, k = 0, n = 0;
  bool accumulate = false;  // GEMM: add to c instead of overwriting it
  bool b_transposed = false;
  bool causal = false;  // SOFTMAX: apply the causal mask
  bool first = false;   // SOFTMAX OnlineStep: first key tile of a query tile; VECTOR PrefixMean: no carry
  std::int32_t mask_offset = 0;
  float imm = 0.f;
  SramTile a, b, c;
  SramTile v;  // GEMM FusedAttention: V

  void add_dep(std::uint32_t dep_id);  // ignores UINT32_MAX ("no instruction")
  std::uint64_t bytes() const { return std::uint64_t(rows) * row_bytes; }
  // A fused attention GEMM does Q K^T and P V: 2 m n k.
  std::uint64_t macs() const {
    return op != Opcode::Gemm ? 0 : std::uint64_t(m) * k * n * (is_fused_attention() ? 2 : 1);
  }
  bool is_fused_attention() const { return op == Opcode::Gemm && GemmKind(sub) == GemmKind::FusedAttention; }
  VecOp vec_op() const { return VecOp(sub); }
  SmOp sm_op() const { return SmOp(sub); }
};

constexpr std::uint32_t kNoInstr = UINT32_MAX;

struct TensorInfo {
  std::string name;
  std::uint64_t dram_base = 0;
  std::uint64_t rows = 0, cols = 0;
  int elem_bytes = 0;
  int alias_of = -1;  // an earlier tensor whose DRAM bytes this one shares, seen with another shape (-1: none)
  std::uint64_t bytes() const { return rows * cols * std::uint64_t(elem_bytes); }
};

// What a buffer holds, for the SRAM high-water mark per tensor class.
enum class BufClass : std::uint8_t { Weight, Activation, Query, Key, Value, Score, Output, Stats, kCount };
const char* to_string(BufClass c);

// A named on-chip buffer chosen by the compiler. Buffers of one phase (one lowered op) are live
// together; phases are separated by barriers and reuse the SRAM.
struct BufferInfo {
  std::string name;
  SramRegion region;
  BufClass cls = BufClass::Activation;
  std::uint32_t phase = 0;
};

// Receives instructions in program order; returns the id given to each.
class ProgramSink {
 public:
  virtual ~ProgramSink() = default;
  virtual std::uint32_t add(Instr instr) = 0;
};

// A materialised program.
struct TileProgram final : ProgramSink {
  std::vector<TensorInfo> tensors;
  std::vector<BufferInfo> buffers;
  std::vector<Instr> instrs;
  std::string summary;  // what was lowered and how it was tiled

  std::uint32_t add(Instr instr) override;  // assigns the id, returns it
  std::uint64_t total_macs() const;
};

// A program described by its tensors and buffers and a generator that emits its instructions.
struct ProgramSource {
  std::vector<TensorInfo> tensors;
  std::vector<BufferInfo> buffers;
  std::string summary;
  std::function<void(ProgramSink&)> generate;

  static ProgramSource of(const TileProgram& p);  // replays p (which must outlive the source)
  TileProgram materialise() const;
};

// Counts what a program does without keeping it (MACs, DRAM bytes per tensor, instructions).
struct ProgramCounts {
  std::uint64_t instrs = 0, macs = 0, load_bytes = 0, store_bytes = 0;
  std::array<std::uint64_t, std::size_t(Opcode::Barrier) + 1> by_opcode{};
  std::vector<std::uint64_t> load_bytes_by_tensor, store_bytes_by_tensor;
  std::array<std::uint64_t, std::size_t(OpClass::kCount)> macs_by_class{}, load_bytes_by_class{},
      store_bytes_by_class{};
};
ProgramCounts count_program(const ProgramSource& src);

// Human-readable listing, one instruction per line (--emit tiles), streamed.
void print_program(const ProgramSource& src, std::ostream& os);
void print_tile_program(const TileProgram& p, std::ostream& os);

}  // namespace attnsim
