#include "compiler/model_lowering.h"

#include <functional>
#include <memory>
#include <sstream>

#include "cascade/cascade.h"
#include "cascade/lower.h"
#include "cascade/mapping.h"
#include "common/errors.h"
#include "compiler/attention_lowering.h"
#include "compiler/fused_attention_lowering.h"
#include "compiler/gemm_cascade.h"
#include "compiler/gemm_lowering.h"
#include "compiler/lowrank_lowering.h"
#include "compiler/rowwise_cascades.h"
#include "mapper/cascade_search.h"
#include "mapper/fused_search.h"

namespace attnsim {

namespace {

DramBlock block_of(const TensorView& v) { return {std::uint16_t(v.tensor), v.row0, v.col0, v.rows, v.cols}; }

struct Step {
  PhaseInfo info;
  std::vector<BufferInfo> buffers;
  std::function<void(Emitter&)> emit;  // creates its emitters afresh: generate() may run twice
};

class Lowering {
 public:
  Lowering(const HwConfig& hw, const Graph& g, PhaseHook on_phase, const MapperOptions& opt)
      : hw_(hw), g_(g), capacity_(std::uint64_t(hw.sram.total_bytes())), on_phase_(std::move(on_phase)), opt_(opt) {
    if (!opt_.cache) opt_.cache = &cache_;
  }

  CompiledModel run() {
    if (g_.elem_bytes != hw_.array.operand_bytes)
      throw UserError(hw_.source + ": /array/operand_bytes: the model's operands are " + std::to_string(g_.elem_bytes) +
                      " B each but the array's are " + std::to_string(hw_.array.operand_bytes) +
                      " B; pick a matching dtype (--dtype) or set /array/operand_bytes");
    uses_.assign(g_.tensors.size(), 0);
    for (const GraphOp& op : g_.ops)
      for (const OpInstance& in : op.instances)
        for (const TensorView& v : in.in)
          if (v.tensor >= 0) ++uses_[std::size_t(v.tensor)];
    for (std::size_t i = 0; i < g_.ops.size(); ++i) {
      const GraphOp& op = g_.ops[i];
      if (op.group >= 0) {
        if (g_.groups[std::size_t(op.group)].ops.front() == int(i)) lower_group(g_.groups[std::size_t(op.group)]);
        continue;
      }
      if (op.kind == OpKind::MatMul) {
        const GraphOp* next = i + 1 < g_.ops.size() ? &g_.ops[i + 1] : nullptr;
        if (next && fusable_epilogue(op, *next)) {
          lower_matmul(op, next);
          ++i;
        } else {
          lower_matmul(op, nullptr);
        }
      } else {
        lower_rowwise(op);
      }
    }
    return finish();
  }

 private:
  std::uint32_t phase() const { return std::uint32_t(steps_.size()); }

  void add_step(Step s) {
    s.info.sram_bytes = 0;
    for (const BufferInfo& b : s.buffers)  // the SRAM's part (buffers in accumulator storage apart)
      if (!hw_.in_accumulators(b.region.addr))
        s.info.sram_bytes = std::max(s.info.sram_bytes, b.region.addr + b.region.bytes);
    steps_.push_back(std::move(s));
  }

  static bool same_view(const TensorView& a, const TensorView& b) {
    return a.tensor == b.tensor && a.row0 == b.row0 && a.col0 == b.col0 && a.rows == b.rows && a.cols == b.cols &&
           a.transposed == b.transposed;
  }

  // A GEMM's only consumer, right after it, that works element by element on its output: an
  // activation, or a residual add. It is applied to each C tile in SRAM before the tile is stored.
  bool fusable_epilogue(const GraphOp& mm, const GraphOp& next) const {
    if (mm.instances.size() != 1 || next.instances.size() != 1 || next.group >= 0) return false;
    const TensorView& out = mm.instances[0].out;
    if (uses_[std::size_t(out.tensor)] != 1) return false;
    const OpInstance& ni = next.instances[0];
    switch (next.kind) {
      case OpKind::Gelu:
      case OpKind::Relu:
        return same_view(ni.in[0], out);
      case OpKind::Add:
        return (same_view(ni.in[0], out) && ni.in[1].tensor != out.tensor) ||
               (same_view(ni.in[1], out) && ni.in[0].tensor != out.tensor);
      default:
        return false;
    }
  }

  void lower_matmul(const GraphOp& op, const GraphOp* epi) {
    const OpInstance& in = op.instances.front();
    const TensorView &a = in.in[0], &b = in.in[1];
    for (const OpInstance& i : op.instances)
      ATTNSIM_ASSERT(!i.in[0].transposed, op.name + ": a transposed first GEMM operand has no lowering");
    const GemmDims d{a.logical_rows(), a.logical_cols(), b.logical_cols()};
    const bool residual = epi && epi->kind == OpKind::Add;
    const std::string name = epi ? op.name + "+" + epi->name.substr(epi->name.find('.') + 1) : op.name;
    const GemmTiling t = choose_gemm_tiling(hw_, d, capacity_, name, residual ? 1 : 0, opt_);
    Step s;
    s.info = {name, op.layer, op.cls,
              describe(t, d) + (epi ? std::string(", fused ") + to_string(epi->kind) + " epilogue" : ""), 0,
              gemm_mapping(t)};
    s.buffers = gemm_layout(hw_, t, 0, capacity_)
                    .buffers(op.name + ".", phase(), BufClass::Activation, BufClass::Weight, BufClass::Output);
    const HwConfig& hw = hw_;
    const std::uint64_t cap = capacity_;
    std::vector<GemmBlocks> gb;
    for (const OpInstance& i : op.instances) {
      GemmBlocks x;
      x.a = block_of(i.in[0]);
      x.b = block_of(i.in[1]);
      x.b_transposed = i.in[1].transposed;
      x.c = block_of(i.out);
      if (epi) {
        const OpInstance& ei = epi->instances[0];
        x.c = block_of(ei.out);
        x.epilogue_class = epi->cls;
        if (residual) {
          x.epilogue = Epilogue::AddResidual;
          x.residual = block_of(same_view(ei.in[0], i.out) ? ei.in[1] : ei.in[0]);
        } else {
          x.epilogue = epi->kind == OpKind::Gelu ? Epilogue::Gelu : Epilogue::Relu;
        }
      }
      gb.push_back(x);
    }
    // The tiling runs through the generic lowering (compiler/gemm_cascade.h), all the instances as one
    // group (a block they share, a weight, stays on chip).
    const bool bt = gb.front().b_transposed;
    bool as_cascade = gemm_cascade_translatable(t, bt);
    for (const GemmBlocks& x : gb)
      as_cascade &= x.b_transposed == bt && x.a.rows == d.m && x.a.cols == d.k && (bt ? x.b.rows : x.b.cols) == d.n;
    const Epilogue ep = gb.front().epilogue;
    if (as_cascade) {
      s.emit = [&hw, t, cap, gb, ep, bt](Emitter& em) { GemmCascadeEmitter(hw, t, ep, cap, bt).emit(em, gb); };
    } else {
      // Instances of other dimensions than the first's: each as a cascade of its own dimensions, with the
      // tiling's tiles and order (no larger than the tiling's buffers).
      s.emit = [&hw, t, cap, gb, ep](Emitter& em) {
        for (const GemmBlocks& x : gb) {
          GemmTiling part = t;
          part.dims = {x.a.rows, x.a.cols, x.b_transposed ? x.b.rows : x.b.cols};
          GemmCascadeEmitter(hw, part, ep, cap, x.b_transposed).emit(em, {x});
        }
      };
    }
    add_step(std::move(s));
  }

  static OpMapping gemm_mapping(const GemmTiling& t) { return gemm_op_mapping(t); }

  static std::string describe(const GemmTiling& t, const GemmDims& d) {
    std::ostringstream os;
    os << "GEMM " << d.m << "x" << d.k << "x" << d.n << " tiles " << t.tm << "x" << t.tk << "x" << t.tn << " order "
       << describe_gemm_order(t);
    return os.str();
  }

  // A row-wise op (norm, residual add, activation, copy, row reduction): its built-in cascade under its
  // mapping, lowered by cascade/lower (compiler/rowwise_cascades.h).
  void lower_rowwise(const GraphOp& op) {
    if (!has_rowwise_cascade(op.kind))
      throw InternalError("no row-wise lowering for " + std::string(to_string(op.kind)));
    RowwisePhase ph = lower_rowwise_op(hw_, op, capacity_, opt_.fixed);
    Step s;
    s.info = {op.name, op.layer, op.cls, std::move(ph.plan), 0, std::move(ph.mapping)};
    s.buffers = std::move(ph.buffers);
    for (BufferInfo& b : s.buffers) b.phase = phase();
    s.emit = std::move(ph.emit);
    add_step(std::move(s));
  }

  void lower_group(const AttentionGroup& grp) {
    const std::string name = "L" + std::to_string(grp.layer) + ".attention";
    switch (grp.spec.variant) {
      case AttnVariant::Flash:
      case AttnVariant::RowFused:
      case AttnVariant::Unfused:
        lower_vanilla_group(grp, name);
        return;
      case AttnVariant::Cascade:
        lower_cascade_group(grp, name);
        return;
      case AttnVariant::Fused:
        lower_fused_group(grp, name);
        return;
      default: {
        // Low-rank variants: their phases (a global one before the barrier, then the stream).
        for (LowRankPhase& ph : lower_lowrank_group(hw_, g_, grp, name, opt_)) {
          Step s;
          s.info = {ph.name, grp.layer, ph.cls, ph.plan, 0, std::move(ph.mapping)};
          s.buffers = std::move(ph.buffers);
          for (BufferInfo& b : s.buffers) b.phase = phase();
          s.emit = std::move(ph.emit);
          add_step(std::move(s));
        }
        return;
      }
    }
  }

  // Vanilla attention (flash, row_fused, unfused) as mappings of the vanilla cascade, chosen by the
  // cascade mapper (mapper/cascade_search.h) within the structure the variant names:
  //   flash      online softmax over key tiles, or the kernel as one key block (blocks of query rows
  //              with their whole score rows on chip: FlashAttention with one key block is exact
  //              attention), so flash is never slower than unfused when the scores fit;
  //   row_fused  blocks of query rows with their whole score rows on chip (up to all N rows), refused
  //              when re-reading K and V would move more bytes than spilling the scores;
  //   unfused    the whole N x N score matrix on chip; when it does not fit (or with spill = 1), the
  //              scores are spilled to DRAM: three groups [S] [P] [O], S and P through DRAM between
  //              them (the mapper's Spilled structure, streams triple-buffered where they fit).
  // A user's mapping may give the op's whole cascade mapping (kind "cascade") or, for flash and
  // row_fused, tile factors (kinds "flash": m, p; "row_fused": m) that the mapper keeps.
  void lower_vanilla_group(const AttentionGroup& grp, const std::string& name) {
    const AttnVariant variant = grp.spec.variant;
    const std::int64_t n = grp.seq_len, dh = grp.head_dim;
    // A decode step's group has query_len query rows (M) against n cached keys.
    Json desc = cascade::vanilla_attention_json();
    if (grp.query_len) desc["ranks"]["m"] = "M";
    auto c = std::make_shared<cascade::Cascade>(
        cascade::bind_cascade(cascade::parse_cascade(desc, "vanilla"),
                              {{"N", double(n)}, {"M", double(grp.query_len ? grp.query_len : n)}, {"d", double(dh)}},
                              grp.causal));
    const int mr = c->desc.rank_index("m"), pr = c->desc.rank_index("p");
    // A cascade mapping of several groups (unfused with S spilled: [S] [P] [O]) is the op named as its
    // first phase, NAME.0 (as --emit mapping prints it), as for a cascade file's variant.
    const std::string key =
        opt_.fixed && !opt_.fixed->find(name) && opt_.fixed->find(name + ".0") ? name + ".0" : name;
    const OpMapping* fixed = opt_.fixed ? opt_.fixed->find(key) : nullptr;
    const char* kind = variant == AttnVariant::Flash ? "flash" : variant == AttnVariant::RowFused ? "row_fused" : "unfused";
    cascade::Mapping m;
    if (fixed && fixed->kind == "cascade") {
      m = fixed_cascade_mapping(*c, key, fixed->cascade);
    } else if (key != name) {
      throw UserError(opt_.fixed->where(key, "kind") + ": " + key + " is the first phase of a cascade mapping of " +
                      "several groups: kind must be \"cascade\", got \"" + fixed->kind + "\"");
    } else {
      CascadeSearchSpec spec;
      spec.instances = std::int64_t(grp.heads.size());
      if (fixed) {
        std::string problems;
        auto problem = [&](const std::string& field, const std::string& rule) {
          problems += (problems.empty() ? "" : "\n") + opt_.fixed->where(name, field) + ": " + rule;
        };
        const bool ok = (variant == AttnVariant::Flash && (fixed->kind == "flash" || fixed->kind == "row_fused")) ||
                        (variant == AttnVariant::RowFused && fixed->kind == "row_fused");
        if (!ok)
          problem("kind", name + " is " + kind + " attention here: kind must be " +
                              (variant == AttnVariant::Flash    ? "\"flash\" or \"row_fused\""
                               : variant == AttnVariant::RowFused ? "\"row_fused\""
                                                                  : std::string("\"cascade\"")) +
                              (variant == AttnVariant::Unfused ? "" : " (or \"cascade\")") + ", got \"" + fixed->kind +
                              "\"");
        for (const auto& [rank, v] : fixed->tile)
          if (v > n)
            problem("tile/" + rank,
                    "must be at most the sequence length " + std::to_string(n) + ", got " + std::to_string(v));
        if (!problems.empty()) throw UserError(problems);
        if (fixed->tile_of("m")) spec.fixed_tiles.push_back({mr, fixed->tile_of("m")});
        if (fixed->kind == "flash" && fixed->tile_of("p")) spec.fixed_tiles.push_back({pr, fixed->tile_of("p")});
      }
      using CS = CascadeStructure;
      if (variant == AttnVariant::Flash)
        spec.structures = fixed && fixed->kind == "flash"       ? std::vector<CS>{CS::Online}
                          : fixed && fixed->kind == "row_fused" ? std::vector<CS>{CS::Whole, CS::RowBlocks}
                                                                : std::vector<CS>{CS::Whole, CS::RowBlocks, CS::Online};
      else if (variant == AttnVariant::RowFused)
        spec.structures = {CS::Whole, CS::RowBlocks};
      else  // the published unfused baseline spills the score matrix whatever its size (unfused:spill=1)
        spec.structures = {grp.spec.spill ? CS::Spilled : CS::Whole};
      // Row-fused exists to keep the scores off DRAM: a block so small that re-reading K and V moves
      // more than spilling them (attention_lowering.h, spilled_bytes_per_head) is dominated.
      if (variant == AttnVariant::RowFused) spec.max_dram_bytes = spilled_bytes_per_head(hw_, n, dh);
      // A decode step's attention (one query row per head against the cache) may split its key loop
      // into independent runs combined at the end (split-K, flash-decoding); the mapper times them.
      if (grp.query_len) spec.splits = {2, 4, 8, 16};
      try {
        m = search_cascade(*c, hw_, capacity_, spec, opt_, name).mapping;
      } catch (const UserError&) {
        if (variant == AttnVariant::Unfused && grp.spec.spill) spilled_does_not_fit(name, n);
        // Nothing fits: unfused spills the scores; the analytic planners (attention_lowering.h) say
        // why in the schedule's terms (they reject whatever the generic lowering rejects).
        if (variant != AttnVariant::Unfused) {
          if (variant == AttnVariant::RowFused)
            (void)plan_row_fused(hw_, n, dh, capacity_, name, false, opt_.fixed);
          else
            (void)choose_flash_schedule(hw_, n, dh, capacity_, name, opt_.fixed);
          throw;
        }
        spec.structures = {CS::Spilled};
        try {
          m = search_cascade(*c, hw_, capacity_, spec, opt_, name).mapping;
        } catch (const UserError&) {
          spilled_does_not_fit(name, n);
        }
      }
    }
    OpMapping om;
    om.kind = "cascade";
    om.cascade = cascade::mapping_to_json(*c, m);
    // For readers of the compiled phases (not printed: the cascade mapping says it): the query block
    // m and the key tile or chunk p of the first group.
    for (const cascade::Loop& l : m.groups.front().loops)
      if (l.rank == mr || l.rank == pr) om.tile[l.rank == mr ? "m" : "p"] = l.tile;
    for (const cascade::Loop& l : m.groups.front().stream)
      if (l.rank == pr) om.tile["p"] = l.tile;
    if (!om.tile.count("m")) om.tile["m"] = n;
    if (!om.tile.count("p")) om.tile["p"] = n;
    add_cascade_phases(grp, name, c, m, vanilla_plan_text(*c, m, variant), om);
  }

  // Attention fused in the array (compiler/fused_attention_lowering.h): one phase, every head in turn, as
  // the mapping of kind "fused" that the mapper picks (mapper/fused_search.h) within the user's fixed fields.
  void lower_fused_group(const AttentionGroup& grp, const std::string& name) {
    const std::int64_t n = grp.seq_len, dh = grp.head_dim;
    FusedShape shape;
    shape.n = n, shape.dh = dh, shape.causal = grp.causal, shape.instances = std::int64_t(grp.heads.size());
    const FusedAttentionPlan p = search_fused(hw_, shape, capacity_, opt_, name).plan;
    std::vector<HeadBlocks> heads;
    for (const AttentionGroup::Head& h : grp.heads)
      heads.push_back({block_of(h.q), block_of(h.k), block_of(h.v), block_of(h.o)});
    Step s;
    std::ostringstream os;
    os << "fused in the array: query blocks of " << p.bq << " rows over key tiles of " << p.key_tile
       << ", one GEMM fused_attention per block (Q K^T, online softmax in the PEs and row units, P V); K/V "
       << p.k_buffers << "/" << p.v_buffers << " head(s) on chip, Q/O " << p.q_buffers << "/" << p.o_buffers
       << " block slots" << (grp.causal ? ", causal" : "");
    s.info = {name, grp.layer, OpClass::QK, os.str(), 0, fused_op_mapping(p, grp.causal)};
    s.buffers = FusedAttentionEmitter(hw_, p, n, dh, 0).buffers(phase());
    const HwConfig& hw = hw_;
    const bool causal = grp.causal;
    const float scale = grp.scale;
    s.emit = [&hw, p, n, dh, heads, causal, scale](Emitter& em) {
      FusedAttentionEmitter e(hw, p, n, dh, 0);
      for (const HeadBlocks& h : heads) e.emit_head(em, h, causal, scale);
    };
    add_step(std::move(s));
  }

  // A user's cascade mapping for op `name`: its errors name the file and /ops/NAME/mapping/...
  cascade::Mapping fixed_cascade_mapping(const cascade::Cascade& c, const std::string& name, const Json&) {
    return attnsim::fixed_cascade_mapping(c, hw_, capacity_, *opt_.fixed, name);
  }

  // The phase's plan line: the schedule in the variant's terms, then the cascade mapping.
  std::string vanilla_plan_text(const cascade::Cascade& c, const cascade::Mapping& m, AttnVariant variant) const {
    const int mr = c.desc.rank_index("m"), pr = c.desc.rank_index("p");
    const std::int64_t n = c.extent[std::size_t(mr)], dh = c.extent[std::size_t(c.desc.rank_index("e"))];
    std::ostringstream os;
    const cascade::GroupMapping& g = m.groups.front();
    std::int64_t rows = n, keys = n;
    bool key_loop = false;
    for (const cascade::Loop& l : g.loops) {
      if (l.rank == mr) rows = l.tile;
      if (l.rank == pr) keys = l.tile, key_loop = true;
    }
    for (const cascade::Loop& l : g.stream)
      if (l.rank == pr) keys = l.tile;
    const int score_buffers = m.tensors[std::size_t(c.desc.tensor_index("S"))].buffers;
    if (m.groups.size() > 1) {
      os << "unfused, S spilled to DRAM";
    } else if (key_loop) {
      os << "flash: Q tiles " << rows << "x" << dh << ", K/V tiles " << keys << "x" << dh << ", online softmax";
    } else {
      if (variant == AttnVariant::Unfused)
        os << "unfused, S " << n << "x" << n << " on chip";
      else
        os << (variant == AttnVariant::Flash ? "flash as one key block (row-fused): " : "row-fused: ")
           << "query blocks of " << rows << " rows with their full score rows on chip";
      os << ", K/V tiles " << keys << "x" << dh << ", " << score_buffers << " score buffer(s)";
    }
    bool acc = false;
    for (const cascade::TensorMapping& t : m.tensors) acc |= t.at[0] >= 0 && hw_.in_accumulators(std::uint64_t(t.at[0]));
    if (acc) os << ", accumulators hold";
    for (std::size_t t = 0; acc && t < m.tensors.size(); ++t)
      if (m.tensors[t].at[0] >= 0 && hw_.in_accumulators(std::uint64_t(m.tensors[t].at[0])))
        os << " " << c.desc.tensors[t].name;
    os << "; " << cascade::describe(c, m);
    return os.str();
  }

  // A variant written as a cascade file: bound to the layer (N = seq_len, d = head_dim), mapped (below)
  // and lowered by the generic
  // lowering, one phase per group of the mapping. Its inputs are some of Q, K, V and its one output
  // O, each N x d; intermediates the mapping spills to DRAM use the layer's S and P tensors
  // ((batch * heads * N) x N) as scratch, so at most two, each at most N x N.
  void lower_cascade_group(const AttentionGroup& grp, const std::string& name) {
    const AttentionSpec& spec = grp.spec;
    const std::string& file = spec.cascade_file;
    auto c = std::make_shared<cascade::Cascade>(cascade::bind_cascade(
        cascade::parse_cascade(spec.cascade_doc, file), {{"N", double(grp.seq_len)}, {"d", double(grp.head_dim)}},
        grp.causal));
    const std::int64_t n = grp.seq_len, dh = grp.head_dim;
    Diagnostics diag(file);
    int outputs = 0;
    for (std::size_t t = 0; t < c->desc.tensors.size(); ++t) {
      const cascade::TensorDecl& td = c->desc.tensors[t];
      if (td.role == cascade::TensorRole::Intermediate) continue;
      const bool in = td.role == cascade::TensorRole::Input;
      outputs += !in;
      if (in ? (td.name != "Q" && td.name != "K" && td.name != "V") : td.name != "O")
        diag.add(td.path, std::string("a model's cascade reads Q, K, V and writes O (each N x d), not ") + td.name);
      else if (c->rows(int(t)) != n || c->cols(int(t)) != dh)
        diag.add(td.path, td.name + " is " + std::to_string(c->rows(int(t))) + "x" + std::to_string(c->cols(int(t))) +
                              " here, not N x d = " + std::to_string(n) + "x" + std::to_string(dh));
    }
    if (outputs != 1) diag.add("/outputs", "a model's cascade writes one output, O");
    diag.throw_if_any();
    // The mapping: the user's --mapping FILE for the op (named as its first phase: NAME, or NAME.0 when
    // the mapping has several groups), else the attention object's mapping file, else the mapper's
    // search around cascade::default_mapping.
    const std::string key = opt_.fixed && !opt_.fixed->find(name) && opt_.fixed->find(name + ".0") ? name + ".0" : name;
    cascade::Mapping m;
    if (opt_.fixed && opt_.fixed->find(key)) {
      m = attnsim::fixed_cascade_mapping(*c, hw_, capacity_, *opt_.fixed, key);
    } else if (!spec.mapping_doc.is_null()) {
      m = cascade::parse_mapping(spec.mapping_doc, spec.mapping_file, *c, hw_);
    } else {
      const cascade::Cascade* cp = c.get();
      const HwConfig& hw = hw_;
      const DefaultMapping default_of = [cp, &hw, &name](std::uint64_t budget) {
        return cascade::default_mapping(*cp, hw, budget, name);
      };
      m = search_grouped_cascade(*c, hw_, capacity_, default_of, std::int64_t(grp.heads.size()), opt_, name).mapping;
    }
    add_cascade_phases(grp, name, c, m, cascade::describe(*c, m), cascade_op_mapping(*c, m));
  }

  // The phases of a cascade bound to an attention group (inputs Q, K, V, output O) under a mapping:
  // one per group of the mapping, spilled intermediates in the layer's S and P tensors.
  void add_cascade_phases(const AttentionGroup& grp, const std::string& name,
                          const std::shared_ptr<cascade::Cascade>& c, const cascade::Mapping& m,
                          const std::string& how, const OpMapping& mapping) {
    const std::int64_t n = grp.seq_len;
    auto plan = std::make_shared<cascade::CascadePlan>(cascade::plan_cascade(*c, m, hw_, capacity_));
    // DRAM blocks per head; spilled intermediates go to the layer's S and P tensors.
    const int scratch[2] = {tensor_named("L" + std::to_string(grp.layer) + ".S"),
                            tensor_named("L" + std::to_string(grp.layer) + ".P")};
    if (plan->spilled.size() > 2)
      throw UserError(m.source + ": /groups: the mapping spills " + std::to_string(plan->spilled.size()) +
                      " intermediates to DRAM; a model's cascade has scratch for two (N x N each)");
    std::vector<cascade::Binding> bindings;
    for (std::size_t h = 0; h < grp.heads.size(); ++h) {
      const AttentionGroup::Head& hv = grp.heads[h];
      cascade::Binding b;
      b.blocks.resize(c->desc.tensors.size());
      for (std::size_t t = 0; t < c->desc.tensors.size(); ++t) {
        const std::string& tn = c->desc.tensors[t].name;
        if (c->desc.tensors[t].role != cascade::TensorRole::Intermediate)
          b.blocks[t] = block_of(tn == "Q" ? hv.q : tn == "K" ? hv.k : tn == "V" ? hv.v : hv.o);
      }
      for (std::size_t i = 0; i < plan->spilled.size(); ++i) {
        const int t = plan->spilled[i];
        if (c->rows(t) > n || c->cols(t) > n)
          throw UserError(m.source + ": /groups: the mapping spills " + c->tensor(t).name +
                          " to DRAM, larger than the N x N scratch");
        b.blocks[std::size_t(t)] = {std::uint16_t(scratch[i]), std::int64_t(h) * n, 0, c->rows(t), c->cols(t)};
      }
      bindings.push_back(std::move(b));
    }
    if (!plan->spilled.empty()) spilled_.push_back(grp.layer);
    auto classes = std::make_shared<std::vector<OpClass>>(cascade::default_classes(*c));
    const HwConfig& hw = hw_;
    for (std::size_t g = 0; g < plan->groups.size(); ++g) {
      Step s;
      const std::string phase_name = plan->groups.size() > 1 ? name + "." + std::to_string(g) : name;
      s.info = {phase_name, grp.layer, OpClass::QK, how, 0, g == 0 ? mapping : OpMapping{}};
      s.buffers = cascade::group_buffers(*plan, int(g), phase());
      for (BufferInfo& b : s.buffers) {  // the attention operands by role, as the report groups them
        const char role = b.name.empty() ? ' ' : b.name[0];
        if (b.cls == BufClass::Activation && b.name.size() == 2 && (role == 'Q' || role == 'K' || role == 'V'))
          b.cls = role == 'Q' ? BufClass::Query : role == 'K' ? BufClass::Key : BufClass::Value;
      }
      s.emit = [&hw, c, plan, classes, bindings, g](Emitter& em) {
        cascade::emit_group(hw, *plan, int(g), em, bindings, *classes);
      };
      add_step(std::move(s));
    }
  }

  int tensor_named(const std::string& n) const {
    for (std::size_t i = 0; i < g_.tensors.size(); ++i)
      if (g_.tensors[i].name == n) return int(i);
    throw InternalError("no tensor " + n);
  }

  // Unfused attention with the scores spilled fits nowhere: the softmax's group needs whole score rows
  // (one row of S loaded and one of P stored, two slots each, operand width), or else the search's
  // message.
  [[noreturn]] void spilled_does_not_fit(const std::string& name, std::int64_t n) const {
    const std::uint64_t row = align_up(std::uint64_t(n) * std::uint64_t(hw_.array.operand_bytes), 64);
    std::ostringstream msg;
    msg << hw_.source << ": /sram: " << name << ": unfused attention with the scores spilled to DRAM: ";
    if (4 * row > capacity_)
      msg << "its row softmax needs whole score rows, and one row of " << n
          << " elements (S and P, two slots each) needs " << 4 * row << " B, more than the " << capacity_ << " B of SRAM available";
    else
      msg << "no mapping of its three phases (S = Q K^T, row softmax, O = P V) fits the " << capacity_ << " B of SRAM";
    throw UserError(msg.str());
  }

  // Every op the user's mapping names must be one of the compiled phases.
  void check_fixed_ops() const {
    if (!opt_.fixed) return;
    std::vector<std::string> problems;
    for (const auto& [op, m] : opt_.fixed->ops) {
      bool found = false, fixed_plan = false;
      for (const Step& s : steps_) {
        found |= s.info.name == op && !s.info.mapping.kind.empty();
        fixed_plan |= s.info.name == op && s.info.mapping.kind.empty();
      }
      // A phase without mapping choices would silently ignore the entry: a low-rank cascade's global
      // phase (its groups are in the mapping of the op named as its last phase) or a fixed planner.
      const std::string owner = op.size() > 7 && op.compare(op.size() - 7, 7, ".global") == 0 ? op.substr(0, op.size() - 7) : "";
      bool owned = false;
      for (const Step& s : steps_) owned |= !owner.empty() && s.info.name == owner && s.info.mapping.kind == "cascade";
      if (!found && fixed_plan && owned) {
        problems.push_back(opt_.fixed->where(op, "") + ": this phase is a group of op " + owner +
                           "'s cascade mapping (kind \"cascade\", its \"groups\"); give its choices there and remove "
                           "the entry");
        continue;
      }
      if (!found && fixed_plan) {
        problems.push_back(opt_.fixed->where(op, "") +
                           ": this op has a fixed hand-written schedule and no mapping choices (report.json's "
                           "phases give its plan); remove the entry");
        continue;
      }
      if (!found) {
        std::vector<std::string> names;
        for (const Step& s : steps_)
          if (!s.info.mapping.kind.empty()) names.push_back(s.info.name);
        const std::string guess = did_you_mean(op, names);
        problems.push_back(opt_.fixed->where(op, "") + ": no op of this name has mapping choices in this workload" +
                           (guess.empty() ? "" : " (did you mean \"" + guess + "\"?)"));
      }
    }
    if (!problems.empty()) {
      std::string msg;
      for (const std::string& p : problems) msg += (msg.empty() ? "" : "\n") + p;
      throw UserError(msg);
    }
  }

  CompiledModel finish() {
    check_fixed_ops();
    CompiledModel cm;
    // DRAM: every tensor row-major from address 0, each on a 4 KiB boundary. S and P exist in DRAM
    // only for spilled unfused attention; elsewhere they are never touched and take no space.
    std::uint64_t next = 0;
    for (std::size_t i = 0; i < g_.tensors.size(); ++i) {
      const GraphTensor& t = g_.tensors[i];
      TensorInfo ti{t.name, 0, std::uint64_t(t.rows), std::uint64_t(t.cols), t.elem_bytes};
      const bool scores = t.name.size() > 2 && (t.name.substr(t.name.size() - 2) == ".S" ||
                                                t.name.substr(t.name.size() - 2) == ".P");
      if (t.alias_of >= 0) {  // the same bytes as an earlier tensor, seen with another shape
        ATTNSIM_ASSERT(std::size_t(t.alias_of) < i, "tensor " + t.name + " aliases a later tensor");
        ti.dram_base = cm.program.tensors[std::size_t(t.alias_of)].dram_base;
        ti.alias_of = t.alias_of;
      } else if (!scores || std::find(spilled_.begin(), spilled_.end(), t.layer) != spilled_.end()) {
        ti.dram_base = next;
        next = align_up(next + ti.bytes(), 4096);
      }
      cm.program.tensors.push_back(ti);
    }
    ATTNSIM_ASSERT(cm.program.tensors.size() < 65536, "too many tensors for the tile program's 16-bit index");
    std::ostringstream sum;
    sum << g_.ops.size() << " graph ops in " << steps_.size() << " phases";
    cm.program.summary = sum.str();
    for (const Step& s : steps_) {
      cm.phases.push_back(s.info);
      for (const BufferInfo& b : s.buffers) cm.program.buffers.push_back(b);
    }
    auto steps = std::make_shared<std::vector<Step>>(std::move(steps_));
    auto tensors = std::make_shared<std::vector<TensorInfo>>(cm.program.tensors);
    const PhaseHook hook = on_phase_;
    cm.program.generate = [steps, tensors, hook](ProgramSink& sink) {
      Emitter em(sink, *tensors);
      for (std::size_t i = 0; i < steps->size(); ++i) {
        const Step& s = (*steps)[i];
        if (hook) hook(i, steps->size(), s.info);
        em.set_context(s.info.layer, s.info.cls);
        if (i) em.barrier();
        s.emit(em);
      }
    };
    return cm;
  }

  const HwConfig& hw_;
  const Graph& g_;
  const std::uint64_t capacity_;
  std::vector<Step> steps_;
  std::vector<int> spilled_;
  std::vector<int> uses_;  // per tensor: how many op inputs read it
  PhaseHook on_phase_;
  MapperOptions opt_;
  MapperCache cache_;
};

}  // namespace

CompiledModel compile_model(const HwConfig& hw, const Graph& g, PhaseHook on_phase, const MapperOptions& opt) {
  return Lowering(hw, g, std::move(on_phase), opt).run();
}

ModelMapping mapping_of(const CompiledModel& cm) {
  ModelMapping m;
  for (const PhaseInfo& p : cm.phases)
    if (!p.mapping.kind.empty()) m.ops.emplace_back(p.name, p.mapping);
  return m;
}

}  // namespace attnsim
