#include "hw/dram/dram_controller.h"

#include <algorithm>
#include <cstdio>

#include "common/checked_math.h"
#include "common/sim_threads.h"

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

DramController::DramController(sc_core::sc_module_name name, const DramSpec& spec)
    : sc_core::sc_module(name), spec_(spec), stats_(std::make_unique<DramStats>()) {
  // Between two completions at most every queued request of a channel is served, each within
  // worst_request_cycles, and at most two refresh intervals pass; doubled for margin. Capped so that
  // the bound stays a representable time.
  const int banks = spec_.ranks * spec_.banks_per_rank();
  const std::int64_t queued =
      std::int64_t(spec_.read_queue) + spec_.write_queue + 1 + std::int64_t(banks) * spec_.bank_queue;
  watchdog_cycles_ = std::min<std::int64_t>(kMaxRunCycles, 2 * (queued * worst_request_cycles(spec_) + 2 * spec_.t.tREFI));
  std::string error;
  if (!mapping_.parse(spec_.mapping, spec_, &error))
    throw UserError("DRAM mapping \"" + spec_.mapping + "\": " + error);
  // With per-bank read queues the channel's read queue holds every bank's queue (it never fills: a bank's
  // reads beyond bank_queue wait in the controller's transaction queue, ChannelPort::staged).
  DramSpec core_spec = spec_;
  if (spec_.bank_queue > 0) core_spec.read_queue = banks * spec_.bank_queue;
  for (int ch = 0; ch < spec_.channels; ++ch) {
    auto port = std::make_unique<ChannelPort>();
    port->core = std::make_unique<DramChannel>(core_spec, ch, stats_.get());
    if (spec_.bank_queue > 0) {
      port->staged.reserve(size_t(spec_.read_queue));
      port->bank_reads.assign(size_t(banks), 0);
    }
    ports_.push_back(std::move(port));
    sc_core::sc_spawn_options opts;
    sc_core::sc_spawn([this, ch] { channel_thread(ch); }, sc_core::sc_gen_unique_name("channel"), &opts);
  }
  sc_core::sc_spawn(guarded([this] { watchdog_thread(); }), "watchdog");
}

void DramController::watchdog_thread() {
  for (;;) {
    if (in_flight() == 0) {
      sc_core::wait(became_busy_);
      continue;
    }
    const std::uint64_t seen = completed_;
    // Woken early by the drain (so that a finished run's time never moves to this timeout).
    sc_core::wait(fs_time(watchdog_cycles_ * spec_.tCK_fs), drained_);
    if (completed_ == seen && in_flight() > 0)
      throw InternalError("DRAM watchdog: no request completed in " + std::to_string(watchdog_cycles_) +
                          " DRAM cycles (the bound from the device timing and queue sizes) up to cycle " +
                          std::to_string(current_cycle()) + ": " + describe_pending());
  }
}

std::string DramController::describe_pending() const {
  std::string s = std::to_string(in_flight()) + " requests in flight";
  const DramRequest* oldest = nullptr;
  for (const auto& p : ports_) {
    const DramChannel& c = *p->core;
    s += "; channel " + std::to_string(&p - &ports_[0]) + ": " + std::to_string(c.read_count()) + " reads and " +
         std::to_string(c.write_count()) + " writes queued" +
         (p->staged.empty() ? std::string() : " (and " + std::to_string(p->staged.size()) + " reads waiting for their bank queue)") +
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

DramController::~DramController() = default;

void DramController::record_commands(bool on) {
  for (auto& p : ports_) p->core->set_command_trace(on ? &p->trace : nullptr);
}

std::vector<CommandRecord> DramController::command_trace() const {
  std::vector<CommandRecord> all;
  for (const auto& p : ports_) all.insert(all.end(), p->trace.begin(), p->trace.end());
  std::stable_sort(all.begin(), all.end(), [](const CommandRecord& a, const CommandRecord& b) {
    return a.cycle != b.cycle ? a.cycle < b.cycle : a.channel < b.channel;
  });
  return all;
}

void DramController::submit(std::uint64_t addr, bool is_write, DramCompletion* completion) {
  DramRequest r;
  r.addr = addr;
  r.loc = mapping_.decode(addr);
  r.is_write = is_write;
  r.owner = completion;
  ChannelPort& port = *ports_[size_t(r.loc.channel)];
  const bool per_bank = spec_.bank_queue > 0 && !is_write;
  if (per_bank)
    while (int(port.staged.size()) >= spec_.read_queue) sc_core::wait(port.space);
  else
    while (port.core->queue_full(is_write)) sc_core::wait(port.space);
  const std::int64_t cycle = current_cycle();
  r.accept_cycle = cycle;
  r.ready_cycle = cycle + spec_.frontend_cycles;
  if (per_bank) {
    int& in_bank = port.bank_reads[size_t(flat_bank(r.loc))];
    if (in_bank >= spec_.bank_queue) {  // its bank queue is full: it waits in the transaction queue
      port.staged.push_back(r);
      if (accepted_++ == completed_) became_busy_.notify(sc_core::SC_ZERO_TIME);
      return;
    }
    ++in_bank;
  }
  const bool was_idle = !port.core->has_requests();
  port.core->enqueue(r, cycle);
  if (accepted_++ == completed_) became_busy_.notify(sc_core::SC_ZERO_TIME);
  // Wake the channel's thread only if this request lets it act before its planned step, and tell it when.
  const std::int64_t wake = was_idle ? cycle : std::max(cycle, port.core->wake_cycle_for_last_enqueued(is_write));
  if (wake < port.planned_cycle) {
    port.planned_cycle = wake;
    port.arrival.notify(sc_core::SC_ZERO_TIME);
  }
}

void DramController::complete(const StepResult& r) {
  ++completed_;
  last_done_cycle_ = std::max(last_done_cycle_, r.done_cycle);
  if (data_observer_)  // the burst's data cycles end at done_cycle (dram_channel.cpp)
    data_observer_->on_dram_data(r.request.loc.channel, (r.done_cycle - spec_.burst_cycles()) * spec_.tCK_fs,
                                 r.done_cycle * spec_.tCK_fs, std::uint64_t(spec_.burst_bytes()));
  const fs_t now = now_fs();
  if (auto* c = static_cast<DramCompletion*>(r.request.owner)) {
    c->last_done_cycle = std::max(c->last_done_cycle, r.done_cycle);
    if (--c->outstanding == 0) c->done.notify(fs_time(c->last_done_cycle * spec_.tCK_fs - now));
  }
  if (completed_ == accepted_) drained_.notify(fs_time(last_done_cycle_ * spec_.tCK_fs - now));
}

std::int64_t DramController::release_staged(ChannelPort& port, const DramRequest& done, std::int64_t cycle) {
  --port.bank_reads[size_t(flat_bank(done.loc))];
  for (size_t i = 0; i < port.staged.size(); ++i) {
    DramRequest& r = port.staged[i];
    int& in_bank = port.bank_reads[size_t(flat_bank(r.loc))];
    if (in_bank >= spec_.bank_queue) continue;
    ++in_bank;
    r.ready_cycle = std::max(r.ready_cycle, cycle + 1);
    port.core->enqueue(r, cycle);
    port.staged.erase(port.staged.begin() + std::ptrdiff_t(i));
    return std::max(cycle + 1, port.core->wake_cycle_for_last_enqueued(false));
  }
  return DramChannel::kNever;
}

void DramController::channel_thread(int ch) {
  ChannelPort& port = *ports_[size_t(ch)];
  DramChannel& core = *port.core;
  for (;;) {
    if (!core.has_requests()) {
      port.planned_cycle = DramChannel::kNever;
      sc_core::wait(port.arrival);  // submit() sets planned_cycle to the arrival cycle
      continue;
    }
    std::int64_t cycle = current_cycle();
    if (cycle < port.planned_cycle) {  // woken by an arrival that can act only later: wait until then
      sc_core::wait(fs_time(port.planned_cycle * spec_.tCK_fs - now_fs()), port.arrival);
      continue;
    }
    const fs_t edge = cycle * spec_.tCK_fs;
    if (edge > now_fs()) sc_core::wait(fs_time(edge - now_fs()));
    StepResult r = core.step(cycle);
    if (r.completed) {
      complete(r);
      if (spec_.bank_queue > 0 && !r.request.is_write)
        r.next_cycle = std::min(r.next_cycle, release_staged(port, r.request, cycle));
      port.space.notify();
    }
    if (!core.has_requests()) continue;
    port.planned_cycle = r.next_cycle;
    sc_core::wait(fs_time(r.next_cycle * spec_.tCK_fs - now_fs()), port.arrival);
  }
}

void DramController::finish(std::int64_t cycle) {
  std::int64_t active = 0;
  for (auto& p : ports_) {
    p->core->catch_up(cycle);
    active += p->core->active_rank_cycles(cycle);
  }
  stats_->rank_active_cycles = std::uint64_t(active);
}

}  // namespace attnsim
