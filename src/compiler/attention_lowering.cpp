#include "compiler/attention_lowering.h"

#include <algorithm>
#include <sstream>
#include <tuple>

#include "common/errors.h"
#include "timing/array_timing.h"
#include "timing/unit_timing.h"

namespace attnsim {

namespace {

// Tile-size candidates for an attention dimension: multiples of the array side g (powers of two
// times g), and below g halvings down to 16 for SRAMs too small for a full-array tile.
std::vector<std::int64_t> attention_tile_candidates(const HwConfig& hw, std::int64_t limit) {
  const std::int64_t g = std::max(hw.array.rows, hw.array.cols);
  std::vector<std::int64_t> v;
  for (std::int64_t t = g; t <= std::max<std::int64_t>(limit, g); t *= 2) v.push_back(t);
  for (std::int64_t t = g / 2; t >= 16; t /= 2) v.push_back(t);
  std::sort(v.begin(), v.end());
  return v;
}

std::int64_t array_cycles(const HwConfig& hw, std::int64_t m, std::int64_t k, std::int64_t n) {
  return gemm_cycles(hw.array.rows, hw.array.cols, hw.array.dataflow, hw.array.timing, {m, k, n});
}

std::int64_t softmax_cycles_of(const HwConfig& hw, SmOp op, std::int64_t rows, std::int64_t cols) {
  Instr in;
  in.op = Opcode::Softmax;
  in.sub = std::uint8_t(op);
  const SramTile t = tile_at(0, rows, cols, 4);
  in.a = t, in.c = t, in.b = tile_at(0, rows, kFlashStatsCols, kFlashStatsBytes);
  return softmax_op_cycles(hw, in);
}

// A plan's analytic estimate: cycles per head, then DRAM bytes per head (the tie-break).
struct Estimate {
  double cycles = 0;
  std::uint64_t dram_bytes = 0;
};

// The index of the best estimate: fewest cycles, then fewest bytes, then the earliest.
std::size_t best_estimate(const std::vector<Estimate>& e) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < e.size(); ++i)
    if (std::tie(e[i].cycles, e[i].dram_bytes) < std::tie(e[best].cycles, e[best].dram_bytes)) best = i;
  return best;
}

// The user's fixed choices for an attention op: kind checked, tile factors at most seq_len.
const OpMapping* fixed_attention(const ModelMapping* fixed, const std::string& what, const char* kind, std::int64_t n,
                                 const char* alt = nullptr) {
  const OpMapping* m = fixed ? fixed->find(what) : nullptr;
  if (!m) return nullptr;
  std::string problems;
  auto problem = [&](const std::string& field, const std::string& rule) {
    problems += (problems.empty() ? "" : "\n") + fixed->where(what, field) + ": " + rule;
  };
  if (m->kind != kind && !(alt && m->kind == alt))
    problem("kind", what + " is " + kind + " attention here: kind must be \"" + kind + "\"" +
                        (alt ? std::string(" or \"") + alt + "\"" : std::string()) + ", got \"" + m->kind + "\"");
  for (const auto& [rank, v] : m->tile)
    if (v > n) problem("tile/" + rank, "must be at most the sequence length " + std::to_string(n) + ", got " + std::to_string(v));
  if (!problems.empty()) throw UserError(problems);
  return m;
}

// Flash plans within capacity and their estimates; f: the user's fixed tiles.
void flash_candidates(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh, std::uint64_t capacity,
                      const OpMapping* f, std::vector<FlashPlan>* plans, std::vector<Estimate>* est) {
  // Every (bq, bk) pair of tile sizes that fits (multiples of the array side, halvings below it,
  // and N itself), clamped to N. The analytical estimate per head:
  //   step   = max(array: S = Q K_j^T and P V_j, softmax unit: the online step and the rescale,
  //                DRAM: K_j and V_j, 2 bk d eb / bandwidth)   (the three units overlap)
  //   cycles = ceil(N / bq) (ceil(N / bk) step + normalize) + exposed first Q and last O transfers
  // and its DRAM traffic N d eb (2 + 2 ceil(N / bq)). The choice depends on N: at large N, K and V
  // re-reads make larger query tiles pay.
  const std::uint64_t ob = hw.array.operand_bytes;
  const double bw = hw.dram.peak_bytes_per_cycle;
  const double latency = hw.dram.model == DramModel::Ideal ? double(hw.dram.latency_cycles) : 50.0;
  std::vector<std::int64_t> cands;
  for (std::int64_t t : attention_tile_candidates(hw, std::int64_t(1) << 20)) cands.push_back(std::min(t, seq_len));
  std::sort(cands.begin(), cands.end());
  cands.erase(std::unique(cands.begin(), cands.end()), cands.end());
  const std::vector<std::int64_t> bqs = f && f->tile_of("m") ? std::vector<std::int64_t>{f->tile_of("m")} : cands;
  const std::vector<std::int64_t> bks = f && f->tile_of("p") ? std::vector<std::int64_t>{f->tile_of("p")} : cands;
  for (std::int64_t bq : bqs)
    for (std::int64_t bk : bks) {
      const std::uint64_t fp = flash_footprint(hw, bq, bk, dh);
      if (fp > capacity) continue;
      const double array = double(array_cycles(hw, bq, dh, bk) + array_cycles(hw, bq, bk, dh));
      const double sm = double(softmax_cycles_of(hw, SmOp::OnlineStep, bq, bk) +
                               softmax_cycles_of(hw, SmOp::Rescale, bq, dh));
      const double mem = double(2 * bk * dh * ob) / bw;
      const std::int64_t nq = ceil_div(seq_len, bq), nk = ceil_div(seq_len, bk);
      const double per_q = double(nk) * std::max({array, sm, mem}) + double(softmax_cycles_of(hw, SmOp::Normalize, bq, dh));
      const double edges = 2 * (double(bq * dh * ob) / bw + latency);
      plans->push_back({bq, bk, fp});
      est->push_back({double(nq) * per_q + edges,
                      std::uint64_t(seq_len) * std::uint64_t(dh) * ob * std::uint64_t(2 + 2 * nq)});
    }
}

// The message when not even the smallest flash tiles fit.
[[noreturn]] void throw_flash_does_not_fit(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh,
                                           std::uint64_t capacity, const std::string& what, const ModelMapping* fixed,
                                           const OpMapping* f) {
  const std::int64_t t = std::min(attention_tile_candidates(hw, std::int64_t(1) << 20).front(), seq_len);
  if (f && f->tile_of("m") && f->tile_of("p"))
    throw UserError(fixed->where(what, "tile") + ": flash tiles of " + std::to_string(f->tile_of("m")) +
                    " query and " + std::to_string(f->tile_of("p")) + " key rows need " +
                    std::to_string(flash_footprint(hw, f->tile_of("m"), f->tile_of("p"), dh)) +
                    " B of SRAM (double-buffered), more than the " + std::to_string(capacity) + " B available");
  std::ostringstream msg;
  if (f) msg << fixed->where(what, "tile") << ": the fixed tiles do not fit; ";
  msg << hw.source << ": /sram: " << what << ": flash attention's smallest tiles (Q " << t << "x" << dh << ", K and V "
      << t << "x" << dh << ", scores " << t << "x" << t << ", double-buffered) need "
      << flash_footprint(hw, t, t, dh) << " B, more than the " << capacity << " B of SRAM available";
  throw UserError(msg.str());
}

// Row-fused plans within capacity and their estimates: query blocks of br rows with their whole
// score rows on chip, br a multiple of the array side (or N), double-buffered scores when they fit.
// Estimate per head: ceil(N / br) max(array: S and P V of a block, softmax unit: its rows, DRAM: K
// and V once per block) (the sum of the compute units with one score buffer) + exposed first Q and
// last O transfers.
void row_fused_candidates(const HwConfig& hw, std::int64_t n, std::int64_t dh, std::uint64_t capacity,
                          const OpMapping* f, std::vector<RowFusedPlan>* plans, std::vector<Estimate>* est) {
  const std::int64_t g = std::max(hw.array.rows, hw.array.cols), bk = std::min(n, g);
  std::vector<std::int64_t> brs;
  if (f && f->tile_of("m"))
    brs.push_back(f->tile_of("m"));
  else
    for (std::int64_t t : attention_tile_candidates(hw, n)) brs.push_back(std::min(t, n));
  brs.push_back(n);
  std::sort(brs.begin(), brs.end());
  brs.erase(std::unique(brs.begin(), brs.end()), brs.end());
  const std::uint64_t ob = hw.array.operand_bytes;
  const double bw = hw.dram.peak_bytes_per_cycle;
  const double latency = hw.dram.model == DramModel::Ideal ? double(hw.dram.latency_cycles) : 50.0;
  for (std::int64_t br : brs) {
    RowFusedPlan p;
    p.br = br, p.bk = bk;
    p.score_buffers = row_fused_footprint(hw, br, bk, n, dh, 2) <= capacity ? 2 : 1;
    p.footprint = row_fused_footprint(hw, br, bk, n, dh, p.score_buffers);
    if (p.footprint > capacity) continue;
    // Dominated once re-reading K and V moves more than spilling the scores (plan_row_fused).
    if (row_fused_bytes_per_head(hw, n, dh, br) > spilled_bytes_per_head(hw, n, dh)) continue;
    const std::int64_t nb = ceil_div(n, br), nk = ceil_div(n, bk);
    const double array = double(nk * (array_cycles(hw, br, dh, bk) + array_cycles(hw, br, bk, dh)));
    const double sm = double(softmax_cycles_of(hw, SmOp::Rows, br, n));
    const double mem = double(2 * n * dh * ob) / bw;
    plans->push_back(p);
    est->push_back({double(nb) * (p.score_buffers == 2 ? std::max({array, sm, mem}) : array + sm) +
                        2 * (double(br * dh * ob) / bw + latency),
                    row_fused_bytes_per_head(hw, n, dh, br)});
  }
}

}  // namespace

std::uint64_t flash_footprint(const HwConfig& hw, std::int64_t bq, std::int64_t bk, std::int64_t dh) {
  const std::uint64_t ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
  auto buf = [](std::uint64_t b) { return 2 * align_up(b, 64); };
  return buf(bq * dh * ob) + buf(bk * dh * ob) * 2 + buf(bq * bk * acc) + buf(bq * bk * ob) + buf(bq * dh * acc) +
         buf(bq * dh * ob) + buf(bq * kFlashStatsCols * kFlashStatsBytes);
}

std::uint64_t row_fused_footprint(const HwConfig& hw, std::int64_t br, std::int64_t bk, std::int64_t n,
                                  std::int64_t dh, int score_buffers) {
  const std::uint64_t ob = hw.array.operand_bytes, acc = hw.array.accumulator_bytes;
  auto buf = [](std::uint64_t b) { return align_up(b, 64); };
  return 2 * buf(br * dh * ob) + 4 * buf(bk * dh * ob) + std::uint64_t(score_buffers) * (buf(br * n * acc) + buf(br * n * ob)) +
         2 * buf(br * dh * acc);
}

FlashPlan plan_flash(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh, std::uint64_t capacity,
                     const std::string& what, const ModelMapping* fixed) {
  const OpMapping* f = fixed_attention(fixed, what, "flash", seq_len);
  std::vector<FlashPlan> plans;
  std::vector<Estimate> est;
  flash_candidates(hw, seq_len, dh, capacity, f, &plans, &est);
  if (plans.empty()) throw_flash_does_not_fit(hw, seq_len, dh, capacity, what, fixed, f);
  return plans[best_estimate(est)];
}

std::vector<FlashPlan> flash_plan_candidates(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh,
                                             std::uint64_t capacity) {
  std::vector<FlashPlan> plans;
  std::vector<Estimate> est;
  flash_candidates(hw, seq_len, dh, capacity, nullptr, &plans, &est);
  return plans;
}

std::vector<RowFusedPlan> row_fused_plan_candidates(const HwConfig& hw, std::int64_t seq_len, std::int64_t dh,
                                                    std::uint64_t capacity) {
  std::vector<RowFusedPlan> plans;
  std::vector<Estimate> est;
  row_fused_candidates(hw, seq_len, dh, capacity, nullptr, &plans, &est);
  return plans;
}

FlashSchedule choose_flash_schedule(const HwConfig& hw, std::int64_t n, std::int64_t dh, std::uint64_t capacity,
                                    const std::string& what, const ModelMapping* fixed) {
  const OpMapping* f = fixed_attention(fixed, what, "flash", n, "row_fused");
  std::vector<FlashPlan> plans;
  std::vector<Estimate> est;
  if (!f || f->kind == "flash") flash_candidates(hw, n, dh, capacity, f, &plans, &est);
  const std::size_t n_flash = plans.size();
  std::vector<RowFusedPlan> rplans;
  if (!f || f->kind == "row_fused") row_fused_candidates(hw, n, dh, capacity, f, &rplans, &est);
  if (est.empty()) {
    if (f && f->kind == "row_fused")
      throw UserError(fixed->where(what, "tile/m") + ": a row-fused query block of " +
                      std::to_string(f->tile_of("m")) + " rows with its whole score rows does not fit in the " +
                      std::to_string(capacity) + " B of SRAM, or re-reads K and V more than spilling the scores would");
    throw_flash_does_not_fit(hw, n, dh, capacity, what, fixed, f);
  }
  const std::size_t pick = best_estimate(est);
  FlashSchedule s;
  if (pick < n_flash) {
    s.flash = plans[pick];
  } else {
    s.row_fused = true;
    s.rows = rplans[pick - n_flash];
  }
  return s;
}

RowFusedPlan plan_row_fused(const HwConfig& hw, std::int64_t n, std::int64_t dh, std::uint64_t capacity,
                            const std::string& what, bool whole_only, const ModelMapping* fixed) {
  if (const OpMapping* f = fixed_attention(fixed, what, "row_fused", n); f && f->tile_of("m")) {
    const std::int64_t g = std::max(hw.array.rows, hw.array.cols);
    RowFusedPlan p;
    p.bk = std::min(n, g);
    p.br = f->tile_of("m");
    p.score_buffers = row_fused_footprint(hw, p.br, p.bk, n, dh, 2) <= capacity ? 2 : 1;
    p.footprint = row_fused_footprint(hw, p.br, p.bk, n, dh, p.score_buffers);
    if (p.footprint > capacity)
      throw UserError(fixed->where(what, "tile/m") + ": a row-fused query block of " + std::to_string(p.br) +
                      " rows with its full score rows needs " + std::to_string(p.footprint) + " B of SRAM, more than the " +
                      std::to_string(capacity) + " B available");
    return p;
  }
  // K/V tiles as wide as the array's column side (the GEMMs' streamed/folded N); the query block
  // as large as fits (K and V are re-read once per block), double-buffered scores when a block of
  // at least one array side still fits that way, so that the next block's S = Q K^T overlaps.
  const std::int64_t g = std::max(hw.array.rows, hw.array.cols);
  const std::int64_t bk = std::min(n, g);
  RowFusedPlan p;
  p.bk = bk;
  auto largest = [&](int nb) -> std::int64_t {
    if (whole_only) return row_fused_footprint(hw, n, bk, n, dh, nb) <= capacity ? n : 0;
    std::int64_t lo = 0, hi = n;  // the footprint grows with br: bisect for the largest that fits
    while (lo < hi) {
      const std::int64_t mid = (lo + hi + 1) / 2;
      if (row_fused_footprint(hw, mid, bk, n, dh, nb) <= capacity)
        lo = mid;
      else
        hi = mid - 1;
    }
    // Whole multiples of the array's row side keep the folds full.
    if (lo > g && lo < n) lo = lo / g * g;
    return lo;
  };
  std::int64_t br = largest(2);
  int nb = 2;
  if (br < std::min(n, g) || whole_only) {
    const std::int64_t single = largest(1);
    if (single > br) br = single, nb = 1;
  }
  if (br == 0) {
    if (whole_only) return p;
    std::ostringstream msg;
    msg << hw.source << ": /sram: " << what << ": row-fused attention keeps a block of query rows' full scores on chip; "
        << "one row (S 1x" << n << " accumulators and P 1x" << n << ", with Q, K, V, O tiles) needs "
        << row_fused_footprint(hw, 1, bk, n, dh, 1) << " B, more than the " << capacity << " B of SRAM available";
    throw UserError(msg.str());
  }
  p.br = br;
  p.score_buffers = nb;
  p.footprint = row_fused_footprint(hw, br, bk, n, dh, nb);
  if (!whole_only) {
    // Row-fused exists to keep the scores off DRAM. Once its query block is so small that
    // re-reading K and V for every block moves more bytes than spilling the scores would (the
    // unfused schedule), it is dominated, and simulating it costs N / br passes over K and V:
    // refuse and point at the schedules that do better.
    const std::uint64_t blocked = row_fused_bytes_per_head(hw, n, dh, br);
    const std::uint64_t spilled = spilled_bytes_per_head(hw, n, dh);
    if (blocked > spilled) {
      std::ostringstream msg;
      msg << hw.source << ": /sram: " << what << ": row-fused attention at N = " << n << " fits query blocks of only "
          << br << (br == 1 ? " row (" : " rows (") << p.footprint << " of " << capacity << " B): re-reading K and V for each of the "
          << (n + br - 1) / br << " blocks moves " << blocked << " B per head, more than the " << spilled
          << " B of spilling the scores (unfused); use flash (constant SRAM), unfused, or a larger SRAM";
      throw UserError(msg.str());
    }
  }
  return p;
}

std::uint64_t row_fused_bytes_per_head(const HwConfig& hw, std::int64_t n, std::int64_t dh, std::int64_t br) {
  const std::uint64_t nd = std::uint64_t(n) * std::uint64_t(dh);
  return hw.array.operand_bytes * nd * (2 + 2 * std::uint64_t((n + br - 1) / br));
}

std::uint64_t spilled_bytes_per_head(const HwConfig& hw, std::int64_t n, std::int64_t dh) {
  const std::uint64_t nn = std::uint64_t(n) * std::uint64_t(n), nd = std::uint64_t(n) * std::uint64_t(dh);
  return 2 * (hw.array.accumulator_bytes + hw.array.operand_bytes) * nn + 4 * hw.array.operand_bytes * nd;
}

}  // namespace attnsim
