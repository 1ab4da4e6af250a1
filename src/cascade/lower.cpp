#include "cascade/lower.h"

#include <algorithm>

#include "common/errors.h"

namespace attnsim::cascade {

namespace {

constexpr int kUnits = 5;  // LOAD, STORE, GEMM, VECTOR, SOFTMAX: each executes in program order
int unit_index(Opcode op) { return int(op); }

// Instructions the next one must wait for: the latest per unit, and for the load unit the latest two.
// Units issue their instructions in order, but the load DMA has several in flight and a short load
// can complete before a longer one issued earlier (a GEMM's B tile before its A tile), so waiting for
// the later of two loads does not cover the earlier one.
struct Deps {
  std::uint32_t by_unit[kUnits] = {kNoInstr, kNoInstr, kNoInstr, kNoInstr, kNoInstr};
  std::uint32_t load2 = kNoInstr;  // the load unit's second latest
  void add(int unit, std::uint32_t id) {
    if (id == kNoInstr) return;
    std::uint32_t& cur = by_unit[unit];
    if (unit == unit_index(Opcode::Load) && id != cur) {
      const std::uint32_t lo = cur == kNoInstr ? id : std::min(id, cur);
      cur = cur == kNoInstr ? id : std::max(id, cur);
      if (lo != cur && (load2 == kNoInstr || lo > load2)) load2 = lo;
      return;
    }
    if (cur == kNoInstr || id > cur) cur = id;
  }
  // Up to four ids for an instruction on `own`: the other units first (program order does not
  // cover them), then the second load when there is room (an instruction waiting on four units has
  // its operands' loads long done), then the own unit's (it runs in program order anyway).
  std::array<std::uint32_t, 4> list(Opcode own) const {
    std::array<std::uint32_t, 4> v = {kNoInstr, kNoInstr, kNoInstr, kNoInstr};
    int n = 0;
    const bool two_loads = own != Opcode::Load && load2 != kNoInstr;
    int others = 0;
    for (int u = 0; u < kUnits; ++u) others += u != unit_index(own) && by_unit[u] != kNoInstr;
    for (int u = 0; u < kUnits; ++u) {
      if (u == unit_index(own) || by_unit[u] == kNoInstr) continue;
      if (u == unit_index(Opcode::Load) && two_loads && others < 4) v[std::size_t(n++)] = load2;  // in load order
      v[std::size_t(n++)] = by_unit[u];
    }
    if (n < 4 && by_unit[unit_index(own)] != kNoInstr) v[std::size_t(n++)] = by_unit[unit_index(own)];
    ATTNSIM_ASSERT(n <= 4, "more than four dependencies");
    return v;
  }
};

// The coordinates of a tile: instance and, per tensor rank, [lo, lo + len).
struct Coords {
  int inst = -1;
  int split = 0;  // split-K: the run a tile written in it belongs to (mapping.h, splits)
  std::int64_t lo[2] = {0, 0}, len[2] = {0, 0};
  bool operator==(const Coords& o) const {
    return inst == o.inst && split == o.split && lo[0] == o.lo[0] && lo[1] == o.lo[1] && len[0] == o.len[0] &&
           len[1] == o.len[1];
  }
  bool contains(const Coords& o) const {
    if (inst != o.inst || split != o.split) return false;
    for (int i = 0; i < 2; ++i)
      if (o.lo[i] < lo[i] || o.lo[i] + o.len[i] > lo[i] + len[i]) return false;
    return true;
  }
};

struct Slot {
  Coords at;
  DramBlock src;            // a loaded tile: the DRAM block it holds (rows 0: none)
  bool open = false;        // being written (a sum or a chunked write not finished)
  std::uint64_t point = 0;  // the iteration point that opened it
  std::uint32_t write[kUnits] = {kNoInstr, kNoInstr, kNoInstr, kNoInstr, kNoInstr};
  std::uint32_t read[kUnits] = {kNoInstr, kNoInstr, kNoInstr, kNoInstr, kNoInstr};
  void reset_accesses() {
    std::fill(std::begin(write), std::end(write), kNoInstr);
    std::fill(std::begin(read), std::end(read), kNoInstr);
  }
};

struct BufState {
  // depth * copies slots: copy j (the instance's place in an interleaved chunk) owns slots
  // j * depth .. j * depth + depth - 1, and its current one is cur[j].
  std::vector<Slot> slot;
  std::vector<int> cur;
  bool used = false;
  // A resident buffer: per slot, the load of each cell (tile) of the instance it holds, kNoInstr
  // while not loaded; cells in row-major order of the tile grid (cells_across per row).
  std::vector<std::vector<std::uint32_t>> cell_load;
  // Per slot and cell, per unit: the last reader of the cell since its load. The next instance's load
  // of the cell into the slot waits for these (not for every read of the slot).
  struct CellReaders {
    std::uint32_t by_unit[kUnits] = {kNoInstr, kNoInstr, kNoInstr, kNoInstr, kNoInstr};
  };
  std::vector<std::vector<CellReaders>> cell_read;
  int last_cell = -1;  // the cell the latest read of the buffer took (note() records its reader)
  std::int64_t cells_across = 1;
};

struct Ctx {
  int inst = 0;
  int split = 0;  // split-K: the run of the point
  std::int64_t lo[kMaxRanks] = {}, len[kMaxRanks] = {};
};

class GroupEmitter {
 public:
  GroupEmitter(const CascadePlan& plan, int group, Emitter& em, const std::vector<Binding>& inst,
               const std::vector<OpClass>& classes)
      : c_(*plan.cascade), g_(plan.groups[std::size_t(group)]), em_(em), inst_(inst), classes_(classes) {
    bufs_.resize(g_.buffers.size());
    for (std::size_t b = 0; b < g_.buffers.size(); ++b) {
      const BufferPlan& bp = g_.buffers[b];
      bufs_[b].slot.resize(std::size_t(std::max(1, bp.depth) * bp.copies));
      bufs_[b].cur.assign(std::size_t(bp.copies), -1);
      if (!bp.resident) continue;
      BufState& st = bufs_[b];
      st.cells_across = ceil_div(bp.cols, bp.cell_cols);
      st.cell_load.resize(std::size_t(bp.depth));
      st.cell_read.resize(std::size_t(bp.depth));
      for (int i = 0; i < bp.depth; ++i) {
        st.cell_load[std::size_t(i)].assign(std::size_t(ceil_div(bp.rows, bp.cell_rows) * st.cells_across), kNoInstr);
        st.cell_read[std::size_t(i)].resize(st.cell_load[std::size_t(i)].size());
      }
    }
    nloops_ = int(g_.map.loops.size());
    for (int s : g_.map.steps) {
      std::uint32_t own = 0, ranks = 0;
      for (int r : c_.step_ranks(s)) {
        ranks |= 1u << r;
        if (g_.loop_depth[r] >= 0) own |= 1u << g_.loop_depth[r];
      }
      own_[std::size_t(s)] = own;
      ranks_[std::size_t(s)] = ranks;
      int deepest = -1;
      for (int i = 0; i < nloops_; ++i)
        if (own >> i & 1u) deepest = i;
      inner_from_[std::size_t(s)] = deepest + 1;
    }
    // The parts of a point (run()): the readers end at the last step reading a buffer (an in-place alias's
    // too) that a lookahead step writes.
    {
      std::vector<char> ahead_buf(g_.buffers.size(), 0);
      for (int s : g_.map.steps)
        if (g_.lookahead[std::size_t(s)] && g_.buffer_of[std::size_t(c_.step(s).out)] >= 0)
          ahead_buf[std::size_t(g_.buffer_of[std::size_t(c_.step(s).out)])] = 1;
      std::size_t readers_end = 0;
      for (std::size_t i = 0; i < g_.map.steps.size(); ++i) {
        const int s = g_.map.steps[i];
        if (g_.lookahead[std::size_t(s)]) continue;
        for (int t : c_.step(s).in) {
          const int b = g_.buffer_of[std::size_t(t)];
          if (b >= 0 && ahead_buf[std::size_t(b)]) readers_end = i + 1;
        }
      }
      for (std::size_t i = 0; i < g_.map.steps.size(); ++i) {
        const int s = g_.map.steps[i];
        part_[std::size_t(s)] = g_.lookahead[std::size_t(s)] ? kAhead : i < readers_end ? kReaders : kOthers;
      }
    }
    written_.assign(c_.desc.tensors.size(), 0);
    for (int s : g_.map.steps) written_[std::size_t(c_.step(s).out)] = 1;
    // A tensor every instance reads from the same DRAM block (a weight shared by the heads) keeps its
    // tile across instances: instances are told apart by the first one with the same block.
    same_block_.assign(c_.desc.tensors.size(), std::vector<int>(inst_.size()));
    for (std::size_t t = 0; t < c_.desc.tensors.size(); ++t)
      for (std::size_t i = 0; i < inst_.size(); ++i) {
        const DramBlock& b = inst_[i].blocks[t];
        int first = int(i);
        for (std::size_t j = 0; j < i && first == int(i); ++j) {
          const DramBlock& o = inst_[j].blocks[t];
          if (o.tensor == b.tensor && o.row0 == b.row0 && o.col0 == b.col0 && o.rows == b.rows && o.cols == b.cols)
            first = same_block_[t][j];
        }
        same_block_[t][i] = first;
      }
    if (g_.mask_step >= 0) {
      const auto& r = c_.tensor(c_.step(g_.mask_step).in[0]).ranks;
      mr_ = r[0], pr_ = r[1];
    }
  }

  // The points in order. With the overlap (hoist), point n's lookahead steps are issued before the rest
  // of point n - 1 (ahead 1), or after the steps of point n - 2 that read what they write (ahead 2,
  // mapping.h), so the points n .. n + ahead are known at once (a ring).
  void run() {
    if (inst_.empty()) return;
    const std::uint64_t k = g_.hoist ? std::uint64_t(std::clamp(g_.map.ahead, 1, kMaxAhead)) : 0;
    constexpr std::uint64_t R = kMaxAhead + 1;
    start(ring_[0], 0);
    std::uint64_t n = 0, last = 0;  // points n .. last known
    bool end = false;               // last is the group's last point
    auto extend = [&]() {
      Point next = ring_[last % R];
      if (!advance(next)) return !(end = true);
      ring_[++last % R] = next;
      return true;
    };
    defer_ = k > 1;
    if (k) {
      emit_point(ring_[0], 0, kAhead);
      while (!end && last + 1 < k)
        if (extend()) emit_point(ring_[last % R], last, kAhead);
    }
    for (;;) {
      if (k > 1) emit_point(ring_[n % R], n, kReaders);
      flush();
      while (!end && last < n + k)
        if (extend()) emit_point(ring_[last % R], last, kAhead);
      emit_point(ring_[n % R], n, !k ? kAhead | kReaders | kOthers : k > 1 ? kOthers : kReaders | kOthers);
      if (n == last && (end || !extend())) break;
      ++n;
    }
    flush();
  }
 private:
  // Ahead 2: the deferred finish of a running output (emit_once), if any.
  void flush() {
    if (!pending_) return;
    pending_ = false;
    finish(pend_s_, pend_x_, pend_w_);
  }

  struct Point {
    int inst = 0, chunk0 = 0;  // the instance and the first of its interleaved chunk
    std::int64_t idx[32] = {}, count[32] = {};
    // Split-K: the run and the tile within it of the split loop (idx holds the tile's index over the
    // whole rank).
    int split = 0;
    std::int64_t t = 0;
    bool lead = false;  // in the lead block (mapping.h): the loops walked in reversed order
  };

  // Split-K: run s of the split loop covers its tiles [first, first + len).
  std::int64_t split_first(const Point& p, int s) const {
    const std::int64_t n = p.count[nloops_ - 1];
    return n * s / g_.map.splits;
  }
  std::int64_t split_len(const Point& p, int s) const { return split_first(p, s + 1) - split_first(p, s); }
  // The next point of the split loop, runs interleaved (tile t of each run, then t + 1); false past the last.
  bool advance_split(Point& p) const {
    const int S = g_.map.splits;
    for (;;) {
      if (++p.split == S) p.split = 0, ++p.t;
      if (p.t >= split_len(p, S - 1) && p.t >= split_len(p, 0)) return false;
      if (p.t < split_len(p, p.split)) break;
    }
    p.idx[nloops_ - 1] = split_first(p, p.split) + p.t;
    return true;
  }

  std::int64_t tile_of(int depth) const { return g_.map.loops[std::size_t(depth)].tile; }

  // The last query row of the point's mask-row tile (the masked rank's whole extent when not looped).
  std::int64_t mask_row_end(const Point& p) const {
    const int d = g_.loop_depth[mr_];
    const std::int64_t ext = c_.extent[std::size_t(mr_)];
    if (d < 0) return ext;
    return std::min(ext, (p.idx[d] + 1) * tile_of(d));
  }

  void set_count(Point& p, int i) const {
    const int r = g_.map.loops[std::size_t(i)].rank;
    std::int64_t ext = c_.extent[std::size_t(r)];
    // Keys after the last query of the current row tile are all masked: the loop stops before them.
    if (g_.mask_step >= 0 && r == pr_ && g_.loop_depth[mr_] >= 0 && g_.loop_depth[mr_] < i)
      ext = std::min(ext, mask_row_end(p));
    p.count[i] = ceil_div(ext, tile_of(i));
  }

  void start(Point& p, int inst) const {
    p.inst = inst;
    p.chunk0 = inst;
    p.split = 0, p.t = 0;
    for (int i = 0; i < nloops_; ++i) {
      p.idx[i] = 0;
      set_count(p, i);
    }
    p.lead = g_.map.lead > 0;
  }

  // The lead block's next point: loop 0 innermost over its first `lead` tiles, the last loop outermost;
  // past the block, the rest of loop 0 in the given order. False when the instance is done.
  bool advance_lead(Point& p) const {
    const std::int64_t lead = std::min<std::int64_t>(g_.map.lead, p.count[0]);
    for (int i = 0; i < nloops_; ++i) {
      if (++p.idx[i] < (i == 0 ? lead : p.count[i])) {
        for (int j = 0; j < i; ++j) p.idx[j] = 0;
        return true;
      }
    }
    p.lead = false;
    for (int i = 0; i < nloops_; ++i) p.idx[i] = 0;
    p.idx[0] = lead;
    return lead < p.count[0];
  }

  // Interleaved (mapping.h): the instances of a chunk are the innermost loop.
  bool advance(Point& p) const {
    const int chunk_end = std::min(int(inst_.size()), p.chunk0 + g_.map.interleave);
    if (p.inst + 1 < chunk_end) {
      ++p.inst;
      return true;
    }
    p.inst = p.chunk0;
    const bool in_lead = p.lead;
    if (in_lead && advance_lead(p)) return true;
    for (int i = in_lead ? -1 : nloops_ - 1; i >= 0; --i) {
      if (g_.split_step >= 0 && i == nloops_ - 1) {
        if (advance_split(p)) return true;
        p.split = 0, p.t = 0, p.idx[i] = 0;
        continue;
      }
      if (++p.idx[i] < p.count[i]) {
        if (g_.split_step >= 0) p.split = 0, p.t = 0;
        for (int j = i + 1; j < nloops_; ++j) {
          p.idx[j] = 0;
          set_count(p, j);
        }
        return true;
      }
    }
    if (chunk_end >= int(inst_.size())) return false;
    start(p, chunk_end);
    return true;
  }

  Ctx context(const Point& p) const {
    Ctx x;
    x.inst = p.inst;
    x.split = p.split;
    for (std::size_t r = 0; r < c_.num_ranks(); ++r) {
      const int d = g_.loop_depth[r];
      if (d >= 0) {
        x.lo[r] = p.idx[d] * tile_of(d);
        x.len[r] = std::min(tile_of(d), c_.extent[r] - x.lo[r]);
      } else {
        x.lo[r] = 0;
        x.len[r] = c_.extent[r];
      }
    }
    return x;
  }

  // For a step over both masked ranks, a whole key rank streamed in chunks stops after the chunk
  // holding the tile's last query (steps over the keys alone still see them all: they may run once
  // for every query tile).
  // Across groups (GroupPlan::cross_mask), a whole key rank stops after the tile's last query too, and
  // in the group of the causal softmax writing its output to DRAM goes on to where the groups reading
  // it stop.
  Ctx masked_context(int s, const Ctx& x) const {
    Ctx y = x;
    if (g_.mask_step >= 0 && g_.loop_depth[pr_] < 0 && (g_.stream_chunk[pr_] || g_.cross_mask) &&
        (ranks_[std::size_t(s)] >> mr_ & 1u) && (ranks_[std::size_t(s)] >> pr_ & 1u)) {
      const std::int64_t ch = g_.stream_chunk[pr_] ? g_.stream_chunk[pr_] : 1, last = x.lo[mr_] + x.len[mr_];
      const std::int64_t np = c_.extent[std::size_t(pr_)], nm = c_.extent[std::size_t(mr_)];
      std::int64_t end = ceil_div(last, ch) * ch;
      // Every step of the group alike, so that the softmax reads all of the S its group wrote.
      if (!g_.mask_readers.empty())
        for (const auto& [rt, ct] : g_.mask_readers)
          end = std::max(end, ceil_div(std::min(nm, ceil_div(last, rt) * rt), ct) * ct);
      y.len[pr_] = std::min(np, end);
    }
    return y;
  }

  bool masked_out(int s, const Ctx& x) const {
    if (g_.mask_step < 0 || !(ranks_[std::size_t(s)] >> mr_ & 1u) || !(ranks_[std::size_t(s)] >> pr_ & 1u))
      return false;
    return x.lo[pr_] > x.lo[mr_] + x.len[mr_] - 1;
  }

  // Runs the point's steps of the given parts (run()).
  void emit_point(const Point& p, std::uint64_t n, unsigned parts) {
    const Ctx x = context(p);
    for (int s : g_.map.steps) {
      if (!(part_[std::size_t(s)] & parts)) continue;
      // Loops inside the step's innermost own loop that it does not use: it runs at their first
      // index, or their last when it reads a sum over them. Under an enclosing loop it does not use it
      // runs again (its tiles were replaced meanwhile: recomputation, as a fused kernel does).
      bool runs = true;
      for (int i = 0; i < inner_from_[std::size_t(s)] && runs; ++i)  // a sum over an enclosing loop: at its end
        if (g_.at_last[std::size_t(s)] >> i & 1u) runs = p.idx[i] == p.count[i] - 1;
      for (int i = inner_from_[std::size_t(s)]; i < nloops_ && runs; ++i) {
        if (own_[std::size_t(s)] >> i & 1u) continue;
        const bool last = g_.at_last[std::size_t(s)] >> i & 1u;
        runs = p.idx[i] == (last ? p.count[i] - 1 : 0);
      }
      if (!runs || masked_out(s, x)) continue;
      point_ = n;
      cur_point_ = &p;
      run_step(s, masked_context(s, x));
    }
  }

  int chunk_rank(int s) const {
    const StepDecl& st = c_.step(s);
    const bool row_op = row_wise(st);
    for (std::size_t r = 0; r < c_.num_ranks(); ++r)
      if ((ranks_[std::size_t(s)] >> r & 1u) && g_.stream_chunk[r] && !(row_op && int(r) == st.over)) return int(r);
    return -1;
  }

  void run_step(int s, const Ctx& x) {
    em_.set_class(classes_[std::size_t(s)]);
    const int cr = chunk_rank(s);
    if (cr < 0) return emit_once(s, x, true, true);
    Ctx y = x;
    const std::int64_t ch = g_.stream_chunk[cr], end = x.lo[cr] + x.len[cr];
    for (std::int64_t c0 = x.lo[cr]; c0 < end; c0 += ch) {
      y.lo[cr] = c0;
      y.len[cr] = std::min(ch, end - c0);
      if (masked_out(s, y)) break;  // later chunks are masked too
      const bool last = c0 + ch >= end || masked_next(s, y, c0 + ch);
      emit_once(s, y, c0 == x.lo[cr], last, cr);
    }
  }

  // Whether a sum of two contractions' operand tiles lie as [A1 | A2] and [B1; B2] in SRAM.
  static bool concatenated(const SramTile& a1, const SramTile& a2, const SramTile& b1, const SramTile& b2,
                           const StepDecl& st) {
    const std::uint64_t ea = a1.elem_bytes, eb = b1.elem_bytes;
    return !st.b_transposed && !st.b2_transposed && a1.rows == a2.rows && a1.cols == a2.cols &&
           a1.elem_bytes == a2.elem_bytes && a1.stride() == a2.stride() && a1.stride() >= 2 * a1.cols &&
           a2.addr == a1.addr + a1.cols * ea && b1.rows == b2.rows && b1.cols == b2.cols &&
           b1.elem_bytes == b2.elem_bytes && b1.stride() == b1.cols && b2.stride() == b2.cols &&
           b2.addr == b1.addr + std::uint64_t(b1.rows) * b1.cols * eb;
  }

  bool masked_next(int s, Ctx y, std::int64_t next_lo) const {
    y.lo[chunk_rank(s)] = next_lo;
    return masked_out(s, y);
  }

  // ---- buffers and dependencies ----

  const BufferPlan& plan_of(int b) const { return g_.buffers[std::size_t(b)]; }

  std::uint32_t ranks_of_tensor(int t) const {
    std::uint32_t v = 0;
    for (int r : c_.tensor(t).ranks) v |= 1u << r;
    return v;
  }

  // The coordinates of tensor t's buffer tile at x (written tensors keep whole non-looped ranks).
  Coords buffer_coords(int t, const Ctx& x) const {
    Coords k;
    k.inst = written_[std::size_t(t)] ? x.inst : same_block_[std::size_t(t)][std::size_t(x.inst)];
    k.split = written_[std::size_t(t)] ? x.split : 0;
    const auto& rs = c_.tensor(t).ranks;
    for (std::size_t i = 0; i < rs.size(); ++i) {
      const int r = rs[i];
      // Across groups, a written tensor over both masked ranks keeps the keys the tile reaches (masked_context),
      // unless it is written chunk by chunk into the whole rank.
      const bool reach = g_.cross_mask && r == pr_ && (ranks_of_tensor(t) >> mr_ & 1u) && written_[std::size_t(t)] &&
                         (!g_.stream_chunk[pr_] || chunk_rank(c_.producer(t)) != pr_);
      const bool whole = g_.loop_depth[r] < 0 && !(g_.stream_chunk[r] && g_.chunked[std::size_t(t)]) && !reach;
      k.lo[i] = whole && written_[std::size_t(t)] ? 0 : x.lo[r];
      k.len[i] = whole && written_[std::size_t(t)] ? c_.extent[std::size_t(r)] : x.len[r];
    }
    if (rs.size() == 1) k.lo[1] = 0, k.len[1] = 1;
    return k;
  }
  Coords access_coords(int t, const Ctx& x) const {
    Coords k;
    k.inst = x.inst;
    k.split = written_[std::size_t(t)] ? x.split : 0;
    const auto& rs = c_.tensor(t).ranks;
    for (std::size_t i = 0; i < rs.size(); ++i) k.lo[i] = x.lo[rs[i]], k.len[i] = x.len[rs[i]];
    if (rs.size() == 1) k.lo[1] = 0, k.len[1] = 1;
    return k;
  }

  // The row stride of a slot's tile: the buffer's when it sets one (a concatenated pair), else the
  // tile's own width, so that a tile shorter than the buffer at the end of a rank is dense.
  std::int64_t slot_ld(int b, int slot) const {
    const BufferPlan& bp = plan_of(b);
    if (bp.ld) return bp.ld;
    const Slot& sl = bufs_[std::size_t(b)].slot[slot];
    return sl.at.len[1] > 0 && !bp.resident ? sl.at.len[1] : bp.cols;
  }

  SramTile tile_in(int b, int slot, const Coords& a) const {
    const BufferPlan& bp = plan_of(b);
    const Slot& sl = bufs_[std::size_t(b)].slot[slot];
    const std::int64_t ld = slot_ld(b, slot);
    const std::uint64_t off = std::uint64_t((a.lo[0] - sl.at.lo[0]) * ld + (a.lo[1] - sl.at.lo[1]));
    return tile_at(bp.slot_addr(slot) + off * std::uint64_t(bp.elem_bytes), a.len[0], a.len[1], bp.elem_bytes, ld);
  }

  // The slot of buffer b holding `a` as of the current point (the newest one opened by then).
  int find_slot(int b, const Coords& a, bool exact) const {
    const BufState& st = bufs_[std::size_t(b)];
    int best = -1;
    for (int i = 0; i < int(st.slot.size()); ++i) {
      const Slot& sl = st.slot[std::size_t(i)];
      if (sl.at.inst < 0 || sl.point > point_) continue;
      if (exact ? !(sl.at == a) : !sl.at.contains(a)) continue;
      if (best < 0 || sl.point > st.slot[std::size_t(best)].point) best = i;
    }
    return best;
  }

  // The slot of buffer b holding DRAM block `src` as of the current point (the newest), -1 when none.
  int find_loaded(int b, const DramBlock& src) const {
    const BufState& st = bufs_[std::size_t(b)];
    int best = -1;
    for (int i = 0; i < int(st.slot.size()); ++i) {
      const Slot& sl = st.slot[std::size_t(i)];
      if (sl.at.inst < 0 || sl.point > point_ || sl.src.rows == 0) continue;
      if (sl.src.tensor != src.tensor || sl.src.row0 != src.row0 || sl.src.col0 != src.col0 ||
          sl.src.rows != src.rows || sl.src.cols != src.cols)
        continue;
      if (best < 0 || sl.point > st.slot[std::size_t(best)].point) best = i;
    }
    return best;
  }

  // The copy of buffer b that instance inst uses (its place in an interleaved chunk).
  int copy_of(int b, int inst) const {
    const int n = plan_of(b).copies;
    return n > 1 ? (inst - cur_point_->chunk0) % n : 0;
  }

  // Takes the next slot of buffer b for a new tile; its previous accesses go into d (WAR, WAW).
  int take_slot(int b, const Coords& k, Deps& d) {
    BufState& st = bufs_[std::size_t(b)];
    const int depth = plan_of(b).depth, j = copy_of(b, k.inst < 0 ? cur_point_->inst : k.inst);
    int& cur = st.cur[std::size_t(j)];
    cur = cur < 0 ? j * depth : j * depth + (cur - j * depth + 1) % depth;
    Slot& sl = st.slot[std::size_t(cur)];
    for (int u = 0; u < kUnits; ++u) d.add(u, sl.write[u]), d.add(u, sl.read[u]);
    sl.reset_accesses();
    sl.at = k;
    sl.src = DramBlock{};
    sl.open = true;
    sl.point = point_;
    return cur;
  }

  struct Access {
    int buf = -1, slot = -1;
    SramTile tile;
  };

  // A tile of tensor t to read at x: loaded when it comes from DRAM and is not resident.
  Access read(int t, const Ctx& x, Deps& d, std::vector<std::pair<int, int>>* reads) {
    Access a;
    a.buf = g_.buffer_of[std::size_t(t)];
    const Coords ac = access_coords(t, x);
    if (plan_of(a.buf).resident) {
      read_resident(t, x, a, d);
    } else if (g_.dram[std::size_t(t)] && !written_[std::size_t(t)]) {
      const Coords k = buffer_coords(t, x);
      const DramBlock& blk = inst_[std::size_t(x.inst)].blocks[std::size_t(t)];
      const DramBlock part{blk.tensor, blk.row0 + k.lo[0], blk.col0 + k.lo[1], k.len[0], k.len[1]};
      // Resident when a slot holds the same DRAM block: also across instances that share it (weights
      // every head reads), since nothing this group reads from DRAM is written by it.
      a.slot = find_loaded(a.buf, part);
      if (a.slot < 0) {
        Deps ld;
        a.slot = take_slot(a.buf, k, ld);
        const BufferPlan& bp = plan_of(a.buf);
        const auto l = ld.list(Opcode::Load);
        const std::uint32_t id =
            em_.load(part, tile_at(bp.slot_addr(a.slot), k.len[0], k.len[1], bp.elem_bytes, slot_ld(a.buf, a.slot)),
                     {l[0], l[1], l[2], l[3]});
        Slot& sl = bufs_[std::size_t(a.buf)].slot[a.slot];
        sl.write[unit_index(Opcode::Load)] = id;
        sl.open = false;
        sl.src = part;
      } else {
        // Another instance's tile of the same block: addressed with this instance's coordinates.
        bufs_[std::size_t(a.buf)].slot[a.slot].at.inst = x.inst;
      }
    } else {
      a.slot = find_slot(a.buf, ac, false);
      if (a.slot < 0)
        throw InternalError("cascade " + c_.desc.name + ": tile of " + c_.tensor(t).name +
                            " read before it was written (mapping check missed a case)");
    }
    const Slot& sl = bufs_[std::size_t(a.buf)].slot[a.slot];
    if (!plan_of(a.buf).resident)  // a resident cell's reader waits for that cell's load (read_resident)
      for (int u = 0; u < kUnits; ++u) d.add(u, sl.write[u]);
    a.tile = tile_in(a.buf, a.slot, ac);
    reads->push_back({a.buf, a.slot});
    return a;
  }

  // A tile of resident tensor t at x: the instance's whole tensor has a slot (a new one at the
  // instance's first tile); the tile is loaded into its place there at its first use, after the last
  // reads of the tile the slot's previous instance had there (a cell's readers, not the whole slot's:
  // the next instance's tiles load while the last one's later tiles are still read). The reader
  // depends on that tile's load.
  void read_resident(int t, const Ctx& x, Access& a, Deps& d) {
    const BufferPlan& bp = plan_of(a.buf);
    BufState& st = bufs_[std::size_t(a.buf)];
    const DramBlock& blk = inst_[std::size_t(x.inst)].blocks[std::size_t(t)];
    a.slot = find_loaded(a.buf, blk);
    if (a.slot < 0) {
      Coords whole;
      whole.inst = same_block_[std::size_t(t)][std::size_t(x.inst)];
      whole.len[0] = bp.rows, whole.len[1] = bp.cols;
      Deps slot_war;  // every access to the slot: the cells' readers below are the ones that matter
      a.slot = take_slot(a.buf, whole, slot_war);
      Slot& sl = st.slot[a.slot];
      sl.open = false;
      sl.src = blk;
      std::fill(st.cell_load[a.slot].begin(), st.cell_load[a.slot].end(), kNoInstr);
    } else {
      st.slot[a.slot].at.inst = x.inst;  // another instance sharing the block (as read() does)
    }
    const Coords k = buffer_coords(t, x);
    const std::int64_t r = k.lo[0] / bp.cell_rows, col = k.lo[1] / bp.cell_cols;
    ATTNSIM_ASSERT(k.lo[0] % bp.cell_rows == 0 && k.lo[1] % bp.cell_cols == 0 &&
                       k.len[0] == std::min(bp.cell_rows, bp.rows - k.lo[0]) &&
                       k.len[1] == std::min(bp.cell_cols, bp.cols - k.lo[1]),
                   "a resident tile off the tile grid");
    const std::size_t ci = std::size_t(r * st.cells_across + col);
    std::uint32_t& cell = st.cell_load[std::size_t(a.slot)][ci];
    if (cell == kNoInstr) {
      // The previous instance's readers of this cell (WAR); its load of the cell came earlier on the
      // load unit.
      Deps war;
      BufState::CellReaders& readers = st.cell_read[std::size_t(a.slot)][ci];
      for (int u = 0; u < kUnits; ++u) war.add(u, readers.by_unit[u]), readers.by_unit[u] = kNoInstr;
      const DramBlock part{blk.tensor, blk.row0 + k.lo[0], blk.col0 + k.lo[1], k.len[0], k.len[1]};
      const auto l = war.list(Opcode::Load);
      Slot& sl = st.slot[a.slot];
      cell = em_.load(part, tile_in(a.buf, a.slot, k), {l[0], l[1], l[2], l[3]});
      sl.write[unit_index(Opcode::Load)] = cell;
    }
    d.add(unit_index(Opcode::Load), cell);
    st.last_cell = int(ci);
  }

  // The tile of tensor t to write at x: the open tile when it continues (a sum, a chunk), else a new slot.
  // A contraction continuing its sum on the array does not wait for the array's previous GEMM when that GEMM
  // wrote the tile last: the array runs its GEMMs in order and chains them (a fold's partial sums follow the
  // previous fold's), as the hand-written GEMM emitter's consecutive K steps do; a dependency would hold the
  // array until that GEMM has drained. `chain`: the group's mapping asks for it (GEMM cascades);
  // `chained`: an accumulation over a loop, when no other GEMM read the tile since.
  Access write(int t, const Ctx& x, Deps& d, bool chain = false, bool chained = false) {
    Access a;
    a.buf = g_.buffer_of[std::size_t(t)];
    const Coords k = buffer_coords(t, x);
    BufState& st = bufs_[std::size_t(a.buf)];
    if (plan_of(a.buf).tensor != t) {
      // Written in place (mapping.h): over the input's tile it is computed from, in that tile's slot.
      a.slot = find_slot(a.buf, k, true);
      ATTNSIM_ASSERT(a.slot >= 0, "an in-place tile's input is not on chip");
      Slot& sl = st.slot[std::size_t(a.slot)];
      for (int u = 0; u < kUnits; ++u) d.add(u, sl.write[u]), d.add(u, sl.read[u]);
      sl.open = true;
      a.tile = tile_in(a.buf, a.slot, access_coords(t, x));
      return a;
    }
    const int cur = st.cur[std::size_t(copy_of(a.buf, x.inst))];
    int open = cur >= 0 && st.slot[std::size_t(cur)].open && st.slot[std::size_t(cur)].at == k ? cur : -1;
    // Split-K: the run's accumulator, open among the other runs'; a loop inside the summed one (mapping.h): the
    // tile's, open among its neighbours'.
    if (open < 0)
      for (int i = 0; i < plan_of(a.buf).depth && open < 0; ++i)
        if (st.slot[std::size_t(i)].open && st.slot[std::size_t(i)].at == k) open = i;
    if (open >= 0) {
      a.slot = open;
      const Slot& sl = st.slot[std::size_t(a.slot)];
      const int gemm = unit_index(Opcode::Gemm);
      const bool after_last = last_gemm_ != kNoInstr && sl.write[gemm] == last_gemm_;
      const bool chain_now =
          after_last && (chain || (chained && (sl.read[gemm] == kNoInstr || sl.read[gemm] == last_gemm_)));
      for (int u = 0; u < kUnits; ++u)
        if (!(chain_now && u == gemm)) d.add(u, sl.write[u]), d.add(u, sl.read[u]);
    } else {
      a.slot = take_slot(a.buf, k, d);
    }
    a.tile = tile_in(a.buf, a.slot, access_coords(t, x));
    return a;
  }

  void note(const std::vector<std::pair<int, int>>& reads, const Access* w, Opcode op, std::uint32_t id) {
    for (const auto& [b, s] : reads) {
      BufState& st = bufs_[std::size_t(b)];
      st.slot[s].read[unit_index(op)] = id;
      if (plan_of(b).resident) st.cell_read[std::size_t(s)][std::size_t(st.last_cell)].by_unit[unit_index(op)] = id;
    }
    if (w) bufs_[std::size_t(w->buf)].slot[w->slot].write[unit_index(op)] = id;
  }

  // The stats tile of an online softmax at x: a new one at the first key tile.
  Access stats(int softmax_step, const Ctx& x, bool first, Deps& d) {
    Access a;
    a.buf = g_.stats_buffer[std::size_t(softmax_step)];
    const int row = c_.tensor(c_.step(softmax_step).in[0]).ranks[0];
    Coords k;
    k.inst = x.inst;
    k.split = x.split;
    k.lo[0] = x.lo[row], k.len[0] = x.len[row], k.lo[1] = 0, k.len[1] = 3;
    if (first) {
      a.slot = take_slot(a.buf, k, d);
    } else {
      a.slot = find_slot(a.buf, k, true);
      ATTNSIM_ASSERT(a.slot >= 0, "online softmax stats missing");
      const Slot& sl = bufs_[std::size_t(a.buf)].slot[a.slot];
      for (int u = 0; u < kUnits; ++u) d.add(u, sl.write[u]), d.add(u, sl.read[u]);
    }
    a.tile = tile_in(a.buf, a.slot, k);
    return a;
  }

  // The index in the loop over `rank`, and whether it is the last; for the split loop, within the run.
  std::int64_t loop_index(int rank) const {
    const int d = g_.loop_depth[rank];
    if (d >= 0 && rank == g_.split_rank) return cur_point_->t;
    return d < 0 ? 0 : cur_point_->idx[d];
  }
  bool loop_last(int rank) const {
    const int d = g_.loop_depth[rank];
    if (d >= 0 && rank == g_.split_rank) return cur_point_->t == split_len(*cur_point_, cur_point_->split) - 1;
    return d < 0 || cur_point_->idx[d] == cur_point_->count[d] - 1;
  }

  void emit_once(int s, const Ctx& x, bool chunk_first, bool chunk_last, int cr = -1) {
    const StepDecl& st = c_.step(s);
    std::vector<std::pair<int, int>>& reads = reads_;
    reads.clear();
    Deps d;
    std::uint32_t id = kNoInstr;
    Opcode op = Opcode::Vector;
    Access w;
    bool complete = true;
    switch (st.kind) {
      case StepKind::Contract: {
        const bool sum_chunked = cr == st.over;
        const bool first = loop_index(st.over) == 0 && (!sum_chunked || chunk_first);
        const bool last = loop_last(st.over) && (!sum_chunked || chunk_last);
        const Access a = read(st.in[0], x, d, &reads), b = read(st.in[1], x, d, &reads);
        const int sm = g_.online_of[std::size_t(s)];
        if (sm >= 0 && !first) {
          // Rescale the running output by alpha before adding this key tile's P V.
          Deps rd;
          std::vector<std::pair<int, int>>& rreads = rescale_reads_;
          rreads.clear();
          const Access o = write(st.out, x, rd);
          const Access sa = stats(sm, x, false, rd);
          rreads.push_back({sa.buf, sa.slot});
          em_.set_class(classes_[std::size_t(sm)]);
          const auto l = rd.list(Opcode::Softmax);
          const std::uint32_t r = em_.softmax(SmOp::Rescale, {}, sa.tile, o.tile, {l[0], l[1], l[2], l[3]});
          note(rreads, &o, Opcode::Softmax, r);
          em_.set_class(classes_[std::size_t(s)]);
        }
        // A sum of two contractions: the second term's operands too, read before the output is written.
        Access a2, b2;
        if (st.in.size() == 4) a2 = read(st.in[2], x, d, &reads), b2 = read(st.in[3], x, d, &reads);
        // Chained onto the previous GEMM's tile (write()) by the mapping's chain, or over a loop's accumulation,
        // except over a streamed rank's chunks: the mapper's sliced timing misreads those groups once their chunks
        // chain (row-fused with 16-key chunks on a 16x16 edge array: 358,749 cycles from its slices, 541,071
        // timed whole).
        w = write(st.out, x, d, g_.map.chain && sm < 0, /*chained=*/sm < 0 && !sum_chunked && !first);
        op = Opcode::Gemm;
        const auto l = d.list(op);
        if (st.in.size() == 4 && concatenated(a.tile, a2.tile, b.tile, b2.tile, st)) {
          // [A1 | A2] [B1; B2]: one GEMM over both summed halves.
          const SramTile ac = tile_at(a.tile.addr, a.tile.rows, 2 * a.tile.cols, a.tile.elem_bytes, a.tile.stride());
          const SramTile bc = tile_at(b.tile.addr, 2 * b.tile.rows, b.tile.cols, b.tile.elem_bytes, b.tile.stride());
          id = em_.gemm(ac, bc, w.tile, !first, false, {l[0], l[1], l[2], l[3]});
        } else {
          id = em_.gemm(a.tile, b.tile, w.tile, !first, st.b_transposed, {l[0], l[1], l[2], l[3]});
          if (st.in.size() == 4)  // accumulates onto the first term (the array runs its GEMMs in order)
            id = em_.gemm(a2.tile, b2.tile, w.tile, true, st.b2_transposed, {l[0], l[1], l[2], l[3]});
        }
        last_gemm_ = id;
        complete = last;
        break;
      }
      // ---- low-rank variants: gather ----
      case StepKind::Gather: {
        // Sample rows floor(i (T - 1) / (J - 1)) of the source, one LOAD each, into the output tile.
        // Readers wait for the last row's load, as for every tile the generic lowering loads.
        const int src = st.in[0];
        const int jr = c_.tensor(st.out).ranks[0], er = c_.tensor(st.out).ranks[1];
        const std::int64_t samples = c_.extent[std::size_t(jr)], rows = c_.extent[std::size_t(c_.tensor(src).ranks[0])];
        w = write(st.out, x, d);
        op = Opcode::Load;
        const DramBlock& blk = inst_[std::size_t(x.inst)].blocks[std::size_t(src)];
        const auto l = d.list(op);
        const std::uint64_t row_bytes = std::uint64_t(w.tile.stride()) * w.tile.elem_bytes;
        for (std::int64_t i = 0; i < x.len[jr]; ++i) {
          const std::int64_t j = x.lo[jr] + i;
          const std::int64_t row = samples == 1 ? rows - 1 : j * (rows - 1) / (samples - 1);
          id = em_.load(DramBlock{blk.tensor, blk.row0 + row, blk.col0 + x.lo[er], 1, x.len[er]},
                        tile_at(w.tile.addr + std::uint64_t(i) * row_bytes, 1, x.len[er], w.tile.elem_bytes),
                        {l[0], l[1], l[2], l[3]});
        }
        break;
      }
      case StepKind::Softmax: {
        const Access a = read(st.in[0], x, d, &reads);
        w = write(st.out, x, d);
        op = Opcode::Softmax;
        const int mrow = c_.tensor(st.in[0]).ranks[0], pcol = st.over;
        const std::int64_t offset = x.lo[mrow] - x.lo[pcol];
        const bool masked = c_.causal[std::size_t(s)] && x.lo[pcol] + x.len[pcol] - 1 > x.lo[mrow];
        if (g_.online[std::size_t(s)]) {
          const bool first = loop_index(pcol) == 0;
          const Access sa = stats(s, x, first, d);
          const auto l = d.list(op);
          id = em_.softmax(SmOp::OnlineStep, a.tile, sa.tile, w.tile, {l[0], l[1], l[2], l[3]},
                           c_.scale[std::size_t(s)], masked, offset, first);
          note({}, &sa, op, id);
          reads.push_back({sa.buf, sa.slot});
        } else {
          const auto l = d.list(op);
          id = em_.softmax(SmOp::Rows, a.tile, {}, w.tile, {l[0], l[1], l[2], l[3]}, c_.scale[std::size_t(s)], masked,
                           offset);
        }
        break;
      }
      // ---- Performer and Nystromformer steps ----
      case StepKind::Favor: {
        const Access a = read(st.in[0], x, d, &reads), b = read(st.in[1], x, d, &reads);
        w = write(st.out, x, d);
        const auto l = d.list(op);
        id = em_.vector(st.tokens_in_cols ? VecOp::FavorCols : VecOp::FavorRows, a.tile, b.tile, w.tile,
                        {l[0], l[1], l[2], l[3]}, c_.scale[std::size_t(s)]);
        break;
      }
      case StepKind::SegmentMean: {
        const bool sum_chunked = cr == st.over;
        const Access a = read(st.in[0], x, d, &reads);
        w = write(st.out, x, d);
        id = emit_segment_means(s, x, a.tile, w.tile, d);
        complete = loop_last(st.over) && (!sum_chunked || chunk_last);
        break;
      }
      case StepKind::Pinv:
        return emit_pinv(s, x);
      case StepKind::Map:
      case StepKind::Reduce: {
        const Access a = read(st.in[0], x, d, &reads);
        SramTile bt;
        if (st.in.size() > 1) bt = read(st.in[1], x, d, &reads).tile;
        w = write(st.out, x, d);
        op = Opcode::Vector;
        const VecOp v = vector_op_of(st);
        float imm = 0;
        Slot* carry = nullptr;
        if (v == VecOp::Scale) {
          imm = c_.scale[std::size_t(s)];
        } else if (v == VecOp::PrefixMean) {
          // The carry holds the sum of the rows before this tile: fresh at the scan's first row.
          imm = float(x.lo[st.over]);
          Slot& cs = bufs_[std::size_t(g_.stats_buffer[std::size_t(s)])].slot[0];
          for (int u = 0; u < kUnits; ++u) d.add(u, cs.write[u]), d.add(u, cs.read[u]);
          carry = &cs;
          bt = tile_at(plan_of(g_.stats_buffer[std::size_t(s)]).addr[0], 1, a.tile.cols, 4);
        }
        const auto l = d.list(op);
        id = em_.vector(v, a.tile, bt, w.tile, {l[0], l[1], l[2], l[3]}, imm, v == VecOp::PrefixMean && imm == 0.f);
        if (carry) carry->write[unit_index(op)] = carry->read[unit_index(op)] = id;
        break;
      }
    }
    note(reads, &w, op, id);
    // A tile written chunk by chunk into a whole on-chip rank completes with its last chunk.
    if (cr >= 0 && cr != st.over && !(g_.stream_chunk[cr] && g_.chunked[std::size_t(st.out)])) {
      for (int r : c_.tensor(st.out).ranks)
        if (r == cr) complete &= chunk_last;
    }
    // Ahead 2 (mapping.h): a complete running output is normalised (split runs combined) and stored after
    // the next point's readers (the next query tile's first softmax step), so that the softmax unit does
    // not wait for its last P V first; the next tile's statistics take a slot of their own meanwhile.
    if (complete && defer_ && g_.online_of[std::size_t(s)] >= 0 &&
        plan_of(g_.stats_buffer[std::size_t(g_.online_of[std::size_t(s)])]).depth >= 2 * g_.map.splits) {
      flush();  // at most one waits (one per point; the previous point's was flushed after this one's readers)
      pending_ = true, pend_s_ = s, pend_x_ = x, pend_w_ = w;
    } else if (complete) {
      finish(s, x, w);
    }
    // A result written in place (mapping.h) holds the step's other inputs of as many slots until it is
    // stored: their slots, paired with the result's, are reused after that store (a GEMM's residual tile
    // is freed with the C tile it went into). An input of fewer slots than the result's (the residual
    // tiles of a GEMM with a row of C tiles open, k in the middle) is free once the step has read it.
    if (complete && w.buf >= 0 && plan_of(w.buf).tensor != st.out && g_.dram[std::size_t(st.out)]) {
      const std::uint32_t stored = bufs_[std::size_t(w.buf)].slot[w.slot].read[unit_index(Opcode::Store)];
      for (const auto& [b, sl] : reads)
        if (b != w.buf && plan_of(b).depth == plan_of(w.buf).depth)
          bufs_[std::size_t(b)].slot[sl].read[unit_index(Opcode::Store)] = stored;
    }
  }

  // ---- Performer and Nystromformer: segment means and the pseudo-inverse ----

  // The rows [lo, lo + len) of the input's token rank in tile `in` (a tile or a chunk) added into their
  // segments' rows of `out` (all segments, whole): one ColMeanAcc per segment the rows touch, starting
  // the segment's row (first) where the segment starts. Returns the last instruction: all run on the
  // vector unit, in order, so the first one's dependencies cover them all.
  std::uint32_t emit_segment_means(int s, const Ctx& x, const SramTile& in, const SramTile& out, const Deps& d) {
    const StepDecl& st = c_.step(s);
    const std::int64_t n = c_.extent[std::size_t(st.over)], segs = c_.rows(st.out);
    const std::int64_t lo = x.lo[st.over], hi = lo + x.len[st.over];
    auto seg0 = [&](std::int64_t i) { return i * n / segs; };
    std::int64_t i = lo * segs / n;
    while (i + 1 < segs && seg0(i + 1) <= lo) ++i;
    while (i > 0 && seg0(i) > lo) --i;
    const auto l = d.list(Opcode::Vector);
    std::uint32_t id = kNoInstr;
    for (; i < segs && seg0(i) < hi; ++i) {
      const std::int64_t s0 = seg0(i), s1 = seg0(i + 1), r0 = std::max(s0, lo), r1 = std::min(s1, hi);
      SramTile rows = in;
      rows.addr += std::uint64_t(r0 - lo) * in.stride() * in.elem_bytes;
      rows.rows = std::uint32_t(r1 - r0);
      SramTile row = out;
      row.addr += std::uint64_t(i) * out.stride() * out.elem_bytes;
      row.rows = 1;
      id = em_.vector(VecOp::ColMeanAcc, rows, {}, row, {l[0], l[1], l[2], l[3]}, float(1.0 / double(s1 - s0)),
                      s0 >= lo);
    }
    ATTNSIM_ASSERT(id != kNoInstr, "segment_mean: a token tile in no segment");
    return id;
  }

  // pinv: Z0 = A^T / max column sum of A, then the iterations (cascade.h), every instruction's
  // dependencies derived from the slots it reads and writes like any step's.
  void emit_pinv(int s, const Ctx& x) {
    const StepDecl& st = c_.step(s);
    std::vector<std::pair<int, int>> ignored;
    Deps unused, first_write;
    const Access a = read(st.in[0], x, unused, &ignored), ident = read(st.in[1], x, unused, &ignored);
    const Access z = write(st.out, x, first_write);  // WAR on the slot's previous use goes to Z0's writer
    const int sb = g_.scratch_buffer[std::size_t(s)];
    const std::int64_t l = c_.rows(st.in[0]);
    struct Use {
      int buf, slot;
      bool write;
    };
    auto scratch = [&](int k) {
      const BufferPlan& bp = plan_of(sb + k);
      return std::make_pair(Use{sb + k, 0, false}, tile_at(bp.addr[0], bp.rows, bp.cols, bp.elem_bytes));
    };
    auto issue = [&](Opcode op, std::initializer_list<Use> uses, const Deps* extra, auto emit) {
      Deps d = extra ? *extra : Deps{};
      for (const Use& u : uses) {
        const Slot& sl = bufs_[std::size_t(u.buf)].slot[u.slot];
        for (int k = 0; k < kUnits; ++k) {
          d.add(k, sl.write[k]);
          if (u.write) d.add(k, sl.read[k]);
        }
      }
      const std::uint32_t id = emit(d.list(op));
      if (op == Opcode::Gemm) last_gemm_ = id;
      for (const Use& u : uses) {
        Slot& sl = bufs_[std::size_t(u.buf)].slot[u.slot];
        (u.write ? sl.write : sl.read)[unit_index(op)] = id;
      }
      return id;
    };
    auto rd = [](std::pair<Use, SramTile> p) { return p.first; };
    auto wr = [](std::pair<Use, SramTile> p) { return Use{p.first.buf, p.first.slot, true}; };
    const auto cs = scratch(kPinvColSum), cm = scratch(kPinvColMax), zacc = scratch(kPinvZacc), az = scratch(kPinvAZ),
               azo = scratch(kPinvAZop), xm = scratch(kPinvX), t = scratch(kPinvT);
    const Use ua{a.buf, a.slot, false}, ui{ident.buf, ident.slot, false}, zr{z.buf, z.slot, false},
        zw{z.buf, z.slot, true};
    const SramTile at = a.tile, it = ident.tile, zt = z.tile;
    ATTNSIM_ASSERT(std::int64_t(at.rows) == l && std::int64_t(zt.rows) == l, "pinv on a partial tile");
    auto vec = [&](VecOp op, const SramTile& in0, const SramTile& in1, const SramTile& out, float imm, bool first) {
      return [&, op, in0, in1, out, imm, first](const std::array<std::uint32_t, 4>& l4) {
        return em_.vector(op, in0, in1, out, {l4[0], l4[1], l4[2], l4[3]}, imm, first);
      };
    };
    auto mm = [&](const SramTile& p, const SramTile& q, const SramTile& out, bool bt) {
      return [&, p, q, out, bt](const std::array<std::uint32_t, 4>& l4) {
        return em_.gemm(p, q, out, false, bt, {l4[0], l4[1], l4[2], l4[3]});
      };
    };
    issue(Opcode::Vector, {ua, wr(cs)}, nullptr, vec(VecOp::ColMeanAcc, at, {}, cs.second, 1.f, true));
    issue(Opcode::Vector, {rd(cs), wr(cm)}, nullptr, vec(VecOp::RowMax, cs.second, {}, cm.second, 0.f, false));
    issue(Opcode::Gemm, {ui, ua, wr(zacc)}, nullptr, mm(it, at, zacc.second, true));  // A^T = I A^T
    issue(Opcode::Vector, {rd(zacc), rd(cm), zw}, &first_write,
          vec(VecOp::DivScalar, zacc.second, cm.second, zt, 0.f, false));
    for (int i = 0; i < st.iterations; ++i) {
      issue(Opcode::Gemm, {ua, zr, wr(az)}, nullptr, mm(at, zt, az.second, false));  // AZ = A Z
      issue(Opcode::Vector, {rd(az), wr(azo)}, nullptr, vec(VecOp::Copy, az.second, {}, azo.second, 0.f, false));
      issue(Opcode::Vector, {rd(az), wr(xm)}, nullptr, vec(VecOp::IdentMinus, az.second, {}, xm.second, 7.f, false));
      issue(Opcode::Gemm, {rd(azo), rd(xm), wr(t)}, nullptr, mm(azo.second, xm.second, t.second, false));
      issue(Opcode::Vector, {rd(t), wr(xm)}, nullptr, vec(VecOp::IdentMinus, t.second, {}, xm.second, 15.f, false));
      issue(Opcode::Gemm, {rd(azo), rd(xm), wr(t)}, nullptr, mm(azo.second, xm.second, t.second, false));
      issue(Opcode::Vector, {rd(t), wr(xm)}, nullptr, vec(VecOp::IdentMinus, t.second, {}, xm.second, 13.f, false));
      issue(Opcode::Gemm, {zr, rd(xm), wr(zacc)}, nullptr, mm(zt, xm.second, zacc.second, false));
      issue(Opcode::Vector, {rd(zacc), zw}, nullptr, vec(VecOp::Scale, zacc.second, {}, zt, 0.25f, false));
    }
    finish(s, x, z);
  }

  // A complete tile: normalised when it sums an online softmax's output, stored when it goes to DRAM.
  void finish(int s, const Ctx& x, const Access& w, bool combined = false) {
    const int t = c_.step(s).out;
    Slot& sl = bufs_[std::size_t(w.buf)].slot[w.slot];
    sl.open = false;
    const int sm = g_.online_of[std::size_t(s)];
    if (sm >= 0 && sm == g_.split_step && !combined) {
      // Split-K: the run's accumulator is complete; the last run to complete combines them all.
      split_done_[std::size_t(x.split)] = w.slot;
      if (++splits_complete_ < g_.map.splits) return;
      splits_complete_ = 0;
      Ctx x0 = x;
      x0.split = 0;
      return finish(s, x0, combine_splits(sm, x, w.buf), true);
    }
    const Coords k = sl.at;
    const SramTile whole = tile_in(w.buf, w.slot, k);
    if (sm >= 0) {
      Deps d;
      for (int u = 0; u < kUnits; ++u) d.add(u, sl.write[u]), d.add(u, sl.read[u]);
      const Access sa = stats(sm, x, false, d);
      em_.set_class(classes_[std::size_t(sm)]);
      const auto l = d.list(Opcode::Softmax);
      const std::uint32_t id = em_.softmax(SmOp::Normalize, whole, sa.tile, whole, {l[0], l[1], l[2], l[3]});
      sl.write[unit_index(Opcode::Softmax)] = id;
      sl.read[unit_index(Opcode::Softmax)] = id;
      bufs_[std::size_t(sa.buf)].slot[sa.slot].read[unit_index(Opcode::Softmax)] = id;
    }
    if (g_.dram[std::size_t(t)]) {
      Deps d;
      for (int u = 0; u < kUnits; ++u) d.add(u, sl.write[u]);
      const DramBlock& blk = inst_[std::size_t(x.inst)].blocks[std::size_t(t)];
      const DramBlock part{blk.tensor, blk.row0 + k.lo[0], blk.col0 + k.lo[1], k.len[0], k.len[1]};
      // A result written in place leaves as the tile it was written over (a GEMM's output, its epilogue
      // done): its store counts as that tile's producer.
      const int owner = plan_of(w.buf).tensor;
      em_.set_class(classes_[std::size_t(owner != t && owner >= 0 ? c_.producer(owner) : s)]);
      const auto l = d.list(Opcode::Store);
      sl.read[unit_index(Opcode::Store)] = em_.store(part, whole, {l[0], l[1], l[2], l[3]});
    }
  }

  // Split-K's combine (mapping.h, splits), every run's accumulator complete: run 0 absorbs each other
  // run r in turn: Merge(stats_0, stats_r) -> the common max and sum, alpha_0, alpha_r; Rescale both
  // accumulators by their alpha; O_0 += O_r. Returns run 0's accumulator, which finish() normalises by
  // stats_0 and stores. Dependencies from the slots read and written, as every step's.
  Access combine_splits(int sm, const Ctx& x, int obuf) {
    Ctx x0 = x;
    x0.split = 0;
    auto slot_deps = [&](Deps& d, const Slot& sl, bool writes) {
      for (int u = 0; u < kUnits; ++u) {
        d.add(u, sl.write[u]);
        if (writes) d.add(u, sl.read[u]);
      }
    };
    Access o0;
    o0.buf = obuf;
    o0.slot = split_done_[0];
    Slot& so0 = bufs_[std::size_t(obuf)].slot[o0.slot];
    o0.tile = tile_in(obuf, o0.slot, so0.at);
    for (int r = 1; r < g_.map.splits; ++r) {
      Ctx xr = x;
      xr.split = r;
      Deps d0, dr;
      const Access s0 = stats(sm, x0, false, d0), sr = stats(sm, xr, false, dr);
      Slot& ss0 = bufs_[std::size_t(s0.buf)].slot[s0.slot];
      Slot& ssr = bufs_[std::size_t(sr.buf)].slot[sr.slot];
      Slot& sor = bufs_[std::size_t(obuf)].slot[split_done_[std::size_t(r)]];
      const SramTile or_tile = tile_in(obuf, split_done_[std::size_t(r)], sor.at);
      em_.set_class(classes_[std::size_t(sm)]);
      Deps dm;
      slot_deps(dm, ss0, true), slot_deps(dm, ssr, true);
      auto l = dm.list(Opcode::Softmax);
      const std::uint32_t merge = em_.softmax(SmOp::Merge, {}, sr.tile, s0.tile, {l[0], l[1], l[2], l[3]});
      ss0.write[unit_index(Opcode::Softmax)] = ssr.write[unit_index(Opcode::Softmax)] = merge;
      ss0.read[unit_index(Opcode::Softmax)] = ssr.read[unit_index(Opcode::Softmax)] = merge;
      for (int which = 0; which < 2; ++which) {
        Slot& so = which ? sor : so0;
        Deps dr2;
        slot_deps(dr2, so, true), slot_deps(dr2, which ? ssr : ss0, false);
        l = dr2.list(Opcode::Softmax);
        const std::uint32_t id = em_.softmax(SmOp::Rescale, {}, which ? sr.tile : s0.tile, which ? or_tile : o0.tile,
                                             {l[0], l[1], l[2], l[3]});
        so.write[unit_index(Opcode::Softmax)] = so.read[unit_index(Opcode::Softmax)] = id;
        (which ? ssr : ss0).read[unit_index(Opcode::Softmax)] = id;
      }
      Deps da;
      slot_deps(da, so0, true), slot_deps(da, sor, false);
      l = da.list(Opcode::Vector);
      const std::uint32_t add = em_.vector(VecOp::Add, o0.tile, or_tile, o0.tile, {l[0], l[1], l[2], l[3]});
      so0.write[unit_index(Opcode::Vector)] = so0.read[unit_index(Opcode::Vector)] = add;
      sor.read[unit_index(Opcode::Vector)] = add;
    }
    return o0;
  }

  int split_done_[kMaxSplits] = {};  // split-K: per run, the slot of its complete accumulator
  int splits_complete_ = 0;

  const Cascade& c_;
  const GroupPlan& g_;
  Emitter& em_;
  const std::vector<Binding>& inst_;
  const std::vector<OpClass>& classes_;
  std::vector<BufState> bufs_;
  std::vector<char> written_;
  std::vector<std::vector<int>> same_block_;  // per tensor, per instance: the first instance reading its block
  std::uint32_t own_[64] = {}, ranks_[64] = {};
  int inner_from_[64] = {};  // per step: the first loop nested inside its innermost own loop
  int nloops_ = 0, mr_ = 0, pr_ = 0;
  std::uint64_t point_ = 0;
  std::uint32_t last_gemm_ = kNoInstr;  // the array's latest GEMM issued by this group, in program order
  const Point* cur_point_ = nullptr;
  Point ring_[kMaxAhead + 1];  // run(): the points issued ahead and the current one
  // Per step, the part of a point it is issued in (run()): a lookahead step; a step up to the last one
  // reading a buffer a lookahead step writes; the others.
  enum : unsigned { kAhead = 1, kReaders = 2, kOthers = 4 };
  unsigned part_[64] = {};
  // Ahead 2: the finish of a running output deferred past the next point's readers (emit_once).
  bool defer_ = false, pending_ = false;
  int pend_s_ = -1;
  Ctx pend_x_;
  Access pend_w_;
  std::vector<std::pair<int, int>> reads_, rescale_reads_;  // reused: no allocation per instruction
};

}  // namespace

VecOp vector_op_of(const StepDecl& st) {
  if (st.kind == StepKind::Reduce) return st.reduce == ReduceOp::Sum ? VecOp::RowSum : VecOp::RowMax;
  switch (st.map) {
    case MapOp::Scale:
      return VecOp::Scale;
    case MapOp::Exp:
      return VecOp::Exp;
    case MapOp::Relu:
      return VecOp::Relu;
    case MapOp::Gelu:
      return VecOp::Gelu;
    case MapOp::Copy:
      return VecOp::Copy;
    case MapOp::L2Norm:
      return VecOp::L2Norm;
    case MapOp::Add:
      return VecOp::Add;
    case MapOp::Mul:
      return VecOp::Mul;
    case MapOp::Div:
      return VecOp::DivCol;
    case MapOp::AddRow:
      return VecOp::AddRow;
    case MapOp::PrefixMean:
      return VecOp::PrefixMean;
    case MapOp::LayerNorm:
      return VecOp::LayerNorm;
    case MapOp::RmsNorm:
      return VecOp::RmsNorm;
    case MapOp::SwiGlu:
      return VecOp::SwiGlu;
    case MapOp::kCount:
      break;
  }
  throw InternalError("map op kCount");
}

std::vector<OpClass> default_classes(const Cascade& c) {
  std::vector<OpClass> v;
  std::vector<char> after_softmax(c.desc.tensors.size(), 0);
  for (std::size_t s = 0; s < c.desc.steps.size(); ++s) {
    const StepDecl& st = c.desc.steps[s];
    bool reads_sm = false;
    for (int t : st.in) reads_sm |= after_softmax[std::size_t(t)] != 0;
    switch (st.kind) {
      case StepKind::Contract:
        v.push_back(reads_sm ? OpClass::PV : OpClass::QK);
        break;
      case StepKind::Softmax:
        v.push_back(OpClass::Softmax);
        reads_sm = true;
        break;
      default:
        v.push_back(OpClass::LowRank);
    }
    after_softmax[std::size_t(st.out)] = reads_sm;
  }
  return v;
}

void emit_group(const HwConfig& hw, const CascadePlan& plan, int group, Emitter& em,
                const std::vector<Binding>& instances, const std::vector<OpClass>& classes) {
  ATTNSIM_ASSERT(plan.cascade && group >= 0 && std::size_t(group) < plan.groups.size(), "no such cascade group");
  ATTNSIM_ASSERT(plan.cascade->desc.steps.size() <= 64 && plan.groups[std::size_t(group)].map.loops.size() <= 32,
                 "cascade too large");
  for (const Binding& b : instances)
    ATTNSIM_ASSERT(b.blocks.size() == plan.cascade->desc.tensors.size(), "binding without a block per tensor");
  (void)hw;  // the plan already holds every hardware-dependent choice
  GroupEmitter(plan, group, em, instances, classes).run();
}

std::vector<BufferInfo> group_buffers(const CascadePlan& plan, int group, std::uint32_t phase) {
  std::vector<BufferInfo> v;
  const Cascade& c = *plan.cascade;
  for (const BufferPlan& b : plan.groups[std::size_t(group)].buffers) {
    if (b.host >= 0) continue;  // inside its host's slots (a concatenated operand pair)
    BufClass cls = BufClass::Activation;
    std::string name;
    if (b.tensor < 0) {
      name = buffer_name(c, b);
      cls = b.scratch ? BufClass::Score : BufClass::Stats;
    } else {
      name = c.tensor(b.tensor).name;
      const int p = c.producer(b.tensor);
      if (c.tensor(b.tensor).role == TensorRole::Output)
        cls = BufClass::Output;
      else if (p >= 0 && (c.step(p).kind == StepKind::Softmax || c.step(p).kind == StepKind::Contract))
        cls = BufClass::Score;
    }
    for (int i = 0; i < b.depth * b.copies; ++i)  // an interleaved group's copies: a slot per head too
      v.push_back({name + std::to_string(i), {b.slot_addr(i), b.slot_bytes()}, cls, phase});
  }
  return v;
}

TileProgram lower_program(const HwConfig& hw, const CascadePlan& plan, const std::vector<TensorInfo>& tensors,
                          const std::vector<Binding>& instances) {
  TileProgram p;
  p.tensors = tensors;
  const std::vector<OpClass> classes = default_classes(*plan.cascade);
  Emitter em(p, p.tensors);
  for (std::size_t g = 0; g < plan.groups.size(); ++g) {
    if (g) em.barrier();
    em.set_context(0, OpClass::Other);
    emit_group(hw, plan, int(g), em, instances, classes);
    for (const BufferInfo& b : group_buffers(plan, int(g), std::uint32_t(g))) p.buffers.push_back(b);
  }
  Mapping m;
  for (const GroupPlan& g : plan.groups) m.groups.push_back(g.map);
  p.summary = describe(*plan.cascade, m);
  return p;
}

}  // namespace attnsim::cascade
