#pragma once
// An independent JEDEC timing-legality checker for command traces. It shares neither code nor timing
// values with the controller (dram_channel.cpp): its minimums come from its own table of JEDEC speed
// grades (jedec_table.h), looked up by the device's standard and speed grade, so a wrong value in a
// preset shows up as violations. From the device it takes only the organization (channels, ranks, banks,
// burst length) and the programmed latencies CL and CWL, which must be at least the speed grade's.
// Where the controller keeps "earliest legal cycle" per command and level and raises it on issue, the
// checker keeps the history of past commands (last ACT/PRE/RD/WR per bank, bank group and rank, the last
// four ACTs per rank, the data-bus windows) and measures the distance of every new command to each of
// them. It also checks command legality against bank state (ACT to an open bank, RD/WR to a closed bank
// or the wrong row, REF with a bank open), one command per channel per cycle, data-bus overlap, and that
// every rank is refreshed often enough: no more REFs postponed than the standard allows, so no gap
// between REFs (or from cycle 0 to the first, or from the last to the end of the trace) longer than
// (postponable + 1) x tREFI; a per-bank REF (REFpb: one bank set, from the checker's own table) counts as
// 1 / sets of a REF, and every bank must be refreshed (by a REF or its set's REFpb) within the same bound, with
// tRFCpb before the set's next ACT or REFpb, tPBR2PBR between REFpbs and tPBR2ACT before another bank's ACT.
// Power: no command to a rank in power-down or self-refresh but its exit (PDX,
// SRX), after tCKE / tCKESR; tXP / tXS from the exit to the next command; PDE and SRE after the last burst's
// data (RD: CL + BL/2 + 1, WR: CWL + BL/2 + tWR), SRE only with every bank precharged; no REF is owed while in
// self-refresh, and the refresh count starts again at its exit.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "hw/dram/dram_channel.h"
#include "config/dram_spec.h"

namespace attnsim {

struct TimingViolation {
  std::string constraint;     // "tRCD", "tFAW", "bank state", ...
  CommandRecord earlier;      // the command the constraint is measured from (cycle -1 for state errors)
  CommandRecord later;        // the offending command
  std::int64_t required = 0;  // cycles needed between them
  std::string message() const;
};

class TimingChecker {
 public:
  // Throws UserError when the table has no entry for the spec's standard and speed grade. Device problems
  // (clock, burst length, CL or CWL below the speed grade's) are recorded as violations at once.
  explicit TimingChecker(const DramSpec& spec);
  // Checks one command (commands must come in cycle order per channel) and records it.
  // Returns the number of violations it caused.
  int check(const CommandRecord& cmd);
  // The trace ended at end_cycle: checks the refresh of every rank up to it. Returns the violations it found.
  int finish(std::int64_t end_cycle);
  // The minimums the checker applies, in clocks (from its table, not from the device).
  const DramTiming& minimums() const { return t_; }
  int tRPab() const { return tRPab_; }
  int max_postponed_refs() const { return max_postponed_refs_; }
  const std::vector<TimingViolation>& violations() const { return violations_; }
  std::uint64_t commands_checked() const { return checked_; }

 private:
  static constexpr std::int64_t kNone = INT64_MIN / 4;
  struct Last {
    std::int64_t cycle = kNone;
    CommandRecord rec;
  };
  struct BankHistory {
    Last act, pre, rd, wr, refpb;
    std::int64_t open_row = -1;
    std::int64_t refreshed = 0;  // the last REF or REFpb covering it (or the rank's refresh_base)
    bool refresh_late = false;   // a per-bank interval violation was reported and no refresh came since
  };
  struct GroupHistory {
    Last act, rd, wr;
  };
  struct RankHistory {
    Last act, rd, wr, pre, prea, ref, refpb;
    Last acts[4];               // the last four ACTs, most recent first
    std::int64_t refs = 0;      // refreshes issued so far (since refresh_base), in REFpb units: a REF counts sets
    bool per_bank = false;      // a REFpb was seen: the per-bank intervals are checked too
    bool refresh_late = false;  // a refresh violation was reported and no REF came since
    Last pde, pdx, sre, srx;
    enum : std::uint8_t { kAwake, kPowerDown, kSelfRefresh } power = kAwake;
    std::int64_t refresh_base = 0;  // REFs fall due every tREFI from here: cycle 0, or the last SRX
  };
  struct ChannelHistory {
    std::int64_t last_cycle = kNone;
    CommandRecord last;
    std::int64_t data_end = kNone;  // end of the latest data burst on the bus
    CommandRecord data_owner;
  };
  // Flags `later` if it is fewer than `gap` cycles after `earlier`.
  void need(const char* name, const Last& earlier, const CommandRecord& later, std::int64_t gap);
  void state_error(const char* what, const CommandRecord& later);
  void device_error(const std::string& what);
  // Refresh of rank (channel, r) up to cycle (a REF at cycle when `ref`): postponed REFs and the gap.
  void check_refresh(int channel, int r, std::int64_t cycle, const CommandRecord* ref);
  // A bank's refresh gap up to cycle (per-bank refresh); `ref` is the REFpb covering it, or null at the end.
  void check_bank_refresh(int channel, int r, int flat, std::int64_t cycle, const CommandRecord* ref);
  // A REFpb on the record's set (its first bank): the set's state, timing and refresh.
  void check_refpb(const CommandRecord& c, RankHistory& rk);
  BankHistory& bank(const CommandRecord& c, int g, int b);
  GroupHistory& group(const CommandRecord& c, int g);
  RankHistory& rank(int channel, int r);

  const DramSpec spec_;
  DramTiming t_;  // JEDEC minimums of the speed grade, except CL and CWL (the device's programmed latencies)
  int tRPab_ = 0;
  int max_postponed_refs_ = 0;
  int refpb_banks_ = 0;  // from the table: banks per REFpb (0: the standard has none)
  int sets_ = 1;         // REFpbs per round over a rank's banks (1 without per-bank refresh)
  std::vector<BankHistory> banks_;
  std::vector<GroupHistory> groups_;
  std::vector<RankHistory> ranks_;
  std::vector<ChannelHistory> channels_;
  std::vector<TimingViolation> violations_;
  std::uint64_t checked_ = 0;
  int found_ = 0;
};

// Checks a whole trace; returns the violations.
std::vector<TimingViolation> check_command_trace(const DramSpec& spec, const std::vector<CommandRecord>& trace);

// Command trace text format, one command per line:  CYCLE CMD CHANNEL RANK BANKGROUP BANK ROW COLUMN
// (bank group, bank, row and column are -1 where they do not apply; lines starting with # are comments).
void write_command_trace(std::ostream& out, const std::vector<CommandRecord>& trace);
// Throws UserError "FILE:LINE: ..." on a malformed line.
std::vector<CommandRecord> read_command_trace(std::istream& in, const std::string& file);

}  // namespace attnsim
