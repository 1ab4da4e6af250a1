// The mapper's program timer against the SystemC accelerator, and the mapper's choices.
// Part 1: for GEMMs on the edge and cloud presets, every tiling the mapper considers among the
// analytically best few, timed by the program timer (mapper/program_timer.h) and simulated
// (one forked child per simulation): the timer's error (median and worst |timer / sim - 1|), and
// whether the timer ranks the simulated best first.
// Part 2: the chosen tiling per effort level: simulated cycles, % of max(MACs / PEs, compulsory
// bytes / bandwidth), mapping wall time (median of 5).
// Part 3: whole-model runs of the attnsim binary (BERT-base N = 4096 on cloud, the main job's LRA
// text workloads at N = 4096): wall time with --mapper fast and default against the same run with
// every choice fixed by its emitted mapping (no search), medians of 5 (1 with --quick) taken in
// this one run, as ratios.
// Part 4: flash attention on cloud at N = 16K, 32K, 64K (LRA text, BERT-base): the DRAM bytes of the
// cascade mapper's pick against the compulsory Q, K, V, O bytes (issue target: within 1.3x).
// Part 5: the fused variant on fusemax-cloud, BERT-base one layer, N = 16K, batch 64, default mapper:
// wall and CPU time of the whole run (issue target: under 10 s wall on this 2-core machine), median of 3
// (1 with --quick). Most of it is the GEMM mapper timing the projections' candidates.
// Usage: bench_mapper [--quick | --attention (part 4 alone) | --fused (part 5 alone)]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <string>
#include <systemc>
#include <vector>

#include "bench_support.h"
#include "cascade/cascade.h"
#include "cascade/lower.h"
#include "cascade/mapping.h"
#include "compiler/gemm_lowering.h"
#include "config/hw_config.h"
#include "hw/accelerator.h"
#include "mapper/cascade_search.h"
#include "mapper/program_timer.h"

using namespace attnsim;

namespace {

bool g_quick = false;  // --quick: one repetition where the parts take medians

// Simulated cycles of a program in a forked child (SystemC elaborates once per process).
std::int64_t simulate_in_child(const HwConfig& hw, const TileProgram& p) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::int64_t cycles = -1;
    try {
      cycles = simulate(hw, p).stats.cycles;
    } catch (...) {
    }
    if (write(fds[1], &cycles, sizeof cycles) != sizeof cycles) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  std::int64_t cycles = -1;
  if (read(fds[0], &cycles, sizeof cycles) != sizeof cycles) cycles = -1;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return cycles;
}

struct Case {
  const char* hw;
  GemmDims d;
  const char* dataflow;  // null: the preset's
};

// Part 4: flash at long N on cloud: the cascade mapper's pick for one layer's attention (all heads),
// the DRAM bytes of its tile program against the compulsory Q, K, V read and O written once
// (4 N d operand bytes per head; target: within 1.3x), its timed cycles, and the search's wall time.
void fused_long() {
  std::printf("\nPart 5: fused attention, BERT-base layer N = 16384 batch 64 on fusemax-cloud, default mapper\n");
  const std::vector<std::string> args = {"run", "--hw", "fusemax-cloud", "--model",
                                         std::string(ATTNSIM_SOURCE_DIR) + "/models/bert-base-layer.json",
                                         "--seq-len", "16384", "--batch", "64", "--variant", "fused"};
  std::vector<double> wall, cpu;
  for (int i = 0; i < (g_quick ? 1 : 3); ++i) {
    const bench::Measurement m = bench::run_once(args, "/dev/null");
    if (m.status != 0) {
      std::printf("  the run failed (status %d)\n", m.status);
      return;
    }
    wall.push_back(m.wall_s), cpu.push_back(m.cpu_s);
  }
  std::printf("  wall %.2f s, CPU %.2f s (median of %zu; target: under 10 s wall)\n", bench::median(wall),
              bench::median(cpu), wall.size());
}

void long_attention() {
  std::printf("\nPart 4: flash on cloud at long N: DRAM bytes of the pick against the compulsory Q, K, V, O\n");
  std::printf("%-10s %6s %5s %-48s %14s %14s %7s %14s %8s\n", "model", "N", "heads", "mapping", "DRAM B",
              "compulsory B", "ratio", "timed cycles", "map s");
  const HwConfig cloud = load_hw_config("cloud");
  struct Attn {
    const char* model;
    std::int64_t heads, d;
  };
  for (const Attn& a : {Attn{"lra-text", 2, 32}, Attn{"bert-base", 12, 64}})
    for (std::int64_t n : {16384, 32768, 65536}) {
      const cascade::Cascade c = cascade::bind_cascade(
          cascade::parse_cascade(cascade::vanilla_attention_json(), "vanilla"), {{"N", double(n)}, {"d", double(a.d)}},
          false);
      CascadeSearchSpec spec;
      spec.structures = {CascadeStructure::Whole, CascadeStructure::RowBlocks, CascadeStructure::Online};
      spec.instances = a.heads;
      const auto t0 = std::chrono::steady_clock::now();
      const CascadePick pick = search_cascade(c, cloud, std::uint64_t(cloud.sram.total_bytes()), spec, {}, "bench");
      const double map_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      // The heads' Q, K, V and O stacked by rows, as the model binds them.
      const cascade::CascadePlan plan =
          cascade::plan_cascade(c, pick.mapping, cloud, std::uint64_t(cloud.sram.total_bytes()));
      std::vector<TensorInfo> tensors;
      std::vector<int> tensor_of(c.desc.tensors.size(), -1);
      std::uint64_t next = 0;
      for (std::size_t t = 0; t < c.desc.tensors.size(); ++t) {
        if (c.desc.tensors[t].role == cascade::TensorRole::Intermediate) continue;
        const TensorInfo ti{c.desc.tensors[t].name, next, std::uint64_t(a.heads * c.rows(int(t))),
                            std::uint64_t(c.cols(int(t))), cloud.array.operand_bytes};
        next = align_up(next + ti.bytes(), 4096);
        tensor_of[t] = int(tensors.size());
        tensors.push_back(ti);
      }
      std::vector<cascade::Binding> bindings;
      for (std::int64_t h = 0; h < a.heads; ++h) {
        cascade::Binding b;
        for (std::size_t t = 0; t < c.desc.tensors.size(); ++t) {
          DramBlock blk;
          if (tensor_of[t] >= 0)
            blk = {std::uint16_t(tensor_of[t]), h * c.rows(int(t)), 0, c.rows(int(t)), c.cols(int(t))};
          b.blocks.push_back(blk);
        }
        bindings.push_back(b);
      }
      const ProgramCounts k = count_program(ProgramSource::of(cascade::lower_program(cloud, plan, tensors, bindings)));
      const double moved = double(k.load_bytes + k.store_bytes);
      const double compulsory = double(4 * n * a.d * a.heads * cloud.array.operand_bytes);
      std::string m = cascade::describe(c, pick.mapping);
      m = m.substr(m.find('[') == std::string::npos ? 0 : m.find('['));
      std::printf("%-10s %6lld %5lld %-48s %14.0f %14.0f %7.2f %14.0f %8.2f\n", a.model, (long long)n,
                  (long long)a.heads, m.c_str(), moved, compulsory, moved / compulsory, pick.cycles, map_s);
    }
}

}  // namespace

// SystemC provides main() and calls sc_main(); every simulation runs in a forked child.
int sc_main(int argc, char** argv) {
  bool quick = argc > 1 && !std::strcmp(argv[1], "--quick");
  g_quick = quick;
  if (argc > 1 && !std::strcmp(argv[1], "--fused")) {  // Part 5 alone
    fused_long();
    return 0;
  }
  if (argc > 1 && !std::strcmp(argv[1], "--attention")) {  // Part 4 alone
    long_attention();
    return 0;
  }
  const std::vector<Case> cases = {
      {"cloud", {1024, 1024, 1024}, nullptr}, {"cloud", {2048, 2048, 2048}, nullptr},
      {"cloud", {4096, 768, 3072}, nullptr},  {"cloud", {4096, 3072, 768}, nullptr},
      {"edge", {512, 512, 512}, nullptr},     {"edge", {4096, 768, 3072}, nullptr},
      {"edge", {64, 65536, 64}, "ws"},        {"edge", {64, 65536, 64}, "os"},
      {"edge", {1024, 64, 1024}, nullptr},
  };
  std::printf("Part 1: program timer against the SystemC accelerator (ideal DRAM)\n");
  std::printf("%-6s %-18s %-4s %-40s %12s %12s %8s\n", "hw", "GEMM", "df", "tiling", "timer", "simulated", "error");
  std::vector<double> errors;
  int rank_hits = 0, rank_cases = 0;
  for (const Case& c : cases) {
    HwConfig hw = load_hw_config(c.hw);
    if (c.dataflow) hw.array.dataflow = std::string(c.dataflow) == "ws" ? Dataflow::WS : Dataflow::OS;
    // The tilings the default mapper times: re-run its enumeration through the public entry
    // point at each effort and collect distinct choices, plus the fast (analytical) pick.
    std::vector<GemmTiling> tilings;
    for (MapperEffort e : {MapperEffort::Fast, MapperEffort::Default, MapperEffort::Thorough}) {
      MapperOptions o;
      o.effort = e;
      const GemmTiling t = choose_gemm_tiling(hw, c.d, 0, "bench", 0, o);
      bool seen = false;
      for (const GemmTiling& x : tilings)
        seen |= x.tm == t.tm && x.tk == t.tk && x.tn == t.tn && describe_gemm_order(x) == describe_gemm_order(t);
      if (!seen) tilings.push_back(t);
      if (quick) break;
    }
    std::int64_t best_sim = -1, best_timer = -1;
    std::size_t best_sim_i = 0, best_timer_i = 0;
    for (std::size_t i = 0; i < tilings.size(); ++i) {
      const GemmTiling& t = tilings[i];
      const TileProgram p = lower_gemm(hw, c.d, t);
      const std::int64_t timer = time_program(hw, [&](ProgramSink& s) { ProgramSource::of(p).generate(s); }).cycles;
      const std::int64_t sim = simulate_in_child(hw, p);
      const double err = double(timer) / double(sim) - 1;
      errors.push_back(std::fabs(err));
      char dims[64], tile[96];
      std::snprintf(dims, sizeof dims, "%lldx%lldx%lld", (long long)c.d.m, (long long)c.d.k, (long long)c.d.n);
      std::snprintf(tile, sizeof tile, "%lldx%lldx%lld %s", (long long)t.tm, (long long)t.tk, (long long)t.tn,
                    describe_gemm_order(t).c_str());
      std::printf("%-6s %-18s %-4s %-40s %12lld %12lld %+7.2f%%\n", c.hw, dims, to_string(hw.array.dataflow), tile,
                  (long long)timer, (long long)sim, 100 * err);
      if (best_sim < 0 || sim < best_sim) best_sim = sim, best_sim_i = i;
      if (best_timer < 0 || timer < best_timer) best_timer = timer, best_timer_i = i;
    }
    if (tilings.size() > 1) {
      ++rank_cases;
      rank_hits += best_sim_i == best_timer_i;
    }
  }
  std::sort(errors.begin(), errors.end());
  std::printf("timer |error|: median %.2f%%, worst %.2f%% over %zu programs; the timer's fastest is the simulated "
              "fastest in %d of %d cases\n",
              100 * errors[errors.size() / 2], 100 * errors.back(), errors.size(), rank_hits, rank_cases);

  std::printf("\nPart 2: the mapper's choice per effort (simulated), against max(MACs / PEs, compulsory bytes / bw)\n");
  std::printf("%-6s %-18s %-4s %-9s %-40s %12s %12s %8s %12s\n", "hw", "GEMM", "df", "effort", "tiling", "simulated",
              "bound", "% bound", "map ms");
  for (const Case& c : cases) {
    HwConfig hw = load_hw_config(c.hw);
    if (c.dataflow) hw.array.dataflow = std::string(c.dataflow) == "ws" ? Dataflow::WS : Dataflow::OS;
    const double compulsory = double((c.d.m * c.d.k + c.d.k * c.d.n + c.d.m * c.d.n) * hw.array.operand_bytes);
    const double bound = std::max(double(c.d.macs()) / double(hw.array.pes()), compulsory / hw.dram.peak_bytes_per_cycle);
    for (MapperEffort e : {MapperEffort::Fast, MapperEffort::Default, MapperEffort::Thorough}) {
      MapperOptions o;
      o.effort = e;
      std::vector<double> ms;
      GemmTiling t;
      for (int r = 0; r < (quick ? 1 : 5); ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        t = choose_gemm_tiling(hw, c.d, 0, "bench", 0, o);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      const std::int64_t sim = simulate_in_child(hw, lower_gemm(hw, c.d, t));
      char dims[64], tile[96];
      std::snprintf(dims, sizeof dims, "%lldx%lldx%lld", (long long)c.d.m, (long long)c.d.k, (long long)c.d.n);
      std::snprintf(tile, sizeof tile, "%lldx%lldx%lld %s", (long long)t.tm, (long long)t.tk, (long long)t.tn,
                    describe_gemm_order(t).c_str());
      std::printf("%-6s %-18s %-4s %-9s %-40s %12lld %12.0f %7.1f%% %12.2f\n", c.hw, dims, to_string(hw.array.dataflow),
                  to_string(e), tile, (long long)sim, bound, 100 * bound / double(sim), bench::median(ms));
    }
  }
  std::printf("\nPart 3: whole-model wall time, against the same run with its emitted mapping fixed (no search)\n");
  std::printf("%-60s %10s %10s %10s %8s %9s\n", "run", "fixed s", "fast s", "default s", "fast x", "default x");
  struct Run {
    const char* args;
  };
  for (const Run& r : {Run{"--hw cloud --model bert-base --seq-len 4096"},
                       Run{"--hw cloud --model lra-text --seq-len 4096 --variant flash"},
                       Run{"--hw cloud --model lra-text --seq-len 4096 --variant unfused"},
                       Run{"--hw cloud --model lra-text --seq-len 4096 --variant primal"},
                       Run{"--hw edge --model lra-text --seq-len 4096 --variant flash"},
                       Run{"--hw edge --model lra-text --seq-len 4096 --variant primal"}}) {
    std::vector<std::string> args = {"run"};
    {
      std::string a = r.args;
      for (std::size_t p = 0; p < a.size();) {
        const std::size_t q = a.find(' ', p);
        args.push_back(a.substr(p, q == std::string::npos ? std::string::npos : q - p));
        p = q == std::string::npos ? a.size() : q + 1;
      }
    }
    // The emitted mapping, into a file the fixed runs read.
    const std::string mapping = "/tmp/bench_mapper_mapping_" + std::to_string(getpid()) + ".json";
    {
      const std::string run_cmd = std::string(ATTNSIM_BINARY) + " run " + std::string(r.args) + " --emit mapping > " + mapping;
      if (std::system(run_cmd.c_str()) != 0) {
        std::printf("%-60s (emitting the mapping failed)\n", r.args);
        continue;
      }
    }
    auto with = [&](std::vector<std::string> extra) {
      std::vector<std::string> v = args;
      v.insert(v.end(), extra.begin(), extra.end());
      return v;
    };
    // Interleaved repetitions, so that the machine's load drifts over all three alike.
    std::vector<double> fixed_s, fast_s, default_s;
    for (int i = 0; i < (quick ? 1 : 5); ++i) {
      fixed_s.push_back(bench::run_once(with({"--mapping", mapping}), "/dev/null").wall_s);
      fast_s.push_back(bench::run_once(with({"--mapper", "fast"}), "/dev/null").wall_s);
      default_s.push_back(bench::run_once(with({"--mapper", "default"}), "/dev/null").wall_s);
    }
    std::remove(mapping.c_str());
    const double f = bench::median(fixed_s), fa = bench::median(fast_s), de = bench::median(default_s);
    std::printf("%-60s %10.3f %10.3f %10.3f %8.2f %9.2f\n", r.args, f, fa, de, fa / f, de / f);
  }

  long_attention();
  fused_long();
  return 0;
}
