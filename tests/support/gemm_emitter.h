#pragma once
// The hand-written GEMM emit loop: GEMMs with one tiling (compiler/gemm_lowering.h: GemmTiling) into
// buffers from sram_base, loads, GEMMs and stores written out loop by loop; consecutive GEMMs (for
// instance one per head) keep rotating the same double buffers, so the next GEMM's loads overlap this
// one's tail. The simulator runs every GEMM as a mapping of the gemm cascade through the generic
// lowering (compiler/gemm_cascade.h); this emitter is an independent implementation of the same
// program, with its own layout (a slot per tile of every operand), that the tests keep as the
// reference: the generic lowering's cycles, bytes and buffer addresses against it. Header-only
// (tests/CMakeLists.txt compiles tests/*.cpp).
//
// Layout: A0 A1 .. B0 B1 .. (C0 C1 ..) (R0 R1) from base, the C buffers at the start of the
// accumulator storage instead when the tiling put them there; every buffer bank-aligned (contiguous
// banks) or stripe-aligned (interleaved banks) when that still fits. Slots: 2 per operand, a resident
// outer panel (panel sets) x nk, a resident inner operand nk x (inner tiles), C with k in the middle
// 2 x (inner tiles), with a lead block L x (inner tiles) + 2.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "common/errors.h"
#include "compiler/emitter.h"
#include "compiler/gemm_lowering.h"
#include "config/hw_config.h"
#include "ir/tile_program.h"

namespace attnsim::test {

class GemmEmitter {
 public:
  GemmEmitter(const HwConfig& hw, const GemmTiling& t, std::uint64_t base, std::uint64_t capacity) : hw_(hw), t_(t) {
    const Slots n = slot_counts(t);
    Sizes bs = sizes(hw, t, n);
    // SRAM layout A0 A1.. B0 B1.. (C0 C1..) (R0 R1) from base; the C buffers at the start of the
    // accumulator storage instead when the tiling put them there. The array reads A and B and writes
    // C at once, so they should not share a bank's port. With contiguous banks, when it still fits,
    // every buffer starts on a bank boundary, so that each sits in banks of its own. With interleaved
    // banks every buffer of more than a period (stripe x banks) spreads over all banks whatever its
    // start, and buffers packed one after another start on successive banks; there buffers start on
    // stripe boundaries (when that still fits), so that each holds whole stripes and spreads evenly.
    const bool c_acc = t.c_in_accumulators;
    const std::uint64_t unit = std::uint64_t(hw.sram.interleaved() ? hw.sram.stripe_bytes() : hw.sram.bytes_per_bank);
    const Sizes aligned{align_up(bs.a, unit), align_up(bs.b, unit), c_acc ? bs.c : align_up(bs.c, unit),
                        bs.r ? align_up(bs.r, unit) : 0, n};
    if (base % unit == 0 && aligned.sram_total(c_acc) <= capacity) bs = aligned;
    a_bytes_ = bs.a, b_bytes_ = bs.b, c_bytes_ = bs.c, r_bytes_ = bs.r;
    std::uint64_t at = base;
    for (std::int64_t i = 0; i < n.a; ++i, at += bs.a) a_buf_.push_back(at);
    for (std::int64_t i = 0; i < n.b; ++i, at += bs.b) b_buf_.push_back(at);
    std::uint64_t c_at = c_acc ? hw.accumulator_base() : at;
    for (std::int64_t i = 0; i < n.c; ++i, c_at += bs.c) c_buf_.push_back(c_at);
    if (!c_acc) at = c_at;
    r_buf_[0] = at, r_buf_[1] = at + bs.r;
    end_ = base + bs.sram_total(c_acc);
    a_reader_.assign(a_buf_.size(), kNoInstr);
    b_reader_.assign(b_buf_.size(), kNoInstr);
    c_reader_.assign(c_buf_.size(), kNoInstr);
    c_writer_.assign(c_buf_.size(), kNoInstr);
  }

  // The buffers, named with `prefix`, for the SRAM report.
  std::vector<BufferInfo> buffers(const std::string& prefix, std::uint32_t phase, BufClass a, BufClass b,
                                  BufClass c) const {

    std::vector<BufferInfo> v;
    const std::size_t most = std::max({a_buf_.size(), b_buf_.size(), c_buf_.size()});
    for (std::size_t i = 0; i < most; ++i) {
      if (i < a_buf_.size()) v.push_back({prefix + "A" + std::to_string(i), {a_buf_[i], a_bytes_}, a, phase});
      if (i < b_buf_.size()) v.push_back({prefix + "B" + std::to_string(i), {b_buf_[i], b_bytes_}, b, phase});
      if (i < c_buf_.size()) v.push_back({prefix + "C" + std::to_string(i), {c_buf_[i], c_bytes_}, c, phase});
      if (i < 2 && r_bytes_)
        v.push_back({prefix + "R" + std::to_string(i), {r_buf_[i], r_bytes_}, BufClass::Activation, phase});
    }
    return v;
  }

  std::uint64_t sram_end() const { return end_; }

  void emit(Emitter& em, const GemmBlocks& o) {

    const int ob = hw_.array.operand_bytes, acc = hw_.array.accumulator_bytes;
    const std::int64_t M = o.a.rows, K = o.a.cols, N = o.b_transposed ? o.b.rows : o.b.cols;
    ATTNSIM_ASSERT((o.b_transposed ? o.b.cols : o.b.rows) == K && o.c.rows == M && o.c.cols == N,
                   "GEMM operand blocks disagree");
    const GemmTiling& t = t_;
    const std::int64_t nm = ceil_div(M, t.tm), nn = ceil_div(N, t.tn), nk = ceil_div(K, t.tk);
    const std::int64_t n_outer = t.n_outer ? nn : nm, n_inner = t.n_outer ? nm : nn;
    // Resident buffers are sized for the GEMM the tiling was chosen for; no block emitted may need more.
    ATTNSIM_ASSERT(!(t.k_middle || t.outer_resident || t.inner_resident) ||
                       (nm <= ceil_div(t.dims.m, t.tm) && nn <= ceil_div(t.dims.n, t.tn) && nk <= ceil_div(t.dims.k, t.tk)),
                   "a GEMM block larger than the tiling's resident buffers");
    // The (row, k) or (k, col) block each slot holds, in this GEMM (a new GEMM loads everything again).
    std::vector<std::int64_t> a_held(a_buf_.size(), -1), b_held(b_buf_.size(), -1);
    const bool a_outer = !t.n_outer;
    const bool a_fixed_slots = a_outer ? t.outer_resident : t.inner_resident,
               b_fixed_slots = a_outer ? t.inner_resident : t.outer_resident;
    // A resident operand's slot is a function of its block: the outer panel alternates between two
    // sets of nk slots by outer index; the inner operand has a slot per block. A double-buffered one
    // takes the other slot when its block changes.
    auto slot_of = [&](bool fixed_slots, bool outer_operand, std::int64_t row, std::int64_t ki, int* rotating,
                       const std::vector<std::int64_t>& held, std::int64_t block) {
      if (fixed_slots) return int(outer_operand ? (row % panel_sets(t)) * nk + ki : row * nk + ki);
      if (*rotating >= 0 && held[std::size_t(*rotating)] == block) return *rotating;
      return (*rotating + 1) % 2;
    };
    auto load_a = [&](int slot, std::int64_t m0, std::int64_t k0, std::int64_t m, std::int64_t k) {
      const DramBlock blk{o.a.tensor, o.a.row0 + m0, o.a.col0 + k0, m, k};
      return em.load(blk, tile_at(a_buf_[std::size_t(slot)], m, k, ob), {a_reader_[std::size_t(slot)]});
    };
    auto load_b = [&](int slot, std::int64_t k0, std::int64_t n0, std::int64_t k, std::int64_t n) {
      const std::uint64_t buf = b_buf_[std::size_t(slot)];
      const std::uint32_t war = b_reader_[std::size_t(slot)];
      if (o.b_transposed) return em.load({o.b.tensor, o.b.row0 + n0, o.b.col0 + k0, n, k}, tile_at(buf, n, k, ob), {war});
      return em.load({o.b.tensor, o.b.row0 + k0, o.b.col0 + n0, k, n}, tile_at(buf, k, n, ob), {war});
    };
    std::vector<std::uint32_t> a_load(a_buf_.size(), kNoInstr), b_load(b_buf_.size(), kNoInstr);

    // One K step of one C tile: loads what is not on chip, then the GEMM into C slot cs. Returns it.
    auto step = [&](std::int64_t mi, std::int64_t ni, std::int64_t ki, int cs, bool first, bool interleaved) {
      const std::int64_t m0 = mi * t.tm, n0 = ni * t.tn, k0 = ki * t.tk;
      const std::int64_t m = std::min(t.tm, M - m0), n = std::min(t.tn, N - n0), k = std::min(t.tk, K - k0);
      const std::int64_t a_block = mi * nk + ki, b_block = ki * nn + ni;
      const int as = slot_of(a_fixed_slots, a_outer, mi, ki, &a_slot_, a_held, a_block);
      const int bs = slot_of(b_fixed_slots, !a_outer, ni, ki, &b_slot_, b_held, b_block);
      // A double buffer keeps only its current block: the other slot is reloaded even if it held this one.
      if (!a_fixed_slots && as != a_slot_) a_held[std::size_t(as)] = -1;
      if (!b_fixed_slots && bs != b_slot_) b_held[std::size_t(bs)] = -1;
      if (a_held[std::size_t(as)] != a_block) {
        a_load[std::size_t(as)] = load_a(as, m0, k0, m, k);
        a_held[std::size_t(as)] = a_block;
      }
      if (b_held[std::size_t(bs)] != b_block) {
        b_load[std::size_t(bs)] = load_b(bs, k0, n0, k, n);
        b_held[std::size_t(bs)] = b_block;
      }
      if (!a_fixed_slots) a_slot_ = as;
      if (!b_fixed_slots) b_slot_ = bs;
      const std::uint64_t bbuf = b_buf_[std::size_t(bs)];
      const SramTile bt = o.b_transposed ? tile_at(bbuf, n, k, ob) : tile_at(bbuf, k, n, ob);
      // The first K step waits until the C slot's last store has read it; a later one, when other
      // GEMMs came between (k in the middle), until the previous step on this tile has written it.
      const std::uint32_t c_dep = first ? c_reader_[std::size_t(cs)] : interleaved ? c_writer_[std::size_t(cs)] : kNoInstr;
      const std::uint32_t g = em.gemm(tile_at(a_buf_[std::size_t(as)], m, k, ob), bt,
                                      tile_at(c_buf_[std::size_t(cs)], m, n, acc), !first, o.b_transposed,
                                      {a_load[std::size_t(as)], b_load[std::size_t(bs)], c_dep});
      a_reader_[std::size_t(as)] = g;
      b_reader_[std::size_t(bs)] = g;
      c_writer_[std::size_t(cs)] = g;
      return g;
    };
    // The finished C tile: the epilogue on it in SRAM (while the array goes on), then its store.
    auto finish = [&](std::int64_t mi, std::int64_t ni, int cs, std::uint32_t last_gemm) {
      const std::int64_t m0 = mi * t.tm, n0 = ni * t.tn, m = std::min(t.tm, M - m0), n = std::min(t.tn, N - n0);
      const SramTile ct = tile_at(c_buf_[std::size_t(cs)], m, n, acc);
      std::uint32_t result = last_gemm;
      if (o.epilogue != Epilogue::None) {
        const OpClass cls = em.op_class();
        em.set_class(o.epilogue_class);
        if (o.epilogue == Epilogue::AddResidual) {
          ATTNSIM_ASSERT(r_bytes_ > 0, "residual epilogue without its buffer");
          // The residual tiles rotate over two buffers. With k innermost and two C slots they pair with
          // the C slots, and the C slot's last store (after the add) frees the residual buffer too.
          const bool paired = c_buf_.size() == 2 && !t.k_middle;
          r_slot_ = paired ? cs : (r_slot_ + 1) % 2;
          const SramTile rt = tile_at(r_buf_[r_slot_], m, n, ob);
          const std::uint32_t war = paired ? c_reader_[std::size_t(cs)] : r_reader_[r_slot_];
          const std::uint32_t rl =
              em.load({o.residual.tensor, o.residual.row0 + m0, o.residual.col0 + n0, m, n}, rt, {war});
          result = em.vector(VecOp::Add, ct, rt, ct, {last_gemm, rl});
          r_reader_[r_slot_] = result;
        } else {
          result = em.vector(o.epilogue == Epilogue::Gelu ? VecOp::Gelu : VecOp::Relu, ct, {}, ct, {last_gemm});
        }
        em.set_class(cls);
      }
      const DramBlock cb{o.c.tensor, o.c.row0 + m0, o.c.col0 + n0, m, n};
      c_reader_[std::size_t(cs)] = em.store(cb, ct, {result});
    };
    // The lead block (GemmTiling::lead_block): its outer tiles' C tiles in slots o x n_inner + inner, each
    // finished at its last K step; a later K step waits for the previous one on the tile (other GEMMs
    // came between). The later tiles then rotate over all the C slots, from the two after the block's.
    const std::int64_t lead = t.k_middle ? 0 : std::min<std::int64_t>(t.lead_block, n_outer);
    if (lead > 0) {
      for (std::int64_t ki = 0; ki < nk; ++ki)
        for (std::int64_t inner = 0; inner < n_inner; ++inner)
          for (std::int64_t o = 0; o < lead; ++o) {
            const std::int64_t mi = t.n_outer ? inner : o, ni = t.n_outer ? o : inner;
            const int cs = int(o * n_inner + inner);
            const std::uint32_t g = step(mi, ni, ki, cs, ki == 0, true);
            if (ki == nk - 1) finish(mi, ni, cs, g);
          }
      c_slot_ = int(lead * n_inner) - 1;  // the next tile takes the first slot after the block's
    }
    const int c_slots = int(c_buf_.size());
    for (std::int64_t outer = lead; outer < n_outer; ++outer) {
      if (!t.k_middle) {
        for (std::int64_t inner = 0; inner < n_inner; ++inner) {
          const std::int64_t mi = t.n_outer ? inner : outer, ni = t.n_outer ? outer : inner;
          c_slot_ = (c_slot_ + 1) % c_slots;
          std::uint32_t last_gemm = kNoInstr;
          for (std::int64_t ki = 0; ki < nk; ++ki) last_gemm = step(mi, ni, ki, c_slot_, ki == 0, false);
          finish(mi, ni, c_slot_, last_gemm);
        }
        continue;
      }
      // k in the middle: the row's C tiles in slots (outer % 2) x n_inner, each finished at its last K step.
      for (std::int64_t ki = 0; ki < nk; ++ki)
        for (std::int64_t inner = 0; inner < n_inner; ++inner) {
          const std::int64_t mi = t.n_outer ? inner : outer, ni = t.n_outer ? outer : inner;
          const int cs = int((outer % 2) * n_inner + inner);
          const std::uint32_t g = step(mi, ni, ki, cs, ki == 0, true);
          if (ki == nk - 1) finish(mi, ni, cs, g);
        }
    }
  }

 private:
  struct Slots {
    std::int64_t a = 2, b = 2, c = 2;
  };
  struct Sizes {
    std::uint64_t a, b, c, r;  // one buffer each (r: the epilogue's residual tile, or 0)
    Slots n;
    std::uint64_t sram_total(bool c_in_accumulators) const {
      return n.a * a + n.b * b + (c_in_accumulators ? 0 : n.c * c) + 2 * r;
    }
  };
  // A resident outer panel rotates over two sets of nk slots, lead + 1 with a lead block.
  static std::int64_t panel_sets(const GemmTiling& t) { return t.lead_block > 0 ? t.lead_block + 1 : 2; }
  static Slots slot_counts(const GemmTiling& t) {
    const GemmDims& d = t.dims;
    const std::int64_t nm = ceil_div(d.m, t.tm), nn = ceil_div(d.n, t.tn), nk = ceil_div(d.k, t.tk);
    const std::int64_t n_inner = t.n_outer ? nm : nn;
    const std::int64_t outer = t.outer_resident ? panel_sets(t) * nk : 2, inner = t.inner_resident ? nk * n_inner : 2;
    Slots s;
    s.a = t.n_outer ? inner : outer;
    s.b = t.n_outer ? outer : inner;
    s.c = t.k_middle ? 2 * n_inner : t.lead_block > 0 ? t.lead_block * n_inner + 2 : 2;
    return s;
  }
  // Buffers start on 64-byte boundaries (a burst).
  static Sizes sizes(const HwConfig& hw, const GemmTiling& t, const Slots& n) {
    const std::uint64_t ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes, al = 64;
    return {align_up(t.tm * t.tk * ob, al), align_up(t.tk * t.tn * ob, al), align_up(t.tm * t.tn * acc, al),
            t.epilogue_inputs ? align_up(t.tm * t.tn * ob, al) : 0, n};
  }

  const HwConfig& hw_;
  GemmTiling t_;
  // One buffer per slot: 2 (double-buffered) or more when the tiling keeps an operand resident.
  std::vector<std::uint64_t> a_buf_, b_buf_, c_buf_;
  std::uint64_t r_buf_[2], a_bytes_, b_bytes_, c_bytes_, r_bytes_, end_;
  // Per slot: the last instruction that reads it (a new load or first write waits for it); for C
  // the last GEMM that wrote it (a later accumulation into it waits for it).
  std::vector<std::uint32_t> a_reader_, b_reader_, c_reader_, c_writer_;
  std::uint32_t r_reader_[2] = {kNoInstr, kNoInstr};
  int a_slot_ = -1, b_slot_ = -1, c_slot_ = -1, r_slot_ = -1;  // the rotating double buffers' last slot
};

}  // namespace attnsim::test
