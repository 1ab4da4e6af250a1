#include "compiler/gemm_lowering.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

#include "common/errors.h"

namespace attnsim {

namespace {


// Candidate tile sizes for a dimension of length `dim` folded over `granule` (1 = streamed):
// the whole dimension, and granule * 2^i below it. A streamed dimension starts at 16.
std::vector<std::int64_t> candidates(std::int64_t dim, std::int64_t granule) {
  std::vector<std::int64_t> v{dim};
  for (std::int64_t t = granule == 1 ? 16 : granule; t < dim; t *= 2) v.push_back(t);
  std::sort(v.begin(), v.end());
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

}  // namespace

GemmTiling choose_gemm_tiling(const HwConfig& hw, const GemmDims& d, std::uint64_t capacity_limit,
                              const std::string& what, int epilogue_inputs) {
  if (d.m <= 0 || d.k <= 0 || d.n <= 0)
    throw UserError("GEMM dimensions must be positive, got M=" + std::to_string(d.m) + " K=" + std::to_string(d.k) +
                    " N=" + std::to_string(d.n));
  const std::int64_t R = hw.array.rows, C = hw.array.cols;
  // Granule per GEMM dimension (array_timing.h's mapping); 1 marks the streamed dimension.
  std::int64_t gm = 1, gk = 1, gn = 1;
  switch (hw.array.dataflow) {
    case Dataflow::OS:
      gm = R, gn = C;
      break;
    case Dataflow::WS:
      gk = R, gn = C;
      break;
    case Dataflow::IS:
      gk = R, gm = C;
      break;
  }
  const std::uint64_t capacity = capacity_limit ? capacity_limit : std::uint64_t(hw.sram.total_bytes());
  const std::uint64_t ob = hw.array.operand_bytes;
  const double bw = hw.dram.peak_bytes_per_cycle;

  GemmTiling best;
  bool found = false;
  // C tiles go to the accumulator storage whenever they fit there, but the search first counts
  // them against the SRAM as if they lived in it, and frees their room only when nothing fits so:
  // the cost model below ignores the exposed first load, so the larger tiles the freed room admits
  // can be slower (cloud 1024^3 with 8 MiB: 512x1024x1024 tiles, 26,772 cycles, against 25,498
  // with 256x1024x1024).
  for (int pass = 0; pass < 2 && !found; ++pass)
  for (std::int64_t tm : candidates(d.m, gm))
    for (std::int64_t tk : candidates(d.k, gk))
      for (std::int64_t tn : candidates(d.n, gn)) {
        const BufferSizes bs = buffer_sizes(hw, tm, tk, tn, epilogue_inputs);
        const bool c_acc = c_fits_accumulators(hw, bs);
        if (bs.sram_total(c_acc && pass == 1) > capacity) continue;
        const std::int64_t nm = ceil_div(d.m, tm), nn = ceil_div(d.n, tn);
        const std::uint64_t a_bytes = d.m * d.k * ob, b_bytes = d.k * d.n * ob, c_bytes = d.m * d.n * ob;
        const std::int64_t comp = compute_cycles(hw, d, tm, tk, tn);
        for (bool n_outer : {false, true}) {
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
          GemmTiling t{tm, tk, tn, n_outer, traffic, comp, std::max(double(comp), double(traffic) / bw)};
          t.epilogue_inputs = epilogue_inputs;
          t.c_in_accumulators = c_acc;
          // Minimise estimated cycles, then traffic, then partial sums off the SRAM ports (C in
          // accumulators), then the number of tiles (fewer instructions).
          auto key = [&](const GemmTiling& x) {
            return std::make_tuple(x.est_cycles, x.est_dram_bytes, !x.c_in_accumulators,
                                   ceil_div(d.m, x.tm) * ceil_div(d.k, x.tk) * ceil_div(d.n, x.tn), x.n_outer);
          };
          if (!found || key(t) < key(best)) best = t, found = true;
        }
      }
  if (!found) {
    const std::int64_t tm = candidates(d.m, gm).front(), tk = candidates(d.k, gk).front(),
                       tn = candidates(d.n, gn).front();
    BufferSizes b = buffer_sizes(hw, tm, tk, tn, epilogue_inputs);
    std::ostringstream msg;
    msg << hw.source << ": /sram: " << (what.empty() ? "GEMM" : what) << " " << d.m << "x" << d.k << "x" << d.n << " does not fit: its smallest tile (A "
        << tm << "x" << tk << " = " << b.a << " B, B " << tk << "x" << tn << " = " << b.b << " B, C " << tm << "x" << tn
        << " accumulators = " << b.c << " B, each double-buffered: "
        << (c_fits_accumulators(hw, b) ? std::to_string(b.sram_total(true)) + " B of SRAM with C in accumulators"
                                       : std::to_string(b.total()) + " B")
        << ") exceeds the "
        << (capacity < std::uint64_t(hw.sram.total_bytes()) ? "SRAM left for it, " : "SRAM capacity of ") << capacity << " B (" << hw.sram.banks
        << " banks x " << hw.sram.bytes_per_bank << " B)";
    throw UserError(msg.str());
  }
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
