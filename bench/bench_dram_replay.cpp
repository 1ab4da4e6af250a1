// Replays 1M 64-byte requests (sequential, random over 1 GiB, 8 KiB stride, 2:1 read/write mix) on every
// DRAM preset (or those named) with the cycle-accurate controller and prints wall time, simulated DRAM
// cycles, simulated cycles per second, bandwidth and its share of the preset's peak. Target: under 2 s per
// replay (DRAMSim3 takes 2-12 s and Ramulator 2 4-22 s for these on this kind of machine). The trace
// driver submits at most one request per DRAM clock, so a preset whose peak exceeds one burst per clock
// (HBM3, GDDR6: many narrow channels) is driver-bound below its peak. Each replay runs in a forked child
// because SystemC allows one elaboration per process. Usage: bench_dram_replay [REQUESTS [PRESET...]]
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <systemc>  // declares extern "C" sc_main
#include <vector>

#include "hw/dram/dram_replay.h"
#include "config/dram_spec.h"
#include "config/presets.h"

using namespace attnsim;

namespace {

std::vector<TraceRecord> make_trace(const std::string& kind, std::int64_t n) {
  std::vector<TraceRecord> t(static_cast<size_t>(n));
  std::mt19937_64 rng(12345);
  for (std::int64_t i = 0; i < n; ++i) {
    TraceRecord& r = t[size_t(i)];
    if (kind == "sequential") {
      r.addr = std::uint64_t(i) * 64;
    } else if (kind == "random") {
      r.addr = (rng() % (std::uint64_t(1) << 30)) & ~std::uint64_t(63);
    } else if (kind == "stride-8KiB") {
      r.addr = std::uint64_t(i) * 8192;
    } else {  // mix: random over 1 GiB, every third request a write
      r.addr = (rng() % (std::uint64_t(1) << 30)) & ~std::uint64_t(63);
      r.is_write = i % 3 == 2;
    }
  }
  return t;
}

struct Row {
  double wall_s, cycles, gbps, pct, lat_ns;
};

}  // namespace

// SystemC provides main() and calls sc_main(); every replay elaborates in its own forked child.
int sc_main(int argc, char** argv) {
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 1000000;
  std::vector<std::string> devices;
  for (int i = 2; i < argc; ++i) devices.emplace_back(argv[i]);
  if (devices.empty())
    for (const auto& p : embedded_dram_presets()) devices.emplace_back(p.name);
  const char* kinds[] = {"sequential", "random", "stride-8KiB", "mix-2:1"};
  std::printf("%-12s %-12s %9s %12s %14s %9s %7s %10s\n", "device", "trace", "wall_s", "dram_cycles", "cycles_per_s",
              "GB/s", "%peak", "rd_lat_ns");
  for (const std::string& device : devices) {
    const char* dev = device.c_str();
    for (const char* kind : kinds) {
      int fds[2];
      if (pipe(fds) != 0) return 1;
      std::fflush(nullptr);
      pid_t pid = fork();
      if (pid == 0) {
        close(fds[0]);
        Row row{};
        DramSpec spec = load_dram_spec(dev);
        auto trace = make_trace(kind, n);
        auto t0 = std::chrono::steady_clock::now();
        ReplayResult res = run_replay(spec, trace, false);
        auto t1 = std::chrono::steady_clock::now();
        row.wall_s = std::chrono::duration<double>(t1 - t0).count();
        row.cycles = double(res.cycles);
        row.gbps = res.stats["bandwidth"]["achieved_GBps"].get<double>();
        row.pct = res.stats["bandwidth"]["percent_of_peak"].get<double>();
        row.lat_ns = res.stats["read_latency_ns"]["mean"].get<double>();
        if (write(fds[1], &row, sizeof row) != sizeof row) _exit(1);
        _exit(0);
      }
      close(fds[1]);
      Row row{};
      bool ok = read(fds[0], &row, sizeof row) == sizeof row;
      close(fds[0]);
      int status = 0;
      waitpid(pid, &status, 0);
      if (!ok) {
        std::printf("%-12s %-12s failed\n", dev, kind);
        continue;
      }
      std::printf("%-12s %-12s %9.3f %12.0f %14.3e %9.2f %7.1f %10.1f\n", dev, kind, row.wall_s, row.cycles,
                  row.cycles / row.wall_s, row.gbps, row.pct, row.lat_ns);
      std::fflush(stdout);
    }
  }
  return 0;
}
