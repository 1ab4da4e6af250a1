#include "mapper/cascade_search.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>
#include <tuple>

#include "cascade/lower.h"
#include "common/errors.h"
#include "compiler/emitter.h"
#include "mapper/program_timer.h"
#include "timing/array_timing.h"
#include "timing/unit_timing.h"

namespace attnsim {

using cascade::Cascade;
using cascade::CascadePlan;
using cascade::GroupMapping;
using cascade::GroupPlan;
using cascade::Loop;
using cascade::Mapping;
using cascade::StepDecl;
using cascade::StepKind;
using cascade::TensorRole;

const char* to_string(CascadeStructure s) {
  switch (s) {
    case CascadeStructure::Online:
      return "online";
    case CascadeStructure::RowBlocks:
      return "row blocks";
    case CascadeStructure::Whole:
      return "whole";
    case CascadeStructure::Spilled:
      return "spilled";
  }
  return "?";
}

namespace {

constexpr int kStatsCols = 3;  // m, l, alpha (as the lowering's online-softmax stats)
// A group with at most this many iteration points (instances x loop trips x chunks) is timed whole.
constexpr double kWholeTimingPoints = 4096;
// Timed cycles within kAsFast (search.h) of the fastest count as as fast: the fewer DRAM bytes win (a
// flash kernel within 0.02 % of the fastest that keeps K and V resident moves 6x fewer bytes).
// Estimates within kAsFastEstimate (search.h) of the best are near ties worth timing for their DRAM bytes.
// A larger rung of the ladder changes a multi-group cascade's pick only for a gain larger than this
// (as timed; pick_per_rung_stable).
constexpr double kStableGain = 0.01;
// A multi-group cascade's group whose mapspace has at most this many candidates (before the fit, so
// that a larger SRAM times a superset) has every fitting candidate timed.
constexpr std::size_t kTimeEveryCandidate = 64;
// The largest tile of a multi-group cascade's rank (the low-rank variants' buffers do not grow with N).
constexpr std::int64_t kMaxGroupedTile = 2048;
// A sliced timing of a multi-group cascade's group covers at least this many rows of its outer loop
// and 4 iterations (time_grouped_group).
constexpr std::int64_t kSliceRows = 2048;

std::int64_t array_side(const HwConfig& hw) { return std::max(hw.array.rows, hw.array.cols); }

bool row_op(const StepDecl& st) { return cascade::row_wise(st); }

// Tile sizes tried for a rank: cascade::tile_choices (powers of two times the array side, halvings
// below it, the extent); the thorough effort adds every other multiple of the side up to 16 of them
// (flagged wide, so that the default effort's ladder never times them).
struct TileChoice {
  std::int64_t tile;
  bool wide;
};
std::vector<TileChoice> rank_tiles(const Cascade& c, int rank, const HwConfig& hw, MapperEffort effort,
                                   const CascadeSearchSpec* spec = nullptr, bool few_rows = false) {
  std::vector<TileChoice> v;
  if (spec)  // a tile the user fixed is the only choice, whatever it is
    for (const auto& [r, t] : spec->fixed_tiles)
      if (r == rank) return {{std::min(t, c.extent[std::size_t(rank)]), false}};
  for (std::int64_t t : cascade::tile_choices(c, rank, hw)) v.push_back({t, false});
  // Blocks of a few query rows (below 16) for SRAMs too small for any of those, where whole score
  // rows are kept (few_rows: the row-blocks structure; the planner it replaces took any block).
  for (std::int64_t t = 1; few_rows && t < 16 && t < c.extent[std::size_t(rank)]; ++t) v.push_back({t, false});
  std::sort(v.begin(), v.end(), [](const TileChoice& a, const TileChoice& b) { return a.tile < b.tile; });
  v.erase(std::unique(v.begin(), v.end(), [](const TileChoice& a, const TileChoice& b) { return a.tile == b.tile; }),
          v.end());
  if (effort == MapperEffort::Thorough) {
    const std::int64_t g = array_side(hw), ext = c.extent[std::size_t(rank)];
    for (std::int64_t k = 3; k <= 16; ++k)
      if ((k & (k - 1)) != 0 && k * g < ext) v.push_back({k * g, true});
    std::stable_sort(v.begin(), v.end(), [](const TileChoice& a, const TileChoice& b) { return a.tile < b.tile; });
  }
  return v;
}

// The output's row rank and the first softmax's rank (-1 when the cascade has no softmax).
int row_rank(const Cascade& c) {
  for (const cascade::TensorDecl& t : c.desc.tensors)
    if (t.role == TensorRole::Output) return t.ranks[0];
  return c.tensor(c.step(int(c.desc.steps.size()) - 1).out).ranks[0];
}
int softmax_rank(const Cascade& c, int row) {
  for (const StepDecl& s : c.desc.steps)
    if (s.kind == StepKind::Softmax && s.over != row) return s.over;
  return -1;
}

// ---- the estimate ----

std::int64_t softmax_cycles(const HwConfig& hw, SmOp op, std::int64_t rows, std::int64_t cols) {
  Instr in;
  in.op = Opcode::Softmax;
  in.sub = std::uint8_t(op);
  const SramTile t = tile_at(0, rows, cols, 4);
  in.a = t, in.c = t, in.b = tile_at(0, rows, kStatsCols, 4);
  return softmax_op_cycles(hw, in);
}

struct GroupEstimate {
  double cycles = 0;             // per the instances
  std::uint64_t dram_bytes = 0;  // per instance
};

GroupEstimate estimate_group(const Cascade& c, const GroupPlan& g, const HwConfig& hw, std::int64_t instances) {
  const int nloops = int(g.map.loops.size());
  std::vector<double> count(static_cast<std::size_t>(nloops));
  for (int i = 0; i < nloops; ++i) {
    const Loop& l = g.map.loops[std::size_t(i)];
    count[std::size_t(i)] = double(ceil_div(c.extent[std::size_t(l.rank)], l.tile));
  }
  // A rank's length in one run of a step (its tile, or its whole extent) and its chunk count.
  auto len = [&](int r) {
    const int d = g.loop_depth[r];
    return d >= 0 ? std::min(g.map.loops[std::size_t(d)].tile, c.extent[std::size_t(r)]) : c.extent[std::size_t(r)];
  };
  auto own_loops = [&](int s, int* inner_from) {
    int deepest = -1;
    for (int r : c.step_ranks(s))
      if (g.loop_depth[r] >= 0) deepest = std::max(deepest, g.loop_depth[r]);
    *inner_from = deepest + 1;
    double runs = 1;
    for (int i = 0; i <= deepest; ++i) runs *= count[std::size_t(i)];
    return runs;
  };
  double array = 0, sm = 0, vec = 0, bytes = 0, edge_bytes = 0, restart = 0;
  bool restart_latency = false;
  const std::uint64_t ob = std::uint64_t(hw.array.operand_bytes);
  std::vector<char> loaded(c.desc.tensors.size(), 0);
  for (int s : g.map.steps) {
    const StepDecl& st = c.step(s);
    int inner_from = 0;
    const double runs = own_loops(s, &inner_from);
    // The streamed rank this step walks in chunks (lower.cpp, chunk_rank).
    int cr = -1;
    for (int r : c.step_ranks(s))
      if (g.stream_chunk[r] && !(row_op(st) && r == st.over)) cr = r;
    auto dim = [&](int r) { return r == cr ? std::min(g.stream_chunk[r], len(r)) : len(r); };
    const double chunks = cr >= 0 ? double(ceil_div(len(cr), g.stream_chunk[cr])) : 1;
    const auto& out = c.tensor(st.out).ranks;
    const std::int64_t rows = dim(out[0]), cols = out.size() > 1 ? dim(out[1]) : 1;
    switch (st.kind) {
      case StepKind::Contract: {
        const std::int64_t k = dim(st.over);
        if (g.hoist && g.map.ahead > 1 && hw.array.gemm_chaining && hw.array.timing == TimingMode::Overlapped) {
          // Issued two points ahead (mapping.h), the group's GEMMs follow each other on the array without
          // waiting for the softmax unit in between: each holds the stream port for its folds (array_timing.h,
          // chained), the fill and drain overlapped. OS: (F - 1) max(T, R) + T, and the next one's wait for the
          // shadow accumulators, max(0, R - T); WS and IS: the preload is hidden, the same stream.
          const FoldPlan f = fold_plan(hw.array.rows, hw.array.cols, hw.array.dataflow, hw.array.timing, {rows, k, cols});
          const double drain = hw.array.dataflow == Dataflow::OS ? double(std::max<std::int64_t>(0, hw.array.rows - f.stream)) : 0;
          array += runs * chunks * (double((f.folds - 1) * f.interval + f.stream) + drain);
        } else {
          array += runs * chunks *
                   double(gemm_cycles(hw.array.rows, hw.array.cols, hw.array.dataflow, hw.array.timing, {rows, k, cols}));
        }
        if (g.online_of[std::size_t(s)] >= 0) {
          const double over_count = g.loop_depth[st.over] >= 0 ? count[std::size_t(g.loop_depth[st.over])] : 1;
          sm += runs * double(softmax_cycles(hw, SmOp::Rescale, rows, cols)) +
                runs / over_count * double(softmax_cycles(hw, SmOp::Normalize, rows, cols));
        }
        break;
      }
      case StepKind::Softmax: {
        const double t = runs * double(softmax_cycles(hw, g.online[std::size_t(s)] ? SmOp::OnlineStep : SmOp::Rows,
                                                      len(out[0]), out.size() > 1 ? len(out[1]) : 1));
        (hw.softmax.present ? sm : vec) += t;
        break;
      }
      default:
        vec += runs * chunks *
               double(vector_cycles(hw.vector, vec_op_prims(cascade::vector_op_of(st)), std::uint64_t(rows * cols),
                                    std::uint64_t(rows)));
    }
    // DRAM operands: loaded when not resident (lower.h). A tile changes when a loop over one of its
    // ranks advances; it is reloaded when a loop outside its innermost one advances, unless all of
    // the tensor's tiles fit in its slots.
    for (int t : st.in) {
      if (!g.dram[std::size_t(t)] || loaded[std::size_t(t)]) continue;
      loaded[std::size_t(t)] = 1;
      const int b = g.buffer_of[std::size_t(t)];
      const int depth = b >= 0 ? g.buffers[std::size_t(b)].depth : 2;
      double elems = 1, distinct = 1, tchunks = 1;
      int deepest = -1;
      for (int r : c.tensor(t).ranks) {
        const bool chunked = g.stream_chunk[r] && g.chunked[std::size_t(t)];
        elems *= double(chunked ? std::min(g.stream_chunk[r], len(r)) : len(r));
        if (g.loop_depth[r] >= 0) {
          distinct *= count[std::size_t(g.loop_depth[r])];
          deepest = std::max(deepest, g.loop_depth[r]);
        }
        if (chunked) tchunks *= double(ceil_div(len(r), g.stream_chunk[r]));
      }
      double loads;
      const bool resident = b >= 0 && g.buffers[std::size_t(b)].resident;
      if (resident && depth < 2) {
        // The next instance's first tile waits for this instance's last reader of the slot.
        restart += elems * double(ob) / hw.dram.peak_bytes_per_cycle;
        restart_latency = true;
      }
      if (resident || distinct * tchunks <= double(depth)) {  // each tile once (resident: per instance)
        loads = distinct * tchunks;
      } else if (tchunks > 1) {
        loads = runs * tchunks;  // chunks walked again by every run of the step
      } else {
        loads = 1;
        for (int i = 0; i <= deepest; ++i) loads *= count[std::size_t(i)];
      }
      // A shared input's tile serves every instance of an interleaved chunk (mapping.h).
      if (c.tensor(t).shared) loads /= double(std::min<std::int64_t>(std::max(1, g.map.interleave), instances));
      bytes += loads * elems * double(ob);
      if (edge_bytes == 0) edge_bytes = elems * double(ob);
    }
    if (g.dram[std::size_t(st.out)]) {
      const int b = g.buffer_of[std::size_t(st.out)];
      const double eb = b >= 0 ? double(g.buffers[std::size_t(b)].elem_bytes) : double(ob);
      bytes += double(c.rows(st.out)) * double(c.cols(st.out)) * eb;
      edge_bytes += double(rows * cols) * eb;
    }
  }
  // The compute units overlap when every on-chip intermediate has two slots.
  bool overlap = true;
  for (std::size_t t = 0; t < c.desc.tensors.size(); ++t) {
    const int b = g.buffer_of[t];
    if (b >= 0 && !g.dram[t] && g.buffers[std::size_t(b)].depth < 2) overlap = false;
  }
  const double bw = hw.dram.peak_bytes_per_cycle;
  const double latency = hw.dram.model == DramModel::Ideal ? double(hw.dram.latency_cycles)
                                                            : double(ProgramTimer::kCycleDramLatency);
  const double mem = bytes / bw;
  const double per = overlap ? std::max({array, sm, vec, mem}) : std::max(array + sm + vec, mem);
  GroupEstimate e;
  e.cycles = per * double(instances) + edge_bytes / bw + 2 * latency +
             double(instances - 1) * (restart + (restart_latency ? latency : 0));
  e.dram_bytes = std::uint64_t(bytes);
  return e;
}

// Spilled, causal: the share of the (query x key) area that a group skipping masked tiles across
// groups (GroupPlan::cross_mask, cascade/lower.h) covers: per row tile, the key tiles with an unmasked
// entry, a whole key rank up to the tile's last query (its chunk's end when streamed), or as far as the
// groups reading the causal softmax's output reach. 1 for other groups.
double masked_share(const Cascade& c, const GroupPlan& g) {
  if (!g.cross_mask) return 1;
  const auto& sr = c.tensor(c.step(g.mask_step).in[0]).ranks;
  const int mr = sr[0], pr = sr[1], dm = g.loop_depth[mr], dp = g.loop_depth[pr];
  const std::int64_t nm = c.extent[std::size_t(mr)], np = c.extent[std::size_t(pr)];
  const std::int64_t rt = dm >= 0 ? g.map.loops[std::size_t(dm)].tile : nm;
  const bool writes = std::find(g.map.steps.begin(), g.map.steps.end(), g.mask_step) != g.map.steps.end() &&
                      g.dram[std::size_t(c.step(g.mask_step).out)];
  double covered = 0;
  for (std::int64_t r0 = 0; r0 < nm; r0 += rt) {
    const std::int64_t last = std::min(nm, r0 + rt);
    const std::int64_t ch = dp >= 0 ? g.map.loops[std::size_t(dp)].tile : g.stream_chunk[pr] ? g.stream_chunk[pr] : 1;
    std::int64_t end = ceil_div(last, ch) * ch;
    if (dp < 0 && writes)
      for (const auto& [t, k] : g.mask_readers) end = std::max(end, ceil_div(std::min(nm, ceil_div(last, t) * t), k) * k);
    covered += double(std::min(np, end)) * double(last - r0);
  }
  return covered / (double(nm) * double(np));
}

double time_group(const Cascade& c, const Mapping& m, int group, const HwConfig& hw, std::uint64_t capacity,
                  std::int64_t instances, double mask_share);

// ---- timing ----

// The mapping with every tile and chunk clamped to the (possibly cut) extents.
Mapping clamped(const Cascade& c, Mapping m) {
  for (GroupMapping& g : m.groups) {
    for (Loop& l : g.loops) l.tile = std::min(l.tile, c.extent[std::size_t(l.rank)]);
    for (Loop& l : g.stream) l.tile = std::min(l.tile, c.extent[std::size_t(l.rank)]);
  }
  return m;
}

// Emits group `group` of the mapping for `instances` instances of the cascade with the rank
// `cut_rank` (if any) cut to `cut_extent`, causal masks dropped unless `keep_mask`, into `sink`.
void emit_slice(ProgramSink& sink, const Cascade& full, const Mapping& m, int group, const HwConfig& hw,
                std::uint64_t capacity, int cut_rank, std::int64_t cut_extent, std::int64_t instances,
                bool keep_mask = false) {
  Cascade c = full;
  if (!keep_mask) std::fill(c.causal.begin(), c.causal.end(), 0);  // every candidate timed alike (header)
  if (cut_rank >= 0) c.extent[std::size_t(cut_rank)] = std::min(cut_extent, c.extent[std::size_t(cut_rank)]);
  const Mapping mc = clamped(c, m);
  CascadePlan plan;
  const std::vector<std::string> problems = cascade::check_mapping(c, mc, hw, capacity, &plan);
  ATTNSIM_ASSERT(problems.empty(), "a mapping legal at full size is illegal on a slice: " +
                                       (problems.empty() ? std::string() : problems.front()));
  // DRAM tensors: inputs, outputs and spilled intermediates, instances stacked by rows (a shared
  // input once, every instance reading the same block).
  std::vector<TensorInfo> tensors;
  std::vector<int> tensor_of(c.desc.tensors.size(), -1);
  std::uint64_t next = 0;
  for (std::size_t t = 0; t < c.desc.tensors.size(); ++t) {
    const bool spilled = std::find(plan.spilled.begin(), plan.spilled.end(), int(t)) != plan.spilled.end();
    if (c.desc.tensors[t].role == TensorRole::Intermediate && !spilled) continue;
    const std::int64_t copies = c.desc.tensors[t].shared ? 1 : instances;
    TensorInfo ti{c.desc.tensors[t].name, next, std::uint64_t(copies * c.rows(int(t))),
                  std::uint64_t(c.cols(int(t))), hw.array.operand_bytes};
    next = align_up(next + ti.bytes(), 4096);
    tensor_of[t] = int(tensors.size());
    tensors.push_back(ti);
  }
  std::vector<cascade::Binding> bindings;
  for (std::int64_t i = 0; i < instances; ++i) {
    cascade::Binding b;
    for (std::size_t t = 0; t < c.desc.tensors.size(); ++t) {
      DramBlock blk;
      const std::int64_t row0 = c.desc.tensors[t].shared ? 0 : i * c.rows(int(t));
      if (tensor_of[t] >= 0) blk = {std::uint16_t(tensor_of[t]), row0, 0, c.rows(int(t)), c.cols(int(t))};
      b.blocks.push_back(blk);
    }
    bindings.push_back(std::move(b));
  }
  const std::vector<OpClass> classes = cascade::default_classes(c);
  Emitter em(sink, tensors);
  cascade::emit_group(hw, plan, group, em, bindings, classes);
}

Mapping base_mapping(const Cascade& c, const HwConfig& hw) { return cascade::whole_mapping(c, hw); }

// The group's contraction outputs that may go to the accumulator storage, the running outputs first
// (then the scores), at most kPlacedOutputs of them.
constexpr int kPlacedOutputs = 2;
std::vector<int> accumulator_candidates(const Cascade& c, const GroupPlan& g) {
  std::vector<int> outs;
  for (int pass = 0; pass < 2; ++pass)
    for (int s : g.map.steps) {
      const StepDecl& st = c.step(s);
      if (st.kind != StepKind::Contract) continue;
      if ((c.tensor(st.out).role == TensorRole::Output) == (pass == 0)) outs.push_back(st.out);
    }
  if (outs.size() > std::size_t(kPlacedOutputs)) outs.resize(kPlacedOutputs);
  return outs;
}

// The subsets of those outputs tried in the accumulator storage, as bit masks over them: the running
// output, it and the scores, the scores alone (when the running outputs and the scores together do not
// fit: flash on edge at 64x64 with 8 KiB banks, 64x128 fp32 score tiles in both slots of its 64 KiB).
const unsigned kPlacementMasks[] = {1u, 3u, 2u};

// Places the outputs `mask` selects of accumulator_candidates in the accumulator storage, each slot
// after the previous; false when one is missing or they do not fit there.
bool place_in_accumulators(const Cascade& c, const GroupPlan& g, const HwConfig& hw, unsigned mask, Mapping* m) {
  const std::vector<int> outs = accumulator_candidates(c, g);
  if (mask >> outs.size()) return false;
  std::uint64_t at = hw.accumulator_base();
  for (std::size_t i = 0; i < outs.size(); ++i) {
    if (!(mask >> i & 1u)) continue;
    const int t = outs[i];
    const cascade::BufferPlan& b = g.buffers[std::size_t(g.buffer_of[std::size_t(t)])];
    cascade::TensorMapping& tm = m->tensors[std::size_t(t)];
    for (std::int64_t& a : tm.at) a = -1;
    for (int k = 0; k < b.depth && k < cascade::kMaxSlots; ++k) {
      tm.at[k] = std::int64_t(at);
      at = align_up(at + b.span_bytes(), 64);
    }
  }
  return at <= hw.onchip_bytes();
}

// The DRAM inputs of a fused group that its loops read again and again: more tiles than slots, and
// none of their ranks is the outermost loop's (so every iteration of that loop walks all of them;
// flash's and row-fused's K and V, once per query block). Candidates for keeping resident.
std::vector<int> reread_inputs(const Cascade& c, const GroupPlan& g) {
  std::vector<int> v;
  if (g.map.loops.empty()) return v;
  const int outer = g.map.loops.front().rank;
  std::vector<char> written(c.desc.tensors.size(), 0);
  for (int s : g.map.steps) written[std::size_t(c.step(s).out)] = 1;
  for (std::size_t t = 0; t < c.desc.tensors.size(); ++t) {
    const int b = g.buffer_of[t];
    if (b < 0 || !g.dram[t] || written[t]) continue;
    const cascade::BufferPlan& bp = g.buffers[std::size_t(b)];
    const auto& ranks = c.tensor(int(t)).ranks;
    if (std::find(ranks.begin(), ranks.end(), outer) != ranks.end()) continue;
    const std::int64_t tiles = ceil_div(c.rows(int(t)), bp.rows) * ceil_div(c.cols(int(t)), bp.cols);
    if (tiles > bp.depth) v.push_back(int(t));
  }
  return v;
}

// The group's loops and streams for one structure (fused structures: group 0 holds every step).
struct Shape {
  GroupMapping gm;
  bool wide = false;
};

std::vector<Shape> fused_shapes(const Cascade& c, const HwConfig& hw, CascadeStructure s, MapperEffort effort,
                                const CascadeSearchSpec& spec) {
  std::vector<Shape> v;
  GroupMapping all;
  for (std::size_t i = 0; i < c.desc.steps.size(); ++i) all.steps.push_back(int(i));
  const int R = row_rank(c), P = softmax_rank(c, R);
  const std::int64_t g = array_side(hw);
  const std::vector<TileChoice> rt = rank_tiles(c, R, hw, effort, &spec, s == CascadeStructure::RowBlocks);
  auto streams = [&](GroupMapping gm, bool wide) {
    v.push_back({gm, wide});  // P whole, loaded whole
    if (P >= 0 && c.extent[std::size_t(P)] > std::min(g, c.extent[std::size_t(P)])) {
      gm.stream = {{P, std::min(g, c.extent[std::size_t(P)])}};
      v.push_back({gm, wide});
    }
  };
  switch (s) {
    case CascadeStructure::Online: {
      // Every query tile (m) and key tile (p) of rank_tiles, the key tile free of the array's cols
      // (halvings of the side and multiples of it). That more PEs can still cost cycles is the
      // hardware's, not this mapspace's: flash on edge (LRA text, N = 4096, d = 32, 2 heads a layer,
      // 8 KiB banks: 128 KiB of SRAM, 64 KiB of accumulators; the 32-lane softmax unit with 32
      // exponentials a cycle and 8 cycles of latency stays as it is) takes 5,803,985 cycles on a
      // 32x32 array and 5,905,281 on 64x64. Per block of m x p scores the softmax unit runs an online
      // step, 8 + mp/32 (max) + m/32 (m_new, alpha) + mp/32 (exp, sum), and the rescale of O's m x 32,
      // 8 + 32m/32; a head has (4096/m)(4096/p) blocks, the first of each query tile without a rescale,
      // and each query tile ends with a normalize, 8 + m/32 + 32m/32.
      //   32x32, m 32, p 256 (S 32x256 fp32 in both 32 KiB accumulator slots): 521 + 40 = 561 a
      //     block, 2 x 2048 blocks, less 2 x 128 rescales of 40, plus 2 x 128 normalizes of 41:
      //     2,298,112 softmax cycles a layer; the array is busy about as long (QK^T 256 and P V 311.5
      //     a block as run: 2,324,586), and the layer's attention spans 2,402,816 cycles.
      //   64x64, m 64, p 128 (S 64x128 fp32 in both accumulator slots), the pick: 522 + 72 = 594 a
      //     block, 4096 blocks, less 128 rescales of 72, plus 128 normalizes of 74: 2,433,280 (+135,168:
      //     a block is 8192 scores either way, but O's rescale per block is m x d, so it costs
      //     N^2 d / (p x 32) a head, twice as much for half the key tile). Softmax-bound: 2,465,792.
      //   64x64, m 64, p 256: 64 KiB S tiles fit only one slot (in the accumulators), with one P slot
      //     beside K, V and Q in the SRAM; its softmax work would be the least (2,265,344), but the next
      //     block's QK^T waits for the softmax to release the one S slot, so the array and the softmax
      //     unit take turns: 3,563,283 a layer as timed.
      //   64x64, m 32, p 256 (the 32x32 pick): the softmax work of 32x32, but an OS fold on the larger
      //     array keeps its 64-row skew: P V (32x256x32, one fold) takes 32 more cycles a block and the
      //     next block's QK^T folds are max(T, R) = 64 apart; the array is busy 599.5 cycles a block
      //     (as run) and binds: 2,533,888 (6,239,734 for the run with every op mapped as on 32x32).
      //     The period (X + 561) / 2 of the loop through the softmax unit, X = 638 against 574 on 32x32,
      //     is derived in tests/test_cascade_search.cpp ("[monotone]").
      // So in that issue order the 64x64 array's best schedule gives 62,976 cycles a layer to the fixed
      // softmax unit; the GEMM phases gain some back (qkv_proj 49,518 -> 39,212 a layer). Issued two key
      // tiles ahead (add_ahead_variants) m 32, p 256 takes 583.5 cycles a block on 64x64 (567.5 on 32x32),
      // and in two split-K runs it is DRAM-bound on both: 5,711,773 cycles on 64x64, 5,736,050 on 32x32.
      if (P < 0) break;
      const std::vector<TileChoice> pt = rank_tiles(c, P, hw, effort, &spec);
      for (const TileChoice& a : rt)
        for (const TileChoice& b : pt) {
          GroupMapping gm = all;
          gm.loops = {{R, a.tile}, {P, b.tile}};
          v.push_back({gm, a.wide || b.wide});
        }
      break;
    }
    case CascadeStructure::RowBlocks:
      for (const TileChoice& a : rt) {
        if (a.tile >= c.extent[std::size_t(R)]) continue;
        GroupMapping gm = all;
        gm.loops = {{R, a.tile}};
        streams(gm, a.wide);
      }
      break;
    case CascadeStructure::Whole:
      streams(all, false);
      break;
    case CascadeStructure::Spilled:
      break;
  }
  return v;
}

// One step's group shapes in the spilled structure: its output ranks looped in either order with
// every tile pair, a contraction's summed rank whole or looped innermost; a row-wise step's row rank.
std::vector<Shape> step_shapes(const Cascade& c, int s, const HwConfig& hw, MapperEffort effort,
                               const CascadeSearchSpec& spec, bool few_rows = false) {
  std::vector<Shape> v;
  const StepDecl& st = c.step(s);
  const auto& out = c.tensor(st.out).ranks;
  GroupMapping base;
  base.steps = {s};
  // few_rows: a row-wise step's blocks of a few rows (below 16), for SRAMs too small for more.
  const std::vector<TileChoice> t0 = rank_tiles(c, out[0], hw, effort, &spec, few_rows && row_op(st));
  if (row_op(st) || out.size() < 2) {
    for (const TileChoice& a : t0) {
      GroupMapping gm = base;
      gm.loops = {{out[0], a.tile}};
      v.push_back({gm, a.wide});
    }
    return v;
  }
  const std::vector<TileChoice> t1 = rank_tiles(c, out[1], hw, effort, &spec);
  std::vector<TileChoice> tk = {{0, false}};
  if (st.kind == StepKind::Contract)
    for (const TileChoice& k : rank_tiles(c, st.over, hw, effort, &spec))
      if (k.tile < c.extent[std::size_t(st.over)]) tk.push_back(k);
  // The longer output rank outermost (either when they are equal): the sliced timing cuts the outermost
  // loop, and a short outer loop (O = P V's head dimension) would leave the whole group in each slice.
  const std::int64_t e0 = c.extent[std::size_t(out[0])], e1 = c.extent[std::size_t(out[1])];
  for (int order = 0; order < 2; ++order)
    for (const TileChoice& a : t0) {
      if ((order == 0 && e0 < e1) || (order == 1 && e1 < e0)) break;
      for (const TileChoice& b : t1)
        for (const TileChoice& k : tk) {
          GroupMapping gm = base;
          gm.loops = order == 0 ? std::vector<Loop>{{out[0], a.tile}, {out[1], b.tile}}
                                : std::vector<Loop>{{out[1], b.tile}, {out[0], a.tile}};
          if (k.tile) gm.loops.push_back({st.over, k.tile});
          v.push_back({gm, a.wide || b.wide || k.wide});
        }
    }
  return v;
}

bool honours_fixed(const Cascade& c, const GroupMapping& gm, const CascadeSearchSpec& spec) {
  for (const auto& [rank, tile] : spec.fixed_tiles) {
    bool ok = false, looped = false;
    for (const Loop& l : gm.loops)
      if (l.rank == rank) looped = true, ok = l.tile == tile;
    if (!looped) ok = tile == c.extent[std::size_t(rank)];
    if (!ok) return false;
  }
  return true;
}

// Identifies a candidate within one compilation (the cascade, its extents, the instances, the group
// and everything the mapping fixes), cheaply: it is built for every candidate.
std::string cache_key(const Cascade& c, const Mapping& m, int group, std::int64_t instances) {
  std::string k = "cascade " + c.desc.name;
  for (std::int64_t e : c.extent) k += " " + std::to_string(e);
  k += " g" + std::to_string(group) + " x" + std::to_string(instances) + " c";
  for (char x : c.causal) k += x ? '1' : '0';  // Spilled groups of a causal cascade are timed with the mask
  for (const GroupMapping& g : m.groups) {
    k += " |";
    for (const Loop& l : g.loops) k += " " + std::to_string(l.rank) + ":" + std::to_string(l.tile);
    for (const Loop& l : g.stream) k += " s" + std::to_string(l.rank) + ":" + std::to_string(l.tile);
    for (int t : g.resident) k += " r" + std::to_string(t);
    if (g.splits != 1) k += " k" + std::to_string(g.splits);
    if (g.ahead != 1) k += " a" + std::to_string(g.ahead);
  }
  for (const cascade::TensorMapping& t : m.tensors)
    k += " " + std::to_string(t.buffers) + "/" + std::to_string(t.bank) + "/" + std::to_string(t.at[0]) + "/" +
         std::to_string(t.at[1]) + "/" + std::to_string(t.at[2]);
  return k;
}

// The capacity ladder's rungs, smallest budget first, the capacity last (search.h, ladder_budgets:
// down to 1 B, so that a larger design's ladder holds every rung of a smaller one's; rungs nothing
// fits are skipped by the picks).
std::vector<std::uint64_t> rungs(std::uint64_t capacity) { return ladder_budgets(capacity); }

void time_candidate(MapCandidate& x, const MapperOptions& opt) {
  if (x.timed_cycles >= 0 || !x.time) return;
  if (opt.cache && !x.key.empty()) {
    auto it = opt.cache->timed_cycles.find(x.key);
    if (it == opt.cache->timed_cycles.end()) it = opt.cache->timed_cycles.emplace(x.key, x.time()).first;
    x.timed_cycles = it->second;
  } else {
    x.timed_cycles = x.time();
  }
}

// Times, for every rung of the ladder, the candidate with the fewest DRAM bytes (then the best
// estimate) among those fitting the rung whose estimate is within kAsFastEstimate of the rung's
// best: the ranking is by estimated cycles, and a compute-bound kernel has many near ties that move
// very different bytes. Each rung's addition depends only on the candidates fitting it, so a design
// with more SRAM times it too (and marks it chosen at the same rung, MapCandidate::chosen_at).
void time_fewest_bytes_as_fast(std::vector<MapCandidate>& c, std::uint64_t capacity, const MapperOptions& opt) {
  const bool wide = opt.effort == MapperEffort::Thorough;
  for (std::uint64_t budget : rungs(capacity)) {
    double best = -1;
    for (const MapCandidate& x : c)
      if (x.sram_bytes <= budget && (wide || !x.wide) && (best < 0 || x.analytic_cycles < best)) best = x.analytic_cycles;
    if (best < 0) continue;
    std::size_t pick = c.size();
    for (std::size_t i = 0; i < c.size(); ++i) {
      const MapCandidate& x = c[i];
      if (x.sram_bytes > budget || (!wide && x.wide) || x.analytic_cycles > best * (1 + kAsFastEstimate)) continue;
      // Among the fewest bytes, the best estimate (resident variants of many tile shapes move the same).
      if (pick == c.size() || x.dram_bytes < c[pick].dram_bytes ||
          (x.dram_bytes == c[pick].dram_bytes && x.analytic_cycles < c[pick].analytic_cycles))
        pick = i;
    }
    c[pick].chosen_at = std::min(c[pick].chosen_at, budget);
    time_candidate(c[pick], opt);
  }
}

// Times, for every timed candidate, the variants of it that keep its re-read inputs resident
// (CascadeCandidate::resident_of): the same loops and tiles with fewer DRAM bytes, which the
// estimate ranks apart from it. A design with more SRAM times a superset of the candidates, so of
// their variants too. `resident_of` holds each candidate's plain one (index into c), -1 for none; a
// variant is chosen at its plain one's rung.
void time_resident_variants(std::vector<MapCandidate>& c, const std::vector<int>& resident_of,
                            const MapperOptions& opt) {
  for (std::size_t i = 0; i < c.size(); ++i)
    if (resident_of[i] >= 0 && c[std::size_t(resident_of[i])].timed_cycles >= 0) {
      c[i].chosen_at = std::min(c[i].chosen_at, c[std::size_t(resident_of[i])].chosen_at);
      time_candidate(c[i], opt);
    }
}

// pick_mapping, then (when it timed) time_fewest_bytes_as_fast, on the candidates whose `in` is `which`, as if
// the others were not there; returns the index (into c) of pick_mapping's choice, c.size() when none.
std::size_t pick_in_subset(std::vector<MapCandidate>& c, const std::vector<char>& in, bool which, std::uint64_t capacity,
                           const MapperOptions& opt, bool timed) {
  std::vector<std::size_t> idx;
  std::vector<MapCandidate> sub;
  for (std::size_t i = 0; i < c.size(); ++i)
    if (bool(in[i]) == which) idx.push_back(i), sub.push_back(c[i]);
  if (sub.empty()) return c.size();
  const std::size_t f = pick_mapping(sub, capacity, opt);
  if (timed && sub[f].timed_cycles >= 0) time_fewest_bytes_as_fast(sub, capacity, opt);
  for (std::size_t k = 0; k < idx.size(); ++k) {
    c[idx[k]].timed_cycles = sub[k].timed_cycles;
    c[idx[k]].chosen_at = sub[k].chosen_at;
  }
  return idx[f];
}

// Per rung, the pick among one group's timed candidates (cycles < 0 where none fits the rung). A
// candidate is an option of a rung when it fits it and a rung no larger chose it for timing: what a
// larger design times only for its upper rungs (a small candidate among the best few of a large
// budget, not of a small one) would otherwise change its picks on the rungs it shares with a smaller
// design, which the fewest-bytes rule makes path-dependent.
std::vector<RungPick> ladder_picks(const std::vector<MapCandidate>& c, std::uint64_t capacity) {
  const std::vector<std::uint64_t> budgets = rungs(capacity);
  std::vector<std::vector<RungPick>> options(budgets.size());
  for (std::size_t r = 0; r < budgets.size(); ++r)
    for (std::size_t i = 0; i < c.size(); ++i)
      if (c[i].timed_cycles >= 0 && c[i].sram_bytes <= budgets[r] && c[i].chosen_at <= budgets[r])
        options[r].push_back({c[i].timed_cycles, c[i].dram_bytes, i});
  return pick_per_rung(options);
}

// Split-K (CascadeSearchSpec::splits): the variants of Online candidate `plain` (mapping x) with its
// key loop cut into independent runs, each legal one a candidate whose split_of is `plain`.
template <class Add>
void add_split_variants(const Mapping& x, int plain, Add& add, std::vector<CascadeCandidate>& out,
                        const CascadeSearchSpec& spec, bool wide) {
  for (int n : spec.splits) {
    if (n <= 1) continue;
    Mapping v = x;
    v.groups[0].splits = n;
    const int i = add(v, 0, wide);
    if (i >= 0) out[std::size_t(i)].split_of = plain;
  }
}

// The issue-order variants (mapping.h, ahead 2) of Online candidate `plain`: Q K^T two key tiles ahead,
// after the softmax step that frees its S slot and before P V, alone and with split-K runs (spec.splits,
// and 2: the rescale of a run's accumulator then waits for that run's previous P V, not the one just
// before). Each legal one is timed whenever `plain` is (split_of), as the estimate does not see the
// order. Flash on edge, LRA text N = 4096, 8 KiB banks (tests/test_cascade_search.cpp, "[monotone]"):
// on 64x64, m 32, p 256 takes 583.5 cycles a block instead of 599.5 (594 for m 64, p 128), and with
// two runs the DRAM's 574 binds.
template <class Add>
void add_ahead_variants(const Mapping& x, int plain, Add& add, std::vector<CascadeCandidate>& out,
                        const CascadeSearchSpec& spec, bool wide) {
  if (x.groups.size() != 1 || x.groups[0].splits != 1) return;
  Mapping v = x;
  v.groups[0].ahead = 2;
  const int i = add(v, 0, wide);
  if (i < 0) return;  // no overlap to reorder
  out[std::size_t(i)].split_of = plain;
  std::vector<int> ns = spec.splits;
  if (std::find(ns.begin(), ns.end(), 2) == ns.end()) ns.push_back(2);
  for (int n : ns) {
    if (n <= 1) continue;
    Mapping w = v;
    w.groups[0].splits = n;
    const int j = add(w, 0, wide);
    if (j >= 0) out[std::size_t(j)].split_of = i;
  }
}

}  // namespace

std::vector<CascadeCandidate> cascade_candidates(const Cascade& c, const HwConfig& hw, std::uint64_t capacity,
                                                 CascadeStructure s, const CascadeSearchSpec& spec,
                                                 MapperEffort effort) {
  std::vector<CascadeCandidate> out;
  const std::int64_t instances = std::max<std::int64_t>(1, spec.instances);
  // Spilled: the mapping every group's candidates start from (the other groups' smallest tiles), per
  // depth, and the time of the group writing a causal softmax's output under it (computed once).
  const Mapping* spilled_base = nullptr;
  std::shared_ptr<double> writer_base_time;
  auto add = [&](const Mapping& m, int group, bool wide) {
    CascadePlan plan;
    if (!cascade::check_mapping(c, m, hw, capacity, &plan).empty()) return -1;
    const GroupPlan& gp = plan.groups[std::size_t(group)];
    GroupEstimate e = estimate_group(c, gp, hw, instances);
    // Spilled, causal: the groups skip the masked tiles (cascade/lower.h), so smaller tiles skip more.
    const double share = s == CascadeStructure::Spilled ? masked_share(c, gp) : 1;
    e.cycles *= share;
    e.dram_bytes = std::uint64_t(double(e.dram_bytes) * share);
    // A group reading that output from DRAM makes its writer write as far as its tiles reach (lower.h):
    // the writer's work beyond what it does under the starting mapping is this candidate's.
    int writer = -1;
    if (s == CascadeStructure::Spilled && spilled_base && gp.cross_mask &&
        gp.buffer_of[std::size_t(c.step(gp.mask_step).out)] >= 0)
      for (std::size_t w = 0; w < plan.groups.size(); ++w)
        if (int(w) != group && !plan.groups[w].mask_readers.empty()) writer = int(w);
    double writer_share = 1, writer_base_share = 1;
    if (writer >= 0) {
      CascadePlan bp;
      if (!cascade::check_mapping(c, *spilled_base, hw, capacity, &bp).empty()) return -1;
      const GroupPlan &wx = plan.groups[std::size_t(writer)], &wb = bp.groups[std::size_t(writer)];
      writer_share = masked_share(c, wx), writer_base_share = masked_share(c, wb);
      e.cycles += estimate_group(c, wx, hw, instances).cycles * writer_share -
                  estimate_group(c, wb, hw, instances).cycles * writer_base_share;
    }
    if (spec.max_dram_bytes && e.dram_bytes > spec.max_dram_bytes) return -1;
    CascadeCandidate cc;
    cc.mapping = m;
    cc.structure = s;
    cc.group = group;
    cc.est.analytic_cycles = e.cycles;
    cc.est.dram_bytes = e.dram_bytes;
    cc.est.sram_bytes = gp.footprint;
    cc.est.wide = wide;
    cc.est.key = cache_key(c, m, group, instances);
    if (writer < 0) {
      cc.est.time = [&c, &hw, m, group, capacity, instances, share] {
        return time_group(c, m, group, hw, capacity, instances, share);
      };
    } else {
      cc.est.key += " w" + std::to_string(writer);
      cc.est.time = [&c, &hw, m, group, capacity, instances, share, writer, writer_share, writer_base_share,
                     base = *spilled_base, base_time = writer_base_time] {
        if (*base_time < 0) *base_time = time_group(c, base, writer, hw, capacity, instances, writer_base_share);
        return time_group(c, m, group, hw, capacity, instances, share) +
               time_group(c, m, writer, hw, capacity, instances, writer_share) - *base_time;
      };
    }
    out.push_back(std::move(cc));
    return int(out.size()) - 1;
  };
  const Mapping base = base_mapping(c, hw);
  if (s != CascadeStructure::Spilled) {
    for (const Shape& sh : fused_shapes(c, hw, s, effort, spec)) {
      if (!honours_fixed(c, sh.gm, spec)) continue;
      for (int depth : {2, 1}) {
        Mapping m = base;
        m.groups = {sh.gm};
        bool any_intermediate = false;
        for (std::size_t t = 0; t < c.desc.tensors.size(); ++t)
          if (c.desc.tensors[t].role == TensorRole::Intermediate) {
            m.tensors[t].buffers = depth;
            any_intermediate = true;
          }
        if (depth == 1 && !any_intermediate) continue;
        CascadePlan dims;  // buffer shapes, whatever the SRAM
        if (!cascade::check_mapping(c, m, hw, ~std::uint64_t(0), &dims).empty()) continue;
        // As is, then (online and row blocks) with the re-read DRAM inputs resident, two instances'
        // worth of slots and then one.
        std::vector<Mapping> variants = {m};
        const std::vector<int> res = s == CascadeStructure::Whole ? std::vector<int>{} : reread_inputs(c, dims.groups[0]);
        for (int res_depth : {2, 1}) {
          if (res.empty()) break;
          Mapping r = m;
          r.groups[0].resident = res;
          for (int t : res) r.tensors[std::size_t(t)].buffers = res_depth;
          variants.push_back(r);
        }
        int plain[1u << kPlacedOutputs] = {-1, -1, -1, -1};  // per placement mask: the candidate without residency
        for (std::size_t vi = 0; vi < variants.size(); ++vi) {
          const Mapping& v = variants[vi];
          auto put = [&](const Mapping& x, unsigned mask) {
            const int i = add(x, 0, sh.wide);
            if (i < 0) return;
            if (vi == 0)
              plain[mask] = i;
            else if (plain[mask] >= 0)
              out[std::size_t(i)].resident_of = plain[mask];
            if (s == CascadeStructure::Online) {
              add_split_variants(x, i, add, out, spec, sh.wide);
              add_ahead_variants(x, i, add, out, spec, sh.wide);
            }
          };
          put(v, 0);
          if (!hw.accumulators.present) continue;
          // Contraction outputs in the accumulator storage (kPlacementMasks).
          CascadePlan vd;
          if (!cascade::check_mapping(c, v, hw, ~std::uint64_t(0), &vd).empty()) continue;
          for (unsigned mask : kPlacementMasks) {
            Mapping placed = v;
            if (place_in_accumulators(c, vd.groups[0], hw, mask, &placed)) put(placed, mask);
          }
        }
      }
    }
    return out;
  }
  // Spilled: one group per step. The other groups hold their smallest tiles while one is searched;
  // every tensor has the depth of the search (cascade_search.h), so a group's timing does not depend
  // on the other groups' picks.
  const int nsteps = int(c.desc.steps.size());
  if (nsteps < 2) return out;
  for (int depth : {3, 2}) {
    Mapping spilled = base;
    spilled.groups.clear();
    for (cascade::TensorMapping& t : spilled.tensors) t.buffers = depth;
    for (int st = 0; st < nsteps; ++st) {
      GroupMapping gm;
      gm.steps = {st};
      std::vector<int> ranks = c.tensor(c.step(st).out).ranks;
      if (c.step(st).kind == StepKind::Contract) ranks.push_back(c.step(st).over);
      if (row_op(c.step(st))) ranks.resize(1);
      for (int r : ranks)
        gm.loops.push_back({r, rank_tiles(c, r, hw, MapperEffort::Default, nullptr, row_op(c.step(st))).front().tile});
      spilled.groups.push_back(gm);
    }
    spilled_base = &spilled;
    writer_base_time = std::make_shared<double>(-1.0);
    for (int st = 0; st < nsteps; ++st) {
      // Tensors only this step uses: its choices alone (resident inputs' depth).
      std::vector<char> local(c.desc.tensors.size(), 0);
      {
        std::vector<char> other(c.desc.tensors.size(), 0);
        for (int s2 = 0; s2 < nsteps; ++s2) {
          std::vector<int> ts = c.step(s2).in;
          ts.push_back(c.step(s2).out);
          for (int t : ts) (s2 == st ? local : other)[std::size_t(t)] = 1;
        }
        for (std::size_t t = 0; t < local.size(); ++t) local[t] &= !other[t];
      }
      // A row-wise step's blocks of fewer than 16 rows only when no larger block fits (whole rows of
      // a long sequence in a small SRAM): each block's load and store are exposed.
      const std::size_t before = out.size();
      std::vector<Shape> shapes = step_shapes(c, st, hw, effort, spec);
      for (int pass = 0; pass < 2; ++pass) {
        if (pass == 1) {
          if (out.size() > before || !row_op(c.step(st))) break;
          shapes = step_shapes(c, st, hw, effort, spec, true);
        }
        for (const Shape& sh : shapes) {
          if (!honours_fixed(c, sh.gm, spec)) continue;
          Mapping m = spilled;
          m.groups[std::size_t(st)] = sh.gm;
          CascadePlan dims;  // buffer shapes, whatever the SRAM
          if (!cascade::check_mapping(c, m, hw, ~std::uint64_t(0), &dims).empty()) continue;
          // As is, then with its re-read DRAM inputs only it reads resident, two heads' slots and one.
          std::vector<Mapping> variants = {m};
          std::vector<int> res;
          for (int t : reread_inputs(c, dims.groups[std::size_t(st)]))
            if (local[std::size_t(t)]) res.push_back(t);
          for (int res_depth : {2, 1}) {
            if (res.empty()) break;
            Mapping r = m;
            r.groups[std::size_t(st)].resident = res;
            for (int t : res) r.tensors[std::size_t(t)].buffers = res_depth;
            variants.push_back(r);
          }
          int plain = -1;
          for (std::size_t vi = 0; vi < variants.size(); ++vi) {
            std::vector<Mapping> placed = {variants[vi]};
            CascadePlan vd;
            if (hw.accumulators.present &&
                cascade::check_mapping(c, variants[vi], hw, ~std::uint64_t(0), &vd).empty()) {
              Mapping p = variants[vi];
              if (place_in_accumulators(c, vd.groups[std::size_t(st)], hw, 1u, &p)) placed.push_back(p);
            }
            for (const Mapping& x : placed) {
              const int i = add(x, st, sh.wide);
              if (i < 0) continue;
              out[std::size_t(i)].depth = depth;
              if (vi == 0 && plain < 0) plain = i;
              if (vi > 0 && plain >= 0) out[std::size_t(i)].resident_of = plain;
            }
          }
        }
      }
    }
  }
  return out;
}

namespace {

// Everything search_cascade's pick depends on besides the hardware, which one compilation shares: the
// bound cascade (name, shape, extents, causal steps), the budget, the spec and the effort.
std::string pick_key(const Cascade& c, std::uint64_t capacity, const CascadeSearchSpec& spec, const MapperOptions& opt) {
  std::string k = "pick " + c.desc.name + " t" + std::to_string(c.desc.tensors.size()) + " s" +
                  std::to_string(c.desc.steps.size());
  for (std::int64_t e : c.extent) k += " " + std::to_string(e);
  k += " c";
  for (char x : c.causal) k += x ? '1' : '0';
  k += " cap" + std::to_string(capacity) + " x" + std::to_string(spec.instances) + " max" +
       std::to_string(spec.max_dram_bytes) + " e" + to_string(opt.effort) + " seed" + std::to_string(opt.seed) + " st";
  for (CascadeStructure st : spec.structures) k += std::to_string(int(st));
  for (const auto& [rank, tile] : spec.fixed_tiles) k += " f" + std::to_string(rank) + ":" + std::to_string(tile);
  for (int n : spec.splits) k += " k" + std::to_string(n);
  return k;
}

CascadePick search_cascade_uncached(const Cascade& c, const HwConfig& hw, std::uint64_t capacity,
                                    const CascadeSearchSpec& spec, const MapperOptions& opt, const std::string& what);

}  // namespace

struct CascadePickMemo {
  std::map<std::string, CascadePick> picks;
};

CascadePick search_cascade(const Cascade& c, const HwConfig& hw, std::uint64_t capacity,
                           const CascadeSearchSpec& spec, const MapperOptions& opt, const std::string& what) {
  if (!opt.cache) return search_cascade_uncached(c, hw, capacity, spec, opt, what);
  if (!opt.cache->cascade_picks) opt.cache->cascade_picks = std::make_shared<CascadePickMemo>();
  std::map<std::string, CascadePick>& memo = opt.cache->cascade_picks->picks;
  const std::string key = pick_key(c, capacity, spec, opt);
  auto it = memo.find(key);
  if (it == memo.end()) it = memo.emplace(key, search_cascade_uncached(c, hw, capacity, spec, opt, what)).first;
  return it->second;
}

namespace {

CascadePick search_cascade_uncached(const Cascade& c, const HwConfig& hw, std::uint64_t capacity,
                                    const CascadeSearchSpec& spec, const MapperOptions& opt, const std::string& what) {
  // Per structure and per rung of the capacity ladder, its pick (Spilled: the sum of its groups'
  // picks, each group searched alone); then the structures' picks per rung, the same way. At the
  // fast effort nothing is timed: the analytically best candidate of each group, the fastest
  // structure by the estimate.
  const bool timed = opt.effort != MapperEffort::Fast;
  const std::size_t nrungs = rungs(capacity).size();
  std::vector<CascadePick> top;                        // per structure: its pick at the full budget
  std::vector<std::vector<RungPick>> options(nrungs);  // per rung: one option per structure
  std::vector<std::vector<Mapping>> rung_mapping;      // per structure and rung
  for (CascadeStructure s : spec.structures) {
    const std::vector<CascadeCandidate> cands = cascade_candidates(c, hw, capacity, s, spec, opt.effort);
    if (cands.empty()) continue;
    // Spilled: one search per buffering depth (every tensor's, so that the groups' picks agree).
    for (int depth : s == CascadeStructure::Spilled ? std::vector<int>{3, 2} : std::vector<int>{0}) {
      const int groups = s == CascadeStructure::Spilled ? int(c.desc.steps.size()) : 1;
      std::vector<RungPick> sum(nrungs);
      std::vector<Mapping> maps(nrungs);
      CascadePick p;
      p.structure = s;
      bool complete = true;
      for (int g = 0; g < groups && complete; ++g) {
        std::vector<std::size_t> idx;
        std::vector<MapCandidate> mc;
        std::vector<int> local(cands.size(), -1), resident_of, split_of;
        for (std::size_t i = 0; i < cands.size(); ++i)
          if (cands[i].group == g && cands[i].depth == depth)
            local[i] = int(idx.size()), idx.push_back(i), mc.push_back(cands[i].est);
        for (std::size_t i : idx) {
          resident_of.push_back(cands[i].resident_of >= 0 ? local[std::size_t(cands[i].resident_of)] : -1);
          split_of.push_back(cands[i].split_of >= 0 ? local[std::size_t(cands[i].split_of)] : -1);
        }
        if (mc.empty()) {
          complete = false;
          break;
        }
        // The issue-order variants (add_ahead_variants) are ranked among themselves: their estimate sees the
        // array's GEMMs chained, the others' does not, so they would take the others' places in the timing.
        std::vector<char> reorder(mc.size(), 0);
        for (std::size_t j = 0; j < idx.size(); ++j) {
          const Mapping& x = cands[idx[j]].mapping;
          reorder[j] = x.groups.size() == 1 && x.groups[0].ahead > 1;
        }
        const std::size_t fastest = pick_in_subset(mc, reorder, false, capacity, opt, timed);
        std::vector<RungPick> per_rung(nrungs);
        if (timed && mc[fastest].timed_cycles >= 0) {
          pick_in_subset(mc, reorder, true, capacity, opt, timed);
          time_resident_variants(mc, resident_of, opt);
          time_resident_variants(mc, split_of, opt);  // split-K variants of the timed, as those
          per_rung = ladder_picks(mc, capacity);
        } else {
          per_rung.back() = {mc[fastest].analytic_cycles, mc[fastest].dram_bytes, fastest};
        }
        for (std::size_t r = 0; r < nrungs; ++r) {
          const RungPick& k = per_rung[r];
          if (k.cycles < 0 || (g > 0 && sum[r].cycles < 0)) {
            sum[r].cycles = -1;
            continue;
          }
          const CascadeCandidate& chosen = cands[idx[k.index]];
          if (g == 0) {
            maps[r] = chosen.mapping;
            sum[r] = {0, 0, 0};
          }
          if (s == CascadeStructure::Spilled && g > 0) {
            // The group's loops, the tensors only it uses (resident inputs), its output's placement.
            maps[r].groups[std::size_t(g)] = chosen.mapping.groups[std::size_t(g)];
            const StepDecl& st = c.step(g);
            for (std::size_t t = 0; t < c.desc.tensors.size(); ++t) {
              const bool mine = int(t) == st.out || std::find(st.in.begin(), st.in.end(), int(t)) != st.in.end();
              bool theirs = false;
              for (int s2 = 0; s2 < int(c.desc.steps.size()); ++s2)
                if (s2 != g) {
                  const StepDecl& o = c.step(s2);
                  theirs |= int(t) == o.out || std::find(o.in.begin(), o.in.end(), int(t)) != o.in.end();
                }
              if (mine && !theirs) maps[r].tensors[t] = chosen.mapping.tensors[t];
            }
            std::copy(std::begin(chosen.mapping.tensors[std::size_t(st.out)].at),
                      std::end(chosen.mapping.tensors[std::size_t(st.out)].at),
                      std::begin(maps[r].tensors[std::size_t(st.out)].at));
          }
          sum[r].cycles += k.cycles;
          sum[r].bytes += k.bytes;
          if (r + 1 == nrungs) p.sram_bytes = std::max(p.sram_bytes, mc[k.index].sram_bytes);
        }
      }
      if (!complete) continue;
      // Spilled groups searched alone must also fit together (they do: each group's buffers are its own).
      for (std::size_t r = 0; r < nrungs; ++r)
        if (sum[r].cycles >= 0 && s == CascadeStructure::Spilled &&
            !cascade::check_mapping(c, maps[r], hw, capacity).empty())
          sum[r].cycles = -1;
      if (sum.back().cycles < 0) continue;
      p.mapping = maps.back();
      p.cycles = sum.back().cycles;
      p.dram_bytes = sum.back().bytes;
      for (std::size_t r = 0; r < nrungs; ++r)
        if (sum[r].cycles >= 0) options[r].push_back({sum[r].cycles, sum[r].bytes, top.size()});
      rung_mapping.push_back(std::move(maps));
      top.push_back(std::move(p));
    }
  }
  if (top.empty()) {
    std::string names;
    for (CascadeStructure s : spec.structures) names += (names.empty() ? "" : ", ") + std::string(to_string(s));
    throw UserError(hw.source + ": /sram: " + what + ": no mapping of cascade " + c.desc.name + " (" + names +
                    ") fits the " + std::to_string(capacity) + " B of SRAM");
  }
  // Structures: ties in bytes go to the earlier one in the spec (options are in spec order).
  const RungPick chosen = pick_per_rung(options, /*by_order=*/true).back();
  ATTNSIM_ASSERT(chosen.cycles >= 0, "a structure with a pick at the full budget");
  CascadePick best = top[chosen.index];
  best.mapping.source = "mapper";
  return best;
}

// The iterations of a group's loops and stream, times its instances: what timing it whole would cost.
double iteration_points(const Cascade& c, const GroupMapping& gm, std::int64_t instances) {
  double points = double(instances);
  for (const Loop& l : gm.loops) points *= double(ceil_div(c.extent[std::size_t(l.rank)], l.tile));
  for (const Loop& l : gm.stream) points *= double(ceil_div(c.extent[std::size_t(l.rank)], l.tile));
  return points;
}

}  // namespace

double time_cascade_group(const Cascade& c, const Mapping& m, int group, const HwConfig& hw, std::uint64_t capacity,
                          std::int64_t instances) {
  return time_group(c, m, group, hw, capacity, instances, 1);
}

namespace {

double time_group(const Cascade& c, const Mapping& m, int group, const HwConfig& hw, std::uint64_t capacity,
                  std::int64_t instances, double mask_share) {
  const GroupMapping& gm = m.groups[std::size_t(group)];
  // Small programs are timed whole (the extrapolation misses how the last iterations drain); a group
  // skipping masked tiles across groups (mask_share < 1) with its mask.
  if (iteration_points(c, gm, instances) <= double(kWholeTimingPoints)) {
    ProgramTimer t(hw);
    emit_slice(t, c, m, group, hw, capacity, -1, 0, instances, mask_share < 1);
    return double(t.finish().cycles);
  }
  // Slices of such a group are timed without the mask and scaled by the share it covers (its outer
  // iterations differ in work: a linear extrapolation of the first two would not hold).
  if (mask_share < 1) return mask_share * time_group(c, m, group, hw, capacity, instances, 1);
  // An interleaved group's slices hold one chunk of instances, walked together (mapping.h).
  const std::int64_t per = std::min<std::int64_t>(std::max(1, gm.interleave), instances);
  if (!gm.loops.empty()) {
    const Loop& l = gm.loops.front();
    const std::int64_t n0 = ceil_div(c.extent[std::size_t(l.rank)], l.tile);
    if (n0 >= 2)  // one and two iterations of the outermost loop; the instances continue it
      return time_extrapolated(hw, n0 * ceil_div(instances, per), [&](ProgramSink& sink, std::int64_t reps) {
        emit_slice(sink, c, m, group, hw, capacity, l.rank, reps * l.tile, per);
      });
  }
  return time_extrapolated(hw, instances, [&](ProgramSink& sink, std::int64_t reps) {
    emit_slice(sink, c, m, group, hw, capacity, -1, 0, reps);
  });
}

}  // namespace

}  // namespace attnsim

// ---- multi-group cascades (the low-rank variants and a user's cascade; cascade_search.h) ----

namespace attnsim {

namespace {

// Per tensor: whether only group g's steps use it (then its buffers and placement are g's choice).
std::vector<char> group_local(const Cascade& c, const Mapping& m, int g) {
  std::vector<int> owner(c.desc.tensors.size(), -1);  // -1: unused, -2: several groups
  for (std::size_t gi = 0; gi < m.groups.size(); ++gi)
    for (int s : m.groups[gi].steps) {
      std::vector<int> ts = c.step(s).in;
      ts.push_back(c.step(s).out);
      for (int t : ts) {
        int& o = owner[std::size_t(t)];
        o = o == -1 || o == int(gi) ? int(gi) : -2;
      }
    }
  std::vector<char> local(owner.size());
  for (std::size_t t = 0; t < owner.size(); ++t) local[t] = owner[t] == g;
  return local;
}

// dst takes src's choices for group g: its loops and stream, its local tensors' buffers and placement.
void adopt_group(Mapping& dst, const Mapping& src, int g, const std::vector<char>& local) {
  dst.groups[std::size_t(g)].loops = src.groups[std::size_t(g)].loops;
  dst.groups[std::size_t(g)].stream = src.groups[std::size_t(g)].stream;
  dst.groups[std::size_t(g)].interleave = src.groups[std::size_t(g)].interleave;
  for (std::size_t t = 0; t < local.size(); ++t)
    if (local[t]) dst.tensors[t] = src.tensors[t];
}

// Places group g's local contraction outputs, up to `level` of them (the cascade's outputs first), in
// the accumulator storage, each slot after the previous; false when there are fewer or they do not fit.
bool place_local_in_accumulators(const Cascade& c, const GroupPlan& g, const std::vector<char>& local,
                                 const HwConfig& hw, int level, Mapping* m) {
  std::vector<int> outs;
  for (int pass = 0; pass < 2; ++pass)
    for (int s : g.map.steps) {
      const StepDecl& st = c.step(s);
      if (st.kind != StepKind::Contract || !local[std::size_t(st.out)]) continue;
      if ((c.tensor(st.out).role == TensorRole::Output) == (pass == 0)) outs.push_back(st.out);
    }
  if (int(outs.size()) < level) return false;
  std::uint64_t at = hw.accumulator_base();
  for (int i = 0; i < level; ++i) {
    const int t = outs[std::size_t(i)];
    const cascade::BufferPlan& b = g.buffers[std::size_t(g.buffer_of[std::size_t(t)])];
    cascade::TensorMapping& tm = m->tensors[std::size_t(t)];
    tm.bank = -1;
    for (std::int64_t& a : tm.at) a = -1;
    for (int k = 0; k < b.depth && k < cascade::kMaxSlots; ++k) {
      tm.at[k] = std::int64_t(at);
      at = align_up(at + b.span_bytes(), 64);
    }
  }
  return at <= hw.onchip_bytes();
}

// As pick_per_rung, except that a rung keeps the pick of the rung below whenever that is within
// kStableGain of the rung's fastest: more SRAM changes a group's mapping only for a gain larger than
// what the group's timing alone misses in the whole program (on the accelerator a phase's first loads
// and last stores overlap its neighbours: lowrank_linear's token stream with 512-row tiles times 0.3 %
// faster than with 256 alone, and runs 128 cycles per layer slower in the model). Still bounded by the
// pick of the rung below: more SRAM never picks slower as timed.
std::vector<RungPick> pick_per_rung_stable(const std::vector<std::vector<RungPick>>& options) {
  std::vector<RungPick> picks(options.size());
  const RungPick* below = nullptr;
  for (std::size_t r = 0; r < options.size(); ++r) {
    double best = -1;
    for (const RungPick& o : options[r])
      if (o.cycles >= 0 && (best < 0 || o.cycles < best)) best = o.cycles;
    if (best < 0) continue;
    double limit = best * (1 + kAsFast);
    if (below) limit = std::min(limit, below->cycles);
    const RungPick* chosen = nullptr;
    for (const RungPick& o : options[r])
      if (below && o.index == below->index && o.cycles <= best * (1 + kStableGain)) chosen = &o;
    for (const RungPick& o : options[r]) {
      if (chosen && below && chosen->index == below->index) break;
      if (o.cycles < 0 || o.cycles > limit) continue;
      if (!chosen || o.bytes < chosen->bytes || (o.bytes == chosen->bytes && o.cycles < chosen->cycles)) chosen = &o;
    }
    ATTNSIM_ASSERT(chosen, "the pick of the rung below is an option of this one, or a faster one is");
    picks[r] = *chosen;
    below = &picks[r];
  }
  return picks;
}

// Tile sizes tried for a rank of a multi-group cascade: rank_tiles, and the even splits of the extent
// (ceil(extent / 2^k) down to 16: primal's sample chunks, no short last tile).
std::vector<TileChoice> grouped_tiles(const Cascade& c, int rank, const HwConfig& hw, MapperEffort effort) {
  std::vector<TileChoice> v = rank_tiles(c, rank, hw, effort);
  const std::int64_t ext = c.extent[std::size_t(rank)];
  for (std::int64_t k = 2; ceil_div(ext, k) >= 16; k *= 2) {
    const std::int64_t t = ceil_div(ext, k);
    if (std::none_of(v.begin(), v.end(), [t](const TileChoice& x) { return x.tile == t; })) v.push_back({t, false});
  }
  // At most kMaxGroupedTile rows, as the token-tile planners: the buffers stay independent of N.
  v.erase(std::remove_if(v.begin(), v.end(), [](const TileChoice& x) { return x.tile > kMaxGroupedTile; }), v.end());
  std::stable_sort(v.begin(), v.end(), [](const TileChoice& a, const TileChoice& b) { return a.tile < b.tile; });
  return v;
}

}  // namespace

// time_cascade_group's slices (one and two iterations of the outer loop) are too short for a token
// stream of small tiles: their difference misses the steady state (lowrank_linear at N = 65536 on edge
// with 16-row tiles timed 3x too fast). A group too large to time whole is timed on slices of a and 2a
// iterations of its outer loop, a covering kSliceRows rows and at least 4 iterations, extrapolated to
// all of them: t(a) + (t(2a) - t(a)) (iterations - a) / a.
double time_grouped_group(const Cascade& c, const Mapping& m, int group, const HwConfig& hw, std::uint64_t capacity,
                          std::int64_t instances) {
  const GroupMapping& gm = m.groups[std::size_t(group)];
  if (iteration_points(c, gm, instances) > double(kWholeTimingPoints) && !gm.loops.empty()) {
    const Loop& l = gm.loops.front();
    const std::int64_t n0 = ceil_div(c.extent[std::size_t(l.rank)], l.tile);
    const std::int64_t a = std::max<std::int64_t>(4, ceil_div(kSliceRows, l.tile));
    // An interleaved group's slices hold one chunk of instances, walked together (mapping.h).
    const std::int64_t per = std::min<std::int64_t>(std::max(1, gm.interleave), instances);
    if (2 * a <= n0) {
      auto slice = [&](std::int64_t iterations) {
        return double(time_program(hw, [&](ProgramSink& sink) {
                        emit_slice(sink, c, m, group, hw, capacity, l.rank, iterations * l.tile, per);
                      }).cycles);
      };
      const double t1 = slice(a), t2 = slice(2 * a);
      return t1 + (t2 - t1) * double(n0 * ceil_div(instances, per) - a) / double(a);
    }
  }
  return time_cascade_group(c, m, group, hw, capacity, instances);
}

namespace {

// The candidates of group g (grouped_candidates) and, per rung of the ladder, the index of that rung's
// default among them (-1: no default fits the rung).
std::vector<CascadeCandidate> grouped_candidates_of(const Cascade& c, const HwConfig& hw, std::uint64_t capacity,
                                                    const DefaultMapping& default_of, const Mapping& base, int group,
                                                    std::int64_t instances, MapperEffort effort,
                                                    std::vector<int>* rung_default, std::size_t* enumerated = nullptr) {
  std::vector<CascadeCandidate> out;
  std::size_t tried = 0;  // the mapspace's candidates before the fit (capacity-independent)
  instances = std::max<std::int64_t>(1, instances);
  const std::vector<char> local = group_local(c, base, group);
  auto add = [&](const Mapping& m, bool wide) {
    CascadePlan plan;
    if (!cascade::check_mapping(c, m, hw, capacity, &plan).empty()) return false;
    const GroupPlan& gp = plan.groups[std::size_t(group)];
    const GroupEstimate e = estimate_group(c, gp, hw, instances);
    CascadeCandidate cc;
    cc.mapping = m;
    cc.group = group;
    cc.est.analytic_cycles = e.cycles;
    cc.est.dram_bytes = e.dram_bytes;
    cc.est.sram_bytes = gp.footprint;
    cc.est.wide = wide;
    cc.est.key = cache_key(c, m, group, instances);
    cc.est.time = [&c, &hw, m, group, capacity, instances] {
      return time_grouped_group(c, m, group, hw, capacity, instances);
    };
    out.push_back(std::move(cc));
    return true;
  };
  // The rungs' defaults, smallest budget first.
  const std::vector<std::uint64_t> budgets = rungs(capacity);
  if (rung_default) rung_default->assign(budgets.size(), -1);
  for (std::size_t r = 0; r < budgets.size(); ++r) {
    Mapping d;
    try {
      d = r + 1 == budgets.size() ? base : default_of(budgets[r]);
    } catch (const UserError&) {
      continue;  // nothing fits this rung
    }
    Mapping m = base;
    adopt_group(m, d, group, local);
    if (add(m, false) && rung_default) (*rung_default)[r] = int(out.size()) - 1;
  }
  // The mapspace: every loop's tile and every stream's chunk, buffering depths, accumulator placement.
  const GroupMapping& gb = base.groups[std::size_t(group)];
  std::vector<std::vector<TileChoice>> choices;
  for (const Loop& l : gb.loops) choices.push_back(grouped_tiles(c, l.rank, hw, effort));
  for (const Loop& l : gb.stream) choices.push_back(grouped_tiles(c, l.rank, hw, effort));
  std::vector<int> intermediates;
  for (std::size_t t = 0; t < c.desc.tensors.size(); ++t)
    if (local[t] && c.desc.tensors[t].role == TensorRole::Intermediate) intermediates.push_back(int(t));
  std::vector<std::vector<int>> depths;  // per option, per local intermediate
  {
    std::vector<int> d0, d1(intermediates.size(), 1), d2(intermediates.size(), 2);
    for (int t : intermediates) d0.push_back(base.tensors[std::size_t(t)].buffers);
    depths.push_back(d0);
    for (const std::vector<int>& d : {d2, d1})
      if (std::find(depths.begin(), depths.end(), d) == depths.end()) depths.push_back(d);
  }
  // A group the default runs whole (primal's samples when they fit) may also loop over the rank its
  // contractions sum over: chunks of it pipeline their loads with the contractions.
  std::vector<Mapping> shapes = {base};
  if (gb.loops.empty() && gb.stream.empty()) {
    std::vector<int> ranks;
    for (int s : gb.steps)
      if (c.step(s).kind == StepKind::Contract && std::find(ranks.begin(), ranks.end(), c.step(s).over) == ranks.end())
        ranks.push_back(c.step(s).over);
    for (int r : ranks)
      for (const TileChoice& tc : grouped_tiles(c, r, hw, effort))
        if (tc.tile < c.extent[std::size_t(r)]) {
          Mapping m = base;
          m.groups[std::size_t(group)].loops = {{r, tc.tile}};
          shapes.push_back(m);
        }
  }
  // A group the default interleaves (Linformer's projections: a chunk of heads per pass over E and F)
  // may also take fewer heads per pass (1, 2, 4, ...), leaving room for larger tiles.
  if (gb.interleave > 1) {
    const std::size_t n = shapes.size();
    for (int h = 1; h < gb.interleave; h *= 2)
      for (std::size_t i = 0; i < n; ++i) {
        Mapping m = shapes[i];
        m.groups[std::size_t(group)].interleave = h;
        shapes.push_back(m);
      }
  }
  std::vector<std::size_t> pick(choices.size(), 0);
  for (const Mapping& shape : shapes)
    for (;;) {
      Mapping m = shape;
      GroupMapping& gm = m.groups[std::size_t(group)];
      bool wide = false;
      for (std::size_t i = 0; i < choices.size(); ++i) {
        const TileChoice& tc = choices[i][pick[i]];
        Loop& l = i < gm.loops.size() ? gm.loops[i] : gm.stream[i - gm.loops.size()];
        l.tile = std::min(tc.tile, c.extent[std::size_t(l.rank)]);
        wide |= tc.wide;
      }
      for (const std::vector<int>& d : depths) {
        Mapping md = m;
        for (std::size_t i = 0; i < intermediates.size(); ++i) md.tensors[std::size_t(intermediates[i])].buffers = d[i];
        ++tried;
        add(md, wide);
        if (!hw.accumulators.present) continue;
        CascadePlan dims;  // buffer shapes, whatever the SRAM
        if (!cascade::check_mapping(c, md, hw, ~std::uint64_t(0), &dims).empty()) continue;
        for (int level = 1; level <= 2; ++level) {
          Mapping placed = md;
          if (!place_local_in_accumulators(c, dims.groups[std::size_t(group)], local, hw, level, &placed)) break;
          ++tried;
          add(placed, wide);
        }
      }
      std::size_t i = 0;
      while (i < pick.size() && ++pick[i] == choices[i].size()) pick[i++] = 0;
      if (i == pick.size()) break;
    }
  if (enumerated) *enumerated = tried;
  return out;
}

}  // namespace

std::vector<CascadeCandidate> grouped_candidates(const Cascade& c, const HwConfig& hw, std::uint64_t capacity,
                                                 const DefaultMapping& default_of, int group, std::int64_t instances,
                                                 MapperEffort effort) {
  const Mapping base = default_of(capacity);
  return grouped_candidates_of(c, hw, capacity, default_of, base, group, instances, effort, nullptr);
}

GroupedPick search_grouped_cascade(const Cascade& c, const HwConfig& hw, std::uint64_t capacity,
                                   const DefaultMapping& default_of, std::int64_t instances, const MapperOptions& opt,
                                   const std::string& what) {
  const Mapping base = default_of(capacity);  // the variant's UserError when nothing fits
  const bool timed = opt.effort != MapperEffort::Fast;
  const std::vector<std::uint64_t> budgets = rungs(capacity);
  GroupedPick out;
  out.mapping = base;
  out.mapping.source = "mapper";
  if (!timed) {
    // The estimate alone does not know these groups well enough to leave the default: it misses how a
    // gather's chunks pipeline and how a memory-bound token stream exposes its first load and last
    // store (lowrank_linear's token stream on a 64x64 edge array: 28,266 estimated, 18,905 timed, while
    // its tile choices differ by 1 % as timed). The fast effort keeps the default mapping.
    CascadePlan plan = cascade::plan_cascade(c, base, hw, capacity);
    for (const GroupPlan& gp : plan.groups) {
      const GroupEstimate e = estimate_group(c, gp, hw, std::max<std::int64_t>(1, instances));
      out.cycles += e.cycles;
      out.dram_bytes += e.dram_bytes;
    }
    out.default_cycles = out.cycles;
    return out;
  }
  for (int g = 0; g < int(base.groups.size()); ++g) {
    std::vector<int> rung_default;
    std::size_t enumerated = 0;
    const std::vector<CascadeCandidate> cands =
        grouped_candidates_of(c, hw, capacity, default_of, base, g, instances, opt.effort, &rung_default, &enumerated);
    const int top_default = rung_default.back();
    ATTNSIM_ASSERT(top_default >= 0, what + ": the default mapping of cascade " + c.desc.name + " is illegal");
    std::vector<MapCandidate> mc;
    for (const CascadeCandidate& x : cands) mc.push_back(x.est);
    pick_mapping(mc, capacity, opt);  // times the analytically best few of every rung
    // Every rung's default is timed (it bounds the rung's pick), and every candidate of a small
    // mapspace (the estimate ranks a gather's chunks poorly; small groups are cheap to time).
    std::vector<std::size_t> to_time;
    for (std::size_t r = 0; r < rung_default.size(); ++r)
      if (rung_default[r] >= 0) {
        to_time.push_back(std::size_t(rung_default[r]));
        MapCandidate& x = mc[std::size_t(rung_default[r])];
        x.chosen_at = std::min(x.chosen_at, budgets[r]);
      }
    if (enumerated <= kTimeEveryCandidate)
      for (std::size_t i = 0; i < mc.size(); ++i) to_time.push_back(i), mc[i].chosen_at = 0;
    for (std::size_t i : to_time)
      if (mc[i].timed_cycles < 0) {
        MapCandidate& x = mc[i];
        if (opt.cache) {
          auto it = opt.cache->timed_cycles.find(x.key);
          if (it == opt.cache->timed_cycles.end()) it = opt.cache->timed_cycles.emplace(x.key, x.time()).first;
          x.timed_cycles = it->second;
        } else {
          x.timed_cycles = x.time();
        }
      }
    time_fewest_bytes_as_fast(mc, capacity, opt);
    // Per rung, the options no slower than the rung's default; the rung's pick is no slower than the
    // pick of the rung below either (pick_per_rung_stable), so more SRAM never picks slower. Options in
    // order of their SRAM footprint, so that of candidates equal in timed cycles and DRAM bytes the
    // one with the fewest SRAM bytes wins, whatever rung the ladder starts at: a smaller design,
    // whose ladder starts lower, would otherwise keep a pick that a larger one, finding both on its
    // first rung, passes over for the earlier candidate. It is also the better one: lowrank_linear's
    // O and Qp in the accumulator storage (edge, 16x16, 32 KiB banks) time as in SRAM (the group is
    // timed alone, 53,561 cycles either way), and in the model the attention ends on the same cycle
    // either way while the first layer's out_proj GEMM after it ends 18 cycles earlier (the whole
    // run's loss with 128 KiB banks, which picked them in SRAM; the second layer loses none).
    std::vector<std::size_t> by_footprint(mc.size());
    for (std::size_t i = 0; i < mc.size(); ++i) by_footprint[i] = i;
    std::stable_sort(by_footprint.begin(), by_footprint.end(),
                     [&](std::size_t a, std::size_t b) { return mc[a].sram_bytes < mc[b].sram_bytes; });
    std::vector<std::vector<RungPick>> options(budgets.size());
    for (std::size_t r = 0; r < budgets.size(); ++r) {
      const double cap = rung_default[r] >= 0 ? mc[std::size_t(rung_default[r])].timed_cycles : -1;
      for (std::size_t i : by_footprint)
        if (mc[i].timed_cycles >= 0 && mc[i].sram_bytes <= budgets[r] && mc[i].chosen_at <= budgets[r] &&
            (cap < 0 || mc[i].timed_cycles <= cap))
          options[r].push_back({mc[i].timed_cycles, mc[i].dram_bytes, i});
    }
    const RungPick top = pick_per_rung_stable(options).back();
    ATTNSIM_ASSERT(top.cycles >= 0, "the full budget's default is an option");
    const std::size_t chosen = top.index;
    out.cycles += mc[chosen].timed_cycles;
    out.default_cycles += mc[std::size_t(top_default)].timed_cycles;
    out.dram_bytes += mc[chosen].dram_bytes;
    adopt_group(out.mapping, cands[chosen].mapping, g, group_local(c, base, g));
  }
  const std::vector<std::string> problems = cascade::check_mapping(c, out.mapping, hw, capacity);
  ATTNSIM_ASSERT(problems.empty(), what + ": the groups' picks of cascade " + c.desc.name +
                                       " are illegal together: " + (problems.empty() ? "" : problems.front()));
  return out;
}

cascade::Mapping fixed_cascade_mapping(const Cascade& c, const HwConfig& hw, std::uint64_t capacity,
                                       const ModelMapping& fixed, const std::string& name) {
  const OpMapping* om = fixed.find(name);
  ATTNSIM_ASSERT(om, "fixed_cascade_mapping without a mapping for " + name);
  if (om->kind != "cascade")
    throw UserError(fixed.where(name, "kind") + ": " + name + " runs cascade " + c.desc.name +
                    " here: kind must be \"cascade\", got \"" + om->kind + "\"");
  const std::string where = fixed.where(name, "mapping");  // FILE: /ops/NAME/mapping
  const std::string file = where.substr(0, where.find(": /"));
  const std::string prefix = where.substr(file.size() + 2);
  auto rethrow = [&](const UserError& e) {
    std::vector<std::string> out;
    std::vector<std::string> in = e.problems();
    if (in.empty()) in.push_back(e.what());
    for (const std::string& p : in) {
      // "FILE: /path: rule" from the cascade readers becomes "FILE: /ops/NAME/mapping/path: rule".
      if (p.rfind(file + ": /", 0) == 0)
        out.push_back(file + ": " + prefix + p.substr(file.size() + 2));
      else if (p.rfind(file + ": ", 0) == 0)
        out.push_back(file + ": " + prefix + ": " + p.substr(file.size() + 2));
      else
        out.push_back(where + ": " + p);
    }
    throw UserError(out);
  };
  try {
    cascade::Mapping m = cascade::parse_mapping(om->cascade, file, c, hw);
    cascade::plan_cascade(c, m, hw, capacity);
    return m;
  } catch (const UserError& e) {
    rethrow(e);
  }
  throw InternalError("unreachable");
}

OpMapping cascade_op_mapping(const Cascade& c, const Mapping& m) {
  OpMapping om;
  om.kind = "cascade";
  om.cascade = cascade::mapping_to_json(c, m);
  return om;
}

}  // namespace attnsim
