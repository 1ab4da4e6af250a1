#include "report/roofline.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>

#include "common/errors.h"
#include "timing/fused_timing.h"
#include "timing/unit_timing.h"

namespace attnsim {

const char* to_string(Resource r) {
  static const char* const names[] = {"array", "dram", "vector", "softmax"};
  static_assert(sizeof(names) / sizeof(names[0]) == kResourceCount);
  return std::size_t(r) < kResourceCount ? names[std::size_t(r)] : "?";
}

RooflineWork& RooflineWork::operator+=(const RooflineWork& o) {
  macs += o.macs;
  dram_read_bytes += o.dram_read_bytes;
  dram_written_bytes += o.dram_written_bytes;
  vector_cycles += o.vector_cycles;
  softmax_cycles += o.softmax_cycles;
  array_mapped_cycles += o.array_mapped_cycles;
  return *this;
}

namespace {

RooflineBound bound_with_array(std::int64_t array_cycles, const RooflineWork& w, double dram_bytes_per_cycle) {
  ATTNSIM_ASSERT(dram_bytes_per_cycle > 0, "a roofline needs DRAM bandwidth");
  RooflineBound b;
  b.demand_cycles[std::size_t(Resource::Array)] = array_cycles;
  b.demand_cycles[std::size_t(Resource::Dram)] =
      std::int64_t(std::ceil(double(w.dram_read_bytes + w.dram_written_bytes) / dram_bytes_per_cycle));
  b.demand_cycles[std::size_t(Resource::Vector)] = w.vector_cycles;
  b.demand_cycles[std::size_t(Resource::Softmax)] = w.softmax_cycles;
  for (std::size_t r = 0; r < kResourceCount; ++r)
    if (b.demand_cycles[r] > b.bound_cycles) b.bound_cycles = b.demand_cycles[r], b.binding = Resource(r);
  return b;
}

std::int64_t ceil_macs(std::uint64_t macs, std::int64_t pes) {
  return std::int64_t((macs + std::uint64_t(pes) - 1) / std::uint64_t(pes));
}

}  // namespace

RooflineBound roofline_bound(const RooflineWork& w, std::int64_t pes, double dram_bytes_per_cycle) {
  ATTNSIM_ASSERT(pes > 0, "a roofline needs PEs");
  return bound_with_array(ceil_macs(w.macs, pes), w, dram_bytes_per_cycle);
}

RooflineBound mapped_bound(const RooflineWork& w, double dram_bytes_per_cycle) {
  return bound_with_array(w.array_mapped_cycles, w, dram_bytes_per_cycle);
}

Graph gemm_graph(const GemmDims& d, int elem_bytes) {
  Graph g;
  g.elem_bytes = elem_bytes;
  auto tensor = [&](const char* name, std::int64_t rows, std::int64_t cols, TensorKind kind) {
    GraphTensor t;
    t.name = name, t.rows = rows, t.cols = cols, t.elem_bytes = elem_bytes, t.kind = kind, t.layer = 0;
    g.tensors.push_back(t);
    TensorView v;
    v.tensor = int(g.tensors.size()) - 1, v.rows = rows, v.cols = cols;
    return v;
  };
  OpInstance in;
  in.in = {tensor("A", d.m, d.k, TensorKind::Input), tensor("B", d.k, d.n, TensorKind::Weight)};
  in.out = tensor("C", d.m, d.n, TensorKind::Output);
  GraphOp op;
  op.kind = OpKind::MatMul;
  op.name = "gemm";
  op.cls = OpClass::Other;
  op.instances = {in};
  g.ops.push_back(op);
  g.input = 0, g.output = 2;
  return g;
}

namespace {

std::uint64_t elems(const TensorView& v) { return std::uint64_t(v.rows) * std::uint64_t(v.cols); }

// Unmasked elements of an r x c score block under a causal mask (query i sees keys 0 .. i):
// sum over i < r of min(i + 1, c).
std::uint64_t causal_elems(std::int64_t r, std::int64_t c) {
  const std::uint64_t R = std::uint64_t(r), C = std::uint64_t(c);
  if (C >= R) return R * (R + 1) / 2;
  return C * (C + 1) / 2 + (R - C) * C;
}

struct Block {
  std::int64_t row0, row1, col0, col1;
};

// Elements of the union of blocks of one tensor: the columns cut into strips at every block edge,
// and in each strip the row intervals of the blocks covering it merged.
std::uint64_t union_elems(const std::vector<Block>& blocks) {
  if (blocks.size() == 1)
    return std::uint64_t(blocks[0].row1 - blocks[0].row0) * std::uint64_t(blocks[0].col1 - blocks[0].col0);
  std::vector<std::int64_t> cuts;
  for (const Block& b : blocks) cuts.push_back(b.col0), cuts.push_back(b.col1);
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  std::uint64_t total = 0;
  std::vector<std::pair<std::int64_t, std::int64_t>> rows;
  for (std::size_t s = 0; s + 1 < cuts.size(); ++s) {
    rows.clear();
    for (const Block& b : blocks)
      if (b.col0 <= cuts[s] && b.col1 >= cuts[s + 1]) rows.emplace_back(b.row0, b.row1);
    std::sort(rows.begin(), rows.end());
    std::int64_t covered = 0, end = INT64_MIN;
    for (const auto& [lo, hi] : rows) {
      const std::int64_t from = std::max(lo, end);
      if (hi > from) covered += hi - from;
      end = std::max(end, hi);
    }
    total += std::uint64_t(covered) * std::uint64_t(cuts[s + 1] - cuts[s]);
  }
  return total;
}

Block block_of(const TensorView& v) { return {v.row0, v.row0 + v.rows, v.col0, v.col0 + v.cols}; }

class RooflineBuilder {
 public:
  RooflineBuilder(const HwConfig& hw, const Graph& g) : hw_(hw), g_(g), vector0_(hw.vector) {
    vector0_.latency_cycles = 0;  // issue cycles only: the bound charges no pipeline latency
  }

  std::vector<RooflineUnit> units() {
    group_units();
    count_readers();
    mark_causal();
    for (RooflineUnit& u : units_) {
      for (int i : u.graph_ops) add_op_work(g_.ops[std::size_t(i)], u);
      add_dram_bytes(u);
    }
    return std::move(units_);
  }

 private:
  // Units: attention groups whole, a MatMul with its element-wise epilogue, every other op alone.
  void group_units() {
    unit_of_op_.assign(g_.ops.size(), -1);
    std::vector<int> uses(g_.tensors.size(), 0);
    for (const GraphOp& op : g_.ops)
      for (const OpInstance& in : op.instances)
        for (const TensorView& v : in.in)
          if (v.tensor >= 0) ++uses[std::size_t(v.tensor)];
    std::map<int, int> unit_of_group;
    std::vector<int> producer(g_.tensors.size(), -1);  // the op that writes a tensor (single-instance ops)
    for (std::size_t i = 0; i < g_.ops.size(); ++i) {
      const GraphOp& op = g_.ops[i];
      int unit = -1;
      if (op.group >= 0) {
        const auto it = unit_of_group.find(op.group);
        if (it != unit_of_group.end()) {
          unit = it->second;
        } else {
          unit = new_unit("L" + std::to_string(op.layer) + ".attention", op.layer);
          unit_of_group[op.group] = unit;
        }
      } else if (const int mm = epilogue_of(op, uses, producer); mm >= 0) {
        unit = unit_of_op_[std::size_t(mm)];
        units_[std::size_t(unit)].name += "+" + op.name.substr(op.name.find('.') + 1);
      } else {
        unit = new_unit(op.name, op.layer);
      }
      unit_of_op_[i] = unit;
      units_[std::size_t(unit)].graph_ops.push_back(int(i));
      if (op.instances.size() == 1) producer[std::size_t(op.instances[0].out.tensor)] = int(i);
    }
  }

  int new_unit(const std::string& name, int layer) {
    RooflineUnit u;
    u.name = name;
    u.layer = layer;
    units_.push_back(std::move(u));
    return int(units_.size()) - 1;
  }

  // The MatMul op whose output this element-wise op is the only reader of (the GEMM epilogue that
  // attnsim's compiler fuses), or -1.
  int epilogue_of(const GraphOp& op, const std::vector<int>& uses, const std::vector<int>& producer) const {
    if (op.instances.size() != 1) return -1;
    if (op.kind != OpKind::Gelu && op.kind != OpKind::Relu && op.kind != OpKind::Add) return -1;
    const OpInstance& in = op.instances[0];
    for (int k = 0; k < 2; ++k) {
      const TensorView& v = in.in[std::size_t(k)];
      if (v.tensor < 0 || uses[std::size_t(v.tensor)] != 1) continue;
      const int p = producer[std::size_t(v.tensor)];
      if (p < 0) continue;
      const GraphOp& mm = g_.ops[std::size_t(p)];
      const TensorView& out = mm.instances[0].out;
      const bool whole = out.tensor == v.tensor && out.row0 == v.row0 && out.col0 == v.col0 && out.rows == v.rows &&
                         out.cols == v.cols && !v.transposed;
      const TensorView& other = in.in[std::size_t(1 - k)];
      if (mm.kind == OpKind::MatMul && mm.group < 0 && whole && other.tensor != v.tensor) return p;
    }
    return -1;
  }

  // For every tensor, the units that read it.
  void count_readers() {
    reader_units_.assign(g_.tensors.size(), {});
    for (std::size_t i = 0; i < g_.ops.size(); ++i)
      for (const OpInstance& in : g_.ops[i].instances)
        for (const TensorView& v : in.in)
          if (v.tensor >= 0) {
            std::vector<int>& r = reader_units_[std::size_t(v.tensor)];
            if (std::find(r.begin(), r.end(), unit_of_op_[i]) == r.end()) r.push_back(unit_of_op_[i]);
          }
  }

  // Tensors holding causally masked scores: a causal Softmax's input and output.
  void mark_causal() {
    causal_.assign(g_.tensors.size(), false);
    for (const GraphOp& op : g_.ops)
      if (op.kind == OpKind::Softmax && op.causal)
        for (const OpInstance& in : op.instances)
          causal_[std::size_t(in.in[0].tensor)] = causal_[std::size_t(in.out.tensor)] = true;
  }

  std::uint64_t score_elems(const TensorView& v) const {
    return causal_[std::size_t(v.tensor)] ? causal_elems(v.logical_rows(), v.logical_cols()) : elems(v);
  }

  // Folds times the interval between fold starts, for the GEMM or its transpose, whichever is less.
  std::int64_t mapped_cycles(const GemmDims& d) const {
    const ArrayConfig& a = hw_.array;
    const FoldPlan p = fold_plan(a.rows, a.cols, a.dataflow, a.timing, d);
    const FoldPlan t = fold_plan(a.rows, a.cols, a.dataflow, a.timing, {d.n, d.k, d.m});
    return std::min(p.folds * p.interval, t.folds * t.interval);
  }

  void add_vector(RooflineUnit& u, const PrimCounts& c, std::uint64_t e, std::uint64_t rows, std::uint64_t b = 0) {
    u.work.vector_cycles += vector_cycles(vector0_, c, e, rows, b);
  }

  // Attention fused in the array (the fused variant): Q K^T, the softmax and P V run in the PEs as one
  // schedule (timing/fused_timing.h), so the group's array bound is that schedule's occupancy, charged
  // on its Q K^T op, and its softmax needs no softmax or vector unit. Returns whether op was handled.
  bool add_fused_work(const GraphOp& op, RooflineUnit& u) {
    if (op.group < 0 || !hw_.datapath.admits_fused_attention()) return false;
    const AttentionGroup& grp = g_.groups[std::size_t(op.group)];
    if (grp.spec.variant != AttnVariant::Fused) return false;
    if (op.kind == OpKind::Softmax) return true;
    if (op.kind != OpKind::MatMul) return false;
    const bool qk = !grp.ops.empty() && &g_.ops[std::size_t(grp.ops.front())] == &op;  // S = Q K^T comes first
    for (const OpInstance& in : op.instances) {
      const TensorView& a = in.in[0];
      const std::uint64_t inner = std::uint64_t(a.logical_cols());
      const bool causal_scores = causal_[std::size_t(in.out.tensor)] || causal_[std::size_t(a.tensor)];
      u.work.macs += causal_scores ? (causal_[std::size_t(in.out.tensor)] ? inner * causal_elems(in.out.rows, in.out.cols)
                                                                      : causal_elems(a.logical_rows(), a.logical_cols()) *
                                                                            std::uint64_t(in.out.cols))
                                   : std::uint64_t(a.logical_rows()) * inner * std::uint64_t(in.out.cols);
    }
    if (qk) {  // the whole group's schedule, once
      const std::int64_t n = grp.seq_len, r = hw_.array.rows;
      std::int64_t per_head = 0;
      for (std::int64_t q0 = 0; q0 < n; q0 += r)
        per_head += fused_attention_timing(hw_.array, hw_.datapath,
                                           {std::min(r, n - q0), grp.causal ? std::min(n, q0 + r) : n, grp.head_dim})
                        .occupancy;
      u.work.array_mapped_cycles += per_head * std::int64_t(grp.heads.size());
    }
    return true;
  }

  void add_op_work(const GraphOp& op, RooflineUnit& u) {
    if (add_fused_work(op, u)) return;
    std::uint64_t e = 0, rows = 0, b = 0;  // summed over instances
    for (const OpInstance& in : op.instances) {
      const TensorView& a = in.in[0];
      switch (op.kind) {
        case OpKind::MatMul: {
          const std::uint64_t inner = std::uint64_t(a.logical_cols());
          std::uint64_t macs = 0;
          if (causal_[std::size_t(in.out.tensor)])  // S = Q K^T: only the unmasked scores
            macs = inner * causal_elems(in.out.rows, in.out.cols);
          else if (causal_[std::size_t(a.tensor)])  // O = P V: the unmasked probabilities
            macs = causal_elems(a.logical_rows(), a.logical_cols()) * std::uint64_t(in.out.cols);
          u.work.macs += macs ? macs : std::uint64_t(a.logical_rows()) * inner * std::uint64_t(in.out.cols);
          u.work.array_mapped_cycles += macs ? ceil_macs(macs, hw_.array.pes())
                                             : mapped_cycles({a.logical_rows(), a.logical_cols(), in.out.cols});
          break;
        }
        case OpKind::Softmax:
          e += score_elems(a), rows += std::uint64_t(a.logical_rows());
          break;
        case OpKind::RowSum:
        case OpKind::RowMax:
          e += elems(a), rows += std::uint64_t(a.logical_rows());
          break;
        case OpKind::FavorRows:
        case OpKind::FavorCols:  // per token (a row of in1) its norm: in1's elements and rows
          e += elems(in.out), rows += std::uint64_t(in.in[1].logical_rows()), b += elems(in.in[1]);
          break;
        case OpKind::SegmentMean:  // an add per source element; a mul and an add per mean
          e += elems(a), b += elems(in.out);
          break;
        case OpKind::Pinv: {
          const std::uint64_t l = std::uint64_t(in.out.rows);
          u.work.macs += 6 * 4 * l * l * l;
          u.work.array_mapped_cycles += 6 * 4 * mapped_cycles({std::int64_t(l), std::int64_t(l), std::int64_t(l)});
          e += l * l, rows += l, b += 1;
          break;
        }
        default:
          e += elems(in.out), rows += std::uint64_t(in.out.rows);
          break;
      }
    }
    switch (op.kind) {
      case OpKind::MatMul:
      case OpKind::GatherRows:
        return;
      case OpKind::Softmax:
        add_softmax(op, u, e, rows);
        return;
      case OpKind::LayerNorm:
        return add_vector(u, vec_op_prims(VecOp::LayerNorm), e, rows);
      case OpKind::RmsNorm:
        return add_vector(u, vec_op_prims(VecOp::RmsNorm), e, rows);
      case OpKind::Add:
        return add_vector(u, vec_op_prims(VecOp::Add), e, rows);
      case OpKind::AddRow:
        return add_vector(u, vec_op_prims(VecOp::AddRow), e, rows);
      case OpKind::Gelu:
        return add_vector(u, vec_op_prims(VecOp::Gelu), e, rows);
      case OpKind::Relu:
        return add_vector(u, vec_op_prims(VecOp::Relu), e, rows);
      case OpKind::SwiGlu:
        return add_vector(u, vec_op_prims(VecOp::SwiGlu), e, rows);
      case OpKind::RowSum:
        return add_vector(u, vec_op_prims(VecOp::RowSum), e, rows);
      case OpKind::RowMax:
        return add_vector(u, vec_op_prims(VecOp::RowMax), e, rows);
      case OpKind::L2Norm:
        return add_vector(u, vec_op_prims(VecOp::L2Norm), e, rows);
      case OpKind::PrefixMean:
        return add_vector(u, vec_op_prims(VecOp::PrefixMean), e, rows);
      case OpKind::Copy:
        return add_vector(u, vec_op_prims(VecOp::Copy), e, rows);
      case OpKind::FavorRows:
        return add_vector(u, vec_op_prims(VecOp::FavorRows), e, rows, b);
      case OpKind::FavorCols:
        return add_vector(u, vec_op_prims(VecOp::FavorCols), e, rows, b);
      case OpKind::DivCol:
        return add_vector(u, vec_op_prims(VecOp::DivCol), e, rows);
      case OpKind::SegmentMean:
        return add_vector(u, vec_op_prims(VecOp::ColMeanAcc), e, 0, b);
      case OpKind::Pinv: {
        // Per l x l instance: 19 l^2 add (the column sums of Z0; 6 iterations of 3 c I - X), 7 l^2 mul
        // (Z0 = A^T / max; 6 x 0.25 Z), l max (the largest column sum), 1 reciprocal (1 / that max).
        PrimCounts c;
        c.per_elem[std::size_t(VecPrim::Add)] = 19;
        c.per_elem[std::size_t(VecPrim::Mul)] = 7;
        c.per_row[std::size_t(VecPrim::Max)] = 1;
        c.per_b_elem[std::size_t(VecPrim::Reciprocal)] = 1;
        return add_vector(u, c, e, rows, b);
      }
      case OpKind::kCount:
        break;
    }
    throw InternalError("roofline: op " + op.name + " has no kind");
  }

  // The elements of P the division by the row sum must touch: P's, or the product's when every
  // reader of P is a MatMul of this unit taking P as its left operand (the division moves there).
  std::uint64_t normalised_elems(const GraphOp& sm, std::uint64_t e) const {
    const int p = sm.instances[0].out.tensor;
    const int unit = unit_of_op_[std::size_t(&sm - g_.ops.data())];
    if (reader_units_[std::size_t(p)] != std::vector<int>{unit} || p == g_.output) return e;
    std::uint64_t product = 0;
    bool any = false;
    for (int i : units_[std::size_t(unit)].graph_ops) {
      const GraphOp& op = g_.ops[std::size_t(i)];
      for (const OpInstance& in : op.instances) {
        const bool reads_p = in.in[0].tensor == p || in.in[1].tensor == p;
        if (!reads_p) continue;
        if (op.kind != OpKind::MatMul || in.in[0].tensor != p || in.in[0].transposed || in.in[1].tensor == p) return e;
        product += elems(in.out), any = true;
      }
    }
    return any ? std::min(e, product) : e;
  }

  void add_softmax(const GraphOp& op, RooflineUnit& u, std::uint64_t e, std::uint64_t rows) {
    const std::uint64_t en = normalised_elems(op, e);
    if (!hw_.softmax.present) {
      // The vector unit: per element max, x - max and the row sum (2 add), scale (mul), exp; per row
      // the reciprocal of the sum; per normalised element a mul.
      PrimCounts c;
      c.per_elem[std::size_t(VecPrim::Max)] = 1;
      c.per_elem[std::size_t(VecPrim::Add)] = 2;
      c.per_elem[std::size_t(VecPrim::Mul)] = 1;
      c.per_elem[std::size_t(VecPrim::Exp)] = 1;
      c.per_row[std::size_t(VecPrim::Reciprocal)] = 1;
      c.per_b_elem[std::size_t(VecPrim::Mul)] = 1;
      return add_vector(u, c, e, rows, en);
    }
    const std::uint64_t L = std::uint64_t(hw_.softmax.lanes);
    const std::uint64_t X = std::uint64_t(std::min(hw_.softmax.lanes, hw_.softmax.exp_per_cycle));
    ATTNSIM_ASSERT(L > 0 && X > 0, "the softmax unit needs lanes and exponential units");
    auto cdiv = [](std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; };
    u.work.softmax_cycles += std::int64_t(cdiv(e, L) + cdiv(e, X) + cdiv(rows, X) + cdiv(en, L));
  }

  // Compulsory DRAM bytes: tensors read from outside the unit once, tensors leaving it once.
  void add_dram_bytes(RooflineUnit& u) {
    std::map<int, std::vector<Block>> read, written;
    for (int i : u.graph_ops) {
      const GraphOp& op = g_.ops[std::size_t(i)];
      for (const OpInstance& in : op.instances) {
        written[in.out.tensor].push_back(block_of(in.out));
        for (const TensorView& v : in.in) {
          if (v.tensor < 0) continue;
          if (op.kind == OpKind::GatherRows) {
            // Only the sampled rows: floor(j (N - 1) / (p - 1)), the last included (graph.h).
            const std::int64_t n = v.rows, p = in.out.rows;
            for (std::int64_t j = 0; j < p; ++j) {
              const std::int64_t r = v.row0 + (p > 1 ? j * (n - 1) / (p - 1) : n - 1);
              read[v.tensor].push_back({r, r + 1, v.col0, v.col0 + v.cols});
            }
          } else {
            read[v.tensor].push_back(block_of(v));
          }
        }
      }
    }
    const int self = unit_of_op_[std::size_t(u.graph_ops.front())];
    for (const auto& [t, blocks] : read)
      if (!written.count(t))
        u.work.dram_read_bytes += union_elems(blocks) * std::uint64_t(g_.tensors[std::size_t(t)].elem_bytes);
    for (const auto& [t, blocks] : written) {
      const std::vector<int>& readers = reader_units_[std::size_t(t)];
      const bool leaves =
          t == g_.output || std::any_of(readers.begin(), readers.end(), [&](int r) { return r != self; });
      if (leaves)
        u.work.dram_written_bytes += union_elems(blocks) * std::uint64_t(g_.tensors[std::size_t(t)].elem_bytes);
    }
  }

  const HwConfig& hw_;
  const Graph& g_;
  VectorConfig vector0_;
  std::vector<RooflineUnit> units_;
  std::vector<int> unit_of_op_;
  std::vector<std::vector<int>> reader_units_;
  std::vector<bool> causal_;
};

}  // namespace

Roofline compulsory_roofline(const HwConfig& hw, const Graph& g, double dram_bytes_per_cycle) {
  Roofline r;
  r.pes = hw.array.pes();
  r.dram_bytes_per_cycle = dram_bytes_per_cycle;
  r.units = RooflineBuilder(hw, g).units();
  for (RooflineUnit& u : r.units) {
    u.bound = roofline_bound(u.work, r.pes, dram_bytes_per_cycle);
    u.mapped = mapped_bound(u.work, dram_bytes_per_cycle);
    r.work += u.work;
    r.sequential_bound_cycles += u.bound.bound_cycles;
  }
  r.bound = roofline_bound(r.work, r.pes, dram_bytes_per_cycle);
  r.mapped = mapped_bound(r.work, dram_bytes_per_cycle);
  return r;
}

}  // namespace attnsim
