// The workload graph: op counts, MACs against the hand formula, the views of each (batch, head),
// pre- vs post-norm dataflow, SwiGLU halves, and the printed listing.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "common/errors.h"
#include "config/model_config.h"
#include "ir/graph.h"

using namespace attnsim;

namespace {

int tensor_id(const Graph& g, const std::string& name) {
  for (size_t i = 0; i < g.tensors.size(); ++i)
    if (g.tensors[i].name == name) return int(i);
  FAIL("no tensor " << name);
  return -1;
}

const GraphOp& op_named(const Graph& g, const std::string& name) {
  for (const auto& op : g.ops)
    if (op.name == name) return op;
  FAIL("no op " << name);
  return g.ops.front();
}

// The op names of one layer, without the "Ll." prefix, in execution order.
std::vector<std::string> layer_ops(const Graph& g, int layer) {
  std::vector<std::string> names;
  std::string prefix = "L" + std::to_string(layer) + ".";
  for (const auto& op : g.ops)
    if (op.layer == layer) names.push_back(op.name.substr(prefix.size()));
  return names;
}

std::uint64_t matmul_macs(const Graph& g) {
  std::uint64_t macs = 0;
  for (const auto& op : g.ops)
    if (op.kind == OpKind::MatMul)
      for (const auto& i : op.instances)
        macs += std::uint64_t(i.in[0].logical_rows()) * i.in[0].logical_cols() * i.in[1].logical_cols();
  return macs;
}

void check_view(const TensorView& v, int tensor, std::int64_t row0, std::int64_t col0, std::int64_t rows,
                std::int64_t cols, bool transposed = false) {
  CHECK(v.tensor == tensor);
  CHECK(v.row0 == row0);
  CHECK(v.col0 == col0);
  CHECK(v.rows == rows);
  CHECK(v.cols == cols);
  CHECK(v.transposed == transposed);
}

// A small model: batch 2, 3 heads of 4, N = 5, d_model 8, FFN 16.
ModelConfig small_model(const std::string& norm_position, const std::string& activation = "gelu",
                        const std::string& norm = "layernorm", int layers = 1) {
  Json doc = Json::parse(R"({"dtype": "fp32", "layers": [{"d_model": 8, "heads": 3, "head_dim": 4, "seq_len": 5,
      "batch": 2, "ffn": {"width": 16}, "causal": true, "attention": {"variant": "row_fused"}}]})");
  doc["layers"][0]["norm_position"] = norm_position;
  doc["layers"][0]["norm"] = norm;
  doc["layers"][0]["ffn"]["activation"] = activation;
  doc["layers"][0]["repeat"] = layers;
  return parse_model_config(doc, "small.json");
}

}  // namespace

TEST_CASE("graph: BERT-base has 12 ops per layer and the hand-counted MatMul MACs", "[graph]") {
  Graph g = build_graph(load_model_config("bert-base"));
  CHECK(g.ops.size() == 12 * 12);
  CHECK(g.groups.size() == 12);
  CHECK(g.elem_bytes == 2);
  for (int l = 0; l < 12; ++l) CHECK(layer_ops(g, l).size() == 12);
  std::map<OpClass, int> per_class;
  for (const auto& op : g.ops) per_class[op.cls]++;
  CHECK(per_class[OpClass::QkvProj] == 12);
  CHECK(per_class[OpClass::QK] == 12);
  CHECK(per_class[OpClass::Softmax] == 12);
  CHECK(per_class[OpClass::PV] == 12);
  CHECK(per_class[OpClass::OutProj] == 12);
  CHECK(per_class[OpClass::Ffn] == 3 * 12);
  CHECK(per_class[OpClass::Norm] == 2 * 12);
  CHECK(per_class[OpClass::Residual] == 2 * 12);
  for (const auto& op : g.ops) {
    bool attention = op.cls == OpClass::QK || op.cls == OpClass::Softmax || op.cls == OpClass::PV;
    CHECK(op.instances.size() == (attention ? 12u : 1u));  // one per (batch, head), batch 1
    CHECK((op.group >= 0) == attention);
  }

  // The shapes of BERT-base (Devlin et al.): N = 512 tokens, batch 1, so T = N; D = 768; H = 12
  // heads of dh = 64, HD = H * dh = 768; F = 3072. A MatMul of (m x k)(k x n) is m*k*n MACs:
  //   qkv = x Wqkv:        (T x D)(D x 3HD)            T*D*3HD
  //   S = Q K^T per head:  (N x dh)(dh x N), H heads    H*N*N*dh
  //   O = P V per head:    (N x N)(N x dh), H heads     H*N*N*dh
  //   attn = o Wo:         (T x HD)(HD x D)             T*HD*D
  //   f1 = h W1, f2 = f1act W2: (T x D)(D x F) + (T x F)(F x D) = 2*T*D*F
  // over 12 layers.
  const std::uint64_t N = 512, T = N, D = 768, H = 12, dh = 64, HD = H * dh, F = 3072;
  const std::uint64_t expected = 12 * (T * D * 3 * HD + 2 * H * N * N * dh + T * HD * D + 2 * T * D * F);
  CHECK(matmul_macs(g) == expected);
}

TEST_CASE("graph: layer l reads layer l-1's output tensor; input and output are set", "[graph]") {
  Graph g = build_graph(load_model_config("bert-base"));
  REQUIRE(g.input >= 0);
  REQUIRE(g.output >= 0);
  CHECK(g.tensors[g.input].name == "x");
  CHECK(g.tensors[g.input].kind == TensorKind::Input);
  CHECK(g.tensors[g.input].rows == 512);
  CHECK(g.tensors[g.input].cols == 768);
  CHECK(g.tensors[g.output].name == "L11.y");
  CHECK(g.tensors[g.output].kind == TensorKind::Output);
  // Post-norm: the first op of a layer is its QKV projection, reading the previous y itself.
  CHECK(op_named(g, "L0.qkv_proj").instances[0].in[0].tensor == g.input);
  for (int l = 1; l < 12; ++l) {
    std::string prev = "L" + std::to_string(l - 1) + ".y", cur = "L" + std::to_string(l) + ".";
    int y = tensor_id(g, prev);
    CHECK(g.tensors[y].kind == TensorKind::Activation);
    CHECK(op_named(g, cur + "qkv_proj").instances[0].in[0].tensor == y);
    CHECK(op_named(g, cur + "residual1").instances[0].in[0].tensor == y);
  }
  std::set<std::string> names;
  for (const auto& t : g.tensors) CHECK(names.insert(t.name).second);  // names are unique
}

TEST_CASE("graph: the views of head (b, h) land at the documented offsets", "[graph]") {
  ModelConfig m = small_model("pre");
  Graph g = build_graph(m);
  const std::int64_t B = 2, H = 3, dh = 4, N = 5, HD = H * dh;
  int qkv = tensor_id(g, "L0.qkv"), S = tensor_id(g, "L0.S"), P = tensor_id(g, "L0.P"), o = tensor_id(g, "L0.o");
  CHECK(g.tensors[qkv].rows == B * N);
  CHECK(g.tensors[qkv].cols == 3 * HD);
  CHECK(g.tensors[S].rows == B * H * N);
  CHECK(g.tensors[S].cols == N);
  CHECK(g.tensors[P].rows == B * H * N);
  CHECK(g.tensors[o].cols == HD);
  const GraphOp &qk = op_named(g, "L0.qk"), &sm = op_named(g, "L0.softmax"), &pv = op_named(g, "L0.pv");
  REQUIRE(g.groups.size() == 1);
  const AttentionGroup& grp = g.groups[0];
  REQUIRE(qk.instances.size() == size_t(B * H));
  REQUIRE(grp.heads.size() == size_t(B * H));
  for (std::int64_t b = 0; b < B; ++b) {
    for (std::int64_t h = 0; h < H; ++h) {
      INFO("b " << b << " h " << h);
      size_t i = size_t(b * H + h);  // batch-major
      check_view(qk.instances[i].in[0], qkv, b * N, h * dh, N, dh);
      check_view(qk.instances[i].in[1], qkv, b * N, HD + h * dh, N, dh, /*transposed=*/true);
      check_view(qk.instances[i].out, S, (b * H + h) * N, 0, N, N);
      CHECK(qk.instances[i].in[1].logical_rows() == dh);
      CHECK(qk.instances[i].in[1].logical_cols() == N);
      check_view(sm.instances[i].in[0], S, (b * H + h) * N, 0, N, N);
      CHECK(sm.instances[i].in[1].tensor == -1);
      check_view(sm.instances[i].out, P, (b * H + h) * N, 0, N, N);
      check_view(pv.instances[i].in[0], P, (b * H + h) * N, 0, N, N);
      check_view(pv.instances[i].in[1], qkv, b * N, 2 * HD + h * dh, N, dh);
      check_view(pv.instances[i].out, o, b * N, h * dh, N, dh);
      check_view(grp.heads[i].q, qkv, b * N, h * dh, N, dh);
      check_view(grp.heads[i].k, qkv, b * N, HD + h * dh, N, dh);  // not transposed in the group
      check_view(grp.heads[i].v, qkv, b * N, 2 * HD + h * dh, N, dh);
      check_view(grp.heads[i].o, o, b * N, h * dh, N, dh);
    }
  }
  CHECK(grp.layer == 0);
  CHECK(grp.spec.variant == AttnVariant::RowFused);
  CHECK(grp.causal);
  CHECK(grp.seq_len == N);
  CHECK(grp.head_dim == dh);
  CHECK(grp.scale == Approx(0.5));  // 1 / sqrt(4)
  CHECK(sm.scale == grp.scale);
  CHECK(sm.causal);
  int qk_id = int(&qk - g.ops.data()), sm_id = int(&sm - g.ops.data()), pv_id = int(&pv - g.ops.data());
  CHECK(grp.ops == std::vector<int>{qk_id, sm_id, pv_id});
  CHECK(qk.group == 0);
  CHECK(sm.group == 0);
  CHECK(pv.group == 0);
}

TEST_CASE("graph: pre-norm and post-norm order and dataflow", "[graph]") {
  Graph pre = build_graph(small_model("pre"));
  CHECK(layer_ops(pre, 0) == std::vector<std::string>{"norm1", "qkv_proj", "qk", "softmax", "pv", "out_proj",
                                                      "residual1", "norm2", "ffn_up", "ffn_act", "ffn_down",
                                                      "residual2"});
  // xn = Norm(x); qkv = xn Wqkv; h = x + a; hn = Norm(h); f = Act(hn W1); y = h + f W2.
  auto in0 = [](const Graph& g, const std::string& op) {
    return g.tensors[op_named(g, op).instances[0].in[0].tensor].name;
  };
  auto in1 = [](const Graph& g, const std::string& op) {
    return g.tensors[op_named(g, op).instances[0].in[1].tensor].name;
  };
  auto out = [](const Graph& g, const std::string& op) {
    return g.tensors[op_named(g, op).instances[0].out.tensor].name;
  };
  CHECK(in0(pre, "L0.norm1") == "x");
  CHECK(in1(pre, "L0.norm1") == "L0.norm1");
  CHECK(out(pre, "L0.norm1") == "L0.xn1");
  CHECK(in0(pre, "L0.qkv_proj") == "L0.xn1");
  CHECK(in1(pre, "L0.qkv_proj") == "L0.Wqkv");
  CHECK(in0(pre, "L0.out_proj") == "L0.o");
  CHECK(out(pre, "L0.out_proj") == "L0.attn");
  CHECK(in0(pre, "L0.residual1") == "x");
  CHECK(in1(pre, "L0.residual1") == "L0.attn");
  CHECK(out(pre, "L0.residual1") == "L0.h");
  CHECK(in0(pre, "L0.norm2") == "L0.h");
  CHECK(in0(pre, "L0.ffn_up") == "L0.xn2");
  CHECK(out(pre, "L0.ffn_act") == "L0.f1act");
  CHECK(in0(pre, "L0.residual2") == "L0.h");
  CHECK(in1(pre, "L0.residual2") == "L0.f2");
  CHECK(out(pre, "L0.residual2") == "L0.y");
  CHECK(pre.tensors[pre.output].name == "L0.y");

  Graph post = build_graph(small_model("post"));
  CHECK(layer_ops(post, 0) == std::vector<std::string>{"qkv_proj", "qk", "softmax", "pv", "out_proj", "residual1",
                                                       "norm1", "ffn_up", "ffn_act", "ffn_down", "residual2", "norm2"});
  // qkv = x Wqkv; h = Norm(x + a); f = Act(h W1); y = Norm(h + f W2).
  CHECK(in0(post, "L0.qkv_proj") == "x");
  CHECK(out(post, "L0.residual1") == "L0.res1");
  CHECK(in0(post, "L0.norm1") == "L0.res1");
  CHECK(out(post, "L0.norm1") == "L0.h");
  CHECK(in0(post, "L0.ffn_up") == "L0.h");
  CHECK(in0(post, "L0.residual2") == "L0.h");
  CHECK(out(post, "L0.residual2") == "L0.res2");
  CHECK(in0(post, "L0.norm2") == "L0.res2");
  CHECK(out(post, "L0.norm2") == "L0.y");
  CHECK(post.tensors[post.output].name == "L0.y");
  // LayerNorm parameters are gamma and beta: 2 x D.
  CHECK(post.tensors[tensor_id(post, "L0.norm1")].rows == 2);
  CHECK(op_named(post, "L0.norm1").kind == OpKind::LayerNorm);
}

TEST_CASE("graph: SwiGLU reads the gate and up halves of one W1 product; RMSNorm has 1 x D parameters", "[graph]") {
  Graph g = build_graph(small_model("pre", "swiglu", "rmsnorm"));
  const std::int64_t T = 10, D = 8, F = 16;
  int w1 = tensor_id(g, "L0.W1"), f1 = tensor_id(g, "L0.f1"), f1act = tensor_id(g, "L0.f1act");
  CHECK(g.tensors[w1].rows == D);
  CHECK(g.tensors[w1].cols == 2 * F);
  CHECK(g.tensors[f1].cols == 2 * F);
  CHECK(g.tensors[f1act].cols == F);
  const GraphOp& act = op_named(g, "L0.ffn_act");
  CHECK(act.kind == OpKind::SwiGlu);
  CHECK(act.cls == OpClass::Ffn);
  REQUIRE(act.instances.size() == 1);
  check_view(act.instances[0].in[0], f1, 0, 0, T, F);  // gate
  check_view(act.instances[0].in[1], f1, 0, F, T, F);  // up
  check_view(act.instances[0].out, f1act, 0, 0, T, F);
  CHECK(g.tensors[tensor_id(g, "L0.W2")].rows == F);
  CHECK(g.tensors[tensor_id(g, "L0.norm1")].rows == 1);
  CHECK(op_named(g, "L0.norm1").kind == OpKind::RmsNorm);
  CHECK(op_named(g, "L0.norm2").kind == OpKind::RmsNorm);

  // Llama-2-7B: W1 is 4096 x 22016, and the scale is 1/sqrt(128).
  Graph llama = build_graph(load_model_config("llama2-7b-layer"));
  CHECK(llama.tensors[tensor_id(llama, "L0.W1")].cols == 2 * 11008);
  CHECK(llama.groups[0].scale == Approx(1.0 / std::sqrt(128.0)));
  CHECK(llama.groups[0].causal);
  CHECK(op_named(llama, "L0.qk").instances.size() == 32);
}

TEST_CASE("graph: op kinds and classes", "[graph]") {
  Graph g = build_graph(small_model("pre", "relu"));
  std::map<std::string, std::pair<OpKind, OpClass>> want = {
      {"L0.norm1", {OpKind::LayerNorm, OpClass::Norm}},   {"L0.qkv_proj", {OpKind::MatMul, OpClass::QkvProj}},
      {"L0.qk", {OpKind::MatMul, OpClass::QK}},           {"L0.softmax", {OpKind::Softmax, OpClass::Softmax}},
      {"L0.pv", {OpKind::MatMul, OpClass::PV}},           {"L0.out_proj", {OpKind::MatMul, OpClass::OutProj}},
      {"L0.residual1", {OpKind::Add, OpClass::Residual}}, {"L0.norm2", {OpKind::LayerNorm, OpClass::Norm}},
      {"L0.ffn_up", {OpKind::MatMul, OpClass::Ffn}},      {"L0.ffn_act", {OpKind::Relu, OpClass::Ffn}},
      {"L0.ffn_down", {OpKind::MatMul, OpClass::Ffn}},    {"L0.residual2", {OpKind::Add, OpClass::Residual}},
  };
  REQUIRE(g.ops.size() == want.size());
  for (const auto& op : g.ops) {
    INFO(op.name);
    REQUIRE(want.count(op.name));
    CHECK(op.kind == want[op.name].first);
    CHECK(op.cls == want[op.name].second);
    CHECK(op.layer == 0);
  }
  for (const auto& t : g.tensors) CHECK(t.elem_bytes == 4);  // fp32
  CHECK(g.tensors[tensor_id(g, "L0.Wqkv")].kind == TensorKind::Weight);
  CHECK(g.tensors[tensor_id(g, "L0.Wo")].rows == 12);  // HD x D
  CHECK(g.tensors[tensor_id(g, "L0.Wo")].cols == 8);
}

TEST_CASE("graph: print_graph lists every tensor and op, deterministically", "[graph]") {
  Graph g = build_graph(small_model("pre", "gelu", "layernorm", 2));
  std::ostringstream a, b;
  print_graph(g, a);
  print_graph(build_graph(small_model("pre", "gelu", "layernorm", 2)), b);
  CHECK(a.str() == b.str());
  std::string text = a.str();
  size_t lines = std::count(text.begin(), text.end(), '\n');
  CHECK(lines == 1 + g.tensors.size() + g.ops.size());  // a summary, then one line each
  CHECK_THAT(text, Catch::StartsWith("graph: " + std::to_string(g.tensors.size()) +
                                     " tensors, 24 ops, 2 attention "
                                     "groups, elem_bytes 4, input x, output L1.y\n"));
  CHECK_THAT(text, Catch::Contains("\ntensor 0 input x 10x8\n"));
  CHECK_THAT(text, Catch::Contains(" weight L0.Wqkv 8x36 layer 0\n"));
  CHECK_THAT(text, Catch::Contains(" activation L0.S 30x5 layer 0\n"));
  CHECK_THAT(text, Catch::Contains(" output L1.y 10x8 layer 1\n"));
  CHECK_THAT(text, Catch::Contains("\nop 0 L0.norm1 layernorm class norm layer 0: x, L0.norm1 -> L0.xn1\n"));
  CHECK_THAT(text,
             Catch::Contains(
                 " L0.qk matmul class qk layer 0: L0.qkv[0:5,0:4], L0.qkv[0:5,12:16]^T -> L0.S[0:5,0:5] x6 group 0 "
                 "row_fused\n"));
  CHECK_THAT(text, Catch::Contains(" L0.softmax softmax class softmax layer 0: L0.S[0:5,0:5] -> L0.P[0:5,0:5] x6 scale "
                                   "0.5 causal group 0 row_fused\n"));
  CHECK_THAT(text, Catch::Contains(" L0.pv matmul class pv layer 0: L0.P[0:5,0:5], L0.qkv[0:5,24:28] -> L0.o[0:5,0:4] "
                                   "x6 group 0 row_fused\n"));
  CHECK_THAT(text, Catch::Contains(" L1.qkv_proj matmul class qkv_proj layer 1: L1.xn1, L1.Wqkv -> L1.qkv\n"));
  CHECK_THAT(text, Catch::Contains(" L1.norm1 layernorm class norm layer 1: L0.y, L1.norm1 -> L1.xn1\n"));
  CHECK_THAT(text, Catch::Contains(" L1.qk matmul class qk layer 1: "));
  CHECK_THAT(text, Catch::Contains("group 1 row_fused\n"));
}

TEST_CASE("graph: Performer's default features, its ops, views and MACs", "[graph]") {
  // m = round(d ln d): d = 32 -> 110.9 -> 111 (performer-pytorch truncates to 110), d = 64 -> 266.2 ->
  // 266, d = 16 -> 44.4 -> 44; d = 1 gives 0 features, clamped to 1. The other variants ignore d.
  CHECK(default_rank(AttnVariant::Performer, 32) == 111);
  CHECK(default_rank(AttnVariant::Performer, 64) == 266);
  CHECK(default_rank(AttnVariant::Performer, 16) == 44);
  CHECK(default_rank(AttnVariant::Performer, 1) == 1);
  CHECK(default_rank(AttnVariant::Linformer, 32) == kDefaultLinformerK);
  CHECK(default_rank(AttnVariant::LowRankLinear, 32) == kDefaultRank);

  // lra-text: 2 layers, 2 heads of d = 32, N = 4096, batch 1, D = 64.
  ModelOverrides ov;
  ov.variant = "performer";
  ov.batch = 2;
  const Graph g = build_graph(load_model_config("lra-text", ov));
  REQUIRE(g.groups.size() == 2);
  const AttentionGroup& grp = g.groups[0];
  const std::int64_t N = 4096, d = 32, m = 111, H = 2, B = 2, D = 64, T = B * N, HD = H * d, F = 128;
  CHECK(grp.rank == m);
  CHECK(grp.heads.size() == std::size_t(B * H));
  CHECK(g.tensors[std::size_t(grp.w_feat)].name == "L0.Wfeat");
  CHECK(g.tensors[std::size_t(grp.w_feat_t)].name == "L0.WfeatT");
  CHECK(g.tensors[std::size_t(grp.ones)].rows == N);
  CHECK(g.tensors[std::size_t(grp.reduced)].rows == B * H * m);
  CHECK(g.tensors[std::size_t(grp.normaliser)].cols == 1);
  const std::vector<std::pair<std::string, std::pair<OpKind, OpClass>>> want = {
      {"kf_proj", {OpKind::MatMul, OpClass::Global}},    {"kf_feat", {OpKind::FavorCols, OpClass::Global}},
      {"kv_reduce", {OpKind::MatMul, OpClass::Global}},  {"k_sum", {OpKind::MatMul, OpClass::Global}},
      {"qf_proj", {OpKind::MatMul, OpClass::LowRank}},   {"qf_feat", {OpKind::FavorRows, OpClass::LowRank}},
      {"num", {OpKind::MatMul, OpClass::LowRank}},       {"den", {OpKind::MatMul, OpClass::LowRank}},
      {"normalise", {OpKind::DivCol, OpClass::LowRank}},
  };
  REQUIRE(grp.ops.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    const GraphOp& op = g.ops[std::size_t(grp.ops[i])];
    INFO(op.name);
    CHECK(op.name == "L0." + want[i].first);
    CHECK(op.kind == want[i].second.first);
    CHECK(op.cls == want[i].second.second);
    CHECK(op.instances.size() == std::size_t(B * H));
    if (op.kind == OpKind::FavorRows || op.kind == OpKind::FavorCols) CHECK(op.scale == Approx(std::pow(32.0, -0.25)));
  }
  // Head (b = 1, h = 1): its feature rows start at (b H + h) m; K is read transposed by kf_proj.
  const int kwt = tensor_id(g, "L0.KwT"), qkv = tensor_id(g, "L0.qkv");
  const OpInstance& kp = op_named(g, "L0.kf_proj").instances[3];
  check_view(kp.in[1], qkv, N, HD + d, N, d, true);
  check_view(kp.out, kwt, 3 * m, 0, m, N);
  check_view(op_named(g, "L0.den").instances[3].out, tensor_id(g, "L0.den"), N, 1, N, 1);

  // MACs per head 4 N d m + 2 N m, plus qkv, out and FFN projections, over 2 layers.
  const std::uint64_t attention = std::uint64_t(B * H) * (4 * N * d * m + 2 * N * m);
  const std::uint64_t rest = std::uint64_t(T * D * 3 * HD + T * HD * D + 2 * T * D * F);
  CHECK(matmul_macs(g) == 2 * (attention + rest));
}

TEST_CASE("graph: check_graph refuses feature maps and divisions of the wrong shapes", "[graph]") {
  Graph g;
  g.elem_bytes = 4;
  auto tensor = [&](const char* name, std::int64_t r, std::int64_t c) {
    g.tensors.push_back({name, r, c, 4, TensorKind::Activation, 0});
    return int(g.tensors.size() - 1);
  };
  auto whole = [&](int t) {
    return TensorView{t, 0, 0, g.tensors[std::size_t(t)].rows, g.tensors[std::size_t(t)].cols, false};
  };
  const int qw = tensor("qw", 10, 6), x = tensor("x", 10, 4), kw = tensor("kw", 6, 10), out = tensor("out", 10, 6),
            outt = tensor("outt", 6, 10), den = tensor("den", 10, 1), den2 = tensor("den2", 10, 2);
  auto single = [&](OpKind k, int a, int b, int c) {
    Graph h = g;
    h.ops.push_back({k, "op", 0, OpClass::Other, {{{whole(a), whole(b)}, whole(c)}}});
    return h;
  };
  CHECK_NOTHROW(check_graph(single(OpKind::FavorRows, qw, x, out)));
  CHECK_NOTHROW(check_graph(single(OpKind::FavorCols, kw, x, outt)));
  CHECK_NOTHROW(check_graph(single(OpKind::DivCol, out, den, out)));
  CHECK_THROWS_AS(check_graph(single(OpKind::FavorRows, kw, x, outt)), InternalError);  // 6 rows, 10 tokens
  CHECK_THROWS_AS(check_graph(single(OpKind::FavorCols, qw, x, out)), InternalError);   // 6 columns, 10 tokens
  CHECK_THROWS_AS(check_graph(single(OpKind::FavorRows, qw, x, outt)), InternalError);  // out shape
  CHECK_THROWS_AS(check_graph(single(OpKind::DivCol, out, den2, out)), InternalError);  // two columns
}

TEST_CASE("graph: Nystromformer's landmarks, its ops, views and MACs", "[graph]") {
  // l = 64 landmarks by default (the paper's), whatever d; never more than N; causal layers refused.
  CHECK(default_rank(AttnVariant::Nystromformer, 32) == 64);
  CHECK(default_rank(AttnVariant::Nystromformer, 64) == kDefaultNystromLandmarks);
  CHECK_FALSE(supports_causal(AttnVariant::Nystromformer));
  ModelOverrides ov;
  ov.variant = "nystromformer";
  ov.batch = 2;
  const Graph g = build_graph(load_model_config("lra-text", ov));
  REQUIRE(g.groups.size() == 2);
  const AttentionGroup& grp = g.groups[0];
  const std::int64_t N = 4096, d = 32, l = 64, H = 2, B = 2, D = 64, T = B * N, HD = H * d, F = 128;
  CHECK(grp.rank == l);
  CHECK(g.tensors[std::size_t(grp.ident)].rows == l);
  CHECK(g.tensors[std::size_t(grp.land_q)].rows == B * H * l);
  CHECK(g.tensors[std::size_t(grp.e_weights)].name == "L0.Kland");
  CHECK(g.tensors[std::size_t(grp.r_weights)].name == "L0.Wland");
  const std::vector<std::pair<std::string, OpKind>> want = {
      {"q_landmarks", OpKind::SegmentMean}, {"k_landmarks", OpKind::SegmentMean}, {"landmark_qk", OpKind::MatMul},
      {"landmark_softmax", OpKind::Softmax}, {"pinv", OpKind::Pinv},              {"bv_qk", OpKind::MatMul},
      {"bv_softmax", OpKind::Softmax},       {"bv_pv", OpKind::MatMul},           {"w", OpKind::MatMul},
      {"qk", OpKind::MatMul},                {"softmax", OpKind::Softmax},        {"pv", OpKind::MatMul},
  };
  REQUIRE(grp.ops.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    const GraphOp& op = g.ops[std::size_t(grp.ops[i])];
    INFO(op.name);
    CHECK(op.name == "L0." + want[i].first);
    CHECK(op.kind == want[i].second);
    CHECK(op.instances.size() == std::size_t(B * H));
  }
  // Head (b = 1, h = 1): its landmark rows start at 3 l; F's key landmarks are read transposed.
  check_view(op_named(g, "L0.q_landmarks").instances[3].out, grp.land_q, 3 * l, 0, l, d);
  check_view(op_named(g, "L0.qk").instances[3].in[1], grp.e_weights, 3 * l, 0, l, d, true);
  // MatMul MACs per head: F N l d, A l^2 d, BV 2 N l d, W l^2 d, O N l d (the pinv's 24 l^3 + l^3
  // are the Pinv op's, not a MatMul's).
  const std::uint64_t attention = std::uint64_t(B * H) * (4 * N * l * d + 2 * l * l * d);
  const std::uint64_t rest = std::uint64_t(T * D * 3 * HD + T * HD * D + 2 * T * D * F);
  CHECK(matmul_macs(g) == 2 * (attention + rest));
  // l > N: clamped.
  ov.seq_len = 40;
  CHECK(build_graph(load_model_config("lra-text", ov)).groups[0].rank == 40);
}

TEST_CASE("graph: check_graph refuses segment means and pseudo-inverses of the wrong shapes", "[graph]") {
  Graph g;
  g.elem_bytes = 4;
  auto tensor = [&](const char* name, std::int64_t r, std::int64_t c) {
    g.tensors.push_back({name, r, c, 4, TensorKind::Activation, 0});
    return int(g.tensors.size() - 1);
  };
  auto whole = [&](int t) {
    return TensorView{t, 0, 0, g.tensors[std::size_t(t)].rows, g.tensors[std::size_t(t)].cols, false};
  };
  const int x = tensor("x", 10, 4), lm = tensor("lm", 3, 4), bad = tensor("bad", 3, 5), many = tensor("many", 12, 4),
            a = tensor("a", 3, 3), rect = tensor("rect", 3, 4);
  auto single = [&](OpKind k, int in, int out) {
    Graph h = g;
    h.ops.push_back({k, "op", 0, OpClass::Other, {{{whole(in), TensorView{}}, whole(out)}}});
    return h;
  };
  CHECK_NOTHROW(check_graph(single(OpKind::SegmentMean, x, lm)));
  CHECK_NOTHROW(check_graph(single(OpKind::Pinv, a, a)));
  CHECK_THROWS_AS(check_graph(single(OpKind::SegmentMean, x, bad)), InternalError);   // 5 columns
  CHECK_THROWS_AS(check_graph(single(OpKind::SegmentMean, x, many)), InternalError);  // more landmarks than rows
  CHECK_THROWS_AS(check_graph(single(OpKind::Pinv, rect, rect)), InternalError);      // not square
}
