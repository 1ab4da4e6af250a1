// Replays 1M 64-byte requests (sequential, random over 1 GiB, 8 KiB stride, 2:1 read/write mix) on every
// DRAM preset (or those named) with the cycle-accurate controller and prints wall time, simulated DRAM
// cycles, simulated requests per second, bandwidth and its share of the preset's peak, for the fast
// scheduler (/dram/fast_path, the default) and the reference one, and their wall-time ratio (medians of
// REPS runs, alternating, in one process: the machine is shared and noisy), and the fast replay's CPU time
// (user + system of its process: on a loaded machine the wall time overstates it). Both must simulate the same
// cycles; a differing count is printed as MISMATCH. Target: under 1 s per replay (DRAMSim3 takes 2-12 s
// and Ramulator 2 4-22 s for these on this kind of machine). The trace driver submits at most one request
// per DRAM clock, so a preset whose peak exceeds one burst per clock (HBM3, GDDR6: many narrow channels)
// is driver-bound below its peak. Each replay runs in a forked child because SystemC allows one
// elaboration per process.
//   bench_dram_replay [REQUESTS [REPS [PRESET...]]]
//   bench_dram_replay model [SEQ_LEN [REPS [fast]]]
//                                              BERT-base, flash, on cloud with HBM2 (default N = 4096):
//                                              attnsim run with /dram/fast_path true and false (`fast`: true
//                                              only, to time the fast scheduler alone)
//   bench_dram_replay refresh [REQUESTS]       random reads with all-bank and per-bank refresh on every preset
//                                              whose standard has per-bank refresh (/dram/refresh): GB/s of
//                                              each and the gain
//   bench_dram_replay calibration              the latency calibration: each run of
//                                              traces/dramsim3_reference.json replayed here, printed beside
//                                              DRAMSim3's recorded figures (mean and median read latency in
//                                              cycles, GB/s; the loaded runs' GB/s over whole runs; DRAMSim3 is
//                                              not run)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <systemc>  // declares extern "C" sc_main
#include <vector>

#include "bench_support.h"
#include "config/json_reader.h"
#include "hw/dram/trace_reader.h"
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
  double wall_s, cpu_s, cycles, gbps, pct, lat_ns;
};

double cpu_seconds(int who) {
  struct rusage ru;
  getrusage(who, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// One replay in a forked child.
bool replay_once(const char* dev, const char* kind, std::int64_t n, bool fast, Row* out, bool per_bank = false) {
  int fds[2];
  if (pipe(fds) != 0) return false;
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    Row row{};
    DramSpec spec = load_dram_spec(dev);
    spec.fast_path = fast;
    spec.per_bank_refresh = per_bank;
    auto trace = make_trace(kind, n);
    auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds(RUSAGE_SELF);
    ReplayResult res = run_replay(spec, trace, false);
    row.cpu_s = cpu_seconds(RUSAGE_SELF) - c0;
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
  bool ok = read(fds[0], out, sizeof *out) == sizeof *out;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return ok;
}

int bench_model(std::int64_t seq_len, int reps, bool fast_only) {
  const std::string out_dir = "/tmp/attnsim_bench_dram_model_" + std::to_string(getpid());
  auto args = [&](bool fast) {
    return std::vector<std::string>{"run", "--hw", "cloud", "--model", "bert-base", "--seq-len", std::to_string(seq_len),
                                    "--variant", "flash", "--set",
                                    std::string("/dram={\"model\":\"cycle\",\"preset\":\"hbm2\",\"fast_path\":") +
                                        (fast ? "true" : "false") + "}",
                                    "--out", out_dir + (fast ? "/fast" : "/ref")};
  };
  std::vector<double> fast_s, ref_s, fast_cpu;
  std::int64_t fast_cycles = -1, ref_cycles = -1;
  for (int i = 0; i < reps; ++i) {
    for (bool fast : {true, false}) {
      if (!fast && fast_only) continue;
      const double c0 = cpu_seconds(RUSAGE_CHILDREN);
      const bench::Measurement m = bench::run_once(args(fast), "/dev/null");
      if (fast) fast_cpu.push_back(cpu_seconds(RUSAGE_CHILDREN) - c0);
      if (m.status != 0) {
        std::printf("attnsim run failed (status %d)\n", m.status);
        return 1;
      }
      (fast ? fast_s : ref_s).push_back(m.wall_s);
      (fast ? fast_cycles : ref_cycles) = bench::report_cycles(out_dir + (fast ? "/fast" : "/ref") + "/report.json");
    }
  }
  const double f = bench::median(fast_s);
  if (fast_only) {
    std::printf("BERT-base N = %lld flash, cloud, HBM2: fast %.2f s (wall, median of %d); fast CPU %.2f s; cycles %lld\n",
                (long long)seq_len, f, reps, bench::median(fast_cpu), (long long)fast_cycles);
    return 0;
  }
  const double r = bench::median(ref_s);
  std::printf("BERT-base N = %lld flash, cloud, HBM2: fast %.2f s, reference %.2f s (wall, median of %d), "
              "reference / fast %.2f; fast CPU %.2f s; cycles %lld and %lld%s\n",
              (long long)seq_len, f, r, reps, r / f, bench::median(fast_cpu), (long long)fast_cycles,
              (long long)ref_cycles,
              fast_cycles == ref_cycles ? "" : " MISMATCH");
  return fast_cycles == ref_cycles ? 0 : 1;
}

// Our figures on one calibration run (a forked child: one elaboration per process): mean and median read
// latency in cycles, GB/s over the whole replay.
bool calibration_once(const Json& run, double out[3]) {
  int fds[2];
  if (pipe(fds) != 0) return false;
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    Json doc = {{"model", "cycle"}, {"preset", run["preset"]}};
    if (run.contains("channels")) doc["channels"] = run["channels"];
    Diagnostics diag("calibration");
    DramSpec spec = parse_cycle_dram(JsonView(&doc, "", &diag));
    diag.throw_if_any();
    const std::string path = std::string(ATTNSIM_SOURCE_DIR) + "/traces/" + run["trace"].get<std::string>();
    const Trace tr = read_trace_file(path, TraceFormat::DramSim3, spec.tCK_fs, std::uint64_t(spec.capacity_bytes()));
    ReplayResult res = run_replay(spec, tr.records, false);
    double row[3] = {res.stats["read_latency_cycles"]["mean"].get<double>(),
                     res.stats["read_latency_cycles"]["p50"].get<double>(),
                     res.stats["bandwidth"]["achieved_GBps"].get<double>()};
    if (write(fds[1], row, sizeof row) != sizeof row) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  bool ok = read(fds[0], out, 3 * sizeof(double)) == ssize_t(3 * sizeof(double));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return ok;
}

int bench_calibration() {
  const Json ref = read_json_file(std::string(ATTNSIM_SOURCE_DIR) + "/traces/dramsim3_reference.json");
  std::printf("%-10s %-34s %10s %10s %8s %8s %8s %8s\n", "device", "trace", "mean", "DRAMSim3", "p50", "DRAMSim3",
              "GB/s", "DRAMSim3");
  for (const char* list : {"runs", "loaded_runs"}) {
    for (const Json& run : ref[list]) {
      double ours[3];
      if (!calibration_once(run, ours)) {
        std::printf("%-10s %-34s failed\n", run["preset"].get<std::string>().c_str(),
                    run["trace"].get<std::string>().c_str());
        return 1;
      }
      const bool idle = run.contains("median_cycles"), loaded = run.contains("bytes_per_cycle");
      char p50_ref[32] = "-", gbps_ref[32] = "-";
      if (idle) std::snprintf(p50_ref, sizeof p50_ref, "%d", run["median_cycles"].get<int>());
      if (loaded) {  // whole runs: DRAMSim3's bytes per cycle at this device's clock
        Json doc = {{"model", "cycle"}, {"preset", run["preset"]}};
        Diagnostics diag("calibration");
        const DramSpec spec = parse_cycle_dram(JsonView(&doc, "", &diag));
        std::snprintf(p50_ref, sizeof p50_ref, "%d", run["p50_cycles"].get<int>());
        std::snprintf(gbps_ref, sizeof gbps_ref, "%.2f", run["bytes_per_cycle"].get<double>() * 1e6 / double(spec.tCK_fs));
      } else if (!idle) {
        std::snprintf(gbps_ref, sizeof gbps_ref, "%.2f", run["GBps"].get<double>());
      }
      std::printf("%-10s %-34s %10.2f %10.2f %8.0f %8s %8.2f %8s\n", run["preset"].get<std::string>().c_str(),
                  run["trace"].get<std::string>().c_str(), ours[0], run["mean_cycles"].get<double>(), ours[1], p50_ref,
                  ours[2], gbps_ref);
    }
  }
  return 0;
}

// Random reads with all-bank and with per-bank refresh, on the presets that have it.
int bench_refresh(std::int64_t n) {
  std::printf("%-12s %12s %12s %8s\n", "device", "all_bank_GBps", "per_bank_GBps", "gain_%");
  for (const auto& p : embedded_dram_presets()) {
    if (load_dram_spec(p.name).banks_per_refresh == 0) continue;
    Row all{}, pb{};
    if (!replay_once(p.name, "random", n, true, &all, false) || !replay_once(p.name, "random", n, true, &pb, true)) {
      std::printf("%-12s failed\n", p.name);
      return 1;
    }
    std::printf("%-12s %12.3f %12.3f %+8.2f\n", p.name, all.gbps, pb.gbps, 100.0 * (pb.gbps / all.gbps - 1.0));
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

// SystemC provides main() and calls sc_main(); every replay elaborates in its own forked child.
int sc_main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "calibration") return bench_calibration();
  if (argc > 1 && std::string(argv[1]) == "refresh") return bench_refresh(argc > 2 ? std::atoll(argv[2]) : 1000000);
  if (argc > 1 && std::string(argv[1]) == "model")
    return bench_model(argc > 2 ? std::atoll(argv[2]) : 4096, argc > 3 ? std::atoi(argv[3]) : 3,
                       argc > 4 && std::string(argv[4]) == "fast");
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 1000000;
  const int reps = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
  std::vector<std::string> devices;
  for (int i = 3; i < argc; ++i) devices.emplace_back(argv[i]);
  if (devices.empty())
    for (const auto& p : embedded_dram_presets()) devices.emplace_back(p.name);
  const char* kinds[] = {"sequential", "random", "stride-8KiB", "mix-2:1"};
  std::printf("%-12s %-12s %9s %9s %7s %10s %12s %12s %9s %7s %10s\n", "device", "trace", "fast_s", "ref_s", "ref/fast",
              "fast_cpu_s", "dram_cycles", "Mreq_per_s", "GB/s", "%peak", "rd_lat_ns");
  int mismatches = 0;
  for (const std::string& device : devices) {
    const char* dev = device.c_str();
    for (const char* kind : kinds) {
      std::vector<double> fast_s, ref_s, fast_cpu;
      Row fast{}, ref{};
      bool ok = true;
      for (int i = 0; i < reps && ok; ++i) {
        ok = replay_once(dev, kind, n, true, &fast) && replay_once(dev, kind, n, false, &ref);
        fast_s.push_back(fast.wall_s);
        fast_cpu.push_back(fast.cpu_s);
        ref_s.push_back(ref.wall_s);
      }
      if (!ok) {
        std::printf("%-12s %-12s failed\n", dev, kind);
        continue;
      }
      const double f = bench::median(fast_s), r = bench::median(ref_s);
      const bool same = fast.cycles == ref.cycles;
      mismatches += !same;
      std::printf("%-12s %-12s %9.3f %9.3f %7.2f %10.3f %12.0f %12.2f %9.2f %7.1f %10.1f%s\n", dev, kind, f, r, r / f,
                  bench::median(fast_cpu), fast.cycles, double(n) / f * 1e-6, fast.gbps, fast.pct, fast.lat_ns, same ? "" : " MISMATCH");
      std::fflush(stdout);
    }
  }
  return mismatches ? 1 : 0;
}
