#pragma once
// One DRAM channel's command-level state and its FR-FCFS scheduler, in plain C++ (no SystemC): the
// SystemC controller (dram_controller.h) owns one per channel and decides WHEN to call step(); the
// tests probe the timing rules directly through earliest()/can_issue()/issue().
//
// Timing is kept as "earliest legal cycle" per command kind at each level (bank, bank group, rank),
// raised whenever a command issues; a command is legal at cycle c when c is at or after every level's
// earliest for it (and, for ACT, the four-activate window allows it). The independent check of the
// same rules lives in timing_checker.cpp.
#include <array>
#include <cstdint>
#include <cstdint>
#include <vector>

#include "config/dram_address_mapping.h"
#include "config/dram_spec.h"
#include "hw/dram/dram_stats.h"

namespace attnsim {

// One issued command, as written to a command trace and read by the timing checker.
struct CommandRecord {
  std::int64_t cycle = 0;
  DramCommand cmd = DramCommand::ACT;
  int channel = 0, rank = 0, bank_group = 0, bank = 0;
  std::int64_t row = -1;  // ACT, RD, WR: the row; otherwise -1
  int column = -1;        // RD, WR: the burst index; otherwise -1
};

// A burst-sized request in a controller queue. POD: queues are fixed arrays, nothing is allocated.
struct DramRequest {
  std::uint64_t addr = 0;
  DramAddress loc;
  std::int64_t accept_cycle = 0;  // accepted into the queue
  std::int64_t ready_cycle = 0;   // accept_cycle + frontend_cycles: may be scheduled from here
  void* owner = nullptr;          // completion record of the requester (opaque here), or null
  bool is_write = false;
  std::int8_t first_cmd = -1;  // the first command issued on its behalf (row hit/miss/conflict)
  int bank_index = 0;          // set by the channel: flat bank and bank-group indices
  int group_index = 0;
};

// What one scheduling step did.
struct StepResult {
  bool issued = false;
  CommandRecord command;
  bool completed = false;  // a RD/WR left a queue: request, done_cycle are valid
  DramRequest request;
  std::int64_t done_cycle = 0;  // cycle of its last data beat
  std::int64_t next_cycle = 0;  // earliest cycle > the step's cycle at which anything could issue;
                                // kNever when both queues are empty and no refresh is pending
};

class DramChannel {
 public:
  static constexpr std::int64_t kNever = INT64_MAX / 4;

  DramChannel(const DramSpec& spec, int channel_id, DramStats* stats);

  // --- Requests -----------------------------------------------------------------------------
  bool queue_full(bool is_write) const {
    return is_write ? n_write_ >= spec_.write_queue : n_read_ >= spec_.read_queue;
  }
  bool has_requests() const { return n_read_ + n_write_ > 0; }
  int read_count() const { return n_read_; }
  // The request waiting longest in either queue (queues are kept oldest first), or null.
  const DramRequest* oldest_request() const;
  int write_count() const { return n_write_; }
  // Accepts a request at cycle `cycle` (the queue must not be full). If the channel was idle, the
  // refreshes due before `cycle` are first issued at the cycles they would have been.
  void enqueue(const DramRequest& r, std::int64_t cycle);
  // The earliest cycle at which the request just enqueued could let the scheduler act (kNever if it
  // cannot change anything before the scheduler's next planned step; 0 if it switches read/write mode).
  std::int64_t wake_cycle_for_last_enqueued(bool is_write) const;

  // --- Scheduling ---------------------------------------------------------------------------
  // Issues at most one command at `cycle` (refresh first, then FR-FCFS) and says when to call again.
  // Two implementations of the same decisions: the fast one (default) and the reference scan, selected by
  // DramSpec::fast_path; a test requires byte-identical command traces from both.
  // The result goes to *res (only the fields its flags make valid are written: no per-step zeroing).
  void step(std::int64_t cycle, StepResult* res) {
    if (spec_.fast_path)
      step_fast(cycle, *res);
    else
      step_reference(cycle, *res);
  }
  // Issues, at the cycles they fall due, the refreshes of an idle stretch up to (excluding) `cycle`.
  void catch_up(std::int64_t cycle);

  // --- Timing rules (used by step(); exposed for the per-constraint probes) -------------------
  std::int64_t earliest(DramCommand cmd, int rank, int bank_group, int bank) const;
  bool can_issue(DramCommand cmd, int rank, int bank_group, int bank, std::int64_t cycle) const {
    return cycle >= earliest(cmd, rank, bank_group, bank) && cycle > last_command_cycle_;
  }
  // Issues without any legality check (probes call can_issue first); updates state, timing, stats.
  void issue(DramCommand cmd, int rank, int bank_group, int bank, std::int64_t row, std::int64_t cycle,
             int column = -1);
  std::int64_t open_row(int rank, int bank_group, int bank) const { return bank_at(rank, bank_group, bank).open_row; }

  // Command trace (off unless a vector is given; it then grows by one record per command).
  void set_command_trace(std::vector<CommandRecord>* trace) { trace_ = trace; }
  int refreshes_pending() const;
  // Cycles in [0, end), summed over the ranks, in which a rank had a bank open or was refreshing.
  std::int64_t active_rank_cycles(std::int64_t end) const;

 private:
  struct Bank {
    std::int64_t open_row = -1;
    std::int64_t next_act = 0, next_pre = 0, next_rd = 0, next_wr = 0;
    // Per queue (0 read, 1 write): queued requests whose row is this bank's open row. Kept up to date on
    // enqueue, ACT, PRE/PREA and completion, so FR-FCFS needs no extra pass over the queue.
    int row_hits[2] = {0, 0};
    bool refresh_hold = false;  // its bank set's per-bank REF is pending: FR-FCFS leaves its requests alone
    // Per queue: this bank's requests oldest first (a list through Queue::next/prev), and what the fast
    // scheduler needs of them without walking the list: the oldest request that hits the open row, and the
    // least ready_cycle over all of them and over the hits. Kept on enqueue, removal, ACT, PRE and PREA.
    int head[2] = {-1, -1}, tail[2] = {-1, -1}, hit_head[2] = {-1, -1};
    int count[2] = {0, 0};
    std::int64_t min_ready[2] = {0, 0}, min_ready_hit[2] = {0, 0};
    bool sorted[2] = {true, true};  // per queue: ready_cycle nondecreasing along the list (removal keeps it so)
    int rank = 0, group = 0;  // its rank and flat bank-group index (no division in the scheduler's pass)
  };
  // A queue: requests stay in their slots; `order` lists the slots oldest first, so that removing one from the
  // middle moves a few bytes, not requests (kept for the reference scan only: the fast scheduler finds age
  // order from the arrival numbers and the per-bank lists).
  struct Queue {
    std::vector<DramRequest> slot;
    std::vector<std::uint16_t> order, free;
    // Per slot: the next and previous request of the same bank (-1: none), and the arrival number (the
    // queue's age order, which `order` holds too).
    std::vector<int> next, prev;
    std::vector<std::uint64_t> seq;
    std::uint64_t arrivals = 0;
    explicit Queue(int capacity)
        : slot(size_t(capacity)),
          order(size_t(capacity)),
          next(size_t(capacity), -1),
          prev(size_t(capacity), -1),
          seq(size_t(capacity), 0) {
      free.reserve(size_t(capacity));
      for (int i = capacity - 1; i >= 0; --i) free.push_back(std::uint16_t(i));
    }
    DramRequest& operator[](int i) { return slot[order[size_t(i)]]; }
    const DramRequest& operator[](int i) const { return slot[order[size_t(i)]]; }
  };
  struct BankGroup {
    std::int64_t next_act = 0, next_rd = 0, next_wr = 0;
  };
  enum class Power : std::uint8_t { Awake, PowerDown, SelfRefresh };
  struct Rank {
    std::int64_t next_act = 0, next_rd = 0, next_wr = 0, next_prea = 0, next_ref = 0;
    std::int64_t next_pre = 0;  // floor of every bank's PRE: the exit from power-down or self-refresh
    std::array<std::int64_t, 4> act_window{};  // cycles of the last four ACTs (ring), for tFAW
    int act_window_pos = 0;
    int acts = 0;
    int open_banks = 0;
    std::int64_t refresh_due = 0;  // the next REF (all-bank) or REFpb (per-bank) falls due
    bool refresh_pending = false;  // an all-bank REF is due: the rank is closed and refreshed first
    bool pb_pending = false;       // a per-bank REF is due: its bank set (pb_set) is closed and refreshed first
    int pb_set = 0;                // the bank set of the next per-bank REF (round robin)
    std::int64_t next_refpb = 0;   // tPBR2PBR after the last REFpb
    // Power policy (DramSpec::power_down_after_cycles, self_refresh_after_cycles).
    Power power = Power::Awake;
    std::int64_t power_since = 0;  // cycle of the PDE or SRE while not awake
    std::int64_t next_pde = 0;     // earliest PDE/SRE: the last burst's data done (and tWR), an exit's tXP/tXS
    std::int64_t idle_since = 0;   // cycle of the rank's last RD/WR: idleness counts from here
    int queued = 0;                // requests of this rank in either queue
    // Power-state residency (active_rank_cycles): closed intervals with a bank open or a refresh running,
    // the cycle the open one began, and the end of the last refresh (which may lie past the run's end).
    std::int64_t active_cycles = 0, active_since = 0, refresh_end = 0;
  };
  // Whether FR-FCFS must leave a rank's requests alone: a refresh is pending, or the rank is powered down or in
  // self-refresh (its exit is issued first).
  static bool rank_blocked(const Rank& rk) { return rk.refresh_pending || rk.power != Power::Awake; }
  // Per-bank refresh: the flat bank indices (in banks_) of rank r's bank set, and the next refresh command the
  // pending set needs (a PRE of an open bank, else the REFpb) with its earliest cycle.
  int pb_bank(int r, int set, int k) const { return r * spec_.banks_per_rank() + set + k * spec_.refresh_sets(); }
  DramCommand pb_next_command(int r, int* bank, std::int64_t* earliest) const;
  void step_refresh_per_bank(int r, std::int64_t cycle, StepResult* res);
  bool refresh_owed(const Rank& rk) const { return rk.refresh_pending || rk.pb_pending; }

  Bank& bank_at(int r, int g, int b) { return banks_[size_t((r * spec_.bank_groups + g) * spec_.banks_per_group + b)]; }
  const Bank& bank_at(int r, int g, int b) const {
    return banks_[size_t((r * spec_.bank_groups + g) * spec_.banks_per_group + b)];
  }
  BankGroup& group_at(int r, int g) { return groups_[size_t(r * spec_.bank_groups + g)]; }
  const BankGroup& group_at(int r, int g) const { return groups_[size_t(r * spec_.bank_groups + g)]; }
  // The next command a request needs given its bank's state.
  DramCommand next_command(const DramRequest& r) const {
    const std::int64_t open = banks_[size_t(r.bank_index)].open_row;
    if (open == r.loc.row) return r.is_write ? DramCommand::WR : DramCommand::RD;
    return open < 0 ? DramCommand::ACT : DramCommand::PRE;
  }
  // earliest() for a queued request's command, from its cached indices (the hot path).
  std::int64_t earliest_for(DramCommand cmd, const DramRequest& r) const;
  // Whether a PRE for this request's bank must wait: a queued request of the active queue hits the open row.
  bool row_hit_pending(const DramRequest& r) const { return banks_[size_t(r.bank_index)].row_hits[r.is_write] > 0; }
  void step_reference(std::int64_t cycle, StepResult& res);
  void step_fast(std::int64_t cycle, StepResult& res);
  // Refresh (step 1 of both steps): PREA or REF for the first rank whose refresh is due and legal.
  void step_refresh(std::int64_t cycle, StepResult* res);
  void step_refresh_ranks(std::int64_t cycle, StepResult* res);
  // refresh_watch_: before this cycle step_refresh has nothing to do (the least refresh_due over the awake ranks,
  // -1 if one owes a refresh); recomputed whenever a refresh or power command could move it.
  void update_refresh_watch();
  // The column command of a RD/WR pick: statistics, completion, removal from its queue.
  void retire(Queue& q, int* n, int pick, DramCommand cmd, std::int64_t cycle, StepResult* res);
  void issue_pick(Queue& q, int* n, int pick, DramCommand cmd, std::int64_t cycle, StepResult* res);
  std::int64_t next_refresh_cycle() const;
  // Power policy (both steps): exits before refresh (a request or a due refresh wakes the rank), entries after
  // FR-FCFS when nothing else issued; next_power_cycle() is the earliest cycle either could issue.
  bool issue_rank_command(DramCommand c, int r, std::int64_t cycle, StepResult* res);
  void step_power_exit(std::int64_t cycle, StepResult* res);
  void step_power_entry(std::int64_t cycle, StepResult* res);
  std::int64_t next_power_cycle() const;
  bool wants_self_refresh(const Rank& rk, std::int64_t cycle) const {
    return spec_.self_refresh_after_cycles > 0 && rk.queued == 0 && cycle >= rk.idle_since + spec_.self_refresh_after_cycles;
  }
  void record_rank_command(DramCommand cmd, int r, int g, int b, std::int64_t c);
  void update_power_state(int r, std::int64_t cycle);
  // Step 3 of both steps: the earliest cycle > max(cycle, last command) at which anything could issue.
  std::int64_t next_cycle_after(std::int64_t cycle);
  void update_write_mode() {
    if (!write_mode_) {
      if (n_write_ >= spec_.write_high || (n_read_ == 0 && n_write_ > 0)) write_mode_ = true;
    } else if (n_write_ == 0 || (n_write_ <= spec_.write_low && n_read_ > 0)) {
      write_mode_ = false;
    }
  }
  void account_queues(std::int64_t cycle);
  void remove(Queue& q, int* n, int index);
  // The per-bank lists: a request joins its bank's list at the tail (enqueue) and leaves it (removal); the
  // bank's summary of the queue is recomputed from its list (refresh_bank_summary).
  void refresh_bank_summary(int bank_index, int w);
  // The fast scheduler's pass over the banks with requests in queue w. Each bank's candidate is the oldest of
  // its requests in the class its state allows (the open row's hits; else all, for an ACT or a PRE), with the
  // earliest cycle one of them could issue; candidates are kept between passes and evaluated again only for
  // the banks whose state or timing changed since (dirty_). With kPick, *pick is the slot of the oldest column
  // candidate ready at `cycle`, else of the oldest ACT/PRE candidate (-1 if none), and *pick_cmd its command.
  // Returns the least cycle at which any request of the queue could issue its next command (kNever if none).
  // Without kPick, the pass may stop at the first bank whose e <= enough and return that e; *pick_cmd is then the
  // command just issued (it orders the pass only). With kPick and a pick
  // found, the pass stops there too, and the value returned is not the least (the caller issues the pick and
  // scans again).
  template <bool kPick>
  std::int64_t scan_banks(int w, std::int64_t cycle, int* pick, DramCommand* pick_cmd, std::int64_t enough);
  // A bank's next command class for queue w (0 ACT, 1 PRE, 2 column; -1 when FR-FCFS leaves it alone), the
  // earliest cycle a request of it could issue by the bank's and its group's timing and the class's least
  // ready_cycle (the group's and rank's timing is added by the pass: it changes with every command to another
  // bank), and the class's oldest request.
  int bank_candidate(int bi, int w, std::int64_t* e, int* first) const;
  // What makes kept candidates stale: a bank's requests, row or timing changed (mark_dirty: a request enqueued or
  // removed, a command to the bank), or anything else changed (a refresh pending, a bank held, a rank-level or
  // power command: forget_candidates).
  void mark_dirty(int bi) { dirty_[size_t(bi) / 64] |= std::uint64_t(1) << (bi % 64); }
  void forget_candidates() { cand_queue_ = -1; }
  // The pass's group floors (group_floor_) for queue w, from the rank and group timing.
  // `classes`: the kFloor* bits to compute again.
  void scan_floors(int w, unsigned classes);
  // The pass's order of candidates as one integer: column candidates first, then by arrival number, the bank
  // in the low bits (keys differ between banks).
  static constexpr std::uint64_t kKeyBanks = std::uint64_t(1) << 15, kKeyArrivals = std::uint64_t(1) << 47;
  static std::uint64_t pick_key(int cls, std::uint64_t seq, int bi) {
    return (std::uint64_t(cls != 2) << 63) | (seq * kKeyBanks) | std::uint64_t(bi);
  }
  // A candidate's bank put where key k belongs in the order (moved from its place, if in it), or taken out.
  void order_place(int bi, std::uint64_t k);
  void order_remove(int bi);
  static constexpr unsigned kFloorAct = 1, kFloorPre = 2, kFloorColumn = 4, kFloorAll = 7;

  const DramSpec spec_;
  const int id_;
  DramStats* stats_;
  std::vector<Bank> banks_;
  std::vector<BankGroup> groups_;
  std::vector<Rank> ranks_;
  // Queues in arrival order (oldest first), fixed capacity.
  Queue read_q_, write_q_;
  int n_read_ = 0, n_write_ = 0;
  // The fast scheduler's kept candidates, of queue cand_queue_ (-1: none kept): per bank its rank and class as
  // 3 x flat bank group + class (-1: left alone; the index of its group_floor_), earliest cycle by the bank's
  // timing, and oldest request of the class; the banks to evaluate again.
  int cand_queue_ = -1;
  std::vector<std::int16_t> cand_class_;
  std::vector<std::int64_t> cand_e_;
  std::vector<int> cand_first_;
  std::vector<std::int64_t> cand_first_ready_;  // that request's ready_cycle and arrival number
  std::vector<std::uint64_t> cand_first_key_;  // its pick_key
  // The candidates (banks with one) in pick order: by pick_key, least first; each bank's place in it (-1: none).
  std::vector<std::int16_t> order_;
  std::vector<std::uint64_t> order_key_;
  std::vector<std::int16_t> order_pos_;
  int order_n_ = 0;
  std::vector<std::int8_t> cand_cls_;  // its class alone (0 ACT, 1 PRE, 2 column)
  std::vector<std::uint64_t> active_banks_[2];  // per queue: banks with at least one request, a bit each
  int active_count_[2] = {0, 0};                // and how many
  // The group floors (group_floor_) of queue cand_queue_ that commands issued since the last pass made stale
  // (kFloor* bits): an ACT moves the ACT floors, a RD or WR the column floors, a PRE none, any other command all.
  unsigned floors_stale_ = kFloorAll;
  std::vector<std::uint64_t> dirty_;
  std::vector<std::int64_t> group_floor_;  // the pass's per bank group and class: the group's and rank's earliest cycle
  const bool keep_order_;       // Queue::order kept (the reference scan walks it)
  const bool power_policy_;     // power-down or self-refresh enabled (else the fast step skips the power steps)
  int last_slot_[2] = {-1, -1};  // per queue: the slot of the request enqueued last
  bool write_mode_ = false;
  std::int64_t last_command_cycle_ = -1;
  std::int64_t next_cycle_ = 0;  // from the last step: when the scheduler next has something to do
  std::int64_t last_account_cycle_ = 0;
  std::int64_t refresh_watch_ = -1;
  std::vector<CommandRecord>* trace_ = nullptr;
};

}  // namespace attnsim
