#pragma once
// The mapper's search: candidates ranked by an analytical cost, the best few timed with the program
// timer (program_timer.h), the fastest kept. Plain C++.
//
// Effort levels:
//   fast      the analytical cost alone (no program is timed);
//   default   for every budget of the capacity ladder (ladder_budgets: the SRAM budget, each
//             capacity / 2^i below it and each power of two below it), the kDefaultTimed
//             analytically best candidates that fit it are timed (a design with twice or four times
//             the SRAM, or with a power of two of it when the smaller one's is a power of two, times a
//             superset of what the smaller one times, so that more SRAM never loses to its own smaller
//             self through a ranking error);
//   thorough  the same with kThoroughTimed per budget over a wider mapspace (tile sizes that are
//             any multiple of the array side up to 16 of them), and everything default times; when
//             its fastest differs from default's pick, the two are timed again on the whole program
//             (time_whole: the slices' extrapolation can err either way) and the faster kept, so
//             that it never picks a slower schedule than default.
// The ladder goes down until no candidate fits, in pick_mapping and in the cascade mapper alike: a
// ladder stopping a fixed number of rungs below the capacity would start a smaller design's on rungs the
// larger one never tries (unfused on edge 16x16, 2 and 8 MiB: 32 KiB against 128 KiB).
// Ties are broken by fewer DRAM bytes, then by the candidates' own order: results are deterministic.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/hw_config.h"
#include "ir/tile_program.h"
#include "mapper/mapping.h"
#include "mapper/program_timer.h"

namespace attnsim {

enum class MapperEffort : std::uint8_t { Fast, Default, Thorough };
const char* to_string(MapperEffort e);
// "fast", "default", "thorough"; false for anything else.
bool parse_mapper_effort(const std::string& s, MapperEffort* out);

struct CascadePickMemo;  // cascade_search.cpp: search_cascade's picks by op signature
struct GemmPickMemo;     // compiler/gemm_lowering.cpp: choose_gemm_tiling's picks by GEMM signature

// What one compilation has already worked out (ops repeat across layers): timings by candidate key,
// and whole cascade searches by the op's signature, so that identical layers are searched once.
struct MapperCache {
  std::map<std::string, double> timed_cycles;
  std::shared_ptr<CascadePickMemo> cascade_picks;
  std::shared_ptr<GemmPickMemo> gemm_picks;
};

struct MapperOptions {
  MapperEffort effort = MapperEffort::Default;
  std::uint64_t seed = 0;          // for the thorough effort's random sample of the mapspace
  const ModelMapping* fixed = nullptr;  // choices the user fixed (--mapping FILE), by op name
  MapperCache* cache = nullptr;    // shared by the ops of one compilation (compile_model makes one)
};

inline constexpr int kDefaultTimed = 4;
inline constexpr int kThoroughTimed = 16;
// Estimates within this fraction of the best are near ties worth timing for their DRAM bytes (a
// compute-bound op has many near ties that move very different bytes).
inline constexpr double kAsFastEstimate = 0.02;
// Timed cycles within this fraction of the fastest count as as fast: the fewer DRAM bytes win.
inline constexpr double kAsFast = 0.005;

// The capacity ladder's budgets, smallest first, the capacity last: capacity / 2^i for every i >= 1
// and every power of two below the capacity, down to 1 B (callers skip the rungs nothing fits). The
// rungs of a capacity c are among those of 2c, and of any power of two above c when c is one; below
// c they are the same rungs, so that a ladder's rung-by-rung picks (cascade_search.h) reach the
// smaller design's pick on its rung.
std::vector<std::uint64_t> ladder_budgets(std::uint64_t capacity);

// One candidate schedule of an op.
struct MapCandidate {
  double analytic_cycles = 0;       // the analytical estimate the ranking starts from
  std::uint64_t dram_bytes = 0;     // estimated DRAM traffic (tie-break)
  std::uint64_t sram_bytes = 0;     // SRAM the schedule needs (for the capacity ladder)
  // Times the candidate (with the program timer, on the whole program or on representative slices
  // extrapolated); null: the candidate cannot be timed and keeps its analytical rank.
  std::function<double()> time;
  // Times it on the whole program when `time` extrapolates from slices; null: `time` is exact. The
  // thorough effort compares its pick with default's by this, so that it never picks a slower one.
  std::function<double()> time_whole;
  double timed_cycles = -1;         // filled in by pick_mapping when timed
  // The smallest ladder budget whose rung chose the candidate for timing (pick_mapping; the cascade
  // mapper's own rules): a rung-by-rung pick counts a timed candidate on a rung only from there up,
  // so that what a larger design times for its upper rungs never changes its picks on the lower ones.
  std::uint64_t chosen_at = ~std::uint64_t(0);
  bool wide = false;                // offered only by the thorough effort's wider mapspace
  std::string key;                  // identifies the schedule within one compilation (for the cache)
};

// Returns the index of the chosen candidate (candidates must not be empty); fills timed_cycles of
// the candidates it timed. `capacity` is the SRAM budget the candidates were filtered by.
// fewest_bytes (the GEMM mapper): each rung also times the kDefaultTimed (thorough: kThoroughTimed)
// candidates with the fewest DRAM bytes among those whose estimate is within kAsFastEstimate of the
// rung's best, and the pick is made rung by rung as the cascade mapper's (cascade_search.h): the
// fewest bytes among the timed options within kAsFast of the rung's fastest and no slower than the
// rung below's pick (thorough: nor than default's pick on the rung), so that more SRAM never costs
// timed cycles. Without it, the fastest timed.
std::size_t pick_mapping(std::vector<MapCandidate>& candidates, std::uint64_t capacity, const MapperOptions& opt,
                         bool fewest_bytes = false);

// One option per rung: cycles, DRAM bytes, and which (candidate, structure) it is; cycles < 0: none.
struct RungPick {
  double cycles = -1;
  std::uint64_t bytes = 0;
  std::size_t index = 0;
};

// Picks rung by rung, smallest budget first, among options[rung] (each with its cycles and bytes):
// the fewest DRAM bytes (then the fewest cycles, or the first, then the first) among the options within kAsFast of
// the rung's fastest and no slower than the pick of the rung below (itself an option there: the
// options of a rung include those of the rungs below). A design with half the SRAM has the same
// options on its rungs (the ladder times a superset), so it makes the picks of the rungs
// below and never gets a faster one: more SRAM never loses, in the timer's cycles.
// by_order: among the fewest bytes, the first option (structures in the caller's order of preference).
// caps (per rung, < 0: none): a rung's pick is also no slower than its cap, unless the rung's fastest is.
// A rung without options keeps cycles < 0.
std::vector<RungPick> pick_per_rung(const std::vector<std::vector<RungPick>>& options, bool by_order = false,
                                    const std::vector<double>* caps = nullptr);

// Cycles of a program from the timer, extrapolated linearly from two slices of a repetitive one:
// t(reps) = t(a) + (t(a + 1) - t(a)) (reps - a), with emit(sink, r) emitting the first r repetitions
// and a = first (1 unless given; for reps <= a, the program of reps repetitions timed whole). The
// slices capture the exposed first loads and last stores once and the steady state's overlap; a
// program whose first repetitions differ from the rest (a GEMM's lead block: its first outer tiles
// share the inner operand's loads) passes first = those repetitions + 1, so that the difference of
// the slices is a repetition of the steady state.
double time_extrapolated(const HwConfig& hw, std::int64_t reps,
                         const std::function<void(ProgramSink&, std::int64_t)>& emit, std::int64_t first = 1);

}  // namespace attnsim
