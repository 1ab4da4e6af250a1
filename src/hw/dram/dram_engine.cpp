#include "hw/dram/dram_engine.h"

#include <algorithm>
#include <cstdio>

#include "common/checked_math.h"
#include "common/errors.h"

namespace attnsim {

namespace {

// The longest a request can take from the head of its queue to its column command, in DRAM cycles:
// every timing constraint that can stand between them once (a conflict: PRE, ACT, the column
// command; a write-to-read turnaround; the four-activate window; a rank switch), the front end, and
// a refresh with the PREA before it, and a wake from power-down or self-refresh (the shortest stay, the exit).
// A sum of maxima, so a bound, not an estimate.
std::int64_t worst_request_cycles(const DramSpec& s) {
  const DramTiming& t = s.t;
  return std::int64_t(t.tRC) + t.tRP + t.tRCD + t.CL + t.CWL + s.burst_cycles() + t.tWR + t.tWTR_L + t.tRTP + t.tFAW +
         t.tRRD_L + t.tCCD_L + t.tRTRS + s.frontend_cycles + t.tRFC + s.min_refresh_interval() + t.tCKE + t.tXP +
         t.tCKESR + t.tXS;
}

}  // namespace

// Between two completions at most every queued request of a channel is served, each within
// worst_request_cycles, and at most two refresh intervals pass; doubled for margin. Capped so that
// the bound stays a representable time.
std::int64_t dram_watchdog_cycles(const DramSpec& s) {
  const int banks = s.ranks * s.banks_per_rank();
  const std::int64_t queued = std::int64_t(s.read_queue) + s.write_queue + 1 + std::int64_t(banks) * s.bank_queue;
  return std::min<std::int64_t>(kMaxRunCycles, 2 * (queued * worst_request_cycles(s) + 2 * s.t.tREFI));
}

DramEngine::DramEngine(const DramSpec& spec, DramStats* stats)
    : spec_(spec), core_spec_(spec), stats_(stats), burst_bytes_(std::uint64_t(spec.burst_bytes())) {
  // With per-bank read queues the channel's read queue holds every bank's queue (it never fills: a bank's
  // reads beyond bank_queue wait in the transaction queue, Port::staged).
  const int banks = spec_.ranks * spec_.banks_per_rank();
  if (spec_.bank_queue > 0) core_spec_.read_queue = banks * spec_.bank_queue;
  std::string error;
  if (!mapping_.parse(spec_.mapping, spec_, &error)) throw UserError("DRAM mapping \"" + spec_.mapping + "\": " + error);
  channels_.reserve(size_t(spec_.channels));
  ports_.resize(size_t(spec_.channels));
  planned_.assign(size_t(spec_.channels), kNever);
  for (int ch = 0; ch < spec_.channels; ++ch) channels_.emplace_back(core_spec_, ch, stats_);
  for (int ch = 0; ch < spec_.channels; ++ch) {
    Port& p = ports_[size_t(ch)];
    p.core = &channels_[size_t(ch)];
    if (spec_.bank_queue > 0) {
      p.staged.resize(size_t(banks) * size_t(spec_.read_queue));
      p.staged_head.assign(size_t(banks), 0);
      p.staged_count.assign(size_t(banks), 0);
      p.bank_reads.assign(size_t(banks), 0);
    }
  }
}

void DramEngine::record_commands(bool on) {
  for (auto& p : ports_) p.core->set_command_trace(on ? &p.trace : nullptr);
}

std::vector<CommandRecord> DramEngine::command_trace() const {
  std::vector<CommandRecord> all;
  for (const auto& p : ports_) all.insert(all.end(), p.trace.begin(), p.trace.end());
  std::stable_sort(all.begin(), all.end(), [](const CommandRecord& a, const CommandRecord& b) {
    return a.cycle != b.cycle ? a.cycle < b.cycle : a.channel < b.channel;
  });
  return all;
}

void DramEngine::add(DramTransfer* t, std::int64_t cycle) {
  ATTNSIM_ASSERT(cycle > simulated_, "DRAM transfer handed over for a cycle already simulated");
  ATTNSIM_ASSERT(staged_head_ == staged_.size() || cycle >= staged_cycle_.back(), "DRAM transfers out of order");
  const std::uint64_t n = t->end_addr > t->next_addr ? (t->end_addr - t->next_addr + burst_bytes_ - 1) / burst_bytes_ : 0;
  t->outstanding = int(n);
  t->next_blocked = nullptr;
  if (accepted_ == completed_) progress_cycle_ = cycle;
  accepted_ += n;
  if (t->is_write) writes_in_flight_ += n;
  if (t->posted()) ++posted_waiting_;
  if (staged_head_ == staged_.size()) staged_.clear(), staged_cycle_.clear(), staged_head_ = 0;
  staged_.push_back(t);
  staged_cycle_.push_back(cycle);
}

std::int64_t DramEngine::next_event() const {
  std::int64_t x = staged_head_ < staged_.size() ? staged_cycle_[staged_head_] : kNever;
  for (const std::int64_t p : planned_) x = p < x ? p : x;
  return x;
}

void DramEngine::block(Port& p, DramTransfer* t) {
  const int w = t->is_write;
  t->next_blocked = nullptr;
  if (p.blocked_tail[w])
    p.blocked_tail[w]->next_blocked = t;
  else
    p.blocked_head[w] = t;
  p.blocked_tail[w] = t;
}

void DramEngine::submit(DramTransfer* t, std::int64_t accept, std::int64_t visible, bool admitted) {
  for (; t->next_addr < t->end_addr; admitted = false) {
    // Aggregate initialisation: decode() writes the address in place (a copy of its result just after its
    // narrow stores would stall on store forwarding).
    DramRequest r{t->next_addr, mapping_.decode(t->next_addr)};
    r.is_write = t->is_write;
    Port& p = ports_[size_t(r.loc.channel)];
    DramChannel& core = *p.core;
    // A burst waits if its queue is full or others wait for it (the FIFO's front, just admitted, goes first).
    if (full(p, r.is_write) || (p.blocked_head[r.is_write] && !admitted)) {
      block(p, t);
      return;
    }
    r.owner = t->detached || t->is_write ? nullptr : t;
    r.accept_cycle = accept;
    r.ready_cycle = accept + spec_.frontend_cycles;
    t->last_accept_cycle = accept;
    t->next_addr += burst_bytes_;
    if (spec_.bank_queue > 0 && !r.is_write) {
      const int fb = flat_bank(r.loc);
      int& in_bank = p.bank_reads[size_t(fb)];
      if (in_bank >= spec_.bank_queue) {  // its bank queue is full: it waits in the transaction queue
        const int k = (p.staged_head[size_t(fb)] + p.staged_count[size_t(fb)]++) % spec_.read_queue;
        p.staged[size_t(fb) * size_t(spec_.read_queue) + size_t(k)] = r;
        ++p.staged_total;
        continue;
      }
      ++in_bank;
    }
    const bool was_idle = !core.has_requests();
    if (was_idle) core.catch_up(visible);  // the idle stretch's refreshes, at the cycles they fall due
    core.enqueue(r, accept);
    // The channel steps when this request can let it act (as soon as it is seen, if the channel was idle).
    const std::int64_t wake = was_idle ? visible : std::max(visible, core.wake_cycle_for_last_enqueued(r.is_write));
    std::int64_t& planned = planned_[size_t(r.loc.channel)];
    if (wake < planned) planned = wake;
  }
  if (t->posted()) {  // every burst accepted: the write is the controller's now
    --posted_waiting_;
    t->outstanding = 0;
    t->last_done_cycle = accept + 1;
    finished_.push_back(t);
  }
}

std::int64_t DramEngine::release_staged(Port& p, const DramRequest& done, std::int64_t cycle) {
  // Every waiting read's bank queue is full (a read waits only then, and only this bank's count fell): the
  // oldest waiting read with room, if any, is this bank's oldest.
  const int fb = flat_bank(done.loc);
  --p.bank_reads[size_t(fb)];
  if (p.staged_count[size_t(fb)] == 0) return kNever;
  DramRequest& r = p.staged[size_t(fb) * size_t(spec_.read_queue) + size_t(p.staged_head[size_t(fb)])];
  p.staged_head[size_t(fb)] = (p.staged_head[size_t(fb)] + 1) % spec_.read_queue;
  --p.staged_count[size_t(fb)];
  --p.staged_total;
  ++p.bank_reads[size_t(fb)];
  r.ready_cycle = std::max(r.ready_cycle, cycle + 1);
  p.core->enqueue(r, cycle);
  return std::max(cycle + 1, p.core->wake_cycle_for_last_enqueued(false));
}

void DramEngine::burst_done(const StepResult& r) {
  ++completed_;
  progress_cycle_ = r.done_cycle;
  if (r.request.is_write) --writes_in_flight_;
  last_done_cycle_ = std::max(last_done_cycle_, r.done_cycle);
  if (data_observer_)  // the burst's data cycles end at done_cycle (dram_channel.cpp)
    data_observer_->on_dram_data(r.request.loc.channel, (r.done_cycle - spec_.burst_cycles()) * spec_.tCK_fs,
                                 r.done_cycle * spec_.tCK_fs, burst_bytes_);
  if (auto* t = static_cast<DramTransfer*>(r.request.owner)) {
    t->last_done_cycle = std::max(t->last_done_cycle, r.done_cycle);
    if (--t->outstanding == 0) finished_.push_back(t);
  }
}

void DramEngine::run_until(std::int64_t cycle) {
  for (;;) {
    const std::int64_t x = next_event();
    if (x > cycle) break;
    if (watchdog_cycles_ > 0 && accepted_ != completed_ && x > progress_cycle_ + watchdog_cycles_)
      throw_watchdog(progress_cycle_ + watchdog_cycles_);
    // 1. Hand-overs for cycle x.
    while (staged_head_ < staged_.size() && staged_cycle_[staged_head_] == x) {
      DramTransfer* t = staged_[staged_head_++];
      submit(t, x, x, false);
    }
    // 2. Steps.
    bool any_freed = false;
    for (size_t ch = 0; ch < ports_.size(); ++ch) {
      if (planned_[ch] != x) continue;
      Port& p = ports_[ch];
      StepResult& r = step_result_;
      p.core->step(x, &r);
      std::int64_t next = r.next_cycle;
      if (r.completed) {
        burst_done(r);
        if (spec_.bank_queue > 0 && !r.request.is_write) next = std::min(next, release_staged(p, r.request, x));
        p.freed[r.request.is_write] = true;
        any_freed = true;
      }
      planned_[ch] = p.core->has_requests() ? next : kNever;
    }
    // 3. Freed slots to the blocked transfers, in channel order.
    if (any_freed) {
      for (Port& p : ports_)
        for (int w = 0; w < 2; ++w) {
          if (!p.freed[w]) continue;
          p.freed[w] = false;
          while (p.blocked_head[w] && !full(p, w != 0)) {
            DramTransfer* t = p.blocked_head[w];
            p.blocked_head[w] = t->next_blocked;
            if (!p.blocked_head[w]) p.blocked_tail[w] = nullptr;
            t->next_blocked = nullptr;
            submit(t, x, x + 1, true);
          }
        }
    }
    simulated_ = x;
  }
  if (cycle > simulated_) simulated_ = cycle;
}

std::int64_t DramEngine::finish(std::int64_t cycle) {
  std::int64_t active = 0;
  for (auto& p : ports_) {
    p.core->catch_up(cycle);
    active += p.core->active_rank_cycles(cycle);
  }
  return active;
}

std::string DramEngine::describe_pending() const {
  std::string s = std::to_string(in_flight()) + " requests in flight";
  const DramRequest* oldest = nullptr;
  for (const auto& p : ports_) {
    const DramChannel& c = *p.core;
    s += "; channel " + std::to_string(&p - &ports_[0]) + ": " + std::to_string(c.read_count()) + " reads and " +
         std::to_string(c.write_count()) + " writes queued" +
         (p.staged_total == 0 ? std::string() : " (and " + std::to_string(p.staged_total) + " reads waiting for their bank queue)") +
         ", refresh pending on " +
         std::to_string(c.refreshes_pending()) + " of " + std::to_string(spec_.ranks) + " ranks";
    const DramRequest* r = c.oldest_request();
    if (r && (!oldest || r->accept_cycle < oldest->accept_cycle)) oldest = r;
  }
  if (oldest) {
    char addr[32];
    std::snprintf(addr, sizeof addr, "0x%llx", (unsigned long long)oldest->addr);
    s += "; oldest waiting request: " + std::string(oldest->is_write ? "WRITE " : "READ ") + addr + " (channel " +
         std::to_string(oldest->loc.channel) + ", rank " + std::to_string(oldest->loc.rank) + ", bank group " +
         std::to_string(oldest->loc.bank_group) + ", bank " + std::to_string(oldest->loc.bank) + ", row " +
         std::to_string(oldest->loc.row) + ") accepted at cycle " + std::to_string(oldest->accept_cycle) + ", " +
         (oldest->first_cmd < 0 ? "no command issued for it yet" : "its row command issued");
  }
  return s;
}

void DramEngine::throw_watchdog(std::int64_t cycle) const {
  throw InternalError("DRAM watchdog: no request completed in " + std::to_string(watchdog_cycles_) +
                      " DRAM cycles (the bound from the device timing and queue sizes) up to cycle " +
                      std::to_string(cycle) + ": " + describe_pending());
}

}  // namespace attnsim
