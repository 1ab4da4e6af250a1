#include "hw/array/pe_array_core.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "common/errors.h"

namespace attnsim {

PeArrayCore::PeArrayCore(int rows, int cols, Dataflow df, TimingMode mode, bool chaining)
    : R_(rows),
      C_(cols),
      df_(df),
      mode_(mode),
      stationary_(df != Dataflow::OS),
      chaining_(chaining && mode == TimingMode::Overlapped) {
  ATTNSIM_ASSERT(rows > 0 && cols > 0, "array dimensions must be positive");
  std::int64_t ring = 1;
  while (ring < std::max(rows, cols)) ring *= 2;  // delays go up to max(R, C) - 1 cycles
  ring_mask_ = ring - 1;
  stream_ring_.resize(size_t(ring));
  load_ring_.resize(size_t(ring));
  ctxs_.resize(kCtxSlots);
  const size_t n = size_t(rows) * size_t(cols);
  row_in_.resize(size_t(rows));
  h_cur_.resize(n), h_nxt_.resize(n);
  if (stationary_) {
    load_in_.resize(size_t(cols));
    psum_cur_.resize(n), psum_nxt_.resize(n);
    chain_cur_.resize(n), chain_nxt_.resize(n);
    w_.resize(n), w_fold_.resize(n), w_live_.resize(n);
  } else {
    col_in_.resize(size_t(cols));
    v_cur_.resize(n), v_nxt_.resize(n);
    acc_.resize(n), acc_open_.resize(n), acc_fold_.resize(n);
    sacc_.resize(n), sacc_full_.resize(n), sacc_fold_.resize(n), sacc_seq_.resize(n);
    drain_cur_.resize(n), drain_nxt_.resize(n);
  }
}

void PeArrayCore::reset() {
  enqueued_ = 0, total_folds_ = 0, expected_outputs_ = 0;
  stream_seq_ = 0, load_seq_ = 0, done_seq_ = 0;
  cycle_ = 0;
  next_stream_ = 0, stream_fold_ = -1, stream_fold_seq_ = 0, stream_t_ = 0, stream_T_ = 0;
  last_stream_start_ = -1, last_stream_T_ = 0;
  next_load_ = 0, load_fold_ = -1, load_fold_seq_ = 0, load_step_ = 0, loaded_ = 0;
  completed_ = 0, emitted_ = 0;
  std::fill(stream_ring_.begin(), stream_ring_.end(), Issue{0, 0, 0, 0});
  std::fill(load_ring_.begin(), load_ring_.end(), Issue{0, 0, 0, 0});
  std::fill(h_cur_.begin(), h_cur_.end(), Op{0, 0, 0, 0, 0});
  if (stationary_) {
    std::fill(psum_cur_.begin(), psum_cur_.end(), Psum{0, 0, 0, 0, 0});
    std::fill(chain_cur_.begin(), chain_cur_.end(), Chain{0, -1, 0, kFree});
    std::fill(w_.begin(), w_.end(), 0);
    std::fill(w_fold_.begin(), w_fold_.end(), -1);
    std::fill(w_live_.begin(), w_live_.end(), 0);
  } else {
    std::fill(v_cur_.begin(), v_cur_.end(), Op{0, 0, 0, 0, 0});
    std::fill(acc_.begin(), acc_.end(), 0);
    std::fill(acc_open_.begin(), acc_open_.end(), 0);
    std::fill(acc_fold_.begin(), acc_fold_.end(), -1);
    std::fill(sacc_.begin(), sacc_.end(), 0);
    std::fill(sacc_full_.begin(), sacc_full_.end(), 0);
    std::fill(sacc_fold_.begin(), sacc_fold_.end(), -1);
    std::fill(sacc_seq_.begin(), sacc_seq_.end(), 0);
    std::fill(drain_cur_.begin(), drain_cur_.end(), Drained{0, 0, 0, 0, 0});
  }
}

std::uint32_t PeArrayCore::enqueue(const GemmDims& dims, const GemmOperands* operands, std::int64_t ready) {
  // The slot is reused: the instruction kCtxSlots earlier must have left the array completely.
  if (enqueued_ >= kCtxSlots) {
    const Ctx& old = ctx(enqueued_ - kCtxSlots);
    ATTNSIM_ASSERT(old.done >= 0 && old.outputs_left == 0, "more instructions in the PE array than it can track");
  }
  Ctx& x = ctx(enqueued_);
  x = Ctx{};
  x.d = dims;
  x.plan = fold_plan(R_, C_, df_, mode_, dims);
  x.have_ops = operands && operands->a && operands->b && operands->c;
  x.ops = x.have_ops ? *operands : GemmOperands{};
  x.first_fold = total_folds_;
  x.ready = ready;
  x.outputs_left = x.plan.folds * (stationary_ ? x.plan.stream * C_ : std::int64_t(R_) * C_);
  total_folds_ += x.plan.folds;
  expected_outputs_ += x.outputs_left;
  ATTNSIM_ASSERT(total_folds_ < std::numeric_limits<std::int32_t>::max() &&
                     x.plan.stream < std::numeric_limits<std::int32_t>::max(),
                 "GEMM sequence too large for the PE-level model");
  return enqueued_++;
}

void PeArrayCore::begin(const GemmDims& dims, const GemmOperands* operands) {
  reset();
  enqueue(dims, operands, 0);
}

void PeArrayCore::skip_to(std::int64_t cycle) {
  ATTNSIM_ASSERT(idle() && cycle >= cycle_, "PE array skipped cycles while busy");
  if (cycle == cycle_) return;
  // The skew rings are read by cycle number: what they hold for the skipped cycles must be "nothing".
  std::fill(stream_ring_.begin(), stream_ring_.end(), Issue{0, 0, 0, 0});
  std::fill(load_ring_.begin(), load_ring_.end(), Issue{0, 0, 0, 0});
  cycle_ = cycle;
}

std::uint32_t PeArrayCore::seq_of_fold(std::int64_t g, std::uint32_t* cursor) const {
  while (g >= ctx(*cursor).first_fold + ctx(*cursor).plan.folds) ++*cursor;
  return *cursor;
}

// The first fold of instruction x, fold g of the sequence, in cycle c (the stream port for OS, the load
// port for WS/IS, which the caller has found free): its dependencies must be met;
// without chaining the previous instruction must have ended (completed_ counts ended folds); with
// chaining the previous fold's rules apply (the caller checks the ports), plus, for OS, the drain of
// the shadow accumulators measured between last MACs (see the header).
bool PeArrayCore::first_fold_may_start(const Ctx& x, std::int64_t g, std::int64_t c) const {
  if (c < x.ready) return false;
  if (!chaining_) return completed_ == g;
  if (stationary_) return next_stream_ >= g;  // load port: the previous fold has started streaming
  if (last_stream_start_ < 0) return true;
  return c + x.plan.stream - 1 >= last_stream_start_ + last_stream_T_ - 1 + R_;
}

// The sequencer: decides what enters the array this cycle, from the state left by earlier cycles.
void PeArrayCore::sequence() {
  const std::int64_t c = cycle_;
  // Stream port: one element per cycle.
  Issue s{0, 0, 0, 0};
  if (stream_fold_ < 0 && next_stream_ < total_folds_) {
    const std::int64_t g = next_stream_;
    const std::uint32_t seq = seq_of_fold(g, &stream_seq_);
    const Ctx& x = ctx(seq);
    const bool first = g == x.first_fold;
    bool can = false;
    if (stationary_)
      can = loaded_ > g;  // the tile is in the shadow registers (its load ended in an earlier cycle)
    else if (first)
      can = first_fold_may_start(x, g, c);
    else if (mode_ == TimingMode::ScaleSim)
      can = completed_ == g;  // the previous fold has ended
    else
      can = c - last_stream_start_ >= R_;  // the shadow accumulators drain R rows a fold
    if (can) {
      stream_fold_ = g, stream_fold_seq_ = seq, stream_t_ = 0, stream_T_ = x.plan.stream;
      last_stream_start_ = c, last_stream_T_ = x.plan.stream, ++next_stream_;
      if (first && !stationary_) ctx(seq).start = c;
    }
  }
  if (stream_fold_ >= 0) {
    s.fold = std::int32_t(stream_fold_);
    s.idx = std::int32_t(stream_t_);
    s.flags = kValid | (stream_t_ == 0 ? kFirst : 0) | (stream_t_ == stream_T_ - 1 ? kLast : 0);
    s.seq = stream_fold_seq_;
    if (++stream_t_ == stream_T_) stream_fold_ = -1;
  }
  stream_ring_[size_t(c & ring_mask_)] = s;

  if (!stationary_) return;
  // Load port (WS/IS): R consecutive cycles per fold, deepest row first.
  Issue l{0, 0, 0, 0};
  if (load_fold_ < 0 && next_load_ < total_folds_) {
    const std::int64_t g = next_load_;
    const std::uint32_t seq = seq_of_fold(g, &load_seq_);
    const Ctx& x = ctx(seq);
    const bool first = g == x.first_fold;
    // scalesim: after the previous fold ended. overlapped: once the previous fold has started streaming
    // (next_stream_ counts folds started, including in this cycle), so that the load wave never
    // overtakes the swap wave of the previous fold (see the header).
    bool can;
    if (first)
      can = first_fold_may_start(x, g, c);
    else
      can = mode_ == TimingMode::ScaleSim ? completed_ == g : next_stream_ >= g;
    if (can) {
      load_fold_ = g, load_fold_seq_ = seq, load_step_ = 0, ++next_load_;
      if (first) ctx(seq).start = c;
    }
  }
  if (load_fold_ >= 0) {
    l.fold = std::int32_t(load_fold_);
    l.idx = std::int32_t(load_step_);
    l.flags = kValid;
    l.seq = load_fold_seq_;
    if (++load_step_ == R_) load_fold_ = -1, ++loaded_;  // usable by the stream port from next cycle
  }
  load_ring_[size_t(c & ring_mask_)] = l;
}

// Fold g covers row-fold lf / col_folds and col-fold lf % col_folds, lf = g - first_fold.
std::int32_t PeArrayCore::stream_value(const Issue& s, int row) const {
  const Ctx& x = ctx(s.seq);
  if (!x.have_ops) return 0;
  const std::int64_t rf = (s.fold - x.first_fold) / x.plan.col_folds;
  const std::int64_t r = rf * R_ + row;  // index along the dimension mapped on rows
  const std::int64_t t = s.idx;
  switch (df_) {
    case Dataflow::OS:  // A[m = r][k = t]
      return r < x.d.m ? x.ops.a[r * x.d.k + t] : 0;
    case Dataflow::WS:  // A[m = t][k = r]
      return r < x.d.k ? x.ops.a[t * x.d.k + r] : 0;
    case Dataflow::IS:  // B[k = r][n = t]
      return r < x.d.k ? x.ops.b[r * x.d.n + t] : 0;
  }
  return 0;
}

std::int32_t PeArrayCore::os_b_value(const Issue& s, int col) const {
  const Ctx& x = ctx(s.seq);
  if (!x.have_ops) return 0;
  const std::int64_t n = ((s.fold - x.first_fold) % x.plan.col_folds) * C_ + col;  // B[k = t][n]
  return n < x.d.n ? x.ops.b[std::int64_t(s.idx) * x.d.n + n] : 0;
}

std::int32_t PeArrayCore::load_value(const Issue& l, int col, std::int32_t target) const {
  const Ctx& x = ctx(l.seq);
  if (!x.have_ops) return 0;
  const std::int64_t lf = l.fold - x.first_fold;
  const std::int64_t k = (lf / x.plan.col_folds) * R_ + target;
  const std::int64_t cc = (lf % x.plan.col_folds) * C_ + col;
  if (k >= x.d.k) return 0;
  if (df_ == Dataflow::WS) return cc < x.d.n ? x.ops.b[k * x.d.n + cc] : 0;  // B[k][n = cc]
  return cc < x.d.m ? x.ops.a[cc * x.d.k + k] : 0;                           // IS: A[m = cc][k]
}

// Edge inputs: row i sees what the sequencer issued i cycles ago, column j what it issued j cycles ago.
void PeArrayCore::feed() {
  const std::int64_t c = cycle_;
  for (int i = 0; i < R_; ++i) {
    const Issue& s = stream_ring_[size_t((c - i) & ring_mask_)];
    Op& o = row_in_[size_t(i)];
    if (c - i >= 0 && (s.flags & kValid))
      o = Op{stream_value(s, i), s.fold, s.idx, s.flags, s.seq};
    else
      o = Op{0, 0, 0, 0, 0};
  }
  for (int j = 0; j < C_; ++j) {
    if (stationary_) {
      const Issue& l = load_ring_[size_t((c - j) & ring_mask_)];
      Chain& o = load_in_[size_t(j)];
      if (c - j >= 0 && (l.flags & kValid)) {
        const std::int32_t target = R_ - 1 - l.idx;
        o = Chain{load_value(l, j, target), l.fold, target, kTransit};
      } else {
        o = Chain{0, -1, 0, kFree};
      }
    } else {
      const Issue& s = stream_ring_[size_t((c - j) & ring_mask_)];
      Op& o = col_in_[size_t(j)];
      if (c - j >= 0 && (s.flags & kValid))
        o = Op{os_b_value(s, j), s.fold, s.idx, s.flags, s.seq};
      else
        o = Op{0, 0, 0, 0, 0};
    }
  }
}

void PeArrayCore::emit_os(int col, const Drained& d) {
  ++emitted_;
  Ctx& x = ctx(d.seq);
  ATTNSIM_ASSERT(x.outputs_left > 0, "more results than the instruction has");
  --x.outputs_left;
  if (!x.have_ops) return;
  const std::int64_t lf = d.fold - x.first_fold;
  const std::int64_t m = (lf / x.plan.col_folds) * R_ + d.row;
  const std::int64_t n = (lf % x.plan.col_folds) * C_ + col;
  if (m < x.d.m && n < x.d.n) x.ops.c[m * x.d.n + n] += d.val;
}

void PeArrayCore::emit_stationary(int col, const Psum& p) {
  ++emitted_;
  Ctx& x = ctx(p.seq);
  ATTNSIM_ASSERT(x.outputs_left > 0, "more results than the instruction has");
  --x.outputs_left;
  if (!x.have_ops) return;
  const std::int64_t cc = ((p.fold - x.first_fold) % x.plan.col_folds) * C_ + col;
  if (df_ == Dataflow::WS) {
    if (cc < x.d.n) x.ops.c[std::int64_t(p.idx) * x.d.n + cc] += p.val;  // C[m = t][n = cc]
  } else {
    if (cc < x.d.m) x.ops.c[cc * x.d.n + p.idx] += p.val;  // C[m = cc][n = t]
  }
}

// PE(R-1, C-1) saw fold `fold`'s last operand in this cycle: the fold ends; so does its instruction
// when it was the instruction's last fold (done: the cycle after this one).
void PeArrayCore::note_fold_end(std::int32_t fold) {
  ATTNSIM_ASSERT(fold == completed_, "folds ended out of order");
  ++completed_;
  const std::uint32_t seq = seq_of_fold(fold, &done_seq_);
  Ctx& x = ctx(seq);
  if (completed_ == x.first_fold + x.plan.folds) x.done = cycle_ + 1;
}

// OS: A moves right, B moves down, each PE accumulates its own C element.
void PeArrayCore::step_os() {
  const int R = R_, C = C_;
  const Op* hc = h_cur_.data();
  const Op* vc = v_cur_.data();
  const Drained* dc = drain_cur_.data();
  Op* hn = h_nxt_.data();
  Op* vn = v_nxt_.data();
  Drained* dn = drain_nxt_.data();
  for (int i = 0; i < R; ++i) {
    for (int j = 0; j < C; ++j) {
      const size_t p = size_t(i) * size_t(C) + size_t(j);
      const Op& a = j ? hc[p - 1] : row_in_[size_t(i)];
      const Op& b = i ? vc[p - size_t(C)] : col_in_[size_t(j)];
      hn[p] = a;
      vn[p] = b;

      // Drain path first: it reads the shadow accumulator as it was at the start of the cycle.
      // Values passing from above have priority; otherwise this PE's result enters the path.
      if (i && dc[p - size_t(C)].valid) {
        dn[p] = dc[p - size_t(C)];
      } else if (sacc_full_[p]) {
        dn[p] = Drained{sacc_[p], sacc_fold_[p], i, 1, sacc_seq_[p]};
        sacc_full_[p] = 0;
      } else {
        dn[p].valid = 0;
      }
      if (i == R - 1 && dn[p].valid) emit_os(j, dn[p]);

      if (a.flags & kValid) {
        ATTNSIM_ASSERT((b.flags & kValid) && b.fold == a.fold && b.idx == a.idx, "OS operands out of step at a PE");
        const std::int64_t prod = std::int64_t(a.val) * std::int64_t(b.val);
        if (a.flags & kFirst) {
          ATTNSIM_ASSERT(!acc_open_[p], "OS accumulator reset before its previous fold's last MAC");
          acc_[p] = prod;
          acc_open_[p] = 1;
          acc_fold_[p] = a.fold;
        } else {
          ATTNSIM_ASSERT(acc_open_[p] && acc_fold_[p] == a.fold, "OS operand of a fold the accumulator is not on");
          acc_[p] += prod;
        }
        if (a.flags & kLast) {
          ATTNSIM_ASSERT(!sacc_full_[p], "OS shadow accumulator overwritten before it drained");
          sacc_[p] = acc_[p];
          sacc_full_[p] = 1;
          sacc_fold_[p] = a.fold;
          sacc_seq_[p] = a.seq;
          acc_open_[p] = 0;
          if (p + 1 == size_t(R) * size_t(C)) note_fold_end(a.fold);
        }
      } else {
        ATTNSIM_ASSERT(!(b.flags & kValid), "OS operands out of step at a PE");
      }
    }
  }
  std::swap(h_cur_, h_nxt_);
  std::swap(v_cur_, v_nxt_);
  std::swap(drain_cur_, drain_nxt_);
}

// WS/IS: the streamed operand moves right, partial sums move down, the stationary tile loads down the
// columns through the shadow chain and is swapped into the active register by the fold's first operand.
void PeArrayCore::step_stationary() {
  const int R = R_, C = C_;
  const Op* hc = h_cur_.data();
  const Psum* pc = psum_cur_.data();
  const Chain* cc = chain_cur_.data();
  Op* hn = h_nxt_.data();
  Psum* pn = psum_nxt_.data();
  Chain* cn = chain_nxt_.data();
  for (int i = 0; i < R; ++i) {
    for (int j = 0; j < C; ++j) {
      const size_t p = size_t(i) * size_t(C) + size_t(j);
      const Op& x = j ? hc[p - 1] : row_in_[size_t(i)];
      hn[p] = x;
      const Chain& cur = cc[p];

      // Swap: the first operand of a fold moves the shadow value into the active register.
      bool swapped = false;
      if ((x.flags & kValid) && (x.flags & kFirst)) {
        ATTNSIM_ASSERT(cur.state == kResident && cur.fold == x.fold, "stationary operand not loaded in time");
        ATTNSIM_ASSERT(!w_live_[p], "active stationary register overwritten before its last use");
        w_[p] = cur.val;
        w_fold_[p] = x.fold;
        w_live_[p] = 1;
        swapped = true;
      }

      // Load chain: take a value in transit from above (or from the loader at row 0).
      const Chain* in = nullptr;
      if (i == 0) {
        if (load_in_[size_t(j)].state == kTransit) in = &load_in_[size_t(j)];
      } else if (cc[p - size_t(C)].state == kTransit) {
        in = &cc[p - size_t(C)];
      }
      if (in) {
        ATTNSIM_ASSERT(in->target >= i, "stationary value passed its row");
        ATTNSIM_ASSERT(cur.state != kResident || swapped, "shadow stationary register overwritten before its swap");
        cn[p] =
            Chain{in->val, in->fold, in->target, in->target == i ? std::uint32_t(kResident) : std::uint32_t(kTransit)};
      } else {
        ATTNSIM_ASSERT(cur.state != kTransit, "gap in a stationary load wave");
        cn[p] = cur;
        if (swapped) cn[p].state = kFree;
      }

      // MAC: psum_out = psum_in + x * w.
      if (x.flags & kValid) {
        ATTNSIM_ASSERT(w_live_[p] && w_fold_[p] == x.fold, "stationary operand of another fold in the active register");
        std::int64_t in_sum = 0;
        if (i) {
          const Psum& up = pc[p - size_t(C)];
          ATTNSIM_ASSERT((up.flags & kValid) && up.fold == x.fold && up.idx == x.idx, "partial sum out of step");
          in_sum = up.val;
        }
        pn[p] = Psum{in_sum + std::int64_t(x.val) * std::int64_t(w_[p]), x.fold, x.idx, x.flags, x.seq};
        if (x.flags & kLast) w_live_[p] = 0;
        if (i == R - 1) {
          emit_stationary(j, pn[p]);
          if ((x.flags & kLast) && j == C - 1) note_fold_end(x.fold);
        }
      } else {
        ATTNSIM_ASSERT(!i || !(pc[p - size_t(C)].flags & kValid), "partial sum out of step");
        pn[p].flags = 0;
      }
    }
  }
  std::swap(h_cur_, h_nxt_);
  std::swap(psum_cur_, psum_nxt_);
  std::swap(chain_cur_, chain_nxt_);
}

bool PeArrayCore::step() {
  ATTNSIM_ASSERT(!idle(), "PE array stepped with nothing in it");
  sequence();
  feed();
  if (stationary_)
    step_stationary();
  else
    step_os();
  ++cycle_;
  return completed_ == total_folds_;
}

bool PeArrayCore::os_empty() const {
  for (size_t p = 0; p < sacc_full_.size(); ++p)
    if (sacc_full_[p] || drain_cur_[p].valid) return false;
  return true;
}

void PeArrayCore::flush() {
  ATTNSIM_ASSERT(completed_ == total_folds_, "flush before the last GEMM ended");
  ATTNSIM_ASSERT(next_stream_ == total_folds_ && stream_fold_ < 0, "stream not finished at the end of the GEMM");
  if (!stationary_) {
    // Untimed: step the drain path with nothing entering until every result has left (at most 2R
    // cycles: row R-1's last result waits for rows 0..R-2 and then moves down).
    for (std::int64_t n = 0; !os_empty(); ++n) {
      ATTNSIM_ASSERT(n <= 2 * std::int64_t(R_) + 2, "OS drain does not empty");
      sequence();  // issues nothing: every fold has been streamed
      feed();
      step_os();
      ++cycle_;
    }
  }
  ATTNSIM_ASSERT(emitted_ == expected_outputs_, "a result did not leave the array");
}

}  // namespace attnsim
