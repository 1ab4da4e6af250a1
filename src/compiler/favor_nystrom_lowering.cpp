#include "compiler/favor_nystrom_lowering.h"

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <sstream>

#include "cascade/builtin.h"
#include "cascade/lower.h"
#include "common/errors.h"
#include "mapper/cascade_search.h"

namespace attnsim {

using cascade::Cascade;
using cascade::CascadePlan;
using cascade::Mapping;

const Json& performer_cascade_json() { return cascade::builtin_cascade_json("performer"); }
const Json& nystromformer_cascade_json() { return cascade::builtin_cascade_json("nystromformer"); }

namespace {

bool is_performer(const Cascade& c) { return c.desc.name == "performer"; }

int step_writing(const Cascade& c, const char* out) {
  for (std::size_t s = 0; s < c.desc.steps.size(); ++s)
    if (c.tensor(c.step(int(s)).out).name == out) return int(s);
  throw InternalError(std::string("cascade ") + c.desc.name + ": no step writes " + out);
}

// The groups (outputs of their first and last steps) and the rank each one tiles or streams.
struct GroupShape {
  const char* first;
  const char* last;
  std::vector<const char*> loops, streams;
};

std::vector<GroupShape> shapes_of(const Cascade& c) {
  if (is_performer(c)) return {{"KwT", "z", {"p"}, {}}, {"Qw", "O", {"m"}, {}}};
  return {{"Qs", "Kl", {}, {"m", "p"}}, {"SB", "W", {"p"}, {}}, {"S", "O", {"m"}, {}}};
}

// Sets every token tile of group g to min(t, the rank's extent).
void set_tile(const Cascade& c, const GroupShape& sh, cascade::GroupMapping& gm, std::int64_t t) {
  gm.loops.clear();
  gm.stream.clear();
  for (const char* r : sh.loops) {
    const int ri = c.desc.rank_index(r);
    gm.loops.push_back({ri, std::min(t, c.extent[std::size_t(ri)])});
  }
  for (const char* r : sh.streams) {
    const int ri = c.desc.rank_index(r);
    gm.stream.push_back({ri, std::min(t, c.extent[std::size_t(ri)])});
  }
}

}  // namespace

Mapping favor_nystrom_default_mapping(const Cascade& c, const HwConfig& hw, std::uint64_t capacity,
                                      const std::string& what) {
  Mapping m = cascade::whole_mapping(c, hw);
  m.source = "default mapping of " + c.desc.name;
  const std::vector<GroupShape> shapes = shapes_of(c);
  m.groups.assign(shapes.size(), {});
  for (std::size_t g = 0; g < shapes.size(); ++g) {
    for (int s = step_writing(c, shapes[g].first); s <= step_writing(c, shapes[g].last); ++s)
      m.groups[g].steps.push_back(s);
  }
  // One slot for a tensor whose tile never changes within a head (no token rank, no loop over it).
  for (std::size_t t = 0; t < c.desc.tensors.size(); ++t) {
    bool tokens = false;
    for (int r : c.tensor(int(t)).ranks) {
      const std::string& n = c.desc.ranks[std::size_t(r)].name;
      tokens |= n == "m" || n == "p";
    }
    m.tensors[t].buffers = tokens ? 2 : 1;
  }
  // Two slots where the overlap of consecutive tiles needs them: the query landmarks read ahead by
  // BV's scores and by A's, M and z, which successive heads accumulate into.
  for (const char* name : {"Ql", "M", "z"}) {
    const int t = c.desc.tensor_index(name);
    if (t >= 0) m.tensors[std::size_t(t)].buffers = 2;
  }
  // Token tiles as the hand-written planners chose them (choose_bt): 16, 32, ... below the array
  // side, then the side doubling up to 2048.
  const std::int64_t side = std::max(hw.array.rows, hw.array.cols);
  std::vector<std::int64_t> tiles;
  for (std::int64_t t = 16; t < side; t *= 2) tiles.push_back(t);
  for (std::int64_t t = side; t <= 2048; t *= 2) tiles.push_back(t);
  for (std::size_t g = 0; g < shapes.size(); ++g) set_tile(c, shapes[g], m.groups[g], tiles.front());
  constexpr std::uint64_t kUnbounded = std::numeric_limits<std::uint64_t>::max();
  for (std::size_t g = 0; g < shapes.size(); ++g) {
    auto footprint = [&](std::int64_t t) -> std::uint64_t {
      set_tile(c, shapes[g], m.groups[g], t);
      CascadePlan p;
      const std::vector<std::string> problems = cascade::check_mapping(c, m, hw, kUnbounded, &p);
      if (!problems.empty()) throw UserError(problems);
      return p.groups[g].footprint;
    };
    // A group with an online softmax (nystromformer's BV) is a flash kernel: like plan_flash, its key
    // tile may fill the whole SRAM (fewer, larger tiles: fewer rescales of the accumulator).
    bool online = false;
    for (int st : m.groups[g].steps)
      for (const char* r : shapes[g].loops)
        online |= c.step(st).kind == cascade::StepKind::Softmax && c.step(st).over == c.desc.rank_index(r);
    const std::uint64_t budget = online ? capacity : capacity / 2;
    std::int64_t best = 0;
    for (std::int64_t t : tiles)
      if (footprint(t) <= budget) best = t;
    if (!best && footprint(tiles.front()) <= capacity) best = tiles.front();
    if (!best) {
      std::vector<std::string> problems;
      cascade::check_mapping(c, m, hw, capacity, nullptr).swap(problems);
      std::vector<std::string> msg;
      for (const std::string& p : problems)
        msg.push_back(hw.source + ": /sram: " + what + ": " + c.desc.name + "'s smallest token tiles (" +
                      std::to_string(tiles.front()) + " rows) do not fit: " + p);
      throw UserError(msg);
    }
    set_tile(c, shapes[g], m.groups[g], best);
  }
  return m;
}

std::vector<LowRankPhase> lower_favor_nystrom_group(const HwConfig& hw, const AttentionGroup& grp,
                                                    const std::string& name, const MapperOptions& opt) {
  const bool performer = grp.spec.variant == AttnVariant::Performer;
  ATTNSIM_ASSERT(performer || grp.spec.variant == AttnVariant::Nystromformer, "not performer or nystromformer");
  const std::int64_t n = grp.seq_len, d = grp.head_dim, s = grp.rank;
  auto c = std::make_shared<Cascade>(
      cascade::bind_cascade(cascade::parse_cascade(performer ? performer_cascade_json() : nystromformer_cascade_json(),
                                                   performer ? "performer (built in)" : "nystromformer (built in)"),
                            {{"N", double(n)}, {"d", double(d)}, {"s", double(s)}}, false));
  const std::uint64_t capacity = std::uint64_t(hw.sram.total_bytes());
  // The user's mapping (--mapping FILE), else the mapper's search around the default.
  Mapping m;
  if (opt.fixed && opt.fixed->find(name)) {
    m = fixed_cascade_mapping(*c, hw, capacity, *opt.fixed, name);
  } else {
    const Cascade* cp = c.get();
    const DefaultMapping default_of = [cp, &hw, &name](std::uint64_t budget) {
      return favor_nystrom_default_mapping(*cp, hw, budget, name);
    };
    m = search_grouped_cascade(*c, hw, capacity, default_of, std::int64_t(grp.heads.size()), opt, name).mapping;
  }
  auto plan = std::make_shared<CascadePlan>(cascade::plan_cascade(*c, m, hw, capacity));
  // Per (batch, head): the DRAM block of every cascade tensor that is not on chip only.
  std::vector<cascade::Binding> bindings;
  auto whole = [](int t, std::int64_t row0, std::int64_t rows, std::int64_t cols) {
    return DramBlock{std::uint16_t(t), row0, 0, rows, cols};
  };
  auto view = [](const TensorView& v) { return DramBlock{std::uint16_t(v.tensor), v.row0, v.col0, v.rows, v.cols}; };
  for (std::size_t h = 0; h < grp.heads.size(); ++h) {
    const AttentionGroup::Head& hv = grp.heads[h];
    const std::int64_t row = std::int64_t(h) * s;
    std::map<std::string, DramBlock> blocks = {
        {"Q", view(hv.q)}, {"K", view(hv.k)}, {"V", view(hv.v)}, {"O", view(hv.o)}};
    if (performer) {
      blocks["W"] = whole(grp.w_feat, 0, d, s);
      blocks["WT"] = whole(grp.w_feat_t, 0, s, d);
      blocks["ones"] = whole(grp.ones, 0, n, 1);
      blocks["M"] = whole(grp.reduced, row, s, d);
      blocks["z"] = whole(grp.normaliser, row, s, 1);
    } else {
      blocks["I"] = whole(grp.ident, 0, s, s);
      blocks["Ql"] = whole(grp.land_q, row, s, d);
      blocks["Kl"] = whole(grp.e_weights, row, s, d);
      blocks["W"] = whole(grp.r_weights, row, s, d);
    }
    cascade::Binding b;
    b.blocks.resize(c->desc.tensors.size());
    for (std::size_t t = 0; t < c->desc.tensors.size(); ++t) {
      const cascade::TensorDecl& td = c->desc.tensors[t];
      const bool spilled = std::find(plan->spilled.begin(), plan->spilled.end(), int(t)) != plan->spilled.end();
      if (td.role == cascade::TensorRole::Intermediate && !spilled) continue;
      auto it = blocks.find(td.name);
      ATTNSIM_ASSERT(it != blocks.end(), c->desc.name + ": no DRAM tensor for " + td.name);
      ATTNSIM_ASSERT(it->second.rows == c->rows(int(t)) && it->second.cols == c->cols(int(t)),
                     c->desc.name + ": the DRAM block of " + td.name + " has another shape");
      b.blocks[t] = it->second;
    }
    bindings.push_back(std::move(b));
  }
  // What the report counts: the groups before the token stream are the variant's global work.
  std::vector<OpClass> classes = cascade::default_classes(*c);
  const std::size_t last = plan->groups.size() - 1;
  for (std::size_t g = 0; g < plan->groups.size(); ++g)
    for (int st : plan->groups[g].map.steps)
      if (g < last)
        classes[std::size_t(st)] = OpClass::Global;
      else if (performer)
        classes[std::size_t(st)] = OpClass::LowRank;
  auto shared_classes = std::make_shared<const std::vector<OpClass>>(std::move(classes));
  std::vector<LowRankPhase> phases;
  for (std::size_t g = 0; g < plan->groups.size(); ++g) {
    LowRankPhase ph;
    ph.name = g == last ? name : g == 0 ? name + ".global" : name + ".global." + std::to_string(g);
    ph.cls = g < last ? OpClass::Global : performer ? OpClass::LowRank : OpClass::QK;
    std::ostringstream os;
    os << cascade::describe(*c, m) << " (group " << g << ")";
    ph.plan = os.str();
    ph.buffers = cascade::group_buffers(*plan, int(g), 0);
    if (g == last) ph.mapping = cascade_op_mapping(*c, m);  // the op's name is the last phase's
    const HwConfig* hwp = &hw;
    ph.emit = [hwp, c, plan, bindings, shared_classes, g](Emitter& em) {
      cascade::emit_group(*hwp, *plan, int(g), em, bindings, *shared_classes);
    };
    phases.push_back(std::move(ph));
  }
  return phases;
}

}  // namespace attnsim
