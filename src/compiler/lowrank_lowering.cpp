#include "compiler/lowrank_lowering.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>

#include "common/errors.h"
#include "compiler/attention_lowering.h"
#include "compiler/favor_nystrom_lowering.h"

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

// The streaming phase of primal and primal_causal: per head, E and R projections and the concat
// projection over token tiles.
class PrimalStream {
 public:
  PrimalStream(const HwConfig& hw, const AttentionGroup& grp, std::int64_t bt, bool causal_form)
      : hw_(hw), g_(grp), bt_(bt), causal_(causal_form) {
    const std::uint64_t ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
    const std::int64_t d = grp.head_dim, s = grp.rank;
    SramAllocator al(0);
    wc_ = al.take(2 * s * d * ob);
    bc_ = al.take(d * ob);
    buffers_ = {{"Wc", {wc_, std::uint64_t(2 * s * d) * ob}, BufClass::Weight, 0},
                {"bc", {bc_, std::uint64_t(d) * ob}, BufClass::Weight, 0}};
    // The prefix-mean carries are laid out for both forms and declared for primal_causal only.
    take_double_bufs(al, buffers_,
                     {{we_, "WeT", std::uint64_t(s * d) * ob, BufClass::Weight},
                      {wr_, "WrT", std::uint64_t(s * d) * ob, BufClass::Weight},
                      {cq_, causal_form ? "qsum" : "", std::uint64_t(d) * 4, BufClass::Stats},
                      {ck_, causal_form ? "ksum" : "", std::uint64_t(d) * 4, BufClass::Stats},
                      {q_, "q", std::uint64_t(bt * d) * ob, BufClass::Query},
                      {k_, "k", std::uint64_t(bt * d) * ob, BufClass::Key},
                      {er_, "ER", std::uint64_t(bt * 2 * s) * acc, BufClass::Score},
                      {ero_, "ERop", std::uint64_t(bt * 2 * s) * ob, BufClass::Score},
                      {o_, "O", std::uint64_t(bt * d) * acc, BufClass::Output}});
  }
  static std::uint64_t footprint(const HwConfig& hw, std::int64_t bt, std::int64_t d, std::int64_t s) {
    const std::uint64_t ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
    auto a = [](std::uint64_t b) { return align_up(b, 64); };
    return a(2 * s * d * ob) + a(d * ob) +
           2 * (2 * a(s * d * ob) + 2 * a(d * 4) + 2 * a(bt * d * ob) + a(bt * 2 * s * acc) + a(bt * 2 * s * ob) +
                a(bt * d * acc));
  }
  const std::vector<BufferInfo>& buffers() const { return buffers_; }

  void emit(Emitter& em) const {
    const int ob = hw_.array.operand_bytes, acc = hw_.array.accumulator_bytes;
    const std::int64_t d = g_.head_dim, s = g_.rank, n = g_.seq_len, heads = std::int64_t(g_.heads.size());
    Slots we(we_), wr(wr_), cq(cq_), ck(ck_), q(q_), k(k_), er(er_), ero(ero_), o(o_);
    em.set_class(OpClass::LowRank);
    const std::uint32_t wcl = em.load(whole_rows(g_.w_c, 0, 0, 2 * s, d), tile_at(wc_, 2 * s, d, ob));
    const std::uint32_t bcl = em.load(whole_rows(g_.b_c, 0, 0, 1, d), tile_at(bc_, 1, d, ob));
    int hs = -1, ts = -1;
    for (std::int64_t i = 0; i < heads; ++i) {
      const AttentionGroup::Head& h = g_.heads[std::size_t(i)];
      hs = (hs + 1) % 2;
      // primal: this (batch, head)'s WeT, WrT rows; primal_causal: the head's learned ones.
      const std::int64_t row = causal_ ? (i % heads_per_batch_) * s : i * s;
      const int wet = causal_ ? g_.w_e : g_.e_weights, wrt = causal_ ? g_.w_r : g_.r_weights;
      const std::uint32_t wel = em.load(whole_rows(wet, row, 0, s, d), tile_at(we.at[hs], s, d, ob), {we.reader[hs]});
      const std::uint32_t wrl = em.load(whole_rows(wrt, row, 0, s, d), tile_at(wr.at[hs], s, d, ob), {wr.reader[hs]});
      std::uint32_t last_e = kNoInstr, last_r = kNoInstr, pq = cq.reader[hs], pk = ck.reader[hs];
      for (std::int64_t t0 = 0; t0 < n; t0 += bt_) {
        const std::int64_t bt = std::min(bt_, n - t0);
        ts = (ts + 1) % 2;
        const SramTile qt = tile_at(q.at[ts], bt, d, ob), kt = tile_at(k.at[ts], bt, d, ob);
        std::uint32_t ql = em.load(whole_rows(h.q.tensor, h.q.row0 + t0, h.q.col0, bt, d), qt, {q.reader[ts]});
        std::uint32_t kl = em.load(whole_rows(h.k.tensor, h.k.row0 + t0, h.k.col0, bt, d), kt, {k.reader[ts]});
        if (causal_) {
          // Running means: the carry (sum of all earlier rows) chains tile to tile.
          pq = em.vector(VecOp::PrefixMean, qt, tile_at(cq.at[hs], 1, d, 4), qt, {ql, pq}, float(t0), t0 == 0);
          pk = em.vector(VecOp::PrefixMean, kt, tile_at(ck.at[hs], 1, d, 4), kt, {kl, pk}, float(t0), t0 == 0);
          ql = pq, kl = pk;
        }
        const std::uint32_t nq = em.vector(VecOp::L2Norm, qt, {}, qt, {ql});
        const std::uint32_t nk = em.vector(VecOp::L2Norm, kt, {}, kt, {kl});
        const SramTile e_out = tile_at(er.at[ts], bt, s, acc, 2 * s),
                       r_out = tile_at(er.at[ts] + std::uint64_t(s) * acc, bt, s, acc, 2 * s);
        last_e = em.gemm(qt, tile_at(we.at[hs], s, d, ob), e_out, false, true, {nq, wel, er.reader[ts]});
        last_r = em.gemm(kt, tile_at(wr.at[hs], s, d, ob), r_out, false, true, {nk, wrl, er.reader[ts]});
        q.reader[ts] = last_e;
        k.reader[ts] = last_r;
        const SramTile erot = tile_at(ero.at[ts], bt, 2 * s, ob);
        const std::uint32_t cp =
            em.vector(VecOp::Copy, tile_at(er.at[ts], bt, 2 * s, acc), {}, erot, {last_e, last_r, ero.reader[ts]});
        er.reader[ts] = cp;
        const SramTile ot = tile_at(o.at[ts], bt, d, acc);
        const std::uint32_t g = em.gemm(erot, tile_at(wc_, 2 * s, d, ob), ot, false, false, {cp, wcl, o.reader[ts]});
        ero.reader[ts] = g;
        const std::uint32_t ab = em.vector(VecOp::AddRow, ot, tile_at(bc_, 1, d, ob), ot, {g, bcl});
        o.reader[ts] = em.store(whole_rows(h.o.tensor, h.o.row0 + t0, h.o.col0, bt, d), ot, {ab});
      }
      we.reader[hs] = last_e;
      wr.reader[hs] = last_r;
      cq.reader[hs] = pq;
      ck.reader[hs] = pk;
    }
  }

  // Heads per batch: the group's heads are batch-major; the learned weights are per head.
  std::int64_t heads_per_batch_ = 1;

 private:
  const HwConfig& hw_;
  const AttentionGroup& g_;
  std::int64_t bt_;
  bool causal_;
  std::uint64_t wc_ = 0, bc_ = 0;
  DoubleBuf we_, wr_, cq_, ck_, q_, k_, er_, ero_, o_;
  std::vector<BufferInfo> buffers_;
};

}  // namespace

std::vector<std::int64_t> primal_sample_rows(std::int64_t n, std::int64_t p) {
  std::vector<std::int64_t> rows;
  if (p <= 1) return {n - 1};
  for (std::int64_t i = 0; i < p; ++i) rows.push_back(i * (n - 1) / (p - 1));
  return rows;
}

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

  if (grp.spec.variant == AttnVariant::Primal || grp.spec.variant == AttnVariant::PrimalCausal) {
    const bool causal_form = grp.spec.variant == AttnVariant::PrimalCausal;
    if (!causal_form) {
      // The global phase: gather X_s, barrier, WeT / WrT per head. X_s of a whole sequence (p x D)
      // when it fits in half the SRAM; otherwise per head (p x d), in chunks of pc samples when even
      // that does not fit, WeT and WrT accumulating over the chunks.
      const std::int64_t p = grp.samples, D = graph.tensors[std::size_t(grp.source)].cols;
      auto global_fp = [&](std::int64_t chunk, std::int64_t width) {
        return 2 * align_up(std::uint64_t(chunk * width) * ob, 64) + 2 * align_up(std::uint64_t(s * chunk) * ob, 64) +
               2 * align_up(std::uint64_t(s * d) * acc, 64);
      };
      const bool per_head = global_fp(p, D) > capacity / 2;
      const std::int64_t width = per_head ? d : D;
      std::int64_t pc = p;
      while (per_head && pc > 1 && global_fp(pc, width) > capacity) pc = (pc + 1) / 2;
      if (global_fp(pc, width) > capacity)
        does_not_fit(hw, name, "primal's sampled tokens X_s (" + std::to_string(pc) + "x" + std::to_string(width) +
                                   ") with the sampling weights", global_fp(pc, width), capacity);
      LowRankPhase ph;
      ph.name = name + ".global";
      ph.cls = OpClass::Global;
      std::ostringstream os;
      os << "primal global barrier: " << p << " sampled tokens gathered " << (per_head ? "per head" : "per sequence");
      if (pc < p) os << " in chunks of " << pc;
      os << " (X_s " << pc << "x" << width << ", " << 2 * pc * width * std::int64_t(ob)
         << " B double-buffered), then WeT, WrT (" << s << "x" << d << ") per head";
      ph.plan = os.str();
      SramAllocator al(0);
      DoubleBuf xsbuf, wbuf, cbuf;  // each one's two slots side by side
      take_double_bufs(al, ph.buffers, {{xsbuf, "Xs", std::uint64_t(pc * width) * ob, BufClass::Activation}});
      take_double_bufs(al, ph.buffers, {{wbuf, "Wsample", std::uint64_t(s * pc) * ob, BufClass::Weight}});
      take_double_bufs(al, ph.buffers, {{cbuf, "WT", std::uint64_t(s * d) * acc, BufClass::Output}});
      const std::vector<std::int64_t> rows = primal_sample_rows(n, p);
      ph.emit = [hwp, gp, xsbuf, wbuf, cbuf, rows, p, pc, width, per_head, hpb](Emitter& em) {
        const HwConfig& hw = *hwp;
        const AttentionGroup& g = *gp;
        const int ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
        const std::int64_t d = g.head_dim, s = g.rank, n = g.seq_len;
        Slots xs(xsbuf), w(wbuf), c(cbuf);
        int xslot = -1, wslot = -1;
        // Gathers samples [c0, c0 + rows) of sequence b (the head's columns, or all of them); a
        // barrier then makes sure every one has arrived (they complete out of order, and each GEMM
        // reads all of them).
        auto gather = [&](std::int64_t b, std::int64_t col0, std::int64_t first, std::int64_t count) {
          xslot = (xslot + 1) % 2;
          for (std::int64_t i = 0; i < count; ++i)
            em.load(whole_rows(g.source, b * n + rows[std::size_t(first + i)], col0, 1, width),
                    tile_at(xs.at[xslot] + std::uint64_t(i * width) * ob, 1, width, ob), {xs.reader[xslot]});
          em.barrier();
        };
        const std::int64_t batches = std::int64_t(g.heads.size()) / hpb;
        for (std::int64_t b = 0; b < batches; ++b)
          for (std::int64_t h = 0; h < hpb; ++h) {
            if (!per_head && h == 0) gather(b, 0, 0, p);
            std::uint32_t last[2] = {kNoInstr, kNoInstr};
            for (std::int64_t k0 = 0; k0 < p; k0 += pc) {
              const std::int64_t cnt = std::min(pc, p - k0);
              if (per_head) gather(b, h * d, k0, cnt);
              const SramTile xsh = tile_at(xs.at[xslot] + std::uint64_t(per_head ? 0 : h * d) * ob, cnt, d, ob, width);
              for (int which = 0; which < 2; ++which) {
                wslot = (wslot + 1) % 2;
                const int wt = which ? g.w_r : g.w_e;
                const std::uint32_t wl =
                    em.load(whole_rows(wt, h * s, k0, s, cnt), tile_at(w.at[wslot], s, cnt, ob), {w.reader[wslot]});
                last[which] = em.gemm(tile_at(w.at[wslot], s, cnt, ob), xsh, tile_at(c.at[which], s, d, acc), k0 > 0,
                                      false, {wl, k0 == 0 ? c.reader[which] : kNoInstr});
                w.reader[wslot] = last[which];
                xs.reader[xslot] = last[which];
              }
            }
            for (int which = 0; which < 2; ++which)
              c.reader[which] = em.store(whole_rows(which ? g.r_weights : g.e_weights, (b * hpb + h) * s, 0, s, d),
                                         tile_at(c.at[which], s, d, acc), {last[which]});
          }
      };
      phases.push_back(std::move(ph));
    }
    const std::int64_t bt = choose_bt(hw, capacity, [&](std::int64_t t) { return PrimalStream::footprint(hw, t, d, s); });
    if (!bt) does_not_fit(hw, name, "primal's smallest token tile (16 rows)", PrimalStream::footprint(hw, 16, d, s), capacity);
    LowRankPhase ph;
    ph.name = name;
    ph.cls = OpClass::LowRank;
    std::ostringstream os;
    os << (causal_form ? "primal causal" : "primal") << ": token tiles of " << std::min(bt, n) << " rows, rank " << s
       << (causal_form ? ", prefix means carried across tiles" : "");
    ph.plan = os.str();
    const std::int64_t tile = std::min(bt, n);
    {
      PrimalStream probe(hw, grp, tile, causal_form);
      ph.buffers = probe.buffers();
    }
    ph.emit = [hwp, gp, tile, causal_form, hpb](Emitter& em) {
      PrimalStream st(*hwp, *gp, tile, causal_form);
      st.heads_per_batch_ = hpb;
      st.emit(em);
    };
    phases.push_back(std::move(ph));
    return phases;
  }

  if (grp.spec.variant == AttnVariant::LowRankLinear) {
    // Global phase: M = (W_KT K^T) V per head; stream phase: O = (Q W_Q) M.
    auto fp_a = [&](std::int64_t t) {
      auto a = [](std::uint64_t b) { return align_up(b, 64); };
      return 2 * (a(s * d * ob) + 2 * a(t * d * ob) + a(s * t * acc) + a(s * t * ob) + a(s * d * acc));
    };
    auto fp_b = [&](std::int64_t t) {
      auto a = [](std::uint64_t b) { return align_up(b, 64); };
      return 2 * (a(d * s * ob) + a(s * d * ob) + a(t * d * ob) + a(t * s * acc) + a(t * s * ob) + a(t * d * acc));
    };
    const std::int64_t bta = choose_bt(hw, capacity, fp_a), btb = choose_bt(hw, capacity, fp_b);
    if (!bta || !btb) does_not_fit(hw, name, "lowrank_linear's smallest token tile (16 rows)", fp_a(16), capacity);
    const std::int64_t ta = std::min(bta, n), tb = std::min(btb, n);
    {
      LowRankPhase ph;
      ph.name = name + ".global";
      ph.cls = OpClass::Global;
      ph.plan = "lowrank_linear global reduction: M = (K W_K)^T V (" + std::to_string(s) + "x" + std::to_string(d) +
                ") over all N per head, K/V tiles of " + std::to_string(ta) + " rows";
      SramAllocator al(0);
      DoubleBuf wkbuf, kbuf, vbuf, kpbuf, kpobuf, mbuf;
      take_double_bufs(al, ph.buffers,
                       {{wkbuf, "WKT", std::uint64_t(s * d) * ob, BufClass::Weight},
                        {kbuf, "K", std::uint64_t(ta * d) * ob, BufClass::Key},
                        {vbuf, "V", std::uint64_t(ta * d) * ob, BufClass::Value},
                        {kpbuf, "KpT", std::uint64_t(s * ta) * acc, BufClass::Score},
                        {kpobuf, "KpTop", std::uint64_t(s * ta) * ob, BufClass::Score},
                        {mbuf, "M", std::uint64_t(s * d) * acc, BufClass::Output}});
      ph.emit = [hwp, gp, ta, hpb, wkbuf, kbuf, vbuf, kpbuf, kpobuf, mbuf](Emitter& em) {
        Slots wk(wkbuf), k(kbuf), v(vbuf), kp(kpbuf), kpo(kpobuf), m(mbuf);
        const HwConfig& hw = *hwp;
        const AttentionGroup& g = *gp;
        const int ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
        const std::int64_t d = g.head_dim, s = g.rank, n = g.seq_len;
        int hs = -1, ts = -1;
        for (std::size_t i = 0; i < g.heads.size(); ++i) {
          const AttentionGroup::Head& h = g.heads[i];
          hs = (hs + 1) % 2;
          const std::int64_t head = std::int64_t(i) % hpb;
          const std::uint32_t wl = em.load(whole_rows(g.w_kt, head * s, 0, s, d), tile_at(wk.at[hs], s, d, ob),
                                           {wk.reader[hs]});
          const SramTile mt = tile_at(m.at[hs], s, d, acc);
          std::uint32_t last = kNoInstr, last_kp = kNoInstr;
          for (std::int64_t t0 = 0; t0 < n; t0 += ta) {
            const std::int64_t bt = std::min(ta, n - t0);
            ts = (ts + 1) % 2;
            const SramTile kt = tile_at(k.at[ts], bt, d, ob), vt = tile_at(v.at[ts], bt, d, ob);
            const std::uint32_t kl = em.load(whole_rows(h.k.tensor, h.k.row0 + t0, h.k.col0, bt, d), kt, {k.reader[ts]});
            const std::uint32_t vl = em.load(whole_rows(h.v.tensor, h.v.row0 + t0, h.v.col0, bt, d), vt, {v.reader[ts]});
            const SramTile kpt = tile_at(kp.at[ts], s, bt, acc), kpot = tile_at(kpo.at[ts], s, bt, ob);
            last_kp = em.gemm(tile_at(wk.at[hs], s, d, ob), kt, kpt, false, true, {kl, wl, kp.reader[ts]});
            k.reader[ts] = last_kp;
            const std::uint32_t cp = em.vector(VecOp::Copy, kpt, {}, kpot, {last_kp, kpo.reader[ts]});
            kp.reader[ts] = cp;
            last = em.gemm(kpot, vt, mt, t0 > 0, false, {cp, vl, t0 == 0 ? m.reader[hs] : kNoInstr});
            kpo.reader[ts] = last;
            v.reader[ts] = last;
          }
          wk.reader[hs] = last_kp;
          m.reader[hs] = em.store(whole_rows(g.reduced, std::int64_t(i) * s, 0, s, d), mt, {last});
        }
      };
      phases.push_back(std::move(ph));
    }
    {
      LowRankPhase ph;
      ph.name = name;
      ph.cls = OpClass::LowRank;
      ph.plan = "lowrank_linear: token tiles of " + std::to_string(tb) + " rows, O = (Q W_Q) M, rank " + std::to_string(s);
      SramAllocator al(0);
      DoubleBuf wqbuf, mmbuf, qbuf, qpbuf, qpobuf, obuf;
      take_double_bufs(al, ph.buffers,
                       {{wqbuf, "WQ", std::uint64_t(d * s) * ob, BufClass::Weight},
                        {mmbuf, "M", std::uint64_t(s * d) * ob, BufClass::Value},
                        {qbuf, "Q", std::uint64_t(tb * d) * ob, BufClass::Query},
                        {qpbuf, "Qp", std::uint64_t(tb * s) * acc, BufClass::Score},
                        {qpobuf, "Qpop", std::uint64_t(tb * s) * ob, BufClass::Score},
                        {obuf, "O", std::uint64_t(tb * d) * acc, BufClass::Output}});
      ph.emit = [hwp, gp, tb, hpb, wqbuf, mmbuf, qbuf, qpbuf, qpobuf, obuf](Emitter& em) {
        Slots wq(wqbuf), mm(mmbuf), q(qbuf), qp(qpbuf), qpo(qpobuf), o(obuf);
        const HwConfig& hw = *hwp;
        const AttentionGroup& g = *gp;
        const int ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
        const std::int64_t d = g.head_dim, s = g.rank, n = g.seq_len;
        int hs = -1, ts = -1;
        for (std::size_t i = 0; i < g.heads.size(); ++i) {
          const AttentionGroup::Head& h = g.heads[i];
          hs = (hs + 1) % 2;
          const std::int64_t head = std::int64_t(i) % hpb;
          const std::uint32_t wl = em.load(whole_rows(g.w_q, head * d, 0, d, s), tile_at(wq.at[hs], d, s, ob),
                                           {wq.reader[hs]});
          const std::uint32_t ml = em.load(whole_rows(g.reduced, std::int64_t(i) * s, 0, s, d),
                                           tile_at(mm.at[hs], s, d, ob), {mm.reader[hs]});
          std::uint32_t last1 = kNoInstr, last2 = kNoInstr;
          for (std::int64_t t0 = 0; t0 < n; t0 += tb) {
            const std::int64_t bt = std::min(tb, n - t0);
            ts = (ts + 1) % 2;
            const SramTile qt = tile_at(q.at[ts], bt, d, ob), qpt = tile_at(qp.at[ts], bt, s, acc),
                           qpot = tile_at(qpo.at[ts], bt, s, ob), ot = tile_at(o.at[ts], bt, d, acc);
            const std::uint32_t ql = em.load(whole_rows(h.q.tensor, h.q.row0 + t0, h.q.col0, bt, d), qt, {q.reader[ts]});
            last1 = em.gemm(qt, tile_at(wq.at[hs], d, s, ob), qpt, false, false, {ql, wl, qp.reader[ts]});
            q.reader[ts] = last1;
            const std::uint32_t cp = em.vector(VecOp::Copy, qpt, {}, qpot, {last1, qpo.reader[ts]});
            qp.reader[ts] = cp;
            last2 = em.gemm(qpot, tile_at(mm.at[hs], s, d, ob), ot, false, false, {cp, ml, o.reader[ts]});
            qpo.reader[ts] = last2;
            o.reader[ts] = em.store(whole_rows(h.o.tensor, h.o.row0 + t0, h.o.col0, bt, d), ot, {last2});
          }
          wq.reader[hs] = last1;
          mm.reader[hs] = last2;
        }
      };
      phases.push_back(std::move(ph));
    }
    return phases;
  }
  if (grp.spec.variant == AttnVariant::Performer || grp.spec.variant == AttnVariant::Nystromformer)
    return lower_favor_nystrom_group(hw, grp, name);
  if (grp.spec.variant == AttnVariant::Linformer) {
    const std::string vname = "linformer";
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
    if (!bta) does_not_fit(hw, name, "linformer's projection tiles (E, F 16 columns, one head's K~ and V~)",
                           fp_stream(16) + acc_pair, capacity);
    const std::int64_t ta = std::min(bta, n);
    const std::int64_t chunk =
        std::max<std::int64_t>(1, std::min<std::int64_t>(hpb, std::int64_t((capacity - fp_stream(ta)) / acc_pair)));
    {
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
      does_not_fit(hw, name, vname + "'s score tile (16 x " + std::to_string(k) + ") with K~ and V~",
                   fp_b(16), capacity);
    const std::int64_t tb = std::min(btb, n);
    LowRankPhase ph;
    ph.name = name;
    ph.cls = OpClass::QK;
    ph.plan = vname + ": token tiles of " + std::to_string(tb) + " rows against K~, V~ of " +
              std::to_string(k) + " rows, row softmax over k";
    SramAllocator al(0);
    DoubleBuf ktbuf, vtbuf, qbuf, scbuf, prbuf, obuf;
    take_double_bufs(al, ph.buffers,
                     {{ktbuf, "Kproj", std::uint64_t(k * d) * ob, BufClass::Key},
                      {vtbuf, "Vproj", std::uint64_t(k * d) * ob, BufClass::Value},
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
  throw InternalError("lower_lowrank_group: not a low-rank variant: " + std::string(to_string(grp.spec.variant)));
}

}  // namespace attnsim
