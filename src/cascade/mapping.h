#pragma once
// A mapping: how a cascade (cascade.h) runs on the hardware. Plain C++.
//
// - Groups: the steps are split into fused groups, in order. Each group is one loop nest (and one
//   phase of the tile program, barriers in between); a tensor written in one group and read in a
//   later one is spilled to DRAM (the caller gives it a DRAM block), every other intermediate
//   stays on chip. All instances (heads) of a group run before the next group starts, so a
//   reduction that must finish before its consumer (a low-rank variant's K^T V over all N: a
//   global barrier) is a group boundary.
// - Loops, per group, outer to inner: a rank and its tile size. Every step of the group runs
//   inside the loops over its own ranks; a step that does not use an inner loop's rank runs once
//   per outer iteration (at that loop's first index, or at its last when it reads a result summed
//   over that loop). A rank the group does not loop over is whole in every tile. A contraction's
//   summed loop is normally inside the loops over its output's ranks; outside them (a GEMM with k in
//   the middle: m, k, n) each output tile stays open over it, so the output needs a slot per tile the
//   loops inside give (one group, two operands read from DRAM), and a step reading the sum runs at
//   the summed loop's last index.
// - Stream, per group: a rank the group does not loop over, with a chunk size: each step over it
//   walks it in chunks, so DRAM operands are loaded a chunk at a time while on-chip tensors keep the
//   whole rank (row-fused attention streams K and V by key chunks into whole score rows).
// - Resident, per group: DRAM inputs of the group kept whole on chip for an instance (a head): the
//   buffer holds all of the instance's tensor, each tile (the tile the loops and chunks above move) is
//   loaded at its first use and read from there by every later iteration (flash's K and V, loaded on
//   the first pass over the query tiles and reused by the others). The buffering depth counts whole
//   instances: 2 lets the next head's tensor load while this one is read.
// - Interleave, per group: instances (heads) per pass, run as the innermost loop of the group's nest
//   (default 1: every instance's whole nest before the next). With k > 1, chunks of k instances walk
//   the loops together, so a tile of an input every instance reads from the same DRAM block (a weight
//   shared by the heads, cascade.h's "shared") is loaded once per chunk, not once per head
//   (Linformer's E and F along the tokens, each head's K~ = E K accumulating meanwhile). Each tensor
//   the group writes has its slots once per instance of the chunk; other tensors keep theirs.
// - Per tensor: buffering depth (1 to kMaxSlots slots; 2 lets the next tile load or compute while this one
//   is used; 3 lets a DRAM stream run a whole tile ahead: the load into a slot (the store out of it)
//   then waits for the step that used it two tiles before, not for the one just before, whose fill
//   and drain would otherwise leave the bus idle on every tile; more keep earlier tiles on chip, a DRAM
//   tile read again from the slot still holding it) and optionally where its buffers go: the bank they
//   start at, or each slot's byte address
//   (placement; otherwise packed in tensor order). Overlapping slots are an error. A slot address
//   past the SRAM is in the accumulator storage when the hardware declares one (hw_config.h: the
//   array's partial sums there use no SRAM port); such slots count against that storage, not the SRAM.
//   They place the tensor in the group that writes it: a later group loading it from DRAM (the
//   softmax's group reading a spilled S) packs its buffer in the SRAM.
// - In place, per tensor: a map step's output written over the tile of its input it is computed from
//   ("placement": {"Y": {"in_place": "C"}}): no buffer of its own, the input's slot (its element
//   size) holds the result, which is stored from there (a GEMM's epilogue on the finished accumulator
//   tile). The input must be written in the same group, have the output's ranks, stay on chip and be
//   read by that step only; the step must be element-wise (not l2norm, prefix_mean or add_row).
// - Per step, the unit that runs it (contraction: array; softmax: softmax when the hardware has
//   one, else vector; map, reduce: vector; gather: load). The tile program routes SOFTMAX by the hardware, so the
//   unit is checked, not chosen.
// A softmax over a rank its group loops over runs in the online form; over a whole rank, row-wise.
// - Splits, per group (split-K, as flash-decoding): the tiles of the online softmax's key loop (the
//   group's innermost loop) cut into `splits` contiguous runs, each an independent online softmax
//   with its own running statistics and output accumulator; the runs are walked interleaved (tile t
//   of every run, then tile t + 1), so no run waits for another's rescale, and combined when all are
//   complete (SmOp::Merge of the statistics, each accumulator rescaled, summed, normalised once). The
//   accumulator and the statistics take a slot per run. Every step of the group runs over that rank;
//   not with a causal mask; at most kMaxSplits and at most the number of key tiles.
//
// - Chain, per group (default false): a contraction continuing its sum on the tile the array's
//   previous GEMM wrote (the next K step right after the last) does not wait for that GEMM to complete:
//   the array accumulates in order, so chained GEMMs (hw gemm_chaining) overlap their fill and drain
//   (a GEMM's K steps, as compiler/gemm_lowering emits them).
//
// - Lead, per group (default 0): the first `lead` tiles of the outermost loop run as one block with
//   the loop order reversed (the innermost loop outermost, the outermost innermost), then the rest of
//   that loop in the given order: a GEMM's lead block (compiler/gemm_lowering.h), k outermost over its
//   first rows, so that each tile of a resident operand, loaded when first needed, serves every row of
//   the block at once. A contraction's tiles the block walks stay open over its summed loop: the output
//   needs a slot each. Not with splits, interleave, a causal mask or several groups.
//
// - Ahead, per group (1 or 2, default 1): where the overlapped steps (lower.h: the steps up to the first
//   reader of a contraction's result, flash's Q K^T) of a later point are issued. 1: those of point
//   n + 1 before the rest of point n (QK(j+1), softmax(j), P V(j)). 2: those of point n + 2 after the
//   steps of point n that read what they write, before the others (softmax(j), QK(j+2), P V(j)): the
//   array runs Q K^T(j + 2) before P V(j), as soon as softmax(j) frees the S slot, so the next step on
//   the softmax unit no longer waits for P V(j) and then Q K^T behind it (the loop through the softmax
//   unit spans two blocks' P V instead of a P V and a Q K^T each; with split-K runs, more). The slots
//   are those of 1 (two of what the lookahead steps write), except a DRAM tensor read both ahead and
//   behind (three). Needs the overlap (the check says why a group has none).
//
// JSON form (--emit mapping prints it, --mapping FILE reads it; README "Cascades"):
//   {"cascade": "vanilla",
//    "groups": [{"steps": ["S", "P", "O"],                 // outputs of the steps, in order
//                "loops": [{"rank": "m", "tile": 128}, {"rank": "p", "tile": 64}],
//                "stream": {"p": 64},                       // optional
//                "resident": ["K", "V"],                    // optional
//                "interleave": 2,                           // optional, default 1
//                "splits": 4,                               // optional, split-K (above)
//                "chain": true,                             // optional, default false (above)
//                "lead": 2,                                 // optional, default 0 (above)
//                "ahead": 2}],                              // optional, default 1 (above)
//    "buffers": {"S": 2, "K": 3},                           // optional, 1 to 65536, default 2 per tensor
//    "placement": {"S": {"bank": 4}, "P": {"at": [0, 65536]}},  // optional: first bank, or each slot's byte
//                                                                 // address, or {"in_place": "S"} (above)
//    "units": {"S": "array", "P": "softmax"}}               // optional
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "cascade/cascade.h"
#include "config/hw_config.h"
#include "config/json_reader.h"

namespace attnsim::cascade {

struct Loop {
  int rank = -1;
  std::int64_t tile = 0;
};

struct GroupMapping {
  std::vector<int> steps;    // step indices, increasing
  std::vector<Loop> loops;   // outer to inner
  std::vector<Loop> stream;  // rank and chunk size
  std::vector<int> resident;  // DRAM input tensors kept whole per instance, in the order given
  int interleave = 1;         // instances per pass, innermost (above)
  int splits = 1;             // split-K runs of the online softmax's key loop (1: one serial chain)
  bool chain = false;         // a contraction's next step on its open tile does not wait for the array (below)
  int lead = 0;               // the first `lead` tiles of the outermost loop walked in reversed loop order (below)
  int ahead = 1;              // points ahead the overlapped steps are issued (below)
};
inline constexpr int kMaxAhead = 2;
inline constexpr int kMaxInterleave = 64;

inline constexpr int kMaxSplits = 16;
// Slots a buffer may have (a split accumulator one per run; a GEMM's lead block a C tile each, and its
// resident outer panels lead + 1 sets of K tiles; k in the middle two C tiles per inner tile: a GEMM
// translated from its tiling takes what the tiling needs, 64 x 4 = 256 C tiles on cloud's N = 16K).
inline constexpr int kMaxSlots = 65536;
// Slots whose per-slot values a mapping or a plan holds inline (SlotArray).
inline constexpr int kInlineSlots = 64;

// A value per slot of a buffer, `fill` where none was set: the first kInlineSlots inline, so that
// copying a mapping or a plan (the mapper does it per candidate) allocates nothing for the usual
// depths; the slots past them on the heap, grown when one is written.
template <typename T, T fill>
class SlotArray {
 public:
  SlotArray() { std::fill(std::begin(head_), std::end(head_), fill); }
  // Reading through a non-const array past the slots held grows it (with `fill`), as writing does.
  T& operator[](int i) {
    if (i < kInlineSlots) return head_[i];
    const std::size_t j = std::size_t(i - kInlineSlots);
    if (j >= tail_.size()) tail_.resize(j + 1, fill);
    return tail_[j];
  }
  T operator[](int i) const {
    if (i < kInlineSlots) return head_[i];
    const std::size_t j = std::size_t(i - kInlineSlots);
    return j < tail_.size() ? tail_[j] : fill;
  }
  // The slots held: kInlineSlots, more once a later one was written.
  int size() const { return kInlineSlots + int(tail_.size()); }
  void reset() {
    std::fill(std::begin(head_), std::end(head_), fill);
    tail_.clear();
  }
  // Iteration over the slots held (size()).
  template <typename A, typename R>
  class Iter {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = R;
    Iter(A* a, int i) : a_(a), i_(i) {}
    R operator*() const { return (*a_)[i_]; }
    Iter& operator++() { return ++i_, *this; }
    Iter operator++(int) { Iter o = *this; ++i_; return o; }
    bool operator==(const Iter& o) const { return i_ == o.i_; }
    bool operator!=(const Iter& o) const { return i_ != o.i_; }
   private:
    A* a_;
    int i_;
  };
  Iter<SlotArray, T&> begin() { return {this, 0}; }
  Iter<SlotArray, T&> end() { return {this, size()}; }
  Iter<const SlotArray, T> begin() const { return {this, 0}; }
  Iter<const SlotArray, T> end() const { return {this, size()}; }

 private:
  T head_[kInlineSlots];
  std::vector<T> tail_;
};

struct TensorMapping {
  int buffers = 2;                // 1 to kMaxSlots (2: double buffering; more: tiles kept for reuse)
  int bank = -1;                  // first bank of its buffers (-1: packed after the previous buffer)
  SlotArray<std::int64_t, -1> at;  // byte address of each slot (-1: placed by bank or packed)
  int in_place = -1;              // the tensor whose slots this one's tiles overwrite (below), -1
};

enum class Unit : std::uint8_t { Array, Vector, Softmax, Load /* the load DMA: a gather */ };
const char* to_string(Unit u);

struct Mapping {
  std::string source;  // file, or "generated"
  std::vector<GroupMapping> groups;
  std::vector<TensorMapping> tensors;  // per cascade tensor
  std::vector<Unit> units;             // per step
};

// The unit a step runs on for this hardware.
Unit unit_of(const Cascade& c, int step, const HwConfig& hw);

// ---------------------------------------------------------------------------------------------
// What a mapping means on a given hardware: the plan the lowering follows and the checker reports.

struct BufferPlan {
  int tensor = -1;                // cascade tensor, or -1 - step for an online softmax's stats or a step's scratch
  const char* scratch = nullptr;  // a step's scratch buffer (pinv): its name after the step's output's
  std::int64_t rows = 0, cols = 0;
  int elem_bytes = 0;
  int depth = 1;
  SlotArray<std::uint64_t, 0> addr;  // each slot's byte address
  // A sum of two contractions runs as one GEMM over the concatenated operands when the two first
  // operands sit side by side ([A1 | A2], row stride ld) and the two second ones one above the other
  // ([B1; B2]): the second of each pair lives inside the first's slots (host, at host_offset bytes).
  std::int64_t ld = 0;             // elements between row starts (0: cols)
  std::uint64_t hosted_bytes = 0;  // bytes of a partner stacked below this buffer's rows
  int host = -1;                   // index of the buffer this one lives in (-1: its own bytes)
  std::uint64_t host_offset = 0;
  // A resident tensor (GroupMapping::resident): rows x cols is the whole instance; each tile the loop
  // nest moves (cell_rows x cell_cols, shorter at the ends) is loaded once per instance.
  bool resident = false;
  std::int64_t cell_rows = 0, cell_cols = 0;
  // An interleaved group's written tensor: its slots once per instance of the chunk. Slot k of copy j
  // (the lowering's slot j * depth + k) is at addr[k] + j * align64(slot_bytes()): addr[k] starts a
  // span of `copies` slots.
  int copies = 1;
  std::uint64_t slot_bytes() const;
  std::uint64_t span_bytes() const;              // the bytes from addr[k] that slot k's copies take
  std::uint64_t slot_addr(int physical) const;  // physical slot j * depth + k
};

// A buffer's name in reports and messages: the tensor's, "P.stats", or "Z.AZ" for a step's scratch.
std::string buffer_name(const Cascade& c, const BufferPlan& b);
// pinv's scratch buffers, in the order the plan lays them out (lower.cpp uses them by index).
enum PinvScratch { kPinvColSum, kPinvColMax, kPinvZacc, kPinvAZ, kPinvAZop, kPinvX, kPinvT, kPinvScratchCount };

struct GroupPlan {
  GroupMapping map;
  std::int64_t stream_chunk[kMaxRanks] = {};  // per rank, 0: not streamed
  int loop_depth[kMaxRanks] = {};             // per rank, -1: not looped
  std::vector<int> buffer_of;                 // per cascade tensor: index into buffers, -1 unused
  std::vector<int> stats_buffer;              // per step: the online softmax's stats buffer, -1
  std::vector<int> scratch_buffer;            // per step: its first scratch buffer (pinv), -1
  std::vector<char> dram;                     // per cascade tensor: loaded from / stored to DRAM here
  std::vector<char> chunked;                  // per cascade tensor: a DRAM tensor every step here walks in
                                              // chunks of the streamed rank (its buffer holds one chunk)
  std::vector<char> online;                   // per step: online softmax
  std::vector<int> online_of;                 // per step: a contraction's online softmax producer of its A, -1
  std::vector<std::uint32_t> at_last;         // per step: bit i set = runs at loop i's last index
  std::vector<char> lookahead;                // per step: issued one iteration ahead (see lower.h)
  bool hoist = false;
  int mask_step = -1;  // the causal softmax whose mask lets steps skip tiles
  // Causal skipping across groups (lower.h): the mask applies here although a tensor over both masked
  // ranks crosses DRAM (or the causal softmax is in another group). A step over both ranks that keeps
  // the key rank whole (not looped) runs over the keys up to its row tile's last query (rounded up to
  // the chunk when streamed); the softmax writing its output to DRAM writes further, up to where
  // every later group reading it stops: per reader (row tile, key tile), a row tile ending at L needs
  // the keys up to the end of the key tile holding min(N, L rounded up to the reader's row tile).
  bool cross_mask = false;
  std::vector<std::pair<std::int64_t, std::int64_t>> mask_readers;  // (row tile, key tile) of each reader
  int split_step = -1;  // splits > 1: the online softmax whose key loop is split (its rank: split_rank)
  int split_rank = -1;
  std::vector<BufferPlan> buffers;
  std::uint64_t footprint = 0;  // SRAM bytes (end of the last buffer)
};

struct CascadePlan {
  const Cascade* cascade = nullptr;
  std::vector<GroupPlan> groups;
  std::vector<int> spilled;  // intermediates that go through DRAM (the caller binds their blocks)
};

// Checks a mapping against the cascade and the hardware (SRAM capacity with buffering, units
// present, loop and stream rules); returns every problem, each naming the mapping's JSON path and
// what did not fit ("groups/0: buffers need 1200000 B, more than the 1048576 B of SRAM: S 2 x
// 524288 B, ..."). Empty: legal. `plan` (optional) receives the plan.
std::vector<std::string> check_mapping(const Cascade& c, const Mapping& m, const HwConfig& hw, std::uint64_t capacity,
                                       CascadePlan* plan = nullptr);
// The plan of a legal mapping; a UserError with every problem otherwise.
CascadePlan plan_cascade(const Cascade& c, const Mapping& m, const HwConfig& hw, std::uint64_t capacity);

// ---------------------------------------------------------------------------------------------
// Building mappings (for tests, the default choice and the mapper).

// One group holding every step, no loops, no streaming, double buffers.
Mapping whole_mapping(const Cascade& c, const HwConfig& hw);
// The tile sizes worth trying for a rank: multiples of the array side up to the extent (powers of
// two times it), halvings below it down to 16, and the extent itself.
std::vector<std::int64_t> tile_choices(const Cascade& c, int rank, const HwConfig& hw);
// A default mapping until the mapper exists: one group looping over the row rank of the first output
// and over every softmax's rank (online), the key tile one array side and the largest row tile
// that fits; a UserError when nothing fits.
Mapping default_mapping(const Cascade& c, const HwConfig& hw, std::uint64_t capacity, const std::string& what);

// JSON form (above). parse_mapping reports every problem at once with paths in `source`.
Json mapping_to_json(const Cascade& c, const Mapping& m);
// With a recorder, its rules are recorded too (config/schema_recorder.h; the placement bank's
// maximum is the hardware's last bank: mapper/mapping_schema.cpp records it on the most banks a
// hardware config allows).
Mapping parse_mapping(const Json& doc, const std::string& source, const Cascade& c, const HwConfig& hw,
                      SchemaRecorder* recorder = nullptr);
// One line: "groups [S P O] loops m:64 p:32 stream - | ..."
std::string describe(const Cascade& c, const Mapping& m);

}  // namespace attnsim::cascade
