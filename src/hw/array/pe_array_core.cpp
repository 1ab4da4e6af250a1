#include "hw/array/pe_array_core.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "common/errors.h"

namespace attnsim {

PeArrayCore::PeArrayCore(int rows, int cols, Dataflow df, TimingMode mode)
    : R_(rows), C_(cols), df_(df), mode_(mode), stationary_(df != Dataflow::OS) {
  ATTNSIM_ASSERT(rows > 0 && cols > 0, "array dimensions must be positive");
  std::int64_t ring = 1;
  while (ring < std::max(rows, cols)) ring *= 2;  // delays go up to max(R, C) - 1 cycles
  ring_mask_ = ring - 1;
  stream_ring_.resize(size_t(ring));
  load_ring_.resize(size_t(ring));
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
    sacc_.resize(n), sacc_full_.resize(n), sacc_fold_.resize(n);
    drain_cur_.resize(n), drain_nxt_.resize(n);
  }
}

void PeArrayCore::begin(const GemmDims& dims, const GemmOperands* operands) {
  d_ = dims;
  plan_ = fold_plan(R_, C_, df_, mode_, dims);
  F_ = plan_.folds;
  T_ = plan_.stream;
  ATTNSIM_ASSERT(F_ < std::numeric_limits<std::int32_t>::max() && T_ < std::numeric_limits<std::int32_t>::max(),
                 "GEMM too large for the PE-level model");
  have_ops_ = operands && operands->a && operands->b && operands->c;
  ops_ = have_ops_ ? *operands : GemmOperands{};

  cycle_ = 0;
  next_stream_ = 0, stream_fold_ = -1, stream_t_ = 0, last_stream_start_ = 0;
  next_load_ = 0, load_fold_ = -1, load_step_ = 0, loaded_ = 0;
  completed_ = 0, emitted_ = 0;
  std::fill(stream_ring_.begin(), stream_ring_.end(), Issue{0, 0, 0});
  std::fill(load_ring_.begin(), load_ring_.end(), Issue{0, 0, 0});
  std::fill(h_cur_.begin(), h_cur_.end(), Op{0, 0, 0, 0});
  if (stationary_) {
    std::fill(psum_cur_.begin(), psum_cur_.end(), Psum{0, 0, 0, 0});
    std::fill(chain_cur_.begin(), chain_cur_.end(), Chain{0, -1, 0, kFree});
    std::fill(w_.begin(), w_.end(), 0);
    std::fill(w_fold_.begin(), w_fold_.end(), -1);
    std::fill(w_live_.begin(), w_live_.end(), 0);
  } else {
    std::fill(v_cur_.begin(), v_cur_.end(), Op{0, 0, 0, 0});
    std::fill(acc_.begin(), acc_.end(), 0);
    std::fill(acc_open_.begin(), acc_open_.end(), 0);
    std::fill(acc_fold_.begin(), acc_fold_.end(), -1);
    std::fill(sacc_.begin(), sacc_.end(), 0);
    std::fill(sacc_full_.begin(), sacc_full_.end(), 0);
    std::fill(sacc_fold_.begin(), sacc_fold_.end(), -1);
    std::fill(drain_cur_.begin(), drain_cur_.end(), Drained{0, 0, 0, 0});
  }
}

// The sequencer: decides what enters the array this cycle, from the state left by earlier cycles.
void PeArrayCore::sequence() {
  const std::int64_t c = cycle_;
  // Stream port: one element per cycle.
  Issue s{0, 0, 0};
  if (stream_fold_ < 0 && next_stream_ < F_) {
    const std::int64_t g = next_stream_;
    bool can = false;
    if (stationary_)
      can = loaded_ > g;  // the tile is in the shadow registers (its load ended in an earlier cycle)
    else if (mode_ == TimingMode::ScaleSim)
      can = completed_ == g;  // the previous fold has ended
    else
      can = g == 0 || c - last_stream_start_ >= R_;  // the shadow accumulators drain R rows a fold
    if (can) stream_fold_ = g, stream_t_ = 0, last_stream_start_ = c, ++next_stream_;
  }
  if (stream_fold_ >= 0) {
    s.fold = std::int32_t(stream_fold_);
    s.idx = std::int32_t(stream_t_);
    s.flags = kValid | (stream_t_ == 0 ? kFirst : 0) | (stream_t_ == T_ - 1 ? kLast : 0);
    if (++stream_t_ == T_) stream_fold_ = -1;
  }
  stream_ring_[size_t(c & ring_mask_)] = s;

  if (!stationary_) return;
  // Load port (WS/IS): R consecutive cycles per fold, deepest row first.
  Issue l{0, 0, 0};
  if (load_fold_ < 0 && next_load_ < F_) {
    const std::int64_t g = next_load_;
    // scalesim: after the previous fold ended. overlapped: once the previous fold has started streaming
    // (next_stream_ counts folds started, including in this cycle), so that the load wave never
    // overtakes the swap wave of the previous fold (see the header).
    const bool can = mode_ == TimingMode::ScaleSim ? completed_ == g : next_stream_ >= g;
    if (can) load_fold_ = g, load_step_ = 0, ++next_load_;
  }
  if (load_fold_ >= 0) {
    l.fold = std::int32_t(load_fold_);
    l.idx = std::int32_t(load_step_);
    l.flags = kValid;
    if (++load_step_ == R_) load_fold_ = -1, ++loaded_;  // usable by the stream port from next cycle
  }
  load_ring_[size_t(c & ring_mask_)] = l;
}

// Fold g covers row-fold g / col_folds and col-fold g % col_folds.
std::int32_t PeArrayCore::stream_value(int row, std::int32_t fold, std::int32_t t) const {
  if (!have_ops_) return 0;
  const std::int64_t rf = fold / plan_.col_folds;
  const std::int64_t r = rf * R_ + row;  // index along the dimension mapped on rows
  switch (df_) {
    case Dataflow::OS:  // A[m = r][k = t]
      return r < d_.m ? ops_.a[r * d_.k + t] : 0;
    case Dataflow::WS:  // A[m = t][k = r]
      return r < d_.k ? ops_.a[std::int64_t(t) * d_.k + r] : 0;
    case Dataflow::IS:  // B[k = r][n = t]
      return r < d_.k ? ops_.b[r * d_.n + t] : 0;
  }
  return 0;
}

std::int32_t PeArrayCore::os_b_value(int col, std::int32_t fold, std::int32_t t) const {
  if (!have_ops_) return 0;
  const std::int64_t n = (fold % plan_.col_folds) * C_ + col;  // B[k = t][n]
  return n < d_.n ? ops_.b[std::int64_t(t) * d_.n + n] : 0;
}

std::int32_t PeArrayCore::load_value(int col, std::int32_t fold, std::int32_t target) const {
  if (!have_ops_) return 0;
  const std::int64_t k = (fold / plan_.col_folds) * R_ + target;
  const std::int64_t cc = (fold % plan_.col_folds) * C_ + col;
  if (k >= d_.k) return 0;
  if (df_ == Dataflow::WS) return cc < d_.n ? ops_.b[k * d_.n + cc] : 0;  // B[k][n = cc]
  return cc < d_.m ? ops_.a[cc * d_.k + k] : 0;                           // IS: A[m = cc][k]
}

// Edge inputs: row i sees what the sequencer issued i cycles ago, column j what it issued j cycles ago.
void PeArrayCore::feed() {
  const std::int64_t c = cycle_;
  for (int i = 0; i < R_; ++i) {
    const Issue& s = stream_ring_[size_t((c - i) & ring_mask_)];
    Op& o = row_in_[size_t(i)];
    if (c - i >= 0 && (s.flags & kValid))
      o = Op{stream_value(i, s.fold, s.idx), s.fold, s.idx, s.flags};
    else
      o = Op{0, 0, 0, 0};
  }
  for (int j = 0; j < C_; ++j) {
    if (stationary_) {
      const Issue& l = load_ring_[size_t((c - j) & ring_mask_)];
      Chain& o = load_in_[size_t(j)];
      if (c - j >= 0 && (l.flags & kValid)) {
        const std::int32_t target = R_ - 1 - l.idx;
        o = Chain{load_value(j, l.fold, target), l.fold, target, kTransit};
      } else {
        o = Chain{0, -1, 0, kFree};
      }
    } else {
      const Issue& s = stream_ring_[size_t((c - j) & ring_mask_)];
      Op& o = col_in_[size_t(j)];
      if (c - j >= 0 && (s.flags & kValid))
        o = Op{os_b_value(j, s.fold, s.idx), s.fold, s.idx, s.flags};
      else
        o = Op{0, 0, 0, 0};
    }
  }
}

void PeArrayCore::emit_os(int col, const Drained& d) {
  ++emitted_;
  if (!have_ops_) return;
  const std::int64_t m = (d.fold / plan_.col_folds) * R_ + d.row;
  const std::int64_t n = (d.fold % plan_.col_folds) * C_ + col;
  if (m < d_.m && n < d_.n) ops_.c[m * d_.n + n] += d.val;
}

void PeArrayCore::emit_stationary(int col, const Psum& p) {
  ++emitted_;
  if (!have_ops_) return;
  const std::int64_t cc = (p.fold % plan_.col_folds) * C_ + col;
  if (df_ == Dataflow::WS) {
    if (cc < d_.n) ops_.c[std::int64_t(p.idx) * d_.n + cc] += p.val;  // C[m = t][n = cc]
  } else {
    if (cc < d_.m) ops_.c[cc * d_.n + p.idx] += p.val;  // C[m = cc][n = t]
  }
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
        dn[p] = Drained{sacc_[p], sacc_fold_[p], i, 1};
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
          acc_open_[p] = 0;
          if (p + 1 == size_t(R) * size_t(C)) {
            ATTNSIM_ASSERT(a.fold == completed_, "folds ended out of order");
            ++completed_;
          }
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
        pn[p] = Psum{in_sum + std::int64_t(x.val) * std::int64_t(w_[p]), x.fold, x.idx, x.flags};
        if (x.flags & kLast) w_live_[p] = 0;
        if (i == R - 1) {
          emit_stationary(j, pn[p]);
          if ((x.flags & kLast) && j == C - 1) {
            ATTNSIM_ASSERT(x.fold == completed_, "folds ended out of order");
            ++completed_;
          }
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
  ATTNSIM_ASSERT(completed_ < F_, "PE array stepped after its GEMM ended");
  sequence();
  feed();
  if (stationary_)
    step_stationary();
  else
    step_os();
  ++cycle_;
  return completed_ == F_;
}

bool PeArrayCore::os_empty() const {
  for (size_t p = 0; p < sacc_full_.size(); ++p)
    if (sacc_full_[p] || drain_cur_[p].valid) return false;
  return true;
}

void PeArrayCore::flush() {
  ATTNSIM_ASSERT(completed_ == F_, "flush before the GEMM ended");
  ATTNSIM_ASSERT(next_stream_ == F_ && stream_fold_ < 0, "stream not finished at the end of the GEMM");
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
  const std::int64_t per_fold = stationary_ ? T_ * C_ : std::int64_t(R_) * C_;
  ATTNSIM_ASSERT(emitted_ == F_ * per_fold, "a result did not leave the array");
}

}  // namespace attnsim
