#pragma once
// The mapper over cascade mappings (cascade/mapping.h): for a bound cascade, the hardware and an
// SRAM budget, it enumerates legal mappings, ranks them with a closed-form estimate, times the best
// few with the program timer (program_timer.h) through the generic lowering (cascade/lower.h) and
// keeps the fastest. Deterministic: candidates are enumerated in a fixed order and ties go to the
// earlier one (search.h, pick_mapping).
//
// The mapspace, by structure (a caller may restrict the search to some, as the vanilla variants do):
//   Online     one fused group looping over the output's row rank R and a softmax's rank P with a
//              key tile smaller than P: the online softmax (flash);
//   RowBlocks  one fused group looping over R in blocks smaller than R, P whole (its score rows on
//              chip), P streamed in chunks of the array side or not (row-fused);
//   Whole      one fused group, R and P whole: the whole score matrix on chip (unfused on chip);
//   Spilled    one group per step: every intermediate through DRAM; each group searched alone (a
//              barrier separates them, so their cycles add up). Every tensor has the same buffering
//              depth, 3 (the DMA a tile ahead of the array's fill and drain on the streams of tiles
//              through DRAM) or 2, each depth its own search; per group, its contraction's re-read
//              input (K, V) resident with one or two heads' slots, and its contraction output in the
//              accumulator storage (only the group writing it places it there), so that every group is
//              timed with the buffers it is emitted with. A contraction's group loops over its output's
//              ranks, the longer one outermost (the sliced timing cuts that loop), and optionally its
//              summed rank innermost; the row-wise group over its rows, blocks of fewer than 16 rows only
//              when no larger block fits.
// Per candidate, besides the loops: the buffering depth of the on-chip intermediates (1 or 2; DRAM
// operands always 2), and, when the hardware has accumulator storage, whether the contraction
// outputs of a group (the running outputs, they and the scores, or the scores alone) are placed there or packed in
// the SRAM; for Online and RowBlocks, whether the DRAM inputs every query block reads again (K and V)
// are resident (cascade/mapping.h: whole per instance on chip, each tile loaded once), with two
// instances' slots or one. The thorough effort adds tiles that are any multiple of the array side up to 16 of them.
//
// Estimate per group and instance (the units overlap when every on-chip intermediate is double
// buffered, else the compute units serialise):
//   max(array, softmax, vector, DRAM bytes / bandwidth)  or  max(array + softmax + vector, DRAM)
//   + the exposed first load and last store (a tile each, plus the DRAM latency),
// with each step's work from the closed forms (timing/) summed over its runs: a step runs once per
// iteration of the loops enclosing its innermost own loop; a DRAM operand is reloaded whenever a
// loop outside its innermost own loop advances, unless all of its tiles fit in its two slots or it
// is resident (with one slot, each instance's first tile also waits for the previous instance's reads).
// Timing: the whole group when it has at most 4096 iteration points (instances x loop trips x key
// chunks); else one instance, the outermost loop (or the instances, when a group has no loop) cut to
// one and two iterations, extrapolated linearly to all of them (search.h, time_extrapolated). Causal
// masks are left out of the timing (every candidate alike), except for the Spilled structure's
// groups that skip masked tiles across DRAM (cascade/lower.h): estimated and timed whole with the
// mask, their slices timed without it and scaled by the share of the scores the group covers (the
// outer loop's iterations differ in work), so that its smaller tiles, which skip more, can win; a
// group reading the causal softmax's output is charged with the work its tiles add to the group
// writing it (which writes as far as its readers reach), over that group under the starting mapping.
//
// The choice: the capacity ladder of search.h times, per structure and per group, a superset of what a
// smaller SRAM times (its best few by the estimate per rung, per rung the fewest-bytes candidate
// among those estimated within 2 % of the rung's best, and the resident variants of every candidate
// timed). Among the timed, a mapping within 0.5 % of the fastest that moves fewer DRAM
// bytes is preferred (a flash kernel within 0.02 % of the fastest that keeps K and V resident moves 6x
// fewer), bounded rung by rung of the ladder (search.h, ladder_budgets, smallest first) by the pick of
// the rung below, so that more SRAM never picks a slower mapping as timed; the same among the
// structures' picks, ties in bytes going to the structure listed first. A timed candidate is an option
// of a rung only when a rung no larger chose it for timing (MapCandidate::chosen_at): the rung-by-rung
// picks of a larger design are then the smaller one's on every rung they share, whatever the larger one
// times for its upper rungs. Guaranteed for SRAMs whose bank of an
// address does not depend on the bank size (interleaved, as the presets): with contiguous banks a
// larger bank moves the same layout onto fewer banks' ports.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cascade/cascade.h"
#include "cascade/mapping.h"
#include "config/hw_config.h"
#include "mapper/search.h"

namespace attnsim {

enum class CascadeStructure : std::uint8_t { Online, RowBlocks, Whole, Spilled };
const char* to_string(CascadeStructure s);

struct CascadeSearchSpec {
  std::vector<CascadeStructure> structures;  // searched, in this order (ties go to the earlier)
  std::int64_t instances = 1;                // instances (heads) the op runs: scales the estimate
  // Tile factors fixed by name of rank (a user's mapping of the legacy kinds: flash m, p; row_fused m).
  std::vector<std::pair<int, std::int64_t>> fixed_tiles;
  // Candidates estimated to move more DRAM bytes per instance than this are dropped (0: no limit).
  std::uint64_t max_dram_bytes = 0;
  // Split-K counts (cascade/mapping.h, splits) tried on every Online candidate, e.g. a decode step's
  // attention: each a variant timed whenever its one-chain candidate is (the estimate does not see the
  // chains' overlap); the same DRAM bytes, so the faster wins by the fewest-bytes rule's cycles.
  std::vector<int> splits;
};

// One candidate: a legal mapping within the budget and its estimate.
struct CascadeCandidate {
  cascade::Mapping mapping;
  CascadeStructure structure = CascadeStructure::Whole;
  int group = 0;  // the group it varies (Spilled: each group is searched alone)
  MapCandidate est;
  int resident_of = -1;  // a variant keeping inputs resident: the index of the same mapping without
  int split_of = -1;     // a split-K or issue-order (ahead) variant: the index of the same mapping with one
                         // chain in the default order
  int depth = 0;         // Spilled: the buffering depth of every tensor not kept resident (3 or 2)
};

// The structure's candidates within `capacity`, in enumeration order. For Spilled, the candidates of
// every group, each a whole mapping whose other groups hold their smallest legal choice.
std::vector<CascadeCandidate> cascade_candidates(const cascade::Cascade& c, const HwConfig& hw, std::uint64_t capacity,
                                                 CascadeStructure s, const CascadeSearchSpec& spec,
                                                 MapperEffort effort);

struct CascadePick {
  cascade::Mapping mapping;
  CascadeStructure structure = CascadeStructure::Whole;
  double cycles = 0;             // timed (or, at the fast effort, estimated) per the spec's instances
  std::uint64_t dram_bytes = 0;  // estimated, per instance
  std::uint64_t sram_bytes = 0;  // the largest group footprint
};

// The fastest mapping over the spec's structures; a UserError naming `what` and the structures
// when none has a candidate within the budget.
CascadePick search_cascade(const cascade::Cascade& c, const HwConfig& hw, std::uint64_t capacity,
                           const CascadeSearchSpec& spec, const MapperOptions& opt, const std::string& what);

// Cycles of a legal mapping's group as the mapper times them (one instance, extrapolated to
// `instances`); for tests.
double time_cascade_group(const cascade::Cascade& c, const cascade::Mapping& m, int group, const HwConfig& hw,
                          std::uint64_t capacity, std::int64_t instances);

// ---------------------------------------------------------------------------------------------
// Multi-group cascades (the low-rank variants: primal, primal_causal, lowrank_linear, linformer,
// performer, nystromformer; a user's cascade variant): the mapspace around the variant's default mapping, whose
// groups (and so its barriers and spills) are kept. Per group: the tile of every rank it loops over
// and the chunk of every rank it streams (rank_tiles: powers of two times the array side, halvings
// below it, the extent; the thorough effort adds the other multiples of the side up to 16 of them;
// and the even splits of the extent; at most 2048 rows, as the token-tile planners, so that the
// buffers stay independent of N); a group the default runs whole may loop over the rank its
// contractions sum over (primal's sample chunks); a group the default interleaves may take fewer heads
// per pass (1, 2, 4, ..., below the default's: Linformer's projections); the buffering depth of the on-chip intermediates
// only it uses (the default's, all 1, all 2); and, when the hardware has accumulator storage, its own
// contraction outputs (the cascade's outputs first) placed there. A tensor that two groups share keeps
// the default's choices, so the groups stay independent: a barrier separates them, each is searched
// alone with the others at the default and their cycles add (as the spilled structure's).
// Timing as the vanilla search's (time_grouped_group: longer slices; an interleaved group's slices
// hold one chunk of heads; inputs the cascade declares shared are one DRAM block for every head);
// every candidate of a group whose
// mapspace has at most 64 of them is timed. The default mapping of every rung's budget of the capacity
// ladder (default_of(budget)) is one candidate per group and is timed; on every rung the pick is the
// fewest-bytes rule's among the timed within the budget (a rung keeping the pick of the rung below
// unless another is 1 % faster), bounded by the pick of the rung below and by that rung's default as
// timed, so the searched mapping is never slower than the default, and more SRAM never slower, as
// timed.
// Fast effort: the default mapping (the estimate alone is too coarse on these groups to leave it), and
// its estimate.

// The variant's default mapping for an SRAM budget; a UserError when nothing fits it.
using DefaultMapping = std::function<cascade::Mapping(std::uint64_t capacity)>;

// Group `group`'s candidates within `capacity` (whole mappings: the other groups at `base`'s choices),
// in enumeration order; those that are a rung's default come first, rung by rung, smallest budget first.
std::vector<CascadeCandidate> grouped_candidates(const cascade::Cascade& c, const HwConfig& hw, std::uint64_t capacity,
                                                 const DefaultMapping& default_of, int group, std::int64_t instances,
                                                 MapperEffort effort);

struct GroupedPick {
  cascade::Mapping mapping;
  double cycles = 0;             // timed (fast effort: estimated), summed over the groups, for the instances
  double default_cycles = 0;     // the full budget's default mapping, as the same measure
  std::uint64_t dram_bytes = 0;  // estimated, per instance
};

// Cycles of a legal mapping's group as the multi-group search times them: time_cascade_group, except
// that a group too large to time whole is extrapolated from longer slices (cascade_search.cpp).
double time_grouped_group(const cascade::Cascade& c, const cascade::Mapping& m, int group, const HwConfig& hw,
                          std::uint64_t capacity, std::int64_t instances);

// The searched mapping (source "mapper"); a UserError naming `what` when the default fits nowhere.
GroupedPick search_grouped_cascade(const cascade::Cascade& c, const HwConfig& hw, std::uint64_t capacity,
                                   const DefaultMapping& default_of, std::int64_t instances, const MapperOptions& opt,
                                   const std::string& what);

// The cascade mapping a user's --mapping FILE fixes for op `name` (kind "cascade"), checked against
// the op's cascade and the SRAM budget: every problem at once, each naming the file and
// /ops/NAME/mapping/...; another kind is a UserError at /ops/NAME/kind.
cascade::Mapping fixed_cascade_mapping(const cascade::Cascade& c, const HwConfig& hw, std::uint64_t capacity,
                                       const ModelMapping& file, const std::string& name);
// What --emit mapping prints for an op mapped by a cascade mapping: kind "cascade" and the mapping.
OpMapping cascade_op_mapping(const cascade::Cascade& c, const cascade::Mapping& m);

}  // namespace attnsim
