// Generation: decode steps (ir/decode_graph.h) against the whole causal sequence computed at once, the
// DRAM bytes of a step against the cache and state sizes derived by hand, the sampled simulation
// against simulating every step, and the refusals.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <sstream>

#include "cascade/cascade.h"
#include "cascade/mapping.h"
#include "common/errors.h"
#include "compiler/model_lowering.h"
#include "config/hw_config.h"
#include "config/model_config.h"
#include "ir/decode_graph.h"
#include "ir/executor.h"
#include "mapper/cascade_search.h"
#include "mapper/mapping.h"
#include "report/generation_report.h"
#include "sim/generate.h"
#include "support/hazards.h"
#include "support/reference.h"

using namespace attnsim;

namespace {

HwConfig small_hw(std::int64_t sram_kib = 64) {
  Json doc = {{"array", {{"rows", 8}, {"cols", 8}, {"dataflow", "os"}, {"clock_mhz", 1000}, {"operand_bytes", 2},
                         {"accumulator_bytes", 4}}},
              {"sram", {{"banks", 4}, {"bytes_per_bank", sram_kib * 256}, {"port_bytes", 64}}},
              {"dram", {{"model", "ideal"}, {"bytes_per_cycle", 64}}}};
  return parse_hw_config(doc, "hw.json");
}

struct Shape {
  const char* variant;
  std::int64_t d_model, heads, kv_heads, head_dim, ffn, batch, prefill, generate, rank, layers;
  const char* norm;
  const char* activation;
};

ModelConfig model_of(const Shape& s) {
  Json att = {{"variant", s.variant}};
  if (s.rank) att["rank"] = s.rank;
  Json dflt = {{"d_model", s.d_model}, {"heads", s.heads}, {"kv_heads", s.kv_heads}, {"head_dim", s.head_dim},
               {"seq_len", s.prefill}, {"batch", s.batch}, {"ffn", {{"width", s.ffn}, {"activation", s.activation}}},
               {"norm", s.norm}, {"causal", true}, {"attention", att}};
  return parse_model_config({{"dtype", "fp16"},
                             {"generate", s.generate},
                             {"prefill", s.prefill},
                             {"defaults", dflt},
                             {"layers", Json::array({{{"repeat", s.layers}}})}},
                            "model.json");
}

// Deterministic weights by tensor name, the same in the reference and in every step's program.
ref::Mat weights_of(const std::string& name, std::int64_t elems) {
  return ref::random_values(std::size_t(elems), std::hash<std::string>{}(name) | 1);
}

// The whole causal sequences at once (reference.h's dataflow; pre-norm): per layer its input and its
// projection (qkv, or qk for primal_causal), for the caches; and the model output.
struct Reference {
  std::vector<ref::Mat> layer_in, proj;
  ref::Mat out;
};

Reference reference_forward(const Shape& s, const ModelConfig& m, const ref::Mat& x0) {
  const std::int64_t B = s.batch, N = s.prefill + s.generate - 1, T = B * N, D = s.d_model, H = s.heads,
                     G = s.kv_heads, g = H / G, dh = s.head_dim, hd = H * dh, r = s.rank, F = s.ffn;
  const std::string v = s.variant;
  const bool rms = std::string(s.norm) == "rmsnorm", glu = std::string(s.activation) == "swiglu";
  Reference R;
  ref::Mat x = x0;
  for (std::int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "L" + std::to_string(l) + ".";
    R.layer_in.push_back(x);
    auto norm = [&](const ref::Mat& in, const std::string& name) {
      const ref::Mat params = weights_of(p + name, (rms ? 1 : 2) * D);
      return rms ? ref::rmsnorm(in, T, D, params) : ref::layernorm(in, T, D, params);
    };
    const ref::Mat xn = norm(x, "norm1");
    ref::Mat o(std::size_t(T * hd), 0.f);
    if (v == "primal_causal") {
      const ref::Mat qk = ref::matmul(xn, weights_of(p + "Wqk", D * 2 * hd), T, D, 2 * hd);
      R.proj.push_back(qk);
      const ref::Mat wet = weights_of(p + "WeT", H * r * dh), wrt = weights_of(p + "WrT", H * r * dh),
                     wc = weights_of(p + "Wc", 2 * r * dh), bc = weights_of(p + "bc", dh);
      for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t h = 0; h < H; ++h) {
          const ref::Mat qn = ref::l2_normalize_rows(ref::prefix_mean_rows(ref::block(qk, 2 * hd, b * N, N, h * dh, dh), N, dh), N, dh);
          const ref::Mat kn = ref::l2_normalize_rows(ref::prefix_mean_rows(ref::block(qk, 2 * hd, b * N, N, hd + h * dh, dh), N, dh), N, dh);
          const ref::Mat e = ref::matmul(qn, ref::transpose(ref::block(wet, dh, h * r, r, 0, dh), r, dh), N, dh, r);
          const ref::Mat rr = ref::matmul(kn, ref::transpose(ref::block(wrt, dh, h * r, r, 0, dh), r, dh), N, dh, r);
          for (std::int64_t i = 0; i < N; ++i)
            for (std::int64_t f = 0; f < dh; ++f) {
              double acc = bc[std::size_t(f)];
              for (std::int64_t j = 0; j < r; ++j)
                acc += double(e[std::size_t(i * r + j)]) * wc[std::size_t(j * dh + f)] +
                       double(rr[std::size_t(i * r + j)]) * wc[std::size_t((r + j) * dh + f)];
              o[std::size_t((b * N + i) * hd + h * dh + f)] = float(acc);
            }
        }
    } else if (v == "lowrank_linear") {
      const ref::Mat qkv = ref::matmul(xn, weights_of(p + "Wqkv", D * 3 * hd), T, D, 3 * hd);
      R.proj.push_back(qkv);
      const ref::Mat wq = weights_of(p + "WQ", hd * r), wkt = weights_of(p + "WKT", H * r * dh);
      for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t h = 0; h < H; ++h) {
          // o_i = (q_i W_Q) M_i, M_i = sum_{j <= i} (W_K^T k_j) v_j^T: the causal form, summed as it goes.
          std::vector<double> M(std::size_t(r * dh), 0.0);
          for (std::int64_t i = 0; i < N; ++i) {
            const std::int64_t row = (b * N + i) * 3 * hd;
            for (std::int64_t a = 0; a < r; ++a) {
              double kp = 0;
              for (std::int64_t e = 0; e < dh; ++e) kp += double(wkt[std::size_t((h * r + a) * dh + e)]) * qkv[std::size_t(row + hd + h * dh + e)];
              for (std::int64_t f = 0; f < dh; ++f) M[std::size_t(a * dh + f)] += kp * qkv[std::size_t(row + 2 * hd + h * dh + f)];
            }
            for (std::int64_t f = 0; f < dh; ++f) {
              double acc = 0;
              for (std::int64_t a = 0; a < r; ++a) {
                double qp = 0;
                for (std::int64_t e = 0; e < dh; ++e) qp += double(qkv[std::size_t(row + h * dh + e)]) * wq[std::size_t((h * dh + e) * r + a)];
                acc += qp * M[std::size_t(a * dh + f)];
              }
              o[std::size_t((b * N + i) * hd + h * dh + f)] = float(acc);
            }
          }
        }
    } else {
      const std::int64_t width = (H + 2 * G) * dh;
      const ref::Mat qkv = ref::matmul(xn, weights_of(p + "Wqkv", D * width), T, D, width);
      R.proj.push_back(qkv);
      for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t h = 0; h < H; ++h) {
          const std::int64_t j = h / g;  // the K/V head query head h shares
          const ref::Mat oh = ref::attention(ref::block(qkv, width, b * N, N, h * dh, dh),
                                             ref::block(qkv, width, b * N, N, (H + j) * dh, dh),
                                             ref::block(qkv, width, b * N, N, (H + G + j) * dh, dh), N, dh,
                                             1.0 / std::sqrt(double(dh)), true);
          for (std::int64_t i = 0; i < N; ++i)
            for (std::int64_t f = 0; f < dh; ++f) o[std::size_t((b * N + i) * hd + h * dh + f)] = oh[std::size_t(i * dh + f)];
        }
    }
    const ref::Mat h = ref::add(x, ref::matmul(o, weights_of(p + "Wo", hd * D), T, hd, D));
    const ref::Mat hn = norm(h, "norm2");
    const ref::Mat f1 = ref::matmul(hn, weights_of(p + "W1", D * (glu ? 2 * F : F)), T, D, glu ? 2 * F : F);
    const ref::Mat act = glu ? ref::swiglu(f1, T, F) : ref::gelu(f1);
    x = ref::add(h, ref::matmul(act, weights_of(p + "W2", F * D), T, F, D));
  }
  R.out = x;
  (void)m;
  return R;
}

int tensor_named(const Graph& g, const std::string& name) {
  for (std::size_t i = 0; i < g.tensors.size(); ++i)
    if (g.tensors[i].name == name) return int(i);
  FAIL("no tensor " << name);
  return -1;
}

// The caches or states once `tokens` tokens of every sequence have gone through, from the reference's
// projections: the KV cache filled at positions < tokens (zero beyond, as it starts), primal_causal's
// prefix sums of q and k, lowrank_linear's M = sum (W_K^T k) v^T.
std::map<std::string, ref::Mat> reference_state(const Shape& s, const Reference& R, std::int64_t tokens) {
  const std::int64_t B = s.batch, N = s.prefill + s.generate - 1, cap = N, H = s.heads, G = s.kv_heads,
                     dh = s.head_dim, hd = H * dh, r = s.rank;
  const std::string v = s.variant;
  std::map<std::string, ref::Mat> state;
  for (std::int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "L" + std::to_string(l) + ".";
    const ref::Mat& proj = R.proj[std::size_t(l)];
    if (v == "primal_causal") {
      ref::Mat st(std::size_t(B * 2 * hd), 0.f);  // the prefix sums of q and k
      for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t i = 0; i < tokens; ++i)
          for (std::int64_t c = 0; c < 2 * hd; ++c) st[std::size_t(b * 2 * hd + c)] += proj[std::size_t((b * N + i) * 2 * hd + c)];
      state[p + "state"] = st;
    } else if (v == "lowrank_linear") {
      const ref::Mat wkt = weights_of(p + "WKT", H * r * dh);
      ref::Mat st(std::size_t(B * H * r * dh), 0.f);
      for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t h = 0; h < H; ++h)
          for (std::int64_t i = 0; i < tokens; ++i) {
            const std::int64_t row = (b * N + i) * 3 * hd;
            for (std::int64_t a = 0; a < r; ++a) {
              double kp = 0;
              for (std::int64_t e = 0; e < dh; ++e) kp += double(wkt[std::size_t((h * r + a) * dh + e)]) * proj[std::size_t(row + hd + h * dh + e)];
              for (std::int64_t f = 0; f < dh; ++f)
                st[std::size_t(((b * H + h) * r + a) * dh + f)] += float(kp * proj[std::size_t(row + 2 * hd + h * dh + f)]);
            }
          }
      state[p + "state"] = st;
    } else {
      const std::int64_t width = (H + 2 * G) * dh;
      ref::Mat kc(std::size_t(B * G * cap * dh), 0.f), vc = kc;
      for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t j = 0; j < G; ++j)
          for (std::int64_t i = 0; i < tokens; ++i)
            for (std::int64_t e = 0; e < dh; ++e) {
              const std::size_t at = std::size_t(((b * G + j) * cap + i) * dh + e);
              kc[at] = proj[std::size_t((b * N + i) * width + (H + j) * dh + e)];
              vc[at] = proj[std::size_t((b * N + i) * width + (H + G + j) * dh + e)];
            }
      state[p + "Kcache"] = kc;
      state[p + "Vcache"] = vc;
    }
  }
  return state;
}

// Decodes token by token from the reference's prefill caches and compares every step's output rows and
// the caches or states it leaves with the whole sequence computed at once. Each step runs `orders` times
// from the same caches: in program order (executor seed 0), then in random legal orders (seeds 1 ..
// orders - 1, executor.h); every order must give the reference's outputs and states, and the very same
// states as program order. The next step starts from what program order left.
// Split-K (cascade/mapping.h, splits): every layer's decode attention mapped as flash over key tiles of
// `key_tile` with its key loop cut into `splits` runs (kind "cascade", as --mapping FILE gives it).
ModelMapping split_k_mapping(std::int64_t layers, std::int64_t query_rows, std::int64_t key_tile, int splits) {
  ModelMapping mm;
  mm.source = "splitk.json";
  for (std::int64_t l = 0; l < layers; ++l) {
    OpMapping om;
    om.kind = "cascade";
    om.cascade = {{"cascade", "vanilla"},
                  {"groups", Json::array({{{"steps", {"S", "P", "O"}},
                                           {"loops", Json::array({{{"rank", "m"}, {"tile", query_rows}},
                                                                  {{"rank", "p"}, {"tile", key_tile}}})},
                                           {"splits", splits}}})}};
    mm.ops.emplace_back("L" + std::to_string(l) + ".attention", om);
  }
  return mm;
}

std::size_t merges_in(const TileProgram& p) {
  std::size_t n = 0;
  for (const Instr& in : p.instrs) n += in.op == Opcode::Softmax && in.sm_op() == SmOp::Merge;
  return n;
}

void check_decode(const Shape& s, std::uint64_t orders, int splits = 0, std::int64_t key_tile = 2) {
  INFO(s.variant << " heads " << s.heads << " kv_heads " << s.kv_heads << " batch " << s.batch << " splits " << splits);
  const HwConfig hw = small_hw();
  const ModelConfig m = model_of(s);
  const std::int64_t B = s.batch, N = s.prefill + s.generate - 1, cap = N, D = s.d_model;
  const ref::Mat x0 = ref::random_values(std::size_t(B * N * D), 7);
  const Reference R = reference_forward(s, m, x0);
  std::map<std::string, ref::Mat> state = reference_state(s, R, s.prefill);
  for (std::int64_t c = s.prefill; c < N; ++c) {
    INFO("decode step at context " << c);
    const DecodeStepGraph d = build_decode_step_graph(m, c, cap);
    const Graph& g = d.graph;
    const ModelMapping fixed = split_k_mapping(s.layers, s.heads / s.kv_heads, key_tile, splits);
    MapperOptions opt;
    if (splits) opt.fixed = &fixed;
    const CompiledModel cm = compile_model(hw, g, nullptr, opt);
    const TileProgram p = cm.program.materialise();
    // Per layer, (b, K/V head) instance and run after the first: one Merge.
    if (splits) CHECK(merges_in(p) == std::size_t(s.layers * s.batch * s.kv_heads * (splits - 1)));
    ref::Mat x(std::size_t(B * D)), want(std::size_t(B * D));
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t e = 0; e < D; ++e) {
        x[std::size_t(b * D + e)] = x0[std::size_t((b * N + c) * D + e)];
        want[std::size_t(b * D + e)] = R.out[std::size_t((b * N + c) * D + e)];
      }
    const std::map<std::string, ref::Mat> want_state = reference_state(s, R, c + 1);
    std::map<std::string, ref::Mat> program_order;  // the states seed 0 leaves
    for (std::uint64_t order = 0; order < orders; ++order) {
      INFO("order seed " << order);
      Executor ex(p, hw.onchip_bytes());
      ex.set_tensor(g.input, x);
      for (std::size_t t = 0; t < g.tensors.size(); ++t)
        if (g.tensors[t].kind == TensorKind::Weight)
          ex.set_tensor(int(t), weights_of(g.tensors[t].name, g.tensors[t].rows * g.tensors[t].cols));
      for (const auto& [name, values] : state) ex.set_tensor(tensor_named(g, name), values);
      ex.run(order);
      CHECK(ref::max_rel_error(ex.tensor(g.output), want) < 2e-3);
      for (const auto& [name, values] : want_state) {
        INFO(name);
        const ref::Mat left = ex.tensor(tensor_named(g, name));
        CHECK(ref::max_rel_error(left, values) < 2e-3);
        if (order == 0)
          program_order[name] = left;
        else
          CHECK(left == program_order[name]);
      }
    }
    state = std::move(program_order);
  }
}

}  // namespace

// Program order and three random legal orders (executor seeds 1, 2, 3) per step.
constexpr std::uint64_t kOrders = 4;

TEST_CASE("decode steps give the whole causal sequence's outputs: vanilla with the KV cache", "[decode][functional]") {
  // Multi-head (kv_heads = heads), grouped-query (2 query heads per K/V head) and multi-query.
  check_decode({"flash", 32, 4, 4, 8, 48, 2, 5, 4, 0, 2, "layernorm", "gelu"}, kOrders);
  check_decode({"flash", 32, 4, 2, 8, 48, 2, 5, 4, 0, 2, "rmsnorm", "swiglu"}, kOrders);
  check_decode({"unfused", 32, 4, 1, 8, 48, 3, 3, 3, 0, 1, "rmsnorm", "gelu"}, kOrders);
}

TEST_CASE("decode steps with split-K give the whole causal sequence's outputs", "[decode][functional][splitk]") {
  // Key tiles of 2 over 6 to 9 keys (prefill 5, 4 tokens): 3 runs of 1 or 2 tiles, uneven as the
  // context grows; multi-query with 2 runs over 4 and 5 keys; one run per tile (2 runs of one tile
  // each at the first step's 4 keys).
  check_decode({"flash", 32, 4, 2, 8, 48, 2, 5, 4, 0, 2, "rmsnorm", "swiglu"}, kOrders, 3);
  check_decode({"flash", 32, 4, 1, 8, 48, 3, 3, 3, 0, 1, "rmsnorm", "gelu"}, kOrders, 2);
  check_decode({"flash", 32, 4, 4, 8, 48, 2, 3, 3, 0, 1, "layernorm", "gelu"}, kOrders, 2, 3);
}

TEST_CASE("split-K decode programs order every pair of instructions that touch the same bytes; one cache read",
          "[decode][functional][splitk]") {
  std::vector<HwConfig> hws = {small_hw(), small_hw(8)};
  {
    std::string source;
    hws.push_back(parse_hw_config(read_hw_document("edge", &source), source));
  }
  struct Size {
    std::int64_t d, h, kv, dh, f, b, layers, key_tile;
    int splits;
  };
  // 101 keys (context 100): 7 key tiles of 16 in 4 runs (1 + 2 + 2 + 2), 17 of 6 in 16 runs (one run of 2).
  for (const Size& z : {Size{32, 2, 2, 16, 32, 3, 1, 16, 4}, Size{128, 4, 2, 32, 256, 8, 2, 16, 4},
                       Size{256, 8, 1, 32, 512, 2, 1, 6, 16}}) {
    const ModelConfig m = model_of({"flash", z.d, z.h, z.kv, z.dh, z.f, z.b, 4, 4, 0, z.layers, "rmsnorm", "swiglu"});
    const DecodeStepGraph d = build_decode_step_graph(m, 100, 108);
    const ModelMapping fixed = split_k_mapping(z.layers, z.h / z.kv, z.key_tile, z.splits);
    MapperOptions opt;
    opt.fixed = &fixed;
    for (const HwConfig& hw : hws) {
      if (z.splits > 4 && hw.sram.total_bytes() < 32768) continue;  // 16 accumulators of 8 x 32 fp32 do not fit 8 KiB
      INFO("d_model " << z.d << " batch " << z.b << " splits " << z.splits << " on " << hw.source << " ("
                      << hw.sram.total_bytes() << " B)");
      const TileProgram p = compile_model(hw, d.graph, nullptr, opt).program.materialise();
      CHECK(merges_in(p) == std::size_t(z.layers * z.b * z.kv * (z.splits - 1)));
      std::string conflicts;
      for (const std::string& c : test::unordered_conflicts(p)) conflicts += c + "\n";
      CHECK(conflicts == "");
      // The runs read disjoint keys: each cached K and V row once, 101 per (sequence, K/V head) per layer.
      std::uint64_t cache_bytes = 0;
      for (const Instr& in : p.instrs)
        if (in.op == Opcode::Load) {
          const std::string& name = p.tensors[in.tensor].name;
          if (name.size() > 7 && (name.substr(name.size() - 7) == ".Kcache" || name.substr(name.size() - 7) == ".Vcache"))
            cache_bytes += std::uint64_t(in.rows) * in.sram.cols * 2;
        }
      CHECK(cache_bytes == std::uint64_t(2 * z.layers * z.b * z.kv * 101 * z.dh * 2));
    }
  }
}

TEST_CASE("a split-K mapping round-trips through --emit mapping and --mapping byte for byte", "[decode][splitk]") {
  const ModelConfig m = model_of({"flash", 32, 4, 2, 8, 48, 2, 40, 4, 0, 2, "rmsnorm", "swiglu"});
  const DecodeStepGraph d = build_decode_step_graph(m, 40, 44);
  const ModelMapping fixed = split_k_mapping(2, 2, 8, 3);
  MapperOptions opt;
  opt.fixed = &fixed;
  const HwConfig hw = small_hw();
  const std::string first = mapping_to_json(mapping_of(compile_model(hw, d.graph, nullptr, opt))).dump(2);
  CHECK(first.find("\"splits\": 3") != std::string::npos);
  const ModelMapping back = parse_mapping(Json::parse(first), "emitted.json");
  opt.fixed = &back;
  CHECK(mapping_to_json(mapping_of(compile_model(hw, d.graph, nullptr, opt))).dump(2) == first);
  // Path-aware refusals: more runs than key tiles (41 keys in 6 tiles of 8), and no online softmax.
  const ModelMapping many = split_k_mapping(2, 2, 8, 7);
  opt.fixed = &many;
  CHECK_THROWS_WITH(compile_model(hw, d.graph, nullptr, opt),
                    Catch::Contains("splitk.json: /ops/L0.attention/mapping/groups/0/splits: 7 runs need at least as "
                                    "many tiles of p, there are 6"));
  ModelMapping whole = split_k_mapping(2, 2, 8, 2);  // the loop over p dropped: the score rows whole
  whole.ops[0].second.cascade["groups"][0]["loops"].erase(1);
  opt.fixed = &whole;
  CHECK_THROWS_WITH(compile_model(hw, d.graph, nullptr, opt), Catch::Contains("/groups/0/splits: split-K splits the key loop"));
}

TEST_CASE("decode steps give the whole causal sequence's outputs: primal_causal's prefix sums", "[decode][functional]") {
  check_decode({"primal_causal", 32, 4, 4, 8, 48, 2, 5, 4, 3, 2, "layernorm", "gelu"}, kOrders);
  check_decode({"primal_causal", 32, 2, 2, 16, 32, 3, 1, 4, 5, 1, "rmsnorm", "swiglu"}, kOrders);
}

TEST_CASE("decode steps give the whole causal sequence's outputs: lowrank_linear's recurrence", "[decode][functional]") {
  check_decode({"lowrank_linear", 32, 4, 4, 8, 48, 2, 5, 4, 3, 2, "layernorm", "gelu"}, kOrders);
  check_decode({"lowrank_linear", 32, 2, 2, 16, 32, 3, 2, 3, 4, 1, "rmsnorm", "swiglu"}, kOrders);
}

TEST_CASE("decode step programs order every pair of instructions that touch the same bytes", "[decode][functional]") {
  // Exhaustive where the executor samples orders (support/hazards.h): on the tests' SRAM, on 8 KiB (more
  // tiles, double buffers rotating over several heads and sequences) and on the edge preset.
  std::vector<HwConfig> hws = {small_hw(), small_hw(8)};
  {
    std::string source;
    hws.push_back(parse_hw_config(read_hw_document("edge", &source), source));
  }
  // d_model, heads, kv_heads (vanilla), head_dim, FFN, batch, rank, layers; decode at context 100 of 108.
  struct Size {
    std::int64_t d, h, kv, dh, f, b, r, layers;
  };
  for (const Size z : {Size{32, 2, 2, 16, 32, 3, 5, 1}, Size{128, 4, 2, 32, 256, 8, 16, 2}, Size{256, 8, 1, 32, 512, 16, 24, 1}})
    for (const char* v : {"primal_causal", "lowrank_linear", "flash", "unfused"}) {
      const bool low_rank = std::string(v) != "flash" && std::string(v) != "unfused";
      const ModelConfig m = model_of({v, z.d, z.h, low_rank ? z.h : z.kv, z.dh, z.f, z.b, 4, 4, low_rank ? z.r : 0,
                                      z.layers, "rmsnorm", "swiglu"});
      const DecodeStepGraph d = build_decode_step_graph(m, 100, 108);
      for (const HwConfig& hw : hws) {
        INFO(v << " d_model " << z.d << " batch " << z.b << " on " << hw.source << " (" << hw.sram.total_bytes() << " B)");
        const TileProgram p = compile_model(hw, d.graph).program.materialise();
        std::string conflicts;
        for (const std::string& c : test::unordered_conflicts(p)) conflicts += c + "\n";
        CHECK(conflicts == "");
      }
    }
  // The check sees dependencies go missing: the loads no longer wait for the instructions reading the
  // buffers they overwrite.
  const ModelConfig m = model_of({"lowrank_linear", 32, 2, 2, 16, 32, 3, 4, 4, 5, 1, "rmsnorm", "swiglu"});
  TileProgram p = compile_model(hws[0], build_decode_step_graph(m, 5, 8).graph).program.materialise();
  int removed = 0;
  for (Instr& in : p.instrs)
    if (in.op == Opcode::Load) removed += in.num_deps, in.num_deps = 0;
  REQUIRE(removed > 0);
  CHECK_THAT(test::unordered_conflicts(p).at(0), Catch::StartsWith("WAR: #"));
}

TEST_CASE("decode DRAM bytes: the KV cache grows by 2 x layers x kv_heads x head_dim x dtype per token",
          "[decode][scaling]") {
  const HwConfig hw = small_hw();
  // 2 layers, 8 heads of 16, batch 2, fp16 (2 bytes).
  for (std::int64_t kv : {8, 2, 1}) {
    INFO("kv_heads " << kv);
    const ModelConfig m = model_of({"flash", 64, 8, kv, 16, 64, 2, 64, 200, 0, 2, "rmsnorm", "gelu"});
    // At context c each (sequence, layer, K/V head) reads c + 1 keys and c + 1 values of 16 x 2 bytes and
    // writes the new key and value: B x L x G x 16 x 2 x (2 (c + 1) + 2) bytes.
    for (std::int64_t c : {64, 65, 100, 262}) {
      const DecodeStepBytes b = decode_step_bytes(hw, m, c);
      CHECK(b.state == std::uint64_t(2 * 2 * kv * 16 * 2 * (2 * (c + 1) + 2)));
    }
    // Per sequence, the cache at context c holds 2 x L x G x dh x c x 2 bytes.
    CHECK(state_bytes_per_sequence(m.layers[0], 2, 1000) * 2 == std::uint64_t(2 * 2 * kv * 16 * 1000 * 2));
  }
  // GQA divides the cache bytes by heads / kv_heads exactly.
  const ModelConfig mha = model_of({"flash", 64, 8, 8, 16, 64, 2, 64, 200, 0, 2, "rmsnorm", "gelu"});
  const ModelConfig gqa = model_of({"flash", 64, 8, 2, 16, 64, 2, 64, 200, 0, 2, "rmsnorm", "gelu"});
  CHECK(decode_step_bytes(hw, mha, 150).state == 4 * decode_step_bytes(hw, gqa, 150).state);
}

TEST_CASE("decode DRAM bytes: the low-rank states do not grow, the weights do not depend on the context",
          "[decode][scaling]") {
  const HwConfig hw = small_hw();
  // 2 layers, d_model 64, 4 heads of 16, rank 6, FFN 64 (GELU), batch 3, fp16.
  const std::int64_t L = 2, B = 3, H = 4, dh = 16, r = 6, D = 64, F = 64;
  // Weight elements per layer besides the attention's projections: norms 2 x 2D (LayerNorm), Wo HD x D,
  // W1 D x F, W2 F x D.
  const std::int64_t common = 2 * 2 * D + H * dh * D + D * F + F * D;
  for (const char* v : {"primal_causal", "lowrank_linear", "flash"}) {
    INFO(v);
    const ModelConfig m = model_of({v, D, H, H, dh, F, B, 32, 300, std::string(v) == "flash" ? 0 : r, L, "layernorm", "gelu"});
    const DecodeStepBytes a = decode_step_bytes(hw, m, 32), b = decode_step_bytes(hw, m, 330);
    // Every weight is read once per step, whatever the context: primal_causal Wqk D x 2HD, WeT and WrT
    // H r x dh, bc dh, and Wc 2r x dh once (the heads' concat GEMMs, one op of H instances, share it
    // and the gemm cascade keeps it on chip from one head to the next);
    // lowrank_linear Wqkv D x 3HD, WQ HD x r, WKT H r x dh; vanilla Wqkv.
    const std::int64_t attn = std::string(v) == "primal_causal"    ? D * 2 * H * dh + 2 * H * r * dh + 2 * r * dh + dh
                              : std::string(v) == "lowrank_linear" ? D * 3 * H * dh + 2 * H * r * dh
                                                                   : D * 3 * H * dh;
    CHECK(a.weights == std::uint64_t(L * (common + attn) * 2));
    CHECK(b.weights == a.weights);
    if (std::string(v) == "primal_causal") {
      // The state [sum q | sum k] (2 HD per sequence): read and written by the update (the q, k
      // projection's fused epilogue adds the old sums), read back by the L2 norm: 3 x per layer.
      CHECK(a.state == std::uint64_t(L * B * 2 * H * dh * 2 * 3));
      CHECK(b.state == a.state);
    } else if (std::string(v) == "lowrank_linear") {
      // M (H r x dh per sequence): read by the update and by the output GEMM, written by the update.
      CHECK(a.state == std::uint64_t(L * B * H * r * dh * 2 * 3));
      CHECK(b.state == a.state);
    }
    CHECK(b.activations == a.activations);
  }
}

TEST_CASE("sampled decode simulation interpolates within 0.5% of simulating every step", "[decode][sampling]") {
  // The weights (d_model 256, FFN 1024) dominate a step, as in a real model; the cache's part grows
  // with the context in a staircase (one more array fold every 8 keys).
  const HwConfig hw = small_hw(64);
  const ModelConfig m = model_of({"flash", 256, 4, 2, 16, 1024, 2, 40, 49, 0, 1, "rmsnorm", "gelu"});
  GenerationOptions all, sampled;
  all.all_steps = true;
  all.jobs = sampled.jobs = 2;
  const Json full = simulate_generation(hw, m, all), part = simulate_generation(hw, m, sampled);
  const Json &fs = full["generation"]["steps"], &ps = part["generation"]["steps"];
  REQUIRE(fs.size() == 48);
  REQUIRE(ps.size() == 48);
  CHECK(full["generation"]["sampling"]["simulated_steps"].size() == 48);
  const std::size_t simulated = part["generation"]["sampling"]["simulated_steps"].size();
  CHECK(simulated < 48);
  for (std::size_t i = 0; i < fs.size(); ++i) {
    INFO("step " << i + 1 << (ps[i]["simulated"].get<bool>() ? " (simulated)" : " (interpolated)"));
    const double want = fs[i]["cycles"].get<double>(), got = ps[i]["cycles"].get<double>();
    CHECK(std::abs(got - want) <= 0.005 * want);
    if (ps[i]["simulated"].get<bool>()) CHECK(got == want);
    CHECK(ps[i]["dram_bytes"]["state"] == fs[i]["dram_bytes"]["state"]);  // exactly linear in the context
  }
  const double tf = full["generation"]["tpot_s"]["mean"].get<double>(), tp = part["generation"]["tpot_s"]["mean"].get<double>();
  CHECK(std::abs(tp - tf) <= 0.005 * tf);
  CHECK(full["generation"]["ttft_s"] == part["generation"]["ttft_s"]);
}

TEST_CASE("decode only: the same steps without simulating the prefill; the report says so", "[decode][sampling]") {
  const HwConfig hw = small_hw(64);
  const ModelConfig m = model_of({"flash", 64, 4, 2, 16, 128, 2, 24, 4, 0, 1, "rmsnorm", "gelu"});
  GenerationOptions only;
  only.decode_only = true;
  const Json full = simulate_generation(hw, m), part = simulate_generation(hw, m, only);
  const Json &g = part["generation"], &fg = full["generation"];
  CHECK(g["steps"] == fg["steps"]);  // a step depends on the prefill only through its context
  CHECK(g["steps"].size() == 3);
  CHECK(g["tpot_s"] == fg["tpot_s"]);
  CHECK(g["decode_tokens_per_s"] == fg["decode_tokens_per_s"]);
  CHECK(g["state_bytes_per_sequence"] == fg["state_bytes_per_sequence"]);
  CHECK(fg["ttft_s"].get<double>() > 0);
  CHECK(g["ttft_s"].is_null());
  CHECK(g["tokens_per_s"].is_null());
  CHECK(g["total_s"].is_null());
  CHECK(part["prefill"] == Json{{"simulated", false}});
  CHECK(part["hardware"]["source"] == "hw.json");
  CHECK(!part.contains("cycles"));  // no prefill report at the top level
  CHECK(full["prefill"]["cycles"] == full["cycles"]);
}

TEST_CASE("a decode step's array bound is named fill and drain when few PEs work, compute when most do",
          "[decode][sampling]") {
  // One token per sequence of a batch of 2: every GEMM of the step has 2 rows, which the output-
  // stationary array maps onto its rows. On 64x64 at most 2 of 64 PE rows work (2/64 of the PEs) per
  // busy cycle, far under half; with the DRAM at 4 KiB per cycle the bus never binds. The same step on
  // a 2x2 array fills both rows (N a multiple of 2, the folds full) and only fill and drain, a few
  // cycles per fold against K = 64..256 MACs per PE, keep it from 1: above half.
  auto hw_of = [](int n) {
    Json doc = {{"array", {{"rows", n}, {"cols", n}, {"dataflow", "os"}, {"clock_mhz", 1000}, {"operand_bytes", 2},
                           {"accumulator_bytes", 4}}},
                {"sram", {{"banks", 8}, {"bytes_per_bank", 1 << 20}, {"port_bytes", 4096}}},
                {"dram", {{"model", "ideal"}, {"bytes_per_cycle", 4096}}}};
    return parse_hw_config(doc, "hw.json");
  };
  const ModelConfig m = model_of({"flash", 128, 2, 2, 64, 256, 2, 32, 2, 0, 1, "rmsnorm", "gelu"});
  GenerationOptions only;
  only.decode_only = true;
  const Json big = simulate_generation(hw_of(64), m, only)["generation"]["steps"][0];
  INFO(big.dump());
  CHECK(big["binding"] == "array fill and drain");
  CHECK(big["array_mac_utilization_while_busy"].get<double>() <= 2.0 / 64 + 1e-12);
  const Json tiny = simulate_generation(hw_of(2), m, only)["generation"]["steps"][0];
  INFO(tiny.dump());
  CHECK(tiny["binding"] == "compute");
  CHECK(tiny["array_mac_utilization_while_busy"].get<double>() >= 0.5);
}

TEST_CASE("generation refuses what cannot decode, naming the causal alternative", "[decode][errors]") {
  auto problem = [](const Json& layer_attention, bool causal) {
    try {
      parse_model_config({{"generate", 4},
                          {"defaults", {{"d_model", 32}, {"heads", 2}, {"head_dim", 16}, {"seq_len", 16},
                                        {"ffn", {{"width", 32}, {"activation", "gelu"}}}, {"causal", causal},
                                        {"attention", layer_attention}}},
                          {"layers", Json::array({Json::object()})}},
                         "gen.json");
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK_THAT(problem({{"variant", "primal"}}, false),
             Catch::Contains("gen.json: /layers/0/attention/variant: primal cannot generate token by token") &&
                 Catch::Contains("use primal_causal"));
  CHECK_THAT(problem({{"variant", "linformer"}}, false), Catch::Contains("use lowrank_linear"));
  CHECK_THAT(problem({{"variant", "flash"}}, false), Catch::Contains("/layers/0/causal: must be true to generate"));
  CHECK(problem({{"variant", "lowrank_linear"}}, true) == "accepted");
  CHECK_THAT(problem({{"variant", "flash"}}, true), Catch::Equals("accepted"));
  // kv_heads must divide heads.
  try {
    parse_model_config({{"defaults", {{"d_model", 32}, {"heads", 4}, {"kv_heads", 3}, {"head_dim", 8}, {"seq_len", 16},
                                      {"ffn", {{"width", 32}, {"activation", "gelu"}}}, {"attention", {{"variant", "flash"}}}}},
                        {"layers", Json::array({Json::object()})}},
                       "gqa.json");
    FAIL("accepted");
  } catch (const UserError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("gqa.json: /layers/0/kv_heads: must divide heads (4)"));
  }
}

TEST_CASE("decode steps extrapolated from their first 1, 2 and 3 layers match simulating every layer",
          "[decode][sampling]") {
  // Six identical layers: each step simulated with 1, 2 and 3 layers and extrapolated to 6 (where the
  // three lie on a line), against the same steps simulated with all six layers.
  const HwConfig hw = small_hw(64);
  for (const char* variant : {"flash", "primal_causal"}) {
    INFO(variant);
    const ModelConfig m = model_of({variant, 64, 4, 4, 16, 128, 2, 24, 5, 0, 6, "rmsnorm", "gelu"});
    REQUIRE(layers_extrapolable(m));
    GenerationOptions whole, sampled;
    whole.all_steps = sampled.all_steps = true;
    whole.all_layers = true;
    whole.jobs = sampled.jobs = 2;
    const Json full = simulate_generation(hw, m, whole), part = simulate_generation(hw, m, sampled);
    const Json &fs = full["generation"]["steps"], &ps = part["generation"]["steps"];
    REQUIRE(fs.size() == 4);
    REQUIRE(ps.size() == 4);
    CHECK(part["generation"]["sampling"]["layers"]["steps_extrapolated_from_3_layers"].get<int>() +
              part["generation"]["sampling"]["layers"]["steps_simulated_whole"].get<int>() ==
          4);
    CHECK(part["generation"]["sampling"]["layers"]["steps_extrapolated_from_3_layers"].get<int>() > 0);
    CHECK(full["generation"]["sampling"]["layers"]["steps_extrapolated_from_3_layers"] == 0);
    for (std::size_t i = 0; i < fs.size(); ++i) {
      INFO("step " << i + 1 << ", layers simulated " << ps[i]["layers_simulated"].dump());
      CHECK(fs[i]["layers_simulated"] == "all");
      const double want = fs[i]["cycles"].get<double>(), got = ps[i]["cycles"].get<double>();
      CHECK(std::abs(got - want) <= 1e-3 * want);  // the stated tolerance (linear_tolerance)
      // Counted from the instructions of identical layers: exactly linear in the layers.
      CHECK(ps[i]["dram_bytes"] == fs[i]["dram_bytes"]);
      CHECK(ps[i]["macs"] == fs[i]["macs"]);
      CHECK(ps[i]["binding"] == fs[i]["binding"]);
    }
    // The prefill too is extrapolated from its first layers where they lie on a line (the test below).
    const double tf = full["generation"]["ttft_s"].get<double>(), tp = part["generation"]["ttft_s"].get<double>();
    CHECK(std::abs(tp - tf) <= 1e-3 * tf);
  }
  // Layers that differ are never extrapolated.
  ModelConfig mixed = model_of({"flash", 64, 4, 4, 16, 128, 2, 24, 5, 0, 6, "rmsnorm", "gelu"});
  mixed.layers[4].ffn_width = 256;
  CHECK_FALSE(layers_extrapolable(mixed));
  CHECK_FALSE(layers_extrapolable(model_of({"flash", 64, 4, 4, 16, 128, 2, 24, 5, 0, 3, "rmsnorm", "gelu"})));
}

TEST_CASE("a prefill extrapolated from its first 1, 2 and 3 layers matches simulating every layer within 0.5%",
          "[decode][sampling][prefill]") {
  // Six identical layers: the prefill simulated with its first 1, 2 and 3 layers and extrapolated to 6,
  // against the prefill simulated with all six (--all-layers). The MACs, the DRAM bytes and the
  // compulsory roofline are exactly linear in identical layers (counted, not timed); the time and the
  // energy within the tolerance the extrapolation checks (1e-3), well inside 0.5%.
  Json hw_doc = {{"array", {{"rows", 8}, {"cols", 8}, {"dataflow", "os"}, {"clock_mhz", 1000}, {"operand_bytes", 2},
                            {"accumulator_bytes", 4}}},
                 {"sram", {{"banks", 4}, {"bytes_per_bank", 64 * 256}, {"port_bytes", 64}}},
                 {"dram", {{"model", "ideal"}, {"bytes_per_cycle", 64}}},
                 {"energy", {{"preset", "45nm"}}}};
  const HwConfig hw = parse_hw_config(hw_doc, "hw.json");
  const ModelConfig m = model_of({"flash", 64, 4, 4, 16, 128, 2, 64, 2, 0, 6, "rmsnorm", "gelu"});
  REQUIRE(layers_extrapolable(m));
  GenerationOptions whole, sampled;
  whole.all_layers = true;
  whole.jobs = sampled.jobs = 2;
  const Json full = simulate_generation(hw, m, whole), part = simulate_generation(hw, m, sampled);
  REQUIRE(part["prefill"]["layers_simulated"] == Json::array({1, 2, 3}));
  CHECK(part["generation"]["sampling"]["layers"]["prefill"] == Json::array({1, 2, 3}));
  CHECK(full["prefill"]["layers_simulated"] == "all");
  CHECK(full["generation"]["sampling"]["layers"]["prefill"] == "all");
  CHECK(!full["prefill"].contains("from_simulated_layers"));
  CHECK(part["prefill"]["layers"] == 6);
  CHECK(part["workload"]["layers"] == 6);
  // The per-layer tables are the 3 layers simulated, and the report says so.
  CHECK(part["layers"].size() == 3);
  CHECK(full["layers"].size() == 6);
  const Json& kept = part["prefill"]["from_simulated_layers"];
  CHECK(std::find(kept.begin(), kept.end(), Json("layers")) != kept.end());
  CHECK(std::find(kept.begin(), kept.end(), Json("ops")) != kept.end());
  auto within = [](const Json& got, const Json& want, double tol) {
    INFO(got.dump() << " against " << want.dump());
    CHECK(std::abs(got.get<double>() - want.get<double>()) <= tol * std::abs(want.get<double>()));
  };
  within(part["cycles"], full["cycles"], 0.005);
  within(part["time_us"], full["time_us"], 0.005);
  within(part["generation"]["ttft_s"], full["generation"]["ttft_s"], 0.005);
  within(part["energy"]["total_pj"], full["energy"]["total_pj"], 0.005);
  within(part["array"]["busy_cycles"], full["array"]["busy_cycles"], 0.005);
  CHECK(part["macs"] == full["macs"]);
  CHECK(part["dram"]["bytes_read"] == full["dram"]["bytes_read"]);
  CHECK(part["dram"]["bytes_written"] == full["dram"]["bytes_written"]);
  CHECK(part["program"] == full["program"]);
  CHECK(part["roofline"]["compulsory"]["bound_cycles"] == full["roofline"]["compulsory"]["bound_cycles"]);
  CHECK(part["roofline"]["compulsory"]["ops"].size() == full["roofline"]["compulsory"]["ops"].size());
  for (const char* k : {"array", "vector_unit", "dram_bus", "load_dma", "store_dma"}) {
    INFO(k);
    CHECK(std::abs(part["busy_fraction"][k].get<double>() - full["busy_fraction"][k].get<double>()) <= 0.005);
  }
  // The terminal table says so.
  std::ostringstream shown, shown_full;
  print_generation(shown, part);
  print_generation(shown_full, full);
  CHECK(shown.str().find("extrapolated to 6 layers from its first 1, 2 and 3") != std::string::npos);
  CHECK(shown_full.str().find("extrapolated to") == std::string::npos);
  CHECK(part["generation"]["steps"].size() == 1);  // generate 2: one decode step
  // Deterministic: the same report again, byte for byte.
  CHECK(simulate_generation(hw, m, sampled).dump() == part.dump());
  // No figure lies within a negative tolerance: the prefill falls back to all its layers, as simulated whole.
  GenerationOptions strict = sampled;
  strict.linear_tolerance = -1;
  const Json fallback = simulate_generation(hw, m, strict);
  CHECK(fallback["prefill"]["layers_simulated"] == "all");
  CHECK(fallback["cycles"] == full["cycles"]);
  CHECK(fallback["energy"] == full["energy"]);
}

TEST_CASE("a prefill's DRAM command counts are held to all the commands, its rank residencies to all the rank cycles",
          "[decode][sampling][prefill]") {
  // The banks closed by PREA and the precharged rank cycles of a Llama-2-7B prefill's first 1, 2 and 3
  // layers on cloud with HBM2 (batch 8, prompt 4096), as simulated; the other counts made exactly linear.
  // By hand: PREA-closed banks 3,495,224 / 7,014,688 / 10,512,392 lie 10,512,392 - (2 x 7,014,688 -
  // 3,495,224) = -21,760 off the line, 0.21 % of themselves (over the 1e-3 tolerance) but 0.007 % of
  // the 313,512,392 commands of 3 layers; the precharged rank cycles 624,456,176 - (2 x 416,016,764 -
  // 208,309,560) = 732,208 off, 0.12 % of themselves, 0.02 % of the 3,624,456,176 rank cycles.
  const Json f[3] = {
      {{"act", 1000000}, {"rd", 100000000}, {"prea_banks_closed", 3495224},
       {"active_rank_cycles", 1000000000}, {"precharged_rank_cycles", 208309560}},
      {{"act", 2000000}, {"rd", 200000000}, {"prea_banks_closed", 7014688},
       {"active_rank_cycles", 2000000000}, {"precharged_rank_cycles", 416016764}},
      {{"act", 3000000}, {"rd", 300000000}, {"prea_banks_closed", 10512392},
       {"active_rank_cycles", 3000000000LL}, {"precharged_rank_cycles", 624456176}}};
  const Json x = extrapolate_dram_commands(f, 32, 1e-3);
  REQUIRE(!x.is_null());
  // f(32) = f(3) + 29 (f(3) - f(2)).
  CHECK(x["act"] == 3000000 + 29 * 1000000);
  CHECK(x["rd"] == 300000000LL + 29LL * 100000000LL);
  CHECK(x["prea_banks_closed"] == 10512392 + 29 * (10512392 - 7014688));  // 111,945,808
  CHECK(x["active_rank_cycles"] == 3000000000LL + 29LL * 1000000000LL);
  CHECK(x["precharged_rank_cycles"] == 624456176LL + 29LL * (624456176LL - 416016764LL));  // 6,669,199,124
  // Alone, each is held to itself, and off the line.
  for (const char* k : {"prea_banks_closed", "precharged_rank_cycles"}) {
    INFO(k);
    const Json alone[3] = {{{k, f[0][k]}}, {{k, f[1][k]}}, {{k, f[2][k]}}};
    CHECK(extrapolate_dram_commands(alone, 32, 1e-3).is_null());
    CHECK(!extrapolate_dram_commands(alone, 32, 3e-3).is_null());  // 0.21 % and 0.12 % are within 0.3 %
  }
  // A residency is not held to the commands: with the rank cycles' mass counted as commands it would pass.
  const Json mixed[3] = {{{"rd", 100000000}, {"precharged_rank_cycles", 208309560}},
                         {{"rd", 200000000}, {"precharged_rank_cycles", 416016764}},
                         {{"rd", 300000000}, {"precharged_rank_cycles", 624456176}}};
  CHECK(extrapolate_dram_commands(mixed, 32, 1e-3).is_null());
}

TEST_CASE("the mapper times split-K runs for decode attention and keeps the faster, deterministically",
          "[decode][splitk][mapper]") {
  // The GPT model's one layer at context 32K on cloud, batch 1: eight heads of one query row against
  // 32769 keys. The mapper's pick is what it times fastest among one chain and 2 ... 16 runs of the
  // same loops (ties to one chain); the pick is the same on a second compilation.
  std::string source;
  const HwConfig hw = parse_hw_config(read_hw_document("cloud", &source), source);
  ModelOverrides ov;
  ov.prefill = ov.seq_len = 32768;
  ov.generate = 2;
  ModelConfig m = load_model_config("gpt-wikitext103", ov);
  m.layers.resize(1);
  const DecodeStepGraph d = build_decode_step_graph(m, 32768, 32770);
  const ModelMapping first = mapping_of(compile_model(hw, d.graph));
  CHECK(mapping_to_json(mapping_of(compile_model(hw, d.graph))) == mapping_to_json(first));
  const OpMapping picked = *first.find("L0.attention");
  const Json& g0 = picked.cascade["groups"][0];
  REQUIRE(g0["loops"].size() == 2);  // online over key tiles: the structure split-K applies to
  const int splits = g0.value("splits", 1);
  // Every candidate split count of these loops, timed as the mapper times them (the attention phase alone).
  cascade::Cascade c = cascade::bind_cascade(
      [] {
        Json desc = cascade::vanilla_attention_json();
        desc["ranks"]["m"] = "M";
        return cascade::parse_cascade(desc, "vanilla");
      }(),
      {{"N", 32769.0}, {"M", 1.0}, {"d", 64.0}}, false);
  const cascade::Mapping base = cascade::parse_mapping(picked.cascade, "picked", c, hw);
  double best = -1;
  int fastest = 1;
  for (int n : {1, 2, 4, 8, 16}) {
    cascade::Mapping v = base;
    v.groups[0].splits = n;
    if (!cascade::check_mapping(c, v, hw, std::uint64_t(hw.sram.total_bytes())).empty()) continue;
    const double t = time_cascade_group(c, v, 0, hw, std::uint64_t(hw.sram.total_bytes()), 8);
    if (best < 0 || t < best) best = t, fastest = n;
  }
  CHECK(splits == fastest);
}
