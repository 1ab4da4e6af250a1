#include "compiler/gemm_lowering.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <functional>
#include <map>
#include <numeric>
#include <tuple>
#include <vector>

#include "common/errors.h"
#include "compiler/gemm_cascade.h"
#include "timing/sram_traffic.h"

namespace attnsim {

namespace {


// Candidate tile sizes for a dimension of length `dim` folded over `granule` (1 = streamed):
// the whole dimension, and granule * 2^i below it (a streamed dimension starts at 16). `wide`
// (thorough effort) adds every multiple of the granule up to 16 of them, and 3 * 2^i multiples.
std::vector<std::int64_t> candidates(std::int64_t dim, std::int64_t granule, bool wide = false) {
  std::vector<std::int64_t> v{dim};
  const std::int64_t g0 = granule == 1 ? 16 : granule;
  for (std::int64_t t = g0; t < dim; t *= 2) v.push_back(t);
  if (wide) {
    for (std::int64_t i = 3; i <= 16 && i * g0 < dim; ++i) v.push_back(i * g0);
    for (std::int64_t t = 3 * g0; t < dim; t *= 2) v.push_back(t);
  }
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// Buffers per operand: 2 (double-buffered), more when the tiling keeps an operand resident
// (GemmTiling: k_middle, outer_resident, inner_resident).
struct Slots {
  std::int64_t a = 2, b = 2, c = 2;
};

// A resident outer operand's panels rotate over this many sets of nk buffers: two (the next panel
// loads while this one is used), three with a lead block, so that the panel after the block loads
// into a set of its own instead of waiting for the block's last GEMMs (its last K step's tiles are
// read until the block ends, when the next row needs them nk GEMMs later).
std::int64_t outer_panel_sets(const GemmTiling& t) { return t.lead_block > 0 ? t.lead_block + 1 : 2; }

Slots slot_counts(const GemmTiling& t) {
  const GemmDims& d = t.dims;
  const std::int64_t nm = ceil_div(d.m, t.tm), nn = ceil_div(d.n, t.tn), nk = ceil_div(d.k, t.tk);
  const std::int64_t n_inner = t.n_outer ? nm : nn;
  const std::int64_t sb = 2;  // a streamed operand and the C tiles are double-buffered
  const std::int64_t outer = t.outer_resident ? outer_panel_sets(t) * nk : sb, inner = t.inner_resident ? nk * n_inner : sb;
  Slots s;
  s.a = t.n_outer ? inner : outer;
  s.b = t.n_outer ? outer : inner;
  // A lead block keeps its C tiles over k, and two more take the tiles after it while the block's
  // stores, all issued at its end, go out.
  s.c = t.k_middle ? 2 * n_inner : t.lead_block > 0 ? t.lead_block * n_inner + 2 : sb;
  return s;
}

struct BufferSizes {
  std::uint64_t a, b, c, r;  // one buffer each (r: the epilogue's residual tile, or 0)
  Slots n;                   // buffers of each (r: always 2)
  std::uint64_t total() const { return n.a * a + n.b * b + n.c * c + 2 * r; }
  std::uint64_t sram_total(bool c_in_accumulators) const { return total() - (c_in_accumulators ? n.c * c : 0); }
};

// Whether the C buffers of a tiling go to the accumulator storage.
bool c_fits_accumulators(const HwConfig& hw, const BufferSizes& b) {
  return hw.accumulators.present && std::uint64_t(b.n.c) * b.c <= std::uint64_t(hw.accumulators.bytes);
}

BufferSizes buffer_sizes(const HwConfig& hw, std::int64_t tm, std::int64_t tk, std::int64_t tn, int epilogue_inputs,
                         const Slots& n = {}) {
  // Buffers start on 64-byte boundaries (a burst), whatever the port width.
  const std::uint64_t ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes, al = 64;
  return {align_up(tm * tk * ob, al), align_up(tk * tn * ob, al), align_up(tm * tn * acc, al),
          epilogue_inputs ? align_up(tm * tn * ob, al) : 0, n};
}

// Array cycles of all tiles: tiles are full-sized except possibly the last along each dimension.
std::int64_t compute_cycles(const HwConfig& hw, const GemmDims& d, std::int64_t tm, std::int64_t tk, std::int64_t tn) {
  std::int64_t total = 0;
  auto parts = [](std::int64_t dim, std::int64_t t) {
    std::vector<std::pair<std::int64_t, std::int64_t>> p;  // (size, count)
    if (dim / t) p.push_back({t, dim / t});
    if (dim % t) p.push_back({dim % t, 1});
    return p;
  };
  for (auto [m, cm] : parts(d.m, tm))
    for (auto [k, ck] : parts(d.k, tk))
      for (auto [n, cn] : parts(d.n, tn))
        total +=
            cm * ck * cn * gemm_cycles(hw.array.rows, hw.array.cols, hw.array.dataflow, hw.array.timing, {m, k, n});
  return total;
}



// SRAM banks a buffer of `bytes` spans: with interleaved banks, one per stripe up to all of them;
// with contiguous banks, when it starts on a bank boundary (the gemm cascade layout when it fits;
// otherwise it may straddle one more, which the estimate ignores).
std::int64_t banks_spanned(const HwConfig& hw, std::uint64_t bytes) {
  const std::uint64_t stripe = std::uint64_t(hw.sram.stripe_bytes());
  const std::int64_t n = std::max<std::int64_t>(1, std::int64_t((bytes + stripe - 1) / stripe));
  return hw.sram.interleaved() ? std::min<std::int64_t>(n, hw.sram.banks) : n;
}

// The cycle-level DRAM's bandwidth for a tiling: a tile's rows are runs of contiguous bytes at a stride
// (A: tk of a row of k, B: tn of a row of n, C: tn; a whole row makes the tile contiguous), and a run
// shorter than the block within which only the channel and column change (dram_address_mapping.h) opens
// a row on each channel it touches, one per run or per the runs that share the block. A rank opens one
// row per activate_cycles (tFAW / 4 or tRRD_S), so a run takes at least that long: the peak bandwidth
// divided by each operand's factor max(1, activate_cycles x peak / (run x runs per block)), weighted by
// the operand's bytes (as the program timer's rows, mapper/program_timer.h).
double row_limited_bandwidth(const HwConfig& hw, const GemmDims& d, std::int64_t tk, std::int64_t tn) {
  const double bw = hw.dram.peak_bytes_per_cycle;
  const DramConfig::Rows& r = hw.dram.rows;
  if (hw.dram.model == DramModel::Ideal || r.activate_cycles <= 0) return bw;
  const double block = std::ldexp(1.0, r.mapping.block_shift());
  const double ob = hw.array.operand_bytes;
  auto factor = [&](std::int64_t tile_cols, std::int64_t cols) {
    if (tile_cols >= cols) return 1.0;  // whole rows: the tile is contiguous
    const double run = double(tile_cols) * ob, stride = double(cols) * ob;
    if (run >= block) return 1.0;
    const double runs_per_block = std::max(1.0, block / stride);
    return std::max(1.0, r.activate_cycles * bw / (run * runs_per_block));
  };
  const double a = double(d.m * d.k), b = double(d.k * d.n), c = double(d.m * d.n);
  const double f = (a * factor(tk, d.k) + b * factor(tn, d.n) + c * factor(tn, d.n)) / (a + b + c);
  return bw / f;
}

// The analytical estimate of one tiling (the mapper's ranking; the best few are then timed). It
// follows the program timer (mapper/program_timer.h), which times GEMMs as the array runs them:
//   period    the cycles between consecutive GEMM instructions on the array. With chained GEMMs
//             (gemm_chaining, overlapped timing; timing/array_timing.h) a GEMM's folds follow the
//             previous GEMM's under the same hazards as within one GEMM: F x max(T, R) cycles; a lone
//             GEMM pays its fill and drain, gemm_cycles(). Longer when the banks holding its operands
//             need more cycles to deliver them (sram_traffic.h, a buffer's bytes spread over the
//             banks it spans): the next GEMM begins once this one's transfers are done. And longer
//             when a buffer is reused too soon: a load into a double buffer waits until the last GEMM
//             reading the tile it replaces is done (its last MAC, `drain` cycles after its first
//             stream), so with the same slot reused `gap` GEMMs later, gap x period >= drain + load
//             (+ the stationary preload, which follows the load). The same holds for a C slot (its
//             next tile's first GEMM waits for the store of the last one) and, with k in the middle,
//             for the next K step on a C tile (it waits until the previous step is done).
//   prologue  the first A and B tiles' load, exposed: (a + b tile bytes) / bandwidth + latency (+ the
//             preload when chained: a lone GEMM's cycles include it).
//   body      in two phases, the first iteration of the outer loop (or the lead block) and the rest, each
//             max(its GEMMs' periods, its DRAM bytes / bandwidth): an operand kept resident is loaded
//             whole during the first iteration, which can then be memory-bound while the rest is
//             not. Every outer iteration reads the inner operand whole (from DRAM, or once when it is
//             resident) and its own panel of the outer one (once, or once per inner step), and stores
//             its C tiles; the first phase's bytes exclude the prologue's, loaded before it.
//   epilogue  the last GEMM's drain beyond its period (chained: R + C + T - 2 - max(T, R)), then the
//             last C tiles' store, exposed: one tile's bytes / bandwidth + latency; with k in the
//             middle the whole last row of C tiles finishes in the last K step, one tile per period,
//             so its stores exceed that step's remaining array time by
//             max(tile, row of tiles - (tiles - 1) x period) / bandwidth.
double analytic_cycles(const HwConfig& hw, const GemmDims& d, const GemmTiling& tl, int epilogue_inputs,
                       bool c_in_accumulators) {
  const std::int64_t tm = tl.tm, tk = tl.tk, tn = tl.tn;
  const std::uint64_t ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
  const double bw = row_limited_bandwidth(hw, d, tk, tn);
  const double latency = hw.dram.model == DramModel::Ideal ? double(hw.dram.latency_cycles) : 50.0;
  const std::uint64_t per_read = std::uint64_t(hw.sram.port_bytes) * hw.sram.read_ports,
                      per_write = std::uint64_t(hw.sram.port_bytes) * hw.sram.write_ports;
  const bool chained = hw.array.gemm_chaining && hw.array.timing == TimingMode::Overlapped;
  const int R = hw.array.rows, C = hw.array.cols;
  // A GEMM's time on the array: its period alone (chained: its folds' stream intervals; else all of
  // it) and, from its first stream to its last MAC, its drain.
  auto array_cycles = [&](const GemmDims& g, double* drain) {
    const FoldPlan p = fold_plan(R, C, hw.array.dataflow, hw.array.timing, g);
    const double whole = double(gemm_cycles(R, C, hw.array.dataflow, hw.array.timing, g));
    if (drain) *drain = chained ? whole - double(p.preload) : whole;
    return chained ? double(p.folds * p.interval) : whole;
  };
  double array_time = 0;
  auto parts = [](std::int64_t dim, std::int64_t t) {
    std::vector<std::pair<std::int64_t, std::int64_t>> p;  // (size, count)
    if (dim / t) p.push_back({t, dim / t});
    if (dim % t) p.push_back({dim % t, 1});
    return p;
  };
  const std::int64_t a_banks = banks_spanned(hw, tm * tk * ob), b_banks = banks_spanned(hw, tk * tn * ob),
                     c_banks = banks_spanned(hw, tm * tn * acc);
  double full_period = 0;  // the period of a full-sized tile
  for (auto [m, cm] : parts(d.m, tm))
    for (auto [k, ck] : parts(d.k, tk))
      for (auto [n, cn] : parts(d.n, tn)) {
        Instr g;
        g.op = Opcode::Gemm;
        g.m = std::uint32_t(m), g.k = std::uint32_t(k), g.n = std::uint32_t(n);
        g.accumulate = ck > 1 || k < tk;  // every K step but the first accumulates
        const SramTraffic t = gemm_sram_traffic(hw.array, g);
        auto need = [](std::uint64_t bytes, std::int64_t banks, std::uint64_t per) {
          return double((bytes + banks * per - 1) / (banks * per));
        };
        // Partial sums in accumulator storage use the array's own ports there, sized for it.
        const double c_ports = c_in_accumulators ? 0.0
                                                 : std::max(need(t.c_read, c_banks, per_read),
                                                            need(t.c_written, c_banks, per_write));
        const double ports = std::max({need(t.a_read, a_banks, per_read), need(t.b_read, b_banks, per_read), c_ports});
        const double period = std::max(array_cycles({m, k, n}, nullptr), ports);
        if (m == std::min(tm, d.m) && k == std::min(tk, d.k) && n == std::min(tn, d.n)) full_period = period;
        array_time += double(cm * ck * cn) * period;
      }
  const std::int64_t nm = ceil_div(d.m, tm), nn = ceil_div(d.n, tn), nk = ceil_div(d.k, tk);
  const std::int64_t n_outer = tl.n_outer ? nn : nm, n_inner = tl.n_outer ? nm : nn;
  const std::int64_t n_gemms = nm * nn * nk;
  const std::int64_t lead_tiles = tl.k_middle ? 0 : std::min<std::int64_t>(tl.lead_block, n_outer);

  // Buffer reuse (gemm_layout's slots, gemm_cascade.h): the period a full tile needs so that every reused slot is
  // free in time, gap x period >= drain + wait (wait: the load or store between the two uses).
  double drain = 0;
  array_cycles({std::min(tm, d.m), std::min(tk, d.k), std::min(tn, d.n)}, &drain);
  const double lead = chained ? double(fold_plan(R, C, hw.array.dataflow, hw.array.timing, {tm, tk, tn}).preload) : 0;
  const double a_tile = double(std::min(tm, d.m) * std::min(tk, d.k) * ob),
               b_tile = double(std::min(tk, d.k) * std::min(tn, d.n) * ob);
  const double outer_load = (tl.n_outer ? b_tile : a_tile) / bw + latency,
               inner_load = (tl.n_outer ? a_tile : b_tile) / bw + latency;
  const double c_store = double(std::min(tm, d.m) * std::min(tn, d.n) * ob) / bw + latency;
  const double prologue_bytes = a_tile + b_tile;
  double reuse_period = 0;
  auto reuse = [&](double gap, double wait) { reuse_period = std::max(reuse_period, (drain + wait + lead) / gap); };
  // An operand reloaded for every GEMM while C tiles are stored within the loop (k innermost): at each
  // C tile's store its next load may find the store on the DRAM bus first (the bus serves one
  // transfer at a time; which of the two goes first when both are ready in the same cycle is not
  // something a schedule should count on), and the slack it has left must cover the store too.
  std::vector<double> every_gemm_loads;
  if (!tl.k_middle) {
    // Each C tile takes nk consecutive GEMMs; the outer tile (o, k) serves n_inner GEMMs when nk = 1.
    if (tl.outer_resident) {
      const std::int64_t sets = outer_panel_sets(tl);
      if (n_outer > sets) reuse(double(((sets - 1) * n_inner + 1) * nk), outer_load);
    } else if (nk > 1 && n_gemms > 2) {
      every_gemm_loads.push_back(outer_load - latency);
    } else if (nk == 1 && n_outer > 2) {
      reuse(double(n_inner + 1), outer_load);
    }
    if (!tl.inner_resident && !(nk == 1 && n_inner == 1) && n_gemms > 2) every_gemm_loads.push_back(inner_load - latency);
    // Operands reloaded for every GEMM share the bus: both loads fit between a GEMM and the next but one.
    if (!every_gemm_loads.empty()) reuse(2, std::accumulate(every_gemm_loads.begin(), every_gemm_loads.end(), latency));
    // A C tile's store is issued with the loads its last GEMM frees the slots of, and waits for them
    // on the bus (a load ready in the same cycle goes first).
    // With a lead block the C tiles rotate over its lead x n_inner buffers and two more; the block's
    // K steps on a tile wait for each other (the block's other GEMMs come between).
    const std::int64_t c_slots = lead_tiles > 0 ? lead_tiles * n_inner + 2 : 2;
    if (nm * nn > c_slots)
      reuse(double((c_slots - 1) * nk + 1),
            std::accumulate(every_gemm_loads.begin(), every_gemm_loads.end(), c_store));
    if (lead_tiles > 0) reuse(double(lead_tiles * n_inner), 0);
  } else {
    // For each outer tile and K step, the inner loop: the outer tile serves n_inner GEMMs.
    if (nk * n_outer > 2) reuse(double(n_inner + 1), outer_load);
    if (!tl.inner_resident) reuse(2, inner_load);
    reuse(double(n_inner), 0);  // the next K step on a C tile waits for the last (no load between)
    if (n_outer > 2) reuse(double((nk + 1) * n_inner), c_store);
  }
  const double stretch = std::max(0.0, reuse_period - full_period);
  array_time += double(n_gemms) * stretch;
  const double period = full_period + stretch;
  // Transfers that come now and then take the bus from those that come with every GEMM or C tile, and
  // cost what they exceed the slack by: a C tile's store (when it goes first, see above) and, once
  // per outer tile, the outer operand's load when it is reloaded only then (nk = 1).
  if (!tl.k_middle && !every_gemm_loads.empty()) {
    const double loads = std::accumulate(every_gemm_loads.begin(), every_gemm_loads.end(), latency);
    double slack = 2 * period - (drain + loads + lead);
    array_time += double(nm * nn) * std::max(0.0, (c_store - latency) - slack);
    if (nm * nn > 2) slack = std::min(slack, double(nk + 1) * period - (drain + loads + (c_store - latency) + lead));
    if (nk == 1 && !tl.outer_resident && n_outer > 1)
      array_time += double(n_outer) * std::max(0.0, (outer_load - latency) - std::max(0.0, slack));
  } else if (tl.k_middle && !tl.inner_resident) {
    // k in the middle: each outer iteration ends with a burst of C stores, while the inner operand
    // is reloaded for every GEMM of the next.
    const double slack = 2 * period - (drain + inner_load + lead);
    array_time += double(nm * nn) * std::max(0.0, (c_store - latency) - slack);
  }

  const double outer_bytes = double((tl.n_outer ? d.k * d.n : d.m * d.k) * ob),
               inner_bytes = double((tl.n_outer ? d.m * d.k : d.k * d.n) * ob);
  // Stores behind prefetched loads. The DRAM bus serves transfers in the order they are issued, and
  // the load DMA issues every load whose slot is free, up to `outstanding` segments ahead of the bus.
  // When no operand is reloaded for every GEMM (resident operands fill empty slots), it runs far ahead
  // during the first outer iteration, and the first C tile's store waits behind those loads; with k
  // innermost, the third C tile (in the first tile's slot) waits for that store.
  if (!tl.k_middle && lead_tiles == 0 && every_gemm_loads.empty() && nm * nn > 2) {
    const double ahead_bytes = (tl.inner_resident ? inner_bytes : 0.0) +
                               (tl.outer_resident ? std::min(outer_bytes, 2 * outer_bytes / double(n_outer)) : 0.0);
    const bool ideal = hw.dram.model == DramModel::Ideal;
    const double tile = std::max(a_tile, b_tile), seg_bytes = double(hw.dma.segment_bytes);
    // The DMA's segments (hw/accelerator.cpp): an ideal DRAM takes a tile in at most 4.
    const double segment = ideal ? std::max(seg_bytes, std::ceil(tile / 4)) : seg_bytes;
    const double prologue_end = prologue_bytes / bw + latency + lead;
    const double store_at = prologue_end + double(nk) * period + (drain - period);
    const double queued = std::clamp(ahead_bytes - bw * store_at, 0.0, double(hw.dma.outstanding) * segment);
    const double store_done = store_at + queued / bw + c_store;
    array_time += std::max(0.0, store_done + lead - (prologue_end + 2.0 * double(nk) * period));
  }
  const double c_out = double(d.m * d.n * ob * (epilogue_inputs ? 2 : 1));  // stores (and residual loads)
  const bool outer_once = nk == 1 || tl.k_middle || tl.outer_resident;
  // The first phase: the first outer iteration, or the lead block.
  const double first_iters = double(std::max<std::int64_t>(1, lead_tiles));
  const double first_bytes =
      (outer_bytes / double(n_outer) * (outer_once ? 1.0 : double(n_inner)) + c_out / double(n_outer)) * first_iters +
      inner_bytes;
  const double first_time = array_time / double(n_outer) * first_iters;
  const double body = std::max(first_time, std::max(0.0, first_bytes - prologue_bytes) / bw) +
                      std::max(array_time - first_time, std::max(0.0, double(tl.est_dram_bytes) - first_bytes) / bw);
  const double prologue = prologue_bytes / bw + latency + lead;
  const double tile_out = double(std::min(tm, d.m) * std::min(tn, d.n) * ob * (epilogue_inputs ? 2 : 1));
  double tail_bytes = tile_out;
  if (tl.k_middle) tail_bytes = std::max(tile_out, double(n_inner) * tile_out - double(n_inner - 1) * period * bw);
  return prologue + body + std::max(0.0, drain - period) + tail_bytes / bw + latency;
}

// A GEMM of at most this many tiles is timed whole (choose_gemm_tiling).
constexpr std::int64_t kWholeTimedTiles = 256;

// The candidate tilings' programs for the timer: the GEMM alone, as lower_gemm builds it.
std::function<void(ProgramSink&)> gemm_program(const HwConfig& hw, const GemmDims& d, const GemmTiling& t) {
  return [&hw, d, t](ProgramSink& sink) {
    const std::uint64_t ob = hw.array.operand_bytes;
    const std::uint64_t a_base = 0, b_base = align_up(d.m * d.k * ob, 4096), c_base = align_up(b_base + d.k * d.n * ob, 4096),
                        r_base = align_up(c_base + d.m * d.n * ob, 4096);
    const std::vector<TensorInfo> tensors = {{"A", a_base, std::uint64_t(d.m), std::uint64_t(d.k), int(ob)},
                                             {"B", b_base, std::uint64_t(d.k), std::uint64_t(d.n), int(ob)},
                                             {"C", c_base, std::uint64_t(d.m), std::uint64_t(d.n), int(ob)},
                                             {"R", r_base, std::uint64_t(d.m), std::uint64_t(d.n), int(ob)}};
    Emitter em(sink, tensors);
    const Epilogue epi = t.epilogue_inputs ? Epilogue::AddResidual : Epilogue::None;
    const std::uint64_t cap = std::uint64_t(hw.sram.total_bytes());
    // What lower_gemm and model_lowering run: the generic lowering of the gemm cascade, bound to this
    // GEMM (a slice of the tiling's when the timer extrapolates).
    GemmTiling part = t;
    part.dims = d;
    GemmCascadeEmitter(hw, part, epi, cap).emit(em, {whole_gemm_blocks(d, epi)});
  };
}

}  // namespace

namespace {

// Granule per GEMM dimension (array_timing.h's mapping); 1 marks the streamed dimension.
void granules(const HwConfig& hw, std::int64_t* gm, std::int64_t* gk, std::int64_t* gn) {
  const std::int64_t R = hw.array.rows, C = hw.array.cols;
  *gm = *gk = *gn = 1;
  switch (hw.array.dataflow) {
    case Dataflow::OS:
      *gm = R, *gn = C;
      break;
    case Dataflow::WS:
      *gk = R, *gn = C;
      break;
    case Dataflow::IS:
      *gk = R, *gm = C;
      break;
  }
}

// Calls visit(tiling, footprint, wide) for every tiling within capacity (footprint: its SRAM bytes): tile sizes from
// candidates() per dimension (the fixed ones only, where the user fixed them), both loop orders
// (or the fixed one). `wide` tells a tiling only the thorough effort's mapspace has.
template <typename Visit>
void for_each_tiling(const HwConfig& hw, const GemmDims& d, std::uint64_t capacity, int epilogue_inputs, bool wide,
                     const OpMapping* fixed, Visit&& visit) {
  std::int64_t gm, gk, gn;
  granules(hw, &gm, &gk, &gn);
  const std::uint64_t ob = hw.array.operand_bytes;
  auto rank_candidates = [&](const char* rank, std::int64_t dim, std::int64_t granule) {
    if (fixed && fixed->tile_of(rank)) return std::vector<std::int64_t>{fixed->tile_of(rank)};
    return candidates(dim, granule, wide);
  };
  // The default mapspace's sizes; the others come from the thorough effort's wider one.
  const std::vector<std::int64_t> narrow_m = candidates(d.m, gm), narrow_k = candidates(d.k, gk),
                                  narrow_n = candidates(d.n, gn);
  auto narrow = [](std::int64_t t, const std::vector<std::int64_t>& v) {
    return std::find(v.begin(), v.end(), t) != v.end();
  };
  std::vector<bool> orders = {false, true};
  if (fixed && !fixed->loop_order.empty()) orders = {fixed->loop_order.front() == "n"};
  // -1: free; else whether k is in the middle of the fixed loop order.
  const int fixed_k_middle = fixed && !fixed->loop_order.empty() ? int(fixed->loop_order.back() != "k") : -1;
  const bool fixed_resident = fixed && fixed->has_resident;
  for (std::int64_t tm : rank_candidates("m", d.m, gm))
    for (std::int64_t tk : rank_candidates("k", d.k, gk))
      for (std::int64_t tn : rank_candidates("n", d.n, gn)) {
        const std::int64_t nm = ceil_div(d.m, tm), nn = ceil_div(d.n, tn), nk = ceil_div(d.k, tk);
        const std::uint64_t a_bytes = d.m * d.k * ob, b_bytes = d.k * d.n * ob, c_bytes = d.m * d.n * ob;
        const std::int64_t comp = compute_cycles(hw, d, tm, tk, tn);
        const bool is_wide = !narrow(tm, narrow_m) || !narrow(tk, narrow_k) || !narrow(tn, narrow_n);
        for (bool n_outer : orders) {
          const std::int64_t n_out = n_outer ? nn : nm, n_in = n_outer ? nm : nn;
          // Residency choices, only where they change what is read: k in the middle and a resident
          // outer panel when the K loop has several steps and the inner loop several tiles; a
          // resident inner operand when the outer loop would read it again.
          for (int k_mid = 0; k_mid <= 1; ++k_mid) {
            if (fixed_k_middle >= 0 ? k_mid != fixed_k_middle : k_mid && (nk == 1 || n_in == 1)) continue;
            for (int outer_res = 0; outer_res <= 1; ++outer_res) {
              if (fixed_resident && outer_res != (n_outer ? fixed->resident_b() : fixed->resident_a())) continue;
              if (outer_res && !fixed_resident && (k_mid || nk == 1 || n_in == 1)) continue;
              for (int inner_res = 0; inner_res <= 1; ++inner_res) {
                if (fixed_resident && inner_res != (n_outer ? fixed->resident_a() : fixed->resident_b())) continue;
                if (inner_res && !fixed_resident && (n_out == 1 || (nk == 1 && n_in == 1))) continue;
                // A lead block where the first outer iteration would load the whole inner operand:
                // both operands resident, k innermost, K and the outer loop in several steps.
                const bool lead_ok = !k_mid && outer_res && inner_res && nk > 1 && n_out > 2;
                for (int lead : {0, 2}) {
                  if ((fixed && fixed->lead_block >= 0 && lead != fixed->lead_block) || (lead && !lead_ok)) continue;
                  GemmTiling t;
                  t.tm = tm, t.tk = tk, t.tn = tn, t.n_outer = n_outer, t.est_compute_cycles = comp;
                  t.k_middle = k_mid, t.outer_resident = outer_res, t.inner_resident = inner_res, t.lead_block = lead;
                  t.dims = d;
                  // C tiles go to the accumulator storage whenever they fit there (then they take no SRAM).
                  const BufferSizes bs = buffer_sizes(hw, tm, tk, tn, epilogue_inputs, slot_counts(t));
                  const bool c_acc = c_fits_accumulators(hw, bs);
                  const std::uint64_t footprint = bs.sram_total(c_acc);
                  if (footprint > capacity) continue;
                  // A tile is loaded again only when the block it holds is not on chip: the outer
                  // operand once when the whole K is one tile, K is in the middle or its panel is
                  // resident, else once per inner step; the inner operand once when it is resident
                  // or a single tile, else once per outer step. The generic lowering of the gemm
                  // cascade (compiler/gemm_cascade.h; every tiling it translates) also reads a block
                  // still in a double buffer's other slot: the outer operand once with K in two
                  // tiles, the inner one once when it is two tiles.
                  const std::int64_t kept = gemm_cascade_translatable(t, false) ? 2 : 1;
                  const bool outer_once = nk <= kept || k_mid || outer_res || n_in == 1;
                  const bool inner_once = inner_res || nk * n_in <= kept || n_out == 1;
                  const std::uint64_t outer_b = n_outer ? b_bytes : a_bytes, inner_b = n_outer ? a_bytes : b_bytes;
                  std::uint64_t traffic = c_bytes + outer_b * (outer_once ? 1 : std::uint64_t(n_in)) +
                                          inner_b * (inner_once ? 1 : std::uint64_t(n_out));
                  if (epilogue_inputs) traffic += c_bytes;  // the residual read once
                  t.est_dram_bytes = traffic;
                  t.epilogue_inputs = epilogue_inputs;
                  t.c_in_accumulators = c_acc;
                  t.est_cycles = analytic_cycles(hw, d, t, epilogue_inputs, c_acc);
                  visit(t, footprint, is_wide);
                }
              }
            }
          }
        }
      }
}

}  // namespace

std::vector<GemmTiling> gemm_tiling_candidates(const HwConfig& hw, const GemmDims& d, std::uint64_t capacity,
                                               int epilogue_inputs, bool wide) {
  std::vector<GemmTiling> v;
  for_each_tiling(hw, d, capacity ? capacity : std::uint64_t(hw.sram.total_bytes()), epilogue_inputs, wide, nullptr,
                  [&](const GemmTiling& t, std::uint64_t, bool) { v.push_back(t); });
  return v;
}

namespace {

GemmTiling choose_gemm_tiling_uncached(const HwConfig& hw, const GemmDims& d, std::uint64_t capacity_limit,
                                       const std::string& what, int epilogue_inputs, const MapperOptions& opt);

}  // namespace

struct GemmPickMemo {
  std::map<std::string, GemmTiling> picks;
};

GemmTiling choose_gemm_tiling(const HwConfig& hw, const GemmDims& d, std::uint64_t capacity_limit,
                              const std::string& what, int epilogue_inputs, const MapperOptions& opt) {
  // One compilation shares the hardware: a GEMM of the same shape, budget and epilogue, with nothing
  // fixed by the user for it, gets the same pick (the layers of a model repeat their GEMMs).
  const bool fixed = opt.fixed && opt.fixed->find(what);
  if (!opt.cache || fixed) return choose_gemm_tiling_uncached(hw, d, capacity_limit, what, epilogue_inputs, opt);
  if (!opt.cache->gemm_picks) opt.cache->gemm_picks = std::make_shared<GemmPickMemo>();
  std::map<std::string, GemmTiling>& memo = opt.cache->gemm_picks->picks;
  const std::string key = std::to_string(d.m) + "x" + std::to_string(d.k) + "x" + std::to_string(d.n) + " cap" +
                          std::to_string(capacity_limit) + " epi" + std::to_string(epilogue_inputs) + " e" +
                          to_string(opt.effort) + " seed" + std::to_string(opt.seed);
  auto it = memo.find(key);
  if (it == memo.end())
    it = memo.emplace(key, choose_gemm_tiling_uncached(hw, d, capacity_limit, what, epilogue_inputs, opt)).first;
  return it->second;
}

namespace {

GemmTiling choose_gemm_tiling_uncached(const HwConfig& hw, const GemmDims& d, std::uint64_t capacity_limit,
                                       const std::string& what, int epilogue_inputs, const MapperOptions& opt) {
  if (d.m <= 0 || d.k <= 0 || d.n <= 0)
    throw UserError("GEMM dimensions must be positive, got M=" + std::to_string(d.m) + " K=" + std::to_string(d.k) +
                    " N=" + std::to_string(d.n));
  const std::uint64_t capacity = capacity_limit ? capacity_limit : std::uint64_t(hw.sram.total_bytes());
  const bool wide = opt.effort == MapperEffort::Thorough;

  // Choices the user fixed for this op (--mapping FILE): they replace the candidates of their rank.
  const OpMapping* fixed = opt.fixed ? opt.fixed->find(what) : nullptr;
  if (fixed) {
    std::string problems;
    auto problem = [&](const std::string& field, const std::string& rule) {
      problems += (problems.empty() ? "" : "\n") + opt.fixed->where(what, field) + ": " + rule;
    };
    if (fixed->kind != "gemm") problem("kind", what + " is a GEMM: kind must be \"gemm\", got \"" + fixed->kind + "\"");
    for (auto [rank, dim] : {std::pair<const char*, std::int64_t>{"m", d.m}, {"k", d.k}, {"n", d.n}})
      if (fixed->tile_of(rank) > dim)
        problem(std::string("tile/") + rank, "must be at most the GEMM's " + std::string(rank) + " = " +
                                                 std::to_string(dim) + ", got " + std::to_string(fixed->tile_of(rank)));
    if (!problems.empty()) throw UserError(problems);
  }

  std::vector<GemmTiling> tilings;
  std::vector<MapCandidate> cands;
  for_each_tiling(hw, d, capacity, epilogue_inputs, wide, fixed, [&](const GemmTiling& t, std::uint64_t footprint,
                                                                      bool is_wide) {
          const std::int64_t tm = t.tm, tk = t.tk, tn = t.tn;
          const std::uint64_t traffic = t.est_dram_bytes;
          MapCandidate mc;
          mc.analytic_cycles = t.est_cycles;
          mc.dram_bytes = traffic;
          mc.sram_bytes = footprint;
          mc.wide = is_wide;
          if (opt.effort != MapperEffort::Fast)  // the fast effort times nothing: no cache key
            mc.key = "gemm " + std::to_string(d.m) + "x" + std::to_string(d.k) + "x" + std::to_string(d.n) + " tiles " +
                   std::to_string(tm) + "x" + std::to_string(tk) + "x" + std::to_string(tn) + " order " + describe_gemm_order(t) +
                   (epilogue_inputs ? " residual" : "");
          tilings.push_back(t);
          cands.push_back(std::move(mc));
  });
  const bool found = !cands.empty();
  if (!found) {
    std::int64_t gm, gk, gn;
    granules(hw, &gm, &gk, &gn);
    auto smallest = [&](const char* rank, std::int64_t dim, std::int64_t granule) {
      return fixed && fixed->tile_of(rank) ? fixed->tile_of(rank) : candidates(dim, granule).front();
    };
    const std::int64_t tm = smallest("m", d.m, gm), tk = smallest("k", d.k, gk), tn = smallest("n", d.n, gn);
    BufferSizes b = buffer_sizes(hw, tm, tk, tn, epilogue_inputs);
    std::ostringstream msg;
    if (fixed) msg << opt.fixed->where(what, "tile") << ": the fixed tiling does not fit; ";
    msg << hw.source << ": /sram: " << (what.empty() || what == "gemm" ? "GEMM" : what) << " " << d.m << "x" << d.k << "x" << d.n << " does not fit: its smallest tile (A "
        << tm << "x" << tk << " = " << b.a << " B, B " << tk << "x" << tn << " = " << b.b << " B, C " << tm << "x" << tn
        << " accumulators = " << b.c << " B, each double-buffered: "
        << (c_fits_accumulators(hw, b) ? std::to_string(b.sram_total(true)) + " B of SRAM with C in accumulators"
                                       : std::to_string(b.total()) + " B")
        << ") exceeds the "
        << (capacity < std::uint64_t(hw.sram.total_bytes()) ? "SRAM left for it, " : "SRAM capacity of ") << capacity << " B (" << hw.sram.banks
        << " banks x " << hw.sram.bytes_per_bank << " B)";
    throw UserError(msg.str());
  }
  // Among equal estimates, fewer tiles (fewer instructions) first, then m-outer.
  std::vector<std::size_t> idx(tilings.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  auto tiles = [&](const GemmTiling& x) { return ceil_div(d.m, x.tm) * ceil_div(d.k, x.tk) * ceil_div(d.n, x.tn); };
  auto before = [&](std::size_t a, std::size_t b) {
    return std::make_tuple(tilings[a].est_cycles, tilings[a].est_dram_bytes, tiles(tilings[a]), tilings[a].n_outer) <
           std::make_tuple(tilings[b].est_cycles, tilings[b].est_dram_bytes, tiles(tilings[b]), tilings[b].n_outer);
  };
  // The fast effort takes the analytically best (pick_mapping's first in this order) without sorting
  // or building the timers.
  if (opt.effort == MapperEffort::Fast) return tilings[*std::min_element(idx.begin(), idx.end(), before)];
  std::stable_sort(idx.begin(), idx.end(), before);
  std::vector<GemmTiling> sorted_t;
  std::vector<MapCandidate> sorted_c;
  for (std::size_t i : idx) {
    sorted_t.push_back(tilings[i]);
    // Timed on the whole GEMM when it has at most two tiles along both M and N, or few tiles in
    // all (timing it costs about what the slices cost, and a resident operand's first load or k in
    // the middle's last row of stores does not scale with the slices); otherwise on slices of one
    // and two iterations of the loop over M or N with more tiles (the outer loop when it has more
    // than two), extrapolated: every iteration but a ragged last one repeats the same tiles (the
    // ragged one is timed as what it adds to the first iterations, a third slice). A lead
    // block's outer tiles are not such iterations (they share the inner operand's loads, k
    // outermost): slices of the outer loop then hold the block and one and two iterations after it,
    // so that their difference is an iteration of the steady state (slices of one and two outer
    // tiles both fell inside a 2-tile block: P V 4096x4096x32 on a 16x16 edge array timed at
    // 1.19 M cycles, under its 2.10 M of MACs / PEs).
    const GemmTiling& t = tilings[i];
    const std::int64_t nm = ceil_div(d.m, t.tm), nn = ceil_div(d.n, t.tn);
    const std::int64_t outer = t.n_outer ? nn : nm, inner = t.n_outer ? nm : nn;
    const bool slice_n = outer > 2 ? t.n_outer : !t.n_outer;  // which dimension the slices cut
    const std::int64_t reps = slice_n ? nn : nm;
    const std::int64_t first = slice_n == t.n_outer && !t.k_middle ? std::max(0, t.lead_block) + 1 : 1;
    // With k in the middle, slices of the inner loop are timed whole: a slice of one inner tile is not
    // a mapping of the gemm cascade (its C tile would be read over k from inside the k loop).
    const bool whole = (outer <= 2 && inner <= 2) || nm * nn * ceil_div(d.k, t.tk) <= kWholeTimedTiles ||
                       (t.k_middle && slice_n != t.n_outer);
    if (!whole) cands[i].time_whole = [&hw, d, t] { return double(time_program(hw, gemm_program(hw, d, t)).cycles); };
    cands[i].time = [&hw, d, t, slice_n, reps, first, whole] {
      if (whole) return double(time_program(hw, gemm_program(hw, d, t)).cycles);
      const std::int64_t dim = slice_n ? d.n : d.m, tile = slice_n ? t.tn : t.tm, rem = dim % tile;
      // The slice of the cut dimension's first `len` rows (columns).
      auto slice = [&](std::int64_t len) {
        GemmDims part = d;
        (slice_n ? part.n : part.m) = std::min(dim, len);
        return double(time_program(hw, gemm_program(hw, part, t)).cycles);
      };
      if (rem == 0 || reps <= first + 1)
        return time_extrapolated(
            hw, reps,
            [&](ProgramSink& sink, std::int64_t r) {
              GemmDims part = d;
              (slice_n ? part.n : part.m) = std::min(dim, r * tile);
              gemm_program(hw, part, t)(sink);
            },
            first);
      // A ragged last iteration (rem of the tile's rows) costs what it adds to the first ones, not a
      // full iteration: Llama-2-7B's FFN GEMM 32768x4096x11008 on cloud, tiles 1792x512x256 with A's
      // panels resident, 19 m tiles the last of 512 rows, was timed at 23,577,063 cycles by slices of
      // one and two tiles alone and simulates in 22,719,556 (0.71 of a 1.2 M-cycle iteration fewer).
      const double ta = slice(first * tile), tb = slice((first + 1) * tile), tr = slice(first * tile + rem);
      return ta + (tb - ta) * double(reps - first - 1) + (tr - ta);
    };
    sorted_c.push_back(std::move(cands[i]));
  }
  const std::size_t pick = pick_mapping(sorted_c, capacity, opt, true);
  GemmTiling best = sorted_t[pick];
  if (sorted_c[pick].timed_cycles >= 0) best.est_cycles = sorted_c[pick].timed_cycles;
  return best;
}

}  // namespace

GemmBufferSizes gemm_buffer_sizes(const HwConfig& hw, const GemmTiling& t) {
  const Slots n = slot_counts(t);
  const BufferSizes bs = buffer_sizes(hw, t.tm, t.tk, t.tn, t.epilogue_inputs, n);
  ATTNSIM_ASSERT(!t.c_in_accumulators || c_fits_accumulators(hw, bs), "C tiles placed in accumulators that lack room");
  GemmBufferSizes g;
  g.a_slots = n.a, g.b_slots = n.b, g.c_slots = n.c;
  g.a = bs.a, g.b = bs.b, g.c = bs.c, g.r = bs.r;
  return g;
}

OpMapping gemm_op_mapping(const GemmTiling& t) {
  OpMapping m;
  m.kind = "gemm";
  m.tile = {{"m", t.tm}, {"k", t.tk}, {"n", t.tn}};
  const std::string outer = t.n_outer ? "n" : "m", inner = t.n_outer ? "m" : "n";
  m.loop_order = t.k_middle ? std::vector<std::string>{outer, "k", inner} : std::vector<std::string>{outer, inner, "k"};
  m.has_resident = true;
  const bool a_res = t.n_outer ? t.inner_resident : t.outer_resident,
             b_res = t.n_outer ? t.outer_resident : t.inner_resident;
  if (a_res) m.resident.push_back("A");
  if (b_res) m.resident.push_back("B");
  m.lead_block = t.lead_block;
  return m;
}

std::string describe_gemm_order(const GemmTiling& t) {
  const OpMapping m = gemm_op_mapping(t);
  std::string s = m.loop_order[0] + "," + m.loop_order[1] + "," + m.loop_order[2];
  for (const std::string& r : m.resident) s += ", " + r + " resident";
  if (t.lead_block > 0) s += ", first " + std::to_string(t.lead_block) + " " + m.loop_order[0] + " tiles k-outer";
  return s;
}

GemmBlocks whole_gemm_blocks(const GemmDims& d, Epilogue epi) {
  GemmBlocks o;
  o.a = {0, 0, 0, d.m, d.k};
  o.b = {1, 0, 0, d.k, d.n};
  o.c = {2, 0, 0, d.m, d.n};
  o.epilogue = epi;
  if (epi == Epilogue::AddResidual) o.residual = {3, 0, 0, d.m, d.n};
  return o;
}

TileProgram lower_gemm(const HwConfig& hw, const GemmDims& d, const GemmTiling& t) {
  std::ostringstream sum;
  sum << "GEMM M=" << d.m << " K=" << d.k << " N=" << d.n << " on " << hw.array.rows << "x" << hw.array.cols << " "
      << to_string(hw.array.dataflow) << ": tiles " << t.tm << "x" << t.tk << "x" << t.tn << ", loop order "
      << describe_gemm_order(t) << (t.c_in_accumulators ? ", C in accumulators" : "")
      << ", est. DRAM traffic " << t.est_dram_bytes << " B";
  // The tiling as a mapping of the gemm cascade, through the generic lowering (bound to this GEMM when
  // the tiling was chosen for another).
  GemmTiling part = t;
  part.dims = d;
  TileProgram p = lower_gemm_cascade(hw, d, part);
  p.summary = sum.str() + ", as cascade gemm";
  return p;
}

TileProgram lower_gemm(const HwConfig& hw, const GemmDims& d) { return lower_gemm(hw, d, choose_gemm_tiling(hw, d)); }

}  // namespace attnsim
