#pragma once
// Trace replay on the cycle-accurate controller: requests are submitted in trace order, at most one per
// DRAM cycle, none before its trace cycle, each waiting while its queue is full (so a full queue stalls
// the trace, as in DRAMSim3's and Ramulator's trace drivers). The run ends when the last data beat is
// done; statistics cover cycles [0, that cycle].
// Runs the controller's engine (dram_engine.h) alone, without SystemC: the trace is its only requester, a
// transfer of one request at a time, handed over at its cycle (accepted then if its queue has room, else when
// a slot frees). Throws InternalError (the controller's watchdog) when no request completes for too long.
#include <cstdint>
#include <vector>

#include "hw/dram/dram_channel.h"
#include "config/dram_spec.h"
#include "hw/dram/trace_reader.h"

namespace attnsim {

struct ReplayResult {
  Json stats;                           // DramStats::to_json
  std::int64_t cycles = 0;              // simulated DRAM cycles
  std::vector<CommandRecord> commands;  // when recorded
};

ReplayResult run_replay(const DramSpec& spec, const std::vector<TraceRecord>& trace, bool record_commands);

}  // namespace attnsim
