#pragma once
// The cycle-accurate DRAM controller as a SystemC module: one SC_THREAD per channel drives that
// channel's DramChannel (command state + FR-FCFS scheduler). Event-driven: after each step the thread
// knows the earliest DRAM cycle at which any command could legally issue and waits until then (one
// timed wait, no idle ticking); with both queues empty it waits only for an arrival. Refresh is really
// issued: while a channel has work, REFs are scheduled like any command; the refreshes that fall in an
// idle stretch are issued, at the cycles they fall due, when the next request arrives (or at finish()),
// so an idle DRAM does not keep the simulation alive.
//
// Requesters call submit() from their own SC_THREADs; it blocks while the target queue is full
// (back-pressure). A Completion counts a requester's outstanding bursts and notifies its event at the
// time the last one's data is done.
#include <cstdint>
#include <memory>
#include <string>
#include <systemc>
#include <vector>

#include "common/sim_time.h"
#include "config/dram_address_mapping.h"
#include "hw/dram/dram_channel.h"
#include "config/dram_spec.h"
#include "hw/dram/dram_stats.h"
#include "hw/dram/i_dram.h"

namespace attnsim {

struct DramCompletion {
  int outstanding = 0;  // bursts not yet done
  std::int64_t last_done_cycle = 0;
  sc_core::sc_event done;  // notified at last_done_cycle when outstanding reaches 0
};

class DramController : public sc_core::sc_module {
 public:
  DramController(sc_core::sc_module_name name, const DramSpec& spec);
  ~DramController() override;

  // From an SC_THREAD: enqueues one burst-sized request, blocking while its queue is full.
  // `completion` (may be null) must already count this request in `outstanding`.
  void submit(std::uint64_t addr, bool is_write, DramCompletion* completion);

  const DramSpec& spec() const { return spec_; }
  const AddressMapping& mapping() const { return mapping_; }
  DramStats& stats() { return *stats_; }
  const DramStats& stats() const { return *stats_; }
  std::int64_t current_cycle() const { return (now_fs() + spec_.tCK_fs - 1) / spec_.tCK_fs; }
  // Requests accepted and not yet done (their data still to come).
  std::uint64_t in_flight() const { return accepted_ - completed_; }
  // Notified when in_flight() drops to zero (at the cycle of the last data beat).
  const sc_core::sc_event& drained_event() const { return drained_; }
  std::int64_t last_done_cycle() const { return last_done_cycle_; }
  // Issues the refreshes of idle channels up to `cycle`, for final statistics.
  void finish(std::int64_t cycle);
  // Reports each completed burst's burst_bytes on its channel over its data cycles (null: none).
  void set_data_observer(DramDataObserver* observer) { data_observer_ = observer; }
  // Records every command (off by default; call before the simulation starts).
  void record_commands(bool on);
  // Every recorded command of all channels, ordered by cycle, then channel.
  std::vector<CommandRecord> command_trace() const;
  // The watchdog's bound: while requests are in flight, one completes at least this often (DRAM
  // cycles), whatever the traffic; derived from the spec (dram_controller.cpp).
  std::int64_t watchdog_cycles() const { return watchdog_cycles_; }
  // Requests in flight, per channel queue, and the oldest one (for the watchdog and stuck runs).
  std::string describe_pending() const;

 private:
  struct ChannelPort {
    std::unique_ptr<DramChannel> core;
    sc_core::sc_event arrival;
    sc_core::sc_event space;                           // a slot was freed in one of the queues
    std::int64_t planned_cycle = DramChannel::kNever;  // when the thread will next step (kNever: idle)
    std::vector<CommandRecord> trace;                  // per-channel when recording
    // Per-bank read queues (DramSpec::bank_queue > 0): accepted reads whose bank queue is full, oldest first
    // (at most read_queue), and the reads of each bank in the channel's scheduler queue.
    std::vector<DramRequest> staged;
    std::vector<int> bank_reads;
  };
  void channel_thread(int ch);
  void complete(const StepResult& r);
  // Per-bank read queues: a read of the channel's scheduler queue completed at `cycle`; the oldest staged read
  // whose bank queue now has room enters it (schedulable from cycle + 1). Returns the cycle it lets the
  // channel act (kNever if none entered).
  std::int64_t release_staged(ChannelPort& port, const DramRequest& done, std::int64_t cycle);
  int flat_bank(const DramAddress& a) const { return (a.rank * spec_.bank_groups + a.bank_group) * spec_.banks_per_group + a.bank; }
  // No silent hang: stops the simulation with an InternalError naming the stuck requests when
  // requests are in flight and none completes for watchdog_cycles() (refresh starving every request
  // under a timing no validation foresaw, a scheduler bug).
  void watchdog_thread();

  const DramSpec spec_;
  AddressMapping mapping_;
  std::unique_ptr<DramStats> stats_;
  std::vector<std::unique_ptr<ChannelPort>> ports_;
  std::uint64_t accepted_ = 0, completed_ = 0;
  std::int64_t last_done_cycle_ = 0;
  sc_core::sc_event drained_;
  sc_core::sc_event became_busy_;  // in_flight() rose from zero
  std::int64_t watchdog_cycles_ = 0;
  DramDataObserver* data_observer_ = nullptr;
};

}  // namespace attnsim
