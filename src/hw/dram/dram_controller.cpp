#include "hw/dram/dram_controller.h"

#include <algorithm>
#include <cstdio>

#include "common/checked_math.h"
#include "common/sim_threads.h"

#include "common/errors.h"

namespace attnsim {


DramController::DramController(sc_core::sc_module_name name, const DramSpec& spec)
    : sc_core::sc_module(name), spec_(spec), stats_(std::make_unique<DramStats>()), engine_(spec_, stats_.get()) {
  watchdog_cycles_ = dram_watchdog_cycles(spec_);
  std::string error;
  if (!mapping_.parse(spec_.mapping, spec_, &error))
    throw UserError("DRAM mapping \"" + spec_.mapping + "\": " + error);
  sc_core::sc_spawn(guarded([this] { engine_thread(); }), "engine");
  sc_core::sc_spawn(guarded([this] { watchdog_thread(); }), "watchdog");
}

void DramController::watchdog_thread() {
  for (;;) {
    if (in_flight() == 0) {
      sc_core::wait(became_busy_);
      continue;
    }
    const std::uint64_t seen = engine_.completed();
    // Woken early by the drain (so that a finished run's time never moves to this timeout).
    sc_core::wait(fs_time(watchdog_cycles_ * spec_.tCK_fs), drained_);
    if (engine_.completed() == seen && in_flight() > 0)
      throw InternalError("DRAM watchdog: no request completed in " + std::to_string(watchdog_cycles_) +
                          " DRAM cycles (the bound from the device timing and queue sizes) up to cycle " +
                          std::to_string(current_cycle()) + ": " + describe_pending());
  }
}

DramController::~DramController() = default;

void DramController::record_commands(bool on) { engine_.record_commands(on); }

void DramController::wake_by(std::int64_t cycle) {
  if (cycle >= wake_cycle_) return;
  wake_cycle_ = cycle;
  wake_.notify(fs_time(cycle * spec_.tCK_fs - now_fs()));  // replaces a later pending notification
}

void DramController::transfer(std::uint64_t addr, std::uint64_t bytes, bool is_write) {
  if (bytes == 0) return;
  const std::uint64_t burst = std::uint64_t(spec_.burst_bytes());
  DramCompletion c;
  c.transfer.next_addr = addr / burst * burst;
  c.transfer.end_addr = (addr + bytes - 1) / burst * burst + burst;
  c.transfer.is_write = is_write;
  c.transfer.user = &c;
  const std::int64_t cycle = current_cycle();
  const bool was_idle = engine_.in_flight() == 0;
  engine_.add(&c.transfer, cycle);
  if (was_idle) became_busy_.notify(sc_core::SC_ZERO_TIME);
  // A read's first column command is at `cycle` at the earliest, its data done lag cycles later; a posted
  // write is done the cycle after its last burst's acceptance, `cycle` at the earliest. The engine must have
  // run that cycle by then (it runs the cycles before its wake).
  wake_by(cycle + (is_write ? kPostedLag : lag_cycles(false)) - 1);
  sc_core::wait(c.done);
}

void DramController::engine_thread() {
  const fs_t tck = spec_.tCK_fs;
  std::uint64_t completed = 0;
  for (;;) {
    sc_core::wait(wake_);
    wake_cycle_ = DramChannel::kNever;
    const fs_t now = now_fs();
    const std::int64_t cycle = current_cycle();  // ceil(now / tCK): its step waits for this instant's hand-overs
    engine_.run_until(cycle - 1);
    for (DramTransfer* t : engine_.finished()) {
      ATTNSIM_ASSERT(t->last_done_cycle * tck >= now, "DRAM transfer done before the engine's thread learned of it");
      static_cast<DramCompletion*>(t->user)->done.notify(fs_time(t->last_done_cycle * tck - now));
    }
    engine_.finished().clear();
    const bool progress = engine_.completed() != completed;
    completed = engine_.completed();
    if (engine_.in_flight() == 0) {
      if (progress) drained_.notify(fs_time(engine_.last_done_cycle() * tck - now));
      continue;
    }
    // The engine next acts at cycle e at the earliest; a column command then has its data done lag cycles later.
    const std::int64_t e = engine_.next_event();
    if (e >= DramChannel::kNever) continue;  // nothing can happen until a hand-over (the watchdog guards this)
    // A posted write still waiting for queue slots is done the cycle after a step frees its last one.
    const std::int64_t lag = engine_.posted_waiting() > 0 ? kPostedLag : lag_cycles(engine_.writes_in_flight() > 0);
    wake_by(std::max(cycle + 1, e + lag - 1));
  }
}

void DramController::finish(std::int64_t cycle) { stats_->rank_active_cycles = std::uint64_t(engine_.finish(cycle)); }

}  // namespace attnsim
