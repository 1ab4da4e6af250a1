#pragma once
// The mapper's search: candidates ranked by an analytical cost, the best few timed with the program
// timer (program_timer.h), the fastest kept. Plain C++.
//
// Effort levels:
//   fast      the analytical cost alone (no program is timed);
//   default   for the SRAM budget and each budget capacity / 2^i below it, the kDefaultTimed
//             analytically best candidates that fit it are timed (the "capacity ladder": a design
//             with twice the SRAM times a superset of what the smaller one times, so that more SRAM
//             never loses to its own smaller self through a ranking error);
//   thorough  the same with kThoroughTimed per budget over a wider mapspace (tile sizes that are
//             any multiple of the array side up to 16 of them), and everything default times; when
//             its fastest differs from default's pick, the two are timed again on the whole program
//             (time_whole: the slices' extrapolation can err either way) and the faster kept, so
//             that it never picks a slower schedule than default.
// pick_mapping's ladder goes down until no candidate fits (more SRAM never loses to any smaller
// design whose capacity is the larger one's / 2^i); the cascade mapper's stops at capacity / 2^kLadderSteps.
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
// The capacity ladder goes down to capacity / 2^kLadderSteps (design sweeps step SRAM by 2x or 4x).
inline constexpr int kLadderSteps = 6;

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
  bool wide = false;                // offered only by the thorough effort's wider mapspace
  std::string key;                  // identifies the schedule within one compilation (for the cache)
};

// Returns the index of the chosen candidate (candidates must not be empty); fills timed_cycles of
// the candidates it timed. `capacity` is the SRAM budget the candidates were filtered by.
std::size_t pick_mapping(std::vector<MapCandidate>& candidates, std::uint64_t capacity, const MapperOptions& opt);

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
