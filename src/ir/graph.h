#pragma once
// The workload graph: ops on 2-D tensors, built from a model. Plain C++.
//
// Every tensor is a row-major matrix in DRAM (tokens x features; batch folded into the rows).
// Heads, batches and transposes are views (TensorView): a block of a tensor, possibly read
// transposed, so attention per (batch, head) needs no data movement to express.
//
// A layer (T = batch * seq_len tokens, D = d_model, H heads, dh = head_dim, HD = H * dh, F = ffn width):
//   pre-norm:   xn = Norm(x); qkv = xn Wqkv; o = Attention(qkv); a = o Wo; h = x + a;
//               hn = Norm(h); f = Act(hn W1); y = h + f W2
//   post-norm:  qkv = x Wqkv; o = Attention(qkv); a = o Wo; h = Norm(x + a);
//               f = Act(h W1); y = Norm(h + f W2)
// Wqkv is D x 3HD (Q, K, V side by side); SwiGLU's W1 is D x 2F (gate, up) and Act reads both
// halves. Norm parameters are one tensor per norm: 2 x D (gamma; beta) for LayerNorm, 1 x D for
// RMSNorm. The attention of a vanilla layer is three ops per (batch, head):
//   S = Q K^T (MatMul, K viewed transposed), P = Softmax(scale * S) (row-wise, causal mask if the
//   layer is causal), O = P V (MatMul), with S, P tensors of (batch * H * N) x N;
// they form one AttentionGroup that the compiler lowers by its variant (unfused, row-fused, flash).
//
// Names (l = layer index). Tensors, in the order build_graph creates them (order of first use):
//   x                              the model input, T x D
//   Ll.norm1, Ll.norm2             norm parameters, 2 x D (LayerNorm) or 1 x D (RMSNorm)
//   Ll.Wqkv, Ll.Wo, Ll.W1, Ll.W2   weights: D x 3HD, HD x D, D x F (D x 2F for SwiGLU), F x D
//   Ll.qkv                         T x 3HD: Q, K, V side by side
//   Ll.S, Ll.P                     scores and probabilities, (batch * H * N) x N
//   Ll.o                           attention output, T x HD (heads side by side)
//   Ll.attn                        o Wo, T x D
//   Ll.h                           the tensor the FFN residual adds to, T x D
//   Ll.f1, Ll.f1act, Ll.f2         h W1 (T x F; T x 2F for SwiGLU), Act(f1) (T x F), f1act W2 (T x D)
//   Ll.y                           the layer output, T x D: layer l+1 reads this very tensor, and the
//                                  last layer's is the model output (kind Output)
//   pre-norm only:   Ll.xn1 = Norm(x), Ll.xn2 = Norm(h)
//   post-norm only:  Ll.res1 = x + attn (h = Norm(res1)), Ll.res2 = h + f2 (y = Norm(res2))
// Ops, 12 per layer, in execution order:
//   pre-norm:   norm1 qkv_proj qk softmax pv out_proj residual1 norm2 ffn_up ffn_act ffn_down residual2
//   post-norm:  qkv_proj qk softmax pv out_proj residual1 norm1 ffn_up ffn_act ffn_down residual2 norm2
// named "Ll.OP" (a norm op shares its name with its parameter tensor). Their OpClass: QkvProj,
// QK, Softmax, PV, OutProj; Ffn for ffn_up, ffn_act and ffn_down; Norm; Residual.
// Views of head h of batch b (N = seq_len): Q = qkv[b*N, h*dh], K = qkv[b*N, HD + h*dh],
// V = qkv[b*N, 2HD + h*dh], O = o[b*N, h*dh] (each N x dh); S and P rows [(b*H + h)*N, +N) (N x N).
// The qk instance reads (Q, K transposed) and writes S; softmax reads S, writes P; pv reads (P, V)
// and writes O. SwiGLU's ffn_act reads f1[:, 0:F] (gate) and f1[:, F:2F] (up).
#include <array>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "ir/tile_program.h"

namespace attnsim {

enum class TensorKind : std::uint8_t { Input, Weight, Activation, Output };
const char* to_string(TensorKind k);

struct GraphTensor {
  std::string name;  // "L3.qkv", "L3.Wqkv", "x", ...
  std::int64_t rows = 0, cols = 0;
  int elem_bytes = 0;
  TensorKind kind = TensorKind::Activation;
  int layer = -1;  // -1 for the model input
  // Another tensor whose DRAM bytes this one shares (-1: none): the same row-major bytes seen with
  // another shape, e.g. a decode step's B x (H dh) projection as (B H) x dh rows, one per head
  // (same rows * cols). The compiler gives it that tensor's address; the executor, its storage.
  int alias_of = -1;
};

// A block of a tensor: rows [row0, row0 + rows) x cols [col0, col0 + cols). Read transposed when
// `transposed` (the op then sees a cols x rows matrix).
struct TensorView {
  int tensor = -1;
  std::int64_t row0 = 0, col0 = 0, rows = 0, cols = 0;
  bool transposed = false;
  std::int64_t logical_rows() const { return transposed ? cols : rows; }
  std::int64_t logical_cols() const { return transposed ? rows : cols; }
};

enum class OpKind : std::uint8_t {
  MatMul,     // out = in0 in1
  Softmax,    // out = softmax_row(scale * in0) (causal: masked above the diagonal)
  LayerNorm,  // out = layernorm_row(in0) with in1 = params (2 x cols)
  RmsNorm,    // out = rmsnorm_row(in0) with in1 = params (1 x cols)
  Add,        // out = in0 + in1
  Gelu,       // out = gelu(in0)
  Relu,       // out = relu(in0)
  SwiGlu,     // out = silu(in0) * in1 (in0, in1: the gate and up halves of one tensor)
  RowSum,     // out[r, 0] = sum_j in0[r, j] (a reduction along each row; out has one column)
  RowMax,     // out[r, 0] = max_j in0[r, j]
  L2Norm,     // out = in0 / ||in0_row||_2 (row-wise)
  PrefixMean, // out[i, :] = mean of in0 rows 0..i (causal running mean)
  GatherRows, // out = p evenly spaced rows of in0 (N rows): rows floor(i (N - 1) / (p - 1)), the last included
  AddRow,     // out = in0 + in1[0, :] (a bias broadcast over rows)
  FavorRows,  // Performer's positive random features, one token per row: in0 = X W (rows x m), in1 = X
              // (rows x d): out[r, j] = exp(scale in0[r, j] - scale^2 ||in1[r, :]||^2 / 2) / sqrt(m)
              // (scale = d^(-1/4); VecOp::FavorRows)
  FavorCols,  // the same, one token per column: in0 = W^T X^T (m x cols), in1 = X (cols x d):
              // out[i, j] = exp(scale in0[i, j] - scale^2 ||in1[j, :]||^2 / 2) / sqrt(m) (VecOp::FavorCols)
  DivCol,     // out[r, :] = in0[r, :] / in1[r, 0] (in1 one column: a per-row normaliser)
  SegmentMean, // out (l x cols) = the means of l segments of in0's rows (N rows): row i averages rows
               // [floor(i N / l), floor((i + 1) N / l)) (Nystromformer's landmarks; VecOp::ColMeanAcc)
  Pinv,       // out = the iterative Moore-Penrose pseudo-inverse of in0 (square), 6 iterations of
              // Z <- 0.25 Z (13 I - A Z (15 I - A Z (7 I - A Z))) from Z0 = A^T / (max_j sum_i A_ij)
  Copy,       // out = in0 (a decode step appends its new K and V rows to the cache)
  kCount
};
const char* to_string(OpKind k);

struct OpInstance {
  std::array<TensorView, 2> in{};  // unused inputs have tensor = -1
  TensorView out;
};

struct GraphOp {
  OpKind kind = OpKind::MatMul;
  std::string name;  // "L3.qk", "L3.ffn_up", ...
  int layer = 0;
  OpClass cls = OpClass::Other;
  std::vector<OpInstance> instances;  // one per (batch, head) for attention ops, else one
  float scale = 1.f;                  // Softmax; FavorRows, FavorCols: d^(-1/4)
  bool causal = false;                // Softmax
  int group = -1;                     // the AttentionGroup it belongs to, or -1
};

// The attention core of one layer, lowered as a whole by its variant. Low-rank variants, per
// (batch b, head h), N tokens, d head dim, s rank (graph.cpp builds their ops):
//   primal:          Xs = GatherRows(X_b) (p x D); WeT = We~^T_h Xs_h, WrT = Wr~^T_h Xs_h (s x d:
//                    Global, a barrier: all p samples before any output row); qn, kn = L2Norm(q, k);
//                    E = qn WeT^T, R = kn WrT^T (N x s each, side by side in ER); o = ER Wc + bc.
//                    MACs 2 d p s + 4 N d s.
//   primal_causal:   q, k replaced by their prefix means before the L2 norm; WeT, WrT learned (s x d).
//                    MACs 4 N d s.
//   lowrank_linear:  KpT = W_KT_h K^T (s x N), M = KpT V (s x d: Global, a reduction over all N);
//                    Qp = Q W_Q (N x s); o = Qp M. MACs 4 N d s.
//   linformer:       K~ = E K, V~ = F V (k x d: Global, reductions over all N; E, F k x N shared by
//                    the heads); S = Q K~^T (N x k), P = softmax(S / sqrt(d)), O = P V~.
//                    MACs 4 N k d, N k exponentials (k = rank, default 256, at most N).
//   performer:       FAVOR+ (Choromanski et al. 2021), m = rank random features, W (d x m) shared by
//                    the heads (Wfeat, also stored as its transpose WfeatT: a compiler may keep a
//                    constant in any layout); Kf^T = FavorCols(W^T K^T) (m x N), M = Kf^T V (m x d),
//                    z = Kf^T 1 (m x 1) (Global, reductions over all N); Qf = FavorRows(Q W) (N x m),
//                    num = Qf M (N x d), den = Qf z (N x 1), O = DivCol(num, den). MACs 4 N d m + 2 N m
//                    (the two normaliser GEMMs), N m exponentials each for Q and K. Non-causal only.
//   nystromformer:   Xiong et al. 2021, l = rank landmarks (default 64, at most N), non-causal only:
//                    Q~, K~ = SegmentMean(Q, K) (l x d); F = softmax(scale Q K~^T) (N x l), A =
//                    softmax(scale Q~ K~^T) (l x l), BV = softmax(scale Q~ K^T) V (l x d) (Global);
//                    A+ = Pinv(A) (6 iterations); W = A+ BV (l x d, Global); O = F W.
//                    MACs: landmarks none, F N l d, A l^2 d, BV 2 N l d, pinv 6 x 4 l^3 (+ l^3 for
//                    A^T = I A^T), W l^2 d, O N l d: 4 N l d + O(l^3).
struct AttentionGroup {
  int layer = 0;
  AttentionSpec spec;
  bool causal = false;
  float scale = 1.f;  // 1 / sqrt(head_dim)
  std::int64_t seq_len = 0, head_dim = 0;
  // Query rows per instance when they are not seq_len (0: seq_len): a decode step's group of query
  // heads sharing one KV head, against seq_len cached keys (not causal: the cache is all in the past).
  std::int64_t query_len = 0;
  std::vector<int> ops;  // graph ops it covers, in order
  std::int64_t rank = 0, samples = 0;  // s (low-rank variants), p (primal)
  // Graph tensors of the low-rank variants (-1 when unused):
  int source = -1;               // primal: the attention input the tokens are sampled from (T x D)
  int w_e = -1, w_r = -1;        // primal: We~^T, Wr~^T (H s x p); primal_causal: WeT, WrT (H s x d);
                                 // linformer: E, F (k x N)
  int w_c = -1, b_c = -1;        // primal, primal_causal: Wc (2s x d, shared by the heads), bc (1 x d)
  int w_q = -1, w_kt = -1;       // lowrank_linear: W_Q (H d x s), W_K transposed (H s x d)
  int e_weights = -1, r_weights = -1;  // primal: WeT, WrT per (batch, head) (B H s x d); linformer: K~, V~;
                                       // nystromformer: K~ and W = A+ BV (B H l x d)
  int land_q = -1, bv = -1;      // nystromformer: Q~ and BV per (batch, head) (B H l x d)
  int ident = -1;                // nystromformer: the identity (l x l) of A^T = I A^T
  int reduced = -1;              // lowrank_linear, performer: M per (batch, head) (B H s x d)
  int w_feat = -1, w_feat_t = -1;  // performer: W (d x m) and W^T (m x d), shared by the heads
  int ones = -1;                 // performer: the all-ones column (N x 1) of the normaliser z = Kf^T 1
  int normaliser = -1;           // performer: z per (batch, head) (B H m x 1)
  struct Head {
    TensorView q, k, v, o;  // seq_len x head_dim each (k not transposed here)
  };
  std::vector<Head> heads;  // one per (batch, head), batch-major
};

struct Graph {
  std::vector<GraphTensor> tensors;
  std::vector<GraphOp> ops;  // in execution order
  std::vector<AttentionGroup> groups;
  int elem_bytes = 2;
  int input = -1, output = -1;  // the model's input and output tensors
};

// Builds the graph of a whole model (validated config; throws InternalError on inconsistency).
Graph build_graph(const ModelConfig& m);

// Checks every op's views against its tensors and kind (InternalError on the first problem); for
// graphs built by hand.
void check_graph(const Graph& g);

// One line per tensor and per op (--emit graph): kind, name, shapes, views of the first instance
// and the number of instances, group and variant.
void print_graph(const Graph& g, std::ostream& os);

}  // namespace attnsim
