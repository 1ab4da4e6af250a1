#include "compiler/fused_attention_lowering.h"

#include <algorithm>

#include "common/errors.h"
#include "timing/fused_timing.h"

namespace attnsim {

void require_fused_datapath(const HwConfig& hw, const std::string& what) {
  if (!hw.datapath.admits_fused_attention())
    throw UserError(hw.source + ": /datapath: " + what +
                    " is fused attention, which needs PEs with max, add, row_scalar_mul and exp, PE-local "
                    "score_entries, and row_units (`attnsim check` says what this datapath admits)");
}

std::uint64_t fused_footprint(const HwConfig& hw, const FusedAttentionPlan& p, std::int64_t seq_len, std::int64_t dh) {
  const std::uint64_t eb = std::uint64_t(hw.array.operand_bytes);
  const std::uint64_t block = align_up(std::uint64_t(p.bq * dh) * eb, 64);
  const std::uint64_t head = align_up(std::uint64_t(seq_len * dh) * eb, 64);
  return std::uint64_t(p.q_buffers + p.o_buffers) * block + std::uint64_t(p.k_buffers + p.v_buffers) * head;
}

FusedAttentionPlan plan_fused_attention(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh,
                                        std::uint64_t capacity, const std::string& what) {
  require_fused_datapath(hw, what);
  FusedAttentionPlan p;
  p.bq = std::min<std::int64_t>(hw.array.rows, seq_len);
  p.key_tile = hw.array.cols;
  // Q and O block slots: the slot of block i is reused by block i + b, which the array reaches (b - 1)
  // occupancies after block i's started; block i is free after its occupancy, its drain and its O store
  // (at most about one occupancy more): b - 1 >= 2 + drain / occupancy.
  const FusedAttentionTiming t = fused_attention_timing(hw.array, hw.datapath, {p.bq, seq_len, dh});
  const std::int64_t spare = t.occupancy > 0 ? (t.drain + t.occupancy - 1) / t.occupancy : 0;
  p.q_buffers = p.o_buffers = int(std::min<std::int64_t>(kMaxBlockBuffers, std::max<std::int64_t>(2, 3 + spare)));
  for (int kv = 2; kv >= 1; --kv) {
    p.k_buffers = p.v_buffers = kv;
    p.footprint = fused_footprint(hw, p, seq_len, dh);
    if (p.footprint <= capacity) return p;
  }
  const std::uint64_t eb = std::uint64_t(hw.array.operand_bytes);
  const std::uint64_t head = align_up(std::uint64_t(seq_len * dh) * eb, 64);
  throw UserError(hw.source + ": /sram: " + what + " is fused attention, which keeps one head's K and V (" +
                  std::to_string(2 * head) + " B at N = " + std::to_string(seq_len) + ") on chip beside its Q and O blocks (" +
                  std::to_string(p.footprint - 2 * head) + " B); the SRAM holds " + std::to_string(capacity) + " B");
}

FusedAttentionEmitter::FusedAttentionEmitter(const HwConfig& hw, const FusedAttentionPlan& plan, std::int64_t seq_len,
                                             std::int64_t dh, std::uint64_t base)
    : hw_(hw), p_(plan), n_(seq_len), dh_(dh) {
  const std::uint64_t eb = std::uint64_t(hw.array.operand_bytes);
  SramAllocator a(base);
  ATTNSIM_ASSERT(p_.q_buffers >= 1 && p_.q_buffers <= kMaxBlockBuffers && p_.o_buffers >= 1 &&
                     p_.o_buffers <= kMaxBlockBuffers && p_.k_buffers >= 1 && p_.k_buffers <= 2 && p_.v_buffers >= 1 &&
                     p_.v_buffers <= 2 && p_.bq > 0,
                 "fused attention plan out of range");
  for (int i = 0; i < p_.q_buffers; ++i) q_[i] = a.take(std::uint64_t(p_.bq * dh) * eb);
  for (int i = 0; i < p_.o_buffers; ++i) o_[i] = a.take(std::uint64_t(p_.bq * dh) * eb);
  std::fill(q_reader_, q_reader_ + kMaxBlockBuffers, kNoInstr);
  std::fill(o_reader_, o_reader_ + kMaxBlockBuffers, kNoInstr);
  for (int i = 0; i < std::max(p_.k_buffers, p_.v_buffers); ++i) {  // k0, v0, k1, v1
    if (i < p_.k_buffers) k_[i] = a.take(std::uint64_t(n_ * dh) * eb);
    if (i < p_.v_buffers) v_[i] = a.take(std::uint64_t(n_ * dh) * eb);
  }
}

std::vector<BufferInfo> FusedAttentionEmitter::buffers(std::uint32_t phase) const {
  const std::uint64_t eb = std::uint64_t(hw_.array.operand_bytes);
  const std::uint64_t block = std::uint64_t(p_.bq * dh_) * eb, head = std::uint64_t(n_ * dh_) * eb;
  std::vector<BufferInfo> b;
  for (int i = 0; i < p_.q_buffers; ++i)
    b.push_back({"fused.q" + std::to_string(i), {q_[i], block}, BufClass::Query, phase});
  for (int i = 0; i < p_.o_buffers; ++i)
    b.push_back({"fused.o" + std::to_string(i), {o_[i], block}, BufClass::Output, phase});
  for (int i = 0; i < std::max(p_.k_buffers, p_.v_buffers); ++i) {
    if (i < p_.k_buffers) b.push_back({"fused.k" + std::to_string(i), {k_[i], head}, BufClass::Key, phase});
    if (i < p_.v_buffers) b.push_back({"fused.v" + std::to_string(i), {v_[i], head}, BufClass::Value, phase});
  }
  return b;
}

void FusedAttentionEmitter::emit_head(Emitter& em, const HeadBlocks& h, bool causal, float scale) {
  const int eb = hw_.array.operand_bytes;
  ks_ = (ks_ + 1) % p_.k_buffers;
  vs_ = (vs_ + 1) % p_.v_buffers;
  const int ks = ks_, vs = vs_;
  // K and V of the whole sequence, once per head; they overwrite the slot's previous head only after its
  // last fused instruction has read it.
  em.set_class(OpClass::QK);
  const SramTile kt = tile_at(k_[ks], n_, dh_, eb), vt = tile_at(v_[vs], n_, dh_, eb);
  const std::uint32_t kl = em.load(h.k, kt, {k_reader_[ks]});
  em.set_class(OpClass::PV);
  const std::uint32_t vl = em.load(h.v, vt, {v_reader_[vs]});
  std::uint32_t last = kNoInstr;
  for (std::int64_t q0 = 0; q0 < n_; q0 += p_.bq) {
    const std::int64_t rows = std::min(p_.bq, n_ - q0);
    qs_ = (qs_ + 1) % p_.q_buffers;
    os_ = (os_ + 1) % p_.o_buffers;
    const int qs = qs_, os = os_;
    const SramTile qt = tile_at(q_[qs], rows, dh_, eb), ot = tile_at(o_[os], rows, dh_, eb);
    em.set_class(OpClass::QK);
    const std::uint32_t ql = em.load({h.q.tensor, h.q.row0 + q0, h.q.col0, rows, dh_}, qt, {q_reader_[qs]});
    // Causal: keys [0, q0 + rows) are the only ones any row of the block sees (row r's last is q0 + r).
    const std::int64_t keys = causal ? std::min(n_, q0 + rows) : n_;
    // One instruction does Q K^T, the softmax and P V; the per-op report counts it under qk.
    const std::uint32_t g = em.fused_attention(qt, tile_at(k_[ks], keys, dh_, eb), tile_at(v_[vs], keys, dh_, eb), ot,
                                               p_.key_tile, scale, causal, q0, {ql, kl, vl, o_reader_[os]});
    q_reader_[qs] = g;
    em.set_class(OpClass::PV);
    o_reader_[os] = em.store({h.o.tensor, h.o.row0 + q0, h.o.col0, rows, dh_}, ot, {g});
    last = g;
  }
  k_reader_[ks] = last;
  v_reader_[vs] = last;
}

}  // namespace attnsim
