#include "hw/dram/dram_replay.h"

#include <algorithm>

#include "common/errors.h"
#include "hw/dram/dram_engine.h"

namespace attnsim {

ReplayResult run_replay(const DramSpec& spec, const std::vector<TraceRecord>& trace, bool record_commands) {
  DramStats stats;
  DramEngine engine(spec, &stats);
  engine.set_watchdog(dram_watchdog_cycles(spec));
  engine.record_commands(record_commands);
  auto step = [&] {
    const std::int64_t x = engine.next_event();
    if (x >= DramEngine::kNever)
      throw InternalError("DRAM replay: requests in flight and nothing left to schedule: " + engine.describe_pending());
    engine.run_until(x);
  };
  DramTransfer t;
  t.detached = true;
  std::int64_t prev = -1;
  for (const TraceRecord& r : trace) {
    // At most one request per cycle, none before its trace cycle nor before the previous one was accepted.
    const std::int64_t target = std::max(prev + 1, r.cycle);
    engine.run_until(target - 1);
    t.next_addr = r.addr;
    t.end_addr = r.addr + std::uint64_t(spec.burst_bytes());
    t.is_write = r.is_write;
    engine.add(&t, target);
    while (!t.submitted()) step();
    prev = t.last_accept_cycle;
  }
  while (engine.in_flight() > 0) step();
  ReplayResult res;
  res.cycles = std::max<std::int64_t>(engine.last_done_cycle(), std::max<std::int64_t>(prev, 0));
  stats.rank_active_cycles = std::uint64_t(engine.finish(res.cycles));
  res.stats = stats.to_json(spec, res.cycles);
  if (record_commands) res.commands = engine.command_trace();
  return res;
}

}  // namespace attnsim
