// The PE-level array model against the fast (closed-form) model and a reference matmul: random shapes,
// arrays, dataflows and timing modes with fixed seeds. Each case runs in a forked child (SystemC allows
// one elaboration per process) and is printed in full when it fails, so it can be rerun alone.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <iterator>
#include <random>
#include <sstream>

#include "support/array_bench.h"
#include "support/isolated.h"

using namespace attnsim;
using namespace attnsim::test;

namespace {

struct Case {
  ArrayConfig pe;  // fidelity Pe; the fast model runs with the same configuration otherwise
  GemmDims d;
  bool operands = true;  // false: run_gemm(dims, nullptr), timing only
  std::uint64_t seed = 0;
};

std::string describe_case(const Case& c) {
  std::ostringstream s;
  s << describe(c.pe, c.d) << (c.operands ? "" : " operands=null") << " seed=" << c.seed;
  return s.str();
}

// Runs one case in a forked child; returns "" when PE cycles == fast cycles == gemm_cycles(), both
// models advanced simulated time by exactly cycles * period, and the PE result is exact.
std::string run_case(const Case& c) {
  IsolatedResult r = run_isolated([&]() -> std::string {
    std::mt19937_64 rng(c.seed);
    auto a = random_matrix<std::int32_t>(rng, c.d.m * c.d.k, -100, 100);
    auto b = random_matrix<std::int32_t>(rng, c.d.k * c.d.n, -100, 100);
    auto c0 = random_matrix<std::int64_t>(rng, c.d.m * c.d.n, -1000, 1000);
    ArrayConfig fast = c.pe;
    fast.fidelity = ArrayFidelity::Fast;
    auto runs = c.operands ? simulate_gemms({c.pe, fast}, c.d, &a, &b, &c0)
                           : simulate_gemms({c.pe, fast}, c.d, nullptr, nullptr, nullptr);
    const std::int64_t expect = gemm_cycles(c.pe.rows, c.pe.cols, c.pe.dataflow, c.pe.timing, c.d);
    const fs_t period = c.pe.period_fs();
    std::ostringstream err;
    if (runs[0].cycles != expect || runs[1].cycles != expect)
      err << " cycles: pe " << runs[0].cycles << ", fast " << runs[1].cycles << ", gemm_cycles " << expect << ";";
    if (runs[0].elapsed_fs != runs[0].cycles * period)
      err << " pe advanced " << runs[0].elapsed_fs << " fs, expected " << runs[0].cycles * period << ";";
    if (runs[1].elapsed_fs != runs[1].cycles * period)
      err << " fast advanced " << runs[1].elapsed_fs << " fs, expected " << runs[1].cycles * period << ";";
    if (c.operands) {
      const auto ref = reference_gemm(c.d, a, b, c0);
      for (size_t i = 0; i < ref.size(); ++i)
        if (runs[0].c[i] != ref[i]) {
          err << " result differs first at C[" << i / size_t(c.d.n) << "][" << i % size_t(c.d.n) << "]: pe "
              << runs[0].c[i] << ", reference " << ref[i] << ";";
          break;
        }
    }
    return err.str();
  });
  if (r.exit_status != 0) return " child failed (" + std::to_string(r.exit_status) + "): " + r.output;
  return r.output;
}

// Cost of a case in the PE model: ~100 ns per cycle (SystemC wait, sequencer) + ~5 ns per PE-cycle.
bool affordable(const ArrayConfig& cfg, const GemmDims& d) {
  const std::int64_t cyc = gemm_cycles(cfg.rows, cfg.cols, cfg.dataflow, cfg.timing, d);
  return cyc <= 200000 && cyc * cfg.pes() <= 50'000'000;
}

// A GEMM dimension: small, medium, up to ~300, or a multiple of the array dimension it maps on +- 1
// (mostly not a multiple, so partial folds are common).
std::int64_t draw_dim(std::mt19937_64& rng, int array_dim) {
  auto uni = [&](std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng); };
  switch (uni(0, 5)) {
    case 0:
      return uni(1, 8);
    case 1:
      return uni(1, 64);
    case 2:
      return uni(1, 300);
    case 3:
      return uni(100, 300);
    default: {
      const std::int64_t v = array_dim * uni(1, std::max<std::int64_t>(1, 300 / array_dim)) + uni(-1, 1);
      return std::max<std::int64_t>(1, v);
    }
  }
}

// Deterministic cases: every dataflow x timing mode in turn, arrays 1x1 .. 32x32 (some fixed odd shapes).
std::vector<Case> make_cases(std::uint64_t seed, int count) {
  static const int kShapes[][2] = {{1, 1},   {1, 32}, {32, 1}, {3, 17},  {17, 3}, {32, 5},  {5, 32},
                                   {32, 32}, {2, 2},  {7, 7},  {16, 16}, {8, 32}, {31, 29}, {1, 5}};
  std::mt19937_64 rng(seed);
  auto uni = [&](std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng); };
  static const double kClocks[] = {1000.0, 940.0, 700.0, 1250.0, 333.3};
  std::vector<Case> cases;
  for (int n = 0; n < count; ++n) {
    Case c;
    int rows, cols;
    if (uni(0, 9) < 4) {
      const auto& s = kShapes[uni(0, std::size(kShapes) - 1)];
      rows = s[0], cols = s[1];
    } else {
      rows = int(uni(1, 32)), cols = int(uni(1, 32));
    }
    const Dataflow df = Dataflow(n % 3);
    const TimingMode mode = (n / 3) % 2 ? TimingMode::Overlapped : TimingMode::ScaleSim;
    c.pe = array_config(rows, cols, df, mode, ArrayFidelity::Pe, kClocks[uni(0, 4)]);
    // Draw M, K, N against the array dimension each maps on (OS: M rows, N cols; WS: K rows, N cols;
    // IS: K rows, M cols); redraw until the case is cheap enough to keep the suite fast.
    for (int tries = 0;; ++tries) {
      // (The streamed dimension maps on neither; it gets rows, which only matters for "multiple +- 1".)
      const int m_dim = df == Dataflow::IS ? cols : rows, k_dim = rows, n_dim = df == Dataflow::IS ? rows : cols;
      c.d = {draw_dim(rng, m_dim), draw_dim(rng, k_dim), draw_dim(rng, n_dim)};
      if (affordable(c.pe, c.d)) break;
      if (tries > 1000) c.d = {uni(1, 8), uni(1, 8), uni(1, 8)};
    }
    c.operands = uni(0, 9) != 0;
    c.seed = seed * 1000 + std::uint64_t(n);
    cases.push_back(c);
  }
  return cases;
}

void run_batch(std::uint64_t seed, int count) {
  int failures = 0;
  for (const Case& c : make_cases(seed, count)) {
    const std::string err = run_case(c);
    if (!err.empty()) {
      ++failures;
      FAIL_CHECK("case " << describe_case(c) << ":" << err);
    }
  }
  CHECK(failures == 0);
}

}  // namespace

// 6 batches x 120 random cases; each batch is a ctest of its own so they run in parallel.
TEST_CASE("PE array == fast model == reference, random batch 1", "[array][equivalence]") { run_batch(1, 120); }
TEST_CASE("PE array == fast model == reference, random batch 2", "[array][equivalence]") { run_batch(2, 120); }
TEST_CASE("PE array == fast model == reference, random batch 3", "[array][equivalence]") { run_batch(3, 120); }
TEST_CASE("PE array == fast model == reference, random batch 4", "[array][equivalence]") { run_batch(4, 120); }
TEST_CASE("PE array == fast model == reference, random batch 5", "[array][equivalence]") { run_batch(5, 120); }
TEST_CASE("PE array == fast model == reference, random batch 6", "[array][equivalence]") { run_batch(6, 120); }

TEST_CASE("PE array == fast model == reference, edge shapes", "[array][equivalence]") {
  // Degenerate and exact-fit shapes on a few arrays, every dataflow and timing mode.
  const int kArrays[][2] = {{1, 1}, {1, 6}, {6, 1}, {4, 4}, {5, 3}};
  int failures = 0;
  std::uint64_t seed = 7000;
  for (const auto& arr : kArrays) {
    const std::int64_t R = arr[0], C = arr[1];
    const GemmDims dims[] = {{1, 1, 1},         {1, 9, 1},
                             {9, 1, 1},         {1, 1, 9},
                             {R, R, C},         {C, R, R},
                             {R * 2, C, C},     {R + 1, C + 1, R + 1},
                             {R * C, 1, R * C}, {2 * R - 1, 3, 2 * C - 1}};
    for (int df = 0; df < 3; ++df)
      for (TimingMode mode : {TimingMode::ScaleSim, TimingMode::Overlapped})
        for (const GemmDims& d : dims) {
          Case c;
          c.pe = array_config(arr[0], arr[1], Dataflow(df), mode, ArrayFidelity::Pe);
          c.d = d;
          c.seed = ++seed;
          const std::string err = run_case(c);
          if (!err.empty()) {
            ++failures;
            FAIL_CHECK("case " << describe_case(c) << ":" << err);
          }
        }
  }
  CHECK(failures == 0);
}

TEST_CASE("PE array model object runs several GEMMs in a row", "[array][equivalence]") {
  // The same model object must reset its registers between GEMMs; time keeps adding up.
  for (int df = 0; df < 3; ++df)
    for (TimingMode mode : {TimingMode::ScaleSim, TimingMode::Overlapped}) {
      const ArrayConfig cfg = array_config(5, 7, Dataflow(df), mode, ArrayFidelity::Pe, 940.0);
      INFO(describe(cfg, {}));
      IsolatedResult r = run_isolated([&]() -> std::string {
        std::ostringstream err;
        run_in_sc_thread([&] {
          auto model = make_array_model(cfg);
          std::mt19937_64 rng(99);
          const GemmDims shapes[] = {{13, 9, 11}, {3, 20, 2}, {13, 9, 11}, {1, 1, 1}};
          for (const GemmDims& d : shapes) {
            auto a = random_matrix<std::int32_t>(rng, d.m * d.k, -100, 100);
            auto b = random_matrix<std::int32_t>(rng, d.k * d.n, -100, 100);
            std::vector<std::int64_t> c(size_t(d.m * d.n), 0);
            GemmOperands ops{a.data(), b.data(), c.data()};
            const fs_t t0 = now_fs();
            const std::int64_t cyc = model->run_gemm(d, &ops);
            if (cyc != gemm_cycles(cfg.rows, cfg.cols, cfg.dataflow, cfg.timing, d)) err << " cycles " << cyc << ";";
            if (now_fs() - t0 != cyc * cfg.period_fs()) err << " time;";
            if (c != reference_gemm(d, a, b, std::vector<std::int64_t>(c.size(), 0))) err << " result;";
            model->run_gemm(d, nullptr);  // a timing-only run in between must not disturb the next one
          }
        });
        return err.str();
      });
      CHECK(r.exit_status == 0);
      CHECK(r.output == "");
    }
}

TEST_CASE("PE array speed: 32x32, M=K=N=256", "[array][equivalence][speed]") {
  // Validation-model speed target: well under a second. The bound is loose so a loaded machine passes.
  for (int df = 0; df < 3; ++df)
    for (TimingMode mode : {TimingMode::ScaleSim, TimingMode::Overlapped}) {
      const ArrayConfig pe = array_config(32, 32, Dataflow(df), mode, ArrayFidelity::Pe);
      const GemmDims d{256, 256, 256};
      IsolatedResult r = run_isolated([&]() -> std::string {
        std::mt19937_64 rng(5);
        auto a = random_matrix<std::int32_t>(rng, d.m * d.k, -100, 100);
        auto b = random_matrix<std::int32_t>(rng, d.k * d.n, -100, 100);
        std::vector<std::int64_t> c(size_t(d.m * d.n), 0);
        double pe_s = 0, fast_s = 0;
        std::int64_t pe_cycles = 0, fast_cycles = 0;
        run_in_sc_thread([&] {
          auto pe_model = make_array_model(pe);
          ArrayConfig fast = pe;
          fast.fidelity = ArrayFidelity::Fast;
          auto fast_model = make_array_model(fast);
          GemmOperands ops{a.data(), b.data(), c.data()};
          const auto t0 = std::chrono::steady_clock::now();
          pe_cycles = pe_model->run_gemm(d, &ops);
          const auto t1 = std::chrono::steady_clock::now();
          fast_cycles = fast_model->run_gemm(d, nullptr);
          const auto t2 = std::chrono::steady_clock::now();
          pe_s = std::chrono::duration<double>(t1 - t0).count();
          fast_s = std::chrono::duration<double>(t2 - t1).count();
        });
        const bool ok = pe_cycles == fast_cycles && c == reference_gemm(d, a, b, std::vector<std::int64_t>(c.size()));
        char line[256];
        std::snprintf(line, sizeof line, "%s|%.3f|%.6f|%lld", ok ? "ok" : "MISMATCH", pe_s, fast_s,
                      static_cast<long long>(pe_cycles));
        return line;
      });
      REQUIRE(r.exit_status == 0);
      const std::string out = r.output;
      const auto p1 = out.find('|'), p2 = out.find('|', p1 + 1), p3 = out.find('|', p2 + 1);
      const double pe_s = std::stod(out.substr(p1 + 1, p2 - p1 - 1));
      INFO(describe(pe, d) << ": " << out);
      WARN(describe(pe, d) << ": PE model " << out.substr(p3 + 1) << " cycles in " << pe_s << " s, fast model "
                           << out.substr(p2 + 1, p3 - p2 - 1) << " s");
      CHECK(out.substr(0, p1) == "ok");
      CHECK(pe_s < 5.0);
    }
}
