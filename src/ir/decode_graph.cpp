#include "ir/decode_graph.h"

#include <cmath>

#include "common/errors.h"

namespace attnsim {

namespace {

TensorView view(int t, std::int64_t row0, std::int64_t col0, std::int64_t rows, std::int64_t cols,
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

class StepBuilder {
 public:
  StepBuilder(DecodeStepGraph& d, const LayerSpec& s, int layer)
      : d_(d), g_(d.graph), s_(s), layer_(layer), prefix_("L" + std::to_string(layer) + ".") {}

  int build(int x) {
    const int xn1 = norm("norm1", x, "xn1");
    int o = -1;
    switch (s_.attention.variant) {
      case AttnVariant::PrimalCausal:
        o = primal_causal(xn1);
        break;
      case AttnVariant::LowRankLinear:
        o = lowrank_linear(xn1);
        break;
      default:
        o = vanilla(xn1);
        break;
    }
    const int wo = tensor("Wo", s_.heads * s_.head_dim, s_.d_model, TensorKind::Weight);
    const int attn = matmul("out_proj", OpClass::OutProj, o, wo, "attn");
    const int h = add("residual1", x, attn, "h");
    const int xn2 = norm("norm2", h, "xn2");
    const bool glu = s_.activation == Activation::SwiGlu;
    const int w1 = tensor("W1", s_.d_model, glu ? 2 * s_.ffn_width : s_.ffn_width, TensorKind::Weight);
    const int f1 = matmul("ffn_up", OpClass::Ffn, xn2, w1, "f1");
    const int f1act = activation("f1act", s_.ffn_width);
    const std::int64_t b = s_.batch, f = s_.ffn_width;
    if (glu)
      op(OpKind::SwiGlu, "ffn_act", OpClass::Ffn, {instance(view(f1, 0, 0, b, f), view(f1, 0, f, b, f), full(f1act))});
    else
      op(s_.activation == Activation::Gelu ? OpKind::Gelu : OpKind::Relu, "ffn_act", OpClass::Ffn,
         {instance(full(f1), TensorView{}, full(f1act))});
    const int w2 = tensor("W2", s_.ffn_width, s_.d_model, TensorKind::Weight);
    const int f2 = matmul("ffn_down", OpClass::Ffn, f1act, w2, "f2");
    return add("residual2", h, f2, "y");
  }

 private:
  int tensor(const std::string& name, std::int64_t rows, std::int64_t cols, TensorKind kind, int alias_of = -1) {
    GraphTensor t;
    t.name = prefix_ + name;
    t.rows = rows;
    t.cols = cols;
    t.elem_bytes = g_.elem_bytes;
    t.kind = kind;
    t.layer = layer_;
    t.alias_of = alias_of;
    g_.tensors.push_back(std::move(t));
    return int(g_.tensors.size()) - 1;
  }
  int activation(const std::string& name, std::int64_t cols) {
    return tensor(name, s_.batch, cols, TensorKind::Activation);
  }
  // The same bytes as tensor t (rows x cols) seen as (rows * cols / dh) x dh: one row per head.
  int heads_alias(const std::string& name, int t) {
    const GraphTensor& src = g_.tensors[std::size_t(t)];
    return tensor(name, src.rows * src.cols / s_.head_dim, s_.head_dim, src.kind, t);
  }
  TensorView full(int t) const { return view(t, 0, 0, g_.tensors[t].rows, g_.tensors[t].cols); }

  int op(OpKind kind, const std::string& name, OpClass cls, std::vector<OpInstance> instances, int group = -1) {
    GraphOp o;
    o.kind = kind;
    o.name = prefix_ + name;
    o.layer = layer_;
    o.cls = cls;
    o.instances = std::move(instances);
    o.group = group;
    g_.ops.push_back(std::move(o));
    return int(g_.ops.size()) - 1;
  }
  int norm(const std::string& name, int in, const std::string& out_name) {
    const bool layernorm = s_.norm == NormKind::LayerNorm;
    const int params = tensor(name, layernorm ? 2 : 1, s_.d_model, TensorKind::Weight);
    const int out = activation(out_name, s_.d_model);
    op(layernorm ? OpKind::LayerNorm : OpKind::RmsNorm, name, OpClass::Norm, {instance(full(in), full(params), full(out))});
    return out;
  }
  int add(const std::string& name, int a, int b, const std::string& out_name) {
    const int out = activation(out_name, s_.d_model);
    op(OpKind::Add, name, OpClass::Residual, {instance(full(a), full(b), full(out))});
    return out;
  }
  int matmul(const std::string& name, OpClass cls, int in, int weight, const std::string& out_name) {
    const int out = activation(out_name, g_.tensors[weight].cols);
    op(OpKind::MatMul, name, cls, {instance(full(in), full(weight), full(out))});
    return out;
  }

  // Vanilla attention over the KV cache; returns o (B x H dh).
  int vanilla(int xn1) {
    const std::int64_t B = s_.batch, H = s_.heads, G = s_.kv_heads, g = H / G, dh = s_.head_dim;
    const std::int64_t c = d_.context, cap = d_.capacity, keys = c + 1, width = H + 2 * G;
    const int wqkv = tensor("Wqkv", s_.d_model, width * dh, TensorKind::Weight);
    const int qkv = matmul("qkv_proj", OpClass::QkvProj, xn1, wqkv, "qkv");
    const int heads = heads_alias("qkv_heads", qkv);  // row b * width + i: head i of sequence b
    const int kc = tensor("Kcache", B * G * cap, dh, TensorKind::Activation);
    const int vc = tensor("Vcache", B * G * cap, dh, TensorKind::Activation);
    d_.state_tensors.push_back(kc);
    d_.state_tensors.push_back(vc);
    std::vector<OpInstance> ak, av, qk, sm, pv;
    const int S = tensor("S", B * H, keys, TensorKind::Activation), P = tensor("P", B * H, keys, TensorKind::Activation);
    const int oh = tensor("o_heads", B * H, dh, TensorKind::Activation);
    const int o = tensor("o", B, H * dh, TensorKind::Activation, oh);
    AttentionGroup grp;
    grp.layer = layer_;
    grp.spec = s_.attention;
    // Every vanilla variant decodes alike: one query row per head reads the whole cache once; the
    // mapper picks the score row on chip or online softmax over cache blocks (flash-decoding's split
    // of the keys, combined by the running max and sum).
    grp.spec.variant = AttnVariant::Flash;
    grp.causal = false;
    grp.scale = float(1.0 / std::sqrt(double(dh)));
    grp.seq_len = keys;
    grp.query_len = g;
    grp.head_dim = dh;
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t j = 0; j < G; ++j) {
        const std::int64_t row = (b * G + j) * cap;
        ak.push_back(instance(view(heads, b * width + H + j, 0, 1, dh), TensorView{}, view(kc, row + c, 0, 1, dh)));
        av.push_back(instance(view(heads, b * width + H + G + j, 0, 1, dh), TensorView{}, view(vc, row + c, 0, 1, dh)));
        AttentionGroup::Head hv;
        hv.q = view(heads, b * width + j * g, 0, g, dh);
        hv.k = view(kc, row, 0, keys, dh);
        hv.v = view(vc, row, 0, keys, dh);
        hv.o = view(oh, b * H + j * g, 0, g, dh);
        const TensorView sv = view(S, b * H + j * g, 0, g, keys), pvw = view(P, b * H + j * g, 0, g, keys);
        TensorView kt = hv.k;
        kt.transposed = true;
        qk.push_back(instance(hv.q, kt, sv));
        sm.push_back(instance(sv, TensorView{}, pvw));
        pv.push_back(instance(pvw, hv.v, hv.o));
        grp.heads.push_back(hv);
      }
    op(OpKind::Copy, "append_k", OpClass::QkvProj, std::move(ak));
    op(OpKind::Copy, "append_v", OpClass::QkvProj, std::move(av));
    const int group = int(g_.groups.size());
    grp.ops.push_back(op(OpKind::MatMul, "qk", OpClass::QK, std::move(qk), group));
    grp.ops.push_back(op(OpKind::Softmax, "softmax", OpClass::Softmax, std::move(sm), group));
    g_.ops.back().scale = grp.scale;
    grp.ops.push_back(op(OpKind::MatMul, "pv", OpClass::PV, std::move(pv), group));
    g_.groups.push_back(std::move(grp));
    return o;
  }

  std::int64_t rank() const {
    return s_.attention.rank ? s_.attention.rank : default_rank(s_.attention.variant, s_.head_dim);
  }

  // Causal primal attention as a recurrence on the prefix sums of q and k; returns o (B x H dh).
  int primal_causal(int xn1) {
    const std::int64_t B = s_.batch, H = s_.heads, dh = s_.head_dim, hd = H * dh, r = rank();
    const int wqk = tensor("Wqk", s_.d_model, 2 * hd, TensorKind::Weight);
    const int qk = matmul("qk_proj", OpClass::QkvProj, xn1, wqk, "qk");
    const int state = tensor("state", B, 2 * hd, TensorKind::Activation);  // [sum q | sum k] per sequence
    d_.state_tensors.push_back(state);
    op(OpKind::Add, "state_update", OpClass::LowRank, {instance(full(state), full(qk), full(state))});
    const int state_heads = heads_alias("state_heads", state);
    const int qkn_heads = tensor("qkn_heads", B * 2 * H, dh, TensorKind::Activation);
    const int qkn = tensor("qkn", B, 2 * hd, TensorKind::Activation, qkn_heads);
    op(OpKind::L2Norm, "l2norm", OpClass::LowRank, {instance(full(state_heads), TensorView{}, full(qkn_heads))});
    const int wet = tensor("WeT", H * r, dh, TensorKind::Weight), wrt = tensor("WrT", H * r, dh, TensorKind::Weight);
    const int wc = tensor("Wc", 2 * r, dh, TensorKind::Weight), bc = tensor("bc", 1, dh, TensorKind::Weight);
    const int er = activation("ER", H * 2 * r);
    const int oc = activation("oc", hd);
    const int oc_heads = heads_alias("oc_heads", oc);
    const int o_heads = tensor("o_heads", B * H, dh, TensorKind::Activation);
    const int o = tensor("o", B, hd, TensorKind::Activation, o_heads);
    std::vector<OpInstance> e, rr, cat;
    for (std::int64_t h = 0; h < H; ++h) {
      e.push_back(instance(view(qkn, 0, h * dh, B, dh), view(wet, h * r, 0, r, dh, true), view(er, 0, h * 2 * r, B, r)));
      rr.push_back(
          instance(view(qkn, 0, hd + h * dh, B, dh), view(wrt, h * r, 0, r, dh, true), view(er, 0, h * 2 * r + r, B, r)));
      cat.push_back(instance(view(er, 0, h * 2 * r, B, 2 * r), full(wc), view(oc, 0, h * dh, B, dh)));
    }
    op(OpKind::MatMul, "e_proj", OpClass::LowRank, std::move(e));
    op(OpKind::MatMul, "r_proj", OpClass::LowRank, std::move(rr));
    op(OpKind::MatMul, "concat_proj", OpClass::LowRank, std::move(cat));
    op(OpKind::AddRow, "concat_bias", OpClass::LowRank, {instance(full(oc_heads), full(bc), full(o_heads))});
    return o;
  }

  // Causal low-rank linear attention as a recurrence on M (s x dh per sequence and head).
  int lowrank_linear(int xn1) {
    const std::int64_t B = s_.batch, H = s_.heads, dh = s_.head_dim, hd = H * dh, r = rank();
    const int wqkv = tensor("Wqkv", s_.d_model, 3 * hd, TensorKind::Weight);
    const int qkv = matmul("qkv_proj", OpClass::QkvProj, xn1, wqkv, "qkv");
    const int wq = tensor("WQ", hd, r, TensorKind::Weight), wkt = tensor("WKT", H * r, dh, TensorKind::Weight);
    const int kp = tensor("KP", H * r, B, TensorKind::Activation);
    const int dm = tensor("dM", B * H * r, dh, TensorKind::Activation);
    const int state = tensor("state", B * H * r, dh, TensorKind::Activation);  // M per (b, h), batch-major
    d_.state_tensors.push_back(state);
    const int qp = activation("Qp", H * r), o = activation("o", hd);
    std::vector<OpInstance> kpi, outer, qpi, out;
    for (std::int64_t h = 0; h < H; ++h) {
      kpi.push_back(instance(view(wkt, h * r, 0, r, dh), view(qkv, 0, hd + h * dh, B, dh, true), view(kp, h * r, 0, r, B)));
      qpi.push_back(instance(view(qkv, 0, h * dh, B, dh), view(wq, h * dh, 0, dh, r), view(qp, 0, h * r, B, r)));
    }
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t h = 0; h < H; ++h) {
        const std::int64_t row = (b * H + h) * r;
        outer.push_back(instance(view(kp, h * r, b, r, 1), view(qkv, b, 2 * hd + h * dh, 1, dh), view(dm, row, 0, r, dh)));
        out.push_back(instance(view(qp, b, h * r, 1, r), view(state, row, 0, r, dh), view(o, b, h * dh, 1, dh)));
      }
    op(OpKind::MatMul, "kp_proj", OpClass::LowRank, std::move(kpi));
    op(OpKind::MatMul, "kv_outer", OpClass::LowRank, std::move(outer));
    op(OpKind::Add, "state_update", OpClass::LowRank, {instance(full(state), full(dm), full(state))});
    op(OpKind::MatMul, "qp_proj", OpClass::LowRank, std::move(qpi));
    op(OpKind::MatMul, "lowrank_out", OpClass::LowRank, std::move(out));
    return o;
  }

  DecodeStepGraph& d_;
  Graph& g_;
  const LayerSpec& s_;
  int layer_;
  std::string prefix_;
};

}  // namespace

DecodeStepGraph build_decode_step_graph(const ModelConfig& m, std::int64_t context, std::int64_t capacity) {
  ATTNSIM_ASSERT(!m.layers.empty() && context >= 0 && context < capacity, "decode step outside the cache");
  DecodeStepGraph d;
  d.context = context;
  d.capacity = capacity;
  d.graph.elem_bytes = m.elem_bytes;
  for (std::size_t l = 0; l < m.layers.size(); ++l)
    if (m.layers[l].norm_position != NormPosition::Pre)
      throw UserError(m.source + ": layer " + std::to_string(l) +
                      ": generation is lowered for pre-norm layers only (norm_position \"pre\"), got \"post\"");
  GraphTensor x;
  x.name = "x";
  x.rows = m.layers.front().batch;
  x.cols = m.layers.front().d_model;
  x.elem_bytes = m.elem_bytes;
  x.kind = TensorKind::Input;
  d.graph.tensors.push_back(x);
  d.graph.input = 0;
  int cur = 0;
  for (std::size_t l = 0; l < m.layers.size(); ++l) cur = StepBuilder(d, m.layers[l], int(l)).build(cur);
  d.graph.tensors[std::size_t(cur)].kind = TensorKind::Output;
  d.graph.output = cur;
  check_graph(d.graph);
  return d;
}

std::uint64_t state_bytes_per_sequence(const LayerSpec& l, int elem_bytes, std::int64_t tokens) {
  const std::uint64_t e = std::uint64_t(elem_bytes), dh = std::uint64_t(l.head_dim);
  const std::int64_t r = l.attention.rank ? l.attention.rank : default_rank(l.attention.variant, l.head_dim);
  switch (l.attention.variant) {
    case AttnVariant::PrimalCausal:
      return 2 * std::uint64_t(l.heads) * dh * e;
    case AttnVariant::LowRankLinear:
      return std::uint64_t(l.heads) * std::uint64_t(r) * dh * e;
    default:
      return 2 * std::uint64_t(l.kv_heads) * dh * std::uint64_t(tokens) * e;
  }
}

}  // namespace attnsim
