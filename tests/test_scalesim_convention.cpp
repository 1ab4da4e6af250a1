// Hand-derived cycle counts for the SCALE-Sim v2 convention and the overlapped mode (array_timing.h),
// checked against the closed form and against the PE-level model, whose count emerges from moving data.
//   F = row_folds * col_folds, T = streamed length, P = preload (R for WS/IS, 0 for OS)
//   OS: F = ceil(M/R) ceil(N/C), T = K;  WS: F = ceil(K/R) ceil(N/C), T = M;  IS: F = ceil(K/R) ceil(M/C), T = N
//   scalesim:   busy F*L cycles with L = P + R + C + T - 2; SCALE-Sim v2 prints F*L - 1.
//   overlapped: P + (F-1) max(T,R) + R + C + T - 2.
#include <catch2/catch.hpp>
#include <cstdio>
#include <random>

#include "support/array_bench.h"
#include "support/isolated.h"

using namespace attnsim;
using namespace attnsim::test;

namespace {

struct PeOutcome {
  std::int64_t cycles = -1;
  std::string error;  // empty when the run was consistent (time, result)
};

// Runs the PE model (and the fast model) on random operands in a forked child. Returns the PE model's
// cycle count and a description of any inconsistency: elapsed time != cycles * period, result != A B,
// or fast model disagreeing.
PeOutcome run_pe(int rows, int cols, Dataflow df, TimingMode mode, GemmDims d) {
  const ArrayConfig pe = array_config(rows, cols, df, mode, ArrayFidelity::Pe);
  const ArrayConfig fast = array_config(rows, cols, df, mode, ArrayFidelity::Fast);
  IsolatedResult r = run_isolated([&]() -> std::string {
    std::mt19937_64 rng(42);
    auto a = random_matrix<std::int32_t>(rng, d.m * d.k, -100, 100);
    auto b = random_matrix<std::int32_t>(rng, d.k * d.n, -100, 100);
    auto c0 = random_matrix<std::int64_t>(rng, d.m * d.n, -1000, 1000);
    auto runs = simulate_gemms({pe, fast}, d, &a, &b, &c0);
    std::string err;
    const fs_t period = pe.period_fs();
    if (runs[0].elapsed_fs != runs[0].cycles * period) err += " pe elapsed time != cycles * period;";
    if (runs[1].elapsed_fs != runs[1].cycles * period) err += " fast elapsed time != cycles * period;";
    if (runs[1].cycles != runs[0].cycles) err += " fast model cycles " + std::to_string(runs[1].cycles) + ";";
    if (runs[0].c != reference_gemm(d, a, b, c0)) err += " pe result != reference;";
    return std::to_string(runs[0].cycles) + "|" + err;
  });
  PeOutcome o;
  const auto bar = r.output.find('|');
  if (r.exit_status != 0 || bar == std::string::npos) {
    o.error = "child failed (" + std::to_string(r.exit_status) + "): " + r.output;
    return o;
  }
  o.cycles = std::stoll(r.output.substr(0, bar));
  o.error = r.output.substr(bar + 1);
  return o;
}

// scalesim mode: SCALE-Sim's printed figure, the busy cycles (one more), and the PE model.
void expect_scalesim(int rows, int cols, Dataflow df, GemmDims d, std::int64_t reported) {
  const ArrayConfig cfg = array_config(rows, cols, df, TimingMode::ScaleSim, ArrayFidelity::Pe);
  INFO(describe(cfg, d));
  CHECK(scalesim_reported_cycles(rows, cols, df, d) == reported);
  CHECK(gemm_cycles(rows, cols, df, TimingMode::ScaleSim, d) == reported + 1);
  PeOutcome pe = run_pe(rows, cols, df, TimingMode::ScaleSim, d);
  CHECK(pe.error == "");
  CHECK(pe.cycles - 1 == reported);
}

void expect_overlapped(int rows, int cols, Dataflow df, GemmDims d, std::int64_t cycles) {
  const ArrayConfig cfg = array_config(rows, cols, df, TimingMode::Overlapped, ArrayFidelity::Pe);
  INFO(describe(cfg, d));
  CHECK(gemm_cycles(rows, cols, df, TimingMode::Overlapped, d) == cycles);
  PeOutcome pe = run_pe(rows, cols, df, TimingMode::Overlapped, d);
  CHECK(pe.error == "");
  CHECK(pe.cycles == cycles);
}

constexpr Dataflow OS = Dataflow::OS, WS = Dataflow::WS, IS = Dataflow::IS;

}  // namespace

TEST_CASE("scalesim convention: SCALE-Sim v2 reference runs", "[array][scalesim]") {
  // 32x32 OS, M=K=N=64: F = ceil(64/32) * ceil(64/32) = 4, T = K = 64, P = 0,
  // L = 0 + 32 + 32 + 64 - 2 = 126, F*L = 504 busy, F*L - 1 = 503 (SCALE-Sim v2 reports 503).
  expect_scalesim(32, 32, OS, {64, 64, 64}, 503);
  // 32x32 WS, M=100, K=30, N=70: F = ceil(30/32) * ceil(70/32) = 1 * 3 = 3, T = M = 100, P = 32,
  // L = 32 + 32 + 32 + 100 - 2 = 194, F*L = 582 busy, F*L - 1 = 581 (SCALE-Sim v2 reports 581).
  expect_scalesim(32, 32, WS, {100, 30, 70}, 581);
}

TEST_CASE("scalesim convention: one fold, each dataflow", "[array][scalesim]") {
  // OS 8x8, M=8, K=16, N=8: F = 1 * 1 = 1, T = 16, P = 0, L = 0 + 8 + 8 + 16 - 2 = 30, F*L - 1 = 29.
  expect_scalesim(8, 8, OS, {8, 16, 8}, 29);
  // WS 8x8, M=20, K=8, N=6: F = ceil(8/8) * ceil(6/8) = 1, T = M = 20, P = 8,
  // L = 8 + 8 + 8 + 20 - 2 = 42, F*L - 1 = 41.
  expect_scalesim(8, 8, WS, {20, 8, 6}, 41);
  // IS 8x8, M=5, K=7, N=12: F = ceil(7/8) * ceil(5/8) = 1, T = N = 12, P = 8,
  // L = 8 + 8 + 8 + 12 - 2 = 34, F*L - 1 = 33.
  expect_scalesim(8, 8, IS, {5, 7, 12}, 33);
}

TEST_CASE("scalesim convention: partial folds", "[array][scalesim]") {
  // Rows only. OS 8x8, M=20, K=10, N=8: F = ceil(20/8) * ceil(8/8) = 3 * 1 = 3, T = 10,
  // L = 0 + 8 + 8 + 10 - 2 = 24, F*L = 72, F*L - 1 = 71.
  expect_scalesim(8, 8, OS, {20, 10, 8}, 71);
  // Cols only. OS 8x8, M=8, K=10, N=9: F = 1 * ceil(9/8) = 2, T = 10, L = 24, F*L = 48, F*L - 1 = 47.
  expect_scalesim(8, 8, OS, {8, 10, 9}, 47);
  // Both. OS 8x8, M=20, K=10, N=9: F = 3 * 2 = 6, L = 24, F*L = 144, F*L - 1 = 143.
  expect_scalesim(8, 8, OS, {20, 10, 9}, 143);
  // Rows only. WS 8x8, M=12, K=17, N=8: F = ceil(17/8) * ceil(8/8) = 3 * 1 = 3, T = M = 12, P = 8,
  // L = 8 + 8 + 8 + 12 - 2 = 34, F*L = 102, F*L - 1 = 101.
  expect_scalesim(8, 8, WS, {12, 17, 8}, 101);
  // Cols only. WS 8x8, M=12, K=8, N=10: F = 1 * ceil(10/8) = 2, L = 34, F*L = 68, F*L - 1 = 67.
  expect_scalesim(8, 8, WS, {12, 8, 10}, 67);
  // Both. WS 8x8, M=12, K=20, N=10: F = ceil(20/8) * ceil(10/8) = 3 * 2 = 6, L = 34, F*L = 204, - 1 = 203.
  expect_scalesim(8, 8, WS, {12, 20, 10}, 203);
  // Rows only. IS 8x8, M=8, K=9, N=5: F = ceil(9/8) * ceil(8/8) = 2 * 1 = 2, T = N = 5, P = 8,
  // L = 8 + 8 + 8 + 5 - 2 = 27, F*L = 54, F*L - 1 = 53.
  expect_scalesim(8, 8, IS, {8, 9, 5}, 53);
  // Cols only. IS 8x8, M=30, K=8, N=5: F = 1 * ceil(30/8) = 4, L = 27, F*L = 108, F*L - 1 = 107.
  expect_scalesim(8, 8, IS, {30, 8, 5}, 107);
  // Both, non-square. IS 4x6, M=13, K=9, N=5: F = ceil(9/4) * ceil(13/6) = 3 * 3 = 9, T = 5, P = 4,
  // L = 4 + 4 + 6 + 5 - 2 = 17, F*L = 153, F*L - 1 = 152.
  expect_scalesim(4, 6, IS, {13, 9, 5}, 152);
  // Both, non-square. OS 3x17, M=7, K=4, N=20: F = ceil(7/3) * ceil(20/17) = 3 * 2 = 6, T = 4,
  // L = 0 + 3 + 17 + 4 - 2 = 22, F*L = 132, F*L - 1 = 131.
  expect_scalesim(3, 17, OS, {7, 4, 20}, 131);
}

TEST_CASE("scalesim convention: K = 1", "[array][scalesim]") {
  // OS 4x4, M=4, K=1, N=4: F = 1 * 1 = 1, T = K = 1, L = 0 + 4 + 4 + 1 - 2 = 7, F*L - 1 = 6.
  expect_scalesim(4, 4, OS, {4, 1, 4}, 6);
  // OS 4x4, M=9, K=1, N=5: F = ceil(9/4) * ceil(5/4) = 3 * 2 = 6, L = 7, F*L = 42, F*L - 1 = 41.
  expect_scalesim(4, 4, OS, {9, 1, 5}, 41);
  // WS 4x4, M=6, K=1, N=4: F = ceil(1/4) * ceil(4/4) = 1, T = M = 6, P = 4,
  // L = 4 + 4 + 4 + 6 - 2 = 16, F*L - 1 = 15.
  expect_scalesim(4, 4, WS, {6, 1, 4}, 15);
  // IS 4x4, M=4, K=1, N=3: F = ceil(1/4) * ceil(4/4) = 1, T = N = 3, P = 4,
  // L = 4 + 4 + 4 + 3 - 2 = 13, F*L - 1 = 12.
  expect_scalesim(4, 4, IS, {4, 1, 3}, 12);
}

TEST_CASE("scalesim convention: 1x1 array", "[array][scalesim]") {
  // OS 1x1, M=2, K=3, N=4: F = 2 * 4 = 8, T = 3, L = 0 + 1 + 1 + 3 - 2 = 3, F*L = 24, F*L - 1 = 23.
  expect_scalesim(1, 1, OS, {2, 3, 4}, 23);
  // WS 1x1, M=2, K=3, N=4: F = 3 * 4 = 12, T = M = 2, P = 1, L = 1 + 1 + 1 + 2 - 2 = 3, F*L = 36, - 1 = 35.
  expect_scalesim(1, 1, WS, {2, 3, 4}, 35);
  // IS 1x1, M=2, K=3, N=4: F = 3 * 2 = 6, T = N = 4, P = 1, L = 1 + 1 + 1 + 4 - 2 = 5, F*L = 30, - 1 = 29.
  expect_scalesim(1, 1, IS, {2, 3, 4}, 29);
  // OS 1x1, M=K=N=1: F = 1, T = 1, L = 0 + 1 + 1 + 1 - 2 = 1, F*L - 1 = 0 (one busy cycle, index 0).
  expect_scalesim(1, 1, OS, {1, 1, 1}, 0);
}

TEST_CASE("overlapped mode: worked examples", "[array][overlapped]") {
  // OS 32x32, M=K=N=64: F = 4, T = 64, P = 0, max(T,R) = 64:
  // 0 + 3*64 + 32 + 32 + 64 - 2 = 192 + 126 = 318 (scalesim: 504).
  expect_overlapped(32, 32, OS, {64, 64, 64}, 318);
  // WS 32x32, M=100, K=30, N=70: F = 3, T = 100, P = 32, max(T,R) = 100:
  // 32 + 2*100 + 32 + 32 + 100 - 2 = 32 + 200 + 162 = 394 (scalesim: 582).
  expect_overlapped(32, 32, WS, {100, 30, 70}, 394);
  // One fold: nothing to overlap. OS 8x8, M=8, K=16, N=8: F = 1: 0 + 0 + 8 + 8 + 16 - 2 = 30 (= scalesim).
  expect_overlapped(8, 8, OS, {8, 16, 8}, 30);
}

TEST_CASE("overlapped mode: streams shorter than the array (interval R)", "[array][overlapped]") {
  // OS 8x8, M=16, K=3, N=16: F = 2 * 2 = 4, T = 3, max(T,R) = 8 (the shadow accumulators drain R rows):
  // 0 + 3*8 + 8 + 8 + 3 - 2 = 24 + 17 = 41 (scalesim: 4 * 17 = 68).
  expect_overlapped(8, 8, OS, {16, 3, 16}, 41);
  // IS 8x8, M=16, K=16, N=2: F = ceil(16/8) * ceil(16/8) = 4, T = N = 2, P = 8, max(T,R) = 8 (preload):
  // 8 + 3*8 + 8 + 8 + 2 - 2 = 8 + 24 + 16 = 48 (scalesim: 4 * 24 = 96).
  expect_overlapped(8, 8, IS, {16, 16, 2}, 48);
  // WS 6x4, M=3, K=13, N=9: F = ceil(13/6) * ceil(9/4) = 3 * 3 = 9, T = M = 3, P = 6, max(T,R) = 6:
  // 6 + 8*6 + 6 + 4 + 3 - 2 = 6 + 48 + 11 = 65 (scalesim: 9 * 17 = 153).
  expect_overlapped(6, 4, WS, {3, 13, 9}, 65);
  // OS 4x4, M=9, K=1, N=5: F = 3 * 2 = 6, T = 1, max(T,R) = 4: 0 + 5*4 + 4 + 4 + 1 - 2 = 20 + 7 = 27.
  expect_overlapped(4, 4, OS, {9, 1, 5}, 27);
}

TEST_CASE("overlapped mode: 1x1 array", "[array][overlapped]") {
  // OS 1x1, M=2, K=3, N=4: F = 8, T = 3, max(T,R) = 3: 0 + 7*3 + 1 + 1 + 3 - 2 = 21 + 3 = 24
  // (= scalesim's 8 * 3: with R = C = 1 there is no skew to hide).
  expect_overlapped(1, 1, OS, {2, 3, 4}, 24);
  // WS 1x1, M=2, K=3, N=4: F = 12, T = 2, P = 1, max(T,R) = 2: 1 + 11*2 + 1 + 1 + 2 - 2 = 1 + 22 + 2 = 25
  // (scalesim: 12 * 3 = 36; the one-cycle preload hides behind the previous fold's stream).
  expect_overlapped(1, 1, WS, {2, 3, 4}, 25);
  // IS 1x1, M=2, K=3, N=4: F = 6, T = 4, P = 1, max(T,R) = 4: 1 + 5*4 + 1 + 1 + 4 - 2 = 1 + 20 + 4 = 25.
  expect_overlapped(1, 1, IS, {2, 3, 4}, 25);
}
