// The vector and softmax units: their config sections (defaults, presets, validation messages),
// the closed-form cycle counts of timing/unit_timing.h, derived by hand in the comments, and the
// SRAM bytes each instruction moves.
#include <catch2/catch.hpp>

#include "common/errors.h"
#include "config/hw_config.h"
#include "timing/unit_timing.h"

using namespace attnsim;

namespace {

const char* kBase = R"({
  "array": {"rows": 32, "cols": 16, "dataflow": "ws", "timing": "scalesim", "clock_mhz": 1000},
  "sram": {"banks": 8, "bytes_per_bank": 65536, "port_bytes": 32},
  "dram": {"model": "ideal", "bytes_per_cycle": 16, "latency_cycles": 100}
})";

Json base() { return parse_json_text(kBase, "hw.json"); }

std::vector<std::string> problems_of(const Json& doc) {
  try {
    parse_hw_config(doc, "hw.json");
  } catch (const UserError& e) {
    return e.problems().empty() ? std::vector<std::string>{e.what()} : e.problems();
  }
  return {};
}

// The base config with one value set at a JSON pointer.
std::vector<std::string> problems_with(const std::string& pointer, const Json& value) {
  Json doc = base();
  doc[Json::json_pointer(pointer)] = value;
  return problems_of(doc);
}

HwConfig hw_with(const Json& vector, const Json& softmax) {
  Json doc = base();
  if (!vector.is_null()) doc["vector"] = vector;
  if (!softmax.is_null()) doc["softmax"] = softmax;
  return parse_hw_config(doc, "hw.json");
}

VectorConfig vector_unit(int lanes, int latency) {
  VectorConfig v;
  v.lanes = lanes;
  v.latency_cycles = latency;
  v.cost = kDefaultVectorCost;
  return v;
}

SramTile tile(std::uint32_t rows, std::uint32_t cols, std::uint8_t elem_bytes = 2, std::uint64_t addr = 0) {
  SramTile t;
  t.addr = addr, t.rows = rows, t.cols = cols, t.elem_bytes = elem_bytes;
  return t;
}

Instr vec(VecOp op, SramTile a, SramTile c, SramTile b = {}) {
  Instr in;
  in.op = Opcode::Vector;
  in.sub = std::uint8_t(op);
  in.a = a, in.b = b, in.c = c;
  return in;
}

Instr sm(SmOp op, SramTile a, SramTile c, SramTile b = {}) {
  Instr in;
  in.op = Opcode::Softmax;
  in.sub = std::uint8_t(op);
  in.a = a, in.b = b, in.c = c;
  in.imm = 0.125f;
  return in;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Config

TEST_CASE("a config without vector gets the documented defaults and no softmax unit", "[units][config]") {
  HwConfig hw = parse_hw_config(base(), "hw.json");
  CHECK(hw.vector.lanes == 16);  // the array's cols
  CHECK(hw.vector.latency_cycles == 4);
  CHECK(hw.vector.cost_of(VecPrim::Add) == 1);
  CHECK(hw.vector.cost_of(VecPrim::Mul) == 1);
  CHECK(hw.vector.cost_of(VecPrim::Max) == 1);
  CHECK(hw.vector.cost_of(VecPrim::Exp) == 4);
  CHECK(hw.vector.cost_of(VecPrim::Rsqrt) == 4);
  CHECK(hw.vector.cost_of(VecPrim::Reciprocal) == 4);
  CHECK(hw.vector.cost_of(VecPrim::PrefixSum) == 1);
  CHECK_FALSE(hw.softmax.present);
}

TEST_CASE("a partial cost object keeps the defaults for the other primitives", "[units][config]") {
  HwConfig hw = hw_with({{"lanes", 64}, {"cost", {{"exp", 8}, {"prefix_sum", 3}}}}, nullptr);
  CHECK(hw.vector.lanes == 64);
  CHECK(hw.vector.latency_cycles == 4);
  CHECK(hw.vector.cost == std::array<int, kVecPrimCount>{1, 1, 1, 8, 4, 4, 3});
}

TEST_CASE("a softmax section makes a softmax unit, exp_per_cycle defaulting to lanes", "[units][config]") {
  HwConfig hw = hw_with(nullptr, {{"lanes", 64}});
  CHECK(hw.softmax.present);
  CHECK(hw.softmax.lanes == 64);
  CHECK(hw.softmax.exp_per_cycle == 64);
  CHECK(hw.softmax.latency_cycles == 4);
  hw = hw_with(nullptr, {{"lanes", 64}, {"exp_per_cycle", 16}, {"latency_cycles", 0}});
  CHECK(hw.softmax.exp_per_cycle == 16);
  CHECK(hw.softmax.latency_cycles == 0);
}

TEST_CASE("the presets carry their vector and softmax units", "[units][config]") {
  HwConfig edge = load_hw_config("edge");
  CHECK(edge.vector.lanes == 32);
  CHECK(edge.vector.latency_cycles == 4);
  CHECK(edge.vector.cost == kDefaultVectorCost);
  CHECK(edge.softmax.present);
  CHECK(edge.softmax.lanes == 32);
  CHECK(edge.softmax.exp_per_cycle == 32);
  CHECK(edge.softmax.latency_cycles == 8);

  HwConfig cloud = load_hw_config("cloud");
  CHECK(cloud.vector.lanes == 1024);
  CHECK(cloud.vector.cost == kDefaultVectorCost);
  CHECK(cloud.softmax.present);
  CHECK(cloud.softmax.lanes == 1024);
  CHECK(cloud.softmax.exp_per_cycle == 1024);
  CHECK(cloud.softmax.latency_cycles == 8);

  HwConfig tpu = load_hw_config("tpu-v1");
  CHECK(tpu.vector.lanes == 256);
  CHECK_FALSE(tpu.softmax.present);
  CHECK_THAT(tpu.description, Catch::Contains("no softmax unit"));
  for (const HwConfig* hw : {&edge, &cloud, &tpu}) CHECK_THAT(hw->description, Catch::Contains("vector unit"));
}

TEST_CASE("each vector and softmax rule names the file, the JSON path and the rule", "[units][config][errors]") {
  using Catch::Contains;
  struct Case {
    const char* pointer;
    Json value;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"/vector/lanes", 0, "hw.json: /vector/lanes: must be an integer in [1, 65536], got 0"},
      {"/vector/lanes", 65537, "hw.json: /vector/lanes: must be an integer in [1, 65536], got 65537"},
      {"/vector/latency_cycles", -1, "hw.json: /vector/latency_cycles: must be an integer in [0, 100000], got -1"},
      {"/vector/latency_cycles", 100001,
       "hw.json: /vector/latency_cycles: must be an integer in [0, 100000], got 100001"},
      {"/vector/cost/exp", 0, "hw.json: /vector/cost/exp: must be an integer in [1, 1000], got 0"},
      {"/vector/cost/prefix_sum", 1001, "hw.json: /vector/cost/prefix_sum: must be an integer in [1, 1000], got 1001"},
      {"/vector/cost/sqrt", 4, "hw.json: /vector/cost/sqrt: unknown key (did you mean \"rsqrt\"?)"},
      {"/vector/lane", 4, "hw.json: /vector/lane: unknown key (did you mean \"lanes\"?)"},
      {"/vector", 3, "hw.json: /vector: must be an object, got 3"},
      {"/vector/cost", "cheap", "hw.json: /vector/cost: must be an object, got \"cheap\""},
      {"/vectr", Json::object(), "hw.json: /vectr: unknown key (did you mean \"vector\"?)"},
      {"/softmx", Json::object(), "hw.json: /softmx: unknown key (did you mean \"softmax\"?)"},
      {"/softmax", Json::object(), "hw.json: /softmax/lanes: is required but not given"},
      {"/softmax", Json{{"lanes", 0}}, "hw.json: /softmax/lanes: must be an integer in [1, 65536], got 0"},
      {"/softmax", Json{{"lanes", 32}, {"exp_per_cycle", 0}},
       "hw.json: /softmax/exp_per_cycle: must be an integer in [1, 65536], got 0"},
      {"/softmax", Json{{"lanes", 32}, {"exp_per_cycle", 64}},
       "hw.json: /softmax/exp_per_cycle: must be at most lanes (32): each lane passes at most one element per cycle "
       "to the exponential units, got 64"},
      {"/softmax", Json{{"lanes", 32}, {"latency_cycles", 100001}},
       "hw.json: /softmax/latency_cycles: must be an integer in [0, 100000], got 100001"},
      {"/softmax", Json{{"lanes", 32}, {"exp", 32}},
       "hw.json: /softmax/exp: unknown key (known keys: lanes, exp_per_cycle, latency_cycles)"},
      {"/softmax", true, "hw.json: /softmax: must be an object, got true"},
  };
  for (const Case& c : cases) {
    INFO(c.pointer << " = " << c.value.dump());
    auto p = problems_with(c.pointer, c.value);
    REQUIRE(p.size() == 1);
    CHECK(p[0] == c.expected);
  }
}

TEST_CASE("vector and softmax problems are reported together with the others", "[units][config][errors]") {
  Json doc = base();
  doc["array"]["rows"] = 0;
  doc["vector"] = {{"lanes", 0}, {"cost", {{"exp", 0}, {"mull", 1}}}};
  doc["softmax"] = {{"lanes", -4}};
  auto p = problems_of(doc);
  CHECK(p.size() == 5);
  // A bad lanes is reported alone, not also as exp_per_cycle exceeding the fallback.
  doc["softmax"] = {{"lanes", 0}, {"exp_per_cycle", 8}};
  p = problems_of(doc);
  CHECK(p.size() == 5);
}

// ---------------------------------------------------------------------------------------------------
// Vector unit timing

TEST_CASE("vector ops cost latency plus issue cycles per primitive", "[units]") {
  const VectorConfig v = vector_unit(32, 4);
  // Exp, 8 x 8: 64 exps = 2 vectors of 32 at cost 4: 4 + 2 * 4 = 12.
  CHECK(vector_op_cycles(v, vec(VecOp::Exp, tile(8, 8), tile(8, 8))) == 12);
  // Relu, 5 x 8 = 40 elements: a full vector of 32 and a partial one of 8: 4 + 2 * 1 = 6.
  CHECK(vector_op_cycles(v, vec(VecOp::Relu, tile(5, 8), tile(5, 8))) == 6);
  // Add, 4 x 32 = 128: 4 vectors: 4 + 4 = 8. Mul, Scale, AddRow, Copy alike.
  for (VecOp op : {VecOp::Add, VecOp::Mul, VecOp::Scale, VecOp::AddRow, VecOp::Copy}) {
    INFO(to_string(op));
    CHECK(vector_op_cycles(v, vec(op, tile(4, 32), tile(4, 32), tile(4, 32))) == 8);
  }
  // Gelu, 8 x 8 = 64: 5 mul (320 -> 10 vectors), 3 add (192 -> 6), 1 exp (2 vectors * 4),
  // 1 reciprocal (2 * 4): 4 + 10 + 6 + 8 + 8 = 36.
  CHECK(vector_op_cycles(v, vec(VecOp::Gelu, tile(8, 8), tile(8, 8))) == 36);
  // SwiGlu, 8 x 8: exp 2 * 4, add 2, reciprocal 2 * 4, 2 mul (128 -> 4): 4 + 8 + 2 + 8 + 4 = 26.
  CHECK(vector_op_cycles(v, vec(VecOp::SwiGlu, tile(8, 8), tile(8, 8), tile(8, 8))) == 26);
  // LayerNorm, 4 x 64 = 256: per element 4 add (1024 -> 32), 3 mul (768 -> 24); per row
  // 2 mul (8 -> 1 vector), 1 add (4 -> 1), 1 rsqrt (4 -> 1 vector * 4): 4 + 32 + 24 + 1 + 1 + 4 = 66.
  CHECK(vector_op_cycles(v, vec(VecOp::LayerNorm, tile(4, 64), tile(4, 64), tile(2, 64))) == 66);
  // RmsNorm, 4 x 64: 3 mul (24), 1 add (8); per row 1 mul (1), 1 add (1), 1 rsqrt (4): 4 + 24 + 8 + 1 + 1 + 4 = 42.
  CHECK(vector_op_cycles(v, vec(VecOp::RmsNorm, tile(4, 64), tile(4, 64), tile(1, 64))) == 42);
  // RowMax over a 16 x 48 source into a 16 x 1 column: timed on a's 768 elements: 4 + 24 = 28.
  CHECK(vector_op_cycles(v, vec(VecOp::RowMax, tile(16, 48), tile(16, 1))) == 28);
  // RowSum over 3 x 10 = 30 elements: one partial vector: 4 + 1 = 5.
  CHECK(vector_op_cycles(v, vec(VecOp::RowSum, tile(3, 10), tile(3, 1))) == 5);
}

TEST_CASE("vector costs, lanes and latency come from the config", "[units]") {
  VectorConfig v = vector_unit(16, 0);
  v.cost[std::size_t(VecPrim::Exp)] = 8;
  // Exp, 5 x 7 = 35 elements on 16 lanes: 3 vectors (the last holds 3) at cost 8: 0 + 24.
  CHECK(vector_op_cycles(v, vec(VecOp::Exp, tile(5, 7), tile(5, 7))) == 24);
  // An empty tile costs the pipeline latency only.
  v.latency_cycles = 7;
  CHECK(vector_op_cycles(v, vec(VecOp::Exp, tile(0, 7), tile(0, 7))) == 7);
}

TEST_CASE("the vector op table counts the derived primitives", "[units]") {
  auto elem = [](VecOp op, VecPrim p) { return vec_op_prims(op).per_elem[std::size_t(p)]; };
  auto row = [](VecOp op, VecPrim p) { return vec_op_prims(op).per_row[std::size_t(p)]; };
  CHECK(elem(VecOp::Gelu, VecPrim::Mul) == 5);
  CHECK(elem(VecOp::Gelu, VecPrim::Add) == 3);
  CHECK(elem(VecOp::Gelu, VecPrim::Exp) == 1);
  CHECK(elem(VecOp::Gelu, VecPrim::Reciprocal) == 1);
  CHECK(elem(VecOp::SwiGlu, VecPrim::Mul) == 2);
  CHECK(elem(VecOp::LayerNorm, VecPrim::Add) == 4);
  CHECK(elem(VecOp::LayerNorm, VecPrim::Mul) == 3);
  CHECK(row(VecOp::LayerNorm, VecPrim::Rsqrt) == 1);
  CHECK(row(VecOp::RmsNorm, VecPrim::Rsqrt) == 1);
  // L2Norm: square (mul), sum (add), scale (mul) per element; rsqrt per row.
  CHECK(elem(VecOp::L2Norm, VecPrim::Mul) == 2);
  CHECK(elem(VecOp::L2Norm, VecPrim::Add) == 1);
  CHECK(row(VecOp::L2Norm, VecPrim::Rsqrt) == 1);
  // PrefixMean: running sum (prefix_sum), + carry (add), * 1/position (mul) per element; 1/position per row.
  CHECK(elem(VecOp::PrefixMean, VecPrim::PrefixSum) == 1);
  CHECK(elem(VecOp::PrefixMean, VecPrim::Add) == 1);
  CHECK(elem(VecOp::PrefixMean, VecPrim::Mul) == 1);
  CHECK(row(VecOp::PrefixMean, VecPrim::Reciprocal) == 1);
  // FAVOR+: imm a (mul), - norm term (add), exp, / sqrt(m) (mul) per element; the token's squared
  // norm, x^2 (mul) and its sum (add), per element of b; * imm^2 / 2 (mul) per token.
  for (VecOp op : {VecOp::FavorRows, VecOp::FavorCols}) {
    const PrimCounts c = vec_op_prims(op);
    CHECK(c.per_elem[std::size_t(VecPrim::Mul)] == 2);
    CHECK(c.per_elem[std::size_t(VecPrim::Add)] == 1);
    CHECK(c.per_elem[std::size_t(VecPrim::Exp)] == 1);
    CHECK(c.per_b_elem[std::size_t(VecPrim::Mul)] == 1);
    CHECK(c.per_b_elem[std::size_t(VecPrim::Add)] == 1);
    CHECK(c.per_row[std::size_t(VecPrim::Mul)] == 1);
    int total = 0;
    for (int p = 0; p < kVecPrimCount; ++p) total += c.per_elem[p] + c.per_row[p] + c.per_b_elem[p];
    CHECK(total == 7);
  }
  // DivCol: 1 / b[r, 0] per row, a multiply per element.
  CHECK(elem(VecOp::DivCol, VecPrim::Mul) == 1);
  CHECK(row(VecOp::DivCol, VecPrim::Reciprocal) == 1);
  // Only the FAVOR+ maps stream b for its own sake; ColMeanAcc counts c's elements and DivScalar its one
  // reciprocal in the third slot.
  for (int op = 0; op < int(VecOp::kCount); ++op) {
    INFO(to_string(VecOp(op)));
    int b_total = 0;
    for (int p = 0; p < kVecPrimCount; ++p) b_total += vec_op_prims(VecOp(op)).per_b_elem[p];
    CHECK((b_total > 0) == (VecOp(op) == VecOp::FavorRows || VecOp(op) == VecOp::FavorCols ||
                            VecOp(op) == VecOp::ColMeanAcc || VecOp(op) == VecOp::DivScalar));
  }
  // ColMeanAcc: an add per element of a; * imm and + c per element of c. IdentMinus: one add.
  // DivScalar: a multiply per element, one reciprocal.
  CHECK(elem(VecOp::ColMeanAcc, VecPrim::Add) == 1);
  CHECK(vec_op_prims(VecOp::ColMeanAcc).per_b_elem[std::size_t(VecPrim::Mul)] == 1);
  CHECK(vec_op_prims(VecOp::ColMeanAcc).per_b_elem[std::size_t(VecPrim::Add)] == 1);
  CHECK(elem(VecOp::IdentMinus, VecPrim::Add) == 1);
  CHECK(elem(VecOp::DivScalar, VecPrim::Mul) == 1);
  CHECK(vec_op_prims(VecOp::DivScalar).per_b_elem[std::size_t(VecPrim::Reciprocal)] == 1);
  for (VecOp op : {VecOp::L2Norm, VecOp::PrefixMean}) {
    const PrimCounts c = vec_op_prims(op);
    int elem_total = 0, row_total = 0;
    for (int p = 0; p < kVecPrimCount; ++p) elem_total += c.per_elem[p], row_total += c.per_row[p];
    CHECK(elem_total == 3);
    CHECK(row_total == 1);
  }
  // Every op does something, and only the prefix mean uses prefix_sum.
  for (int op = 0; op < int(VecOp::kCount); ++op) {
    INFO(to_string(VecOp(op)));
    const PrimCounts c = vec_op_prims(VecOp(op));
    int total = 0;
    for (int p = 0; p < kVecPrimCount; ++p) total += c.per_elem[p];
    CHECK(total > 0);
    CHECK((c.per_elem[std::size_t(VecPrim::PrefixSum)] == 0) == (VecOp(op) != VecOp::PrefixMean));
    CHECK(c.per_row[std::size_t(VecPrim::PrefixSum)] == 0);
  }
}

TEST_CASE("L2 norm and prefix mean cost their derived primitives", "[units]") {
  VectorConfig v = vector_unit(32, 4);
  // L2Norm 4 x 64, E = 256: 2 mul (512 -> 16 vectors), 1 add (256 -> 8); per row 1 rsqrt
  // (4 -> 1 vector * 4): 4 + 16 + 8 + 4 = 32.
  CHECK(vector_op_cycles(v, vec(VecOp::L2Norm, tile(4, 64), tile(4, 64))) == 32);
  // L2Norm 3 x 20, E = 60: mul ceil(120/32) = 4, add ceil(60/32) = 2, rsqrt 1 * 4: 4 + 4 + 2 + 4 = 14.
  CHECK(vector_op_cycles(v, vec(VecOp::L2Norm, tile(3, 20), tile(3, 20))) == 14);
  // PrefixMean 8 x 64 with a 1 x 64 fp32 carry, E = 512: prefix_sum 16, add 16, mul 16; per row
  // 1 reciprocal (8 -> 1 vector * 4): 4 + 48 + 4 = 56. `first` costs the same (the carry add adds 0).
  Instr pm = vec(VecOp::PrefixMean, tile(8, 64), tile(8, 64), tile(1, 64, 4));
  pm.imm = 16;
  CHECK(vector_op_cycles(v, pm) == 56);
  pm.first = true, pm.imm = 0;
  CHECK(vector_op_cycles(v, pm) == 56);
  // PrefixMean 40 x 8, E = 320: prefix_sum 10, add 10, mul 10; 40 reciprocals = 2 vectors * 4:
  // 4 + 30 + 8 = 42.
  CHECK(vector_op_cycles(v, vec(VecOp::PrefixMean, tile(40, 8), tile(40, 8), tile(1, 8, 4))) == 42);
  // The prefix_sum cost comes from the config: at 3 per issue, 8 x 64 is 4 + 16 * 3 + 16 + 16 + 4 = 88.
  v.cost[std::size_t(VecPrim::PrefixSum)] = 3;
  CHECK(vector_op_cycles(v, vec(VecOp::PrefixMean, tile(8, 64), tile(8, 64), tile(1, 64, 4))) == 88);
  // ... and L2Norm does not use it.
  CHECK(vector_op_cycles(v, vec(VecOp::L2Norm, tile(4, 64), tile(4, 64))) == 32);
}

TEST_CASE("FAVOR+ feature maps and the column division cost their derived primitives", "[units]") {
  VectorConfig v = vector_unit(32, 4);
  // FavorRows, c 8 x 16 (8 tokens, m = 16), tokens b 8 x 32 (d = 32). Per element of c (E = 128):
  // 2 mul (256 -> 8 vectors), 1 add (4), 1 exp (4 vectors * 4 = 16). Per element of b (256): 1 mul (8),
  // 1 add (8). Per token (8): 1 mul (1 vector). 4 + 8 + 4 + 16 + 8 + 8 + 1 = 49.
  CHECK(vector_op_cycles(v, vec(VecOp::FavorRows, tile(8, 16, 4), tile(8, 16), tile(8, 32))) == 49);
  // FavorCols, c 16 x 8 (m = 16 rows, 8 token columns), b 8 x 32: the same counts, the per-token mul
  // on b's 8 rows (not c's 16): 49.
  CHECK(vector_op_cycles(v, vec(VecOp::FavorCols, tile(16, 8, 4), tile(16, 8), tile(8, 32))) == 49);
  // FavorCols, c 20 x 5 (m = 20, 5 tokens), b 5 x 6 (d = 6): E = 100: mul ceil(200/32) = 7, add 4,
  // exp 4 * 4 = 16; b's 30 elements: mul 1, add 1; 5 tokens: mul 1. 4 + 7 + 4 + 16 + 1 + 1 + 1 = 34.
  CHECK(vector_op_cycles(v, vec(VecOp::FavorCols, tile(20, 5, 4), tile(20, 5), tile(5, 6))) == 34);
  // The same with exp at 8 per issue: 34 + 4 * 4 = 50.
  v.cost[std::size_t(VecPrim::Exp)] = 8;
  CHECK(vector_op_cycles(v, vec(VecOp::FavorCols, tile(20, 5, 4), tile(20, 5), tile(5, 6))) == 50);
  v = vector_unit(32, 4);
  // DivCol 8 x 64 by an 8 x 1 column: 512 mul (16 vectors), 8 reciprocals (1 vector * 4): 4 + 16 + 4 = 24.
  CHECK(vector_op_cycles(v, vec(VecOp::DivCol, tile(8, 64, 4), tile(8, 64, 4), tile(8, 1, 4))) == 24);
  // DivCol 40 x 3: 120 mul (4 vectors), 40 reciprocals (2 vectors * 4): 4 + 4 + 8 = 16.
  CHECK(vector_op_cycles(v, vec(VecOp::DivCol, tile(40, 3, 4), tile(40, 3, 4), tile(40, 1, 4))) == 16);
}

TEST_CASE("Nystromformer's vector ops cost their derived primitives and move their tiles once", "[units]") {
  const VectorConfig v = vector_unit(32, 4);
  // ColMeanAcc, a 40 x 16 (E = 640) into c 1 x 16 fp32: add ceil(640/32) = 20; per element of c (16):
  // mul 1 vector, add 1 vector. 4 + 20 + 1 + 1 = 26; `first` costs the same.
  Instr cm = vec(VecOp::ColMeanAcc, tile(40, 16), tile(1, 16, 4));
  CHECK(vector_op_cycles(v, cm) == 26);
  cm.first = true;
  CHECK(vector_op_cycles(v, cm) == 26);
  // ColMeanAcc, a 3 x 100 (300) into 1 x 100: add 10, mul 4, add 4: 4 + 18 = 22.
  CHECK(vector_op_cycles(v, vec(VecOp::ColMeanAcc, tile(3, 100), tile(1, 100, 4))) == 22);
  // IdentMinus 16 x 16 (256): add 8: 4 + 8 = 12.
  CHECK(vector_op_cycles(v, vec(VecOp::IdentMinus, tile(16, 16, 4), tile(16, 16))) == 12);
  // DivScalar 16 x 16: mul 8, one reciprocal (1 vector * 4): 4 + 8 + 4 = 16.
  CHECK(vector_op_cycles(v, vec(VecOp::DivScalar, tile(16, 16, 4), tile(16, 16), tile(1, 1, 4))) == 16);

  // Traffic. ColMeanAcc: a (40 x 16 fp16 = 1280 B) once; c (64 B) written, read unless `first`.
  UnitTraffic t = unit_sram_traffic(cm);
  CHECK(t.a_read == 1280);
  CHECK(t.c_read == 0);
  CHECK(t.c_written == 64);
  cm.first = false;
  t = unit_sram_traffic(cm);
  CHECK(t.c_read == 64);
  CHECK(t.b_read == 0);
  // IdentMinus: a (16 x 16 fp32 = 1024 B) read, c (fp16, 512 B) written.
  t = unit_sram_traffic(vec(VecOp::IdentMinus, tile(16, 16, 4), tile(16, 16)));
  CHECK(t.a_read == 1024);
  CHECK(t.c_written == 512);
  CHECK(t.b_read == 0);
  // DivScalar: a once, b[0, 0] (4 B), c once.
  t = unit_sram_traffic(vec(VecOp::DivScalar, tile(16, 16, 4), tile(16, 16), tile(1, 1, 4)));
  CHECK(t.a_read == 1024);
  CHECK(t.b_read == 4);
  CHECK(t.c_written == 512);
}

// ---------------------------------------------------------------------------------------------------
// Softmax timing

TEST_CASE("softmax on a softmax unit: passes at lane and exponential throughput", "[units]") {
  const HwConfig hw = hw_with({{"lanes", 32}}, {{"lanes", 32}, {"exp_per_cycle", 32}, {"latency_cycles", 8}});
  // Rows 32 x 64, E = 2048: max pass 64, exp pass 64, 32 reciprocals 1, normalise 64: 8 + 193 = 201.
  CHECK(softmax_op_cycles(hw, sm(SmOp::Rows, tile(32, 64), tile(32, 64))) == 201);
  // OnlineStep 16 x 16, E = 256: max pass 8, 16 per-row alphas 1, exp pass 8: 8 + 17 = 25.
  Instr step = sm(SmOp::OnlineStep, tile(16, 16), tile(16, 16), tile(16, 3, 4));
  CHECK(softmax_op_cycles(hw, step) == 25);
  step.first = true;  // alpha = exp(-inf) still goes through the pipeline
  CHECK(softmax_op_cycles(hw, step) == 25);
  // Rescale c 16 x 64, E = 1024: 8 + 32 = 40.
  CHECK(softmax_op_cycles(hw, sm(SmOp::Rescale, tile(0, 0), tile(16, 64), tile(16, 3, 4))) == 40);
  // Normalize c 16 x 64: 16 reciprocals 1, multiply 32: 8 + 33 = 41.
  CHECK(softmax_op_cycles(hw, sm(SmOp::Normalize, tile(16, 64), tile(16, 64), tile(16, 3, 4))) == 41);
  // Merge of two 16-row stats tiles (split-K's combine): 16 maxima in one lane pass 1, two rounds of 16
  // exponentials 2: 8 + 3 = 11.
  CHECK(softmax_op_cycles(hw, sm(SmOp::Merge, tile(0, 0), tile(16, 3, 4), tile(16, 3, 4))) == 11);
  // Masked elements are streamed too.
  Instr causal = sm(SmOp::Rows, tile(32, 64), tile(32, 64));
  causal.causal = true, causal.mask_offset = -32;
  CHECK(softmax_op_cycles(hw, causal) == 201);
}

TEST_CASE("softmax unit with fewer exponential units than lanes", "[units]") {
  const HwConfig hw = hw_with(nullptr, {{"lanes", 32}, {"exp_per_cycle", 8}, {"latency_cycles", 8}});
  // Rows 5 x 40, E = 200: max ceil(200/32) = 7, exp ceil(200/8) = 25, reciprocals ceil(5/8) = 1,
  // normalise 7: 8 + 40 = 48.
  CHECK(softmax_op_cycles(hw, sm(SmOp::Rows, tile(5, 40), tile(5, 40))) == 48);
  // OnlineStep 5 x 40: 7 + 1 + 25 = 33, + 8 = 41.
  CHECK(softmax_op_cycles(hw, sm(SmOp::OnlineStep, tile(5, 40), tile(5, 40), tile(5, 3, 4))) == 41);
}

TEST_CASE("softmax without a softmax unit runs on the vector unit at its cost", "[units]") {
  const HwConfig hw = hw_with({{"lanes", 32}, {"latency_cycles", 4}}, nullptr);
  REQUIRE_FALSE(hw.softmax.present);
  // Rows 32 x 64, E = 2048, r = 32: max 64; add 2 per element 128; mul 2 per element 128;
  // exp 64 vectors * 4 = 256; 32 reciprocals 1 vector * 4 = 4: 4 + 580 = 584.
  CHECK(softmax_op_cycles(hw, sm(SmOp::Rows, tile(32, 64), tile(32, 64))) == 584);
  // Rows 3 x 20, E = 60 (partial vectors): max ceil(60/32) = 2; add ceil(120/32) = 4; mul 4;
  // exp 2 * 4 = 8; reciprocal 1 * 4 = 4: 4 + 22 = 26.
  CHECK(softmax_op_cycles(hw, sm(SmOp::Rows, tile(3, 20), tile(3, 20))) == 26);
  // OnlineStep 16 x 16, E = 256, r = 16: per element max 8, add 16, mul 8, exp 8 * 4 = 32;
  // per row max 1, add 1, exp 1 * 4 = 4, mul 1: 4 + 71 = 75.
  CHECK(softmax_op_cycles(hw, sm(SmOp::OnlineStep, tile(16, 16), tile(16, 16), tile(16, 3, 4))) == 75);
  // Rescale c 16 x 64: 32 mul vectors: 4 + 32 = 36.
  CHECK(softmax_op_cycles(hw, sm(SmOp::Rescale, tile(0, 0), tile(16, 64), tile(16, 3, 4))) == 36);
  // Normalize c 16 x 64: 32 mul vectors + 1 reciprocal vector * 4: 4 + 36 = 40.
  CHECK(softmax_op_cycles(hw, sm(SmOp::Normalize, tile(16, 64), tile(16, 64), tile(16, 3, 4))) == 40);
}

TEST_CASE("the vector fallback is slower than a softmax unit as wide when exp costs more than 1", "[units]") {
  for (int exp_cost : {2, 4, 16}) {
    for (int lanes : {8, 32, 256}) {
      Json vector = {{"lanes", lanes}, {"latency_cycles", 8}, {"cost", {{"exp", exp_cost}}}};
      const HwConfig with_unit = hw_with(vector, {{"lanes", lanes}, {"exp_per_cycle", lanes}, {"latency_cycles", 8}});
      const HwConfig without = hw_with(vector, nullptr);
      for (auto [r, c] : std::initializer_list<std::pair<int, int>>{{1, 1}, {7, 13}, {32, 64}, {128, 128}}) {
        for (SmOp op : {SmOp::Rows, SmOp::OnlineStep}) {
          INFO("exp cost " << exp_cost << ", lanes " << lanes << ", " << to_string(op) << " " << r << "x" << c);
          const Instr in = sm(op, tile(r, c), tile(r, c), tile(r, 3, 4));
          CHECK(softmax_op_cycles(without, in) > softmax_op_cycles(with_unit, in));
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// SRAM traffic

TEST_CASE("vector and softmax instructions read and write their tiles once per pass", "[units]") {
  // fp16 tiles of 32 x 64 = 4096 bytes.
  UnitTraffic t = unit_sram_traffic(sm(SmOp::Rows, tile(32, 64), tile(32, 64)));
  CHECK(t.a_read == 2 * 4096);     // max pass, exp pass
  CHECK(t.c_written == 2 * 4096);  // the exponentials, then normalised in place
  CHECK(t.c_read == 4096);
  CHECK(t.b_read == 0);

  // OnlineStep with a 16 x 3 fp32 stats tile (192 bytes).
  Instr step = sm(SmOp::OnlineStep, tile(16, 16), tile(16, 16), tile(16, 3, 4));
  t = unit_sram_traffic(step);
  CHECK(t.a_read == 2 * 512);
  CHECK(t.c_written == 512);
  CHECK(t.b_read == 192);
  CHECK(t.b_written == 192);
  step.first = true;  // m and l start fresh: nothing to read
  t = unit_sram_traffic(step);
  CHECK(t.b_read == 0);
  CHECK(t.b_written == 192);

  t = unit_sram_traffic(sm(SmOp::Rescale, tile(0, 0), tile(16, 64, 4), tile(16, 3, 4)));
  CHECK(t.c_read == 4096);
  CHECK(t.c_written == 4096);
  CHECK(t.b_read == 192);
  CHECK(t.a_read == 0);

  t = unit_sram_traffic(sm(SmOp::Normalize, tile(16, 64, 4), tile(16, 64), tile(16, 3, 4)));
  CHECK(t.a_read == 4096);
  CHECK(t.b_read == 192);
  CHECK(t.c_written == 2048);

  // Merge: both 16 x 3 fp32 stats tiles (192 B) read and written.
  t = unit_sram_traffic(sm(SmOp::Merge, tile(0, 0), tile(16, 3, 4), tile(16, 3, 4)));
  CHECK(t.b_read == 192);
  CHECK(t.b_written == 192);
  CHECK(t.c_read == 192);
  CHECK(t.c_written == 192);
  CHECK(t.a_read == 0);

  // LayerNorm 4 x 64 fp16 (512 bytes), gamma and beta rows (256 bytes).
  t = unit_sram_traffic(vec(VecOp::LayerNorm, tile(4, 64), tile(4, 64), tile(2, 64)));
  CHECK(t.a_read == 1024);
  CHECK(t.b_read == 256);
  CHECK(t.c_written == 1024);
  CHECK(t.c_read == 512);
  t = unit_sram_traffic(vec(VecOp::RmsNorm, tile(4, 64), tile(4, 64), tile(1, 64)));
  CHECK(t.a_read == 1024);
  CHECK(t.b_read == 128);
  CHECK(t.c_written == 512);
  CHECK(t.c_read == 0);

  // AddRow reads only the bias row of b.
  t = unit_sram_traffic(vec(VecOp::AddRow, tile(4, 64), tile(4, 64), tile(4, 64)));
  CHECK(t.b_read == 128);
  t = unit_sram_traffic(vec(VecOp::SwiGlu, tile(4, 64), tile(4, 64), tile(4, 64)));
  CHECK((t.a_read == 512 && t.b_read == 512 && t.c_written == 512 && t.c_read == 0));
  // RowMax writes one fp32 per row.
  t = unit_sram_traffic(vec(VecOp::RowMax, tile(16, 48, 4), tile(16, 1, 4)));
  CHECK(t.a_read == 16 * 48 * 4);
  CHECK(t.c_written == 64);

  // L2Norm 4 x 64 fp16 (512 bytes): a read for the sum of squares and again to scale; c written once.
  t = unit_sram_traffic(vec(VecOp::L2Norm, tile(4, 64), tile(4, 64)));
  CHECK(t.a_read == 1024);
  CHECK(t.c_written == 512);
  CHECK((t.b_read == 0 && t.b_written == 0 && t.c_read == 0));

  // PrefixMean 8 x 64 fp16 (1024 bytes) with a 1 x 64 fp32 carry (256 bytes): one pass over a, the
  // carry read and written once; with `first` the carry starts at 0 and is only written.
  Instr pm = vec(VecOp::PrefixMean, tile(8, 64), tile(8, 64), tile(1, 64, 4));
  t = unit_sram_traffic(pm);
  CHECK(t.a_read == 1024);
  CHECK(t.c_written == 1024);
  CHECK(t.c_read == 0);
  CHECK(t.b_read == 256);
  CHECK(t.b_written == 256);
  pm.first = true;
  t = unit_sram_traffic(pm);
  CHECK(t.b_read == 0);
  CHECK(t.b_written == 256);
  CHECK(t.a_read == 1024);

  // FavorRows: the fp32 projection 16 x 64 (4096 bytes) and the fp16 tokens 16 x 32 (1024 bytes) read
  // once; the fp16 features (2048 bytes) written once. FavorCols alike (64 x 16 against 16 tokens).
  t = unit_sram_traffic(vec(VecOp::FavorRows, tile(16, 64, 4), tile(16, 64), tile(16, 32)));
  CHECK((t.a_read == 4096 && t.b_read == 1024 && t.c_written == 2048));
  CHECK((t.c_read == 0 && t.b_written == 0));
  t = unit_sram_traffic(vec(VecOp::FavorCols, tile(64, 16, 4), tile(64, 16), tile(16, 32)));
  CHECK((t.a_read == 4096 && t.b_read == 1024 && t.c_written == 2048));
  CHECK((t.c_read == 0 && t.b_written == 0));
  // DivCol 16 x 64 fp32 in place (4096 bytes) by a 16 x 1 fp32 column (64 bytes); of a wider b only
  // column 0 is read: still 64 bytes.
  t = unit_sram_traffic(vec(VecOp::DivCol, tile(16, 64, 4), tile(16, 64, 4), tile(16, 1, 4)));
  CHECK((t.a_read == 4096 && t.b_read == 64 && t.c_written == 4096 && t.c_read == 0));
  t = unit_sram_traffic(vec(VecOp::DivCol, tile(16, 64, 4), tile(16, 64, 4), tile(16, 3, 4)));
  CHECK(t.b_read == 64);
}
