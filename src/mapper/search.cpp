#include "mapper/search.h"

#include <algorithm>
#include <numeric>
#include <tuple>

#include "common/errors.h"

namespace attnsim {

const char* to_string(MapperEffort e) {
  switch (e) {
    case MapperEffort::Fast:
      return "fast";
    case MapperEffort::Default:
      return "default";
    case MapperEffort::Thorough:
      return "thorough";
  }
  return "?";
}

bool parse_mapper_effort(const std::string& s, MapperEffort* out) {
  for (MapperEffort e : {MapperEffort::Fast, MapperEffort::Default, MapperEffort::Thorough})
    if (s == to_string(e)) {
      *out = e;
      return true;
    }
  return false;
}

std::vector<std::uint64_t> ladder_budgets(std::uint64_t capacity) {
  std::vector<std::uint64_t> v;
  for (std::uint64_t b = capacity / 2; b > 0; b /= 2) v.push_back(b);
  for (std::uint64_t p = 1; p < capacity && p != 0; p <<= 1) v.push_back(p);
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  v.push_back(capacity);
  return v;
}

std::vector<RungPick> pick_per_rung(const std::vector<std::vector<RungPick>>& options, bool by_order,
                                    const std::vector<double>* caps) {
  std::vector<RungPick> picks(options.size());
  double bound = -1;
  for (std::size_t r = 0; r < options.size(); ++r) {
    double best = -1;
    for (const RungPick& o : options[r])
      if (o.cycles >= 0 && (best < 0 || o.cycles < best)) best = o.cycles;
    if (best < 0) continue;
    double limit = bound >= 0 ? std::min(best * (1 + kAsFast), bound) : best * (1 + kAsFast);
    if (caps && (*caps)[r] >= 0) limit = std::min(limit, std::max(best, (*caps)[r]));
    const RungPick* chosen = nullptr;
    for (const RungPick& o : options[r]) {
      if (o.cycles < 0 || o.cycles > limit) continue;
      const bool better = !chosen || o.bytes < chosen->bytes ||
                          (o.bytes == chosen->bytes && !by_order && o.cycles < chosen->cycles);
      if (better) chosen = &o;
    }
    ATTNSIM_ASSERT(chosen, "the pick of the rung below is an option of this one");
    picks[r] = *chosen;
    bound = chosen->cycles;
  }
  return picks;
}

std::size_t pick_mapping(std::vector<MapCandidate>& c, std::uint64_t capacity, const MapperOptions& opt, bool fewest_bytes) {
  ATTNSIM_ASSERT(!c.empty(), "the mapper was given no candidate");
  std::vector<std::size_t> order(c.size());
  std::iota(order.begin(), order.end(), 0);
  auto analytic_key = [&](std::size_t i) { return std::make_tuple(c[i].analytic_cycles, c[i].dram_bytes, i); };
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return analytic_key(a) < analytic_key(b); });
  if (opt.effort == MapperEffort::Fast) return order.front();

  // The capacity ladder: the `top` analytically best candidates within capacity / 2^i, for every
  // i while some candidate still fits. A design with twice the SRAM thus times a superset of what
  // the smaller one times, and (placement being the same) cannot pick a slower schedule.
  std::vector<std::size_t> timed;
  const std::vector<std::uint64_t> budgets = ladder_budgets(capacity);
  auto ladder = [&](std::size_t top, bool include_wide) {
    // Down to the smallest candidate, not a fixed number of rungs: a design with 4x the SRAM then
    // times everything a smaller one times (its rungs reach the smaller one's).
    for (auto b = budgets.rbegin(); b != budgets.rend(); ++b) {
      const std::uint64_t budget = *b;
      std::size_t taken = 0;
      for (std::size_t i : order) {
        if (taken == top) break;
        if (c[i].sram_bytes > budget || (c[i].wide && !include_wide)) continue;
        ++taken;
        c[i].chosen_at = std::min(c[i].chosen_at, budget);
        if (std::find(timed.begin(), timed.end(), i) == timed.end()) timed.push_back(i);
      }
      if (taken == 0) break;
      if (!fewest_bytes) continue;
      // And the `top` fewest DRAM bytes among those whose estimate is within kAsFastEstimate of the
      // rung's best (order: the estimate's ranking; the first fitting one is the best).
      double best = -1;
      std::vector<std::size_t> near;
      for (std::size_t i : order) {
        if (c[i].sram_bytes > budget || (c[i].wide && !include_wide)) continue;
        if (best < 0) best = c[i].analytic_cycles;
        if (c[i].analytic_cycles > best * (1 + kAsFastEstimate)) break;
        near.push_back(i);
      }
      std::stable_sort(near.begin(), near.end(),
                       [&](std::size_t a, std::size_t b) { return c[a].dram_bytes < c[b].dram_bytes; });
      if (near.size() > top) near.resize(top);
      for (std::size_t i : near) {
        c[i].chosen_at = std::min(c[i].chosen_at, budget);
        if (std::find(timed.begin(), timed.end(), i) == timed.end()) timed.push_back(i);
      }
    }
  };
  ladder(kDefaultTimed, false);
  const std::size_t default_timed = timed.size();  // timed[0, default_timed) is what default times
  std::vector<std::uint64_t> default_chosen_at;  // as the default effort's ladder leaves them
  for (const MapCandidate& x : c) default_chosen_at.push_back(x.chosen_at);
  if (opt.effort == MapperEffort::Thorough) ladder(kThoroughTimed, true);
  auto cached = [&](const std::string& key, const std::function<double()>& f) {
    if (!opt.cache || key.empty()) return f();
    auto it = opt.cache->timed_cycles.find(key);
    if (it == opt.cache->timed_cycles.end()) it = opt.cache->timed_cycles.emplace(key, f()).first;
    return it->second;
  };
  std::size_t best = order.front(), default_best = order.front();
  bool any = false, any_default = false;
  auto key = [&](std::size_t j) { return std::make_tuple(c[j].timed_cycles, c[j].dram_bytes, j); };
  for (std::size_t n = 0; n < timed.size(); ++n) {
    const std::size_t i = timed[n];
    if (!c[i].time) continue;
    c[i].timed_cycles = cached(c[i].key, c[i].time);
    if (!any || key(i) < key(best)) best = i, any = true;
    if (n < default_timed && (!any_default || key(i) < key(default_best))) default_best = i, any_default = true;
  }
  // fewest_bytes: rung by rung, smallest budget first, the fewest DRAM bytes among the timed options
  // within kAsFast of the rung's fastest and no slower than the pick of the rung below (a candidate is
  // an option of the rungs from the one that chose it for timing up, so that what a larger design
  // times for its upper rungs never changes its picks on the lower ones). A design with more SRAM
  // thus makes a smaller one's picks on the rungs they share and never a slower one above them. The
  // thorough effort's picks are also no slower than default's on the same rung.
  if (fewest_bytes) {
    // The options of each rung among timed[0, count), by candidate index (ties: the least index).
    auto per_rung = [&](std::size_t count, const std::vector<std::uint64_t>& chosen_at, const std::vector<double>* caps) {
      std::vector<std::size_t> ids(timed.begin(), timed.begin() + std::ptrdiff_t(count));
      std::sort(ids.begin(), ids.end());
      std::vector<std::vector<RungPick>> options(budgets.size());
      for (std::size_t r = 0; r < budgets.size(); ++r)
        for (std::size_t i : ids)
          if (c[i].timed_cycles >= 0 && c[i].sram_bytes <= budgets[r] && chosen_at[i] <= budgets[r])
            options[r].push_back({c[i].timed_cycles, c[i].dram_bytes, i});
      return pick_per_rung(options, false, caps);
    };
    // The last rung with a pick (c.size(): none).
    auto last = [&](const std::vector<RungPick>& picks) {
      for (auto p = picks.rbegin(); p != picks.rend(); ++p)
        if (p->cycles >= 0) return p->index;
      return c.size();
    };
    std::vector<double> default_cycles;
    const std::vector<RungPick> dp = per_rung(default_timed, default_chosen_at, nullptr);
    for (const RungPick& p : dp) default_cycles.push_back(p.cycles);
    const std::size_t d = last(dp);
    if (d != c.size()) default_best = d, any_default = true;
    std::vector<std::uint64_t> chosen_at;
    for (const MapCandidate& x : c) chosen_at.push_back(x.chosen_at);
    const std::size_t t =
        opt.effort == MapperEffort::Thorough ? last(per_rung(timed.size(), chosen_at, &default_cycles)) : d;
    if (t != c.size()) best = t;
  }
  // Thorough against default's pick, both timed whole: the same measure for both.
  if (opt.effort == MapperEffort::Thorough && best != default_best && any_default) {
    auto whole = [&](std::size_t j) {
      return c[j].time_whole ? cached(c[j].key + " whole", c[j].time_whole) : c[j].timed_cycles;
    };
    const double tb = whole(best), td = whole(default_best);
    if (td <= tb) best = default_best, c[best].timed_cycles = td;
    else c[best].timed_cycles = tb;
  }
  return best;
}

}  // namespace attnsim

namespace attnsim {

double time_extrapolated(const HwConfig& hw, std::int64_t reps,
                         const std::function<void(ProgramSink&, std::int64_t)>& emit, std::int64_t first) {
  const std::int64_t a = std::max<std::int64_t>(1, first);
  if (reps <= a) return double(time_program(hw, [&](ProgramSink& s) { emit(s, std::max<std::int64_t>(1, reps)); }).cycles);
  const double t1 = double(time_program(hw, [&](ProgramSink& s) { emit(s, a); }).cycles);
  const double t2 = double(time_program(hw, [&](ProgramSink& s) { emit(s, a + 1); }).cycles);
  return t1 + (t2 - t1) * double(reps - a);
}

}  // namespace attnsim
