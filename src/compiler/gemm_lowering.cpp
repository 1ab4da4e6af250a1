#include "compiler/gemm_lowering.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <functional>
#include <tuple>
#include <vector>

#include "common/errors.h"
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

struct BufferSizes {
  std::uint64_t a, b, c, r;  // one buffer each (r: the epilogue's residual tile, or 0)
  std::uint64_t total() const { return 2 * (a + b + c + r); }
  std::uint64_t sram_total(bool c_in_accumulators) const { return total() - (c_in_accumulators ? 2 * c : 0); }
};

// Whether the two C buffers of a tiling go to the accumulator storage.
bool c_fits_accumulators(const HwConfig& hw, const BufferSizes& b) {
  return hw.accumulators.present && 2 * b.c <= std::uint64_t(hw.accumulators.bytes);
}

BufferSizes buffer_sizes(const HwConfig& hw, std::int64_t tm, std::int64_t tk, std::int64_t tn, int epilogue_inputs) {
  // Buffers start on 64-byte boundaries (a burst), whatever the port width.
  const std::uint64_t ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes, al = 64;
  return {align_up(tm * tk * ob, al), align_up(tk * tn * ob, al), align_up(tm * tn * acc, al),
          epilogue_inputs ? align_up(tm * tn * ob, al) : 0};
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
// with contiguous banks, when it starts on a bank boundary (GemmEmitter's layout when it fits;
// otherwise it may straddle one more, which the estimate ignores).
std::int64_t banks_spanned(const HwConfig& hw, std::uint64_t bytes) {
  const std::uint64_t stripe = std::uint64_t(hw.sram.stripe_bytes());
  const std::int64_t n = std::max<std::int64_t>(1, std::int64_t((bytes + stripe - 1) / stripe));
  return hw.sram.interleaved() ? std::min<std::int64_t>(n, hw.sram.banks) : n;
}

// The analytical estimate of one tiling (the mapper's ranking; the best few are then timed):
//   prologue  the first A and B tiles' load, exposed: (a + b tile bytes) / bandwidth + latency;
//   steady    max(sum over tiles of the array's time, all DRAM bytes / bandwidth), where a tile's
//             array time is its fold cycles (fill and drain included, array_timing.h) or, when
//             longer, the cycles the banks holding its operands need to deliver them (sram_traffic.h,
//             a buffer's bytes spread over the banks it spans);
//   epilogue  the last C tile's store, exposed: c tile bytes / bandwidth + latency.
double analytic_cycles(const HwConfig& hw, const GemmDims& d, std::int64_t tm, std::int64_t tk, std::int64_t tn,
                       std::uint64_t traffic, int epilogue_inputs, bool c_in_accumulators) {
  const std::uint64_t ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
  const double bw = hw.dram.peak_bytes_per_cycle;
  const double latency = hw.dram.model == DramModel::Ideal ? double(hw.dram.latency_cycles) : 50.0;
  const std::uint64_t per_read = std::uint64_t(hw.sram.port_bytes) * hw.sram.read_ports,
                      per_write = std::uint64_t(hw.sram.port_bytes) * hw.sram.write_ports;
  double array_time = 0;
  auto parts = [](std::int64_t dim, std::int64_t t) {
    std::vector<std::pair<std::int64_t, std::int64_t>> p;  // (size, count)
    if (dim / t) p.push_back({t, dim / t});
    if (dim % t) p.push_back({dim % t, 1});
    return p;
  };
  const std::int64_t a_banks = banks_spanned(hw, tm * tk * ob), b_banks = banks_spanned(hw, tk * tn * ob),
                     c_banks = banks_spanned(hw, tm * tn * acc);
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
        const double comp =
            double(gemm_cycles(hw.array.rows, hw.array.cols, hw.array.dataflow, hw.array.timing, {m, k, n}));
        array_time += double(cm * ck * cn) * std::max(comp, ports);
      }
  const double prologue = double((tm * tk + tk * tn) * ob) / bw + latency;
  const double epilogue = double(tm * tn * ob * (epilogue_inputs ? 2 : 1)) / bw + latency;
  return prologue + std::max(array_time, double(traffic) / bw) + epilogue;
}

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
    GemmEmitter g(hw, t, 0, std::uint64_t(hw.sram.total_bytes()));
    GemmBlocks o;
    o.a = {0, 0, 0, d.m, d.k};
    o.b = {1, 0, 0, d.k, d.n};
    o.c = {2, 0, 0, d.m, d.n};
    if (t.epilogue_inputs) o.epilogue = Epilogue::AddResidual, o.residual = {3, 0, 0, d.m, d.n};
    g.emit(em, o);
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
  for (std::int64_t tm : rank_candidates("m", d.m, gm))
    for (std::int64_t tk : rank_candidates("k", d.k, gk))
      for (std::int64_t tn : rank_candidates("n", d.n, gn)) {
        // C tiles go to the accumulator storage whenever they fit there (then they take no SRAM).
        const BufferSizes bs = buffer_sizes(hw, tm, tk, tn, epilogue_inputs);
        const bool c_acc = c_fits_accumulators(hw, bs);
        const std::uint64_t footprint = bs.sram_total(c_acc);
        if (footprint > capacity) continue;
        const std::int64_t nm = ceil_div(d.m, tm), nn = ceil_div(d.n, tn);
        const std::uint64_t a_bytes = d.m * d.k * ob, b_bytes = d.k * d.n * ob, c_bytes = d.m * d.n * ob;
        const std::int64_t comp = compute_cycles(hw, d, tm, tk, tn);
        const bool is_wide = !narrow(tm, narrow_m) || !narrow(tk, narrow_k) || !narrow(tn, narrow_n);
        for (bool n_outer : orders) {
          // A tile is loaded again only when the (row, k) block it holds changes between consecutive
          // GEMMs (lower_gemm): with the whole K in one tile the outer loop's panel stays on chip
          // across the inner loop, and with a single inner tile the inner operand stays too.
          const std::int64_t nk = ceil_div(d.k, tk);
          std::uint64_t traffic = c_bytes;
          if (!n_outer)
            traffic += a_bytes * (nk == 1 ? 1 : nn) + b_bytes * (nk == 1 && nn == 1 ? 1 : nm);
          else
            traffic += b_bytes * (nk == 1 ? 1 : nm) + a_bytes * (nk == 1 && nm == 1 ? 1 : nn);
          if (epilogue_inputs) traffic += c_bytes;  // the residual read once
          GemmTiling t{tm, tk, tn, n_outer, traffic, comp, 0};
          t.epilogue_inputs = epilogue_inputs;
          t.c_in_accumulators = c_acc;
          t.est_cycles = analytic_cycles(hw, d, tm, tk, tn, traffic, epilogue_inputs, c_acc);
          visit(t, footprint, is_wide);
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

GemmTiling choose_gemm_tiling(const HwConfig& hw, const GemmDims& d, std::uint64_t capacity_limit,
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
          const bool n_outer = t.n_outer;
          const std::uint64_t traffic = t.est_dram_bytes;
          MapCandidate mc;
          mc.analytic_cycles = t.est_cycles;
          mc.dram_bytes = traffic;
          mc.sram_bytes = footprint;
          mc.wide = is_wide;
          mc.key = "gemm " + std::to_string(d.m) + "x" + std::to_string(d.k) + "x" + std::to_string(d.n) + " tiles " +
                   std::to_string(tm) + "x" + std::to_string(tk) + "x" + std::to_string(tn) + (n_outer ? " nmk" : " mnk") +
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
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
    return std::make_tuple(tilings[a].est_cycles, tilings[a].est_dram_bytes, tiles(tilings[a]), tilings[a].n_outer) <
           std::make_tuple(tilings[b].est_cycles, tilings[b].est_dram_bytes, tiles(tilings[b]), tilings[b].n_outer);
  });
  std::vector<GemmTiling> sorted_t;
  std::vector<MapCandidate> sorted_c;
  for (std::size_t i : idx) {
    sorted_t.push_back(tilings[i]);
    // Timed on the whole GEMM when it has at most two tiles along both M and N; otherwise on
    // slices of one and two iterations of the loop over M or N with more tiles (the outer loop
    // when it has more than two), extrapolated: every iteration but a ragged last one repeats
    // the same tiles.
    const GemmTiling& t = tilings[i];
    const std::int64_t nm = ceil_div(d.m, t.tm), nn = ceil_div(d.n, t.tn);
    const std::int64_t outer = t.n_outer ? nn : nm, inner = t.n_outer ? nm : nn;
    const bool slice_n = outer > 2 ? t.n_outer : !t.n_outer;  // which dimension the slices cut
    const std::int64_t reps = slice_n ? nn : nm;
    cands[i].time = [&hw, d, t, slice_n, reps, whole = outer <= 2 && inner <= 2] {
      if (whole) return double(time_program(hw, gemm_program(hw, d, t)).cycles);
      return time_extrapolated(hw, reps, [&](ProgramSink& sink, std::int64_t r) {
        GemmDims part = d;
        (slice_n ? part.n : part.m) = std::min(slice_n ? d.n : d.m, r * (slice_n ? t.tn : t.tm));
        gemm_program(hw, part, t)(sink);
      });
    };
    sorted_c.push_back(std::move(cands[i]));
  }
  const std::size_t pick = pick_mapping(sorted_c, capacity, opt);
  GemmTiling best = sorted_t[pick];
  if (sorted_c[pick].timed_cycles >= 0) best.est_cycles = sorted_c[pick].timed_cycles;
  return best;
}

GemmEmitter::GemmEmitter(const HwConfig& hw, const GemmTiling& t, std::uint64_t base, std::uint64_t capacity)
    : hw_(hw), t_(t) {
  BufferSizes bs = buffer_sizes(hw, t.tm, t.tk, t.tn, t.epilogue_inputs);
  ATTNSIM_ASSERT(!t.c_in_accumulators || c_fits_accumulators(hw, bs), "C tiles placed in accumulators that lack room");
  // SRAM layout A0 A1 B0 B1 (C0 C1) (R0 R1) from base; C0 C1 at the start of the accumulator
  // storage instead when the tiling put them there. The array reads A and B and writes C at once,
  // so they should not share a bank's port. With contiguous banks, when it still fits, every
  // buffer starts on a bank boundary, so that each sits in banks of its own. With interleaved banks
  // every buffer of more than a period (stripe x banks) spreads over all banks whatever its start,
  // and buffers packed one after another start on successive banks; there buffers start on stripe
  // boundaries (when that still fits), so that each holds whole stripes and spreads evenly.
  const bool c_acc = t.c_in_accumulators;
  const std::uint64_t unit = std::uint64_t(hw.sram.interleaved() ? hw.sram.stripe_bytes() : hw.sram.bytes_per_bank);
  const BufferSizes aligned{align_up(bs.a, unit), align_up(bs.b, unit), c_acc ? bs.c : align_up(bs.c, unit),
                            bs.r ? align_up(bs.r, unit) : 0};
  if (base % unit == 0 && aligned.sram_total(c_acc) <= capacity) bs = aligned;
  a_bytes_ = bs.a, b_bytes_ = bs.b, c_bytes_ = bs.c, r_bytes_ = bs.r;
  a_buf_[0] = base, a_buf_[1] = base + bs.a;
  b_buf_[0] = base + 2 * bs.a, b_buf_[1] = b_buf_[0] + bs.b;
  const std::uint64_t c_base = c_acc ? hw.accumulator_base() : base + 2 * (bs.a + bs.b);
  c_buf_[0] = c_base, c_buf_[1] = c_base + bs.c;
  r_buf_[0] = base + 2 * (bs.a + bs.b) + (c_acc ? 0 : 2 * bs.c), r_buf_[1] = r_buf_[0] + bs.r;
  end_ = base + bs.sram_total(c_acc);
}

std::vector<BufferInfo> GemmEmitter::buffers(const std::string& prefix, std::uint32_t phase, BufClass a, BufClass b,
                                             BufClass c) const {
  std::vector<BufferInfo> v;
  for (int i = 0; i < 2; ++i) {
    v.push_back({prefix + "A" + std::to_string(i), {a_buf_[i], a_bytes_}, a, phase});
    v.push_back({prefix + "B" + std::to_string(i), {b_buf_[i], b_bytes_}, b, phase});
    v.push_back({prefix + "C" + std::to_string(i), {c_buf_[i], c_bytes_}, c, phase});
    if (r_bytes_) v.push_back({prefix + "R" + std::to_string(i), {r_buf_[i], r_bytes_}, BufClass::Activation, phase});
  }
  return v;
}

void GemmEmitter::emit(Emitter& em, const GemmBlocks& o) {
  const int ob = hw_.array.operand_bytes, acc = hw_.array.accumulator_bytes;
  const std::int64_t M = o.a.rows, K = o.a.cols, N = o.b_transposed ? o.b.rows : o.b.cols;
  ATTNSIM_ASSERT((o.b_transposed ? o.b.cols : o.b.rows) == K && o.c.rows == M && o.c.cols == N,
                 "GEMM operand blocks disagree");
  const GemmTiling& t = t_;
  std::uint32_t a_load = kNoInstr, b_load = kNoInstr;
  std::int64_t loaded_a_m = -1, loaded_a_k = -1, loaded_b_k = -1, loaded_b_n = -1;

  auto load_a = [&](std::int64_t m0, std::int64_t k0, std::int64_t m, std::int64_t k) {
    a_slot_ = (a_slot_ + 1) % 2;
    const DramBlock blk{o.a.tensor, o.a.row0 + m0, o.a.col0 + k0, m, k};
    return em.load(blk, tile_at(a_buf_[a_slot_], m, k, ob), {a_reader_[a_slot_]});
  };
  auto load_b = [&](std::int64_t k0, std::int64_t n0, std::int64_t k, std::int64_t n) {
    b_slot_ = (b_slot_ + 1) % 2;
    if (o.b_transposed) {
      const DramBlock blk{o.b.tensor, o.b.row0 + n0, o.b.col0 + k0, n, k};
      return em.load(blk, tile_at(b_buf_[b_slot_], n, k, ob), {b_reader_[b_slot_]});
    }
    const DramBlock blk{o.b.tensor, o.b.row0 + k0, o.b.col0 + n0, k, n};
    return em.load(blk, tile_at(b_buf_[b_slot_], k, n, ob), {b_reader_[b_slot_]});
  };

  const std::int64_t nm = ceil_div(M, t.tm), nn = ceil_div(N, t.tn), nk = ceil_div(K, t.tk);
  for (std::int64_t outer = 0; outer < (t.n_outer ? nn : nm); ++outer)
    for (std::int64_t inner = 0; inner < (t.n_outer ? nm : nn); ++inner) {
      const std::int64_t mi = t.n_outer ? inner : outer, ni = t.n_outer ? outer : inner;
      const std::int64_t m0 = mi * t.tm, n0 = ni * t.tn, m = std::min(t.tm, M - m0), n = std::min(t.tn, N - n0);
      const std::int64_t last_row = o.causal_offset + m0 + m - 1;  // in b's column coordinates
      if (o.skip == CausalSkip::OutputTiles && n0 > last_row) continue;
      c_slot_ = (c_slot_ + 1) % 2;
      std::uint32_t last_gemm = kNoInstr;
      bool first = true;
      for (std::int64_t ki = 0; ki < nk; ++ki) {
        const std::int64_t k0 = ki * t.tk, k = std::min(t.tk, K - k0);
        if (o.skip == CausalSkip::ReductionSteps && k0 > last_row) break;
        // A panel (or B panel) already on chip is reused; otherwise load the tile.
        if (loaded_a_m != mi || loaded_a_k != ki) {
          a_load = load_a(m0, k0, m, k);
          loaded_a_m = mi, loaded_a_k = ki;
        }
        if (loaded_b_k != ki || loaded_b_n != ni) {
          b_load = load_b(k0, n0, k, n);
          loaded_b_k = ki, loaded_b_n = ni;
        }
        const SramTile bt = o.b_transposed ? tile_at(b_buf_[b_slot_], n, k, ob) : tile_at(b_buf_[b_slot_], k, n, ob);
        last_gemm = em.gemm(tile_at(a_buf_[a_slot_], m, k, ob), bt, tile_at(c_buf_[c_slot_], m, n, acc), !first,
                            o.b_transposed, {a_load, b_load, first ? c_reader_[c_slot_] : kNoInstr});
        first = false;
        a_reader_[a_slot_] = last_gemm;
        b_reader_[b_slot_] = last_gemm;
      }
      // Epilogue on the finished C tile, in SRAM, while the array goes on with the next tile.
      const SramTile ct = tile_at(c_buf_[c_slot_], m, n, acc);
      std::uint32_t result = last_gemm;
      if (o.epilogue != Epilogue::None) {
        const OpClass cls = em.op_class();
        em.set_class(o.epilogue_class);
        if (o.epilogue == Epilogue::AddResidual) {
          ATTNSIM_ASSERT(r_bytes_ > 0, "residual epilogue without its buffer");
          const SramTile rt = tile_at(r_buf_[c_slot_], m, n, ob);
          const std::uint32_t rl = em.load({o.residual.tensor, o.residual.row0 + m0, o.residual.col0 + n0, m, n}, rt,
                                           {c_reader_[c_slot_]});
          result = em.vector(VecOp::Add, ct, rt, ct, {last_gemm, rl});
        } else {
          result = em.vector(o.epilogue == Epilogue::Gelu ? VecOp::Gelu : VecOp::Relu, ct, {}, ct, {last_gemm});
        }
        em.set_class(cls);
      }
      const DramBlock cb{o.c.tensor, o.c.row0 + m0, o.c.col0 + n0, m, n};
      c_reader_[c_slot_] = em.store(cb, ct, {result});
    }
}

OpMapping gemm_op_mapping(const GemmTiling& t) {
  OpMapping m;
  m.kind = "gemm";
  m.tile = {{"m", t.tm}, {"k", t.tk}, {"n", t.tn}};
  m.loop_order = t.n_outer ? std::vector<std::string>{"n", "m", "k"} : std::vector<std::string>{"m", "n", "k"};
  return m;
}

TileProgram lower_gemm(const HwConfig& hw, const GemmDims& d, const GemmTiling& t) {
  TileProgram p;
  const std::uint64_t ob = hw.array.operand_bytes;
  // DRAM layout: A, B, C row-major, each starting on a 4 KiB boundary.
  const std::uint64_t a_base = 0, b_base = align_up(a_base + d.m * d.k * ob, 4096),
                      c_base = align_up(b_base + d.k * d.n * ob, 4096);
  p.tensors = {{"A", a_base, std::uint64_t(d.m), std::uint64_t(d.k), int(ob)},
               {"B", b_base, std::uint64_t(d.k), std::uint64_t(d.n), int(ob)},
               {"C", c_base, std::uint64_t(d.m), std::uint64_t(d.n), int(ob)}};
  GemmEmitter g(hw, t, 0, std::uint64_t(hw.sram.total_bytes()));
  p.buffers = g.buffers("", 0, BufClass::Activation, BufClass::Weight, BufClass::Output);
  std::ostringstream sum;
  sum << "GEMM M=" << d.m << " K=" << d.k << " N=" << d.n << " on " << hw.array.rows << "x" << hw.array.cols << " "
      << to_string(hw.array.dataflow) << ": tiles " << t.tm << "x" << t.tk << "x" << t.tn << ", loop order "
      << (t.n_outer ? "n,m,k" : "m,n,k") << (t.c_in_accumulators ? ", C in accumulators" : "")
      << ", est. DRAM traffic " << t.est_dram_bytes << " B";
  p.summary = sum.str();
  Emitter em(p, p.tensors);
  GemmBlocks o;
  o.a = {0, 0, 0, d.m, d.k};
  o.b = {1, 0, 0, d.k, d.n};
  o.c = {2, 0, 0, d.m, d.n};
  g.emit(em, o);
  return p;
}

TileProgram lower_gemm(const HwConfig& hw, const GemmDims& d) { return lower_gemm(hw, d, choose_gemm_tiling(hw, d)); }

}  // namespace attnsim
