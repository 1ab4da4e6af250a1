#pragma once
// Cascades: an op or an attention variant described as a sequence of extended-einsum steps over
// named ranks, the way FuseMax and TeAAL write attention (a description, not an emit loop). Plain C++.
//
// A cascade names its ranks (m, p, e, f, ...), each with an extent that is an expression bound at
// lowering time ("N" = seq_len, "d" = head_dim, "s" = rank, or a number); its tensors are indexed
// by one or two ranks (the tile program is 2-D: the first rank is the row, the second the column).
// Steps, in order, each writing one new tensor:
//   contraction   S[m,p] = Q[m,e] * K[p,e]     one rank (e) summed over; the array runs it. The
//                                              first operand must be indexed [out row, summed rank]
//                                              (the array reads it row-major); the second
//                                              [summed, out col] or [out col, summed] (read transposed).
//   softmax       P[m,p] = softmax_p(scale * S[m,p])   over the column rank. A mapping that tiles p
//                 makes it the online form (running max and sum, the downstream accumulator
//                 rescaled, normalised at the end); a mapping that keeps p whole makes it row-wise.
//                 A causal mask (key p > query m) follows the layer unless "mask" says otherwise.
//   map           elementwise or row-wise ops the vector unit has: scale, exp, relu, gelu, copy,
//                 l2norm (over the column rank), add, mul (same indices), div (X[m,f] / l[m]).
// Row-wise ops of a model's layers (models/cascades/layernorm.json and the others, one per graph op
// kind, compiler/rowwise_cascades.h):
//   map           layernorm  Y[m,c] = (X - mean_c X) / sqrt(var_c X + 1e-5) * g[0,c] + g[1,c], g[w,c]
//                            with w of extent 2 (scale, shift), over the column rank;
//                 rmsnorm    Y[m,c] = X / sqrt(mean_c X^2 + 1e-5) * g[0,c], g[u,c] with u of extent 1;
//                 swiglu     Y[m,c] = silu(G[m,c]) * U[m,c] (same indices).
//   reduce        l[m] = sum_p X[m,p] or max_p: over the column rank.
// Steps of the kernelised and landmark variants (Performer, Nystromformer):
//   matrix-vector z[r] = X[r,p] * y[p]   a contraction whose second operand and output have one rank
//                                        (Performer's normaliser z = Kf^T 1, den = Qf z).
//   favor         Kf[r,p] = favor(Kw[r,p], K[p,e])   FAVOR+ positive random features (Choromanski et
//                 al. 2021): exp(c Kw - c^2 ||K_token||^2 / 2) / sqrt(features), c = "scale" (default
//                 e^(-1/4) with e the norm rank's extent). The second input holds the tokens' own rows;
//                 its first rank (the token) is one of the projection's, the projection's other rank
//                 counts the features. Both the feature rank and the norm rank stay whole in a mapping.
//   segment_mean  Ql[i,e] = segment_mean(Q[m,e])   the first rank split into extent(i) segments, row i
//                 the mean of rows [floor(i M / I), floor((i + 1) M / I)) (Nystromformer's landmarks); a
//                 sum over m (accumulates across m tiles and chunks like a contraction), fp32.
//   pinv          Z[j,i] = pinv(A[i,j], I[j,i])   the iterative Moore-Penrose pseudo-inverse of a square
//                 A (Nystromformer, the paper code's iteration): Z0 = A^T / max_j sum_i A_ij (A^T = I A^T
//                 on the array, I the identity input), then "iterations" (default 6) times
//                 Z <- 0.25 Z (13 I - AZ (15 I - AZ (7 I - AZ))), AZ = A Z: 4 GEMMs and 3 vector steps
//                 each, in scratch buffers of the step. Its ranks stay whole in a mapping.
// Low-rank variants' step kinds (primal, primal-causal, low-rank linear, Linformer):
//   contraction   a sum of two contractions over one summed rank, "Y[m,f] = E[m,r] * A[r,f] + R[m,r] * B[r,f]":
//                 the array accumulates both into one output ([E | R] [A; B], primal's concat projection).
//   prefix_mean   Y[m,e] = mean_{m' <= m} X[m',e]: a scan over the row rank ("over"), carried across the
//                 row tiles in a 1 x (column extent) fp32 carry (primal-causal's running means).
//   add_row       Y[m,f] = X[m,f] + b[u,f] with u of extent 1: a bias row broadcast over the rows.
//   gather        Xs[j,e] = X[floor(j (T - 1) / (J - 1)), e] (J = 1: X[T - 1, e]): J evenly spaced rows of an
//                 input X[t,e] (T rows), the last included, loaded row by row from DRAM (primal's samples).
// Element kinds follow the units: a contraction writes accumulators, every other step operands
// (inputs and outputs live in DRAM in the model's dtype).
//
// JSON form (models/cascades/*.json; README "Cascades" has the full reference):
//   {"name": "vanilla", "description": "...",
//    "ranks": {"m": "N", "p": "N", "e": "d", "f": "d"},
//    "params": {"tau": 10},                                   // optional named constants
//    "inputs": {"Q": ["m","e"], "K": ["p","e"], "V": ["p","f"]},
//    "outputs": {"O": ["m","f"]},
//    "steps": ["S[m,p] = Q[m,e] * K[p,e]",
//              {"out": "P[m,p]", "op": "softmax", "over": "p", "in": "S", "scale": "1/sqrt(e)"},
//              "O[m,f] = P[m,p] * V[p,f]"]}
// Keys starting with "//" (in the top object and in step objects) are comments.
// Expressions (extents, scales): numbers, names (rank names stand for their extents, then params,
// then the symbols bound by the caller), + - * /, parentheses and sqrt(...).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/json_reader.h"

namespace attnsim::cascade {

inline constexpr int kMaxRanks = 8;  // ranks of one cascade
inline constexpr int kMaxTensorRanks = 2;

enum class StepKind : std::uint8_t {
  Contract,
  Softmax,
  Map,
  Reduce,
  // Performer, Nystromformer (see above):
  Favor,
  SegmentMean,
  Pinv,
  // Low-rank variants' step kinds (see the header comment).
  Gather,
};
enum class MapOp : std::uint8_t {
  Scale,
  Exp,
  Relu,
  Gelu,
  Copy,
  L2Norm,
  Add,
  Mul,
  Div,
  // Low-rank variants' map ops (see the header comment).
  PrefixMean,
  AddRow,
  // Row-wise ops of a model's layers (see the header comment).
  LayerNorm,
  RmsNorm,
  SwiGlu,
  kCount
};
enum class ReduceOp : std::uint8_t { Sum, Max };
enum class TensorRole : std::uint8_t { Input, Output, Intermediate };
enum class ElemKind : std::uint8_t { Operand, Accumulator };
enum class Mask : std::uint8_t { Layer, None, Causal };  // a softmax's mask: the layer's, or fixed

const char* to_string(StepKind k);
const char* to_string(MapOp op);

struct RankDecl {
  std::string name;
  std::string extent;  // expression
  std::string path;    // JSON path, for messages
};

struct TensorDecl {
  std::string name;
  std::vector<int> ranks;  // 1 or 2 rank indices: row, column
  TensorRole role = TensorRole::Intermediate;
  ElemKind elem = ElemKind::Operand;
  std::string path;
  bool shared = false;  // an input every instance (head) reads from one DRAM block (top-level "shared")
};

struct StepDecl {
  StepKind kind = StepKind::Map;
  MapOp map = MapOp::Copy;
  ReduceOp reduce = ReduceOp::Sum;
  int out = -1;
  std::vector<int> in;        // tensor indices: contraction (A, B) or (A, B, A2, B2) for a sum of two,
                              // softmax (S), map (1 or 2), reduce (1), gather (the source)
  int over = -1;              // rank: the contraction's summed rank, the softmax / reduce / l2norm /
                              // layernorm / rmsnorm rank, prefix_mean's scanned (row) rank
  bool b_transposed = false;  // contraction: B indexed [out col, summed]
  bool b2_transposed = false;  // a sum of two contractions: B2 indexed [out col, summed]
  std::string scale;          // softmax, map scale: expression ("" = 1)
  Mask mask = Mask::Layer;
  std::string path;
  // Performer, Nystromformer:
  bool tokens_in_cols = false;  // favor: the projection is [feature, token] (FAVOR on columns)
  int iterations = 0;           // pinv: Newton-Schulz-style iterations
};

// A step that needs whole rows over its column rank `over` (softmax, reductions, l2norm, layernorm,
// rmsnorm): a mapping may not loop over that rank, and streaming it leaves the step's rows whole.
bool row_wise(const StepDecl& st);

// A cascade as written: ranks with extent expressions, tensors, steps.
struct CascadeDesc {
  std::string source;  // file (or a name for built-in cascades)
  std::string name, description;
  std::vector<RankDecl> ranks;
  std::vector<TensorDecl> tensors;
  std::vector<StepDecl> steps;
  std::map<std::string, double> params;

  int rank_index(const std::string& name) const;    // -1 when absent
  int tensor_index(const std::string& name) const;  // -1 when absent
};

// Reads a cascade document; every problem is reported at once as a UserError (FILE: /path: rule).
CascadeDesc parse_cascade(const Json& doc, const std::string& source);
CascadeDesc load_cascade(const std::string& path);

// A cascade with every extent and scale evaluated, and the layer's causality applied.
struct Cascade {
  CascadeDesc desc;
  std::vector<std::int64_t> extent;  // per rank
  std::vector<float> scale;          // per step (1 when not given)
  std::vector<char> causal;          // per step: softmax masked causally (its row and column ranks index tokens)

  std::size_t num_ranks() const { return extent.size(); }
  const TensorDecl& tensor(int t) const { return desc.tensors[std::size_t(t)]; }
  const StepDecl& step(int s) const { return desc.steps[std::size_t(s)]; }
  // The step writing tensor t (-1 for inputs).
  int producer(int t) const;
  // Rows x cols of tensor t (a one-rank tensor is extent x 1).
  std::int64_t rows(int t) const { return extent[std::size_t(tensor(t).ranks[0])]; }
  std::int64_t cols(int t) const { return tensor(t).ranks.size() > 1 ? extent[std::size_t(tensor(t).ranks[1])] : 1; }
  // The ranks a step iterates over: those of its tensors.
  std::vector<int> step_ranks(int s) const;
};

// Evaluates extents and scales with `symbols` (e.g. N, d, s); a name that none of ranks, params or
// symbols defines, or an extent that is not a positive integer, is a UserError naming the file and path.
Cascade bind_cascade(const CascadeDesc& d, const std::map<std::string, double>& symbols, bool causal);

// Built-in cascades, written in the same JSON (tests and the vanilla variants' reference form).
// vanilla: O[m,f] = softmax_p(S / sqrt(e)) V with S = Q K^T; gemm: C[m,n] = A[m,k] * B[k,n]
// (models/cascades/gemm.json, embedded).
const Json& vanilla_attention_json();
const Json& gemm_json();

// Evaluates an expression (grammar above) against `names`; on a problem returns false and sets *why.
bool eval_expr(const std::string& text, const std::map<std::string, double>& names, double* value, std::string* why);

}  // namespace attnsim::cascade
