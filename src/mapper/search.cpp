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

std::size_t pick_mapping(std::vector<MapCandidate>& c, std::uint64_t capacity, const MapperOptions& opt) {
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
  auto ladder = [&](std::size_t top, bool include_wide) {
    std::uint64_t budget = capacity;
    for (int step = 0; step <= kLadderSteps && budget > 0; ++step, budget /= 2) {
      std::size_t taken = 0;
      for (std::size_t i : order) {
        if (taken == top) break;
        if (c[i].sram_bytes > budget || (c[i].wide && !include_wide)) continue;
        ++taken;
        if (std::find(timed.begin(), timed.end(), i) == timed.end()) timed.push_back(i);
      }
      if (taken == 0) break;
    }
  };
  ladder(kDefaultTimed, false);
  if (opt.effort == MapperEffort::Thorough) ladder(kThoroughTimed, true);
  std::size_t best = order.front();
  bool any = false;
  for (std::size_t i : timed) {
    if (!c[i].time) continue;
    if (opt.cache && !c[i].key.empty()) {
      auto it = opt.cache->timed_cycles.find(c[i].key);
      if (it == opt.cache->timed_cycles.end()) it = opt.cache->timed_cycles.emplace(c[i].key, c[i].time()).first;
      c[i].timed_cycles = it->second;
    } else {
      c[i].timed_cycles = c[i].time();
    }
    auto key = [&](std::size_t j) { return std::make_tuple(c[j].timed_cycles, c[j].dram_bytes, j); };
    if (!any || key(i) < key(best)) best = i, any = true;
  }
  return best;
}

}  // namespace attnsim

namespace attnsim {

double time_extrapolated(const HwConfig& hw, std::int64_t reps,
                         const std::function<void(ProgramSink&, std::int64_t)>& emit) {
  const double t1 = double(time_program(hw, [&](ProgramSink& s) { emit(s, 1); }).cycles);
  if (reps <= 1) return t1;
  const double t2 = double(time_program(hw, [&](ProgramSink& s) { emit(s, 2); }).cycles);
  return t1 + (t2 - t1) * double(reps - 1);
}

}  // namespace attnsim
