#pragma once
// Hand-written programs of vanilla attention's flash and row-fused kernels, one head at a time, at a
// plan's tiles (compiler/attention_lowering.h: FlashPlan, RowFusedPlan; that header describes the
// two schedules). The simulator runs these kernels as mappings of the vanilla cascade
// (cascade/lower.h, picked by mapper/cascade_search.h); these emit loops are an independent
// implementation of the same kernels that the tests keep as reference programs: the program timer
// against the accelerator, the functional executor against the reference attention, the generic
// lowering's bytes and cycles against them. Header-only (tests/CMakeLists.txt compiles tests/*.cpp).
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/attention_lowering.h"
#include "compiler/emitter.h"
#include "config/hw_config.h"
#include "ir/tile_program.h"

namespace attnsim::test {

// Flash: for each Q tile, the K/V tiles streamed; every buffer double-buffered. Program order
// QK_0 SM_0 | QK_1 PV_0 SM_1 | QK_2 R_1 PV_1 SM_2 | ...: the array computes the next scores while the
// softmax unit works on the current ones. With use_accumulators and accumulator storage declared
// (hw_config.h), the fp32 running outputs O go there when they fit, then the fp32 score tiles S when
// they fit too. The caller must have no other buffer in the accumulators.
class FlashEmitter {
 public:
  FlashEmitter(const HwConfig& hw, const FlashPlan& plan, std::int64_t dh, std::uint64_t base,
               bool use_accumulators = false)
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
      st_[i] = al.take(plan.bq * kFlashStatsCols * kFlashStatsBytes);
    }
  }

  std::vector<BufferInfo> buffers(std::uint32_t phase) const {
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
      v.push_back({"stats" + s, {st_[i], std::uint64_t(p_.bq * kFlashStatsCols * kFlashStatsBytes)}, BufClass::Stats, phase});
    }
    return v;
  }

  // q_len: the query rows when they are not seq_len (-1: seq_len).
  void emit_head(Emitter& em, const HeadBlocks& h, std::int64_t n, bool causal, float scale,
                 std::int64_t q_len = -1) {
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
                           tile_at(st_[os], bq, kFlashStatsCols, kFlashStatsBytes), tile_at(pb_[ps_], bq, bk, ob),
                           {qk[j], p_reader_[ps_], j ? sm[j - 1] : o_reader_[os], rescale_prev}, scale, diag, q0 - k0,
                           j == 0);
        s_reader_[sslot[j]] = sm[j];
      };
      auto emit_pv = [&](std::int64_t j) {
        const std::int64_t k0 = j * p_.bk, bk = bk_of(j);
        std::uint32_t dep_o = o_reader_[os];
        if (j > 0) {
          em.set_class(OpClass::Softmax);
          rescale_prev = em.softmax(SmOp::Rescale, {}, tile_at(st_[os], bq, kFlashStatsCols, kFlashStatsBytes),
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
                                            tile_at(st_[os], bq, kFlashStatsCols, kFlashStatsBytes), tile_at(out_[os], bq, dh, ob),
                                            {pv[nj - 1], sm[nj - 1], out_reader_[os]});
      o_reader_[os] = norm;
      em.set_class(OpClass::PV);
      out_reader_[os] = em.store({h.o.tensor, h.o.row0 + q0, h.o.col0, bq, dh}, tile_at(out_[os], bq, dh, ob), {norm});
    }
  }

 private:
  const HwConfig& hw_;
  FlashPlan p_;
  std::int64_t dh_;
  std::uint64_t q_[2] = {}, k_[2] = {}, v_[2] = {}, s_[2] = {}, pb_[2] = {}, o_[2] = {}, out_[2] = {}, st_[2] = {};
  std::uint32_t q_reader_[2] = {kNoInstr, kNoInstr}, k_reader_[2] = {kNoInstr, kNoInstr},
                v_reader_[2] = {kNoInstr, kNoInstr}, s_reader_[2] = {kNoInstr, kNoInstr},
                p_reader_[2] = {kNoInstr, kNoInstr}, o_reader_[2] = {kNoInstr, kNoInstr},
                out_reader_[2] = {kNoInstr, kNoInstr};
  int qs_ = -1, ks_ = -1, vs_ = -1, ss_ = -1, ps_ = -1, os_ = -1;
};

// Row-fused: for each block of br query rows, S = Q K^T over its key chunks into whole score rows,
// the row softmax, O = P V over the value chunks, the store; with two score buffers the array
// computes block i+1's scores before block i's P V. With use_accumulators, the fp32 outputs O go to
// the accumulator storage when they fit, as in FlashEmitter.
class RowFusedEmitter {
 public:
  RowFusedEmitter(const HwConfig& hw, const RowFusedPlan& plan, std::int64_t n, std::int64_t dh,
                  std::uint64_t base, bool use_accumulators = false)
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

  std::vector<BufferInfo> buffers(std::uint32_t phase) const {
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

  // q_len: emit only the query blocks that start before it (-1: all).
  void emit_head(Emitter& em, const HeadBlocks& h, bool causal, float scale, std::int64_t q_len = -1) {
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
    const std::int64_t rows = q_len < 0 ? n : std::min(n, q_len);
    for (std::int64_t r0 = 0; r0 < rows; r0 += p_.br) {
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

 private:
  const HwConfig& hw_;
  RowFusedPlan p_;
  std::int64_t n_, dh_;
  std::uint64_t q_[2] = {}, k_[2] = {}, v_[2] = {}, s_[2] = {}, pb_[2] = {}, o_[2] = {};
  std::uint32_t q_reader_[2] = {kNoInstr, kNoInstr}, k_reader_[2] = {kNoInstr, kNoInstr},
                v_reader_[2] = {kNoInstr, kNoInstr}, s_reader_[2] = {kNoInstr, kNoInstr},
                p_reader_[2] = {kNoInstr, kNoInstr}, o_reader_[2] = {kNoInstr, kNoInstr};
  int qs_ = -1, ks_ = -1, vs_ = -1, ss_ = -1, os_ = -1;
};

}  // namespace attnsim::test
