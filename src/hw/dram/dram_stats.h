#pragma once
// Statistics of the cycle-accurate DRAM controller: plain counters updated in the hot path, turned into
// JSON once at the end (no string keys or maps while simulating).
//
// Read latency (defined here, once): from the DRAM cycle in which a read request is accepted into a
// read queue to the DRAM cycle in which its last data beat returns (RD issue + CL + BL/2). It includes
// the controller's frontend_cycles and all queueing. Write "latency" is not reported.
//
// Percentiles come from a histogram with one exact bucket per cycle up to kExactLatencyCycles; a
// latency at or above the cap goes into one overflow bucket (a percentile that falls there is reported
// as the exact maximum). So p50/p95/p99 are exact whenever the maximum is below the cap.
#include <array>
#include <cstdint>
#include <vector>

#include "config/json_reader.h"

namespace attnsim {

// PDE/PDX: power-down entry and exit; SRE/SRX: self-refresh entry and exit (rank commands, as PREA and REF).
// REFPB: a per-bank refresh (LPDDR REFpb, DDR5 REFsb, HBM REFPB) of one bank set, named by its first bank.
enum class DramCommand : std::uint8_t { ACT, PRE, PREA, RD, WR, REF, PDE, PDX, SRE, SRX, REFPB };
inline constexpr int kDramCommandKinds = 11;
const char* to_string(DramCommand c);

struct DramSpec;

// The power state of a rank, for the background energy (IDD3N, IDD2N, IDD3P, IDD2P, IDD6 in the JEDEC
// current tables): standby is awake, active when at least one bank holds an open row; power-down is
// active or precharged by the same rule; self-refresh keeps the rank refreshed by itself. A REF's tRFC
// counts as precharged standby (the REF's own energy is priced per command).
enum class RankPowerState : std::uint8_t {
  ActiveStandby,
  PrechargedStandby,
  ActivePowerDown,
  PrechargedPowerDown,
  SelfRefresh
};
inline constexpr int kRankPowerStates = 5;
const char* to_string(RankPowerState s);  // "active_standby", ...

// Cycles each rank spent in each state: closed segments in `cycles`, the current state since `since`.
struct RankPowerTime {
  std::array<std::uint64_t, kRankPowerStates> cycles{};
  RankPowerState state = RankPowerState::PrechargedStandby;  // every bank precharged at power-up
  std::int64_t since = 0;
  // Closes the current segment at `cycle` and enters `next` (no-op when the state does not change).
  void enter(RankPowerState next, std::int64_t cycle) {
    if (next == state) return;
    if (cycle > since) cycles[size_t(state)] += std::uint64_t(cycle - since);
    state = next;
    since = cycle;
  }
  // The cycles in state s up to `end` (the open segment counted up to end).
  std::uint64_t cycles_until(RankPowerState s, std::int64_t end) const {
    std::uint64_t c = cycles[size_t(s)];
    if (s == state && end > since) c += std::uint64_t(end - since);
    return c;
  }
};

struct DramStats {
  static constexpr int kExactLatencyCycles = 1 << 16;

  std::uint64_t reads = 0, writes = 0;  // requests (bursts) completed
  std::uint64_t bytes_read = 0, bytes_written = 0;
  std::uint64_t row_hits = 0;       // first command for the request was its RD/WR: row already open
  std::uint64_t row_misses = 0;     // first command was ACT: bank closed
  std::uint64_t row_conflicts = 0;  // first command was PRE: another row open
  std::array<std::uint64_t, kDramCommandKinds> commands{};
  std::uint64_t data_bus_cycles = 0;  // sum over channels of cycles the data bus carried data
  // For the DRAM energy (report/dram_energy.h): the open banks each PREA closed (its precharges), and the
  // cycles, summed over ranks, in which a rank had a bank open or was refreshing (active standby; the rest
  // of each rank's time is precharged standby). Set by DramController::finish() up to its cycle.
  std::uint64_t prea_banks_closed = 0;
  std::uint64_t rank_active_cycles = 0;
  // Read latency in DRAM cycles.
  std::uint64_t latency_sum = 0;
  std::uint64_t latency_max = 0;
  std::vector<std::uint64_t> latency_hist = std::vector<std::uint64_t>(kExactLatencyCycles + 1, 0);
  // Queue occupancy integrated over cycles (per channel, summed), and the highest occupancy seen.
  std::uint64_t read_queue_integral = 0, write_queue_integral = 0;
  int read_queue_max = 0, write_queue_max = 0;
  // Per rank, channel-major (index channel * ranks + rank): cycles in each power state.
  std::vector<RankPowerTime> rank_power;

  void record_read_latency(std::uint64_t cycles) {
    latency_sum += cycles;
    if (cycles > latency_max) latency_max = cycles;
    ++latency_hist[cycles < std::uint64_t(kExactLatencyCycles) ? cycles : kExactLatencyCycles];
  }
  // The smallest latency L such that at least fraction q of the reads took L cycles or fewer.
  std::uint64_t latency_percentile(double q) const;
  void merge(const DramStats& o);
  // The report: bandwidth over elapsed_cycles (DRAM cycles of simulated time), latencies in ns and cycles,
  // the cycles of each rank in each power state up to elapsed_cycles.
  Json to_json(const DramSpec& spec, std::int64_t elapsed_cycles) const;
};

}  // namespace attnsim
