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

namespace {

// The user's fixed choices for an attention op: kind checked, tile factors at most seq_len.
const OpMapping* fixed_attention(const ModelMapping* fixed, const std::string& what, const char* kind, std::int64_t n,
                                 const char* alt = nullptr) {
  const OpMapping* m = fixed ? fixed->find(what) : nullptr;
  if (!m) return nullptr;
  std::string problems;
  auto problem = [&](const std::string& field, const std::string& rule) {
    problems += (problems.empty() ? "" : "\n") + fixed->where(what, field) + ": " + rule;
  };
  if (m->kind != kind && !(alt && m->kind == alt))
    problem("kind", what + " is " + kind + " attention here: kind must be \"" + kind + "\"" +
                        (alt ? std::string(" or \"") + alt + "\"" : std::string()) + ", got \"" + m->kind + "\"");
  for (const auto& [rank, v] : m->tile)
    if (v > n) problem("tile/" + rank, "must be at most the sequence length " + std::to_string(n) + ", got " + std::to_string(v));
  if (!problems.empty()) throw UserError(problems);
  return m;
}

}  // namespace

namespace {

// One head's Q, K, V, O (N x d each, 4 KiB apart in DRAM) for the programs the mapper times.
struct OneHead {
  std::vector<TensorInfo> tensors;
  HeadBlocks blocks;
};
OneHead one_head(const HwConfig& hw, std::int64_t n, std::int64_t dh) {
  const std::uint64_t bytes = align_up(std::uint64_t(n) * std::uint64_t(dh) * hw.array.operand_bytes, 4096);
  OneHead h;
  for (int i = 0; i < 4; ++i)
    h.tensors.push_back({std::string(1, "QKVO"[i]), i * bytes, std::uint64_t(n), std::uint64_t(dh),
                         hw.array.operand_bytes});
  h.blocks = {{0, 0, 0, n, dh}, {1, 0, 0, n, dh}, {2, 0, 0, n, dh}, {3, 0, 0, n, dh}};
  return h;
}

// Flash candidates (plans and their mapper entries) within capacity; f: the user's fixed tiles.
void flash_candidates(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh, std::uint64_t capacity,
                      const OpMapping* f, std::vector<FlashPlan>* plans, std::vector<MapCandidate>* mc) {
  // The mapper's candidates: every (bq, bk) pair of tile sizes that fits (multiples of the array
  // side, halvings below it, and N itself), clamped to N. The analytical estimate per head:
  //   step   = max(array: S = Q K_j^T and P V_j, softmax unit: the online step and the rescale,
  //                DRAM: K_j and V_j, 2 bk d eb / bandwidth)   (the three units overlap)
  //   cycles = ceil(N / bq) (ceil(N / bk) step + normalize) + exposed first Q and last O transfers
  // and its DRAM traffic N d eb (2 + 2 ceil(N / bq)); the best few are then timed on one and two
  // query tiles of a head (program_timer.h), extrapolated to ceil(N / bq). The choice depends on N:
  // at large N, K and V re-reads make larger query tiles pay.
  const std::uint64_t ob = hw.array.operand_bytes;
  const double bw = hw.dram.peak_bytes_per_cycle;
  const double latency = hw.dram.model == DramModel::Ideal ? double(hw.dram.latency_cycles) : 50.0;
  std::vector<std::int64_t> cands;
  for (std::int64_t t : attention_tile_candidates(hw, std::int64_t(1) << 20)) cands.push_back(std::min(t, seq_len));
  std::sort(cands.begin(), cands.end());
  cands.erase(std::unique(cands.begin(), cands.end()), cands.end());
  const std::vector<std::int64_t> bqs = f && f->tile_of("m") ? std::vector<std::int64_t>{f->tile_of("m")} : cands;
  const std::vector<std::int64_t> bks = f && f->tile_of("p") ? std::vector<std::int64_t>{f->tile_of("p")} : cands;
  for (std::int64_t bq : bqs)
    for (std::int64_t bk : bks) {
      const std::uint64_t fp = flash_footprint(hw, bq, bk, dh);
      if (fp > capacity) continue;
      const double array = double(array_cycles(hw, bq, dh, bk) + array_cycles(hw, bq, bk, dh));
      const double sm = double(softmax_cycles_of(hw, SmOp::OnlineStep, bq, bk) +
                               softmax_cycles_of(hw, SmOp::Rescale, bq, dh));
      const double mem = double(2 * bk * dh * ob) / bw;
      const std::int64_t nq = ceil_div(seq_len, bq), nk = ceil_div(seq_len, bk);
      const double per_q = double(nk) * std::max({array, sm, mem}) + double(softmax_cycles_of(hw, SmOp::Normalize, bq, dh));
      const double edges = 2 * (double(bq * dh * ob) / bw + latency);
      FlashPlan p{bq, bk, fp};
      MapCandidate c;
      c.analytic_cycles = double(nq) * per_q + edges;
      c.dram_bytes = std::uint64_t(seq_len) * std::uint64_t(dh) * ob * std::uint64_t(2 + 2 * nq);
      c.sram_bytes = fp;
      c.key = "flash N=" + std::to_string(seq_len) + " d=" + std::to_string(dh) + " bq=" + std::to_string(bq) +
              " bk=" + std::to_string(bk);
      c.time = [&hw, p, seq_len, dh, nq] {
        return time_extrapolated(hw, nq, [&](ProgramSink& sink, std::int64_t reps) {
          const OneHead head = one_head(hw, seq_len, dh);
          Emitter em(sink, head.tensors);
          FlashEmitter e(hw, p, dh, 0, /*use_accumulators=*/true);
          e.emit_head(em, head.blocks, seq_len, false, 1.f / std::sqrt(float(dh)), std::min(seq_len, reps * p.bq));
        });
      };
      plans->push_back(p);
      mc->push_back(std::move(c));
    }
}

// The message when not even the smallest flash tiles fit.
[[noreturn]] void throw_flash_does_not_fit(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh,
                                           std::uint64_t capacity, const std::string& what, const MapperOptions& opt,
                                           const OpMapping* f) {
  const std::int64_t t = std::min(attention_tile_candidates(hw, std::int64_t(1) << 20).front(), seq_len);
  if (f && f->tile_of("m") && f->tile_of("p"))
    throw UserError(opt.fixed->where(what, "tile") + ": flash tiles of " + std::to_string(f->tile_of("m")) +
                    " query and " + std::to_string(f->tile_of("p")) + " key rows need " +
                    std::to_string(flash_footprint(hw, f->tile_of("m"), f->tile_of("p"), dh)) +
                    " B of SRAM (double-buffered), more than the " + std::to_string(capacity) + " B available");
  std::ostringstream msg;
  if (f) msg << opt.fixed->where(what, "tile") << ": the fixed tiles do not fit; ";
  msg << hw.source << ": /sram: " << what << ": flash attention's smallest tiles (Q " << t << "x" << dh << ", K and V "
      << t << "x" << dh << ", scores " << t << "x" << t << ", double-buffered) need "
      << flash_footprint(hw, t, t, dh) << " B, more than the " << capacity << " B of SRAM available";
  throw UserError(msg.str());
}

  // Row-fused candidates: query blocks of br rows with their whole score rows on chip, br a
  // multiple of the array side (or N), double-buffered scores when they fit. Estimate per head:
  //   ceil(N / br) max(array: S and P V of a block, softmax unit: its rows, DRAM: K and V once per
  //   block) + exposed first Q and last O transfers; timed on one and two blocks, extrapolated.
void row_fused_candidates(const HwConfig& hw, std::int64_t n, std::int64_t dh, std::uint64_t capacity,
                          const OpMapping* f, std::vector<RowFusedPlan>* rplans, std::vector<MapCandidate>* mc) {
  {
    const std::int64_t g = std::max(hw.array.rows, hw.array.cols), bk = std::min(n, g);
    std::vector<std::int64_t> brs;
    if (f && f->tile_of("m"))
      brs.push_back(f->tile_of("m"));
    else
      for (std::int64_t t : attention_tile_candidates(hw, n)) brs.push_back(std::min(t, n));
    brs.push_back(n);
    std::sort(brs.begin(), brs.end());
    brs.erase(std::unique(brs.begin(), brs.end()), brs.end());
    const std::uint64_t ob = hw.array.operand_bytes;
    const double bw = hw.dram.peak_bytes_per_cycle;
    const double latency = hw.dram.model == DramModel::Ideal ? double(hw.dram.latency_cycles) : 50.0;
    for (std::int64_t br : brs) {
      RowFusedPlan p;
      p.br = br, p.bk = bk;
      p.score_buffers = row_fused_footprint(hw, br, bk, n, dh, 2) <= capacity ? 2 : 1;
      p.footprint = row_fused_footprint(hw, br, bk, n, dh, p.score_buffers);
      if (p.footprint > capacity) continue;
      // Dominated once re-reading K and V moves more than spilling the scores (plan_row_fused).
      if (row_fused_bytes_per_head(hw, n, dh, br) > spilled_bytes_per_head(hw, n, dh)) continue;
      const std::int64_t nb = ceil_div(n, br), nk = ceil_div(n, bk);
      const double array = double(nk * (array_cycles(hw, br, dh, bk) + array_cycles(hw, br, bk, dh)));
      const double sm = double(softmax_cycles_of(hw, SmOp::Rows, br, n));
      const double mem = double(2 * n * dh * ob) / bw;
      MapCandidate c;
      c.analytic_cycles = double(nb) * (p.score_buffers == 2 ? std::max({array, sm, mem}) : array + sm) +
                          2 * (double(br * dh * ob) / bw + latency);
      c.dram_bytes = row_fused_bytes_per_head(hw, n, dh, br);
      c.sram_bytes = p.footprint;
      c.key = "row_fused N=" + std::to_string(n) + " d=" + std::to_string(dh) + " br=" + std::to_string(br) +
              " buffers=" + std::to_string(p.score_buffers);
      c.time = [&hw, p, n, dh, nb] {
        return time_extrapolated(hw, nb, [&](ProgramSink& sink, std::int64_t reps) {
          const OneHead head = one_head(hw, n, dh);
          Emitter em(sink, head.tensors);
          RowFusedEmitter e(hw, p, n, dh, 0, /*use_accumulators=*/true);
          e.emit_head(em, head.blocks, false, 1.f / std::sqrt(float(dh)), reps * p.br);
        });
      };
      rplans->push_back(p);
      mc->push_back(std::move(c));
    }
  }
}

}  // namespace

FlashPlan plan_flash(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh, std::uint64_t capacity,
                     const std::string& what, const MapperOptions& opt) {
  const OpMapping* f = fixed_attention(opt.fixed, what, "flash", seq_len);
  std::vector<FlashPlan> plans;
  std::vector<MapCandidate> mc;
  flash_candidates(hw, seq_len, dh, capacity, f, &plans, &mc);
  if (plans.empty()) throw_flash_does_not_fit(hw, seq_len, dh, capacity, what, opt, f);
  return plans[pick_mapping(mc, capacity, opt)];
}

std::vector<FlashPlan> flash_plan_candidates(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh,
                                             std::uint64_t capacity) {
  std::vector<FlashPlan> plans;
  std::vector<MapCandidate> mc;
  flash_candidates(hw, seq_len, dh, capacity, nullptr, &plans, &mc);
  return plans;
}

std::vector<RowFusedPlan> row_fused_plan_candidates(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh,
                                                    std::uint64_t capacity) {
  std::vector<RowFusedPlan> plans;
  std::vector<MapCandidate> mc;
  row_fused_candidates(hw, seq_len, dh, capacity, nullptr, &plans, &mc);
  return plans;
}

FlashSchedule choose_flash_schedule(const HwConfig& hw, std::int64_t n, std::int64_t dh, std::uint64_t capacity,
                                    const std::string& what, const MapperOptions& opt) {
  const OpMapping* f = fixed_attention(opt.fixed, what, "flash", n, "row_fused");
  std::vector<FlashPlan> plans;
  std::vector<MapCandidate> mc;
  if (!f || f->kind == "flash") flash_candidates(hw, n, dh, capacity, f, &plans, &mc);
  const std::size_t n_flash = plans.size();
  std::vector<RowFusedPlan> rplans;
  if (!f || f->kind == "row_fused") row_fused_candidates(hw, n, dh, capacity, f, &rplans, &mc);
  if (mc.empty()) {
    if (f && f->kind == "row_fused")
      throw UserError(opt.fixed->where(what, "tile/m") + ": a row-fused query block of " +
                      std::to_string(f->tile_of("m")) + " rows with its whole score rows does not fit in the " +
                      std::to_string(capacity) + " B of SRAM, or re-reads K and V more than spilling the scores would");
    throw_flash_does_not_fit(hw, n, dh, capacity, what, opt, f);
  }
  const std::size_t pick = pick_mapping(mc, capacity, opt);
  FlashSchedule s;
  if (pick < n_flash) {
    s.flash = plans[pick];
  } else {
    s.row_fused = true;
    s.rows = rplans[pick - n_flash];
  }
  return s;
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
                            const std::string& what, bool whole_only, const ModelMapping* fixed) {
  if (const OpMapping* f = fixed_attention(fixed, what, "row_fused", n); f && f->tile_of("m")) {
    const std::int64_t g = std::max(hw.array.rows, hw.array.cols);
    RowFusedPlan p;
    p.bk = std::min(n, g);
    p.br = f->tile_of("m");
    p.score_buffers = row_fused_footprint(hw, p.br, p.bk, n, dh, 2) <= capacity ? 2 : 1;
    p.footprint = row_fused_footprint(hw, p.br, p.bk, n, dh, p.score_buffers);
    if (p.footprint > capacity)
      throw UserError(fixed->where(what, "tile/m") + ": a row-fused query block of " + std::to_string(p.br) +
                      " rows with its full score rows needs " + std::to_string(p.footprint) + " B of SRAM, more than the " +
                      std::to_string(capacity) + " B available");
    return p;
  }
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

void RowFusedEmitter::emit_head(Emitter& em, const HeadBlocks& h, bool causal, float scale, std::int64_t q_len) {
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

}  // namespace attnsim
