#pragma once
// The cycle-accurate DRAM controller as a SystemC module around the plain-C++ DramEngine (dram_engine.h:
// every channel's command state and FR-FCFS scheduler, and the order in which transfers are served).
// Requesters hand over whole transfers (transfer()) and wait once for their completion; one SystemC thread
// runs the engine up to the present whenever a completion could be due, not once per command: a burst's
// data is done at least min(CL, CWL) + BL/2 cycles after its column command, so the thread wakes at most
// that many cycles after the earliest cycle the engine could act and notifies every transfer that became
// done in between at its last data beat (a timed notification, still in the future). The engine's decisions
// do not depend on when the thread runs: a transfer handed over at simulated time t belongs to cycle
// ceil(t / tCK), whose step has not run yet (the thread runs only cycles before the present).
// Refresh is really issued: while a channel has work, REFs are scheduled like any command; the refreshes
// that fall in an idle stretch are issued, at the cycles they fall due, when the next request arrives (or at
// finish()), so an idle DRAM does not keep the simulation alive.
#include <cstdint>
#include <memory>
#include <string>
#include <systemc>
#include <vector>

#include "common/sim_time.h"
#include "config/dram_address_mapping.h"
#include "hw/dram/dram_channel.h"
#include "hw/dram/dram_engine.h"
#include "config/dram_spec.h"
#include "hw/dram/dram_stats.h"
#include "hw/dram/i_dram.h"

namespace attnsim {

// One requester's transfer and the event notified at its last burst's last data beat.
struct DramCompletion {
  DramTransfer transfer;
  sc_core::sc_event done;
};

class DramController : public sc_core::sc_module {
 public:
  DramController(sc_core::sc_module_name name, const DramSpec& spec);
  ~DramController() override;

  // From an SC_THREAD: hands over the bursts [addr, addr + bytes) (rounded out to whole bursts) and returns
  // when the last one's data is done (a read) or the cycle after the last one is accepted into its write queue
  // (a posted write, dram_engine.h).
  void transfer(std::uint64_t addr, std::uint64_t bytes, bool is_write);

  const DramSpec& spec() const { return spec_; }
  const AddressMapping& mapping() const { return mapping_; }
  DramStats& stats() { return *stats_; }
  const DramStats& stats() const { return *stats_; }
  std::int64_t current_cycle() const { return (now_fs() + spec_.tCK_fs - 1) / spec_.tCK_fs; }
  // Requests accepted and not yet done (their data still to come).
  std::uint64_t in_flight() const { return engine_.in_flight(); }
  // Notified when in_flight() drops to zero (at the cycle of the last data beat).
  const sc_core::sc_event& drained_event() const { return drained_; }
  std::int64_t last_done_cycle() const { return engine_.last_done_cycle(); }
  // Issues the refreshes of idle channels up to `cycle`, for final statistics.
  void finish(std::int64_t cycle);
  // Reports each completed burst's burst_bytes on its channel over its data cycles (null: none).
  void set_data_observer(DramDataObserver* observer) {
    data_observer_ = observer;
    engine_.set_data_observer(observer);
  }
  // Records every command (off by default; call before the simulation starts).
  void record_commands(bool on);
  // Every recorded command of all channels, ordered by cycle, then channel.
  std::vector<CommandRecord> command_trace() const { return engine_.command_trace(); }
  // The watchdog's bound: while requests are in flight, one completes at least this often (DRAM
  // cycles), whatever the traffic; derived from the spec (dram_controller.cpp).
  std::int64_t watchdog_cycles() const { return watchdog_cycles_; }
  // Requests in flight, per channel queue, and the oldest one (for the watchdog and stuck runs).
  std::string describe_pending() const { return engine_.describe_pending(); }

 private:
  void engine_thread();
  // Wakes the engine's thread at cycle `cycle` at the latest.
  void wake_by(std::int64_t cycle);
  // No silent hang: stops the simulation with an InternalError naming the stuck requests when
  // requests are in flight and none completes for watchdog_cycles() (refresh starving every request
  // under a timing no validation foresaw, a scheduler bug).
  void watchdog_thread();

  const DramSpec spec_;
  AddressMapping mapping_;
  std::unique_ptr<DramStats> stats_;
  DramEngine engine_;
  sc_core::sc_event wake_;
  std::int64_t wake_cycle_ = DramChannel::kNever;  // the engine thread's next wake
  // The fewest cycles from a column command to what must still lie ahead when the engine's thread learns of
  // it: the data's last beat (the completion's notification), or, with a data observer, its first beat.
  // A posted write is done the cycle after its last acceptance: the thread wakes the cycle after a step that
  // may accept it (it then has run that step).
  static constexpr std::int64_t kPostedLag = 2;
  std::int64_t lag_cycles(bool writes) const {
    return (writes ? std::min(spec_.t.CL, spec_.t.CWL) : spec_.t.CL) + (data_observer_ ? 0 : spec_.burst_cycles());
  }
  sc_core::sc_event drained_;
  sc_core::sc_event became_busy_;  // in_flight() rose from zero
  std::int64_t watchdog_cycles_ = 0;
  DramDataObserver* data_observer_ = nullptr;
};

}  // namespace attnsim
