#include "cascade/mapping.h"

#include <algorithm>
#include <iterator>
#include <sstream>

#include "common/errors.h"
#include "config/schema_recorder.h"

namespace attnsim::cascade {

namespace {

constexpr int kStatsCols = 3;  // m, l, alpha (SmOp::OnlineStep)
constexpr int kStatsBytes = 4;

std::uint64_t align64(std::uint64_t x) { return (x + 63) / 64 * 64; }

bool has_rank(const Cascade& c, int t, int r) {
  const auto& rs = c.tensor(t).ranks;
  return std::find(rs.begin(), rs.end(), r) != rs.end();
}

std::string rank_name(const Cascade& c, int r) { return c.desc.ranks[std::size_t(r)].name; }
std::string step_name(const Cascade& c, int s) { return c.tensor(c.step(s).out).name; }

}  // namespace

const char* to_string(Unit u) {
  switch (u) {
    case Unit::Array:
      return "array";
    case Unit::Vector:
      return "vector";
    case Unit::Softmax:
      return "softmax";
    case Unit::Load:
      return "load";
  }
  return "?";
}

Unit unit_of(const Cascade& c, int step, const HwConfig& hw) {
  switch (c.step(step).kind) {
    case StepKind::Contract:
    case StepKind::Pinv:  // its GEMMs; its vector steps run between them
      return Unit::Array;
    case StepKind::Softmax:
      return hw.softmax.present ? Unit::Softmax : Unit::Vector;
    case StepKind::Gather:
      return Unit::Load;
    default:
      return Unit::Vector;
  }
}

std::string buffer_name(const Cascade& c, const BufferPlan& b) {
  if (b.tensor >= 0) return c.tensor(b.tensor).name;
  return step_name(c, -1 - b.tensor) + "." + (b.scratch ? b.scratch : "stats");
}

std::uint64_t BufferPlan::slot_bytes() const {
  return std::uint64_t(rows) * std::uint64_t(ld ? ld : cols) * std::uint64_t(elem_bytes) + hosted_bytes;
}
std::uint64_t BufferPlan::span_bytes() const {
  return copies > 1 ? std::uint64_t(copies - 1) * align64(slot_bytes()) + slot_bytes() : slot_bytes();
}
std::uint64_t BufferPlan::slot_addr(int physical) const {
  return addr[physical % depth] + std::uint64_t(physical / depth) * align64(slot_bytes());
}

namespace {

// Split-K (mapping.h, splits): the group's online softmax, its key loop innermost, every step over
// that rank, no causal mask; the accumulator and the statistics get a slot per run.
template <class Problem>
void check_splits(const Cascade& c, const Mapping& m, std::size_t g, GroupPlan& gpn, Problem& problem) {
  const GroupMapping& gm = gpn.map;
  if (gm.splits == 1) return;
  const std::string sp = "/groups/" + std::to_string(g) + "/splits";
  if (gm.splits < 1 || gm.splits > kMaxSplits) {
    problem(sp, "split-K runs are 1 to " + std::to_string(kMaxSplits) + ", got " + std::to_string(gm.splits));
    return;
  }
  int sm = -1, count = 0;
  for (int s : gm.steps)
    if (gpn.online[std::size_t(s)]) sm = s, ++count;
  if (count != 1) {
    problem(sp, "split-K splits the key loop of an online softmax: the group needs exactly one (looping over "
                "its rank), it has " + std::to_string(count));
    return;
  }
  const int r = c.step(sm).over, d = gpn.loop_depth[r];
  if (d + 1 != int(gm.loops.size()))
    problem(sp, "split-K needs the loop over " + rank_name(c, r) + " innermost");
  if (c.causal[std::size_t(sm)])
    problem(sp, "split-K is for a softmax without a causal mask (" + step_name(c, sm) + " is causal)");
  for (int s : gm.steps) {
    const std::vector<int> rs = c.step_ranks(s);
    if (std::find(rs.begin(), rs.end(), r) == rs.end())
      problem(sp, "split-K needs every step of the group over " + rank_name(c, r) + ", not " + step_name(c, s));
  }
  const std::int64_t tiles = (c.extent[std::size_t(r)] + gm.loops[std::size_t(d)].tile - 1) / gm.loops[std::size_t(d)].tile;
  if (gm.splits > tiles)
    problem(sp, std::to_string(gm.splits) + " runs need at least as many tiles of " + rank_name(c, r) + ", there are " +
                    std::to_string(tiles));
  int out = -1;
  for (int s : gm.steps)
    if (gpn.online_of[std::size_t(s)] == sm) out = c.step(s).out;
  if (out < 0) return;  // reported above (the online softmax's reader)
  if (m.tensors[std::size_t(out)].at[0] >= 0)
    problem("/placement/" + c.tensor(out).name + "/at",
            "split-K keeps a slot of " + c.tensor(out).name + " per run: place it by bank, or let it pack");
  gpn.split_step = sm;
  gpn.split_rank = r;
  // Issued two points ahead (mapping.h: ahead), a query tile's runs combine after the next tile's first
  // step, which takes its own slots meanwhile: two a run.
  const int per_run = gm.ahead > 1 ? 2 : 1;
  gpn.buffers[std::size_t(gpn.buffer_of[std::size_t(out)])].depth = gm.splits * per_run;
  gpn.buffers[std::size_t(gpn.stats_buffer[std::size_t(sm)])].depth = gm.splits * per_run;
}

}  // namespace

std::vector<std::string> check_mapping(const Cascade& c, const Mapping& m, const HwConfig& hw, std::uint64_t capacity,
                                       CascadePlan* out) {
  std::vector<std::string> problems;
  auto problem = [&](const std::string& path, const std::string& rule) {
    problems.push_back(m.source + ": " + path + ": " + rule);
  };
  const int nsteps = int(c.desc.steps.size()), ntensors = int(c.desc.tensors.size()), nranks = int(c.num_ranks());
  if (int(m.tensors.size()) != ntensors || int(m.units.size()) != nsteps)
    throw InternalError("mapping built for another cascade");
  CascadePlan plan;
  plan.cascade = &c;
  // Groups: a partition of the steps into consecutive runs, in order.
  std::vector<int> group_of(std::size_t(nsteps), -1);
  int next = 0;
  for (std::size_t g = 0; g < m.groups.size(); ++g) {
    for (int s : m.groups[g].steps) {
      if (s != next) {
        problem("/groups/" + std::to_string(g) + "/steps",
                "groups take the steps in cascade order, each once: expected " +
                    (next < nsteps ? step_name(c, next) : std::string("no more steps")) + ", got " +
                    (s >= 0 && s < nsteps ? step_name(c, s) : std::to_string(s)));
        return problems;
      }
      group_of[std::size_t(s)] = int(g);
      ++next;
    }
    if (m.groups[g].steps.empty())
      problem("/groups/" + std::to_string(g) + "/steps", "a group holds at least one step");
  }
  if (next != nsteps) {
    problem("/groups", "steps from " + step_name(c, next) + " on belong to no group");
    return problems;
  }
  for (int s = 0; s < nsteps; ++s)
    if (m.units[std::size_t(s)] != unit_of(c, s, hw))
      problem("/units/" + step_name(c, s), std::string("a ") + to_string(c.step(s).kind) + " runs on the " +
                                               to_string(unit_of(c, s, hw)) + " unit of this hardware, not the " +
                                               to_string(m.units[std::size_t(s)]));
  for (int t = 0; t < ntensors; ++t) {
    const TensorMapping& tm = m.tensors[std::size_t(t)];
    if (tm.buffers < 1 || tm.buffers > kMaxSlots)
      problem("/buffers/" + c.tensor(t).name, "buffering depth is 1 to " + std::to_string(kMaxSlots));
    if (tm.bank >= hw.sram.banks)
      problem("/placement/" + c.tensor(t).name + "/bank", "the SRAM has " + std::to_string(hw.sram.banks) + " banks");
  }
  // Where each tensor is produced and read.
  std::vector<int> prod_group(std::size_t(ntensors), -1);
  std::vector<std::vector<int>> readers(static_cast<std::size_t>(ntensors));
  for (int s = 0; s < nsteps; ++s) {
    prod_group[std::size_t(c.step(s).out)] = group_of[std::size_t(s)];
    for (int t : c.step(s).in) readers[std::size_t(t)].push_back(s);
  }
  // Causal skipping across groups (lower.h): the cascade's causal softmax P = softmax(S) over ranks (m, p)
  // where every step over both ranks is S's producer, the softmax, or a contraction over p reading P
  // (masked entries of S are never read, those of P are zero and add nothing), S and P intermediates read
  // by those steps only, and no group over both ranks interleaves instances, streams m, keeps S or P
  // resident, or keeps a tensor over p resident with p whole.
  const int xmask = [&] {
    int sm = -1;
    for (int s = 0; s < nsteps && sm < 0; ++s)
      if (c.step(s).kind == StepKind::Softmax && c.causal[std::size_t(s)]) sm = s;
    if (sm < 0) return -1;
    const int S = c.step(sm).in[0], P = c.step(sm).out;
    const auto& sr = c.tensor(S).ranks;
    if (sr.size() != 2 || sr[0] == sr[1] || c.step(sm).over != sr[1]) return -1;
    const int mr = sr[0], pr = sr[1];
    if (c.tensor(S).role != TensorRole::Intermediate || c.tensor(P).role != TensorRole::Intermediate) return -1;
    const int ps = c.producer(S);
    if (ps < 0 || c.step(ps).kind != StepKind::Contract) return -1;
    auto both = [&](int s) {
      const std::vector<int> r = c.step_ranks(s);
      return std::find(r.begin(), r.end(), mr) != r.end() && std::find(r.begin(), r.end(), pr) != r.end();
    };
    auto pv = [&](int s) {
      const StepDecl& st = c.step(s);
      return st.kind == StepKind::Contract && st.in.size() == 2 && st.in[0] == P && st.over == pr;
    };
    for (int s = 0; s < nsteps; ++s) {
      if (both(s) && s != ps && s != sm && !pv(s)) return -1;
      for (int t : c.step(s).in)
        if ((t == S && s != sm) || (t == P && !pv(s))) return -1;
    }
    for (const GroupMapping& gm : m.groups) {
      bool touches = false;
      for (int s : gm.steps) touches |= both(s);
      if (!touches) continue;
      if (gm.interleave > 1) return -1;
      for (const Loop& l : gm.stream)
        if (l.rank == mr) return -1;
      // A resident tensor is loaded in cells of the group's tiles: a whole key rank cut at each row tile's
      // last query would fall off them.
      bool p_whole = true;
      for (const Loop& l : gm.loops) p_whole &= l.rank != pr;
      for (const Loop& l : gm.stream) p_whole &= l.rank != pr;
      for (int t : gm.resident)
        if (t == S || t == P || (p_whole && has_rank(c, t, pr))) return -1;
    }
    return sm;
  }();
  const std::uint64_t ob = std::uint64_t(hw.array.operand_bytes), acc = std::uint64_t(hw.array.accumulator_bytes);
  for (std::size_t g = 0; g < m.groups.size(); ++g) {
    const std::string gp = "/groups/" + std::to_string(g);
    GroupPlan gpn;
    gpn.map = m.groups[g];
    const GroupMapping& gm = gpn.map;
    std::fill(std::begin(gpn.loop_depth), std::end(gpn.loop_depth), -1);
    for (std::size_t i = 0; i < gm.loops.size(); ++i) {
      const Loop& l = gm.loops[i];
      const std::string lp = gp + "/loops/" + std::to_string(i);
      if (l.rank < 0 || l.rank >= nranks) {
        problem(lp + "/rank", "no such rank");
        continue;
      }
      if (gpn.loop_depth[l.rank] >= 0) problem(lp + "/rank", "rank " + rank_name(c, l.rank) + " is looped twice");
      gpn.loop_depth[l.rank] = int(i);
      if (l.tile < 1 || l.tile > c.extent[std::size_t(l.rank)])
        problem(lp + "/tile", "a tile of " + rank_name(c, l.rank) + " is 1 to its extent " +
                                  std::to_string(c.extent[std::size_t(l.rank)]) + ", got " + std::to_string(l.tile));
    }
    for (const Loop& l : gm.stream) {
      const std::string sp = gp + "/stream/" + (l.rank >= 0 && l.rank < nranks ? rank_name(c, l.rank) : "?");
      if (l.rank < 0 || l.rank >= nranks) {
        problem(sp, "no such rank");
        continue;
      }
      if (gpn.loop_depth[l.rank] >= 0) problem(sp, "a rank the group loops over is not streamed as well");
      if (l.tile < 1 || l.tile > c.extent[std::size_t(l.rank)])
        problem(sp, "a chunk is 1 to the extent " + std::to_string(c.extent[std::size_t(l.rank)]));
      gpn.stream_chunk[l.rank] = l.tile;
    }
    if (gm.ahead < 1 || gm.ahead > kMaxAhead)
      problem(gp + "/ahead", "points ahead are 1 to " + std::to_string(kMaxAhead) + ", got " + std::to_string(gm.ahead));
    if (gm.interleave < 1 || gm.interleave > kMaxInterleave)
      problem(gp + "/interleave", "instances per pass are 1 to " + std::to_string(kMaxInterleave) + ", got " +
                                      std::to_string(gm.interleave));
    if (gm.lead < 0 || (gm.lead > 0 && (gm.loops.size() < 2 || gm.splits != 1 || gm.interleave != 1 ||
                                          m.groups.size() != 1)))
      problem(gp + "/lead", "a lead block needs two loops or more, one group, no splits and no interleave");
    if (!problems.empty()) return problems;
    // Tensors in DRAM here: inputs, outputs, and intermediates crossing a group boundary.
    gpn.dram.assign(std::size_t(ntensors), 0);
    gpn.buffer_of.assign(std::size_t(ntensors), -1);
    gpn.stats_buffer.assign(std::size_t(nsteps), -1);
    gpn.online.assign(std::size_t(nsteps), 0);
    gpn.online_of.assign(std::size_t(nsteps), -1);
    gpn.at_last.assign(std::size_t(nsteps), 0);
    gpn.lookahead.assign(std::size_t(nsteps), 0);
    std::vector<char> used(std::size_t(ntensors), 0), written(std::size_t(ntensors), 0);
    for (int s : gm.steps) {
      used[std::size_t(c.step(s).out)] = written[std::size_t(c.step(s).out)] = 1;
      for (int t : c.step(s).in) used[std::size_t(t)] = 1;
    }
    for (int t = 0; t < ntensors; ++t) {
      if (!used[std::size_t(t)]) continue;
      const TensorRole role = c.tensor(t).role;
      bool later_reader = false;
      for (int s : readers[std::size_t(t)]) later_reader |= group_of[std::size_t(s)] > int(g);
      gpn.dram[std::size_t(t)] = role != TensorRole::Intermediate || prod_group[std::size_t(t)] != int(g) ||
                                 (written[std::size_t(t)] && later_reader);
      if (role == TensorRole::Intermediate && gpn.dram[std::size_t(t)] && written[std::size_t(t)])
        plan.spilled.push_back(t);
    }
    for (std::size_t i = 0; i < gm.loops.size(); ++i) {
      bool any = false;
      for (int s : gm.steps)
        for (int r : c.step_ranks(s)) any |= r == gm.loops[i].rank;
      if (!any)
        problem(gp + "/loops/" + std::to_string(i), "no step of the group uses rank " + rank_name(c, gm.loops[i].rank));
    }
    // Ranks a step needs whole (Performer's and Nystromformer's steps): neither looped nor streamed.
    auto whole_ranks = [&](int s, const std::vector<int>& ranks, const char* why) {
      for (int r : ranks)
        if (gpn.loop_depth[r] >= 0 || gpn.stream_chunk[r])
          problem(gp + (gpn.loop_depth[r] >= 0 ? "/loops/" + std::to_string(gpn.loop_depth[r])
                                               : "/stream/" + rank_name(c, r)),
                  step_name(c, s) + " needs " + why + " on chip: keep rank " + rank_name(c, r) + " whole");
    };
    // Results summed over a loop: bit i of reduced[t] = tensor t depends on a sum over loop i.
    std::vector<std::uint32_t> reduced(std::size_t(ntensors), 0);
    // Bit i of open_sum[t]: t is a contraction's sum over loop i with loops over its ranks inside (its tiles open).
    std::vector<std::uint32_t> open_sum(std::size_t(ntensors), 0);
    for (int s : gm.steps) {
      const StepDecl& st = c.step(s);
      const std::string spath = "/steps/" + step_name(c, s);
      const std::vector<int> ranks = c.step_ranks(s);
      std::uint32_t in_mask = 0, own = 0, in_open = 0;
      for (int t : st.in)
        if (!gpn.dram[std::size_t(t)] || written[std::size_t(t)])
          in_mask |= reduced[std::size_t(t)], in_open |= open_sum[std::size_t(t)];
      for (int r : ranks)
        if (gpn.loop_depth[r] >= 0) own |= 1u << gpn.loop_depth[r];
      // Loops nested inside the step's innermost own loop: it runs once per their sweep (at the last
      // index when it reads a sum over them). Enclosing loops it does not use make it run again.
      int deepest = -1;
      for (int i = 0; i < int(gm.loops.size()); ++i)
        if (own >> i & 1u) deepest = i;
      // A sum over an enclosing loop whose tiles stay open over the loops inside (the contraction's rule
      // below) is read at that loop's last index, tile by tile of the loops inside.
      gpn.at_last[std::size_t(s)] = in_mask & ~own;
      for (int i = 0; i < deepest; ++i)
        if ((in_mask & ~own & ~in_open) >> i & 1u)
          problem(gp + "/loops/" + std::to_string(i), step_name(c, s) + " reads a sum over " +
                                                          rank_name(c, gm.loops[std::size_t(i)].rank) +
                                                          " from inside that loop; loop over " +
                                                          rank_name(c, gm.loops[std::size_t(i)].rank) + " innermost");
      int streamed = 0;
      for (int r : ranks) streamed += gpn.stream_chunk[r] > 0;
      if (streamed > 1)
        problem(gp + "/stream", "step " + step_name(c, s) + " runs over two streamed ranks; stream one");
      reduced[std::size_t(st.out)] = in_mask;
      const bool over_looped = st.over >= 0 && gpn.loop_depth[st.over] >= 0;
      const bool row_op = row_wise(st);
      // The lead block walks every loop inside the summed one: its output tiles all stay open, each in
      // a slot of the output's buffer, and both operands come from DRAM.
      auto check_lead = [&]() {
        const int d = gpn.loop_depth[st.over];
        std::int64_t open = 1;
        for (std::size_t i = 0; i < gm.loops.size(); ++i)
          if (int(i) != d && has_rank(c, st.out, gm.loops[i].rank))
            open *= i == 0 ? std::min<std::int64_t>(gm.lead, (c.extent[std::size_t(gm.loops[0].rank)] +
                                                              gm.loops[0].tile - 1) / gm.loops[0].tile)
                           : (c.extent[std::size_t(gm.loops[i].rank)] + gm.loops[i].tile - 1) / gm.loops[i].tile;
        bool operands_in = st.in.size() == 2;
        for (int t : st.in) operands_in &= !written[std::size_t(t)];
        if (open > m.tensors[std::size_t(st.out)].buffers || !operands_in)
          problem(gp + "/lead", "the lead block keeps " + std::to_string(open) + " tiles of " +
                                    c.tensor(st.out).name + " open, which needs a buffer of as many slots (it has " +
                                    std::to_string(m.tensors[std::size_t(st.out)].buffers) +
                                    ") and a contraction of two operands read from DRAM");
      };
      switch (st.kind) {
        case StepKind::Contract:
          if (over_looped && gm.lead > 0) check_lead();
          if (over_looped) {
            const int d = gpn.loop_depth[st.over];
            reduced[std::size_t(st.out)] |= 1u << d;
            // Loops over the output's ranks inside the summed loop keep each of their tiles open across
            // it (a GEMM with k in the middle: a row of C tiles accumulating at once): the output's
            // buffer takes a slot per open tile, a plain contraction of the group on chip.
            std::int64_t open = 1;
            std::string inside;
            for (std::size_t i = std::size_t(d) + 1; i < gm.loops.size(); ++i)
              if (has_rank(c, st.out, gm.loops[i].rank)) {
                open *= (c.extent[std::size_t(gm.loops[i].rank)] + gm.loops[i].tile - 1) / gm.loops[i].tile;
                inside = rank_name(c, gm.loops[i].rank);
              }
            if (open > 1) {
              const int slots = m.tensors[std::size_t(st.out)].buffers;
              bool operands_in = st.in.size() == 2;  // not computed in the group (an online softmax's P)
              for (int t : st.in) operands_in &= !written[std::size_t(t)];
              if (open <= slots && operands_in && gm.splits == 1 && m.groups.size() == 1)
                open_sum[std::size_t(st.out)] |= 1u << d;
              else
                problem(gp + "/loops/" + std::to_string(d),
                        "the loop over " + inside + " is inside the loop over " + rank_name(c, st.over) + ", which " +
                            step_name(c, s) + " sums over: its " + std::to_string(open) +
                            " tiles stay open, which needs a buffer of as many slots (" +
                            c.tensor(st.out).name + " has " + std::to_string(slots) +
                            "), a contraction of two operands read from DRAM and one group; or loop over the summed "
                            "rank inside");
            }
          }
          break;
        case StepKind::Softmax:
          if (over_looped) {
            gpn.online[std::size_t(s)] = 1;
            const auto& rd = readers[std::size_t(st.out)];
            const bool ok = c.tensor(st.out).role == TensorRole::Intermediate && rd.size() == 1 &&
                            group_of[std::size_t(rd[0])] == int(g) && c.step(rd[0]).kind == StepKind::Contract &&
                            c.step(rd[0]).over == st.over && c.step(rd[0]).in[0] == st.out &&
                            c.step(rd[0]).in.size() == 2;
            if (!ok)
              problem(gp + "/loops/" + std::to_string(gpn.loop_depth[st.over]),
                      "looping over " + rank_name(c, st.over) + " makes softmax " + step_name(c, s) +
                          " online, which needs its only reader to be a contraction of the group over " +
                          rank_name(c, st.over) + " (O = P V); keep " + rank_name(c, st.over) + " whole instead");
            else
              gpn.online_of[std::size_t(rd[0])] = s;
            // The running max and sum are kept per row tile across the loop: the rows may not be streamed.
            const int row = c.tensor(st.in[0]).ranks[0];
            if (gpn.stream_chunk[row])
              problem(gp + "/stream/" + rank_name(c, row),
                      "online softmax " + step_name(c, s) + " keeps its running statistics per tile of " +
                          rank_name(c, row) + "; loop over " + rank_name(c, row) + " instead of streaming it");
          }
          break;
        // ---- Performer and Nystromformer steps ----
        case StepKind::SegmentMean:
          // A sum over the input's rows, like a contraction's; the segments stay whole.
          if (over_looped && gm.lead > 0) check_lead();
          if (over_looped) {
            const int d = gpn.loop_depth[st.over];
            reduced[std::size_t(st.out)] |= 1u << d;
            for (std::size_t i = std::size_t(d) + 1; i < gm.loops.size(); ++i)
              if (has_rank(c, st.out, gm.loops[i].rank))
                problem(gp + "/loops/" + std::to_string(i), "the loop over " + rank_name(c, gm.loops[i].rank) +
                                                                " is inside the loop over " + rank_name(c, st.over) +
                                                                ", which " + step_name(c, s) +
                                                                " sums over: loop over the summed rank inside");
          }
          whole_ranks(s, {c.tensor(st.out).ranks[0]}, "its segments");
          break;
        case StepKind::Favor: {
          // 1 / sqrt(features) and the tokens' norms need the whole feature and norm ranks.
          const auto& pr = c.tensor(st.in[0]).ranks;
          whole_ranks(s, {st.tokens_in_cols ? pr[0] : pr[1], st.over}, "its features and the norm");
          break;
        }
        case StepKind::Pinv:
          whole_ranks(s, c.tensor(st.out).ranks, "the whole matrix");
          break;
        case StepKind::Reduce:
        case StepKind::Map:
          if (over_looped && row_op)
            problem(gp + "/loops/" + std::to_string(gpn.loop_depth[st.over]),
                    step_name(c, s) + " needs whole rows over " + rank_name(c, st.over) + "; do not loop over it");
          // A norm reads every row of its parameters (scale, shift) for every row it normalises.
          if (st.kind == StepKind::Map && (st.map == MapOp::LayerNorm || st.map == MapOp::RmsNorm))
            whole_ranks(s, {c.tensor(st.in[1]).ranks[0]}, "all its parameter rows");
          break;
        case StepKind::Gather:
          break;
      }
      // ---- low-rank variants' step kinds ----
      if (st.kind == StepKind::Map && st.map == MapOp::PrefixMean) {
        // The scan walks its row rank in order (looped or whole, not streamed) with a carry of whole rows.
        const int col = c.tensor(st.in[0]).ranks[1];
        if (gpn.loop_depth[col] >= 0 || gpn.stream_chunk[col])
          problem(gp, step_name(c, s) + " carries whole rows over " + rank_name(c, col) +
                          "; do not loop over it or stream it");
        if (gpn.stream_chunk[st.over])
          problem(gp + "/stream/" + rank_name(c, st.over),
                  step_name(c, s) + " scans " + rank_name(c, st.over) + " tile by tile; loop over it instead");
      }
      if (st.kind == StepKind::Gather)
        for (int r : ranks)
          if (gpn.stream_chunk[r])
            problem(gp + "/stream/" + rank_name(c, r),
                    "gather " + step_name(c, s) + " loads whole rows; do not stream " + rank_name(c, r));
      if (st.kind == StepKind::Softmax && c.causal[std::size_t(s)] && gpn.mask_step < 0) gpn.mask_step = s;
      if (st.kind == StepKind::Softmax && gm.lead > 0)
        problem(gp + "/lead", "a lead block with a softmax: not supported (a GEMM's block)");
    }
    // Skipping masked tiles within the group alone is safe only when no tile over both masked ranks
    // goes to DRAM; otherwise the cascade-wide rule across groups (above, xmask) may apply.
    if (gpn.mask_step >= 0) {
      const auto& sr = c.tensor(c.step(gpn.mask_step).in[0]).ranks;
      for (int t = 0; t < ntensors; ++t)
        if (used[std::size_t(t)] && written[std::size_t(t)] && gpn.dram[std::size_t(t)] && has_rank(c, t, sr[0]) &&
            has_rank(c, t, sr[1]))
          gpn.mask_step = -1;
    }
    // Across groups, the cascade's causal softmax's mask (above): here too when a step of the group is over
    // both its ranks.
    if (xmask >= 0 && gpn.mask_step < 0) {
      const auto& sr = c.tensor(c.step(xmask).in[0]).ranks;
      for (int s : gm.steps) {
        const std::vector<int> r = c.step_ranks(s);
        if (std::find(r.begin(), r.end(), sr[0]) != r.end() && std::find(r.begin(), r.end(), sr[1]) != r.end())
          gpn.mask_step = xmask, gpn.cross_mask = true;
      }
    }
    // Lookahead: the steps before the first one that reads a contraction's result of this group.
    std::vector<char> from_contraction(std::size_t(ntensors), 0);
    bool stop = false, any_contract = false;
    for (int s : gm.steps) {
      const StepDecl& st = c.step(s);
      for (int t : st.in) stop |= bool(from_contraction[std::size_t(t)]);
      if (st.kind == StepKind::Contract || st.kind == StepKind::SegmentMean || st.kind == StepKind::Pinv)
        from_contraction[std::size_t(st.out)] = 1;
      if (stop) break;
      if (gpn.at_last[std::size_t(s)]) break;
      gpn.lookahead[std::size_t(s)] = 1;
      any_contract |= st.kind == StepKind::Contract;
    }
    // A DRAM tensor is moved a chunk at a time unless a step here needs its whole rows (a row-wise
    // step over the streamed rank).
    gpn.chunked.assign(std::size_t(ntensors), 0);
    for (int t = 0; t < ntensors; ++t) {
      if (!used[std::size_t(t)] || !gpn.dram[std::size_t(t)]) continue;
      bool chunked = true;
      for (int s : gm.steps) {
        const StepDecl& st = c.step(s);
        const bool touches = st.out == t || std::find(st.in.begin(), st.in.end(), t) != st.in.end();
        const bool row_op = row_wise(st);
        if (touches && row_op && st.over >= 0 && gpn.stream_chunk[st.over] && has_rank(c, t, st.over)) chunked = false;
      }
      // A tensor written here and read by a later step here stays whole: each step walks every chunk
      // before the next step starts, so a one-chunk buffer would hold only the last chunk.
      if (written[std::size_t(t)])
        for (int s : gm.steps)
          if (std::find(c.step(s).in.begin(), c.step(s).in.end(), t) != c.step(s).in.end()) chunked = false;
      gpn.chunked[std::size_t(t)] = chunked;
    }
    // A sum over a looped rank keeps its output tile open across that loop; a DRAM output moved in
    // chunks of a streamed rank would have every chunk's partial sum open at once, in two slots.
    for (int s : gm.steps) {
      const StepDecl& st = c.step(s);
      if (st.kind != StepKind::Contract || st.over < 0 || gpn.loop_depth[st.over] < 0 ||
          !gpn.chunked[std::size_t(st.out)])
        continue;
      for (int r : c.tensor(st.out).ranks)
        if (gpn.stream_chunk[r] && gpn.stream_chunk[r] < c.extent[std::size_t(r)])
          problem(gp + "/stream/" + rank_name(c, r),
                  step_name(c, s) + " sums over the loop over " + rank_name(c, st.over) +
                      " and goes to DRAM in chunks of " + rank_name(c, r) +
                      ": every chunk's partial sum would stay open; do not stream " + rank_name(c, r));
    }
    // Interleaved instances: each keeps its own slots of what the group writes, so steps with state
    // of their own (online softmax statistics, a prefix mean's carry, pinv's scratch), resident
    // tensors and skipped causal tiles stay with one instance per pass.
    if (gm.interleave > 1) {
      for (int s : gm.steps) {
        const StepDecl& st = c.step(s);
        if (gpn.online[std::size_t(s)] || st.kind == StepKind::Pinv ||
            (st.kind == StepKind::Map && st.map == MapOp::PrefixMean))
          problem(gp + "/interleave", step_name(c, s) + " keeps state across the loops (" +
                                          (gpn.online[std::size_t(s)] ? "online softmax statistics"
                                           : st.kind == StepKind::Pinv ? "pinv's scratch"
                                                                       : "a prefix mean's carry") +
                                          ") for one instance at a time; interleave 1");
      }
      if (!gm.resident.empty()) problem(gp + "/interleave", "resident tensors hold one instance; interleave 1");
      if (gpn.mask_step >= 0)
        problem(gp + "/interleave", "causal tile skipping follows one instance; interleave 1");
      for (int s : gm.steps) gpn.lookahead[std::size_t(s)] = 0;  // no overlap across interleaved instances
    }
    // Buffers: one per tensor used here (and a stats buffer per online softmax).
    auto extent_in = [&](int t, int r) -> std::int64_t {
      if (gpn.loop_depth[r] >= 0) return gm.loops[std::size_t(gpn.loop_depth[r])].tile;
      if (gpn.stream_chunk[r] && gpn.chunked[std::size_t(t)]) return gpn.stream_chunk[r];
      return c.extent[std::size_t(r)];
    };
    // A gather's source is read straight from DRAM into the gather's output: it takes no buffer.
    std::vector<char> direct(std::size_t(ntensors), 0);
    for (int s : gm.steps)
      if (c.step(s).kind == StepKind::Gather) direct[std::size_t(c.step(s).in[0])] = 1;
    for (int s : gm.steps)
      if (c.step(s).kind != StepKind::Gather)
        for (int t : c.step(s).in) direct[std::size_t(t)] = 0;
    // Resident tensors: DRAM inputs of this group (loaded here, not written), each named once.
    std::vector<char> resident(std::size_t(ntensors), 0);
    for (std::size_t i = 0; i < gm.resident.size(); ++i) {
      const int t = gm.resident[i];
      const std::string rp = gp + "/resident/" + std::to_string(i);
      if (t < 0 || t >= ntensors) {
        problem(rp, "no such tensor");
        continue;
      }
      const std::string& tn = c.tensor(t).name;
      if (resident[std::size_t(t)])
        problem(rp, tn + " is listed twice");
      else if (!used[std::size_t(t)])
        problem(rp, "no step of the group reads " + tn);
      else if (!gpn.dram[std::size_t(t)] || written[std::size_t(t)])
        problem(rp, tn + " is not read from DRAM in this group (" +
                        (written[std::size_t(t)] ? "the group writes it" : "it stays on chip") +
                        "); only DRAM inputs of a group can be resident");
      else if (direct[std::size_t(t)])
        problem(rp, tn + " is read by a gather straight from DRAM; it takes no buffer to keep");
      resident[std::size_t(t)] = 1;
    }
    for (int t = 0; t < ntensors; ++t) {
      if (!used[std::size_t(t)] || direct[std::size_t(t)]) continue;
      if (m.tensors[std::size_t(t)].in_place >= 0 && written[std::size_t(t)]) continue;  // its input's (below)
      BufferPlan b;
      b.tensor = t;
      b.rows = extent_in(t, c.tensor(t).ranks[0]);
      b.cols = c.tensor(t).ranks.size() > 1 ? extent_in(t, c.tensor(t).ranks[1]) : 1;
      if (resident[std::size_t(t)]) {
        b.resident = true;
        b.cell_rows = b.rows, b.cell_cols = b.cols;
        b.rows = c.rows(t);
        b.cols = c.cols(t);
      }
      const bool loaded = !written[std::size_t(t)];
      b.elem_bytes = int(loaded || c.tensor(t).elem == ElemKind::Operand ? ob : acc);
      b.depth = m.tensors[std::size_t(t)].buffers;
      if (written[std::size_t(t)]) b.copies = gm.interleave;
      gpn.buffer_of[std::size_t(t)] = int(gpn.buffers.size());
      gpn.buffers.push_back(b);
    }
    // In place (mapping.h): an element-wise map's output in the slots of the input it is computed from.
    for (int t = 0; t < ntensors; ++t) {
      const int src = m.tensors[std::size_t(t)].in_place;
      if (src < 0 || !used[std::size_t(t)] || !written[std::size_t(t)]) continue;
      const std::string ip = "/placement/" + c.tensor(t).name + "/in_place";
      const int p = c.producer(t);
      const StepDecl& st = c.step(p);
      const bool elementwise = st.kind == StepKind::Map && st.map != MapOp::L2Norm && st.map != MapOp::PrefixMean &&
                               st.map != MapOp::AddRow;
      const auto& rd = readers[std::size_t(src)];
      if (src == t || m.tensors[std::size_t(src)].in_place >= 0)
        problem(ip, c.tensor(t).name + " cannot overwrite " + c.tensor(src).name + " (itself, or written in place)");
      else if (!elementwise || std::find(st.in.begin(), st.in.end(), src) == st.in.end())
        problem(ip, step_name(c, p) + " must be an element-wise map reading " + c.tensor(src).name);
      else if (!written[std::size_t(src)] || gpn.dram[std::size_t(src)] || rd.size() != 1 || rd[0] != p)
        problem(ip, c.tensor(src).name + " must be written in this group, stay on chip and be read by " +
                        step_name(c, p) + " only");
      else if (c.tensor(src).ranks != c.tensor(t).ranks)
        problem(ip, c.tensor(t).name + " and " + c.tensor(src).name + " must have the same ranks");
      else if (m.tensors[std::size_t(t)].bank >= 0 || m.tensors[std::size_t(t)].at[0] >= 0)
        problem(ip, "a tensor written in place is placed with its input");
      else
        gpn.buffer_of[std::size_t(t)] = gpn.buffer_of[std::size_t(src)];
    }
    for (int s : gm.steps)
      if (gpn.online[std::size_t(s)]) {
        BufferPlan b;
        b.tensor = -1 - s;
        b.rows = extent_in(c.step(s).in[0], c.tensor(c.step(s).in[0]).ranks[0]);
        b.cols = kStatsCols;
        b.elem_bytes = kStatsBytes;
        // The stats follow the accumulator they normalise.
        for (int r : gm.steps)
          if (gpn.online_of[std::size_t(r)] == s) b.depth = m.tensors[std::size_t(c.step(r).out)].buffers;
        gpn.stats_buffer[std::size_t(s)] = int(gpn.buffers.size());
        gpn.buffers.push_back(b);
      }
    // A pinv's scratch (l = its extent): column sums, their max, Z in fp32, AZ in fp32 and as operands,
    // the (c I - ...) operand and a product in fp32; one slot each (the step runs them in order).
    gpn.scratch_buffer.assign(std::size_t(nsteps), -1);
    for (int s : gm.steps)
      if (c.step(s).kind == StepKind::Pinv) {
        const std::int64_t l = c.rows(c.step(s).in[0]);
        static const char* const kNames[kPinvScratchCount] = {"colsum", "colmax", "Zacc", "AZ", "AZop", "X", "T"};
        gpn.scratch_buffer[std::size_t(s)] = int(gpn.buffers.size());
        for (int k = 0; k < kPinvScratchCount; ++k) {
          BufferPlan b;
          b.tensor = -1 - s;
          b.scratch = kNames[k];
          b.rows = k <= kPinvColMax ? 1 : l;
          b.cols = k == kPinvColMax ? 1 : l;
          b.elem_bytes = int(k == kPinvAZop || k == kPinvX ? ob : acc);
          gpn.buffers.push_back(b);
        }
      }
    // A prefix mean's carry: the running sum of the rows before the tile (1 x whole columns, fp32).
    for (int s : gm.steps)
      if (c.step(s).kind == StepKind::Map && c.step(s).map == MapOp::PrefixMean) {
        BufferPlan b;
        b.tensor = -1 - s;
        b.rows = 1;
        b.cols = c.extent[std::size_t(c.tensor(c.step(s).in[0]).ranks[1])];
        b.elem_bytes = kStatsBytes;
        b.depth = 1;
        gpn.stats_buffer[std::size_t(s)] = int(gpn.buffers.size());
        gpn.buffers.push_back(b);
      }
    // The rest of a point: steps not issued ahead. Hoisting pays when some of them run at every point
    // (flash's softmax and P V); an epilogue run once per tile, after a sum (a GEMM's activation on its
    // finished C tile), keeps its place, before the next tile's first step.
    bool rest = false, deep = true;
    for (int s : gm.steps) rest |= !gpn.lookahead[std::size_t(s)] && !gpn.at_last[std::size_t(s)];
    // Read in the rest of a point (not ahead): a DRAM tensor the lookahead reads needs two slots then.
    auto read_behind = [&](int t) {
      for (int s : readers[std::size_t(t)])
        if (group_of[std::size_t(s)] == int(g) && !gpn.lookahead[std::size_t(s)]) return true;
      return false;
    };
    // Issued `ahead` points early (mapping.h), a DRAM tile read both ahead and behind needs a slot for each
    // of the points n .. n + ahead. What the lookahead steps write needs two slots either way: with ahead 2
    // the tile of point n + 2 is written after point n's readers of it (lower.h).
    const int early = std::clamp(gm.ahead, 1, kMaxAhead);
    for (int s : gm.steps)
      if (gpn.lookahead[std::size_t(s)]) {
        deep &= m.tensors[std::size_t(c.step(s).out)].buffers >= 2;
        for (int t : c.step(s).in)
          deep &= !gpn.dram[std::size_t(t)] || m.tensors[std::size_t(t)].buffers >= early + 1 || !read_behind(t);
      }
    // A DRAM tensor read both ahead and in the rest would be evicted by the next iteration's load.
    for (int t = 0; t < ntensors; ++t) {
      if (!gpn.dram[std::size_t(t)] || written[std::size_t(t)]) continue;
      bool ahead = false, behind = false;
      for (int s : readers[std::size_t(t)])
        if (group_of[std::size_t(s)] == int(g)) (gpn.lookahead[std::size_t(s)] ? ahead : behind) = true;
      // Unless it has two slots (or more) and no streamed rank: the next point's tile then goes into a
      // slot the current point does not use (a streamed rank would cycle the slots within one step).
      bool two_tiles = m.tensors[std::size_t(t)].buffers >= early + 1;
      for (int r : c.tensor(t).ranks) two_tiles &= !gpn.stream_chunk[r];
      deep &= !(ahead && behind) || two_tiles;
    }
    gpn.hoist = any_contract && rest && deep && gm.interleave == 1;
    if (gm.ahead != 1 && !gpn.hoist)
      problem(gp + "/ahead",
              "issuing steps " + std::to_string(gm.ahead) + " points ahead needs the overlap of flash's Q K^T (a "
              "contraction before a step that reads its result, interleave 1, two slots of what it writes, " +
              std::to_string(early + 1) + " of a DRAM tensor read both ahead and behind); ahead 1");
    // ---- low-rank variants: a sum of two contractions as one GEMM over concatenated operands ----
    // [A1 | A2] [B1; B2]: A1 and A2 written here with equal tiles, B1 and B2 loaded with equal dense
    // tiles, neither placed by the mapping. The lowering checks the adjacency again at every GEMM and
    // falls back to two GEMMs where it does not hold.
    for (int s : gm.steps) {
      const StepDecl& st = c.step(s);
      if (st.kind != StepKind::Contract || st.in.size() != 4 || st.b_transposed || st.b2_transposed) continue;
      const int a1 = gpn.buffer_of[std::size_t(st.in[0])], b1 = gpn.buffer_of[std::size_t(st.in[1])],
                a2 = gpn.buffer_of[std::size_t(st.in[2])], b2 = gpn.buffer_of[std::size_t(st.in[3])];
      if (a1 < 0 || a2 < 0 || b1 < 0 || b2 < 0 || a1 == a2 || b1 == b2) continue;
      auto free = [&](int b) {
        const BufferPlan& x = gpn.buffers[std::size_t(b)];
        const TensorMapping& tm = m.tensors[std::size_t(x.tensor)];
        return x.host < 0 && x.ld == 0 && x.hosted_bytes == 0 && !x.resident && x.copies == 1 && tm.bank < 0 &&
               tm.at[0] < 0;
      };
      auto same = [&](int x, int y) {
        const BufferPlan &p = gpn.buffers[std::size_t(x)], &q = gpn.buffers[std::size_t(y)];
        return p.rows == q.rows && p.cols == q.cols && p.elem_bytes == q.elem_bytes && p.depth == q.depth;
      };
      const bool a_onchip = written[std::size_t(st.in[0])] && written[std::size_t(st.in[2])] &&
                            !gpn.dram[std::size_t(st.in[0])] && !gpn.dram[std::size_t(st.in[2])];
      const bool b_loaded = gpn.dram[std::size_t(st.in[1])] && gpn.dram[std::size_t(st.in[3])] &&
                            !written[std::size_t(st.in[1])] && !written[std::size_t(st.in[3])];
      if (!a_onchip || !b_loaded || !free(a1) || !free(a2) || !free(b1) || !free(b2) || !same(a1, a2) || !same(b1, b2))
        continue;
      BufferPlan &ha = gpn.buffers[std::size_t(a1)], &pa = gpn.buffers[std::size_t(a2)];
      ha.ld = pa.ld = 2 * ha.cols;
      pa.host = a1;
      pa.host_offset = std::uint64_t(ha.cols) * std::uint64_t(ha.elem_bytes);
      BufferPlan &hb = gpn.buffers[std::size_t(b1)], &pb = gpn.buffers[std::size_t(b2)];
      hb.hosted_bytes = std::uint64_t(pb.rows) * std::uint64_t(pb.cols) * std::uint64_t(pb.elem_bytes);
      pb.host = b1;
      pb.host_offset = std::uint64_t(hb.rows) * std::uint64_t(hb.cols) * std::uint64_t(hb.elem_bytes);
    }
    check_splits(c, m, g, gpn, problem);
    // Placement: in tensor order, packed on 64-byte boundaries; a buffer pinned to a bank starts there.
    // Addresses in the accumulator storage hold the array's partial sums: they place a tensor's buffers
    // in the group that writes it; a group that loads it from DRAM (a spilled S read by the softmax's
    // group) packs it in the SRAM.
    auto placed_here = [&](int t) {
      const std::int64_t a0 = m.tensors[std::size_t(t)].at[0];
      return a0 >= 0 && (written[std::size_t(t)] || !hw.in_accumulators(std::uint64_t(a0)));
    };
    std::uint64_t at = 0;
    const std::uint64_t bank_bytes = std::uint64_t(hw.sram.bytes_per_bank);
    for (BufferPlan& b : gpn.buffers) {
      if (b.host >= 0) continue;  // inside its host (below)
      const int bank = b.tensor >= 0 ? m.tensors[std::size_t(b.tensor)].bank : -1;
      if (bank >= 0) {
        const std::uint64_t want = std::uint64_t(bank) * bank_bytes;
        if (want < at)
          problem("/placement/" + c.tensor(b.tensor).name + "/bank",
                  "bank " + std::to_string(bank) + " starts at " + std::to_string(want) +
                      " B, inside the buffers placed before it (up to " + std::to_string(at) + " B)");
        at = std::max(at, want);
      }
      const SlotArray<std::int64_t, -1>* fixed =
          b.tensor >= 0 && placed_here(b.tensor) ? &m.tensors[std::size_t(b.tensor)].at : nullptr;
      for (int i = 0; i < b.depth; ++i) {
        if (fixed && (*fixed)[0] >= 0) {
          if ((*fixed)[i] < 0) {
            problem("/placement/" + c.tensor(b.tensor).name + "/at", "gives no address for slot " + std::to_string(i));
            continue;
          }
          b.addr[i] = std::uint64_t((*fixed)[i]);
          continue;
        }
        b.addr[i] = at;
        at = align64(at + b.span_bytes());
      }
    }
    for (BufferPlan& b : gpn.buffers)
      if (b.host >= 0)
        for (int i = 0; i < b.depth; ++i) b.addr[i] = gpn.buffers[std::size_t(b.host)].addr[i] + b.host_offset;
    // Every slot must have its own bytes (a hosted buffer its host's); the footprint is where the last
    // one in the SRAM ends (slots placed in the accumulator storage must fit there instead).
    at = 0;
    for (std::size_t i = 0; i < gpn.buffers.size(); ++i)
      for (int si = 0; si < gpn.buffers[i].depth; ++si) {
        const BufferPlan& a = gpn.buffers[i];
        if (a.host >= 0) continue;
        // Only a slot the mapping places there (an address given) is in the accumulator storage;
        // packed slots past the SRAM are an SRAM overflow.
        const bool placed = a.tensor >= 0 && placed_here(a.tensor);
        if (!placed || !hw.in_accumulators(a.addr[si]))
          at = std::max(at, a.addr[si] + a.span_bytes());
        else if (a.addr[si] + a.span_bytes() > hw.onchip_bytes())
          problem("/placement/" + (a.tensor >= 0 ? c.tensor(a.tensor).name : step_name(c, -1 - a.tensor)) + "/at",
                  "slot " + std::to_string(si) + " (" + std::to_string(a.span_bytes()) + " B at " +
                      std::to_string(a.addr[si]) + ") ends past the accumulator storage's " +
                      std::to_string(hw.accumulators.bytes) + " B");
        for (std::size_t j = i; j < gpn.buffers.size(); ++j)
          for (int sj = j == i ? si + 1 : 0; sj < gpn.buffers[j].depth; ++sj) {
            const BufferPlan& b = gpn.buffers[j];
            if (b.host >= 0) continue;
            if (a.addr[si] < b.addr[sj] + b.span_bytes() && b.addr[sj] < a.addr[si] + a.span_bytes()) {
              auto name = [&](const BufferPlan& x) { return buffer_name(c, x); };
              problem(gp, "placement: " + name(a) + " slot " + std::to_string(si) + " at " +
                              std::to_string(a.addr[si]) + " overlaps " + name(b) + " slot " + std::to_string(sj) +
                              " at " + std::to_string(b.addr[sj]));
            }
          }
      }
    gpn.footprint = at;
    if (at > capacity) {
      std::vector<const BufferPlan*> bs;
      for (const BufferPlan& b : gpn.buffers) bs.push_back(&b);
      std::stable_sort(bs.begin(), bs.end(), [](const BufferPlan* a, const BufferPlan* b) {
        return a->span_bytes() * std::uint64_t(a->depth) > b->span_bytes() * std::uint64_t(b->depth);
      });
      std::ostringstream os;
      os << "the buffers need " << at << " B, more than the " << capacity << " B of SRAM:";
      for (const BufferPlan* b : bs)
        os << " " << buffer_name(c, *b) << " " << b->depth * b->copies << " x " << b->rows << "x" << b->cols << "x"
           << b->elem_bytes << " B;";
      problem(gp, os.str());
    }
    plan.groups.push_back(std::move(gpn));
  }
  // A group writing the causal softmax's output to DRAM writes it as far as each later group reading it
  // reads (lower.h): their row tiles and key tiles (a whole key rank is read up to the row tile's end).
  if (xmask >= 0 && problems.empty()) {
    const int P = c.step(xmask).out;
    const auto& sr = c.tensor(c.step(xmask).in[0]).ranks;
    const std::int64_t nm = c.extent[std::size_t(sr[0])];
    auto writes = [&](const GroupPlan& gp) {
      return std::find(gp.map.steps.begin(), gp.map.steps.end(), xmask) != gp.map.steps.end();
    };
    for (GroupPlan& w : plan.groups) {
      if (!w.cross_mask || !writes(w) || !w.dram[std::size_t(P)]) continue;
      for (const GroupPlan& r : plan.groups) {
        if (writes(r) || !r.cross_mask || r.buffer_of[std::size_t(P)] < 0 || !r.dram[std::size_t(P)]) continue;
        const int dm = r.loop_depth[sr[0]], dp = r.loop_depth[sr[1]];
        const std::int64_t rt = dm >= 0 ? r.map.loops[std::size_t(dm)].tile : nm;
        const std::int64_t ct = dp >= 0 ? r.map.loops[std::size_t(dp)].tile : r.stream_chunk[sr[1]] ? r.stream_chunk[sr[1]] : 1;
        w.mask_readers.push_back({rt, ct});
      }
    }
  }
  if (out && problems.empty()) *out = std::move(plan);
  return problems;
}

CascadePlan plan_cascade(const Cascade& c, const Mapping& m, const HwConfig& hw, std::uint64_t capacity) {
  CascadePlan p;
  const std::vector<std::string> problems = check_mapping(c, m, hw, capacity, &p);
  if (!problems.empty()) throw UserError(problems);
  return p;
}

Mapping whole_mapping(const Cascade& c, const HwConfig& hw) {
  Mapping m;
  m.source = "generated mapping of " + c.desc.name;
  GroupMapping g;
  for (std::size_t s = 0; s < c.desc.steps.size(); ++s) g.steps.push_back(int(s));
  m.groups.push_back(g);
  m.tensors.assign(c.desc.tensors.size(), TensorMapping{});
  for (std::size_t s = 0; s < c.desc.steps.size(); ++s) m.units.push_back(unit_of(c, int(s), hw));
  return m;
}

std::vector<std::int64_t> tile_choices(const Cascade& c, int rank, const HwConfig& hw) {
  const std::int64_t n = c.extent[std::size_t(rank)], g = std::max(hw.array.rows, hw.array.cols);
  std::vector<std::int64_t> v;
  for (std::int64_t t = g; t < n; t *= 2) v.push_back(t);
  for (std::int64_t t = g / 2; t >= 16; t /= 2)
    if (t < n) v.push_back(t);
  v.push_back(n);
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

Mapping default_mapping(const Cascade& c, const HwConfig& hw, std::uint64_t capacity, const std::string& what) {
  Mapping m = whole_mapping(c, hw);
  int row = -1;
  for (const TensorDecl& t : c.desc.tensors)
    if (t.role == TensorRole::Output && row < 0) row = t.ranks[0];
  std::vector<int> over;
  for (const StepDecl& s : c.desc.steps)
    if (s.kind == StepKind::Softmax && s.over != row && std::find(over.begin(), over.end(), s.over) == over.end())
      over.push_back(s.over);
  const std::int64_t g = std::max(hw.array.rows, hw.array.cols);
  std::vector<std::string> last;
  const std::vector<std::int64_t> rows = tile_choices(c, row, hw);
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
    GroupMapping& gm = m.groups[0];
    gm.loops = {{row, *it}};
    for (int r : over) gm.loops.push_back({r, std::min(g, c.extent[std::size_t(r)])});
    last = check_mapping(c, m, hw, capacity);
    if (last.empty()) return m;
  }
  std::vector<std::string> msg;
  for (const std::string& p : last) msg.push_back(what + ": cascade " + c.desc.name + ": no row tile fits: " + p);
  throw UserError(msg);
}

Json mapping_to_json(const Cascade& c, const Mapping& m) {
  Json j;
  j["cascade"] = c.desc.name;
  Json groups = Json::array();
  for (const GroupMapping& g : m.groups) {
    Json gj;
    Json steps = Json::array();
    for (int s : g.steps) steps.push_back(step_name(c, s));
    gj["steps"] = steps;
    Json loops = Json::array();
    for (const Loop& l : g.loops) loops.push_back(Json{{"rank", rank_name(c, l.rank)}, {"tile", l.tile}});
    gj["loops"] = loops;
    if (!g.stream.empty()) {
      Json st = Json::object();
      for (const Loop& l : g.stream) st[rank_name(c, l.rank)] = l.tile;
      gj["stream"] = st;
    }
    if (!g.resident.empty()) {
      Json res = Json::array();
      for (int t : g.resident) res.push_back(c.tensor(t).name);
      gj["resident"] = res;
    }
    if (g.interleave != 1) gj["interleave"] = g.interleave;
    if (g.splits != 1) gj["splits"] = g.splits;
    if (g.chain) gj["chain"] = true;
    if (g.lead) gj["lead"] = g.lead;
    if (g.ahead != 1) gj["ahead"] = g.ahead;
    groups.push_back(gj);
  }
  j["groups"] = groups;
  Json buffers = Json::object(), placement = Json::object(), units = Json::object();
  for (std::size_t t = 0; t < m.tensors.size(); ++t) {
    buffers[c.desc.tensors[t].name] = m.tensors[t].buffers;
    if (m.tensors[t].bank >= 0) placement[c.desc.tensors[t].name] = Json{{"bank", m.tensors[t].bank}};
    if (m.tensors[t].in_place >= 0)
      placement[c.desc.tensors[t].name] = Json{{"in_place", c.desc.tensors[std::size_t(m.tensors[t].in_place)].name}};
    if (m.tensors[t].at[0] >= 0) {
      Json at = Json::array();
      for (std::int64_t a : m.tensors[t].at)
        if (a >= 0) at.push_back(a);
      placement[c.desc.tensors[t].name] = Json{{"at", at}};
    }
  }
  for (std::size_t s = 0; s < m.units.size(); ++s) units[step_name(c, int(s))] = to_string(m.units[s]);
  j["buffers"] = buffers;
  if (!placement.empty()) j["placement"] = placement;
  j["units"] = units;
  return j;
}

Mapping parse_mapping(const Json& doc, const std::string& source, const Cascade& c, const HwConfig& hw,
                      SchemaRecorder* recorder) {
  Diagnostics diag(source);
  diag.record_into(recorder);
  Mapping m = whole_mapping(c, hw);
  m.source = source;
  if (!doc.is_object()) {
    diag.add("", "a mapping must be a JSON object", doc);
    diag.throw_if_any();
  }
  JsonView root(&doc, "", &diag);
  root.reject_unknown_keys({"cascade", "groups", "buffers", "placement", "units"}, "//");  // and comments
  if (root.has("cascade") && root.string("cascade", std::nullopt) != c.desc.name && doc["cascade"].is_string())
    diag.add("/cascade", "this mapping is for cascade " + doc["cascade"].get<std::string>() + ", not " + c.desc.name);
  std::vector<std::string> step_names, tensor_names, rank_names;
  for (std::size_t s = 0; s < c.desc.steps.size(); ++s) step_names.push_back(step_name(c, int(s)));
  for (const TensorDecl& t : c.desc.tensors) tensor_names.push_back(t.name);
  for (const RankDecl& r : c.desc.ranks) rank_names.push_back(r.name);
  auto lookup = [&](const std::vector<std::string>& names, const std::string& n, const std::string& path,
                    const char* what) {
    for (std::size_t i = 0; i < names.size(); ++i)
      if (names[i] == n) return int(i);
    const std::string hint = did_you_mean(n, names);
    diag.add(path,
             std::string("no ") + what + " \"" + n + "\"" + (hint.empty() ? "" : " (did you mean \"" + hint + "\"?)"));
    return -1;
  };
  // Names of steps, ranks and tensors are the cascade's: the schema cannot know them.
  root.annotate("groups", {{"type", "array"}, {"minItems", 1}});
  if (root.has("groups")) {
    const Json& gs = doc["groups"];
    if (!gs.is_array() || gs.empty()) {
      diag.add("/groups", "must be a non-empty array of groups", gs);
    } else {
      m.groups.clear();
      for (std::size_t g = 0; g < gs.size(); ++g) {
        const std::string gp = "/groups/" + std::to_string(g);
        JsonView gv(&gs[g], gp, &diag);
        if (!gs[g].is_object()) {
          diag.add(gp, "a group is an object", gs[g]);
          continue;
        }
        gv.reject_unknown_keys({"steps", "loops", "stream", "resident", "interleave", "splits", "chain", "lead", "ahead"});
        gv.annotate("steps", {{"type", "array"}, {"items", {{"type", "string"}}}}, /*required=*/true);
        gv.annotate("loops", {{"type", "array"}});
        gv.annotate("stream", {{"type", "object"}});
        gv.annotate("resident", {{"type", "array"}, {"items", {{"type", "string"}}}});
        GroupMapping gm;
        if (gv.has("interleave")) gm.interleave = int(gv.integer("interleave", std::nullopt, 1, kMaxInterleave));
        if (!gs[g].contains("steps") || !gs[g]["steps"].is_array()) {
          diag.add(gp + "/steps", "must be an array of step outputs");
        } else {
          for (std::size_t i = 0; i < gs[g]["steps"].size(); ++i) {
            const Json& x = gs[g]["steps"][i];
            const std::string sp = gp + "/steps/" + std::to_string(i);
            if (!x.is_string()) {
              diag.add(sp, "must be a step's output name", x);
              continue;
            }
            const int s = lookup(step_names, x.get<std::string>(), sp, "step writing");
            if (s >= 0) gm.steps.push_back(s);
          }
        }
        if (gs[g].contains("loops")) {
          const Json& ls = gs[g]["loops"];
          if (!ls.is_array()) diag.add(gp + "/loops", "must be an array of {\"rank\", \"tile\"}", ls);
          for (std::size_t i = 0; ls.is_array() && i < ls.size(); ++i) {
            JsonView lv(&ls[i], gp + "/loops/" + std::to_string(i), &diag);
            if (!ls[i].is_object()) {
              diag.add(lv.path(), "a loop is {\"rank\": NAME, \"tile\": SIZE}", ls[i]);
              continue;
            }
            lv.reject_unknown_keys({"rank", "tile"});
            const std::string rn = lv.string("rank", std::nullopt);
            const std::int64_t tile = lv.integer("tile", std::nullopt, 1, std::int64_t(1) << 30);
            const int r = rn.empty() ? -1 : lookup(rank_names, rn, lv.child_path("rank"), "rank");
            if (r >= 0) gm.loops.push_back({r, tile});
          }
        }
        JsonView(gs[g].contains("stream") ? &gs[g]["stream"] : nullptr, gp + "/stream", &diag)
            .declare_named_entries({{"type", "integer"}, {"minimum", 1}});
        if (gs[g].contains("stream")) {
          const Json& st = gs[g]["stream"];
          if (!st.is_object()) diag.add(gp + "/stream", "must be an object of rank: chunk", st);
          for (auto it = st.begin(); st.is_object() && it != st.end(); ++it) {
            const std::string sp = gp + "/stream/" + it.key();
            const int r = lookup(rank_names, it.key(), sp, "rank");
            if (!it.value().is_number_integer() || it.value().get<std::int64_t>() < 1)
              diag.add(sp, "a chunk is a positive integer", it.value());
            else if (r >= 0)
              gm.stream.push_back({r, it.value().get<std::int64_t>()});
          }
        }
        if (gs[g].contains("resident")) {
          const Json& rs = gs[g]["resident"];
          if (!rs.is_array()) diag.add(gp + "/resident", "must be an array of tensor names", rs);
          for (std::size_t i = 0; rs.is_array() && i < rs.size(); ++i) {
            const std::string rp = gp + "/resident/" + std::to_string(i);
            if (!rs[i].is_string()) {
              diag.add(rp, "must be a tensor's name", rs[i]);
              continue;
            }
            const int t = lookup(tensor_names, rs[i].get<std::string>(), rp, "tensor");
            if (t >= 0) gm.resident.push_back(t);
          }
        }
        gm.splits = int(gv.integer("splits", 1, 1, kMaxSplits));
        gm.chain = gv.boolean("chain", false);
        gm.lead = int(gv.integer("lead", 0, 0, 1 << 20));
        gm.ahead = int(gv.integer("ahead", 1, 1, kMaxAhead));
        m.groups.push_back(gm);
      }
    }
  }
  root.annotate("buffers", {{"type", "object"}});
  JsonView(doc.contains("buffers") ? &doc["buffers"] : nullptr, "/buffers", &diag)
      .declare_named_entries({{"type", "integer"}, {"minimum", 1}, {"maximum", kMaxSlots}});
  if (root.has("buffers")) {
    const Json& b = doc["buffers"];
    if (!b.is_object()) diag.add("/buffers", "must be an object of tensor: slots (1 to " + std::to_string(kMaxSlots) + ")", b);
    for (auto it = b.begin(); b.is_object() && it != b.end(); ++it) {
      const int t = lookup(tensor_names, it.key(), "/buffers/" + it.key(), "tensor");
      if (!it.value().is_number_integer() || it.value().get<std::int64_t>() < 1 ||
          it.value().get<std::int64_t>() > kMaxSlots)
        diag.add("/buffers/" + it.key(), "buffering depth is 1 to " + std::to_string(kMaxSlots), it.value());
      else if (t >= 0)
        m.tensors[std::size_t(t)].buffers = it.value().get<int>();
    }
  }
  root.annotate("placement", {{"type", "object"}});
  JsonView(doc.contains("placement") ? &doc["placement"] : nullptr, "/placement", &diag)
      .declare_named_entries({{"type", "object"},
                              {"oneOf", Json::array({schema_when_has("bank"), schema_when_has("at"),
                                                                     schema_when_has("in_place")})}});
  if (root.has("placement")) {
    const Json& p = doc["placement"];
    if (!p.is_object()) diag.add("/placement", "must be an object of tensor: {\"bank\": INDEX}", p);
    for (auto it = p.begin(); p.is_object() && it != p.end(); ++it) {
      const std::string pp = "/placement/" + it.key();
      const int t = lookup(tensor_names, it.key(), pp, "tensor");
      JsonView pv(&it.value(), pp, &diag);
      if (!it.value().is_object()) {
        diag.add(pp, "must be {\"bank\": INDEX}", it.value());
        continue;
      }
      pv.reject_unknown_keys({"bank", "at", "in_place"});
      // The address's upper bound is the hardware's on-chip bytes: not in the schema.
      pv.annotate("at", {{"type", "array"},
                         {"minItems", 1},
                         {"maxItems", kMaxSlots},
                         {"items", {{"type", "integer"}, {"minimum", 0}, {"multipleOf", 64}}}});
      if (int(pv.has("bank")) + int(pv.has("at")) + int(pv.has("in_place")) != 1) {
        diag.add(pp, "gives one of \"bank\" (the first bank), \"at\" (each slot's byte address) or \"in_place\" "
                     "(the tensor whose slots it overwrites)");
        continue;
      }
      if (pv.has("in_place")) {
        pv.annotate("in_place", {{"type", "string"}});
        const std::string src = pv.string("in_place", std::nullopt);
        const int st = doc["placement"][it.key()]["in_place"].is_string()
                           ? lookup(tensor_names, src, pp + "/in_place", "tensor")
                           : -1;
        if (t >= 0 && st >= 0) m.tensors[std::size_t(t)].in_place = st;
        continue;
      }
      if (pv.has("bank")) {
        const std::int64_t bank = pv.integer("bank", std::nullopt, 0, hw.sram.banks - 1);
        if (t >= 0) m.tensors[std::size_t(t)].bank = int(bank);
        continue;
      }
      const Json& at = it.value()["at"];
      if (!at.is_array() || at.empty() || at.size() > std::size_t(kMaxSlots)) {
        diag.add(pp + "/at", "must be an array of one byte address per slot (1 to " + std::to_string(kMaxSlots) + ")",
                 at);
        continue;
      }
      for (std::size_t i = 0; i < at.size(); ++i) {
        const std::string ap = pp + "/at/" + std::to_string(i);
        // The on-chip address space: the SRAM, then the accumulator storage when declared.
        if (!at[i].is_number_integer() || at[i].get<std::int64_t>() < 0 || at[i].get<std::int64_t>() % 64 ||
            std::uint64_t(at[i].get<std::int64_t>()) >= hw.onchip_bytes())
          diag.add(ap,
                   "a slot address is a multiple of 64 inside the SRAM (" + std::to_string(hw.sram.total_bytes()) +
                       " B)" +
                       (hw.accumulators.present
                            ? " or the accumulator storage after it (" + std::to_string(hw.accumulators.bytes) + " B)"
                            : std::string()),
                   at[i]);
        else if (t >= 0)
          m.tensors[std::size_t(t)].at[i] = at[i].get<std::int64_t>();
      }
    }
  }
  root.annotate("units", {{"type", "object"}});
  JsonView(doc.contains("units") ? &doc["units"] : nullptr, "/units", &diag)
      .declare_named_entries({{"type", "string"}, {"enum", {"array", "vector", "softmax", "load"}}});
  if (root.has("units")) {
    const Json& u = doc["units"];
    if (!u.is_object()) diag.add("/units", "must be an object of step: array | vector | softmax", u);
    for (auto it = u.begin(); u.is_object() && it != u.end(); ++it) {
      const std::string up = "/units/" + it.key();
      const int s = lookup(step_names, it.key(), up, "step writing");
      const std::string name = it.value().is_string() ? it.value().get<std::string>() : "";
      if (name != "array" && name != "vector" && name != "softmax" && name != "load")
        diag.add(up, "must be one of array|vector|softmax|load", it.value());
      else if (s >= 0)
        m.units[std::size_t(s)] = name == "array"    ? Unit::Array
                                  : name == "vector" ? Unit::Vector
                                  : name == "load"   ? Unit::Load
                                                     : Unit::Softmax;
    }
  }
  diag.throw_if_any();
  return m;
}

std::string describe(const Cascade& c, const Mapping& m) {
  std::ostringstream os;
  os << "cascade " << c.desc.name << ":";
  for (std::size_t g = 0; g < m.groups.size(); ++g) {
    const GroupMapping& gm = m.groups[g];
    os << (g ? " |" : "") << " [";
    for (std::size_t i = 0; i < gm.steps.size(); ++i) os << (i ? " " : "") << step_name(c, gm.steps[i]);
    os << "] loops";
    if (gm.loops.empty()) os << " -";
    for (const Loop& l : gm.loops) os << " " << rank_name(c, l.rank) << ":" << l.tile;
    for (const Loop& l : gm.stream) os << " stream " << rank_name(c, l.rank) << ":" << l.tile;
    if (!gm.resident.empty()) os << " resident";
    for (int t : gm.resident) os << " " << c.tensor(t).name;
    if (gm.interleave != 1) os << " interleave " << gm.interleave;
    if (gm.splits != 1) os << " split-K " << gm.splits;
    if (gm.lead) os << " lead " << gm.lead;
    if (gm.ahead != 1) os << " ahead " << gm.ahead;
  }
  return os.str();
}

}  // namespace attnsim::cascade
