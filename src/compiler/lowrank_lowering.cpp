#include "compiler/lowrank_lowering.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>

#include "common/errors.h"
#include "compiler/attention_lowering.h"
#include "compiler/favor_nystrom_lowering.h"
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


}  // namespace

std::vector<LowRankPhase> lower_lowrank_group(const HwConfig& hw, const Graph& graph, const AttentionGroup& grp,
                                              const std::string& name, const MapperOptions& opt) {
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
  if (lowered_as_cascade(grp.spec.variant)) return lower_lowrank_cascade(hw, graph, grp, name, hpb, opt);

  if (grp.spec.variant == AttnVariant::Performer || grp.spec.variant == AttnVariant::Nystromformer)
    return lower_favor_nystrom_group(hw, grp, name, opt);
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
