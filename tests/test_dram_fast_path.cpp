// The fast FR-FCFS scheduler (/dram/fast_path, the default) against the reference scan: both must issue
// the same commands at the same cycles. The reference is the plain reading of the policy (two scans of
// the active queue per step); the expected values here are therefore the reference's own command trace,
// compared byte for byte (every field of every command), with the cycle counts and statistics, on the
// example traces of traces/, on synthetic 20k-request traces (sequential, random, 8 KiB stride, a 2:1
// read/write mix: the bench's traces, shorter) and on whole-model runs (a BERT-base layer, flash and
// unfused, on the edge platform with HBM2 and DDR4 behind it).
#include <catch2/catch.hpp>
#include <algorithm>
#include <random>
#include <sstream>

#include "compiler/model_lowering.h"
#include "config/hw_config.h"
#include "config/model_config.h"
#include "hw/accelerator.h"
#include "hw/dram/cycle_dram.h"
#include "hw/dram/dram_engine.h"
#include "ir/graph.h"
#include "test_dram_support.h"

using namespace attnsim;
using namespace attnsim::test;

namespace {

std::string command_text(const std::vector<CommandRecord>& cmds) {
  std::ostringstream o;
  for (const CommandRecord& c : cmds)
    o << c.cycle << ' ' << int(c.cmd) << ' ' << c.channel << ' ' << c.rank << ' ' << c.bank_group << ' ' << c.bank
      << ' ' << c.row << ' ' << c.column << '\n';
  return o.str();
}

// Replays in a child: the command trace as text, the cycles and the statistics.
Json replay_text(DramSpec spec, const std::vector<TraceRecord>& trace, bool fast) {
  spec.fast_path = fast;
  auto r = run_isolated([&] {
    ReplayResult res = run_replay(spec, trace, true);
    Json out = {{"cycles", res.cycles}, {"stats", res.stats}, {"commands", command_text(res.commands)},
                {"n", res.commands.size()}};
    return out.dump();
  });
  INFO(r.output);
  REQUIRE(r.exit_status == 0);
  return Json::parse(r.output);
}

std::vector<TraceRecord> synthetic(const std::string& kind, int n) {
  std::vector<TraceRecord> t(static_cast<size_t>(n));
  std::mt19937_64 rng(7);
  for (int i = 0; i < n; ++i) {
    TraceRecord& r = t[size_t(i)];
    if (kind == "sequential") {
      r.addr = std::uint64_t(i) * 64;
    } else if (kind == "stride") {
      r.addr = std::uint64_t(i) * 8192;
    } else {
      r.addr = (rng() % (std::uint64_t(1) << 30)) & ~std::uint64_t(63);
      r.is_write = kind == "mix" && i % 3 == 2;
    }
  }
  return t;
}

void require_same(const Json& fast, const Json& ref) {
  CHECK(ref["n"].get<std::size_t>() > 0);
  CHECK(fast["n"] == ref["n"]);
  CHECK(fast["cycles"] == ref["cycles"]);
  CHECK(fast["stats"] == ref["stats"]);
  // Byte for byte; on a mismatch, say where the traces part.
  const std::string a = fast["commands"], b = ref["commands"];
  if (a != b) {
    std::size_t i = 0;
    while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
    const std::size_t line = std::size_t(std::count(a.begin(), a.begin() + std::ptrdiff_t(i), '\n'));
    FAIL("command traces differ from command " << line);
  }
}

}  // namespace

TEST_CASE("dram fast path: the example traces give the reference's command trace byte for byte",
          "[dram][fast_path]") {
  for (const char* f : {"random_reads.dramsim3.trace", "stream_mix.ramulator.trace", "stride_8k.plain.trace"}) {
    for (const char* preset : {"ddr4-3200", "lpddr4-4266", "hbm2", "hbm3"}) {
      INFO(f << " on " << preset);
      const DramSpec spec = dram_spec(preset);
      const std::string path = std::string(ATTNSIM_SOURCE_DIR) + "/traces/" + f;
      const auto trace = read_trace_file(path, TraceFormat::Auto, spec.tCK_fs).records;
      REQUIRE(!trace.empty());
      require_same(replay_text(spec, trace, true), replay_text(spec, trace, false));
    }
  }
}

TEST_CASE("dram fast path: loaded synthetic traces give the reference's command trace byte for byte",
          "[dram][fast_path]") {
  // 20k requests each, submitted as fast as the queues accept them: the queues stay full, refreshes fall
  // inside busy stretches, the write queue crosses its watermarks (mix), banks conflict (random, stride).
  for (const char* kind : {"sequential", "random", "stride", "mix"}) {
    for (const char* preset : {"ddr4-3200", "hbm2"}) {
      INFO(kind << " on " << preset);
      const DramSpec spec = dram_spec(preset, {{"ranks", 2}});
      const auto trace = synthetic(kind, 20000);
      require_same(replay_text(spec, trace, true), replay_text(spec, trace, false));
    }
  }
  // Per-bank refresh: held bank sets inside the scans.
  for (const char* kind : {"random", "mix"}) {
    for (const char* preset : {"hbm2", "lpddr5-6400"}) {
      INFO(kind << " on " << preset << ", per-bank refresh");
      const DramSpec spec = dram_spec(preset, {{"ranks", 2}, {"refresh", "per_bank"}});
      const auto trace = synthetic(kind, 20000);
      require_same(replay_text(spec, trace, true), replay_text(spec, trace, false));
    }
  }
}

TEST_CASE("dram fast path: whole-model runs give the reference's command trace and cycles",
          "[dram][fast_path][model]") {
  // One BERT-base layer (N = 128) on the edge platform, DRAM behind the DMA's 64 outstanding segments.
  for (const char* variant : {"flash", "unfused"}) {
    for (const char* preset : {"hbm2", "ddr4-3200"}) {
      INFO(variant << " on " << preset);
      auto run = [&](bool fast) {
        auto r = run_isolated([&] {
          std::string source;
          Json doc = read_hw_document("edge", &source);
          doc["dram"] = {{"model", "cycle"}, {"preset", preset}, {"fast_path", fast}};
          const HwConfig hw = parse_hw_config(doc, source);
          ModelOverrides ov;
          ov.seq_len = 128;
          ov.variant = variant;
          ModelConfig mc = load_model_config("bert-base", ov);
          mc.layers.resize(1);
          const Graph g = build_graph(mc);
          const CompiledModel cm = compile_model(hw, g);
          init_sim_time();
          Accelerator acc("acc", hw, cm.program);
          auto& cycle = dynamic_cast<CycleDram&>(acc.dram());
          cycle.controller().record_commands(true);
          sc_core::sc_start();
          const auto cmds = cycle.controller().command_trace();
          Json dram;
          acc.dram().write_stats(dram);
          Json out = {{"finished", acc.finished()},
                      {"cycles", sc_core::sc_time_stamp().value()},
                      {"stats", dram},
                      {"commands", command_text(cmds)},
                      {"n", cmds.size()}};
          return out.dump();
        });
        INFO(r.output);
        REQUIRE(r.exit_status == 0);
        return Json::parse(r.output);
      };
      const Json fast = run(true), ref = run(false);
      CHECK(fast["finished"] == true);
      CHECK(ref["finished"] == true);
      require_same(fast, ref);
    }
  }
}

namespace {

// Competing multi-burst transfers handed to the engine alone (no SystemC) at given cycles; the engine is run in
// chunks of `chunk` cycles (1: every cycle; 0: from one hand-over to the next in one call, then to the end).
// Returns the command trace as text and each transfer's done cycle.
std::string engine_run(const DramSpec& spec, int chunk, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  struct Job {
    std::int64_t cycle;
    DramTransfer t;
  };
  std::vector<Job> jobs(300);
  std::int64_t c = 0;
  for (Job& j : jobs) {
    c += std::int64_t(rng() % 40);
    j.cycle = c;
    const std::uint64_t base = (rng() % (std::uint64_t(1) << 26)) & ~std::uint64_t(63);
    j.t.next_addr = base;
    j.t.end_addr = base + 64 * (1 + rng() % 64);  // 1..64 bursts, across channels and banks
    j.t.is_write = rng() % 3 == 0;
  }
  DramStats stats;
  DramEngine engine(spec, &stats);
  engine.record_commands(true);
  auto run_to = [&](std::int64_t target) {
    if (chunk == 0) return engine.run_until(target);
    while (engine.simulated() < target) engine.run_until(std::min(target, engine.simulated() + chunk));
  };
  for (Job& j : jobs) {
    run_to(j.cycle - 1);
    engine.add(&j.t, j.cycle);
  }
  while (engine.in_flight() > 0) run_to(chunk == 0 ? engine.next_event() : engine.simulated() + chunk);
  std::ostringstream o;
  o << command_text(engine.command_trace());
  for (const Job& j : jobs) o << j.t.last_done_cycle << ' ';
  o << engine.finished().size();
  return o.str();
}

}  // namespace

TEST_CASE("dram engine: its decisions do not depend on how far it is run at a time", "[dram][fast_path]") {
  // The SystemC controller runs the engine up to the present only when a completion could be due; a replay runs
  // it from event to event. Cycle by cycle, in chunks of 7 and 64 cycles, and from event to event, the same
  // commands at the same cycles and the same done cycles, on both schedulers; full queues make transfers wait.
  for (const char* preset : {"hbm2", "ddr4-3200"}) {
    for (std::uint64_t seed : {1u, 2u}) {
      INFO(preset << " seed " << seed);
      DramSpec spec = dram_spec(preset, {{"read_queue", 8}, {"write_queue", 8}, {"write_high", 6}, {"write_low", 2}});
      const std::string by_event = engine_run(spec, 0, seed);
      CHECK(by_event.size() > 1000);
      CHECK(engine_run(spec, 1, seed) == by_event);
      CHECK(engine_run(spec, 7, seed) == by_event);
      CHECK(engine_run(spec, 64, seed) == by_event);
      spec.fast_path = false;
      CHECK(engine_run(spec, 0, seed) == by_event);
      CHECK(engine_run(spec, 1, seed) == by_event);
    }
  }
}
