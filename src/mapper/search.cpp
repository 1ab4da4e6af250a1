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
    auto per_rung = [&](std::size_t count, const std::vector<std::uint64_t>* chosen_at, const std::vector<double>* cap,
                        std::vector<double>* rung_cycles) {
      auto at = [&](std::size_t i) { return chosen_at ? (*chosen_at)[i] : c[i].chosen_at; };
      double bound = -1;
      std::size_t chosen = c.size();
      for (std::size_t r = 0; r < budgets.size(); ++r) {
        const std::uint64_t budget = budgets[r];
        double fastest = -1;
        for (std::size_t n = 0; n < count; ++n) {
          const MapCandidate& x = c[timed[n]];
          if (x.timed_cycles >= 0 && x.sram_bytes <= budget && at(timed[n]) <= budget &&
              (fastest < 0 || x.timed_cycles < fastest))
            fastest = x.timed_cycles;
        }
        if (fastest < 0) continue;
        double limit = fastest * (1 + kAsFast);
        if (bound >= 0) limit = std::min(limit, bound);
        if (cap && (*cap)[r] >= 0) limit = std::min(limit, std::max(fastest, (*cap)[r]));
        std::size_t pick = c.size();
        for (std::size_t n = 0; n < count; ++n) {
          const std::size_t i = timed[n];
          const MapCandidate& x = c[i];
          if (x.timed_cycles < 0 || x.sram_bytes > budget || at(i) > budget || x.timed_cycles > limit) continue;
          if (pick == c.size() || std::make_tuple(x.dram_bytes, x.timed_cycles, i) <
                                      std::make_tuple(c[pick].dram_bytes, c[pick].timed_cycles, pick))
            pick = i;
        }
        if (rung_cycles) (*rung_cycles)[r] = c[pick].timed_cycles;
        bound = c[pick].timed_cycles;
        chosen = pick;
      }
      return chosen;
    };
    std::vector<double> default_cycles(budgets.size(), -1);
    const std::size_t d = per_rung(default_timed, &default_chosen_at, nullptr, &default_cycles);
    if (d != c.size()) default_best = d, any_default = true;
    const std::size_t t = opt.effort == MapperEffort::Thorough ? per_rung(timed.size(), nullptr, &default_cycles, nullptr) : d;
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
