#include "hw/dram/dram_channel.h"

#include <algorithm>

#include "common/errors.h"

namespace attnsim {

namespace {
inline void raise(std::int64_t& v, std::int64_t t) {
  if (t > v) v = t;
}
inline bool is_column(DramCommand c) { return c == DramCommand::RD || c == DramCommand::WR; }
inline bool is_power_command(DramCommand c) {
  return c == DramCommand::PDE || c == DramCommand::PDX || c == DramCommand::SRE || c == DramCommand::SRX;
}
}  // namespace

DramChannel::DramChannel(const DramSpec& spec, int channel_id, DramStats* stats)
    : spec_(spec),
      id_(channel_id),
      stats_(stats),
      banks_(size_t(spec.ranks * spec.banks_per_rank())),
      groups_(size_t(spec.ranks * spec.bank_groups)),
      ranks_(size_t(spec.ranks)),
      read_q_(spec.read_queue),
      write_q_(spec.write_queue),
      keep_order_(!spec.fast_path),
      power_policy_(spec.power_down_after_cycles > 0 || spec.self_refresh_after_cycles > 0) {
  // Refreshes of the ranks are staggered evenly over tREFI (as DRAMSim3's rank-level staggered policy).
  // Per-bank refresh: every tREFIpb, staggered likewise.
  const std::int64_t refi = spec.per_bank_refresh ? spec.t.tREFIpb : spec.t.tREFI;
  for (int r = 0; r < spec.ranks; ++r) ranks_[size_t(r)].refresh_due = refi + std::int64_t(r) * refi / spec.ranks;
  group_floor_.assign(size_t(3 * spec.ranks * spec.bank_groups), 0);
  dirty_.assign((banks_.size() + 63) / 64, 0);
  for (auto& a : active_banks_) a.assign((banks_.size() + 63) / 64, 0);
  cand_class_.assign(banks_.size(), -1);
  cand_e_.assign(banks_.size(), kNever);
  cand_first_.assign(banks_.size(), -1);
  cand_first_ready_.assign(banks_.size(), 0);
  cand_first_key_.assign(banks_.size(), 0);
  order_.assign(banks_.size(), 0);
  order_key_.assign(banks_.size(), 0);
  order_pos_.assign(banks_.size(), -1);
  ATTNSIM_ASSERT(banks_.size() <= kKeyBanks, "more banks per channel than the fast scheduler's pick key holds");
  cand_cls_.assign(banks_.size(), 0);
  for (size_t i = 0; i < banks_.size(); ++i) {
    banks_[i].group = int(i) / spec.banks_per_group;
    banks_[i].rank = int(i) / spec.banks_per_rank();
  }
  const size_t power_ranks = size_t((id_ + 1) * spec.ranks);
  if (stats_->rank_power.size() < power_ranks) stats_->rank_power.resize(power_ranks);
  next_cycle_ = std::min(ranks_[0].refresh_due, next_power_cycle());
}

std::int64_t DramChannel::earliest(DramCommand cmd, int r, int g, int b) const {
  const Rank& rk = ranks_[size_t(r)];
  switch (cmd) {
    case DramCommand::ACT: {
      std::int64_t e = std::max({bank_at(r, g, b).next_act, group_at(r, g).next_act, rk.next_act});
      // tFAW: the fifth ACT waits until tFAW after the fourth-last one (the oldest in the ring).
      if (rk.acts >= 4) e = std::max(e, rk.act_window[size_t(rk.act_window_pos)] + spec_.t.tFAW);
      return e;
    }
    case DramCommand::PRE:
      return std::max(bank_at(r, g, b).next_pre, rk.next_pre);
    case DramCommand::PREA:
      return rk.next_prea;
    case DramCommand::PDE:
      return rk.next_pde;
    case DramCommand::SRE:
      return std::max(rk.next_pde, rk.next_ref);  // all banks precharged for tRP, a REF's tRFC over
    case DramCommand::PDX:
      return rk.power_since + spec_.t.tCKE;
    case DramCommand::SRX:
      return rk.power_since + spec_.t.tCKESR;
    case DramCommand::RD:
      return std::max({bank_at(r, g, b).next_rd, group_at(r, g).next_rd, rk.next_rd});
    case DramCommand::WR:
      return std::max({bank_at(r, g, b).next_wr, group_at(r, g).next_wr, rk.next_wr});
    case DramCommand::REF:
      return rk.next_ref;
    case DramCommand::REFPB: {
      // Every bank of the set closed for tRP, its last REFpb's tRFCpb over (both in the bank's next_act), the
      // rank's last REFpb tPBR2PBR ago, and the rank awake for tXP / tXS (its PRE floor).
      std::int64_t e = std::max(rk.next_refpb, rk.next_pre);
      const int set = g * spec_.banks_per_group + b;
      for (int k = 0; k < spec_.banks_per_refresh; ++k) e = std::max(e, banks_[size_t(pb_bank(r, set, k))].next_act);
      return e;
    }
  }
  return kNever;
}

std::int64_t DramChannel::earliest_for(DramCommand cmd, const DramRequest& q) const {
  const Bank& bk = banks_[size_t(q.bank_index)];
  const BankGroup& gp = groups_[size_t(q.group_index)];
  const Rank& rk = ranks_[size_t(q.loc.rank)];
  std::int64_t e;
  switch (cmd) {
    case DramCommand::ACT:
      e = bk.next_act > gp.next_act ? bk.next_act : gp.next_act;
      if (rk.next_act > e) e = rk.next_act;
      if (rk.acts >= 4 && rk.act_window[size_t(rk.act_window_pos)] + spec_.t.tFAW > e)
        e = rk.act_window[size_t(rk.act_window_pos)] + spec_.t.tFAW;
      return e;
    case DramCommand::PRE:
      return bk.next_pre > rk.next_pre ? bk.next_pre : rk.next_pre;
    case DramCommand::RD:
      e = bk.next_rd > gp.next_rd ? bk.next_rd : gp.next_rd;
      return rk.next_rd > e ? rk.next_rd : e;
    case DramCommand::WR:
      e = bk.next_wr > gp.next_wr ? bk.next_wr : gp.next_wr;
      return rk.next_wr > e ? rk.next_wr : e;
    default:
      return earliest(cmd, q.loc.rank, q.loc.bank_group, q.loc.bank);
  }
}

// The constraints, by the command that imposes them (c = its cycle, BL2 = burst data cycles):
//   ACT : same bank ACT c+tRC, RD/WR c+tRCD, PRE c+tRAS; same group ACT c+tRRD_L; rank ACT c+tRRD_S,
//         PREA c+tRAS; four-ACT window tFAW.
//   PRE : same bank ACT c+tRP; rank REF c+tRP.          PREA: every bank of the rank likewise.
//   RD  : same bank PRE c+tRTP (rank PREA too); same group RD c+tCCD_L; rank RD c+tCCD_S,
//         WR c+CL+BL2+2-CWL (read-to-write turnaround, one-cycle preamble and one bubble);
//         other ranks RD c+BL2+tRTRS, WR c+CL+BL2+tRTRS-CWL.
//   WR  : same bank PRE c+CWL+BL2+tWR (rank PREA too); same group WR c+tCCD_L, RD c+CWL+BL2+tWTR_L;
//         rank WR c+tCCD_S, RD c+CWL+BL2+tWTR_S; other ranks WR c+BL2+tRTRS, RD c+CWL+BL2+tRTRS-CL.
//   REF : rank ACT and REF c+tRFC.
//   REFpb: the set's banks ACT and REFpb c+tRFCpb; rank ACT c+tPBR2ACT, REFpb c+tPBR2PBR, SRE c+tRFCpb.
//   Every command raises the rank's earliest PDE/SRE: RD c+CL+BL2+1 (tRDPDEN), WR c+CWL+BL2+tWR (tWRPDEN),
//   others c+1. PDE: PDX c+tCKE. PDX: every command of the rank c+tXP, the next PDE c+max(tCKE, tXP).
//   SRE: SRX c+tCKESR. SRX: every command c+tXS, and the next REF falls due tREFI later (the rank refreshed
//   itself until then).
void DramChannel::issue(DramCommand cmd, int r, int g, int b, std::int64_t row, std::int64_t c, int column) {
  const DramTiming& t = spec_.t;
  const int bl2 = spec_.burst_cycles();
  Rank& rk = ranks_[size_t(r)];
  last_command_cycle_ = c;
  ++stats_->commands[size_t(cmd)];
  switch (cmd) {  // the fast scheduler's kept candidates and group floors that this command makes stale
    case DramCommand::ACT:  // group and rank ACT timing, the four-activate window
      mark_dirty(bank_at(r, g, b).group * spec_.banks_per_group + b);
      floors_stale_ |= kFloorAct;
      break;
    case DramCommand::RD:  // group and rank column timing (other ranks' too)
    case DramCommand::WR:
      mark_dirty(bank_at(r, g, b).group * spec_.banks_per_group + b);
      floors_stale_ |= kFloorColumn;
      break;
    case DramCommand::PRE:  // the bank's timing only
      mark_dirty(bank_at(r, g, b).group * spec_.banks_per_group + b);
      break;
    default:
      floors_stale_ = kFloorAll;
      forget_candidates();
      break;
  }
  switch (cmd) {
    case DramCommand::ACT: {
      Bank& bk = bank_at(r, g, b);
      ATTNSIM_ASSERT(bk.open_row < 0, "ACT to an open bank");
      bk.open_row = row;
      if (rk.open_banks++ == 0) rk.active_since = c;
      for (int w = 0; w < 2; ++w) refresh_bank_summary(int(&bk - banks_.data()), w);
      raise(bk.next_act, c + t.tRC);
      raise(bk.next_rd, c + t.tRCD);
      raise(bk.next_wr, c + t.tRCD);
      raise(bk.next_pre, c + t.tRAS);
      raise(group_at(r, g).next_act, c + t.tRRD_L);
      raise(rk.next_act, c + t.tRRD_S);
      raise(rk.next_prea, c + t.tRAS);
      rk.act_window[size_t(rk.act_window_pos)] = c;
      rk.act_window_pos = (rk.act_window_pos + 1) & 3;
      ++rk.acts;
      break;
    }
    case DramCommand::PRE: {
      Bank& bk = bank_at(r, g, b);
      if (bk.open_row >= 0 && --rk.open_banks == 0) rk.active_cycles += c - rk.active_since;
      bk.open_row = -1;
      bk.row_hits[0] = bk.row_hits[1] = 0;
      bk.hit_head[0] = bk.hit_head[1] = -1;
      raise(bk.next_act, c + t.tRP);
      raise(rk.next_ref, c + t.tRP);
      break;
    }
    case DramCommand::PREA: {
      if (rk.open_banks > 0) {
        stats_->prea_banks_closed += std::uint64_t(rk.open_banks);
        rk.active_cycles += c - rk.active_since;
      }
      for (int gg = 0; gg < spec_.bank_groups; ++gg)
        for (int bb = 0; bb < spec_.banks_per_group; ++bb) {
          Bank& bk = bank_at(r, gg, bb);
          bk.open_row = -1;
          raise(bk.next_act, c + t.tRP);
          bk.row_hits[0] = bk.row_hits[1] = 0;
          bk.hit_head[0] = bk.hit_head[1] = -1;
        }
      rk.open_banks = 0;
      raise(rk.next_ref, c + t.tRP);
      break;
    }
    case DramCommand::RD: {
      raise(bank_at(r, g, b).next_pre, c + t.tRTP);
      raise(rk.next_prea, c + t.tRTP);
      raise(group_at(r, g).next_rd, c + t.tCCD_L);
      raise(rk.next_rd, c + t.tCCD_S);
      raise(rk.next_wr, c + t.CL + bl2 + 2 - t.CWL);
      for (int o = 0; o < spec_.ranks; ++o) {
        if (o == r) continue;
        raise(ranks_[size_t(o)].next_rd, c + bl2 + t.tRTRS);
        raise(ranks_[size_t(o)].next_wr, c + t.CL + bl2 + t.tRTRS - t.CWL);
      }
      stats_->data_bus_cycles += std::uint64_t(bl2);
      break;
    }
    case DramCommand::WR: {
      raise(bank_at(r, g, b).next_pre, c + t.CWL + bl2 + t.tWR);
      raise(rk.next_prea, c + t.CWL + bl2 + t.tWR);
      raise(group_at(r, g).next_wr, c + t.tCCD_L);
      raise(group_at(r, g).next_rd, c + t.CWL + bl2 + t.tWTR_L);
      raise(rk.next_wr, c + t.tCCD_S);
      raise(rk.next_rd, c + t.CWL + bl2 + t.tWTR_S);
      for (int o = 0; o < spec_.ranks; ++o) {
        if (o == r) continue;
        raise(ranks_[size_t(o)].next_wr, c + bl2 + t.tRTRS);
        raise(ranks_[size_t(o)].next_rd, c + t.CWL + bl2 + t.tRTRS - t.CL);
      }
      stats_->data_bus_cycles += std::uint64_t(bl2);
      break;
    }
    case DramCommand::REF: {
      ATTNSIM_ASSERT(rk.open_banks == 0, "REF with open banks");
      rk.active_cycles += t.tRFC;  // no ACT before c + tRFC: the interval overlaps no open bank
      rk.refresh_end = c + t.tRFC;
      raise(rk.next_act, c + t.tRFC);
      raise(rk.next_ref, c + t.tRFC);
      break;
    }
    case DramCommand::REFPB: {
      const int set = g * spec_.banks_per_group + b;
      for (int k = 0; k < spec_.banks_per_refresh; ++k) {
        Bank& bk = banks_[size_t(pb_bank(r, set, k))];
        ATTNSIM_ASSERT(bk.open_row < 0, "REFpb to an open bank");
        raise(bk.next_act, c + t.tRFCpb);
      }
      raise(rk.next_act, c + t.tPBR2ACT);
      raise(rk.next_refpb, c + t.tPBR2PBR);
      raise(rk.next_ref, c + t.tRFCpb);
      break;
    }
    case DramCommand::PDE:
    case DramCommand::PDX:
    case DramCommand::SRE:
    case DramCommand::SRX:
      record_rank_command(cmd, r, g, b, c);
      break;
  }
  switch (cmd) {
    case DramCommand::RD:
      raise(rk.next_pde, c + t.CL + bl2 + 1);
      rk.idle_since = c;
      break;
    case DramCommand::WR:
      raise(rk.next_pde, c + t.CWL + bl2 + t.tWR);
      rk.idle_since = c;
      break;
    case DramCommand::PDX:
    case DramCommand::SRX:
      break;
    default:
      raise(rk.next_pde, c + 1);
      break;
  }
  if (!is_column(cmd)) update_power_state(r, c);  // a RD or WR changes neither open banks nor power state
  if (trace_) {
    CommandRecord rec;
    rec.cycle = c;
    rec.cmd = cmd;
    rec.channel = id_;
    rec.rank = r;
    const bool rank_cmd =
        !(cmd == DramCommand::ACT || cmd == DramCommand::PRE || cmd == DramCommand::REFPB || is_column(cmd));
    rec.bank_group = rank_cmd ? -1 : g;
    rec.bank = rank_cmd ? -1 : b;
    rec.row = (cmd == DramCommand::ACT || is_column(cmd)) ? row : -1;
    rec.column = is_column(cmd) ? column : -1;
    trace_->push_back(rec);
  }
}

void DramChannel::account_queues(std::int64_t cycle) {
  if (cycle <= last_account_cycle_) return;
  const std::uint64_t dt = std::uint64_t(cycle - last_account_cycle_);
  stats_->read_queue_integral += dt * std::uint64_t(n_read_);
  stats_->write_queue_integral += dt * std::uint64_t(n_write_);
  last_account_cycle_ = cycle;
}

void DramChannel::remove(Queue& q, int* n, int s) {
  if (keep_order_) {
    int index = 0;
    while (q.order[size_t(index)] != s) ++index;
    for (int i = index; i + 1 < *n; ++i) q.order[size_t(i)] = q.order[size_t(i + 1)];
  }
  q.free.push_back(std::uint16_t(s));
  --*n;
  // Out of its bank's list; the bank's summary from the requests left.
  const int w = &q == &write_q_ ? 1 : 0;
  const int bi = q.slot[size_t(s)].bank_index;
  Bank& bk = banks_[size_t(bi)];
  const int prev = q.prev[size_t(s)], next = q.next[size_t(s)];
  (prev >= 0 ? q.next[size_t(prev)] : bk.head[w]) = next;
  (next >= 0 ? q.prev[size_t(next)] : bk.tail[w]) = prev;
  if (--bk.count[w] == 0) {
    active_banks_[w][size_t(bi) / 64] &= ~(std::uint64_t(1) << (bi % 64));
    --active_count_[w];
  }
  if (!bk.sorted[w]) {
    refresh_bank_summary(bi, w);
    return;
  }
  // Ready cycles nondecreasing along the list (so along its hits too): the least is the first one's, and only the
  // first hit may need finding again.
  mark_dirty(bi);
  if (bk.count[w] == 0) {
    bk.row_hits[w] = 0;
    bk.hit_head[w] = -1;
    bk.min_ready[w] = bk.min_ready_hit[w] = kNever;
    return;
  }
  bk.min_ready[w] = q.slot[size_t(bk.head[w])].ready_cycle;
  if (q.slot[size_t(s)].loc.row != bk.open_row) return;
  if (--bk.row_hits[w] == 0) {
    bk.hit_head[w] = -1;
    bk.min_ready_hit[w] = kNever;
  } else if (bk.hit_head[w] == s) {
    int h = next;
    while (q.slot[size_t(h)].loc.row != bk.open_row) h = q.next[size_t(h)];
    bk.hit_head[w] = h;
    bk.min_ready_hit[w] = q.slot[size_t(h)].ready_cycle;
  }
}

void DramChannel::refresh_bank_summary(int bi, int w) {
  Bank& bk = banks_[size_t(bi)];
  const Queue& q = w ? write_q_ : read_q_;
  int hits = 0, hit_head = -1;
  std::int64_t min_ready = kNever, min_ready_hit = kNever;
  for (int s = bk.head[w]; s >= 0; s = q.next[size_t(s)]) {
    const DramRequest& r = q.slot[size_t(s)];
    if (r.ready_cycle < min_ready) min_ready = r.ready_cycle;
    if (r.loc.row != bk.open_row) continue;
    if (hits++ == 0) hit_head = s;
    if (r.ready_cycle < min_ready_hit) min_ready_hit = r.ready_cycle;
  }
  bk.row_hits[w] = hits;
  bk.hit_head[w] = hit_head;
  mark_dirty(bi);
  bk.min_ready[w] = min_ready;
  bk.min_ready_hit[w] = min_ready_hit;
}

void DramChannel::enqueue(const DramRequest& r, std::int64_t cycle) {
  ATTNSIM_ASSERT(!queue_full(r.is_write), "enqueue into a full queue");
  if (!has_requests()) catch_up(cycle);
  account_queues(cycle);
  Queue& q = r.is_write ? write_q_ : read_q_;
  const std::uint16_t free_slot = q.free.back();
  q.free.pop_back();
  if (keep_order_) q.order[size_t(r.is_write ? n_write_ : n_read_)] = free_slot;
  last_slot_[r.is_write] = free_slot;
  DramRequest& slot = q.slot[free_slot];
  slot = r;
  slot.group_index = r.loc.rank * spec_.bank_groups + r.loc.bank_group;
  slot.bank_index = slot.group_index * spec_.banks_per_group + r.loc.bank;
  {  // at the tail of its bank's list
    const int w = r.is_write ? 1 : 0, s = free_slot, bi = slot.bank_index;
    Bank& bk = banks_[size_t(bi)];
    ATTNSIM_ASSERT(q.arrivals < kKeyArrivals, "arrival number beyond the fast scheduler's pick key");
    q.seq[s] = q.arrivals++;
    q.next[s] = -1;
    q.prev[s] = bk.tail[w];
    if (bk.tail[w] >= 0 && q.slot[size_t(bk.tail[w])].ready_cycle > slot.ready_cycle) bk.sorted[w] = false;
    (bk.tail[w] >= 0 ? q.next[size_t(bk.tail[w])] : bk.head[w]) = s;
    bk.tail[w] = s;
    mark_dirty(bi);
    if (bk.count[w]++ == 0) {
      bk.min_ready[w] = slot.ready_cycle;
      bk.sorted[w] = true;
      active_banks_[w][size_t(bi) / 64] |= std::uint64_t(1) << (bi % 64);
      ++active_count_[w];
    } else if (slot.ready_cycle < bk.min_ready[w]) {
      bk.min_ready[w] = slot.ready_cycle;
    }
    if (bk.open_row == r.loc.row) {
      if (bk.row_hits[w]++ == 0) {
        bk.hit_head[w] = s;
        bk.min_ready_hit[w] = slot.ready_cycle;
      } else if (slot.ready_cycle < bk.min_ready_hit[w]) {
        bk.min_ready_hit[w] = slot.ready_cycle;
      }
    }
  }
  ++ranks_[size_t(r.loc.rank)].queued;
  if (r.is_write) {
    ++n_write_;
    stats_->write_queue_max = std::max(stats_->write_queue_max, n_write_);
  } else {
    ++n_read_;
    stats_->read_queue_max = std::max(stats_->read_queue_max, n_read_);
  }
}

std::int64_t DramChannel::wake_cycle_for_last_enqueued(bool is_write) const {
  // Would the read/write mode change now? Then the other queue's commands become candidates.
  bool mode = write_mode_;
  if (!mode) {
    if (n_write_ >= spec_.write_high || (n_read_ == 0 && n_write_ > 0)) mode = true;
  } else if (n_write_ == 0 || (n_write_ <= spec_.write_low && n_read_ > 0)) {
    mode = false;
  }
  if (mode != write_mode_) return 0;
  if (is_write != write_mode_) return kNever;
  const DramRequest& q = (is_write ? write_q_ : read_q_).slot[size_t(last_slot_[is_write])];
  if (ranks_[size_t(q.loc.rank)].power != Power::Awake) return 0;  // its exit may issue now: let the step decide
  if (ranks_[size_t(q.loc.rank)].refresh_pending || banks_[size_t(q.bank_index)].refresh_hold) return kNever;
  return std::max(q.ready_cycle, earliest_for(next_command(q), q));
}

const DramRequest* DramChannel::oldest_request() const {
  // Each bank's list is oldest first: the oldest request is the least arrival number among the heads.
  const DramRequest* r = nullptr;
  for (int w = 0; w < 2; ++w) {
    const Queue& q = w ? write_q_ : read_q_;
    int best = -1;
    for (const Bank& bk : banks_)
      if (bk.head[w] >= 0 && (best < 0 || q.seq[size_t(bk.head[w])] < q.seq[size_t(best)])) best = bk.head[w];
    if (best >= 0 && (!r || q.slot[size_t(best)].accept_cycle < r->accept_cycle)) r = &q.slot[size_t(best)];
  }
  return r;
}

std::int64_t DramChannel::active_rank_cycles(std::int64_t end) const {
  std::int64_t n = 0;
  for (const Rank& rk : ranks_) {
    n += rk.active_cycles;
    if (rk.open_banks > 0 && end > rk.active_since) n += end - rk.active_since;
    if (rk.refresh_end > end) n -= rk.refresh_end - end;  // the refresh's cycles after the end
  }
  return n;
}

int DramChannel::refreshes_pending() const {
  int n = 0;
  for (const Rank& rk : ranks_) n += refresh_owed(rk);
  return n;
}

void DramChannel::catch_up(std::int64_t cycle) {
  if (has_requests()) return;
  StepResult res;
  while (next_cycle_ < cycle) step(next_cycle_, &res);
}

DramCommand DramChannel::pb_next_command(int r, int* bank, std::int64_t* earliest_cycle) const {
  const Rank& rk = ranks_[size_t(r)];
  DramCommand c = DramCommand::REFPB;
  *bank = pb_bank(r, rk.pb_set, 0);
  *earliest_cycle = kNever;
  for (int k = 0; k < spec_.banks_per_refresh; ++k) {  // the open bank whose PRE can issue first
    const int i = pb_bank(r, rk.pb_set, k);
    const Bank& bk = banks_[size_t(i)];
    if (bk.open_row < 0) continue;
    const std::int64_t e = std::max(bk.next_pre, rk.next_pre);
    if (e < *earliest_cycle) c = DramCommand::PRE, *bank = i, *earliest_cycle = e;
  }
  if (c == DramCommand::REFPB) {
    const int bpr = spec_.banks_per_rank();
    *earliest_cycle = earliest(c, r, (rk.pb_set % bpr) / spec_.banks_per_group, rk.pb_set % spec_.banks_per_group);
  }
  return c;
}

// Per-bank refresh of rank r: when its REFpb falls due, the set's banks are held (no request is served from
// them), closed by a PRE each, then refreshed; the rank's other banks keep serving.
void DramChannel::step_refresh_per_bank(int r, std::int64_t cycle, StepResult* res) {
  Rank& rk = ranks_[size_t(r)];
  if (!rk.pb_pending && cycle >= rk.refresh_due) {
    rk.pb_pending = true;
    forget_candidates();
    for (int k = 0; k < spec_.banks_per_refresh; ++k) banks_[size_t(pb_bank(r, rk.pb_set, k))].refresh_hold = true;
  }
  if (!rk.pb_pending) return;
  int bank;
  std::int64_t e;
  const DramCommand c = pb_next_command(r, &bank, &e);
  if (e > cycle) return;
  const int flat = bank % spec_.banks_per_rank(), g = flat / spec_.banks_per_group, b = flat % spec_.banks_per_group;
  issue(c, r, g, b, -1, cycle);
  res->issued = true;
  res->command = CommandRecord{cycle, c, id_, r, g, b, -1, -1};
  if (c != DramCommand::REFPB) return;
  for (int k = 0; k < spec_.banks_per_refresh; ++k) banks_[size_t(pb_bank(r, rk.pb_set, k))].refresh_hold = false;
  forget_candidates();
  rk.pb_set = (rk.pb_set + 1) % spec_.refresh_sets();
  rk.refresh_due += spec_.t.tREFIpb;
  rk.pb_pending = false;
}

void DramChannel::step_refresh(std::int64_t cycle, StepResult* res) {
  if (cycle < refresh_watch_) return;  // no awake rank's refresh pending or due
  // 1. Refresh: a rank whose REF is due is closed (PREA) and refreshed before anything else.
  step_refresh_ranks(cycle, res);
  update_refresh_watch();
}

void DramChannel::update_refresh_watch() {
  refresh_watch_ = kNever;
  for (const Rank& rk : ranks_) {
    if (rk.power != Power::Awake) continue;
    const std::int64_t w = refresh_owed(rk) ? -1 : rk.refresh_due;
    if (w < refresh_watch_) refresh_watch_ = w;
  }
}

void DramChannel::step_refresh_ranks(std::int64_t cycle, StepResult* res) {
  for (int r = 0; r < spec_.ranks && !res->issued; ++r) {
    Rank& rk = ranks_[size_t(r)];
    if (rk.power != Power::Awake) continue;  // power-down: step_power_exit wakes it; self-refresh needs no REF
    if (spec_.per_bank_refresh) {
      step_refresh_per_bank(r, cycle, res);
      continue;
    }
    if (!rk.refresh_pending && cycle >= rk.refresh_due) {
      rk.refresh_pending = true;
      forget_candidates();
    }
    if (!rk.refresh_pending) continue;
    const DramCommand c = rk.open_banks > 0 ? DramCommand::PREA : DramCommand::REF;
    if (earliest(c, r, 0, 0) <= cycle) {
      issue(c, r, 0, 0, -1, cycle);
      if (c == DramCommand::REF) {
        rk.refresh_due += spec_.t.tREFI;
        rk.refresh_pending = false;
      }
      res->issued = true;
      res->command = CommandRecord{cycle, c, id_, r, -1, -1, -1, -1};
    }
  }
}

void DramChannel::retire(Queue& q, int* n, int pick, DramCommand cmd, std::int64_t cycle, StepResult* res) {
  DramRequest& rq = q.slot[size_t(pick)];
  const DramCommand first = DramCommand(rq.first_cmd);
  if (is_column(first))
    ++stats_->row_hits;
  else if (first == DramCommand::ACT)
    ++stats_->row_misses;
  else
    ++stats_->row_conflicts;
  res->completed = true;
  res->request = rq;
  --ranks_[size_t(rq.loc.rank)].queued;
  if (cmd == DramCommand::WR) {
    res->done_cycle = cycle + spec_.t.CWL + spec_.burst_cycles();
    ++stats_->writes;
    stats_->bytes_written += std::uint64_t(spec_.burst_bytes());
  } else {
    res->done_cycle = cycle + spec_.t.CL + spec_.burst_cycles();
    ++stats_->reads;
    stats_->bytes_read += std::uint64_t(spec_.burst_bytes());
    stats_->record_read_latency(std::uint64_t(res->done_cycle - rq.accept_cycle));
  }
  remove(q, n, pick);
}

// The reference scheduler: a plain reading of FR-FCFS, one scan to pick and one to find the next cycle.
// FR-FCFS's pick issued (both schedulers): the command recorded, a column command retires its request.
void DramChannel::issue_pick(Queue& q, int* n, int pick, DramCommand cmd, std::int64_t cycle, StepResult* res) {
  DramRequest& rq = q.slot[size_t(pick)];
  issue(cmd, rq.loc.rank, rq.loc.bank_group, rq.loc.bank, rq.loc.row, cycle, rq.loc.column);
  if (rq.first_cmd < 0) rq.first_cmd = std::int8_t(cmd);
  res->issued = true;
  res->command = CommandRecord{cycle,
                               cmd,
                               id_,
                               rq.loc.rank,
                               rq.loc.bank_group,
                               rq.loc.bank,
                               cmd == DramCommand::PRE ? -1 : rq.loc.row,
                               is_column(cmd) ? rq.loc.column : -1};
  if (is_column(cmd)) retire(q, n, pick, cmd, cycle, res);
}

// The earliest cycle a refresh command (PREA or REF) can issue or falls due, over the ranks.
std::int64_t DramChannel::next_refresh_cycle() const {
  std::int64_t next = kNever;
  for (int r = 0; r < spec_.ranks; ++r) {
    const Rank& rk = ranks_[size_t(r)];
    if (rk.power != Power::Awake) continue;  // next_power_cycle() covers the exit
    if (spec_.per_bank_refresh) {
      std::int64_t e = rk.refresh_due;
      int bank;
      if (rk.pb_pending) pb_next_command(r, &bank, &e);
      next = std::min(next, e);
      continue;
    }
    const std::int64_t e = rk.refresh_pending
                               ? earliest(rk.open_banks > 0 ? DramCommand::PREA : DramCommand::REF, r, 0, 0)
                               : rk.refresh_due;
    if (e < next) next = e;
  }
  return next;
}

void DramChannel::step_reference(std::int64_t cycle, StepResult& res) {
  res.issued = res.completed = false;
  account_queues(cycle);

  if (cycle > last_command_cycle_) {
    step_power_exit(cycle, &res);
    if (!res.issued) step_refresh(cycle, &res);
    // 2. FR-FCFS over the active queue: the oldest request whose row hit can issue now, else the oldest
    //    request whose next command (ACT or PRE) can issue now. A PRE is held back while a queued request
    //    of the same queue still hits the open row of that bank.
    if (!res.issued) {
      update_write_mode();
      Queue& q = write_mode_ ? write_q_ : read_q_;
      int* n = write_mode_ ? &n_write_ : &n_read_;
      int pick = -1;
      DramCommand pick_cmd = DramCommand::ACT;
      for (int i = 0; i < *n; ++i) {
        const DramRequest& rq = q[i];
        if (rq.ready_cycle > cycle || rank_blocked(ranks_[size_t(rq.loc.rank)]) ||
            banks_[size_t(rq.bank_index)].refresh_hold)
          continue;
        const DramCommand c = next_command(rq);
        if (c == DramCommand::PRE && row_hit_pending(rq)) continue;
        if (pick >= 0 && !is_column(c)) continue;  // an older ACT/PRE is already chosen; only a hit beats it
        if (earliest_for(c, rq) > cycle) continue;
        pick = i, pick_cmd = c;
        if (is_column(c)) break;
      }
      if (pick >= 0) issue_pick(q, n, q.order[size_t(pick)], pick_cmd, cycle, &res);
    }
    if (!res.issued) step_power_entry(cycle, &res);
  }

  // 3. When could anything issue next? The minimum over refresh, power and the active queue's next commands.
  const std::int64_t base = std::max(cycle, last_command_cycle_) + 1;
  std::int64_t next = std::min(next_refresh_cycle(), next_power_cycle());
  update_write_mode();
  const Queue& q = write_mode_ ? write_q_ : read_q_;
  const int n = write_mode_ ? n_write_ : n_read_;
  for (int i = 0; i < n && next > base; ++i) {
    const DramRequest& rq = q[i];
    if (rank_blocked(ranks_[size_t(rq.loc.rank)]) || banks_[size_t(rq.bank_index)].refresh_hold) continue;
    const DramCommand c = next_command(rq);
    if (c == DramCommand::PRE && row_hit_pending(rq)) continue;
    std::int64_t e = earliest_for(c, rq);
    if (rq.ready_cycle > e) e = rq.ready_cycle;
    if (e < next) next = e;
  }
  if (next < base) next = base;
  next_cycle_ = next;
  res.next_cycle = next;
}

// The fast scheduler makes the reference's decisions with less work. It looks at banks, not requests:
//  - a bank's requests of one queue share their next command's class (the open row's hits: RD/WR; with no
//    hit queued, every request needs a PRE; with the bank closed, an ACT), and every request of a class has
//    the same earliest legal cycle (bank, group and rank timing); a request can issue at
//    e = max(its ready_cycle, that cycle), so a bank's least e comes from the class's least ready_cycle,
//    kept per bank (Bank::min_ready, min_ready_hit);
//  - the reference picks the oldest request with a column command and e <= cycle, else the oldest with an
//    ACT/PRE and e <= cycle. Per bank that is the oldest ready request of its class (the class's head, unless
//    a younger request is ready first), so the pick is the oldest of the banks' candidates by arrival;
//  - a bank's candidate is kept between passes: its bank part, e_b = max(ready, the bank's timing), is evaluated
//    again only when the bank's requests, row or timing changed (a command to the bank); the group and rank part
//    (tRRD_L/S and tFAW for an ACT, the PRE floor, tCCD_L/S and the turnarounds for a RD or WR), which commands
//    to other banks raise, is taken per bank group and class at each pass: e = max(e_b, group part). A refresh
//    falling due, a held bank set and any rank-level or power command forget them all;
//  - when nothing issues, no state changed, so the pass's least e is step 3's answer; after an issue one more
//    pass (over the few banks made stale) finds it; that pass stops at the first bank able to act at the next
//    cycle (step 3 never answers less), which after most commands comes early. A pass with no command issued
//    since the last (the next step's pick, after enqueues) keeps the floors and evaluates only the stale banks;
//  - the pick walks the candidates in pick order (order_, by pick_key: column candidates first, then by their
//    first request's arrival; kept sorted as candidates are evaluated again) and stops at the first whose
//    e <= cycle, from the candidate's first request's ready cycle, kept with it (no request is read unless
//    that first one is not ready yet); at most passes some command issues, and the pick is among the first few
//    candidates. Step 3's pass goes over the banks with requests in the queue (a bit set each).
// Its cost is a pass over the banks instead of over the requests (128 reads queued in 16 banks with the
// presets' bank queues of 8), evaluating one or two of them.

inline int DramChannel::bank_candidate(int bi, int w, std::int64_t* e_out, int* first) const {
  const Bank& bk = banks_[size_t(bi)];
  if (bk.refresh_hold) return -1;
  const Rank& rk = ranks_[size_t(bk.rank)];
  if (rank_blocked(rk)) return -1;
  int cls;
  std::int64_t e, ready;
  if (bk.open_row < 0) {
    cls = 0;
    e = bk.next_act;
    *first = bk.head[w], ready = bk.min_ready[w];
  } else if (bk.row_hits[w] > 0) {
    cls = 2;
    e = w ? bk.next_wr : bk.next_rd;
    *first = bk.hit_head[w], ready = bk.min_ready_hit[w];
  } else {
    cls = 1;
    e = bk.next_pre;
    *first = bk.head[w], ready = bk.min_ready[w];
  }
  *e_out = ready > e ? ready : e;
  return cls;
}

void DramChannel::scan_floors(int w, unsigned classes) {
  // Each bank group's floor per class: ACT (tRRD_L, tRRD_S and the four-activate window), PRE (the rank's
  // floor), the queue's column command (tCCD_L, tCCD_S and the turnarounds); only the classes asked for, one
  // loop over the rank's groups each.
  const int ng = spec_.bank_groups;
  for (int r = 0; r < spec_.ranks; ++r) {
    const Rank& rk = ranks_[size_t(r)];
    const BankGroup* gp = &groups_[size_t(r * ng)];
    std::int64_t* f = &group_floor_[size_t(3 * r * ng)];
    if (classes & kFloorColumn) {
      if (w) {
        const std::int64_t col = rk.next_wr;
        for (int g = 0; g < ng; ++g) f[3 * g + 2] = gp[g].next_wr > col ? gp[g].next_wr : col;
      } else {
        const std::int64_t col = rk.next_rd;
        for (int g = 0; g < ng; ++g) f[3 * g + 2] = gp[g].next_rd > col ? gp[g].next_rd : col;
      }
    }
    if (classes & kFloorAct) {
      std::int64_t act = rk.next_act;
      if (rk.acts >= 4) {
        const std::int64_t faw = rk.act_window[size_t(rk.act_window_pos)] + spec_.t.tFAW;
        if (faw > act) act = faw;
      }
      for (int g = 0; g < ng; ++g) f[3 * g] = gp[g].next_act > act ? gp[g].next_act : act;
    }
    if (classes & kFloorPre)
      for (int g = 0; g < ng; ++g) f[3 * g + 1] = rk.next_pre;
  }
}

template <bool kPick>
std::int64_t DramChannel::scan_banks(int w, std::int64_t cycle, int* pick, DramCommand* pick_cmd,
                                     std::int64_t enough) {
  const Queue& q = w ? write_q_ : read_q_;
  const int nb = int(banks_.size());
  // Candidates of the banks that changed (all of them when none are kept for this queue). A bank without
  // requests in the queue, or left alone, gets e = kNever (under its group's ACT floor: any floor is less).
  auto evaluate = [&](int bi) __attribute__((always_inline)) {
    std::int64_t e = kNever;
    int first = -1;
    const Bank& bk = banks_[size_t(bi)];
    const int cls = bk.count[w] > 0 ? bank_candidate(bi, w, &e, &first) : -1;
    if (cls < 0) {
      cand_class_[size_t(bi)] = std::int16_t(3 * bk.group);
      cand_e_[size_t(bi)] = kNever;
      if (order_pos_[size_t(bi)] >= 0) order_remove(bi);
      return;
    }
    cand_class_[size_t(bi)] = std::int16_t(3 * bk.group + cls);
    cand_cls_[size_t(bi)] = std::int8_t(cls);
    cand_e_[size_t(bi)] = e;
    cand_first_[size_t(bi)] = first;
    cand_first_ready_[size_t(bi)] = q.slot[size_t(first)].ready_cycle;
    const std::uint64_t k = pick_key(cls, q.seq[size_t(first)], bi);
    if (order_pos_[size_t(bi)] >= 0 && cand_first_key_[size_t(bi)] == k) return;  // its place in the order stands
    cand_first_key_[size_t(bi)] = k;
    order_place(bi, k);
  };
  if (cand_queue_ != w) {
    cand_queue_ = w;
    scan_floors(w, kFloorAll);
    order_n_ = 0;
    for (auto& p : order_pos_) p = -1;
    for (int bi = 0; bi < nb; ++bi) evaluate(bi);
    for (auto& d : dirty_) d = 0;
  } else {
    if (floors_stale_) scan_floors(w, floors_stale_);  // commands issued since the last pass moved them
    for (size_t word = 0; word < dirty_.size(); ++word) {
      for (std::uint64_t bits = dirty_[word]; bits != 0; bits &= bits - 1) evaluate(int(word * 64) + __builtin_ctzll(bits));
      dirty_[word] = 0;
    }
  }
  floors_stale_ = 0;
  // Without kPick, one pass over the banks with requests in the queue (every other bank has e = kNever): a bank's e
  // is its kept candidate's bank part raised to its group's floor for the class; the pass stops at the first
  // e <= `enough` (the caller takes no less than that).
  const std::int16_t* key = cand_class_.data();
  const std::int64_t* ce = cand_e_.data();
  const std::int64_t* floor = group_floor_.data();
  std::int64_t least = kNever;
  if (!kPick) {
    // Over the candidates (a bank without one has e = kNever), in either direction: the value is the same. After a
    // column command the column candidates can seldom act by `enough` (every column floor moved by tCCD, two
    // cycles in the presets), and the ACT/PRE candidates come last in pick order: then the pass goes from the
    // back, so that one of them able to act stops it early.
    auto visit = [&](int i) __attribute__((always_inline)) {
      const int bi = order_[size_t(i)];
      const std::int64_t f = floor[key[bi]];
      const std::int64_t e = ce[bi] > f ? ce[bi] : f;
      least = e < least ? e : least;
      return least <= enough;
    };
    if (*pick_cmd == DramCommand::RD || *pick_cmd == DramCommand::WR) {
      for (int i = order_n_ - 1; i >= 0; --i)
        if (visit(i)) return least;
    } else {
      for (int i = 0; i < order_n_; ++i)
        if (visit(i)) return least;
    }
    return least;
  }
  // With kPick, the candidates in pick order (order_: column candidates first, then by their first request's
  // arrival): the first whose e <= cycle and whose first request is ready is the pick; most passes find it
  // among the first few. A candidate able to act whose first request is not ready yet (its list is not in ready
  // order) offers a younger request of its class: its key, found by walking its list, is larger than its place
  // in the order says, so the walk goes on while a later candidate could still be older. When nothing is picked
  // every candidate was looked at, and the least e is the queue's; when a pick is found the return value is not
  // the queue's least (the caller issues it and scans again).
  const std::int64_t* first_ready = cand_first_ready_.data();
  std::uint64_t best = UINT64_MAX;
  int best_slot = -1;
  for (int i = 0; i < order_n_; ++i) {
    const std::uint64_t k = order_key_[size_t(i)];
    if (k >= best) break;
    const int bi = order_[size_t(i)];
    const std::int64_t f = floor[key[bi]];
    const std::int64_t e = ce[bi] > f ? ce[bi] : f;
    least = e < least ? e : least;
    if (e > cycle) continue;
    if (first_ready[bi] <= cycle) {
      best = k, best_slot = cand_first_[size_t(bi)];
      break;
    }
    // The class's oldest request ready now (one exists: the class's least ready_cycle is <= cycle).
    const int cls = cand_cls_[size_t(bi)];
    const std::int64_t open_row = banks_[size_t(bi)].open_row;
    int s = cand_first_[size_t(bi)];
    for (s = q.next[size_t(s)];; s = q.next[size_t(s)]) {
      const DramRequest& r = q.slot[size_t(s)];
      if ((cls != 2 || r.loc.row == open_row) && r.ready_cycle <= cycle) break;
    }
    const std::uint64_t ks = pick_key(cls, q.seq[size_t(s)], bi);
    if (ks < best) best = ks, best_slot = s;
  }
  if (best_slot < 0) return least;
  const int cls = cand_cls_[size_t(best % kKeyBanks)];
  *pick = best_slot;
  *pick_cmd = cls == 2 ? (w ? DramCommand::WR : DramCommand::RD) : cls == 0 ? DramCommand::ACT : DramCommand::PRE;
  return least;
}

void DramChannel::order_place(int bi, std::uint64_t k) {
  // From its old place (or past the end), moved left or right over the entries between it and its new place.
  int i = order_pos_[size_t(bi)];
  if (i < 0) i = order_n_++;
  for (; i > 0 && order_key_[size_t(i - 1)] > k; --i) {
    order_key_[size_t(i)] = order_key_[size_t(i - 1)];
    order_[size_t(i)] = order_[size_t(i - 1)];
    order_pos_[size_t(order_[size_t(i)])] = std::int16_t(i);
  }
  for (; i + 1 < order_n_ && order_key_[size_t(i + 1)] < k; ++i) {
    order_key_[size_t(i)] = order_key_[size_t(i + 1)];
    order_[size_t(i)] = order_[size_t(i + 1)];
    order_pos_[size_t(order_[size_t(i)])] = std::int16_t(i);
  }
  order_key_[size_t(i)] = k;
  order_[size_t(i)] = std::int16_t(bi);
  order_pos_[size_t(bi)] = std::int16_t(i);
}

void DramChannel::order_remove(int bi) {
  int i = order_pos_[size_t(bi)];
  for (--order_n_; i < order_n_; ++i) {
    order_key_[size_t(i)] = order_key_[size_t(i + 1)];
    order_[size_t(i)] = order_[size_t(i + 1)];
    order_pos_[size_t(order_[size_t(i)])] = std::int16_t(i);
  }
  order_pos_[size_t(bi)] = -1;
}

void DramChannel::step_fast(std::int64_t cycle, StepResult& res) {
  res.issued = res.completed = false;
  account_queues(cycle);
  std::int64_t scan_min = kNever;  // least e over the active queue, valid when scanned and nothing issued
  bool scanned = false;

  if (cycle > last_command_cycle_) {
    if (power_policy_) step_power_exit(cycle, &res);
    if (!res.issued) step_refresh(cycle, &res);
    if (!res.issued) {
      update_write_mode();
      int pick = -1;
      DramCommand pick_cmd = DramCommand::ACT;
      scan_min = scan_banks<true>(write_mode_ ? 1 : 0, cycle, &pick, &pick_cmd, kNever);
      scanned = true;
      if (pick >= 0)
        issue_pick(write_mode_ ? write_q_ : read_q_, write_mode_ ? &n_write_ : &n_read_, pick, pick_cmd, cycle, &res);
    }
    if (!res.issued && power_policy_) step_power_entry(cycle, &res);
  }

  // 3. As in the reference. Refresh and power first (they may have changed the state even when FR-FCFS did not
  //    run); a power entry issued after the scan changed no queue or bank, so the scan's minimum still stands.
  //    The answer is at least base: a pass that finds a bank able to act by then stops there, and refresh and
  //    power need not be asked.
  const std::int64_t base = std::max(cycle, last_command_cycle_) + 1;
  if (!(scanned && (!res.issued || is_power_command(res.command.cmd)))) {
    // Something issued after (or without) the scan: the mode as the reference decides it, then the pick's class
    // evaluated again, or the whole queue (a refresh or power command issued, or the mode changed).
    update_write_mode();
    DramCommand issued = res.issued ? res.command.cmd : DramCommand::REF;  // only the order of the pass
    scan_min = scan_banks<false>(write_mode_ ? 1 : 0, cycle, nullptr, &issued, base);
  }
  std::int64_t next = scan_min;
  if (next > base) {
    // With no awake rank owing a refresh, next_refresh_cycle() is the least refresh_due over the awake ranks, which
    // refresh_watch_ holds; the power commands' cycle only with a power policy.
    const std::int64_t refresh = refresh_watch_ >= 0 ? refresh_watch_ : next_refresh_cycle();
    next = std::min({next, refresh, power_policy_ ? next_power_cycle() : kNever});
  }
  if (next < base) next = base;
  next_cycle_ = next;
  res.next_cycle = next;
}

// --- Power-down and self-refresh ----------------------------------------------------------------------
// Policy (DramSpec): a rank with no queued request enters self-refresh self_refresh_after_cycles after its
// last RD/WR (first a PREA if a row is open; from power-down, first a PDX), else power-down
// power_down_after_cycles after it. It leaves power-down when a request for it arrives, when its refresh
// falls due or when self-refresh is wanted; it leaves self-refresh when a request for it arrives.

void DramChannel::record_rank_command(DramCommand cmd, int r, int, int, std::int64_t c) {
  const DramTiming& t = spec_.t;
  Rank& rk = ranks_[size_t(r)];
  auto wake = [&](std::int64_t until) {
    raise(rk.next_act, until);
    raise(rk.next_rd, until);
    raise(rk.next_wr, until);
    raise(rk.next_pre, until);
    raise(rk.next_prea, until);
    raise(rk.next_ref, until);
  };
  switch (cmd) {
    case DramCommand::PDE:
      ATTNSIM_ASSERT(rk.power == Power::Awake, "PDE to a rank not awake");
      rk.power = Power::PowerDown;
      rk.power_since = c;
      break;
    case DramCommand::SRE:
      ATTNSIM_ASSERT(rk.power == Power::Awake && rk.open_banks == 0, "SRE to a rank not awake and precharged");
      rk.power = Power::SelfRefresh;
      rk.power_since = c;
      break;
    case DramCommand::PDX:
      ATTNSIM_ASSERT(rk.power == Power::PowerDown, "PDX to a rank not in power-down");
      rk.power = Power::Awake;
      wake(c + t.tXP);
      raise(rk.next_pde, c + std::max(t.tXP, t.tCKE));
      break;
    case DramCommand::SRX:
      ATTNSIM_ASSERT(rk.power == Power::SelfRefresh, "SRX to a rank not in self-refresh");
      rk.power = Power::Awake;
      wake(c + t.tXS);
      raise(rk.next_pde, c + t.tXS);
      rk.refresh_due = c + (spec_.per_bank_refresh ? t.tREFIpb : t.tREFI);
      break;
    default:
      break;
  }
  update_refresh_watch();  // a rank woke (its refresh counts again) or its refresh moved
}

void DramChannel::update_power_state(int r, std::int64_t cycle) {
  const Rank& rk = ranks_[size_t(r)];
  const bool open = rk.open_banks > 0;
  RankPowerState s;
  if (rk.power == Power::SelfRefresh)
    s = RankPowerState::SelfRefresh;
  else if (rk.power == Power::PowerDown)
    s = open ? RankPowerState::ActivePowerDown : RankPowerState::PrechargedPowerDown;
  else
    s = open ? RankPowerState::ActiveStandby : RankPowerState::PrechargedStandby;
  stats_->rank_power[size_t(id_ * spec_.ranks + r)].enter(s, cycle);
}

// A rank-level power command (PDE, PDX, SRE, SRX, or the PREA before SRE), issued if its timing allows.
bool DramChannel::issue_rank_command(DramCommand c, int r, std::int64_t cycle, StepResult* res) {
  if (earliest(c, r, 0, 0) > cycle) return false;
  issue(c, r, 0, 0, -1, cycle);
  res->issued = true;
  res->command = CommandRecord{cycle, c, id_, r, -1, -1, -1, -1};
  return true;
}

void DramChannel::step_power_exit(std::int64_t cycle, StepResult* res) {
  if (spec_.power_down_after_cycles == 0 && spec_.self_refresh_after_cycles == 0) return;
  for (int r = 0; r < spec_.ranks; ++r) {
    const Rank& rk = ranks_[size_t(r)];
    DramCommand c;
    if (rk.power == Power::PowerDown && (rk.queued > 0 || cycle >= rk.refresh_due || wants_self_refresh(rk, cycle)))
      c = DramCommand::PDX;
    else if (rk.power == Power::SelfRefresh && rk.queued > 0)
      c = DramCommand::SRX;
    else
      continue;
    if (issue_rank_command(c, r, cycle, res)) return;
  }
}

void DramChannel::step_power_entry(std::int64_t cycle, StepResult* res) {
  if (spec_.power_down_after_cycles == 0 && spec_.self_refresh_after_cycles == 0) return;
  for (int r = 0; r < spec_.ranks; ++r) {
    const Rank& rk = ranks_[size_t(r)];
    if (rk.power != Power::Awake || rk.queued > 0 || refresh_owed(rk)) continue;
    DramCommand c;
    if (wants_self_refresh(rk, cycle))
      c = rk.open_banks > 0 ? DramCommand::PREA : DramCommand::SRE;
    else if (spec_.power_down_after_cycles > 0 && cycle >= rk.idle_since + spec_.power_down_after_cycles)
      c = DramCommand::PDE;
    else
      continue;
    if (issue_rank_command(c, r, cycle, res)) return;
  }
}

std::int64_t DramChannel::next_power_cycle() const {
  if (spec_.power_down_after_cycles == 0 && spec_.self_refresh_after_cycles == 0) return kNever;
  const std::int64_t sr_after = spec_.self_refresh_after_cycles, pd_after = spec_.power_down_after_cycles;
  std::int64_t next = kNever;
  for (int r = 0; r < spec_.ranks; ++r) {
    const Rank& rk = ranks_[size_t(r)];
    std::int64_t e = kNever;
    if (rk.power == Power::PowerDown) {
      // Exit for a request (at once), for the refresh, or to enter self-refresh; never before tCKE.
      std::int64_t want = rk.queued > 0 ? 0 : rk.refresh_due;
      if (rk.queued == 0 && sr_after > 0) want = std::min(want, rk.idle_since + sr_after);
      e = std::max(want, earliest(DramCommand::PDX, r, 0, 0));
    } else if (rk.power == Power::SelfRefresh) {
      if (rk.queued > 0) e = earliest(DramCommand::SRX, r, 0, 0);
    } else if (rk.queued == 0 && !refresh_owed(rk)) {
      if (sr_after > 0) {
        const DramCommand c = rk.open_banks > 0 ? DramCommand::PREA : DramCommand::SRE;
        e = std::max(rk.idle_since + sr_after, earliest(c, r, 0, 0));
      }
      if (pd_after > 0) {
        // Power-down only while self-refresh is not wanted yet (step_power_entry's order).
        const std::int64_t pd = std::max(rk.idle_since + pd_after, earliest(DramCommand::PDE, r, 0, 0));
        if (sr_after == 0 || pd < rk.idle_since + sr_after) e = std::min(e, pd);
      }
    }
    next = std::min(next, e);
  }
  return next;
}

}  // namespace attnsim
