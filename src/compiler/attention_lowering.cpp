#include "compiler/attention_lowering.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/errors.h"
#include "timing/unit_timing.h"

namespace attnsim {

namespace {

constexpr int kStatsCols = 3;  // m, l, alpha
constexpr int kStatsBytes = 4;

// Tile-size candidates for an attention dimension: multiples of the array side g (powers of two
// times g), and below g halvings down to 16 for SRAMs too small for a full-array tile.
std::vector<std::int64_t> attention_tile_candidates(const HwConfig& hw, std::int64_t limit) {
  const std::int64_t g = std::max(hw.array.rows, hw.array.cols);
  std::vector<std::int64_t> v;
  for (std::int64_t t = g; t <= std::max<std::int64_t>(limit, g); t *= 2) v.push_back(t);
  for (std::int64_t t = g / 2; t >= 16; t /= 2) v.push_back(t);
  std::sort(v.begin(), v.end());
  return v;
}

std::int64_t array_cycles(const HwConfig& hw, std::int64_t m, std::int64_t k, std::int64_t n) {
  return gemm_cycles(hw.array.rows, hw.array.cols, hw.array.dataflow, hw.array.timing, {m, k, n});
}

std::int64_t softmax_cycles_of(const HwConfig& hw, SmOp op, std::int64_t rows, std::int64_t cols) {
  Instr in;
  in.op = Opcode::Softmax;
  in.sub = std::uint8_t(op);
  const SramTile t = tile_at(0, rows, cols, 4);
  in.a = t, in.c = t, in.b = tile_at(0, rows, kStatsCols, kStatsBytes);
  return softmax_op_cycles(hw, in);
}

std::uint64_t flash_footprint(const HwConfig& hw, std::int64_t bq, std::int64_t bk, std::int64_t dh) {
  const std::uint64_t ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
  auto buf = [](std::uint64_t b) { return 2 * align_up(b, 64); };
  return buf(bq * dh * ob) + buf(bk * dh * ob) * 2 + buf(bq * bk * acc) + buf(bq * bk * ob) + buf(bq * dh * acc) +
         buf(bq * dh * ob) + buf(bq * kStatsCols * kStatsBytes);
}

std::uint64_t row_fused_footprint(const HwConfig& hw, std::int64_t br, std::int64_t bk, std::int64_t n,
                                  std::int64_t dh, int score_buffers) {
  const std::uint64_t ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
  auto buf = [](std::uint64_t b) { return align_up(b, 64); };
  return 2 * buf(br * dh * ob) + 4 * buf(bk * dh * ob) + std::uint64_t(score_buffers) * (buf(br * n * acc) + buf(br * n * ob)) +
         2 * buf(br * dh * acc);
}

}  // namespace

FlashPlan plan_flash(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh, std::uint64_t capacity,
                     const std::string& what) {
  // Cost of one (Q tile, K/V tile) step per score computed, at steady state: the array, the
  // softmax unit and the K/V loads run in parallel, so the slowest of the three sets the pace.
  // Among the tilings within 2% of the cheapest, the one with the largest Q tile wins (K and V are
  // streamed once per Q tile, so it moves the least DRAM traffic), then the smallest footprint.
  // The Q tile thus takes what the SRAM leaves once K/V and score tiles are big enough to keep the
  // units busy: bq ~ M / d, and the traffic N d (2 + 2 ceil(N / bq)) is Theta(N^2 d^2 / M), as
  // FlashAttention's. The choice never looks at seq_len, so the buffers are the same for every N
  // (tiles are clamped to N only when N is smaller).
  const std::uint64_t ob = hw.array.operand_bytes;
  const double bw = hw.dram.peak_bytes_per_cycle;
  struct Cand {
    std::int64_t bq, bk;
    double cost;
    std::uint64_t footprint;
  };
  std::vector<Cand> fits;
  const std::vector<std::int64_t> cands = attention_tile_candidates(hw, std::int64_t(1) << 20);
  for (std::int64_t bq : cands)
    for (std::int64_t bk : cands) {
      const std::uint64_t fp = flash_footprint(hw, bq, bk, dh);
      if (fp > capacity) continue;
      const double array = double(array_cycles(hw, bq, dh, bk) + array_cycles(hw, bq, bk, dh));
      const double sm = double(softmax_cycles_of(hw, SmOp::OnlineStep, bq, bk) +
                               softmax_cycles_of(hw, SmOp::Rescale, bq, dh));
      const double mem = double(2 * bk * dh * ob) / bw;
      fits.push_back({bq, bk, std::max({array, sm, mem}) / double(bq * bk), fp});
    }
  if (fits.empty()) {
    const std::int64_t t = cands.front();
    std::ostringstream msg;
    msg << hw.source << ": /sram: " << what << ": flash attention's smallest tiles (Q " << t << "x" << dh << ", K and V "
        << t << "x" << dh << ", scores " << t << "x" << t << ", double-buffered) need "
        << flash_footprint(hw, t, t, dh) << " B, more than the " << capacity << " B of SRAM available";
    throw UserError(msg.str());
  }
  double best = fits.front().cost;
  for (const Cand& c : fits) best = std::min(best, c.cost);
  const Cand* pick = nullptr;
  for (const Cand& c : fits)
    if (c.cost <= best * 1.02 &&
        (!pick || c.bq > pick->bq || (c.bq == pick->bq && c.footprint < pick->footprint)))
      pick = &c;
  FlashPlan p;
  p.bq = std::min(pick->bq, seq_len);
  p.bk = std::min(pick->bk, seq_len);
  p.footprint = flash_footprint(hw, p.bq, p.bk, dh);
  return p;
}

FlashEmitter::FlashEmitter(const HwConfig& hw, const FlashPlan& plan, std::int64_t dh, std::uint64_t base,
                           bool use_accumulators)
    : hw_(hw), p_(plan), dh_(dh) {
  const std::uint64_t ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
  const std::uint64_t o_bytes = align_up(plan.bq * dh * acc, 64), s_bytes = align_up(plan.bq * plan.bk * acc, 64);
  const std::uint64_t acc_cap = use_accumulators && hw.accumulators.present ? hw.accumulators.bytes : 0;
  const bool o_acc = 2 * o_bytes <= acc_cap, s_acc = o_acc && 2 * (o_bytes + s_bytes) <= acc_cap;
  SramAllocator al(base), accs(hw.accumulator_base());
  for (int i = 0; i < 2; ++i) {
    q_[i] = al.take(plan.bq * dh * ob);
    k_[i] = al.take(plan.bk * dh * ob);
    v_[i] = al.take(plan.bk * dh * ob);
    s_[i] = (s_acc ? accs : al).take(plan.bq * plan.bk * acc);
    pb_[i] = al.take(plan.bq * plan.bk * ob);
    o_[i] = (o_acc ? accs : al).take(plan.bq * dh * acc);
    out_[i] = al.take(plan.bq * dh * ob);
    st_[i] = al.take(plan.bq * kStatsCols * kStatsBytes);
  }
}

std::vector<BufferInfo> FlashEmitter::buffers(std::uint32_t phase) const {
  const std::uint64_t ob = hw_.array.operand_bytes, acc = hw_.array.accumulator_bytes;
  std::vector<BufferInfo> v;
  for (int i = 0; i < 2; ++i) {
    const std::string s = std::to_string(i);
    v.push_back({"Q" + s, {q_[i], p_.bq * dh_ * ob}, BufClass::Query, phase});
    v.push_back({"K" + s, {k_[i], p_.bk * dh_ * ob}, BufClass::Key, phase});
    v.push_back({"V" + s, {v_[i], p_.bk * dh_ * ob}, BufClass::Value, phase});
    v.push_back({"S" + s, {s_[i], p_.bq * p_.bk * acc}, BufClass::Score, phase});
    v.push_back({"P" + s, {pb_[i], p_.bq * p_.bk * ob}, BufClass::Score, phase});
    v.push_back({"O" + s, {o_[i], p_.bq * dh_ * acc}, BufClass::Output, phase});
    v.push_back({"Out" + s, {out_[i], p_.bq * dh_ * ob}, BufClass::Output, phase});
    v.push_back({"stats" + s, {st_[i], std::uint64_t(p_.bq * kStatsCols * kStatsBytes)}, BufClass::Stats, phase});
  }
  return v;
}

void FlashEmitter::emit_head(Emitter& em, const HeadBlocks& h, std::int64_t n, bool causal, float scale,
                             std::int64_t q_len) {
  const int ob = hw_.array.operand_bytes, acc = hw_.array.accumulator_bytes;
  const std::int64_t dh = dh_, qn = q_len < 0 ? n : q_len;
  std::vector<std::uint32_t> qk, sm, pv;  // per key tile of the current Q tile
  std::vector<int> sslot, pslot;
  for (std::int64_t q0 = 0; q0 < qn; q0 += p_.bq) {
    const std::int64_t bq = std::min(p_.bq, qn - q0);
    qs_ = (qs_ + 1) % 2;
    os_ = (os_ + 1) % 2;
    const int qs = qs_, os = os_;  // the stats and Out buffers follow the O slot
    em.set_class(OpClass::QK);
    const std::uint32_t q_load =
        em.load({h.q.tensor, h.q.row0 + q0, h.q.col0, bq, dh}, tile_at(q_[qs], bq, dh, ob), {q_reader_[qs]});
    // Key tiles: all of them, or (causal) those with a key at or before the tile's last query.
    const std::int64_t kend = causal ? std::min(n, q0 + bq) : n;
    const std::int64_t nj = ceil_div(kend, p_.bk);
    qk.assign(static_cast<std::size_t>(nj), kNoInstr);
    sm.assign(qk.size(), kNoInstr);
    pv.assign(qk.size(), kNoInstr);
    sslot.assign(qk.size(), 0);
    pslot.assign(qk.size(), 0);
    std::uint32_t rescale_prev = kNoInstr;
    auto bk_of = [&](std::int64_t j) { return std::min(p_.bk, n - j * p_.bk); };
    auto emit_qk = [&](std::int64_t j) {
      em.set_class(OpClass::QK);
      const std::int64_t k0 = j * p_.bk, bk = bk_of(j);
      ks_ = (ks_ + 1) % 2;
      const std::uint32_t kl =
          em.load({h.k.tensor, h.k.row0 + k0, h.k.col0, bk, dh}, tile_at(k_[ks_], bk, dh, ob), {k_reader_[ks_]});
      ss_ = (ss_ + 1) % 2;
      sslot[j] = ss_;
      qk[j] = em.gemm(tile_at(q_[qs], bq, dh, ob), tile_at(k_[ks_], bk, dh, ob), tile_at(s_[ss_], bq, bk, acc), false,
                      true, {q_load, kl, s_reader_[ss_]});
      k_reader_[ks_] = qk[j];
      q_reader_[qs] = qk[j];
    };
    auto emit_sm = [&](std::int64_t j) {
      em.set_class(OpClass::Softmax);
      const std::int64_t k0 = j * p_.bk, bk = bk_of(j);
      ps_ = (ps_ + 1) % 2;
      pslot[j] = ps_;
      const bool diag = causal && k0 + bk - 1 > q0;  // some score of the tile is masked
      // Deps: the scores; the P slot's last reader; the stats written by the previous step and
      // read by its rescale (or, at j = 0, by the Normalize of the tile that used this slot before).
      sm[j] = em.softmax(SmOp::OnlineStep, tile_at(s_[sslot[j]], bq, bk, acc),
                         tile_at(st_[os], bq, kStatsCols, kStatsBytes), tile_at(pb_[ps_], bq, bk, ob),
                         {qk[j], p_reader_[ps_], j ? sm[j - 1] : o_reader_[os], rescale_prev}, scale, diag, q0 - k0,
                         j == 0);
      s_reader_[sslot[j]] = sm[j];
    };
    auto emit_pv = [&](std::int64_t j) {
      const std::int64_t k0 = j * p_.bk, bk = bk_of(j);
      std::uint32_t dep_o = o_reader_[os];
      if (j > 0) {
        em.set_class(OpClass::Softmax);
        rescale_prev = em.softmax(SmOp::Rescale, {}, tile_at(st_[os], bq, kStatsCols, kStatsBytes),
                                  tile_at(o_[os], bq, dh, acc), {pv[j - 1], sm[j]});
        dep_o = rescale_prev;
      }
      em.set_class(OpClass::PV);
      vs_ = (vs_ + 1) % 2;
      const std::uint32_t vl =
          em.load({h.v.tensor, h.v.row0 + k0, h.v.col0, bk, dh}, tile_at(v_[vs_], bk, dh, ob), {v_reader_[vs_]});
      pv[j] = em.gemm(tile_at(pb_[pslot[j]], bq, bk, ob), tile_at(v_[vs_], bk, dh, ob), tile_at(o_[os], bq, dh, acc),
                      j > 0, false, {sm[j], vl, dep_o});
      v_reader_[vs_] = pv[j];
      p_reader_[pslot[j]] = pv[j];
    };
    // Program order QK_0 SM_0 | QK_1 PV_0 SM_1 | QK_2 R_1 PV_1 SM_2 | ...: the array computes the
    // next scores while the softmax unit works on the current ones.
    emit_qk(0);
    emit_sm(0);
    for (std::int64_t j = 0; j < nj; ++j) {
      if (j + 1 < nj) emit_qk(j + 1);
      emit_pv(j);
      if (j + 1 < nj) emit_sm(j + 1);
    }
    em.set_class(OpClass::Softmax);
    const std::uint32_t norm = em.softmax(SmOp::Normalize, tile_at(o_[os], bq, dh, acc),
                                          tile_at(st_[os], bq, kStatsCols, kStatsBytes), tile_at(out_[os], bq, dh, ob),
                                          {pv[nj - 1], sm[nj - 1], out_reader_[os]});
    o_reader_[os] = norm;
    em.set_class(OpClass::PV);
    out_reader_[os] = em.store({h.o.tensor, h.o.row0 + q0, h.o.col0, bq, dh}, tile_at(out_[os], bq, dh, ob), {norm});
  }
}

RowFusedPlan plan_row_fused(const HwConfig& hw, std::int64_t n, std::int64_t dh, std::uint64_t capacity,
                            const std::string& what, bool whole_only) {
  // K/V tiles as wide as the array's column side (the GEMMs' streamed/folded N); the query block
  // as large as fits (K and V are re-read once per block), double-buffered scores when a block of
  // at least one array side still fits that way, so that the next block's S = Q K^T overlaps.
  const std::int64_t g = std::max(hw.array.rows, hw.array.cols);
  const std::int64_t bk = std::min(n, g);
  RowFusedPlan p;
  p.bk = bk;
  auto largest = [&](int nb) -> std::int64_t {
    if (whole_only) return row_fused_footprint(hw, n, bk, n, dh, nb) <= capacity ? n : 0;
    std::int64_t lo = 0, hi = n;  // the footprint grows with br: bisect for the largest that fits
    while (lo < hi) {
      const std::int64_t mid = (lo + hi + 1) / 2;
      if (row_fused_footprint(hw, mid, bk, n, dh, nb) <= capacity)
        lo = mid;
      else
        hi = mid - 1;
    }
    // Whole multiples of the array's row side keep the folds full.
    if (lo > g && lo < n) lo = lo / g * g;
    return lo;
  };
  std::int64_t br = largest(2);
  int nb = 2;
  if (br < std::min(n, g) || whole_only) {
    const std::int64_t single = largest(1);
    if (single > br) br = single, nb = 1;
  }
  if (br == 0) {
    if (whole_only) return p;
    std::ostringstream msg;
    msg << hw.source << ": /sram: " << what << ": row-fused attention keeps a block of query rows' full scores on chip; "
        << "one row (S 1x" << n << " accumulators and P 1x" << n << ", with Q, K, V, O tiles) needs "
        << row_fused_footprint(hw, 1, bk, n, dh, 1) << " B, more than the " << capacity << " B of SRAM available";
    throw UserError(msg.str());
  }
  p.br = br;
  p.score_buffers = nb;
  p.footprint = row_fused_footprint(hw, br, bk, n, dh, nb);
  if (!whole_only) {
    // Row-fused exists to keep the scores off DRAM. Once its query block is so small that
    // re-reading K and V for every block moves more bytes than spilling the scores would (the
    // unfused schedule), it is dominated, and simulating it costs N / br passes over K and V:
    // refuse and point at the schedules that do better.
    const std::uint64_t blocked = row_fused_bytes_per_head(hw, n, dh, br);
    const std::uint64_t spilled = spilled_bytes_per_head(hw, n, dh);
    if (blocked > spilled) {
      std::ostringstream msg;
      msg << hw.source << ": /sram: " << what << ": row-fused attention at N = " << n << " fits query blocks of only "
          << br << (br == 1 ? " row (" : " rows (") << p.footprint << " of " << capacity << " B): re-reading K and V for each of the "
          << (n + br - 1) / br << " blocks moves " << blocked << " B per head, more than the " << spilled
          << " B of spilling the scores (unfused); use flash (constant SRAM), unfused, or a larger SRAM";
      throw UserError(msg.str());
    }
  }
  return p;
}

std::uint64_t row_fused_bytes_per_head(const HwConfig& hw, std::int64_t n, std::int64_t dh, std::int64_t br) {
  const std::uint64_t nd = std::uint64_t(n) * std::uint64_t(dh);
  return hw.array.operand_bytes * nd * (2 + 2 * std::uint64_t((n + br - 1) / br));
}

std::uint64_t spilled_bytes_per_head(const HwConfig& hw, std::int64_t n, std::int64_t dh) {
  const std::uint64_t nn = std::uint64_t(n) * std::uint64_t(n), nd = std::uint64_t(n) * std::uint64_t(dh);
  return 2 * (hw.array.accumulator_bytes + hw.array.operand_bytes) * nn + 4 * hw.array.operand_bytes * nd;
}

RowFusedEmitter::RowFusedEmitter(const HwConfig& hw, const RowFusedPlan& plan, std::int64_t n, std::int64_t dh,
                                 std::uint64_t base, bool use_accumulators)
    : hw_(hw), p_(plan), n_(n), dh_(dh) {
  const std::uint64_t ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
  const std::uint64_t acc_cap = use_accumulators && hw.accumulators.present ? hw.accumulators.bytes : 0;
  const bool o_acc = 2 * align_up(plan.br * dh * acc, 64) <= acc_cap;
  SramAllocator al(base), accs(hw.accumulator_base());
  for (int i = 0; i < 2; ++i) {
    q_[i] = al.take(plan.br * dh * ob);
    k_[i] = al.take(plan.bk * dh * ob);
    v_[i] = al.take(plan.bk * dh * ob);
    o_[i] = (o_acc ? accs : al).take(plan.br * dh * acc);
  }
  for (int i = 0; i < 2; ++i) {
    s_[i] = i < plan.score_buffers ? al.take(plan.br * n * acc) : s_[0];
    pb_[i] = i < plan.score_buffers ? al.take(plan.br * n * ob) : pb_[0];
  }
}

std::vector<BufferInfo> RowFusedEmitter::buffers(std::uint32_t phase) const {
  const std::uint64_t ob = hw_.array.operand_bytes, acc = hw_.array.accumulator_bytes;
  std::vector<BufferInfo> v;
  for (int i = 0; i < 2; ++i) {
    const std::string s = std::to_string(i);
    v.push_back({"Q" + s, {q_[i], p_.br * dh_ * ob}, BufClass::Query, phase});
    v.push_back({"K" + s, {k_[i], p_.bk * dh_ * ob}, BufClass::Key, phase});
    v.push_back({"V" + s, {v_[i], p_.bk * dh_ * ob}, BufClass::Value, phase});
    v.push_back({"O" + s, {o_[i], p_.br * dh_ * acc}, BufClass::Output, phase});
  }
  for (int i = 0; i < p_.score_buffers; ++i) {
    const std::string s = std::to_string(i);
    v.push_back({"S" + s, {s_[i], p_.br * n_ * acc}, BufClass::Score, phase});
    v.push_back({"P" + s, {pb_[i], p_.br * n_ * ob}, BufClass::Score, phase});
  }
  return v;
}

void RowFusedEmitter::emit_head(Emitter& em, const HeadBlocks& h, bool causal, float scale) {
  const int ob = hw_.array.operand_bytes, acc = hw_.array.accumulator_bytes;
  const std::int64_t n = n_, dh = dh_, bk = p_.bk;
  struct Block {
    std::int64_t r0, br, cols, nj;
    int ss, qs;
    std::uint32_t sm = kNoInstr;
  };
  // Phase 1 of a block: Q load, S = Q K^T over its key tiles, row softmax. Phase 2: O = P V, store.
  auto phase1 = [&](std::int64_t r0) {
    Block b;
    b.r0 = r0;
    b.br = std::min(p_.br, n - r0);
    // Causal: keys up to the block's last query, rounded up to whole key tiles (P is written with
    // zeros in the masked part of those tiles, which O = P V reads).
    b.cols = causal ? std::min(n, ceil_div(r0 + b.br, bk) * bk) : n;
    b.nj = ceil_div(b.cols, bk);
    qs_ = (qs_ + 1) % 2;
    ss_ = (ss_ + 1) % p_.score_buffers;
    b.qs = qs_, b.ss = ss_;
    em.set_class(OpClass::QK);
    const std::uint32_t ql = em.load({h.q.tensor, h.q.row0 + r0, h.q.col0, b.br, dh}, tile_at(q_[b.qs], b.br, dh, ob),
                                     {q_reader_[b.qs]});
    std::uint32_t last = kNoInstr;
    for (std::int64_t j = 0; j < b.nj; ++j) {
      const std::int64_t k0 = j * bk, w = std::min(bk, n - k0);
      ks_ = (ks_ + 1) % 2;
      const std::uint32_t kl =
          em.load({h.k.tensor, h.k.row0 + k0, h.k.col0, w, dh}, tile_at(k_[ks_], w, dh, ob), {k_reader_[ks_]});
      last = em.gemm(tile_at(q_[b.qs], b.br, dh, ob), tile_at(k_[ks_], w, dh, ob),
                     tile_at(s_[b.ss] + std::uint64_t(k0) * acc, b.br, w, acc, n), false, true,
                     {ql, kl, j == 0 ? s_reader_[b.ss] : kNoInstr});
      k_reader_[ks_] = last;
    }
    q_reader_[b.qs] = last;
    em.set_class(OpClass::Softmax);
    b.sm = em.softmax(SmOp::Rows, tile_at(s_[b.ss], b.br, b.cols, acc, n), {}, tile_at(pb_[b.ss], b.br, b.cols, ob, n),
                      {last, p_reader_[b.ss]}, scale, causal, r0);
    s_reader_[b.ss] = b.sm;
    return b;
  };
  auto phase2 = [&](const Block& b) {
    em.set_class(OpClass::PV);
    os_ = (os_ + 1) % 2;
    std::uint32_t last = kNoInstr;
    for (std::int64_t j = 0; j < b.nj; ++j) {
      const std::int64_t k0 = j * bk, w = std::min(bk, n - k0);
      vs_ = (vs_ + 1) % 2;
      const std::uint32_t vl =
          em.load({h.v.tensor, h.v.row0 + k0, h.v.col0, w, dh}, tile_at(v_[vs_], w, dh, ob), {v_reader_[vs_]});
      last = em.gemm(tile_at(pb_[b.ss] + std::uint64_t(k0) * ob, b.br, w, ob, n), tile_at(v_[vs_], w, dh, ob),
                     tile_at(o_[os_], b.br, dh, acc), j > 0, false, {b.sm, vl, j == 0 ? o_reader_[os_] : kNoInstr});
      v_reader_[vs_] = last;
    }
    p_reader_[b.ss] = last;
    o_reader_[os_] = em.store({h.o.tensor, h.o.row0 + b.r0, h.o.col0, b.br, dh}, tile_at(o_[os_], b.br, dh, acc), {last});
  };
  // With two score buffers the array computes block i+1's scores before block i's P V.
  std::vector<Block> pending;
  for (std::int64_t r0 = 0; r0 < n; r0 += p_.br) {
    Block b = phase1(r0);
    if (p_.score_buffers == 2) {
      if (!pending.empty()) phase2(pending.front()), pending.clear();
      pending.push_back(b);
    } else {
      phase2(b);
    }
  }
  for (const Block& b : pending) phase2(b);
}

}  // namespace attnsim
