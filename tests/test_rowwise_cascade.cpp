// Row-wise ops as cascades (compiler/rowwise_cascades.h, models/cascades/{layernorm, rmsnorm, add, gelu,
// relu, swiglu, copy, l2norm, add_row, row_sum, row_max}.json): the built-in descriptions are the files;
// every op kind lowered from its cascade by the generic lowering computes what the independent reference
// computes (support/reference.h), under the default mapping and under other legal ones (row blocks that do
// not divide the rows, one row, all rows, single buffers, several instances), in program order and in
// random legal orders; the instructions and DRAM bytes counted by hand; the default row block derived by
// hand; the new map ops' errors name their paths; a model's row-wise ops are cascade mappings in
// --emit mapping, round-trip through --mapping byte for byte, and a fixed row block still computes the layer.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "cascade/builtin.h"
#include "cascade/cascade.h"
#include "cascade/lower.h"
#include "cascade/mapping.h"
#include "common/errors.h"
#include "compiler/model_lowering.h"
#include "compiler/rowwise_cascades.h"
#include "config/hw_config.h"
#include "config/json_reader.h"
#include "config/model_config.h"
#include "ir/executor.h"
#include "ir/graph.h"
#include "support/cascade_harness.h"
#include "support/reference.h"

using namespace attnsim;
using namespace attnsim::cascade;

namespace {

constexpr double kTolerance = 1e-5;

const OpKind kKinds[] = {OpKind::LayerNorm, OpKind::RmsNorm, OpKind::Add,    OpKind::Gelu,
                         OpKind::Relu,      OpKind::SwiGlu,  OpKind::Copy,   OpKind::L2Norm,
                         OpKind::AddRow,    OpKind::RowSum,  OpKind::RowMax};

// The cascade's second input (-1 when none) and whether it is a parameter block every instance shares.
int second_input(const Cascade& c) {
  for (std::size_t t = 0; t < c.desc.tensors.size(); ++t)
    if (c.desc.tensors[t].role == TensorRole::Input && c.desc.tensors[t].name != "X") return int(t);
  return -1;
}
bool shared_params(const Cascade& c) {
  const int s = second_input(c);
  return s >= 0 && c.tensor(s).ranks[0] != c.tensor(c.desc.tensor_index("X")).ranks[0];
}

// The reference of one instance: x (rows x cols), y the second input (x's shape, or the parameter rows).
ref::Mat reference(OpKind k, const ref::Mat& x, const ref::Mat& y, std::int64_t rows, std::int64_t cols) {
  switch (k) {
    case OpKind::LayerNorm:
      return ref::layernorm(x, rows, cols, y);
    case OpKind::RmsNorm:
      return ref::rmsnorm(x, rows, cols, y);
    case OpKind::Add:
      return ref::add(x, y);
    case OpKind::Gelu:
      return ref::gelu(x);
    case OpKind::Relu:
      return ref::relu(x);
    case OpKind::SwiGlu: {
      ref::Mat gate_up(std::size_t(rows * 2 * cols));  // [gate | up] per row, as ref::swiglu reads it
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c) {
          gate_up[std::size_t(r * 2 * cols + c)] = x[std::size_t(r * cols + c)];
          gate_up[std::size_t(r * 2 * cols + cols + c)] = y[std::size_t(r * cols + c)];
        }
      return ref::swiglu(gate_up, rows, cols);
    }
    case OpKind::Copy:
      return x;
    case OpKind::L2Norm:
      return ref::l2_normalize_rows(x, rows, cols);
    case OpKind::AddRow: {
      ref::Mat bias(x.size());
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c) bias[std::size_t(r * cols + c)] = y[std::size_t(c)];
      return ref::add(x, bias);
    }
    case OpKind::RowSum:
    case OpKind::RowMax: {
      ref::Mat out(static_cast<std::size_t>(rows));
      for (std::int64_t r = 0; r < rows; ++r) {
        double acc = k == OpKind::RowSum ? 0.0 : -INFINITY;
        for (std::int64_t c = 0; c < cols; ++c) {
          const double v = x[std::size_t(r * cols + c)];
          acc = k == OpKind::RowSum ? acc + v : std::max(acc, v);
        }
        out[std::size_t(r)] = float(acc);
      }
      return out;
    }
    default:
      FAIL("no reference for " << to_string(k));
      return {};
  }
}

struct Counts {
  std::uint64_t loads = 0, stores = 0, vectors = 0, load_bytes = 0, store_bytes = 0;
};
Counts count(const TileProgram& p) {
  Counts n;
  for (const Instr& in : p.instrs) {
    const std::uint64_t bytes = std::uint64_t(in.rows) * in.sram.cols * in.sram.elem_bytes;
    if (in.op == Opcode::Load) ++n.loads, n.load_bytes += bytes;
    if (in.op == Opcode::Store) ++n.stores, n.store_bytes += bytes;
    n.vectors += in.op == Opcode::Vector;
  }
  return n;
}

// Lowers `instances` instances of op kind k (rows x cols each) under mapping m, runs the program on
// random data in program order and random orders, and checks each instance against the reference.
// Returns the program's instruction counts.
Counts check_op(const HwConfig& hw, OpKind k, const Cascade& c, const Mapping& m, int instances) {
  INFO(to_string(k) << " " << c.rows(c.desc.tensor_index("X")) << "x" << c.cols(c.desc.tensor_index("X")) << " x "
                    << instances << ", mapping " << mapping_to_json(c, m).dump());
  const CascadePlan plan = plan_cascade(c, m, hw, std::uint64_t(hw.sram.total_bytes()));
  const int second = second_input(c);
  std::vector<std::string> shared;
  if (shared_params(c)) shared.push_back(c.tensor(second).name);
  const test::CascadeHarness h = test::make_cascade_harness(c, plan, instances, hw.array.operand_bytes, shared);
  const TileProgram p = lower_program(hw, plan, h.tensors, h.bindings);
  const int tx = c.desc.tensor_index("X"), ty = c.desc.tensor_index("Y");
  const std::int64_t rows = c.rows(tx), cols = c.cols(tx);
  const ref::Mat x = ref::random_values(std::size_t(instances * rows * cols), 5 + std::uint64_t(k));
  ref::Mat y;
  if (second >= 0) {
    const std::int64_t copies = shared_params(c) ? 1 : instances;
    y = ref::random_values(std::size_t(copies * c.rows(second) * cols), 17 + std::uint64_t(k));
  }
  for (std::uint64_t seed : {0, 1, 2, 3}) {
    INFO("executor seed " << seed);
    Executor e(p, hw.onchip_bytes());  // fresh: DRAM and SRAM start as NaN
    e.set_tensor(h.tensor_of[std::size_t(tx)], x);
    if (second >= 0) e.set_tensor(h.tensor_of[std::size_t(second)], y);
    e.run(seed);
    const ref::Mat out = e.tensor(h.tensor_of[std::size_t(ty)]);
    const std::int64_t out_cols = c.cols(ty);
    for (int i = 0; i < instances; ++i) {
      INFO("instance " << i);
      const ref::Mat xi = ref::block(x, cols, i * rows, rows, 0, cols);
      const ref::Mat yi = second < 0 ? ref::Mat() : shared_params(c) ? y : ref::block(y, cols, i * rows, rows, 0, cols);
      CHECK(ref::max_rel_error(ref::block(out, out_cols, i * rows, rows, 0, out_cols), reference(k, xi, yi, rows, cols)) <
            kTolerance);
    }
  }
  return count(p);
}

Mapping with_block(const Cascade& c, const HwConfig& hw, std::int64_t rb, int x_buffers) {
  Mapping m = rowwise_default_mapping(c, hw, std::uint64_t(hw.sram.total_bytes()), "test");
  m.groups.front().loops = {{c.desc.rank_index("m"), rb}};
  m.tensors[std::size_t(c.desc.tensor_index("X"))].buffers = x_buffers;
  return m;
}

}  // namespace

TEST_CASE("rowwise cascades: every row-wise op kind is its built-in cascade, models/cascades/KIND.json",
          "[rowwise][cascade]") {
  const VecOp want[] = {VecOp::LayerNorm, VecOp::RmsNorm, VecOp::Add,    VecOp::Gelu,   VecOp::Relu, VecOp::SwiGlu,
                        VecOp::Copy,      VecOp::L2Norm,  VecOp::AddRow, VecOp::RowSum, VecOp::RowMax};
  for (std::size_t i = 0; i < std::size(kKinds); ++i) {
    const OpKind k = kKinds[i];
    const std::string stem = to_string(k);
    INFO(stem);
    CHECK(has_rowwise_cascade(k));
    CHECK(builtin_cascade_json(stem) == read_json_file(std::string(ATTNSIM_SOURCE_DIR) + "/models/cascades/" + stem + ".json"));
    const Cascade c = rowwise_cascade(k, 37, 24);
    CHECK(c.desc.name == stem);
    REQUIRE(c.desc.steps.size() == 1);
    CHECK(c.rows(c.desc.tensor_index("Y")) == 37);
    CHECK(c.cols(c.desc.tensor_index("Y")) == (k == OpKind::RowSum || k == OpKind::RowMax ? 1 : 24));
    CHECK(vector_op_of(c.step(0)) == want[i]);  // the vector unit's op the step runs
  }
  CHECK_FALSE(has_rowwise_cascade(OpKind::MatMul));
  CHECK_FALSE(has_rowwise_cascade(OpKind::Softmax));
  CHECK_THROWS_AS(rowwise_cascade(OpKind::Softmax, 4, 4), InternalError);
}

TEST_CASE("rowwise cascades: every op kind computes its reference under several row blocks and instances",
          "[rowwise][cascade][functional]") {
  const HwConfig hw = test::cascade_test_hw(8, 256);
  for (OpKind k : kKinds) {
    // 37 rows of 24 columns: blocks of 10 leave a last block of 7; 1 row per block; all 37 at once.
    const Cascade c = rowwise_cascade(k, 37, 24);
    for (std::int64_t rb : {10, 1, 37})
      for (int xb : {2, 1}) check_op(hw, k, c, with_block(c, hw, rb, xb), 3);
    // The default mapping on rows of 512 columns (three blocks of 16, 16 and 5 rows; below).
    const Cascade wide = rowwise_cascade(k, 37, 512);
    check_op(hw, k, wide, rowwise_default_mapping(wide, hw, std::uint64_t(hw.sram.total_bytes()), "test"), 2);
  }
}

TEST_CASE("rowwise cascades: the default row block and the instructions and bytes of the stream, by hand",
          "[rowwise][cascade]") {
  // cascade_test_hw(8, 256): 256 KiB of SRAM, an ideal DRAM of 64 B/cycle and no latency. A block is
  // the larger of 16 KiB and two latencies of bytes (0 here), at most an eighth of the SRAM (32 KiB):
  // 16 KiB of rows of 512 fp16 columns (1 KiB each) = 16 rows.
  const HwConfig hw = test::cascade_test_hw(8, 256);
  const std::uint64_t cap = std::uint64_t(hw.sram.total_bytes());
  for (OpKind k : {OpKind::LayerNorm, OpKind::Add, OpKind::RowSum}) {
    INFO(to_string(k));
    const Cascade c = rowwise_cascade(k, 37, 512);
    const Mapping m = rowwise_default_mapping(c, hw, cap, "test");
    CHECK(rowwise_block_rows(c, m) == 16);
    const CascadePlan plan = plan_cascade(c, m, hw, cap);
    // Double-buffered X (and R) and Y, single-buffered parameters, each slot on 64 B:
    //   layernorm: 2 x 16 KiB X + 2 KiB g (2 x 512 x 2 B) + 2 x 16 KiB Y = 67,584 B;
    //   add:       2 x 16 KiB for each of X, R, Y = 98,304 B;
    //   row_sum:   2 x 16 KiB X, then Y's slots of 16 x 1 x 2 = 32 B at 32,768 and 32,832 (64 B
    //              apart): the last ends at 32,864 B.
    const std::uint64_t footprint = k == OpKind::LayerNorm ? 67584 : k == OpKind::Add ? 98304 : 32864;
    CHECK(plan.groups.front().footprint == footprint);
    // Three instances of 37 rows: blocks of 16, 16 and 5 rows, 9 in all. Loads: each block's X (and R),
    // the parameters once (one block shared by the instances, kept in its one slot); a VECTOR and a
    // STORE per block. Bytes: 3 x 37 x 512 x 2 = 113,664 per full-size tensor.
    const Counts n = check_op(hw, k, c, m, 3);
    const std::uint64_t full = 3 * 37 * 512 * 2;
    CHECK(n.vectors == 9);
    CHECK(n.stores == 9);
    if (k == OpKind::LayerNorm) {
      CHECK(n.loads == 9 + 1);
      CHECK(n.load_bytes == full + 2 * 512 * 2);
    } else if (k == OpKind::Add) {
      CHECK(n.loads == 18);
      CHECK(n.load_bytes == 2 * full);
    } else {
      CHECK(n.loads == 9);
      CHECK(n.load_bytes == full);
    }
    CHECK(n.store_bytes == (k == OpKind::RowSum ? 3 * 37 * 2 : full));
  }
  // One row that does not fit: the planner's message, naming the op.
  const Cascade huge = rowwise_cascade(OpKind::Add, 4, 1 << 20);
  CHECK_THROWS_WITH(rowwise_default_mapping(huge, hw, cap, "L0.residual"),
                    Catch::Contains("L0.residual: one row of 1048576 elements, double-buffered in 3 buffers"));
}

TEST_CASE("rowwise cascades: the norms' and swiglu's steps name what is wrong with their paths", "[rowwise][errors]") {
  auto problem = [](const Json& doc, const std::map<std::string, double>& bind = {{"M", 8}, {"C", 4}}) {
    try {
      (void)bind_cascade(parse_cascade(doc, "r.json"), bind, false);
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  Json ln = builtin_cascade_json("layernorm");
  ln.erase("//");
  {
    Json d = ln;  // the parameters indexed by the row rank
    d["inputs"]["g"] = Json::array({"m", "c"});
    CHECK_THAT(problem(d), Catch::Contains("r.json: /steps/0/in: layernorm reads X[a,b] and its parameters g[w,b]"));
  }
  {
    Json d = ln;
    d["steps"][0].erase("over");
    CHECK_THAT(problem(d), Catch::Contains("r.json: /steps/0/over: is required: the rank layernorm runs over"));
  }
  {
    Json d = ln;  // three parameter rows
    d["ranks"]["w"] = 3;
    CHECK_THAT(problem(d), Catch::Contains("r.json: /steps/0/in: layernorm's parameters g must have two rows"));
  }
  {
    Json d = builtin_cascade_json("rmsnorm");
    d["ranks"]["u"] = 2;
    CHECK_THAT(problem(d), Catch::Contains("r.json: /steps/0/in: rmsnorm's parameters g must have one row"));
  }
  {
    Json d = builtin_cascade_json("swiglu");
    d["steps"][0]["in"] = "X";
    CHECK_THAT(problem(d), Catch::Contains("r.json: /steps/0/in: swiglu reads 2 tensors"));
    d = builtin_cascade_json("swiglu");
    d["ranks"]["k"] = 4;
    d["inputs"]["U"] = Json::array({"m", "k"});
    CHECK_THAT(problem(d), Catch::Contains("r.json: /steps/0/in: swiglu reads two tensors with the same indices"));
    d = builtin_cascade_json("swiglu");
    d["steps"][0]["over"] = "c";
    CHECK_THAT(problem(d), Catch::Contains("r.json: /steps/0/over: swiglu is elementwise: no \"over\""));
  }
  // Mappings: a norm needs whole rows and all its parameter rows.
  const HwConfig hw = test::cascade_test_hw(8, 256);
  const Cascade c = rowwise_cascade(OpKind::LayerNorm, 8, 64);
  auto mapping_problems = [&](const Json& doc) {
    std::string all;
    try {
      const Mapping m = parse_mapping(doc, "m.json", c, hw);
      for (const std::string& p : check_mapping(c, m, hw, std::uint64_t(hw.sram.total_bytes()))) all += p + "\n";
    } catch (const UserError& e) {
      all += e.what();
    }
    return all;
  };
  CHECK_THAT(mapping_problems({{"cascade", "layernorm"},
                               {"groups", Json::array({{{"steps", {"Y"}}, {"loops", Json::array({{{"rank", "c"}, {"tile", 16}}})}}})}}),
             Catch::Contains("/groups/0/loops/0: Y needs whole rows over c; do not loop over it"));
  CHECK_THAT(mapping_problems({{"cascade", "layernorm"},
                               {"groups", Json::array({{{"steps", {"Y"}}, {"loops", Json::array({{{"rank", "w"}, {"tile", 1}}})}}})}}),
             Catch::Contains("Y needs all its parameter rows on chip: keep rank w whole"));
  CHECK_THAT(mapping_problems({{"cascade", "rmsnorm"}, {"groups", Json::array({{{"steps", {"Y"}}}})}}),
             Catch::Contains("m.json: /cascade: this mapping is for cascade rmsnorm, not layernorm"));
}

TEST_CASE("rowwise cascades: a model's row-wise ops are cascade mappings that round-trip and compute the layer",
          "[rowwise][cascade][functional]") {
  // One post-norm layer (norm1 and norm2 unfused after their residual adds), RMS norm, SwiGLU (not a
  // GEMM epilogue: a row-wise op of its own), 2 x 48 tokens of d_model 40.
  const Json layer = {{"d_model", 40}, {"heads", 2}, {"head_dim", 20}, {"seq_len", 48}, {"batch", 2},
                      {"norm", "rmsnorm"}, {"norm_position", "post"},
                      {"ffn", {{"width", 24}, {"activation", "swiglu"}}}, {"attention", {{"variant", "flash"}}}};
  const ModelConfig mc = parse_model_config({{"dtype", "fp16"}, {"layers", Json::array({layer})}}, "model.json");
  const Graph g = build_graph(mc);
  const HwConfig hw = test::cascade_test_hw(8, 64);
  const CompiledModel cm = compile_model(hw, g);
  int rowwise = 0;
  for (const PhaseInfo& ph : cm.phases) {
    if (ph.mapping.kind != "cascade" || ph.name == "L0.attention") continue;
    ++rowwise;
    INFO(ph.name << ": " << ph.plan);
    CHECK(ph.plan.rfind("row blocks of ", 0) == 0);
    const std::string cascade = ph.mapping.cascade["cascade"].get<std::string>();
    CHECK((ph.name == "L0.ffn_act" ? cascade == "swiglu" : cascade == "rmsnorm"));
  }
  CHECK(rowwise == 3);  // norm1, norm2 and the activation (SwiGLU is no GEMM epilogue)
  // --emit mapping, read back as --mapping: the same mapping byte for byte, and the same program.
  const std::string first = mapping_to_json(mapping_of(cm)).dump(2);
  const ModelMapping back = parse_mapping(Json::parse(first), "emitted.json");
  MapperOptions opt;
  opt.fixed = &back;
  CHECK(mapping_to_json(mapping_of(compile_model(hw, g, nullptr, opt))).dump(2) == first);
  // A row block of 7 (96 rows: 13 blocks of 7 and one of 5) with X single-buffered, fixed for norm1:
  // the plan says it, and the layer still computes the reference.
  Json doc = Json::parse(first);
  Json& m1 = doc["ops"]["L0.norm1"]["mapping"];
  m1["groups"][0]["loops"] = Json::array({{{"rank", "m"}, {"tile", 7}}});
  m1["buffers"]["X"] = 1;
  const ModelMapping fixed = parse_mapping(doc, "fixed.json");
  opt.fixed = &fixed;
  const CompiledModel cf = compile_model(hw, g, nullptr, opt);
  bool seen = false;
  for (const PhaseInfo& ph : cf.phases)
    if (ph.name == "L0.norm1") {
      seen = true;
      CHECK(ph.plan.rfind("row blocks of 7x40, buffers X 1 Y 2; ", 0) == 0);
    }
  CHECK(seen);
  const TileProgram p = cf.program.materialise();
  ref::Layer l;
  l.batch = 2, l.seq_len = 48, l.d_model = 40, l.heads = 2, l.head_dim = 20, l.ffn_width = 24;
  l.norm = ref::Norm::RmsNorm, l.pre_norm = false, l.act = ref::Act::SwiGlu, l.causal = false;
  const ref::LayerWeights w = ref::LayerWeights::random(l, 400);
  const ref::Mat x = ref::random_values(std::size_t(l.tokens() * l.d_model), 41);
  auto index = [&](const std::string& name) {
    for (std::size_t i = 0; i < p.tensors.size(); ++i)
      if (p.tensors[i].name == name) return int(i);
    FAIL("no tensor " << name);
    return -1;
  };
  for (std::uint64_t seed : {0, 1}) {
    INFO("seed " << seed);
    Executor e(p, hw.onchip_bytes());
    e.set_tensor(index("x"), x);
    e.set_tensor(index("L0.Wqkv"), w.wqkv);
    e.set_tensor(index("L0.Wo"), w.wo);
    e.set_tensor(index("L0.W1"), w.w1);
    e.set_tensor(index("L0.W2"), w.w2);
    e.set_tensor(index("L0.norm1"), w.norm1);
    e.set_tensor(index("L0.norm2"), w.norm2);
    e.run(seed);
    CHECK(ref::max_rel_error(e.tensor(index("L0.y")), ref::transformer_layer(l, w, x)) < 1e-4);
  }
  // A fixed row-wise op of another kind is refused with its path.
  Json wrong = Json::parse(first);
  wrong["ops"]["L0.norm2"] = {{"kind", "gemm"}, {"tile", {{"m", 8}}}};
  const ModelMapping bad = parse_mapping(wrong, "wrong.json");
  opt.fixed = &bad;
  CHECK_THROWS_WITH(compile_model(hw, g, nullptr, opt),
                    Catch::Contains("wrong.json: /ops/L0.norm2/kind: L0.norm2 runs cascade rmsnorm here: kind must be "
                                    "\"cascade\", got \"gemm\""));
}
