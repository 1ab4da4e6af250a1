#include "compiler/lowrank_lowering.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>

#include "common/errors.h"
#include "compiler/attention_lowering.h"
#include "compiler/lowrank_cascades.h"

namespace attnsim {

namespace {

DramBlock whole_rows(int tensor, std::int64_t row0, std::int64_t col0, std::int64_t rows, std::int64_t cols) {
  return {std::uint16_t(tensor), row0, col0, rows, cols};
}

// Token tile sizes: multiples of the array side (powers of two times it) and, for SRAMs too small
// for those, halvings down to 16. The largest whose buffers take at most half the SRAM wins,
// capped at 2048 rows: bigger tiles amortise per-instruction latencies, and N never enters.
std::int64_t choose_bt(const HwConfig& hw, std::uint64_t capacity,
                       const std::function<std::uint64_t(std::int64_t)>& footprint) {
  const std::int64_t g = std::max(hw.array.rows, hw.array.cols);
  std::vector<std::int64_t> c;
  for (std::int64_t t = 16; t < g; t *= 2) c.push_back(t);
  for (std::int64_t t = g; t <= 2048; t *= 2) c.push_back(t);
  std::int64_t best = 0;
  for (std::int64_t t : c)
    if (footprint(t) <= capacity / 2) best = t;
  if (!best && footprint(c.front()) <= capacity) best = c.front();
  return best;
}

[[noreturn]] void does_not_fit(const HwConfig& hw, const std::string& name, const std::string& what,
                               std::uint64_t need, std::uint64_t capacity) {
  std::ostringstream msg;
  msg << hw.source << ": /sram: " << name << ": " << what << " needs " << need << " B, more than the " << capacity
      << " B of SRAM available";
  throw UserError(msg.str());
}

// A double buffer's two SRAM addresses, fixed when its phase is planned.
struct DoubleBuf {
  std::uint64_t at[2] = {0, 0};
};

// A double buffer during one program generation: its two addresses and the last reader of each
// slot. Emitters construct them per generation, so each generation starts with no readers.
struct Slots {
  explicit Slots(const DoubleBuf& b) : at{b.at[0], b.at[1]} {}
  std::uint64_t at[2];
  std::uint32_t reader[2] = {kNoInstr, kNoInstr};
};

// One double buffer of a phase: where its addresses go, its name (the slots are declared as name0
// and name1; an empty name lays the buffer out without declaring it), the bytes of one slot and its
// class.
struct DoubleBufSpec {
  DoubleBuf& buf;
  std::string name;
  std::uint64_t bytes;
  BufClass cls;
};

// Takes slot 0 of every spec from al, then slot 1 of every spec (the layout X0 Y0 .. X1 Y1 ..), and
// declares each slot in `buffers` (phase index 0, filled in by the caller).
void take_double_bufs(SramAllocator& al, std::vector<BufferInfo>& buffers, std::initializer_list<DoubleBufSpec> specs) {
  for (int i = 0; i < 2; ++i)
    for (const DoubleBufSpec& s : specs) {
      s.buf.at[i] = al.take(s.bytes);
      if (!s.name.empty()) buffers.push_back({s.name + std::to_string(i), {s.buf.at[i], s.bytes}, s.cls, 0});
    }
}

// Nystromformer's global phase (graph.h has the math), per head:
//   landmarks: Q and K token tiles streamed; each landmark's segment (rows [floor(i N / l),
//     floor((i + 1) N / l))) is summed into its row of Q~, K~ (l x d, fp32) by ColMeanAcc (imm = 1 /
//     the segment length), a segment straddling two tiles accumulating over both; Q~, K~ converted to
//     operands and stored (Qland, Kland).
//   A = softmax(scale Q~ K~^T) (l x l); Z0 = A^T / max_j sum_i A_ij: the column sums (ColMeanAcc,
//     imm = 1), their max (RowMax), A^T = I A^T on the array (b transposed), DivScalar. The paper's
//     Z0 also divides by max_i sum_j A_ij, the largest row sum, which is 1 for a row softmax: omitted.
//   6 iterations Z <- 0.25 Z (13 I - AZ (15 I - AZ (7 I - AZ))), AZ = A Z: 4 GEMMs of l^3 each.
//   BARRIER (Q~ is in DRAM), BV = softmax(scale Q~ K^T) V by the flash kernel on the l landmark queries
//     against the head's streamed K/V tiles (its own buffers, after ours), stored; BARRIER.
//   W = Z BV (l x d), stored (Wland) for the stream phase, which is linformer's with K~ and W.
// Every buffer is sized by the token tile, d and l; the flash kernel's by its tiles and d.
LowRankPhase nystromformer_global(const HwConfig& hw, const AttentionGroup& grp, const std::string& name,
                                  std::uint64_t capacity) {
  const std::uint64_t ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
  const std::int64_t d = grp.head_dim, l = grp.rank, n = grp.seq_len;
  auto a64 = [](std::uint64_t b) { return align_up(b, 64); };
  // ident, A, Z, AZop, X (l x l operands); SA, Zacc, AZ, T (l x l fp32); Q~, K~ (fp32 and operands);
  // colsum, colmax; BV, W.
  const std::uint64_t fixed = 5 * a64(l * l * ob) + 4 * a64(l * l * acc) + 2 * a64(l * d * acc) + 2 * a64(l * d * ob) +
                              a64(l * acc) + 64 + a64(l * d * ob) + a64(l * d * acc);
  auto fp = [&](std::int64_t t) { return fixed + 4 * a64(std::uint64_t(t * d) * ob); };
  const std::int64_t bt = choose_bt(hw, capacity, fp);
  if (!bt)
    does_not_fit(hw, name, "nystromformer's landmark buffers (l = " + std::to_string(l) + ") with 16-row Q/K tiles",
                 fp(16), capacity);
  const std::int64_t ta = std::min(bt, n);
  LowRankPhase ph;
  ph.name = name + ".global";
  ph.cls = OpClass::Global;
  SramAllocator al(0);
  const std::uint64_t ident = al.take(l * l * ob), qm = al.take(l * d * acc), km = al.take(l * d * acc),
                      qmo = al.take(l * d * ob), kmo = al.take(l * d * ob), sa = al.take(l * l * acc),
                      at = al.take(l * l * ob), colsum = al.take(l * acc), cmax = al.take(64),
                      zacc = al.take(l * l * acc), z = al.take(l * l * ob), az = al.take(l * l * acc),
                      azo = al.take(l * l * ob), x = al.take(l * l * ob), t = al.take(l * l * acc),
                      bvb = al.take(l * d * ob), wacc = al.take(l * d * acc);
  auto buf = [&](const char* nm, std::uint64_t at_, std::uint64_t bytes, BufClass c) {
    ph.buffers.push_back({nm, {at_, bytes}, c, 0});
  };
  buf("ident", ident, l * l * ob, BufClass::Weight);
  buf("Qland_acc", qm, l * d * acc, BufClass::Query);
  buf("Kland_acc", km, l * d * acc, BufClass::Key);
  buf("Qland", qmo, l * d * ob, BufClass::Query);
  buf("Kland", kmo, l * d * ob, BufClass::Key);
  buf("SA", sa, l * l * acc, BufClass::Score);
  buf("A", at, l * l * ob, BufClass::Score);
  buf("colsum", colsum, l * acc, BufClass::Stats);
  buf("colmax", cmax, acc, BufClass::Stats);
  buf("Zacc", zacc, l * l * acc, BufClass::Score);
  buf("Z", z, l * l * ob, BufClass::Score);
  buf("AZ", az, l * l * acc, BufClass::Score);
  buf("AZop", azo, l * l * ob, BufClass::Score);
  buf("X", x, l * l * ob, BufClass::Score);
  buf("T", t, l * l * acc, BufClass::Score);
  buf("BV", bvb, l * d * ob, BufClass::Value);
  buf("W", wacc, l * d * acc, BufClass::Output);
  DoubleBuf qbuf, kbuf;
  take_double_bufs(al, ph.buffers,
                   {{qbuf, "Q", std::uint64_t(ta * d) * ob, BufClass::Query},
                    {kbuf, "K", std::uint64_t(ta * d) * ob, BufClass::Key}});
  // The landmark kernel's tiles are planned once, analytically, for a long sequence and clamped to
  // N, so its buffers do not depend on N: the low-rank variants keep on-chip memory O(1) in N.
  MapperOptions analytic;
  analytic.effort = MapperEffort::Fast;
  constexpr std::int64_t kLandmarkPlanLen = 65536;
  FlashPlan fplan = plan_flash(hw, kLandmarkPlanLen, d, capacity > al.used() ? capacity - al.used() : 0,
                               name + " (landmark BV)", analytic);
  fplan.bq = std::min(fplan.bq, l);  // l landmark queries
  fplan.bk = std::min(fplan.bk, n);
  const std::uint64_t flash_base = al.used();
  {
    const FlashEmitter probe(hw, fplan, d, flash_base);
    for (BufferInfo& b : probe.buffers(0)) {
      b.name = "flash." + b.name;
      ph.buffers.push_back(b);
    }
  }
  ph.plan = "nystromformer global: " + std::to_string(l) + " landmarks from Q/K token tiles of " + std::to_string(ta) +
            " rows, A = softmax(Q~ K~^T) and its 6-iteration pseudo-inverse (" + std::to_string(l) + "x" +
            std::to_string(l) + "), BV by flash (Q~ tiles of " + std::to_string(fplan.bq) + ", K/V tiles of " +
            std::to_string(fplan.bk) + "), W = A+ BV per head";
  const HwConfig* hwp = &hw;
  const AttentionGroup* gp = &grp;
  ph.emit = [hwp, gp, ta, fplan, flash_base, ident, qm, km, qmo, kmo, sa, at, colsum, cmax, zacc, z, az, azo, x, t,
             bvb, wacc, qbuf, kbuf](Emitter& em) {
    const HwConfig& hw = *hwp;
    const AttentionGroup& g = *gp;
    const int ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
    const std::int64_t d = g.head_dim, l = g.rank, n = g.seq_len;
    FlashEmitter flash(hw, fplan, d, flash_base);
    Slots qt(qbuf), kt(kbuf);
    auto seg0 = [&](std::int64_t i) { return i * n / l; };
    const SramTile it = tile_at(ident, l, l, ob), qmt = tile_at(qm, l, d, acc), kmt = tile_at(km, l, d, acc),
                   qmot = tile_at(qmo, l, d, ob), kmot = tile_at(kmo, l, d, ob), sat = tile_at(sa, l, l, acc),
                   att = tile_at(at, l, l, ob), cst = tile_at(colsum, 1, l, acc), cmt = tile_at(cmax, 1, 1, acc),
                   zat = tile_at(zacc, l, l, acc), zt = tile_at(z, l, l, ob), azt = tile_at(az, l, l, acc),
                   azot = tile_at(azo, l, l, ob), xt = tile_at(x, l, l, ob), tt = tile_at(t, l, l, acc),
                   bvt = tile_at(bvb, l, d, ob), wt = tile_at(wacc, l, d, acc);
    em.set_class(OpClass::Global);
    const std::uint32_t il = em.load(whole_rows(g.ident, 0, 0, l, l), it);  // shared by the heads
    // Readers of the buffers used after the head's last barrier (the next head's writers wait for them).
    std::uint32_t z_reader = kNoInstr, bv_reader = kNoInstr, w_reader = kNoInstr;
    int ts = -1;
    for (std::size_t hi = 0; hi < g.heads.size(); ++hi) {
      const AttentionGroup::Head& h = g.heads[hi];
      const std::int64_t row = std::int64_t(hi) * l;
      em.set_class(OpClass::Global);
      // Landmarks: segment sums over the token tiles, chained per buffer (a segment may span tiles).
      std::uint32_t qc = kNoInstr, kc = kNoInstr;
      std::int64_t li = 0;
      for (std::int64_t t0 = 0; t0 < n; t0 += ta) {
        const std::int64_t rows = std::min(ta, n - t0);
        ts = (ts + 1) % 2;
        const std::uint32_t ql =
            em.load(whole_rows(h.q.tensor, h.q.row0 + t0, h.q.col0, rows, d), tile_at(qt.at[ts], rows, d, ob),
                    {qt.reader[ts]});
        const std::uint32_t kl =
            em.load(whole_rows(h.k.tensor, h.k.row0 + t0, h.k.col0, rows, d), tile_at(kt.at[ts], rows, d, ob),
                    {kt.reader[ts]});
        while (li < l && seg0(li + 1) <= t0) ++li;
        for (std::int64_t i = li; i < l && seg0(i) < t0 + rows; ++i) {
          const std::int64_t s0 = seg0(i), s1 = seg0(i + 1);
          const std::int64_t r0 = std::max(s0, t0) - t0, r1 = std::min(s1, t0 + rows) - t0;
          const float inv = float(1.0 / double(s1 - s0));
          const std::uint64_t off = std::uint64_t(r0 * d) * ob;
          qc = em.vector(VecOp::ColMeanAcc, tile_at(qt.at[ts] + off, r1 - r0, d, ob), {},
                         tile_at(qm + std::uint64_t(i * d) * acc, 1, d, acc), {ql, qc}, inv, s0 >= t0);
          kc = em.vector(VecOp::ColMeanAcc, tile_at(kt.at[ts] + off, r1 - r0, d, ob), {},
                         tile_at(km + std::uint64_t(i * d) * acc, 1, d, acc), {kl, kc}, inv, s0 >= t0);
        }
        qt.reader[ts] = qc, kt.reader[ts] = kc;
      }
      const std::uint32_t cq = em.vector(VecOp::Copy, qmt, {}, qmot, {qc});
      const std::uint32_t ck = em.vector(VecOp::Copy, kmt, {}, kmot, {kc});
      em.store(whole_rows(g.land_q, row, 0, l, d), qmot, {cq});
      em.store(whole_rows(g.e_weights, row, 0, l, d), kmot, {ck});
      // A = softmax(scale Q~ K~^T); Z0 = A^T / max_j sum_i A_ij.
      const std::uint32_t ga = em.gemm(qmot, kmot, sat, false, true, {cq, ck});
      const std::uint32_t sm = em.softmax(SmOp::Rows, sat, {}, att, {ga}, g.scale);
      const std::uint32_t cs = em.vector(VecOp::ColMeanAcc, att, {}, cst, {sm}, 1.f, true);
      const std::uint32_t cm = em.vector(VecOp::RowMax, cst, {}, cmt, {cs});
      const std::uint32_t tr = em.gemm(it, att, zat, false, true, {il, sm});
      std::uint32_t zl = em.vector(VecOp::DivScalar, zat, cmt, zt, {tr, cm, z_reader});
      // Z <- 0.25 Z (13 I - AZ (15 I - AZ (7 I - AZ))), AZ = A Z.
      for (int it6 = 0; it6 < 6; ++it6) {
        const std::uint32_t g1 = em.gemm(att, zt, azt, false, false, {zl, sm});
        const std::uint32_t c1 = em.vector(VecOp::Copy, azt, {}, azot, {g1});
        const std::uint32_t x1 = em.vector(VecOp::IdentMinus, azt, {}, xt, {g1}, 7.f);
        const std::uint32_t g2 = em.gemm(azot, xt, tt, false, false, {c1, x1});
        const std::uint32_t x2 = em.vector(VecOp::IdentMinus, tt, {}, xt, {g2}, 15.f);
        const std::uint32_t g3 = em.gemm(azot, xt, tt, false, false, {x2});
        const std::uint32_t x3 = em.vector(VecOp::IdentMinus, tt, {}, xt, {g3}, 13.f);
        const std::uint32_t g4 = em.gemm(zt, xt, zat, false, false, {x3, zl});
        zl = em.vector(VecOp::Scale, zat, {}, zt, {g4}, 0.25f);
      }
      // BV = softmax(scale Q~ K^T) V on the flash kernel: Q~ must be in DRAM first.
      em.barrier();
      HeadBlocks hb;
      hb.q = whole_rows(g.land_q, row, 0, l, d);
      hb.k = {std::uint16_t(h.k.tensor), h.k.row0, h.k.col0, n, d};
      hb.v = {std::uint16_t(h.v.tensor), h.v.row0, h.v.col0, n, d};
      hb.o = whole_rows(g.bv, row, 0, l, d);
      flash.emit_head(em, hb, n, false, g.scale, l);
      em.barrier();
      // W = Z BV.
      em.set_class(OpClass::Global);
      const std::uint32_t bl = em.load(whole_rows(g.bv, row, 0, l, d), bvt, {bv_reader});
      const std::uint32_t wg = em.gemm(zt, bvt, wt, false, false, {bl, zl, w_reader});
      w_reader = em.store(whole_rows(g.r_weights, row, 0, l, d), wt, {wg});
      z_reader = wg, bv_reader = wg;
    }
  };
  return ph;
}

}  // namespace

std::vector<LowRankPhase> lower_lowrank_group(const HwConfig& hw, const Graph& graph, const AttentionGroup& grp,
                                              const std::string& name) {
  const std::uint64_t capacity = std::uint64_t(hw.sram.total_bytes());
  const std::uint64_t ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
  const std::int64_t d = grp.head_dim, s = grp.rank, n = grp.seq_len;
  const std::int64_t heads = std::int64_t(grp.heads.size());
  // Heads per batch: the layer's head count (the group holds batch * heads, batch-major).
  std::int64_t hpb = heads;
  for (std::int64_t i = 1; i < heads; ++i)
    if (grp.heads[std::size_t(i)].q.row0 != grp.heads[0].q.row0) {
      hpb = i;
      break;
    }
  const HwConfig* hwp = &hw;
  const AttentionGroup* gp = &grp;
  std::vector<LowRankPhase> phases;

  // Primal, primal-causal and low-rank linear are their cascades (models/cascades/*.json).
  if (lowered_as_cascade(grp.spec.variant)) return lower_lowrank_cascade(hw, graph, grp, name, hpb);

  if (grp.spec.variant == AttnVariant::Linformer || grp.spec.variant == AttnVariant::Nystromformer) {
    // nystromformer: its own global phase (landmarks, A+, W = A+ BV), then linformer's stream phase
    // with K~ = the key landmarks and W in place of V~.
    const bool nys = grp.spec.variant == AttnVariant::Nystromformer;
    const std::string vname = nys ? "nystromformer" : "linformer";
    const std::int64_t k = s;  // the projected length
    auto a64 = [](std::uint64_t b) { return align_up(b, 64); };
    // Global phase: K~ = E K, V~ = F V. Token tiles outer and a chunk of heads inner, so that each
    // tile of E and F (shared by the heads) is loaded once per chunk; the chunk is as many heads as
    // have room for their K~ and V~ accumulators.
    auto fp_stream = [&](std::int64_t t) {
      return 2 * 2 * a64(std::uint64_t(k * t) * ob) + 2 * 2 * a64(std::uint64_t(t * d) * ob);
    };
    const std::uint64_t acc_pair = 2 * a64(std::uint64_t(k * d) * acc);
    const std::int64_t bta = choose_bt(hw, capacity > acc_pair ? capacity - acc_pair : 0, fp_stream);
    if (!bta && !nys) does_not_fit(hw, name, "linformer's projection tiles (E, F 16 columns, one head's K~ and V~)",
                           fp_stream(16) + acc_pair, capacity);
    const std::int64_t ta = std::min(bta, n);
    const std::int64_t chunk =
        std::max<std::int64_t>(1, std::min<std::int64_t>(hpb, std::int64_t((capacity - fp_stream(ta)) / acc_pair)));
    if (nys) {
      phases.push_back(nystromformer_global(hw, grp, name, capacity));
    } else {
      LowRankPhase ph;
      ph.name = name + ".global";
      ph.cls = OpClass::Global;
      ph.plan = "linformer global reductions: K~ = E K, V~ = F V (" + std::to_string(k) + "x" + std::to_string(d) +
                ") over all N, token tiles of " + std::to_string(ta) + " rows, " + std::to_string(chunk) +
                " head(s) per pass over E and F";
      SramAllocator al(0);
      DoubleBuf ebuf, fbuf, kbbuf, vbbuf;
      take_double_bufs(al, ph.buffers,
                       {{ebuf, "E", std::uint64_t(k * ta) * ob, BufClass::Weight},
                        {fbuf, "F", std::uint64_t(k * ta) * ob, BufClass::Weight},
                        {kbbuf, "K", std::uint64_t(ta * d) * ob, BufClass::Key},
                        {vbbuf, "V", std::uint64_t(ta * d) * ob, BufClass::Value}});
      std::vector<std::uint64_t> kacc, vacc;
      for (std::int64_t j = 0; j < chunk; ++j) {
        kacc.push_back(al.take(k * d * acc)), vacc.push_back(al.take(k * d * acc));
        ph.buffers.push_back({"Kproj" + std::to_string(j), {kacc.back(), std::uint64_t(k * d) * acc}, BufClass::Key, 0});
        ph.buffers.push_back({"Vproj" + std::to_string(j), {vacc.back(), std::uint64_t(k * d) * acc}, BufClass::Value, 0});
      }
      ph.emit = [hwp, gp, ta, chunk, ebuf, fbuf, kbbuf, vbbuf, kacc, vacc](Emitter& em) {
        Slots e(ebuf), f(fbuf), kb(kbbuf), vb(vbbuf);
        const HwConfig& hw = *hwp;
        const AttentionGroup& g = *gp;
        const int ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
        const std::int64_t d = g.head_dim, k = g.rank, n = g.seq_len, heads = std::int64_t(g.heads.size());
        std::vector<std::uint32_t> acc_reader(std::size_t(chunk), kNoInstr);
        int es = -1, ks = -1;
        for (std::int64_t h0 = 0; h0 < heads; h0 += chunk) {
          const std::int64_t hc = std::min(chunk, heads - h0);
          std::vector<std::uint32_t> last_k(std::size_t(hc), kNoInstr), last_v(std::size_t(hc), kNoInstr);
          for (std::int64_t t0 = 0; t0 < n; t0 += ta) {
            const std::int64_t bt = std::min(ta, n - t0);
            es = (es + 1) % 2;
            const SramTile et = tile_at(e.at[es], k, bt, ob), ft = tile_at(f.at[es], k, bt, ob);
            const std::uint32_t el = em.load(whole_rows(g.w_e, 0, t0, k, bt), et, {e.reader[es]});
            const std::uint32_t fl = em.load(whole_rows(g.w_r, 0, t0, k, bt), ft, {f.reader[es]});
            for (std::int64_t j = 0; j < hc; ++j) {
              const AttentionGroup::Head& h = g.heads[std::size_t(h0 + j)];
              ks = (ks + 1) % 2;
              const SramTile kt = tile_at(kb.at[ks], bt, d, ob), vt = tile_at(vb.at[ks], bt, d, ob);
              const std::uint32_t kl = em.load(whole_rows(h.k.tensor, h.k.row0 + t0, h.k.col0, bt, d), kt, {kb.reader[ks]});
              const std::uint32_t vl = em.load(whole_rows(h.v.tensor, h.v.row0 + t0, h.v.col0, bt, d), vt, {vb.reader[ks]});
              const std::uint32_t first_dep = t0 == 0 ? acc_reader[std::size_t(j)] : kNoInstr;
              last_k[std::size_t(j)] = em.gemm(et, kt, tile_at(kacc[std::size_t(j)], k, d, acc), t0 > 0, false,
                                               {el, kl, first_dep});
              last_v[std::size_t(j)] = em.gemm(ft, vt, tile_at(vacc[std::size_t(j)], k, d, acc), t0 > 0, false,
                                               {fl, vl, first_dep});
              kb.reader[ks] = last_k[std::size_t(j)];
              vb.reader[ks] = last_v[std::size_t(j)];
              e.reader[es] = last_k[std::size_t(j)];
              f.reader[es] = last_v[std::size_t(j)];
            }
          }
          for (std::int64_t j = 0; j < hc; ++j) {
            const std::int64_t row = (h0 + j) * k;
            em.store(whole_rows(g.e_weights, row, 0, k, d), tile_at(kacc[std::size_t(j)], k, d, acc),
                     {last_k[std::size_t(j)]});
            acc_reader[std::size_t(j)] = em.store(whole_rows(g.r_weights, row, 0, k, d),
                                                  tile_at(vacc[std::size_t(j)], k, d, acc), {last_v[std::size_t(j)]});
          }
        }
      };
      phases.push_back(std::move(ph));
    }
    // Stream phase: per head K~, V~ on chip; per Q tile S = Q K~^T, row softmax over k, O = P V~.
    auto fp_b = [&](std::int64_t t) {
      return 2 * (2 * a64(std::uint64_t(k * d) * ob) + a64(std::uint64_t(t * d) * ob) + a64(std::uint64_t(t * k) * acc) +
                  a64(std::uint64_t(t * k) * ob) + a64(std::uint64_t(t * d) * acc));
    };
    const std::int64_t btb = choose_bt(hw, capacity, fp_b);
    if (!btb)
      does_not_fit(hw, name, vname + "'s score tile (16 x " + std::to_string(k) + ") with K~ and " + (nys ? "W" : "V~"),
                   fp_b(16), capacity);
    const std::int64_t tb = std::min(btb, n);
    LowRankPhase ph;
    ph.name = name;
    ph.cls = OpClass::QK;
    ph.plan = vname + ": token tiles of " + std::to_string(tb) + " rows against K~, " + (nys ? "W" : "V~") + " of " +
              std::to_string(k) + " rows, row softmax over " + (nys ? "l" : "k");
    SramAllocator al(0);
    DoubleBuf ktbuf, vtbuf, qbuf, scbuf, prbuf, obuf;
    take_double_bufs(al, ph.buffers,
                     {{ktbuf, nys ? "Kland" : "Kproj", std::uint64_t(k * d) * ob, BufClass::Key},
                      {vtbuf, nys ? "W" : "Vproj", std::uint64_t(k * d) * ob, BufClass::Value},
                      {qbuf, "Q", std::uint64_t(tb * d) * ob, BufClass::Query},
                      {scbuf, "S", std::uint64_t(tb * k) * acc, BufClass::Score},
                      {prbuf, "P", std::uint64_t(tb * k) * ob, BufClass::Score},
                      {obuf, "O", std::uint64_t(tb * d) * acc, BufClass::Output}});
    ph.emit = [hwp, gp, tb, ktbuf, vtbuf, qbuf, scbuf, prbuf, obuf](Emitter& em) {
      Slots kt(ktbuf), vt(vtbuf), q(qbuf), sc(scbuf), pr(prbuf), o(obuf);
      const HwConfig& hw = *hwp;
      const AttentionGroup& g = *gp;
      const int ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
      const std::int64_t d = g.head_dim, k = g.rank, n = g.seq_len;
      int hs = -1, ts = -1;
      for (std::size_t i = 0; i < g.heads.size(); ++i) {
        const AttentionGroup::Head& h = g.heads[i];
        hs = (hs + 1) % 2;
        const SramTile ktt = tile_at(kt.at[hs], k, d, ob), vtt = tile_at(vt.at[hs], k, d, ob);
        em.set_class(OpClass::QK);
        const std::uint32_t kl = em.load(whole_rows(g.e_weights, std::int64_t(i) * k, 0, k, d), ktt, {kt.reader[hs]});
        em.set_class(OpClass::PV);
        const std::uint32_t vl = em.load(whole_rows(g.r_weights, std::int64_t(i) * k, 0, k, d), vtt, {vt.reader[hs]});
        std::uint32_t last_s = kNoInstr, last_o = kNoInstr;
        for (std::int64_t t0 = 0; t0 < n; t0 += tb) {
          const std::int64_t bt = std::min(tb, n - t0);
          ts = (ts + 1) % 2;
          const SramTile qt = tile_at(q.at[ts], bt, d, ob), st = tile_at(sc.at[ts], bt, k, acc),
                         pt = tile_at(pr.at[ts], bt, k, ob), ot = tile_at(o.at[ts], bt, d, acc);
          em.set_class(OpClass::QK);
          const std::uint32_t ql = em.load(whole_rows(h.q.tensor, h.q.row0 + t0, h.q.col0, bt, d), qt, {q.reader[ts]});
          last_s = em.gemm(qt, ktt, st, false, true, {ql, kl, sc.reader[ts]});
          q.reader[ts] = last_s;
          em.set_class(OpClass::Softmax);
          const std::uint32_t sm = em.softmax(SmOp::Rows, st, {}, pt, {last_s, pr.reader[ts]}, g.scale);
          sc.reader[ts] = sm;
          em.set_class(OpClass::PV);
          last_o = em.gemm(pt, vtt, ot, false, false, {sm, vl, o.reader[ts]});
          pr.reader[ts] = last_o;
          o.reader[ts] = em.store(whole_rows(h.o.tensor, h.o.row0 + t0, h.o.col0, bt, d), ot, {last_o});
        }
        kt.reader[hs] = last_s;
        vt.reader[hs] = last_o;
      }
    };
    phases.push_back(std::move(ph));
    return phases;
  }
  if (grp.spec.variant == AttnVariant::Performer) {
    // FAVOR+ (graph.h has the math), two phases around the reductions over all N, like lowrank_linear.
    //   global:  W^T on chip once; per head, per K/V tile: KwT = W^T K_t^T (m x bt, fp32), KfT =
    //            FavorCols(KwT, K_t) (operands), M += KfT V_t (m x d), z += KfT 1_t (m x 1); M, z stored.
    //   stream:  W on chip once; per head M, z loaded; per Q tile: Qw = Q_t W (bt x m, fp32), Qf =
    //            FavorRows(Qw, Q_t) (operands), num = Qf M (bt x d), den = Qf z (bt x 1),
    //            num = DivCol(num, den) in place, stored as O.
    // Every buffer is sized by the tile, d and m: nothing grows with N.
    const std::int64_t m = s;  // the random features
    const float imm = float(std::pow(double(d), -0.25));
    auto a64 = [](std::uint64_t b) { return align_up(b, 64); };
    auto fp_a = [&](std::int64_t t) {  // WfeatT; per slot K, V, ones, KwT, KfT, M, z
      return a64(m * d * ob) + 2 * (2 * a64(t * d * ob) + a64(t * ob) + a64(m * t * acc) + a64(m * t * ob) +
                                    a64(m * d * acc) + a64(m * acc));
    };
    auto fp_b = [&](std::int64_t t) {  // Wfeat; per slot M, z, Q, Qw, Qf, num (= O), den
      return a64(d * m * ob) + 2 * (a64(m * d * ob) + a64(m * ob) + a64(t * d * ob) + a64(t * m * acc) +
                                    a64(t * m * ob) + a64(t * d * acc) + a64(t * acc));
    };
    const std::int64_t bta = choose_bt(hw, capacity, fp_a), btb = choose_bt(hw, capacity, fp_b);
    if (!bta)
      does_not_fit(hw, name, "performer's smallest K/V tile (16 rows) with W^T (" + std::to_string(m) + "x" +
                                 std::to_string(d) + ") and one head's M and z", fp_a(16), capacity);
    if (!btb)
      does_not_fit(hw, name, "performer's smallest query tile (16 rows) with W (" + std::to_string(d) + "x" +
                                 std::to_string(m) + ") and one head's M and z", fp_b(16), capacity);
    const std::int64_t ta = std::min(bta, n), tb = std::min(btb, n);
    {
      LowRankPhase ph;
      ph.name = name + ".global";
      ph.cls = OpClass::Global;
      ph.plan = "performer global reductions: M = Kf^T V (" + std::to_string(m) + "x" + std::to_string(d) +
                "), z = Kf^T 1 over all N per head, K/V tiles of " + std::to_string(ta) + " rows, " +
                std::to_string(m) + " random features";
      SramAllocator al(0);
      const std::uint64_t wt = al.take(m * d * ob);
      ph.buffers.push_back({"WfeatT", {wt, std::uint64_t(m * d) * ob}, BufClass::Weight, 0});
      DoubleBuf kbuf, vbuf, onebuf, kwbuf, kfbuf, mzbuf, zzbuf;
      take_double_bufs(al, ph.buffers,
                       {{kbuf, "K", std::uint64_t(ta * d) * ob, BufClass::Key},
                        {vbuf, "V", std::uint64_t(ta * d) * ob, BufClass::Value},
                        {onebuf, "ones", std::uint64_t(ta) * ob, BufClass::Weight},
                        {kwbuf, "KwT", std::uint64_t(m * ta) * acc, BufClass::Score},
                        {kfbuf, "KfT", std::uint64_t(m * ta) * ob, BufClass::Score},
                        {mzbuf, "M", std::uint64_t(m * d) * acc, BufClass::Output},
                        {zzbuf, "z", std::uint64_t(m) * acc, BufClass::Output}});
      ph.emit = [hwp, gp, ta, imm, wt, kbuf, vbuf, onebuf, kwbuf, kfbuf, mzbuf, zzbuf](Emitter& em) {
        Slots k(kbuf), v(vbuf), one(onebuf), kw(kwbuf), kf(kfbuf), mz(mzbuf), zz(zzbuf);
        const HwConfig& hw = *hwp;
        const AttentionGroup& g = *gp;
        const int ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
        const std::int64_t d = g.head_dim, m = g.rank, n = g.seq_len;
        const SramTile wtt = tile_at(wt, m, d, ob);
        const std::uint32_t wl = em.load(whole_rows(g.w_feat_t, 0, 0, m, d), wtt);  // shared by the heads
        int hs = -1, ts = -1;
        for (std::size_t i = 0; i < g.heads.size(); ++i) {
          const AttentionGroup::Head& h = g.heads[i];
          hs = (hs + 1) % 2;
          const SramTile mt = tile_at(mz.at[hs], m, d, acc), zt = tile_at(zz.at[hs], m, 1, acc);
          std::uint32_t last_m = kNoInstr, last_z = kNoInstr;
          for (std::int64_t t0 = 0; t0 < n; t0 += ta) {
            const std::int64_t bt = std::min(ta, n - t0);
            ts = (ts + 1) % 2;
            const SramTile kt = tile_at(k.at[ts], bt, d, ob), vt = tile_at(v.at[ts], bt, d, ob),
                           ot = tile_at(one.at[ts], bt, 1, ob), kwt = tile_at(kw.at[ts], m, bt, acc),
                           kft = tile_at(kf.at[ts], m, bt, ob);
            const std::uint32_t kl =
                em.load(whole_rows(h.k.tensor, h.k.row0 + t0, h.k.col0, bt, d), kt, {k.reader[ts]});
            const std::uint32_t vl =
                em.load(whole_rows(h.v.tensor, h.v.row0 + t0, h.v.col0, bt, d), vt, {v.reader[ts]});
            const std::uint32_t ol = em.load(whole_rows(g.ones, t0, 0, bt, 1), ot, {one.reader[ts]});
            // KwT = W^T K_t^T: K_t is the GEMM's b, transposed.
            const std::uint32_t pj = em.gemm(wtt, kt, kwt, false, true, {kl, wl, kw.reader[ts]});
            // The features read the projection and the tokens' own rows (their norms).
            const std::uint32_t fc = em.vector(VecOp::FavorCols, kwt, kt, kft, {pj, kf.reader[ts]}, imm);
            k.reader[ts] = fc, kw.reader[ts] = fc;
            last_m = em.gemm(kft, vt, mt, t0 > 0, false, {fc, vl, t0 == 0 ? mz.reader[hs] : kNoInstr});
            last_z = em.gemm(kft, ot, zt, t0 > 0, false, {fc, ol, t0 == 0 ? zz.reader[hs] : kNoInstr});
            v.reader[ts] = last_m, kf.reader[ts] = last_z, one.reader[ts] = last_z;
          }
          mz.reader[hs] = em.store(whole_rows(g.reduced, std::int64_t(i) * m, 0, m, d), mt, {last_m});
          zz.reader[hs] = em.store(whole_rows(g.normaliser, std::int64_t(i) * m, 0, m, 1), zt, {last_z});
        }
      };
      phases.push_back(std::move(ph));
    }
    {
      LowRankPhase ph;
      ph.name = name;
      ph.cls = OpClass::LowRank;
      ph.plan = "performer: token tiles of " + std::to_string(tb) + " rows, Qf = FavorRows(Q W) with " +
                std::to_string(m) + " random features, O = (Qf M) / (Qf z)";
      SramAllocator al(0);
      const std::uint64_t w = al.take(d * m * ob);
      ph.buffers.push_back({"Wfeat", {w, std::uint64_t(d * m) * ob}, BufClass::Weight, 0});
      DoubleBuf mmbuf, zzbuf, qbuf, qwbuf, qfbuf, nmbuf, dnbuf;
      take_double_bufs(al, ph.buffers,
                       {{mmbuf, "M", std::uint64_t(m * d) * ob, BufClass::Value},
                        {zzbuf, "z", std::uint64_t(m) * ob, BufClass::Value},
                        {qbuf, "Q", std::uint64_t(tb * d) * ob, BufClass::Query},
                        {qwbuf, "Qw", std::uint64_t(tb * m) * acc, BufClass::Score},
                        {qfbuf, "Qf", std::uint64_t(tb * m) * ob, BufClass::Score},
                        {nmbuf, "O", std::uint64_t(tb * d) * acc, BufClass::Output},
                        {dnbuf, "den", std::uint64_t(tb) * acc, BufClass::Stats}});
      ph.emit = [hwp, gp, tb, imm, w, mmbuf, zzbuf, qbuf, qwbuf, qfbuf, nmbuf, dnbuf](Emitter& em) {
        Slots mm(mmbuf), zz(zzbuf), q(qbuf), qw(qwbuf), qf(qfbuf), nm(nmbuf), dn(dnbuf);
        const HwConfig& hw = *hwp;
        const AttentionGroup& g = *gp;
        const int ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
        const std::int64_t d = g.head_dim, m = g.rank, n = g.seq_len;
        const SramTile wtile = tile_at(w, d, m, ob);
        const std::uint32_t wl = em.load(whole_rows(g.w_feat, 0, 0, d, m), wtile);  // shared by the heads
        int hs = -1, ts = -1;
        for (std::size_t i = 0; i < g.heads.size(); ++i) {
          const AttentionGroup::Head& h = g.heads[i];
          hs = (hs + 1) % 2;
          const SramTile mt = tile_at(mm.at[hs], m, d, ob), zt = tile_at(zz.at[hs], m, 1, ob);
          const std::uint32_t ml = em.load(whole_rows(g.reduced, std::int64_t(i) * m, 0, m, d), mt, {mm.reader[hs]});
          const std::uint32_t zl = em.load(whole_rows(g.normaliser, std::int64_t(i) * m, 0, m, 1), zt, {zz.reader[hs]});
          std::uint32_t last_n = kNoInstr, last_d = kNoInstr;
          for (std::int64_t t0 = 0; t0 < n; t0 += tb) {
            const std::int64_t bt = std::min(tb, n - t0);
            ts = (ts + 1) % 2;
            const SramTile qt = tile_at(q.at[ts], bt, d, ob), qwt = tile_at(qw.at[ts], bt, m, acc),
                           qft = tile_at(qf.at[ts], bt, m, ob), nt = tile_at(nm.at[ts], bt, d, acc),
                           dt = tile_at(dn.at[ts], bt, 1, acc);
            const std::uint32_t ql =
                em.load(whole_rows(h.q.tensor, h.q.row0 + t0, h.q.col0, bt, d), qt, {q.reader[ts]});
            const std::uint32_t pj = em.gemm(qt, wtile, qwt, false, false, {ql, wl, qw.reader[ts]});
            const std::uint32_t fr = em.vector(VecOp::FavorRows, qwt, qt, qft, {pj, qf.reader[ts]}, imm);
            q.reader[ts] = fr, qw.reader[ts] = fr;
            last_n = em.gemm(qft, mt, nt, false, false, {fr, ml, nm.reader[ts]});
            last_d = em.gemm(qft, zt, dt, false, false, {fr, zl, dn.reader[ts]});
            qf.reader[ts] = last_d;
            // O = num / den, in place in the num tile.
            const std::uint32_t dv = em.vector(VecOp::DivCol, nt, dt, nt, {last_n, last_d});
            dn.reader[ts] = dv;
            nm.reader[ts] = em.store(whole_rows(h.o.tensor, h.o.row0 + t0, h.o.col0, bt, d), nt, {dv});
          }
          mm.reader[hs] = last_n;
          zz.reader[hs] = last_d;
        }
      };
      phases.push_back(std::move(ph));
    }
    return phases;
  }
  throw InternalError("lower_lowrank_group: not a low-rank variant: " + std::string(to_string(grp.spec.variant)));
}

}  // namespace attnsim
