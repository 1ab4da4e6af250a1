#include "compiler/gemm_lowering.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

#include "common/errors.h"

namespace attnsim {

namespace {

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
std::uint64_t align_up(std::uint64_t x, std::uint64_t a) { return (x + a - 1) / a * a; }

// Candidate tile sizes for a dimension of length `dim` folded over `granule` (1 = streamed):
// the whole dimension, and granule * 2^i below it. A streamed dimension starts at 16.
std::vector<std::int64_t> candidates(std::int64_t dim, std::int64_t granule) {
  std::vector<std::int64_t> v{dim};
  for (std::int64_t t = granule == 1 ? 16 : granule; t < dim; t *= 2) v.push_back(t);
  std::sort(v.begin(), v.end());
  return v;
}

struct BufferSizes {
  std::uint64_t a, b, c;  // one buffer each, aligned to the port width
  std::uint64_t total() const { return 2 * (a + b + c); }
};

BufferSizes buffer_sizes(const HwConfig& hw, std::int64_t tm, std::int64_t tk, std::int64_t tn) {
  // Buffers start on 64-byte boundaries (a burst), whatever the port width.
  const std::uint64_t ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes, al = 64;
  return {align_up(tm * tk * ob, al), align_up(tk * tn * ob, al), align_up(tm * tn * acc, al)};
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

GemmTiling choose_gemm_tiling(const HwConfig& hw, const GemmDims& d) {
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
  const std::uint64_t capacity = std::uint64_t(hw.sram.total_bytes());
  const std::uint64_t ob = hw.array.operand_bytes;
  const double bw = hw.dram.peak_bytes_per_cycle;

  GemmTiling best;
  bool found = false;
  for (std::int64_t tm : candidates(d.m, gm))
    for (std::int64_t tk : candidates(d.k, gk))
      for (std::int64_t tn : candidates(d.n, gn)) {
        if (buffer_sizes(hw, tm, tk, tn).total() > capacity) continue;
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
          GemmTiling t{tm, tk, tn, n_outer, traffic, comp, std::max(double(comp), double(traffic) / bw)};
          // Minimise estimated cycles, then traffic, then the number of tiles (fewer instructions).
          auto key = [&](const GemmTiling& x) {
            return std::make_tuple(x.est_cycles, x.est_dram_bytes,
                                   ceil_div(d.m, x.tm) * ceil_div(d.k, x.tk) * ceil_div(d.n, x.tn), x.n_outer);
          };
          if (!found || key(t) < key(best)) best = t, found = true;
        }
      }
  if (!found) {
    const std::int64_t tm = candidates(d.m, gm).front(), tk = candidates(d.k, gk).front(),
                       tn = candidates(d.n, gn).front();
    BufferSizes b = buffer_sizes(hw, tm, tk, tn);
    std::ostringstream msg;
    msg << hw.source << ": /sram: GEMM " << d.m << "x" << d.k << "x" << d.n << " does not fit: its smallest tile (A "
        << tm << "x" << tk << " = " << b.a << " B, B " << tk << "x" << tn << " = " << b.b << " B, C " << tm << "x" << tn
        << " accumulators = " << b.c << " B, each double-buffered: " << b.total() << " B) exceeds the SRAM capacity of "
        << capacity << " B (" << hw.sram.banks << " banks x " << hw.sram.bytes_per_bank << " B)";
    throw UserError(msg.str());
  }
  return best;
}

TileProgram lower_gemm(const HwConfig& hw, const GemmDims& d, const GemmTiling& t) {
  TileProgram p;
  const std::uint64_t ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
  // DRAM layout: A, B, C row-major, each starting on a 4 KiB boundary.
  const std::uint64_t a_base = 0, b_base = align_up(a_base + d.m * d.k * ob, 4096),
                      c_base = align_up(b_base + d.k * d.n * ob, 4096);
  p.tensors = {{"A", a_base, std::uint64_t(d.m), std::uint64_t(d.k), int(ob)},
               {"B", b_base, std::uint64_t(d.k), std::uint64_t(d.n), int(ob)},
               {"C", c_base, std::uint64_t(d.m), std::uint64_t(d.n), int(ob)}};
  BufferSizes bs = buffer_sizes(hw, t.tm, t.tk, t.tn);
  // SRAM layout: A0 A1 B0 B1 C0 C1 from address 0. When it still fits, every buffer starts on a
  // bank boundary, so that the operands the array reads at once sit in different banks' ports.
  const std::uint64_t bank = std::uint64_t(hw.sram.bytes_per_bank);
  const BufferSizes banked{align_up(bs.a, bank), align_up(bs.b, bank), align_up(bs.c, bank)};
  if (banked.total() <= std::uint64_t(hw.sram.total_bytes())) bs = banked;
  const std::uint64_t a_buf[2] = {0, bs.a}, b_buf[2] = {2 * bs.a, 2 * bs.a + bs.b},
                      c_buf[2] = {2 * (bs.a + bs.b), 2 * (bs.a + bs.b) + bs.c};
  for (int i = 0; i < 2; ++i) {
    p.buffers.push_back({"A" + std::to_string(i), {a_buf[i], bs.a}});
    p.buffers.push_back({"B" + std::to_string(i), {b_buf[i], bs.b}});
    p.buffers.push_back({"C" + std::to_string(i), {c_buf[i], bs.c}});
  }
  std::ostringstream sum;
  sum << "GEMM M=" << d.m << " K=" << d.k << " N=" << d.n << " on " << hw.array.rows << "x" << hw.array.cols << " "
      << to_string(hw.array.dataflow) << ": tiles " << t.tm << "x" << t.tk << "x" << t.tn << ", loop order "
      << (t.n_outer ? "n,m,k" : "m,n,k") << ", est. DRAM traffic " << t.est_dram_bytes << " B";
  p.summary = sum.str();

  constexpr std::uint32_t kNone = UINT32_MAX;
  // The last GEMM that read each A/B buffer, and the last STORE that read each C buffer (WAR).
  std::uint32_t a_reader[2] = {kNone, kNone}, b_reader[2] = {kNone, kNone}, c_reader[2] = {kNone, kNone};
  int a_slot = -1, b_slot = -1, c_slot = -1;
  std::uint32_t a_load = kNone, b_load = kNone;
  std::int64_t loaded_a_m = -1, loaded_a_k = -1, loaded_b_k = -1, loaded_b_n = -1;

  auto load = [&](int tensor, std::uint64_t base, std::uint64_t cols, std::int64_t r0, std::int64_t c0,
                  std::int64_t rows, std::int64_t ncols, const std::uint64_t* bufs, int& slot, std::uint32_t* readers) {
    slot = (slot + 1) % 2;
    Instr in;
    in.op = Opcode::Load;
    in.tensor = std::uint16_t(tensor);
    in.dram_addr = base + (r0 * cols + c0) * ob;
    in.rows = std::uint32_t(rows);
    in.row_bytes = std::uint32_t(ncols * ob);
    in.dram_stride = cols * ob;
    in.sram = {bufs[slot], std::uint32_t(rows), std::uint32_t(ncols), 0, std::uint8_t(ob)};
    if (readers[slot] != kNone) in.add_dep(readers[slot]);
    return p.add(in);
  };

  const std::int64_t nm = ceil_div(d.m, t.tm), nn = ceil_div(d.n, t.tn), nk = ceil_div(d.k, t.tk);
  for (std::int64_t outer = 0; outer < (t.n_outer ? nn : nm); ++outer)
    for (std::int64_t inner = 0; inner < (t.n_outer ? nm : nn); ++inner) {
      const std::int64_t mi = t.n_outer ? inner : outer, ni = t.n_outer ? outer : inner;
      const std::int64_t m0 = mi * t.tm, n0 = ni * t.tn, m = std::min(t.tm, d.m - m0), n = std::min(t.tn, d.n - n0);
      c_slot = (c_slot + 1) % 2;
      std::uint32_t last_gemm = kNone;
      for (std::int64_t ki = 0; ki < nk; ++ki) {
        const std::int64_t k0 = ki * t.tk, k = std::min(t.tk, d.k - k0);
        // A panel (or B panel) already on chip is reused; otherwise load the tile.
        if (loaded_a_m != mi || loaded_a_k != ki) {
          a_load = load(0, a_base, d.k, m0, k0, m, k, a_buf, a_slot, a_reader);
          loaded_a_m = mi, loaded_a_k = ki;
        }
        if (loaded_b_k != ki || loaded_b_n != ni) {
          b_load = load(1, b_base, d.n, k0, n0, k, n, b_buf, b_slot, b_reader);
          loaded_b_k = ki, loaded_b_n = ni;
        }
        Instr g;
        g.op = Opcode::Gemm;
        g.m = std::uint32_t(m), g.k = std::uint32_t(k), g.n = std::uint32_t(n);
        g.accumulate = ki > 0;
        g.a = {a_buf[a_slot], std::uint32_t(m), std::uint32_t(k), 0, std::uint8_t(ob)};
        g.b = {b_buf[b_slot], std::uint32_t(k), std::uint32_t(n), 0, std::uint8_t(ob)};
        g.c = {c_buf[c_slot], std::uint32_t(m), std::uint32_t(n), 0, std::uint8_t(acc)};
        g.add_dep(a_load);
        g.add_dep(b_load);
        if (ki == 0 && c_reader[c_slot] != kNone) g.add_dep(c_reader[c_slot]);
        last_gemm = p.add(g);
        a_reader[a_slot] = last_gemm;
        b_reader[b_slot] = last_gemm;
      }
      Instr s;
      s.op = Opcode::Store;
      s.tensor = 2;
      s.dram_addr = c_base + (m0 * d.n + n0) * ob;
      s.rows = std::uint32_t(m);
      s.row_bytes = std::uint32_t(n * ob);
      s.dram_stride = d.n * ob;
      s.sram = {c_buf[c_slot], std::uint32_t(m), std::uint32_t(n), 0, std::uint8_t(acc)};
      s.add_dep(last_gemm);
      c_reader[c_slot] = p.add(s);
    }
  return p;
}

TileProgram lower_gemm(const HwConfig& hw, const GemmDims& d) { return lower_gemm(hw, d, choose_gemm_tiling(hw, d)); }

}  // namespace attnsim
