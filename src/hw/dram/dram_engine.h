#pragma once
// The controller's cycle loop in plain C++ (no SystemC): every channel's DramChannel, the transfers
// handed over by requesters, and the order in which they are served. The SystemC controller
// (dram_controller.h) wakes it now and then and lets it run up to the present; a trace replay
// (dram_replay.cpp) runs it alone. Its decisions do not depend on when, or how often, it is run.
//
// Rules (one DRAM cycle c, in this order):
//  1. transfers handed over for cycle c (arrived at simulated time in ((c-1) tCK, c tCK]) submit their
//     bursts in address order, in the order they were handed over: each burst is accepted at cycle c
//     into its channel's queue, or, if that queue is full, the transfer waits (blocked) at the back of
//     the channel's FIFO of blocked transfers for that queue, and its later bursts wait with it;
//  2. every channel with work steps at c (refresh, FR-FCFS), in channel order;
//  3. each queue that lost a request at c takes the blocked transfers at the front of its FIFO, one per
//     free slot: each burst accepted at c, seen by the scheduler from c + 1; a transfer that finds its next
//     burst's queue full again joins that queue's FIFO at the back.
// A burst is done at its last data beat. A read transfer is done when its last burst is. A write transfer
// (not detached) is posted: done at c + 1 when its last burst is accepted at c, because the write queue holds
// its data and the controller answers for it from then on (DRAMSim3's and Ramulator 2's controllers complete
// a write on acceptance); its bursts still take their WR commands and data cycles later.
#include <cstdint>
#include <string>
#include <vector>

#include "config/dram_address_mapping.h"
#include "config/dram_spec.h"
#include "hw/dram/dram_channel.h"
#include "hw/dram/dram_stats.h"
#include "hw/dram/i_dram.h"

namespace attnsim {

// One requester's transfer: bursts [next_addr, end_addr) stepping by the burst size, submitted in order.
struct DramTransfer {
  std::uint64_t next_addr = 0;  // the next burst to submit
  std::uint64_t end_addr = 0;   // one past the last burst's address
  bool is_write = false;
  bool detached = false;         // its bursts are nobody's: nothing waits for them (trace replay)
  bool posted() const { return is_write && !detached; }  // done when accepted, its bursts then nobody's
  int outstanding = 0;           // bursts not yet done, submitted or not
  std::int64_t last_accept_cycle = -1;  // when its last submitted burst was accepted
  std::int64_t last_done_cycle = 0;     // the latest data beat of its bursts so far
  DramTransfer* next_blocked = nullptr;  // FIFO link while blocked
  void* user = nullptr;                  // the requester's record (opaque here)
  bool submitted() const { return next_addr >= end_addr; }
};

// The watchdog's bound: while requests are in flight, one completes at least this often (DRAM cycles),
// whatever the traffic; derived from the spec (dram_engine.cpp).
std::int64_t dram_watchdog_cycles(const DramSpec& spec);

class DramEngine {
 public:
  static constexpr std::int64_t kNever = DramChannel::kNever;

  DramEngine(const DramSpec& spec, DramStats* stats);

  // Hands over a transfer at cycle `cycle` (> simulated()): its bursts are submitted at that cycle's rule 1.
  // Handed-over cycles must not decrease. The transfer must stay alive until done (detached: until submitted).
  void add(DramTransfer* t, std::int64_t cycle);
  // Runs every cycle up to and including `cycle`.
  void run_until(std::int64_t cycle);
  std::int64_t simulated() const { return simulated_; }
  // The earliest cycle > simulated() at which anything can happen (a step or a hand-over), kNever if none.
  std::int64_t next_event() const;
  // Transfers (not detached) that became done since the last call, in the order they did; cleared by the caller.
  std::vector<DramTransfer*>& finished() { return finished_; }

  // Bursts handed over (submitted or not) and done.
  std::uint64_t accepted() const { return accepted_; }
  std::uint64_t completed() const { return completed_; }
  std::uint64_t in_flight() const { return accepted_ - completed_; }
  // Writes handed over and not done (a write's data is done soonest after its WR: CWL, not CL).
  std::uint64_t writes_in_flight() const { return writes_in_flight_; }
  // Posted write transfers handed over and not yet accepted whole: each becomes done the cycle after the
  // step that accepts its last burst.
  std::uint64_t posted_waiting() const { return posted_waiting_; }
  std::int64_t last_done_cycle() const { return last_done_cycle_; }

  // Stops with an InternalError naming the stuck requests when requests are in flight and none completes for
  // this many cycles (0: never).
  void set_watchdog(std::int64_t cycles) { watchdog_cycles_ = cycles; }
  void set_data_observer(DramDataObserver* observer) { data_observer_ = observer; }
  void record_commands(bool on);
  std::vector<CommandRecord> command_trace() const;
  // Issues the refreshes of idle channels up to `cycle`; returns the active rank cycles (all channels).
  std::int64_t finish(std::int64_t cycle);
  std::string describe_pending() const;

 private:
  struct Port {
    DramChannel* core = nullptr;
    DramTransfer* blocked_head[2] = {nullptr, nullptr};  // per queue (0 read, 1 write), FIFO
    DramTransfer* blocked_tail[2] = {nullptr, nullptr};
    bool freed[2] = {false, false};  // a request left that queue in this cycle's steps
    // Per-bank read queues (DramSpec::bank_queue > 0): accepted reads whose bank queue is full (at most
    // read_queue in all: the transaction queue), kept per bank oldest first (a ring of read_queue entries per
    // bank), and the reads of each bank in the channel's scheduler queue. A read waits here only while its bank
    // queue is full, so when a read of bank b completes, the oldest waiting read with room is bank b's oldest.
    std::vector<DramRequest> staged;
    std::vector<int> staged_head, staged_count;
    int staged_total = 0;
    std::vector<int> bank_reads;
    std::vector<CommandRecord> trace;
  };
  // Submits t's bursts from its next one, accepted at `accept`, seen by the scheduler from `visible`
  // (`admitted`: t was just taken off a FIFO's front for a free slot of its next burst's queue).
  void submit(DramTransfer* t, std::int64_t accept, std::int64_t visible, bool admitted);
  void block(Port& p, DramTransfer* t);
  // Whether a burst for that queue must wait (with per-bank read queues, reads wait when the transaction queue
  // is full).
  bool full(const Port& p, bool is_write) const {
    return spec_.bank_queue > 0 && !is_write ? p.staged_total >= spec_.read_queue : p.core->queue_full(is_write);
  }
  // Per-bank read queues: a read of the channel's scheduler queue completed at `cycle`; the oldest staged read
  // whose bank queue now has room enters it (schedulable from cycle + 1). Returns the cycle it lets the
  // channel act (kNever if none entered).
  std::int64_t release_staged(Port& p, const DramRequest& done, std::int64_t cycle);
  int flat_bank(const DramAddress& a) const {
    return (a.rank * spec_.bank_groups + a.bank_group) * spec_.banks_per_group + a.bank;
  }
  void burst_done(const StepResult& r);
  void throw_watchdog(std::int64_t cycle) const;

  const DramSpec spec_;
  DramSpec core_spec_;  // the channels' spec: with per-bank read queues, the read queue holds every bank's
  AddressMapping mapping_;
  DramStats* stats_;
  std::vector<DramChannel> channels_;
  std::vector<Port> ports_;
  std::vector<std::int64_t> planned_;  // per channel: its next step (kNever: no requests); one cache line for 8
  std::vector<DramTransfer*> staged_;  // handed over, not yet at their cycle (in order)
  std::vector<std::int64_t> staged_cycle_;
  std::size_t staged_head_ = 0;
  std::vector<DramTransfer*> finished_;
  StepResult step_result_;  // the steps' result, reused (no per-step initialisation)
  std::int64_t simulated_ = -1;
  std::uint64_t accepted_ = 0, completed_ = 0, writes_in_flight_ = 0, posted_waiting_ = 0;
  std::int64_t last_done_cycle_ = 0;
  std::int64_t progress_cycle_ = 0;  // the last burst completion, or when in-flight rose from zero
  std::int64_t watchdog_cycles_ = 0;
  std::uint64_t burst_bytes_;
  DramDataObserver* data_observer_ = nullptr;
};

}  // namespace attnsim
