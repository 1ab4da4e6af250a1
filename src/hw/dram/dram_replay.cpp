#include "hw/dram/dram_replay.h"

#include <algorithm>

#include "common/checked_math.h"
#include "common/sim_threads.h"
#include "common/sim_time.h"
#include "hw/dram/dram_controller.h"

namespace attnsim {

namespace {

class TraceDriver : public sc_core::sc_module {
 public:
  TraceDriver(sc_core::sc_module_name name, DramController& ctl, const std::vector<TraceRecord>& trace)
      : sc_core::sc_module(name), ctl_(ctl), trace_(trace) {
    sc_core::sc_spawn(guarded([this] { run(); }), "driver");
  }
  std::int64_t end_cycle = 0;

 private:
  void run() {
    const fs_t tck = ctl_.spec().tCK_fs;
    std::int64_t prev = -1;
    for (const TraceRecord& r : trace_) {
      const std::int64_t target = std::max({prev + 1, r.cycle, ctl_.current_cycle()});
      wait_fs(cycles_to_fs(target, tck) - now_fs());
      ctl_.submit(r.addr, r.is_write, nullptr);
      prev = ctl_.current_cycle();
    }
    while (ctl_.in_flight() > 0) sc_core::wait(ctl_.drained_event());
    end_cycle = std::max(ctl_.last_done_cycle(), ctl_.current_cycle());
    wait_fs(cycles_to_fs(end_cycle, tck) - now_fs());
    // No sc_stop(): with the queues empty nothing is left to do and sc_start() returns.
  }
  DramController& ctl_;
  const std::vector<TraceRecord>& trace_;
};

}  // namespace

ReplayResult run_replay(const DramSpec& spec, const std::vector<TraceRecord>& trace, bool record_commands) {
  init_sim_time();
  DramController ctl("dram", spec);
  ctl.record_commands(record_commands);
  TraceDriver driver("trace_driver", ctl, trace);
  sc_core::sc_start();
  rethrow_thread_failure();  // a watchdog's diagnosis, a time overflow
  ReplayResult res;
  res.cycles = driver.end_cycle;
  ctl.finish(res.cycles);
  res.stats = ctl.stats().to_json(spec, res.cycles);
  if (record_commands) res.commands = ctl.command_trace();
  return res;
}

}  // namespace attnsim
