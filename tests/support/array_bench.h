#pragma once
// Runs array models on one GEMM inside a one-thread SystemC testbench. Call simulate_gemms() in a
// forked child (support/isolated.h): SystemC allows one elaboration per process.
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <systemc>
#include <utility>
#include <vector>

#include "common/sim_time.h"
#include "config/hw_config.h"
#include "hw/array/i_array.h"
#include "timing/array_timing.h"

namespace attnsim::test {

// What one model did with the GEMM.
struct GemmRun {
  std::int64_t cycles = -1;     // what run_gemm returned
  fs_t elapsed_fs = -1;         // simulated time run_gemm took
  std::vector<std::int64_t> c;  // the result (c0 + A B), when operands were passed
};

// A testbench module with one SC_THREAD that runs `body`; exceptions are kept, not thrown into SystemC.
class ThreadBench : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(ThreadBench);
  ThreadBench(sc_core::sc_module_name name, std::function<void()> body) : sc_module(name), body_(std::move(body)) {
    SC_THREAD(run);
  }
  std::string error;

 private:
  void run() {
    try {
      body_();
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown exception";
    }
  }
  std::function<void()> body_;
};

// Elaborates a ThreadBench running `body`, simulates until it is done, rethrows its exception if any.
inline void run_in_sc_thread(std::function<void()> body) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
  init_sim_time();
  // Deliberately leaked: the child process ends right after the simulation.
  auto* bench = new ThreadBench("bench", std::move(body));
  sc_core::sc_start();
  if (!bench->error.empty()) throw std::runtime_error(bench->error);
}

// Runs each configuration's model (make_array_model) on the same GEMM, one after the other in one
// thread, starting at an odd time that is not a clock edge so no model may assume it starts at 0.
// With operands, each run accumulates into its own copy of c0; without, run_gemm gets nullptr.
inline std::vector<GemmRun> simulate_gemms(const std::vector<ArrayConfig>& cfgs, const GemmDims& d,
                                           const std::vector<std::int32_t>* a, const std::vector<std::int32_t>* b,
                                           const std::vector<std::int64_t>* c0) {
  std::vector<GemmRun> runs(cfgs.size());
  run_in_sc_thread([&] {
    wait_fs(1234567);
    for (size_t i = 0; i < cfgs.size(); ++i) {
      auto model = make_array_model(cfgs[i]);
      GemmRun& r = runs[i];
      GemmOperands ops;
      if (a && b && c0) {
        r.c = *c0;
        ops.a = a->data(), ops.b = b->data(), ops.c = r.c.data();
      }
      const fs_t t0 = now_fs();
      r.cycles = model->run_gemm(d, (a && b && c0) ? &ops : nullptr);
      r.elapsed_fs = now_fs() - t0;
    }
  });
  return runs;
}

// c0 + A B, row-major, A m x k, B k x n.
inline std::vector<std::int64_t> reference_gemm(const GemmDims& d, const std::vector<std::int32_t>& a,
                                                const std::vector<std::int32_t>& b, std::vector<std::int64_t> c) {
  for (std::int64_t i = 0; i < d.m; ++i)
    for (std::int64_t k = 0; k < d.k; ++k) {
      const std::int64_t av = a[size_t(i * d.k + k)];
      const std::int32_t* brow = b.data() + k * d.n;
      std::int64_t* crow = c.data() + i * d.n;
      for (std::int64_t j = 0; j < d.n; ++j) crow[j] += av * brow[j];
    }
  return c;
}

template <typename T>
std::vector<T> random_matrix(std::mt19937_64& rng, std::int64_t elems, std::int64_t lo, std::int64_t hi) {
  std::uniform_int_distribution<std::int64_t> dist(lo, hi);
  std::vector<T> v(static_cast<size_t>(elems));
  for (auto& x : v) x = T(dist(rng));
  return v;
}

inline ArrayConfig array_config(int rows, int cols, Dataflow df, TimingMode mode, ArrayFidelity fidelity,
                                double clock_mhz = 1000.0) {
  ArrayConfig cfg;
  cfg.rows = rows, cfg.cols = cols, cfg.dataflow = df, cfg.timing = mode, cfg.fidelity = fidelity;
  cfg.clock_mhz = clock_mhz;
  return cfg;
}

// "32x5 WS overlapped M=100 K=30 N=70": enough to reproduce a case.
inline std::string describe(const ArrayConfig& cfg, const GemmDims& d) {
  std::ostringstream s;
  s << cfg.rows << "x" << cfg.cols << " " << to_string(cfg.dataflow) << " " << to_string(cfg.timing) << " M=" << d.m
    << " K=" << d.k << " N=" << d.n << " clock_mhz=" << cfg.clock_mhz;
  return s.str();
}

}  // namespace attnsim::test
