#include "compiler/lowrank_cascades.h"

#include <limits>
#include <memory>
#include <sstream>

#include "cascade/builtin.h"
#include "cascade/cascade.h"
#include "cascade/lower.h"
#include "cascade/mapping.h"
#include "common/errors.h"
#include "mapper/cascade_search.h"

namespace attnsim {

namespace {

using cascade::Binding;
using cascade::Cascade;
using cascade::CascadePlan;
using cascade::GroupMapping;
using cascade::Mapping;

DramBlock block(int tensor, std::int64_t row0, std::int64_t col0, std::int64_t rows, std::int64_t cols) {
  return {std::uint16_t(tensor), row0, col0, rows, cols};
}
DramBlock block_of(const TensorView& v) { return block(v.tensor, v.row0, v.col0, v.rows, v.cols); }

// Token tile sizes: multiples of the array side (powers of two times it) and, for SRAMs too small for
// those, halvings down to 16; capped at 2048 rows (bigger tiles amortise per-instruction latencies).
std::vector<std::int64_t> token_tiles(const HwConfig& hw) {
  const std::int64_t g = std::max(hw.array.rows, hw.array.cols);
  std::vector<std::int64_t> v;
  for (std::int64_t t = 16; t < g; t *= 2) v.push_back(t);
  for (std::int64_t t = g; t <= 2048; t *= 2) v.push_back(t);
  return v;
}

// Group gi's SRAM bytes under m, the capacity unchecked (max when the mapping breaks another rule).
std::uint64_t group_footprint(const Cascade& c, const Mapping& m, int gi, const HwConfig& hw) {
  CascadePlan p;
  if (!cascade::check_mapping(c, m, hw, std::numeric_limits<std::uint64_t>::max(), &p).empty())
    return std::numeric_limits<std::uint64_t>::max();
  return p.groups[std::size_t(gi)].footprint;
}

// Loop li of group gi: the largest token tile (clamped to the extent) whose group takes at most half
// the SRAM, else the smallest if it fits at all (plan_cascade then names what does not fit).
std::int64_t choose_tile(const Cascade& c, Mapping& m, int gi, int li, const HwConfig& hw, std::uint64_t cap) {
  cascade::Loop& l = m.groups[std::size_t(gi)].loops[std::size_t(li)];
  const std::int64_t ext = c.extent[std::size_t(l.rank)];
  const std::vector<std::int64_t> ladder = token_tiles(hw);
  std::int64_t best = 0;
  for (std::int64_t t : ladder) {
    l.tile = std::min(t, ext);
    if (group_footprint(c, m, gi, hw) <= cap / 2) best = l.tile;
  }
  l.tile = best ? best : std::min(ladder.front(), ext);
  return l.tile;
}

int step_writing(const Cascade& c, const char* name) {
  const int t = c.desc.tensor_index(name);
  const int s = c.producer(t);
  ATTNSIM_ASSERT(s >= 0, std::string("built-in cascade without step ") + name);
  return s;
}

GroupMapping group(const Cascade& c, const char* first, const char* last, std::vector<cascade::Loop> loops) {
  GroupMapping g;
  for (int s = step_writing(c, first); s <= step_writing(c, last); ++s) g.steps.push_back(s);
  g.loops = std::move(loops);
  return g;
}

}  // namespace

bool lowered_as_cascade(AttnVariant v) {
  return v == AttnVariant::Primal || v == AttnVariant::PrimalCausal || v == AttnVariant::LowRankLinear ||
         v == AttnVariant::Linformer;
}

Mapping lowrank_default_mapping(const Cascade& c, AttnVariant v, const HwConfig& hw, std::uint64_t cap,
                                const std::string& name, std::int64_t heads_per_batch) {
  const int m_rank = c.desc.rank_index("m");
  Mapping m = cascade::whole_mapping(c, hw);
  m.source = hw.source + ": /sram: " + name + ": cascade " + c.desc.name + " at its smallest tiles, mapping";
  if (v == AttnVariant::LowRankLinear) {
    m.groups = {group(c, "KpT", "M", {{c.desc.rank_index("p"), 16}}), group(c, "Qp", "O", {{m_rank, 16}})};
    choose_tile(c, m, 0, 0, hw, cap);
  } else if (v == AttnVariant::Linformer) {
    // K~ = E K, V~ = F V: token tiles of E, F, K and V with the heads of a batch interleaved inside, as
    // many as fit, so that each tile of E and F (shared by the heads) is loaded once per chunk. One
    // slot per head for the accumulators K~ and V~ (their store overlaps the next chunk's first tiles
    // only through the E, F, K and V loads, as a hand-written head chunk does).
    m.groups = {group(c, "Kt", "Vt", {{c.desc.rank_index("p"), 16}}), group(c, "S", "O", {{m_rank, 16}})};
    for (const char* t : {"Kt", "Vt"}) m.tensors[std::size_t(c.desc.tensor_index(t))].buffers = 1;
    choose_tile(c, m, 0, 0, hw, cap);
    GroupMapping& g0 = m.groups[0];
    const int most = int(std::min<std::int64_t>(std::max<std::int64_t>(1, heads_per_batch), cascade::kMaxInterleave));
    for (int h = 1; h <= most; ++h) {
      g0.interleave = h;
      if (group_footprint(c, m, 0, hw) > cap) {
        g0.interleave = h - 1;
        break;
      }
    }
    g0.interleave = std::max(1, g0.interleave);
  } else if (v == AttnVariant::Primal) {
    // The samples whole when they fit with their weights, else in chunks (halved) that WeT and WrT sum over.
    const std::int64_t p = c.extent[std::size_t(c.desc.rank_index("j"))];
    m.groups = {group(c, "Xs", "WrT", {}), group(c, "Qn", "O", {{m_rank, 16}})};
    std::int64_t pc = p;
    for (;;) {
      m.groups[0].loops.clear();
      if (pc < p) m.groups[0].loops = {{c.desc.rank_index("j"), pc}};
      if (pc == 1 || group_footprint(c, m, 0, hw) <= cap) break;
      pc = (pc + 1) / 2;
    }
  } else {
    m.groups = {group(c, "Qm", "O", {{m_rank, 16}})};
  }
  choose_tile(c, m, int(m.groups.size()) - 1, 0, hw, cap);
  (void)cascade::plan_cascade(c, m, hw, cap);  // names what does not fit
  return m;
}

namespace {

// Group g's tile of `rank` (its extent when the group does not loop over it).
std::int64_t tile_of(const Cascade& c, const Mapping& m, std::size_t g, const char* rank) {
  const int r = c.desc.rank_index(rank);
  for (const cascade::Loop& l : m.groups[g].loops)
    if (l.rank == r) return l.tile;
  return c.extent[std::size_t(r)];
}

}  // namespace

std::vector<LowRankPhase> lower_lowrank_cascade(const HwConfig& hw, const Graph& graph, const AttentionGroup& grp,
                                                const std::string& name, std::int64_t hpb, const MapperOptions& opt) {
  (void)graph;
  const std::uint64_t cap = std::uint64_t(hw.sram.total_bytes());
  const std::int64_t n = grp.seq_len, d = grp.head_dim, s = grp.rank, p = grp.samples;
  const AttnVariant v = grp.spec.variant;
  const char* stem = v == AttnVariant::Primal         ? "primal"
                     : v == AttnVariant::PrimalCausal ? "primal_causal"
                     : v == AttnVariant::Linformer    ? "linformer"
                                                      : "lowrank_linear";
  auto c = std::make_shared<Cascade>(cascade::bind_cascade(
      cascade::parse_cascade(cascade::builtin_cascade_json(stem), std::string("models/cascades/") + stem + ".json"),
      {{"N", double(n)}, {"d", double(d)}, {"s", double(s)}, {"p", double(std::max<std::int64_t>(p, 1))}}, grp.causal));
  // The mapping: the user's (--mapping FILE), else the mapper's search around the default.
  Mapping m;
  if (opt.fixed && opt.fixed->find(name)) {
    m = fixed_cascade_mapping(*c, hw, cap, *opt.fixed, name);
  } else {
    const Cascade* cp = c.get();
    const DefaultMapping default_of = [cp, v, &hw, &name, hpb](std::uint64_t budget) {
      return lowrank_default_mapping(*cp, v, hw, budget, name, hpb);
    };
    m = search_grouped_cascade(*c, hw, cap, default_of, std::int64_t(grp.heads.size()), opt, name).mapping;
  }
  std::ostringstream global_plan, stream_plan;
  const std::size_t last = m.groups.size() - 1;
  if (v == AttnVariant::Linformer && last > 0) {
    global_plan << "linformer global reductions: K~ = E K, V~ = F V (" << s << "x" << d
                << ") over all N, token tiles of " << tile_of(*c, m, 0, "p") << " rows, " << m.groups[0].interleave
                << " head(s) per pass over E and F";
  } else if (v == AttnVariant::LowRankLinear && last > 0) {
    global_plan << "lowrank_linear global reduction: M = (K W_K)^T V (" << s << "x" << d
                << ") over all N per head, K/V tiles of " << tile_of(*c, m, 0, "p") << " rows";
  } else if (v == AttnVariant::Primal && last > 0) {
    const std::int64_t pc = tile_of(*c, m, 0, "j");
    global_plan << "primal global barrier: " << p << " sampled tokens gathered per head";
    if (pc < p) global_plan << " in chunks of " << pc;
    global_plan << " (X_s " << pc << "x" << d << "), then WeT, WrT (" << s << "x" << d << ") per head";
  }
  const std::int64_t tile = tile_of(*c, m, last, "m");
  if (v == AttnVariant::LowRankLinear)
    stream_plan << "lowrank_linear: token tiles of " << tile << " rows, O = (Q W_Q) M, rank " << s;
  else if (v == AttnVariant::Linformer)
    stream_plan << "linformer: token tiles of " << tile << " rows against K~, V~ of " << s
                << " rows, row softmax over k";
  else
    stream_plan << (v == AttnVariant::PrimalCausal ? "primal causal" : "primal") << ": token tiles of " << tile
                << " rows, rank " << s << (v == AttnVariant::PrimalCausal ? ", prefix means carried across tiles" : "");
  auto plan = std::make_shared<CascadePlan>(cascade::plan_cascade(*c, m, hw, cap));

  // Each (batch b, head h)'s blocks: the head's views, its rows of the per-head weights, the shared Wc
  // halves and bc, and the graph tensors that hold the intermediates crossing the barrier.
  std::vector<Binding> bindings;
  for (std::size_t i = 0; i < grp.heads.size(); ++i) {
    const AttentionGroup::Head& hv = grp.heads[i];
    const std::int64_t b = std::int64_t(i) / hpb, h = std::int64_t(i) % hpb, row = std::int64_t(i) * s;
    Binding bd;
    bd.blocks.resize(c->desc.tensors.size());
    auto bind = [&](const char* t, const DramBlock& blk) {
      const int k = c->desc.tensor_index(t);
      ATTNSIM_ASSERT(k >= 0, std::string("built-in cascade without tensor ") + t);
      bd.blocks[std::size_t(k)] = blk;
    };
    bind("Q", block_of(hv.q));
    bind("K", block_of(hv.k));
    bind("O", block_of(hv.o));
    if (v == AttnVariant::Linformer) {
      // E and F (k x N) are one block every head of every batch reads; K~ and V~ (k x d) per head.
      bind("V", block_of(hv.v));
      bind("E", block(grp.w_e, 0, 0, s, n));
      bind("F", block(grp.w_r, 0, 0, s, n));
      bind("Kt", block(grp.e_weights, row, 0, s, d));
      bind("Vt", block(grp.r_weights, row, 0, s, d));
    } else if (v == AttnVariant::LowRankLinear) {
      bind("V", block_of(hv.v));
      bind("WQ", block(grp.w_q, h * d, 0, d, s));
      bind("WKT", block(grp.w_kt, h * s, 0, s, d));
      bind("M", block(grp.reduced, row, 0, s, d));
    } else {
      bind("WcE", block(grp.w_c, 0, 0, s, d));
      bind("WcR", block(grp.w_c, s, 0, s, d));
      bind("bc", block(grp.b_c, 0, 0, 1, d));
      if (v == AttnVariant::Primal) {
        bind("X", block(grp.source, b * n, h * d, n, d));
        bind("WeS", block(grp.w_e, h * s, 0, s, p));
        bind("WrS", block(grp.w_r, h * s, 0, s, p));
        bind("WeT", block(grp.e_weights, row, 0, s, d));
        bind("WrT", block(grp.r_weights, row, 0, s, d));
      } else {
        bind("WeT", block(grp.w_e, h * s, 0, s, d));
        bind("WrT", block(grp.w_r, h * s, 0, s, d));
      }
    }
    bindings.push_back(std::move(bd));
  }
  for (int t : plan->spilled)
    ATTNSIM_ASSERT(bindings.front().blocks[std::size_t(t)].rows > 0,
                   std::string(stem) + ": the mapping spills " + c->tensor(t).name + ", which has no DRAM block");

  // Report classes: the work before the barrier is Global, the per-token work LowRank (Linformer's
  // token stream is softmax attention against K~ and V~: QK, Softmax, PV as the vanilla variants).
  auto classes = std::make_shared<std::vector<OpClass>>(
      v == AttnVariant::Linformer ? cascade::default_classes(*c) : std::vector<OpClass>(c->desc.steps.size(), OpClass::LowRank));
  if (m.groups.size() > 1)
    for (int st : m.groups[0].steps) (*classes)[std::size_t(st)] = OpClass::Global;
  auto shared_bindings = std::make_shared<std::vector<Binding>>(std::move(bindings));
  const std::string how = cascade::describe(*c, m);
  std::vector<LowRankPhase> phases;
  const HwConfig* hwp = &hw;
  for (std::size_t g = 0; g < m.groups.size(); ++g) {
    const bool global = m.groups.size() > 1 && g == 0;
    LowRankPhase ph;
    ph.name = global ? name + ".global" : name;
    ph.cls = global ? OpClass::Global : v == AttnVariant::Linformer ? OpClass::QK : OpClass::LowRank;
    ph.plan = (global ? global_plan.str() : stream_plan.str()) + "; " + how;
    if (g + 1 == m.groups.size()) ph.mapping = cascade_op_mapping(*c, m);  // the op's name is the last phase's
    ph.buffers = cascade::group_buffers(*plan, int(g), 0);
    ph.emit = [hwp, c, plan, shared_bindings, classes, g](Emitter& em) {
      cascade::emit_group(*hwp, *plan, int(g), em, *shared_bindings, *classes);
    };
    phases.push_back(std::move(ph));
  }
  return phases;
}

}  // namespace attnsim
