#include "ir/graph.h"

#include <cmath>
#include <sstream>

#include "common/errors.h"

namespace attnsim {

const char* to_string(TensorKind k) {
  static const char* const names[] = {"input", "weight", "activation", "output"};
  return std::size_t(k) < 4 ? names[std::size_t(k)] : "?";
}

const char* to_string(OpKind k) {
  static const char* const names[] = {"matmul", "softmax", "layernorm", "rmsnorm", "add", "gelu", "relu", "swiglu",
                                      "row_sum", "row_max", "l2norm", "prefix_mean", "gather_rows", "add_row",
                                      "favor_rows", "favor_cols", "div_col", "segment_mean", "pinv", "copy"};
  static_assert(sizeof(names) / sizeof(names[0]) == std::size_t(OpKind::kCount));
  return std::size_t(k) < std::size_t(OpKind::kCount) ? names[std::size_t(k)] : "?";
}

namespace {

constexpr TensorView kNone{};  // an unused input (tensor = -1)

TensorView block(int t, std::int64_t row0, std::int64_t col0, std::int64_t rows, std::int64_t cols,
                 bool transposed = false) {
  TensorView v;
  v.tensor = t;
  v.row0 = row0;
  v.col0 = col0;
  v.rows = rows;
  v.cols = cols;
  v.transposed = transposed;
  return v;
}

OpInstance instance(TensorView in0, TensorView in1, TensorView out) {
  OpInstance i;
  i.in = {in0, in1};
  i.out = out;
  return i;
}

// Builds the ops of one layer at a time, appending to the graph in execution order.
class LayerBuilder {
 public:
  LayerBuilder(Graph& g, const LayerSpec& s, int layer)
      : g_(g), s_(s), layer_(layer), prefix_("L" + std::to_string(layer) + "."), tokens_(s.batch * s.seq_len) {}

  // Appends the layer reading tensor x; returns its output tensor.
  int build(int x) {
    if (s_.norm_position == NormPosition::Pre) {
      int xn1 = norm("norm1", x, "xn1");
      int attn = attention(xn1);
      int h = add("residual1", x, attn, "h");
      int xn2 = norm("norm2", h, "xn2");
      int f2 = ffn(xn2);
      return add("residual2", h, f2, "y");
    }
    int attn = attention(x);
    int res1 = add("residual1", x, attn, "res1");
    int h = norm("norm1", res1, "h");
    int f2 = ffn(h);
    int res2 = add("residual2", h, f2, "res2");
    return norm("norm2", res2, "y");
  }

 private:
  int tensor(const std::string& name, std::int64_t rows, std::int64_t cols, TensorKind kind) {
    GraphTensor t;
    t.name = prefix_ + name;
    t.rows = rows;
    t.cols = cols;
    t.elem_bytes = g_.elem_bytes;
    t.kind = kind;
    t.layer = layer_;
    g_.tensors.push_back(std::move(t));
    return int(g_.tensors.size()) - 1;
  }
  int activation(const std::string& name, std::int64_t cols) {
    return tensor(name, tokens_, cols, TensorKind::Activation);
  }
  TensorView full(int t) const { return block(t, 0, 0, g_.tensors[t].rows, g_.tensors[t].cols); }

  int op(OpKind kind, const std::string& name, OpClass cls, std::vector<OpInstance> instances) {
    GraphOp o;
    o.kind = kind;
    o.name = prefix_ + name;
    o.layer = layer_;
    o.cls = cls;
    o.instances = std::move(instances);
    g_.ops.push_back(std::move(o));
    return int(g_.ops.size()) - 1;
  }

  int norm(const std::string& name, int in, const std::string& out_name) {
    bool layernorm = s_.norm == NormKind::LayerNorm;
    int params = tensor(name, layernorm ? 2 : 1, s_.d_model, TensorKind::Weight);
    int out = activation(out_name, s_.d_model);
    op(layernorm ? OpKind::LayerNorm : OpKind::RmsNorm, name, OpClass::Norm,
       {instance(full(in), full(params), full(out))});
    return out;
  }

  int add(const std::string& name, int a, int b, const std::string& out_name) {
    int out = activation(out_name, s_.d_model);
    op(OpKind::Add, name, OpClass::Residual, {instance(full(a), full(b), full(out))});
    return out;
  }

  int matmul(const std::string& name, OpClass cls, int in, int weight, const std::string& out_name) {
    int out = activation(out_name, g_.tensors[weight].cols);
    op(OpKind::MatMul, name, cls, {instance(full(in), full(weight), full(out))});
    return out;
  }

  int attention(int in) {
    switch (s_.attention.variant) {
      case AttnVariant::Primal:
      case AttnVariant::PrimalCausal:
        return primal(in, s_.attention.variant == AttnVariant::PrimalCausal);
      case AttnVariant::LowRankLinear:
        return lowrank_linear(in);
      case AttnVariant::Linformer:
        return linformer(in);
      case AttnVariant::Performer:
        return performer(in);
      case AttnVariant::Nystromformer:
        return nystromformer(in);
      default:
        return vanilla(in);
    }
  }

  AttentionGroup new_group() const {
    AttentionGroup grp;
    grp.layer = layer_;
    grp.spec = s_.attention;
    grp.causal = s_.causal;
    grp.scale = float(1.0 / std::sqrt(double(s_.head_dim)));
    grp.seq_len = s_.seq_len;
    grp.head_dim = s_.head_dim;
    grp.rank = s_.attention.rank ? s_.attention.rank : default_rank(s_.attention.variant, s_.head_dim);
    return grp;
  }

  // Appends an op of the group (instances per (batch, head)).
  // An op of the attention group being built (pushed to g_.groups by finish_group); a softmax in
  // it takes the group's scale and causality.
  void group_op(AttentionGroup& grp, OpKind kind, const std::string& name, OpClass cls, std::vector<OpInstance> in) {
    const int id = op(kind, name, cls, std::move(in));
    g_.ops[id].group = int(g_.groups.size());
    if (kind == OpKind::Softmax) {
      g_.ops[id].scale = grp.scale;
      g_.ops[id].causal = grp.causal;
    }
    grp.ops.push_back(id);
  }

  // Ends an attention group: records it and projects its output o (T x HD): attn = o Wo.
  int finish_group(AttentionGroup& grp, int o) {
    const std::int64_t hd = s_.heads * s_.head_dim;
    g_.groups.push_back(std::move(grp));
    int wo = tensor("Wo", hd, s_.d_model, TensorKind::Weight);
    return matmul("out_proj", OpClass::OutProj, o, wo, "attn");
  }

  // The views of head h of batch b (graph.h): batch b owns token rows [b*N, b*N + N) of `proj` and
  // o; head h owns columns h*dh of each of proj's Q, K and V parts (HD columns each) and of o.
  // with_v false: proj holds Q and K only (primal's qk), and V stays unset.
  AttentionGroup::Head head_views(int proj, int o, std::int64_t b, std::int64_t h, bool with_v = true) const {
    const std::int64_t n = s_.seq_len, dh = s_.head_dim, hd = s_.heads * dh;
    AttentionGroup::Head head;
    head.q = block(proj, b * n, h * dh, n, dh);
    head.k = block(proj, b * n, hd + h * dh, n, dh);
    if (with_v) head.v = block(proj, b * n, 2 * hd + h * dh, n, dh);
    head.o = block(o, b * n, h * dh, n, dh);
    return head;
  }

  // Primal attention (attention group comment in graph.h); attn = o Wo.
  int primal(int in, bool causal_form) {
    const std::int64_t n = s_.seq_len, d = s_.head_dim, heads = s_.heads, hd = heads * d, B = s_.batch;
    AttentionGroup grp = new_group();
    const std::int64_t r = grp.rank;
    int wqk = tensor("Wqk", s_.d_model, 2 * hd, TensorKind::Weight);
    int qk = matmul("qk_proj", OpClass::QkvProj, in, wqk, "qk");
    const int qm = causal_form ? activation("qmean", 2 * hd) : -1;
    int qn = activation("qkn", 2 * hd), er = activation("ER", heads * 2 * r), oc = activation("oc", hd),
        o = activation("o", hd);
    grp.w_c = tensor("Wc", 2 * r, d, TensorKind::Weight);
    grp.b_c = tensor("bc", 1, d, TensorKind::Weight);
    std::vector<OpInstance> gather, we, wr, mean, norm, e, rr, cat, bias;
    if (!causal_form) {
      // p evenly spaced tokens of each sequence (the last included), from the attention input.
      grp.samples = s_.attention.samples ? std::min(s_.attention.samples, n) : std::min(n, 10 * r);
      const std::int64_t p = grp.samples;
      grp.source = in;
      int xs = tensor("Xs", B * p, s_.d_model, TensorKind::Activation);
      grp.w_e = tensor("WeS", heads * r, p, TensorKind::Weight);
      grp.w_r = tensor("WrS", heads * r, p, TensorKind::Weight);
      grp.e_weights = tensor("WeT", B * heads * r, d, TensorKind::Activation);
      grp.r_weights = tensor("WrT", B * heads * r, d, TensorKind::Activation);
      for (std::int64_t b = 0; b < B; ++b) {
        gather.push_back(instance(block(in, b * n, 0, n, s_.d_model), kNone, block(xs, b * p, 0, p, s_.d_model)));
        for (std::int64_t h = 0; h < heads; ++h) {
          const TensorView xsh = block(xs, b * p, h * d, p, d);
          we.push_back(instance(block(grp.w_e, h * r, 0, r, p), xsh, block(grp.e_weights, (b * heads + h) * r, 0, r, d)));
          wr.push_back(instance(block(grp.w_r, h * r, 0, r, p), xsh, block(grp.r_weights, (b * heads + h) * r, 0, r, d)));
        }
      }
    } else {
      grp.w_e = tensor("WeT", heads * r, d, TensorKind::Weight);
      grp.w_r = tensor("WrT", heads * r, d, TensorKind::Weight);
    }
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t h = 0; h < heads; ++h) {
        const AttentionGroup::Head head = head_views(qk, o, b, h, false);
        const TensorView qin = causal_form ? block(qm, b * n, h * d, n, d) : head.q,
                         kin = causal_form ? block(qm, b * n, hd + h * d, n, d) : head.k;
        if (causal_form) {
          mean.push_back(instance(head.q, kNone, qin));
          mean.push_back(instance(head.k, kNone, kin));
        }
        const TensorView qnv = block(qn, b * n, h * d, n, d), knv = block(qn, b * n, hd + h * d, n, d);
        norm.push_back(instance(qin, kNone, qnv));
        norm.push_back(instance(kin, kNone, knv));
        const int wet = causal_form ? grp.w_e : grp.e_weights, wrt = causal_form ? grp.w_r : grp.r_weights;
        const std::int64_t wrow = causal_form ? h * r : (b * heads + h) * r;
        e.push_back(instance(qnv, block(wet, wrow, 0, r, d, true), block(er, b * n, h * 2 * r, n, r)));
        rr.push_back(instance(knv, block(wrt, wrow, 0, r, d, true), block(er, b * n, h * 2 * r + r, n, r)));
        cat.push_back(instance(block(er, b * n, h * 2 * r, n, 2 * r), full(grp.w_c), block(oc, b * n, h * d, n, d)));
        bias.push_back(instance(block(oc, b * n, h * d, n, d), full(grp.b_c), head.o));
        grp.heads.push_back(head);
      }
    if (!causal_form) {
      group_op(grp, OpKind::GatherRows, "sample", OpClass::Global, std::move(gather));
      group_op(grp, OpKind::MatMul, "we_proj", OpClass::Global, std::move(we));
      group_op(grp, OpKind::MatMul, "wr_proj", OpClass::Global, std::move(wr));
    } else {
      group_op(grp, OpKind::PrefixMean, "prefix_mean", OpClass::LowRank, std::move(mean));
    }
    group_op(grp, OpKind::L2Norm, "l2norm", OpClass::LowRank, std::move(norm));
    group_op(grp, OpKind::MatMul, "e_proj", OpClass::LowRank, std::move(e));
    group_op(grp, OpKind::MatMul, "r_proj", OpClass::LowRank, std::move(rr));
    group_op(grp, OpKind::MatMul, "concat_proj", OpClass::LowRank, std::move(cat));
    group_op(grp, OpKind::AddRow, "concat_bias", OpClass::LowRank, std::move(bias));
    return finish_group(grp, o);
  }

  // Low-rank linear attention: O = (Q W_Q) ((K W_K)^T V) per (batch, head); attn = o Wo.
  int lowrank_linear(int in) {
    const std::int64_t n = s_.seq_len, d = s_.head_dim, heads = s_.heads, hd = heads * d, B = s_.batch;
    AttentionGroup grp = new_group();
    const std::int64_t r = grp.rank;
    int wqkv = tensor("Wqkv", s_.d_model, 3 * hd, TensorKind::Weight);
    int qkv = matmul("qkv_proj", OpClass::QkvProj, in, wqkv, "qkv");
    grp.w_q = tensor("WQ", heads * d, r, TensorKind::Weight);
    grp.w_kt = tensor("WKT", heads * r, d, TensorKind::Weight);
    int kpt = tensor("KpT", B * heads * r, n, TensorKind::Activation);
    grp.reduced = tensor("M", B * heads * r, d, TensorKind::Activation);
    int qp = activation("Qp", heads * r), o = activation("o", hd);
    std::vector<OpInstance> kp, red, qpr, out;
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t h = 0; h < heads; ++h) {
        const AttentionGroup::Head head = head_views(qkv, o, b, h);
        const std::int64_t row = (b * heads + h) * r;
        TensorView kt = head.k;
        kt.transposed = true;
        kp.push_back(instance(block(grp.w_kt, h * r, 0, r, d), kt, block(kpt, row, 0, r, n)));
        red.push_back(instance(block(kpt, row, 0, r, n), head.v, block(grp.reduced, row, 0, r, d)));
        qpr.push_back(instance(head.q, block(grp.w_q, h * d, 0, d, r), block(qp, b * n, h * r, n, r)));
        out.push_back(instance(block(qp, b * n, h * r, n, r), block(grp.reduced, row, 0, r, d), head.o));
        grp.heads.push_back(head);
      }
    group_op(grp, OpKind::MatMul, "kp_proj", OpClass::Global, std::move(kp));
    group_op(grp, OpKind::MatMul, "kv_reduce", OpClass::Global, std::move(red));
    group_op(grp, OpKind::MatMul, "qp_proj", OpClass::LowRank, std::move(qpr));
    group_op(grp, OpKind::MatMul, "lowrank_out", OpClass::LowRank, std::move(out));
    return finish_group(grp, o);
  }

  // Linformer: K~ = E K, V~ = F V (k x d, E and F k x N shared by the heads); per (batch, head)
  // S = Q K~^T (N x k), P = softmax(scale * S), O = P V~; attn = o Wo.
  int linformer(int in) {
    const std::int64_t n = s_.seq_len, d = s_.head_dim, heads = s_.heads, hd = heads * d, B = s_.batch;
    AttentionGroup grp = new_group();
    grp.rank = std::min(grp.rank, n);  // projecting N tokens to more than N rows would add nothing
    const std::int64_t k = grp.rank;
    int wqkv = tensor("Wqkv", s_.d_model, 3 * hd, TensorKind::Weight);
    int qkv = matmul("qkv_proj", OpClass::QkvProj, in, wqkv, "qkv");
    grp.w_e = tensor("E", k, n, TensorKind::Weight);
    grp.w_r = tensor("F", k, n, TensorKind::Weight);
    grp.e_weights = tensor("Kproj", B * heads * k, d, TensorKind::Activation);
    grp.r_weights = tensor("Vproj", B * heads * k, d, TensorKind::Activation);
    int S = tensor("S", B * heads * n, k, TensorKind::Activation), P = tensor("P", B * heads * n, k, TensorKind::Activation);
    int o = activation("o", hd);
    std::vector<OpInstance> kp, vp, qk, sm, pv;
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t h = 0; h < heads; ++h) {
        const AttentionGroup::Head head = head_views(qkv, o, b, h);
        const std::int64_t row = (b * heads + h) * k;
        const TensorView kt = block(grp.e_weights, row, 0, k, d), vt = block(grp.r_weights, row, 0, k, d);
        TensorView ktt = kt;
        ktt.transposed = true;
        const TensorView sv = block(S, (b * heads + h) * n, 0, n, k), pview = block(P, (b * heads + h) * n, 0, n, k);
        kp.push_back(instance(full(grp.w_e), head.k, kt));
        vp.push_back(instance(full(grp.w_r), head.v, vt));
        qk.push_back(instance(head.q, ktt, sv));
        sm.push_back(instance(sv, kNone, pview));
        pv.push_back(instance(pview, vt, head.o));
        grp.heads.push_back(head);
      }
    group_op(grp, OpKind::MatMul, "k_proj", OpClass::Global, std::move(kp));
    group_op(grp, OpKind::MatMul, "v_proj", OpClass::Global, std::move(vp));
    group_op(grp, OpKind::MatMul, "qk", OpClass::QK, std::move(qk));
    group_op(grp, OpKind::Softmax, "softmax", OpClass::Softmax, std::move(sm));
    group_op(grp, OpKind::MatMul, "pv", OpClass::PV, std::move(pv));
    return finish_group(grp, o);
  }

  // Performer (FAVOR+, non-causal), m = rank random features; W (d x m) is one per layer, shared by
  // the heads. Per (batch, head):
  //   Global (reductions over all N): KwT = W^T K^T (m x N), KfT = FavorCols(KwT, K),
  //     M = KfT V (m x d), z = KfT 1 (m x 1);
  //   LowRank (per token): Qw = Q W (N x m), Qf = FavorRows(Qw, Q), num = Qf M (N x d),
  //     den = Qf z (N x 1), O = DivCol(num, den).
  // MACs per head: N d m (W^T K^T) + N m d (M) + N m (z) + N d m (Q W) + N m d (num) + N m (den)
  // = 4 N d m + 2 N m (the 2 N m: the two normaliser GEMMs); N m exponentials each for Q and K.
  // W is kept twice, Wfeat (d x m) and WfeatT (m x d): a compiler may store a constant in any layout,
  // and the K side wants W^T as a stored left operand. attn = o Wo.
  int performer(int in) {
    const std::int64_t n = s_.seq_len, d = s_.head_dim, heads = s_.heads, hd = heads * d, B = s_.batch;
    AttentionGroup grp = new_group();
    const std::int64_t m = grp.rank;
    const float imm = float(std::pow(double(d), -0.25));
    int wqkv = tensor("Wqkv", s_.d_model, 3 * hd, TensorKind::Weight);
    int qkv = matmul("qkv_proj", OpClass::QkvProj, in, wqkv, "qkv");
    grp.w_feat = tensor("Wfeat", d, m, TensorKind::Weight);
    grp.w_feat_t = tensor("WfeatT", m, d, TensorKind::Weight);
    grp.ones = tensor("ones", n, 1, TensorKind::Weight);
    int kwt = tensor("KwT", B * heads * m, n, TensorKind::Activation);
    int kft = tensor("KfT", B * heads * m, n, TensorKind::Activation);
    grp.reduced = tensor("M", B * heads * m, d, TensorKind::Activation);
    grp.normaliser = tensor("z", B * heads * m, 1, TensorKind::Activation);
    int qw = activation("Qw", heads * m), qf = activation("Qf", heads * m), num = activation("num", hd),
        den = activation("den", heads), o = activation("o", hd);
    std::vector<OpInstance> kproj, kfeat, red, zsum, qproj, qfeat, nums, dens, div;
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t h = 0; h < heads; ++h) {
        const AttentionGroup::Head head = head_views(qkv, o, b, h);
        const std::int64_t row = (b * heads + h) * m;
        TensorView kt = head.k;
        kt.transposed = true;
        const TensorView kw = block(kwt, row, 0, m, n), kf = block(kft, row, 0, m, n),
                         mv = block(grp.reduced, row, 0, m, d), zv = block(grp.normaliser, row, 0, m, 1),
                         qwv = block(qw, b * n, h * m, n, m), qfv = block(qf, b * n, h * m, n, m),
                         numv = block(num, b * n, h * d, n, d), denv = block(den, b * n, h, n, 1);
        kproj.push_back(instance(full(grp.w_feat_t), kt, kw));
        kfeat.push_back(instance(kw, head.k, kf));
        red.push_back(instance(kf, head.v, mv));
        zsum.push_back(instance(kf, full(grp.ones), zv));
        qproj.push_back(instance(head.q, full(grp.w_feat), qwv));
        qfeat.push_back(instance(qwv, head.q, qfv));
        nums.push_back(instance(qfv, mv, numv));
        dens.push_back(instance(qfv, zv, denv));
        div.push_back(instance(numv, denv, head.o));
        grp.heads.push_back(head);
      }
    group_op(grp, OpKind::MatMul, "kf_proj", OpClass::Global, std::move(kproj));
    group_op(grp, OpKind::FavorCols, "kf_feat", OpClass::Global, std::move(kfeat));
    g_.ops[std::size_t(grp.ops.back())].scale = imm;
    group_op(grp, OpKind::MatMul, "kv_reduce", OpClass::Global, std::move(red));
    group_op(grp, OpKind::MatMul, "k_sum", OpClass::Global, std::move(zsum));
    group_op(grp, OpKind::MatMul, "qf_proj", OpClass::LowRank, std::move(qproj));
    group_op(grp, OpKind::FavorRows, "qf_feat", OpClass::LowRank, std::move(qfeat));
    g_.ops[std::size_t(grp.ops.back())].scale = imm;
    group_op(grp, OpKind::MatMul, "num", OpClass::LowRank, std::move(nums));
    group_op(grp, OpKind::MatMul, "den", OpClass::LowRank, std::move(dens));
    group_op(grp, OpKind::DivCol, "normalise", OpClass::LowRank, std::move(div));
    return finish_group(grp, o);
  }

  // Nystromformer (non-causal), l = rank landmarks (at most N). Per (batch, head):
  //   Global: Q~, K~ = SegmentMean(Q, K) (l x d); A = softmax(scale Q~ K~^T) (l x l), A+ = Pinv(A);
  //     BV = softmax(scale Q~ K^T) V (l x d); W = A+ BV (l x d);
  //   QK / Softmax / PV (per token): F = softmax(scale Q K~^T) (N x l), O = F W.
  // MACs per head: landmarks none (vector adds), F N l d, A l^2 d, BV 2 N l d, pinv 6 x 4 l^3 (+ l^3
  // for the transposition A^T = I A^T of Z0), W l^2 d, O N l d: 4 N l d + O(l^3). attn = o Wo.
  int nystromformer(int in) {
    const std::int64_t n = s_.seq_len, d = s_.head_dim, heads = s_.heads, hd = heads * d, B = s_.batch;
    AttentionGroup grp = new_group();
    grp.rank = std::min(grp.rank, n);  // more landmarks than tokens would leave empty segments
    const std::int64_t l = grp.rank;
    int wqkv = tensor("Wqkv", s_.d_model, 3 * hd, TensorKind::Weight);
    int qkv = matmul("qkv_proj", OpClass::QkvProj, in, wqkv, "qkv");
    grp.land_q = tensor("Qland", B * heads * l, d, TensorKind::Activation);
    grp.e_weights = tensor("Kland", B * heads * l, d, TensorKind::Activation);
    grp.ident = tensor("ident", l, l, TensorKind::Weight);
    grp.bv = tensor("BV", B * heads * l, d, TensorKind::Activation);
    grp.r_weights = tensor("Wland", B * heads * l, d, TensorKind::Activation);
    auto act = [&](const char* name, std::int64_t rows, std::int64_t cols) {
      return tensor(name, rows, cols, TensorKind::Activation);
    };
    int sa = act("SA", B * heads * l, l), pa = act("A", B * heads * l, l), pinv = act("Apinv", B * heads * l, l),
        sb = act("SB", B * heads * l, n), pb = act("PB", B * heads * l, n), S = act("S", B * heads * n, l),
        P = act("P", B * heads * n, l);
    int o = activation("o", hd);
    std::vector<OpInstance> qm, km, aqk, asm_, ap, bqk, bsm, bpv, w, qk, sm, pv;
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t h = 0; h < heads; ++h) {
        const AttentionGroup::Head head = head_views(qkv, o, b, h);
        const std::int64_t row = (b * heads + h) * l, trow = (b * heads + h) * n;
        const TensorView lq = block(grp.land_q, row, 0, l, d), lk = block(grp.e_weights, row, 0, l, d),
                         bvv = block(grp.bv, row, 0, l, d), wv = block(grp.r_weights, row, 0, l, d),
                         sav = block(sa, row, 0, l, l), pav = block(pa, row, 0, l, l), piv = block(pinv, row, 0, l, l),
                         sbv = block(sb, row, 0, l, n), pbv = block(pb, row, 0, l, n), sv = block(S, trow, 0, n, l),
                         pview = block(P, trow, 0, n, l);
        TensorView lkt = lk, kt = head.k;
        lkt.transposed = true, kt.transposed = true;
        qm.push_back(instance(head.q, kNone, lq));
        km.push_back(instance(head.k, kNone, lk));
        aqk.push_back(instance(lq, lkt, sav));
        asm_.push_back(instance(sav, kNone, pav));
        ap.push_back(instance(pav, kNone, piv));
        bqk.push_back(instance(lq, kt, sbv));
        bsm.push_back(instance(sbv, kNone, pbv));
        bpv.push_back(instance(pbv, head.v, bvv));
        w.push_back(instance(piv, bvv, wv));
        qk.push_back(instance(head.q, lkt, sv));
        sm.push_back(instance(sv, kNone, pview));
        pv.push_back(instance(pview, wv, head.o));
        grp.heads.push_back(head);
      }
    group_op(grp, OpKind::SegmentMean, "q_landmarks", OpClass::Global, std::move(qm));
    group_op(grp, OpKind::SegmentMean, "k_landmarks", OpClass::Global, std::move(km));
    group_op(grp, OpKind::MatMul, "landmark_qk", OpClass::Global, std::move(aqk));
    group_op(grp, OpKind::Softmax, "landmark_softmax", OpClass::Global, std::move(asm_));
    group_op(grp, OpKind::Pinv, "pinv", OpClass::Global, std::move(ap));
    group_op(grp, OpKind::MatMul, "bv_qk", OpClass::Global, std::move(bqk));
    group_op(grp, OpKind::Softmax, "bv_softmax", OpClass::Global, std::move(bsm));
    group_op(grp, OpKind::MatMul, "bv_pv", OpClass::Global, std::move(bpv));
    group_op(grp, OpKind::MatMul, "w", OpClass::Global, std::move(w));
    group_op(grp, OpKind::MatMul, "qk", OpClass::QK, std::move(qk));
    group_op(grp, OpKind::Softmax, "softmax", OpClass::Softmax, std::move(sm));
    group_op(grp, OpKind::MatMul, "pv", OpClass::PV, std::move(pv));
    return finish_group(grp, o);
  }

  // qkv = in Wqkv; per (batch, head): S = Q K^T, P = softmax(scale * S), O = P V; attn = o Wo.
  int vanilla(int in) {
    const std::int64_t n = s_.seq_len, dh = s_.head_dim, heads = s_.heads, hd = heads * dh;
    int wqkv = tensor("Wqkv", s_.d_model, 3 * hd, TensorKind::Weight);
    int qkv = matmul("qkv_proj", OpClass::QkvProj, in, wqkv, "qkv");
    int S = tensor("S", s_.batch * heads * n, n, TensorKind::Activation);
    int P = tensor("P", s_.batch * heads * n, n, TensorKind::Activation);
    int o = activation("o", hd);

    AttentionGroup grp;
    grp.layer = layer_;
    grp.spec = s_.attention;
    grp.causal = s_.causal;
    grp.scale = float(1.0 / std::sqrt(double(dh)));
    grp.seq_len = n;
    grp.head_dim = dh;
    std::vector<OpInstance> qk, sm, pv;
    for (std::int64_t b = 0; b < s_.batch; ++b) {
      for (std::int64_t h = 0; h < heads; ++h) {
        // The head's scores are the N rows starting at (b*H + h)*N of S and P.
        const AttentionGroup::Head head = head_views(qkv, o, b, h);
        TensorView kt = head.k;
        kt.transposed = true;
        TensorView s = block(S, (b * heads + h) * n, 0, n, n), p = block(P, (b * heads + h) * n, 0, n, n);
        qk.push_back(instance(head.q, kt, s));
        sm.push_back(instance(s, kNone, p));
        pv.push_back(instance(p, head.v, head.o));
        grp.heads.push_back(head);
      }
    }
    group_op(grp, OpKind::MatMul, "qk", OpClass::QK, std::move(qk));
    group_op(grp, OpKind::Softmax, "softmax", OpClass::Softmax, std::move(sm));
    group_op(grp, OpKind::MatMul, "pv", OpClass::PV, std::move(pv));
    return finish_group(grp, o);
  }

  // f1 = in W1; f1act = Act(f1); f2 = f1act W2. SwiGLU's W1 holds the gate (first F columns) and
  // the up projection (next F) side by side, so one MatMul computes both and Act reads the halves.
  int ffn(int in) {
    const std::int64_t f = s_.ffn_width;
    bool swiglu = s_.activation == Activation::SwiGlu;
    int w1 = tensor("W1", s_.d_model, swiglu ? 2 * f : f, TensorKind::Weight);
    int f1 = matmul("ffn_up", OpClass::Ffn, in, w1, "f1");
    int f1act = activation("f1act", f);
    if (swiglu) {
      op(OpKind::SwiGlu, "ffn_act", OpClass::Ffn,
         {instance(block(f1, 0, 0, tokens_, f), block(f1, 0, f, tokens_, f), full(f1act))});
    } else {
      op(s_.activation == Activation::Relu ? OpKind::Relu : OpKind::Gelu, "ffn_act", OpClass::Ffn,
         {instance(full(f1), kNone, full(f1act))});
    }
    int w2 = tensor("W2", f, s_.d_model, TensorKind::Weight);
    return matmul("ffn_down", OpClass::Ffn, f1act, w2, "f2");
  }

  Graph& g_;
  const LayerSpec& s_;
  int layer_;
  std::string prefix_;
  std::int64_t tokens_;
};

bool same_shape(const TensorView& a, const TensorView& b) {
  return a.logical_rows() == b.logical_rows() && a.logical_cols() == b.logical_cols();
}

// Every view inside its tensor and every op's operand shapes consistent: the compiler relies on
// both.
std::string view_str(const Graph& g, const TensorView& v) {
  if (v.tensor < 0) return "-";
  const GraphTensor& t = g.tensors[v.tensor];
  std::string s = t.name;
  if (v.row0 != 0 || v.col0 != 0 || v.rows != t.rows || v.cols != t.cols)
    s += "[" + std::to_string(v.row0) + ":" + std::to_string(v.row0 + v.rows) + "," + std::to_string(v.col0) + ":" +
         std::to_string(v.col0 + v.cols) + "]";
  return v.transposed ? s + "^T" : s;
}

}  // namespace

void check_graph(const Graph& g) {
  auto in_bounds = [&g](const TensorView& v) {
    if (v.tensor < 0 || v.tensor >= int(g.tensors.size())) return false;
    const GraphTensor& t = g.tensors[v.tensor];
    return v.row0 >= 0 && v.col0 >= 0 && v.rows > 0 && v.cols > 0 && v.row0 + v.rows <= t.rows &&
           v.col0 + v.cols <= t.cols;
  };
  for (const GraphOp& op : g.ops) {
    ATTNSIM_ASSERT(!op.instances.empty(), "op " + op.name + " has no instances");
    for (const OpInstance& i : op.instances) {
      const TensorView &a = i.in[0], &b = i.in[1], &c = i.out;
      ATTNSIM_ASSERT(in_bounds(a) && in_bounds(c) && !c.transposed, "op " + op.name + ": bad view");
      bool has_b = b.tensor >= 0;
      ATTNSIM_ASSERT(!has_b || in_bounds(b), "op " + op.name + ": bad second input view");
      switch (op.kind) {
        case OpKind::MatMul:
          ATTNSIM_ASSERT(
              has_b && a.logical_cols() == b.logical_rows() && c.rows == a.logical_rows() && c.cols == b.logical_cols(),
              "op " + op.name + ": matmul shapes disagree");
          break;
        case OpKind::Softmax:
        case OpKind::Gelu:
        case OpKind::Relu:
          ATTNSIM_ASSERT(!has_b && same_shape(a, c), "op " + op.name + ": shapes disagree");
          break;
        case OpKind::LayerNorm:
        case OpKind::RmsNorm:
          ATTNSIM_ASSERT(
              has_b && same_shape(a, c) && b.cols == a.cols && b.rows == (op.kind == OpKind::LayerNorm ? 2 : 1),
              "op " + op.name + ": norm shapes disagree");
          break;
        case OpKind::Add:
        case OpKind::SwiGlu:
          ATTNSIM_ASSERT(has_b && same_shape(a, c) && same_shape(b, c), "op " + op.name + ": shapes disagree");
          break;
        case OpKind::L2Norm:
        case OpKind::PrefixMean:
        case OpKind::Copy:
          ATTNSIM_ASSERT(!has_b && same_shape(a, c), "op " + op.name + ": shapes disagree");
          break;
        case OpKind::GatherRows:
          ATTNSIM_ASSERT(!has_b && c.cols == a.cols && c.rows <= a.rows, "op " + op.name + ": gather shapes disagree");
          break;
        case OpKind::AddRow:
          ATTNSIM_ASSERT(has_b && same_shape(a, c) && b.cols == a.cols, "op " + op.name + ": bias shapes disagree");
          break;
        case OpKind::FavorRows:  // one token per row: in1 holds the tokens, as many as a has rows
        case OpKind::FavorCols:  // one token per column: in1 holds as many tokens as a has columns
          ATTNSIM_ASSERT(has_b && same_shape(a, c) &&
                             b.logical_rows() == (op.kind == OpKind::FavorRows ? a.logical_rows() : a.logical_cols()),
                         "op " + op.name + ": feature map shapes disagree");
          break;
        case OpKind::DivCol:
          ATTNSIM_ASSERT(has_b && same_shape(a, c) && b.logical_rows() == a.logical_rows() && b.logical_cols() == 1,
                         "op " + op.name + ": division shapes disagree");
          break;
        case OpKind::RowSum:
        case OpKind::RowMax:
          ATTNSIM_ASSERT(!has_b && c.rows == a.rows && c.cols == 1, "op " + op.name + ": reduction shapes disagree");
          break;
        case OpKind::SegmentMean:
          ATTNSIM_ASSERT(!has_b && c.cols == a.logical_cols() && c.rows <= a.logical_rows(),
                         "op " + op.name + ": segment mean shapes disagree");
          break;
        case OpKind::Pinv:
          ATTNSIM_ASSERT(!has_b && same_shape(a, c) && a.rows == a.cols, "op " + op.name + ": pinv shapes disagree");
          break;
        case OpKind::kCount:
          ATTNSIM_ASSERT(false, "op " + op.name + ": bad kind");
      }
    }
  }
}

Graph build_graph(const ModelConfig& m) {
  ATTNSIM_ASSERT(!m.layers.empty(), "a model without layers");
  Graph g;
  g.elem_bytes = m.elem_bytes;
  const LayerSpec& first = m.layers.front();
  GraphTensor x;
  x.name = "x";
  x.rows = first.batch * first.seq_len;
  x.cols = first.d_model;
  x.elem_bytes = m.elem_bytes;
  x.kind = TensorKind::Input;
  x.layer = -1;
  g.tensors.push_back(x);
  g.input = 0;

  int cur = g.input;
  for (size_t l = 0; l < m.layers.size(); ++l) {
    const LayerSpec& s = m.layers[l];
    // A layer reads the previous layer's output tensor itself, so its shape must match: layers of
    // one model may differ in heads or FFN width, not in tokens or width of the residual stream.
    const GraphTensor& in = g.tensors[cur];
    if (in.rows != s.batch * s.seq_len || in.cols != s.d_model)
      throw InternalError("layer " + std::to_string(l) + " reads " + std::to_string(s.batch * s.seq_len) + "x" +
                          std::to_string(s.d_model) + " but its input " + in.name + " is " + std::to_string(in.rows) +
                          "x" + std::to_string(in.cols));
    cur = LayerBuilder(g, s, int(l)).build(cur);
  }
  g.output = cur;
  g.tensors[cur].kind = TensorKind::Output;
  check_graph(g);
  return g;
}

void print_graph(const Graph& g, std::ostream& os) {
  os << "graph: " << g.tensors.size() << " tensors, " << g.ops.size() << " ops, " << g.groups.size()
     << " attention groups, elem_bytes " << g.elem_bytes << ", input " << (g.input >= 0 ? g.tensors[g.input].name : "-")
     << ", output " << (g.output >= 0 ? g.tensors[g.output].name : "-") << "\n";
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    const GraphTensor& t = g.tensors[i];
    os << "tensor " << i << " " << to_string(t.kind) << " " << t.name << " " << t.rows << "x" << t.cols;
    if (t.layer >= 0) os << " layer " << t.layer;
    os << "\n";
  }
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const GraphOp& op = g.ops[i];
    // Streams print floats the same way everywhere ("0.125"), which keeps the listing
    // deterministic.
    std::ostringstream line;
    line << "op " << i << " " << op.name << " " << to_string(op.kind) << " class " << to_string(op.cls) << " layer "
         << op.layer << ": ";
    const OpInstance& first = op.instances.front();
    line << view_str(g, first.in[0]);
    if (first.in[1].tensor >= 0) line << ", " << view_str(g, first.in[1]);
    line << " -> " << view_str(g, first.out);
    if (op.instances.size() > 1) line << " x" << op.instances.size();
    if (op.kind == OpKind::Softmax) line << " scale " << op.scale << (op.causal ? " causal" : "");
    if (op.kind == OpKind::FavorRows || op.kind == OpKind::FavorCols) line << " scale " << op.scale;
    if (op.group >= 0) line << " group " << op.group << " " << to_string(g.groups[op.group].spec.variant);
    os << line.str() << "\n";
  }
}

}  // namespace attnsim
