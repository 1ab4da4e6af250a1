#include "hw/dram/timing_checker.h"

#include <algorithm>
#include <cmath>
#include <istream>
#include <ostream>
#include <sstream>

#include "common/errors.h"
#include "hw/dram/jedec_table.h"

namespace attnsim {

namespace {
std::string describe(const CommandRecord& c) {
  std::ostringstream s;
  s << to_string(c.cmd) << " at cycle " << c.cycle << " (ch" << c.channel << " ra" << c.rank;
  if (c.bank_group >= 0) s << " bg" << c.bank_group << " ba" << c.bank;
  if (c.row >= 0) s << " row " << c.row;
  s << ")";
  return s.str();
}
}  // namespace

std::string TimingViolation::message() const {
  if (later.cycle < 0) return constraint;
  if (earlier.cycle < 0) return constraint + ": " + describe(later);
  return constraint + ": " + describe(later) + " is " + std::to_string(later.cycle - earlier.cycle) + " cycles after " +
         describe(earlier) + ", needs " + std::to_string(required);
}

TimingChecker::TimingChecker(const DramSpec& spec)
    : spec_(spec),
      banks_(size_t(spec.channels * spec.ranks * spec.bank_groups * spec.banks_per_group)),
      groups_(size_t(spec.channels * spec.ranks * spec.bank_groups)),
      ranks_(size_t(spec.channels * spec.ranks)),
      channels_(size_t(spec.channels)) {
  const JedecSpeedGrade* g = find_jedec_speed_grade(spec.standard, spec.speed_grade);
  if (!g)
    throw UserError(spec.name + ": the timing checker has no JEDEC table for standard \"" + spec.standard +
                    "\", speed grade \"" + spec.speed_grade + "\" (it knows " + jedec_speed_grade_names() + ")");
  t_ = jedec_minimum_timing(*g, g->tCK_ns);
  tRPab_ = jedec_clocks(*g, g->tRPab, g->tCK_ns);
  max_postponed_refs_ = g->max_postponed_refs;
  refpb_banks_ = g->refpb_banks;
  if (refpb_banks_ > 0 && spec.banks_per_rank() % refpb_banks_ == 0) sets_ = spec.banks_per_rank() / refpb_banks_;
  if (refpb_banks_ > 0) t_.tREFIpb = int(t_.tREFI / sets_);  // the largest average interval between REFpbs
  const std::string grade = std::string(g->standard) + "-" + g->speed_grade;
  const std::int64_t tck_fs = std::llround(g->tCK_ns * 1e6);
  if (spec.tCK_fs != tck_fs)
    device_error("device clock: tCK " + std::to_string(spec.tCK_fs) + " fs, " + grade + " runs at " +
                 std::to_string(tck_fs) + " fs");
  if (spec.burst_length != g->burst_length)
    device_error("device burst length: BL" + std::to_string(spec.burst_length) + ", " + grade + " has BL" +
                 std::to_string(g->burst_length));
  if (spec.t.CL < t_.CL)
    device_error("device CL: " + std::to_string(spec.t.CL) + " clocks, below " + grade + "'s minimum " +
                 std::to_string(t_.CL));
  if (spec.t.CWL < t_.CWL)
    device_error("device CWL: " + std::to_string(spec.t.CWL) + " clocks, below " + grade + "'s minimum " +
                 std::to_string(t_.CWL));
  // The data bus follows the programmed latencies.
  t_.CL = spec.t.CL;
  t_.CWL = spec.t.CWL;
}

void TimingChecker::device_error(const std::string& what) {
  CommandRecord none;
  none.cycle = -1;
  violations_.push_back(TimingViolation{what, none, none, 0});
}

void TimingChecker::check_refresh(int channel, int r, std::int64_t cycle, const CommandRecord* ref) {
  RankHistory& rk = rank(channel, r);
  const std::int64_t refi = t_.tREFI;
  // REFs fall due every tREFI from cycle 0; at most max_postponed_refs_ may be outstanding at any time,
  // so no interval without a REF may exceed (max_postponed_refs_ + 1) x tREFI.
  const std::int64_t limit = std::int64_t(max_postponed_refs_ + 1) * refi;
  if (rk.power == RankHistory::kSelfRefresh) return;  // the rank refreshes itself
  const std::int64_t base = rk.refresh_base;
  // The last refresh command of either kind (a REFpb counts: the per-bank gaps are checked per bank).
  const std::int64_t last_ref = std::max(rk.ref.cycle, rk.refpb.cycle);
  const std::int64_t last = std::max(base, last_ref == kNone ? std::int64_t(0) : last_ref);
  // REFs due strictly before `cycle` (at base + tREFI, base + 2 tREFI, ...) and not issued yet, in REFpb
  // units (a REF counts sets_; without per-bank refresh sets_ is 1).
  const std::int64_t owed = (cycle > base ? (cycle - base - 1) / refi : 0) * sets_ - rk.refs;
  const std::int64_t may_owe = std::int64_t(max_postponed_refs_) * sets_;
  if (!rk.refresh_late && (cycle - last > limit || owed > may_owe)) {
    const std::string where = "rank " + std::to_string(r) + " of channel " + std::to_string(channel);
    std::string what = cycle - last > limit
                           ? "refresh interval: " + where + " went " + std::to_string(cycle - last) +
                                 " cycles without a REF (since " +
                                 (last_ref == kNone ? std::string("cycle 0") : "cycle " + std::to_string(last)) +
                                 "), more than (" + std::to_string(max_postponed_refs_) +
                                 " postponed + 1) x tREFI = " + std::to_string(limit)
                           : rk.per_bank
                                 ? "refresh interval: " + where + " owes " + std::to_string(owed) +
                                       " per-bank REFs at cycle " + std::to_string(cycle) + ", more than the " +
                                       std::to_string(may_owe) + " (" + std::to_string(max_postponed_refs_) +
                                       " REFs of " + std::to_string(sets_) + " REFpb) that may be postponed"
                                 : "refresh interval: " + where + " owes " + std::to_string(owed) + " REFs at cycle " +
                                       std::to_string(cycle) + ", more than the " +
                                       std::to_string(max_postponed_refs_) + " that may be postponed";
    CommandRecord at;
    at.cycle = -1;
    if (ref)
      at = *ref;
    else
      what += " (end of the trace at cycle " + std::to_string(cycle) + ")";
    CommandRecord none;
    none.cycle = -1;
    violations_.push_back(TimingViolation{what, none, at, limit});
    ++found_;
    rk.refresh_late = true;
  }
  if (ref) {
    const std::int64_t units = ref->cmd == DramCommand::REFPB ? 1 : sets_;
    rk.refs += units;
    // Still late after this REF (a burst of catch-up REFs under way): the same episode, not reported again.
    rk.refresh_late = rk.refresh_late && owed - units > may_owe;
  }
}

void TimingChecker::check_bank_refresh(int channel, int r, int flat, std::int64_t cycle, const CommandRecord* ref) {
  RankHistory& rk = rank(channel, r);
  if (rk.power == RankHistory::kSelfRefresh) return;
  CommandRecord at;
  at.channel = channel, at.rank = r, at.bank_group = flat / spec_.banks_per_group, at.bank = flat % spec_.banks_per_group;
  BankHistory& bk = bank(at, at.bank_group, at.bank);
  const std::int64_t limit = std::int64_t(max_postponed_refs_ + 1) * t_.tREFI;
  const std::int64_t last = std::max(bk.refreshed, rk.refresh_base);
  if (!bk.refresh_late && cycle - last > limit) {
    std::string what = "refresh interval: bank group " + std::to_string(at.bank_group) + " bank " +
                       std::to_string(at.bank) + " of rank " + std::to_string(r) + " of channel " +
                       std::to_string(channel) + " went " + std::to_string(cycle - last) +
                       " cycles without a REF or REFpb (since cycle " + std::to_string(last) + "), more than (" +
                       std::to_string(max_postponed_refs_) + " postponed + 1) x tREFI = " + std::to_string(limit);
    CommandRecord none;
    none.cycle = -1;
    if (ref)
      at = *ref;
    else
      at.cycle = -1, what += " (end of the trace at cycle " + std::to_string(cycle) + ")";
    violations_.push_back(TimingViolation{what, none, at, limit});
    ++found_;
    bk.refresh_late = true;
  }
  if (ref) {
    bk.refreshed = cycle;
    bk.refresh_late = false;
  }
}

void TimingChecker::check_refpb(const CommandRecord& c, RankHistory& rk) {
  const DramTiming& t = t_;
  if (refpb_banks_ == 0) {
    state_error("per-bank refresh: REFpb, which the standard of this device has no command for", c);
    return;
  }
  const int first = c.bank_group * spec_.banks_per_group + c.bank;
  if (spec_.banks_per_rank() % refpb_banks_ != 0 || first >= sets_) {
    state_error("per-bank refresh: REFpb addressed to a bank that does not start a refresh bank set", c);
    return;
  }
  Last self{c.cycle, c};
  bool open = false;
  for (int k = 0; k < refpb_banks_; ++k) {
    const int flat = first + k * sets_;
    BankHistory& bk = bank(c, flat / spec_.banks_per_group, flat % spec_.banks_per_group);
    open |= bk.open_row >= 0;
    need("tRP", bk.pre, c, t.tRP);
    need("tRC", bk.act, c, t.tRC);
    need("tRFCpb", bk.refpb, c, t.tRFCpb);
    bk.refpb = self;
  }
  if (open) state_error("bank state: REFpb with a bank of its set open", c);
  need("tRPab", rk.prea, c, tRPab_);
  need("tRFC", rk.ref, c, t.tRFC);
  need("tPBR2PBR", rk.refpb, c, t.tPBR2PBR);
  rk.per_bank = true;
  check_refresh(c.channel, c.rank, c.cycle, &c);
  for (int k = 0; k < refpb_banks_; ++k) check_bank_refresh(c.channel, c.rank, first + k * sets_, c.cycle, &c);
  rk.refpb = self;
}

int TimingChecker::finish(std::int64_t end_cycle) {
  found_ = 0;
  for (int c = 0; c < spec_.channels; ++c)
    for (int r = 0; r < spec_.ranks; ++r) {
      check_refresh(c, r, end_cycle, nullptr);
      if (rank(c, r).per_bank)
        for (int b = 0; b < spec_.banks_per_rank(); ++b) check_bank_refresh(c, r, b, end_cycle, nullptr);
    }
  return found_;
}

TimingChecker::BankHistory& TimingChecker::bank(const CommandRecord& c, int g, int b) {
  return banks_[size_t(((c.channel * spec_.ranks + c.rank) * spec_.bank_groups + g) * spec_.banks_per_group + b)];
}
TimingChecker::GroupHistory& TimingChecker::group(const CommandRecord& c, int g) {
  return groups_[size_t((c.channel * spec_.ranks + c.rank) * spec_.bank_groups + g)];
}
TimingChecker::RankHistory& TimingChecker::rank(int channel, int r) {
  return ranks_[size_t(channel * spec_.ranks + r)];
}

void TimingChecker::need(const char* name, const Last& earlier, const CommandRecord& later, std::int64_t gap) {
  if (earlier.cycle == kNone) return;
  if (later.cycle - earlier.cycle >= gap) return;
  violations_.push_back(TimingViolation{name, earlier.rec, later, gap});
  ++found_;
}

void TimingChecker::state_error(const char* what, const CommandRecord& later) {
  CommandRecord none;
  none.cycle = -1;
  violations_.push_back(TimingViolation{what, none, later, 0});
  ++found_;
}

int TimingChecker::check(const CommandRecord& c) {
  found_ = 0;
  ++checked_;
  const DramTiming& t = t_;
  const std::int64_t bl2 = spec_.burst_cycles();
  if (c.channel < 0 || c.channel >= spec_.channels || c.rank < 0 || c.rank >= spec_.ranks) {
    state_error("address out of range", c);
    return found_;
  }
  const bool bank_cmd = c.cmd == DramCommand::ACT || c.cmd == DramCommand::PRE || c.cmd == DramCommand::RD ||
                        c.cmd == DramCommand::WR || c.cmd == DramCommand::REFPB;
  if (bank_cmd &&
      (c.bank_group < 0 || c.bank_group >= spec_.bank_groups || c.bank < 0 || c.bank >= spec_.banks_per_group)) {
    state_error("address out of range", c);
    return found_;
  }
  ChannelHistory& ch = channels_[size_t(c.channel)];
  if (ch.last_cycle != kNone && c.cycle <= ch.last_cycle) {
    Last l{ch.last_cycle, ch.last};
    need("command bus (one command per cycle)", l, c, 1);
  }
  RankHistory& rk = rank(c.channel, c.rank);
  Last self{c.cycle, c};
  const bool exit_cmd = c.cmd == DramCommand::PDX || c.cmd == DramCommand::SRX;
  if (!exit_cmd) {
    if (rk.power == RankHistory::kPowerDown) state_error("power state: a command to a rank in power-down", c);
    if (rk.power == RankHistory::kSelfRefresh) state_error("power state: a command to a rank in self-refresh", c);
    need("tXP", rk.pdx, c, t.tXP);
    need("tXS", rk.srx, c, t.tXS);
  }

  switch (c.cmd) {
    case DramCommand::ACT: {
      BankHistory& bk = bank(c, c.bank_group, c.bank);
      GroupHistory& gp = group(c, c.bank_group);
      if (bk.open_row >= 0) state_error("bank state: ACT to an open bank", c);
      need("tRC", bk.act, c, t.tRC);
      need("tRP", bk.pre, c, t.tRP);
      need("tRPab", rk.prea, c, tRPab_);
      need("tRRD_L", gp.act, c, t.tRRD_L);
      need("tRRD_S", rk.act, c, t.tRRD_S);
      need("tFAW", rk.acts[3], c, t.tFAW);
      need("tRFC", rk.ref, c, t.tRFC);
      need("tRFCpb", bk.refpb, c, t.tRFCpb);
      if (rk.refpb.cycle != kNone && bk.refpb.cycle != rk.refpb.cycle) need("tPBR2ACT", rk.refpb, c, t.tPBR2ACT);
      bk.open_row = c.row;
      bk.act = gp.act = rk.act = self;
      for (int i = 3; i > 0; --i) rk.acts[i] = rk.acts[i - 1];
      rk.acts[0] = self;
      break;
    }
    case DramCommand::PRE:
    case DramCommand::PREA: {
      const bool all = c.cmd == DramCommand::PREA;
      for (int g = 0; g < spec_.bank_groups; ++g)
        for (int b = 0; b < spec_.banks_per_group; ++b) {
          if (!all && (g != c.bank_group || b != c.bank)) continue;
          BankHistory& bk = bank(c, g, b);
          need("tRAS", bk.act, c, t.tRAS);
          need("tRTP", bk.rd, c, t.tRTP);
          need("tWR", bk.wr, c, t.CWL + bl2 + t.tWR);
          bk.open_row = -1;
          bk.pre = self;
        }
      rk.pre = self;
      if (all) rk.prea = self;
      break;
    }
    case DramCommand::RD:
    case DramCommand::WR: {
      const bool rd = c.cmd == DramCommand::RD;
      BankHistory& bk = bank(c, c.bank_group, c.bank);
      GroupHistory& gp = group(c, c.bank_group);
      if (bk.open_row < 0)
        state_error(rd ? "bank state: RD to a closed bank" : "bank state: WR to a closed bank", c);
      else if (c.row >= 0 && bk.open_row != c.row)
        state_error(rd ? "bank state: RD to a row that is not open" : "bank state: WR to a row that is not open", c);
      need("tRCD", bk.act, c, t.tRCD);
      if (rd) {
        need("tCCD_L", gp.rd, c, t.tCCD_L);
        need("tCCD_S", rk.rd, c, t.tCCD_S);
        need("tWTR_L", gp.wr, c, t.CWL + bl2 + t.tWTR_L);
        need("tWTR_S", rk.wr, c, t.CWL + bl2 + t.tWTR_S);
      } else {
        need("tCCD_L", gp.wr, c, t.tCCD_L);
        need("tCCD_S", rk.wr, c, t.tCCD_S);
        need("read-to-write turnaround", rk.rd, c, t.CL + bl2 + 2 - t.CWL);
      }
      for (int o = 0; o < spec_.ranks; ++o) {
        if (o == c.rank) continue;
        RankHistory& other = rank(c.channel, o);
        if (rd) {
          need("rank switch RD-RD (tRTRS)", other.rd, c, bl2 + t.tRTRS);
          need("rank switch WR-RD (tRTRS)", other.wr, c, t.CWL + bl2 + t.tRTRS - t.CL);
        } else {
          need("rank switch WR-WR (tRTRS)", other.wr, c, bl2 + t.tRTRS);
          need("rank switch RD-WR (tRTRS)", other.rd, c, t.CL + bl2 + t.tRTRS - t.CWL);
        }
      }
      // The data bus: bursts of one channel must not overlap.
      const std::int64_t start = c.cycle + (rd ? t.CL : t.CWL);
      if (ch.data_end != kNone && start < ch.data_end) {
        Last l{ch.data_owner.cycle, ch.data_owner};
        violations_.push_back(
            TimingViolation{"data bus overlap", l.rec, c, ch.data_end - ch.data_owner.cycle - (rd ? t.CL : t.CWL)});
        ++found_;
      }
      if (start + bl2 > ch.data_end || ch.data_end == kNone) {
        ch.data_end = start + bl2;
        ch.data_owner = c;
      }
      if (rd)
        bk.rd = gp.rd = rk.rd = self;
      else
        bk.wr = gp.wr = rk.wr = self;
      break;
    }
    case DramCommand::REF: {
      for (int g = 0; g < spec_.bank_groups; ++g)
        for (int b = 0; b < spec_.banks_per_group; ++b)
          if (bank(c, g, b).open_row >= 0) {
            state_error("bank state: REF with a bank open", c);
            g = spec_.bank_groups;
            break;
          }
      need("tRP", rk.pre, c, t.tRP);
      need("tRPab", rk.prea, c, tRPab_);
      need("tRFC", rk.ref, c, t.tRFC);
      need("tRC", rk.act, c, t.tRC);
      need("tRFCpb", rk.refpb, c, t.tRFCpb);
      check_refresh(c.channel, c.rank, c.cycle, &c);
      for (int b = 0; b < spec_.banks_per_rank(); ++b) {
        BankHistory& bk = bank(c, b / spec_.banks_per_group, b % spec_.banks_per_group);
        bk.refreshed = c.cycle;
        bk.refresh_late = false;
      }
      rk.ref = self;
      break;
    }
    case DramCommand::REFPB:
      check_refpb(c, rk);
      break;
    case DramCommand::PDE:
    case DramCommand::SRE: {
      const bool sr = c.cmd == DramCommand::SRE;
      need("RD to power-down entry (tRDPDEN)", rk.rd, c, t.CL + bl2 + 1);
      need("WR to power-down entry (tWRPDEN)", rk.wr, c, t.CWL + bl2 + t.tWR);
      need("tCKE", rk.pdx, c, t.tCKE);
      if (sr) {
        for (int g = 0; g < spec_.bank_groups; ++g)
          for (int b = 0; b < spec_.banks_per_group; ++b)
            if (bank(c, g, b).open_row >= 0) {
              state_error("bank state: SRE with a bank open", c);
              g = spec_.bank_groups;
              break;
            }
        need("tRP", rk.pre, c, t.tRP);
        need("tRPab", rk.prea, c, tRPab_);
        need("tRFC", rk.ref, c, t.tRFC);
        need("tRFCpb", rk.refpb, c, t.tRFCpb);
        rk.sre = self;
      } else {
        rk.pde = self;
      }
      if (rk.power == RankHistory::kAwake) rk.power = sr ? RankHistory::kSelfRefresh : RankHistory::kPowerDown;
      break;
    }
    case DramCommand::PDX:
      if (rk.power != RankHistory::kPowerDown) state_error("power state: PDX to a rank not in power-down", c);
      need("tCKE", rk.pde, c, t.tCKE);
      rk.pdx = self;
      rk.power = RankHistory::kAwake;
      break;
    case DramCommand::SRX:
      if (rk.power != RankHistory::kSelfRefresh) state_error("power state: SRX to a rank not in self-refresh", c);
      need("tCKESR", rk.sre, c, t.tCKESR);
      rk.srx = self;
      rk.power = RankHistory::kAwake;
      // The rank refreshed itself until now: REFs fall due again from here.
      rk.refresh_base = c.cycle;
      rk.refs = 0;
      rk.refresh_late = false;
      break;
  }
  ch.last_cycle = c.cycle;
  ch.last = c;
  return found_;
}

std::vector<TimingViolation> check_command_trace(const DramSpec& spec, const std::vector<CommandRecord>& trace) {
  TimingChecker checker(spec);
  std::int64_t end = 0;
  for (const auto& c : trace) {
    checker.check(c);
    end = std::max(end, c.cycle);
  }
  checker.finish(end);
  return checker.violations();
}

void write_command_trace(std::ostream& out, const std::vector<CommandRecord>& trace) {
  out << "# cycle command channel rank bankgroup bank row column\n";
  for (const auto& c : trace)
    out << c.cycle << ' ' << to_string(c.cmd) << ' ' << c.channel << ' ' << c.rank << ' ' << c.bank_group << ' '
        << c.bank << ' ' << c.row << ' ' << c.column << '\n';
}

std::vector<CommandRecord> read_command_trace(std::istream& in, const std::string& file) {
  std::vector<CommandRecord> out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    CommandRecord c;
    std::string cmd;
    if (!(s >> c.cycle >> cmd >> c.channel >> c.rank >> c.bank_group >> c.bank >> c.row >> c.column))
      throw UserError(file + ":" + std::to_string(lineno) +
                      ": expected CYCLE CMD CHANNEL RANK BANKGROUP BANK ROW COLUMN, got \"" + line + "\"");
    bool found = false;
    for (int k = 0; k < kDramCommandKinds; ++k)
      if (cmd == to_string(DramCommand(k))) c.cmd = DramCommand(k), found = true;
    if (!found) throw UserError(file + ":" + std::to_string(lineno) + ": unknown command \"" + cmd + "\"");
    out.push_back(c);
  }
  return out;
}

}  // namespace attnsim
