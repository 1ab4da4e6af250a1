#include "mapper/fused_search.h"

#include <algorithm>
#include <limits>
#include <sstream>

#include "common/errors.h"
#include "compiler/emitter.h"
#include "mapper/program_timer.h"
#include "timing/fused_timing.h"

namespace attnsim {

std::vector<std::int64_t> fused_block_choices(const HwConfig& hw, std::int64_t n, MapperEffort effort) {
  const std::int64_t r = hw.array.rows;
  std::vector<std::int64_t> b;
  for (std::int64_t x = r; x < n; x *= 2) b.push_back(x);
  const std::int64_t low = std::min<std::int64_t>(16, r / 2);
  for (std::int64_t x = r / 2; x >= 1 && x >= low; x /= 2)
    if (x < n) b.push_back(x);
  if (effort == MapperEffort::Thorough)
    for (std::int64_t k = 3; k <= 16 && k * r < n; ++k) b.push_back(k * r);
  b.push_back(n);
  std::sort(b.begin(), b.end());
  b.erase(std::unique(b.begin(), b.end()), b.end());
  return b;
}

std::vector<FusedAttentionPlan> fused_candidates(const HwConfig& hw, const FusedShape& s, std::uint64_t capacity,
                                                 const OpMapping* fixed, MapperEffort effort) {
  std::vector<FusedAttentionPlan> out;
  auto fixed_of = [&](const std::string& t) -> std::int64_t {
    if (!fixed) return 0;
    auto it = fixed->buffers.find(t);
    return it == fixed->buffers.end() ? 0 : it->second;
  };
  auto range = [&](const std::string& t, int hi) {
    const std::int64_t f = fixed_of(t);
    return f ? std::pair<int, int>{int(f), int(f)} : std::pair<int, int>{1, hi};
  };
  std::vector<std::int64_t> blocks = fused_block_choices(hw, s.n, effort);
  if (fixed && fixed->tile_of("m")) blocks = {std::min(fixed->tile_of("m"), s.n)};
  const auto [q0, q1] = range("Q", kMaxBlockBuffers);
  const auto [o0, o1] = range("O", kMaxBlockBuffers);
  const auto [k0, k1] = range("K", 2);
  const auto [v0, v1] = range("V", 2);
  // Slots from the most down: among plans estimated and timed alike, the first has the most slack
  // (the program timer reserves a transfer's SRAM ports at its start, the accelerator as its data
  // moves: a plan that just fits its slots in the timer can wait for them in the accelerator).
  for (std::int64_t m : blocks)
    for (int q = q1; q >= q0; --q)
      for (int o = o1; o >= o0; --o)
        for (int k = k1; k >= k0; --k)
          for (int v = v1; v >= v0; --v) {
            FusedAttentionPlan p;
            p.bq = m, p.key_tile = hw.array.cols;
            p.q_buffers = q, p.o_buffers = o, p.k_buffers = k, p.v_buffers = v;
            p.footprint = fused_footprint(hw, p, s.n, s.dh);
            if (p.footprint <= capacity) out.push_back(p);
          }
  return out;
}

namespace {

// A query block's figures for the estimate: its occupancy and drain, and its Q load or O store.
struct BlockCost {
  double occupancy = 0, drain = 0, xfer = 0;
};

std::vector<BlockCost> block_costs(const HwConfig& hw, std::int64_t bq, const FusedShape& s) {
  const double bw = hw.dram.peak_bytes_per_cycle, latency = double(hw.dram.latency_cycles);
  std::vector<BlockCost> b;
  for (std::int64_t q0 = 0; q0 < s.n; q0 += bq) {
    const std::int64_t rows = std::min(bq, s.n - q0);
    const std::int64_t keys = s.causal ? std::min(s.n, q0 + rows) : s.n;
    const FusedAttentionTiming t = fused_attention_timing(hw.array, hw.datapath, {rows, keys, s.dh});
    b.push_back({double(t.occupancy), double(t.drain), double(rows * s.dh * hw.array.operand_bytes) / bw + latency});
  }
  return b;
}

double estimate(const HwConfig& hw, const FusedAttentionPlan& p, const FusedShape& s, const std::vector<BlockCost>& blocks) {
  const double bw = hw.dram.peak_bytes_per_cycle, latency = double(hw.dram.latency_cycles);
  const double eb = double(hw.array.operand_bytes);
  double array = 0, drain = 0;
  for (const BlockCost& b : blocks) {
    // A block's Q slot is loaded again once its instruction has drained, its O slot once its O is stored.
    const double busy = b.occupancy + b.drain + b.xfer;
    array += std::max({b.occupancy, busy / p.q_buffers, busy / p.o_buffers});
    drain = b.drain;
  }
  const double head_bytes = double(s.n * s.dh) * eb;
  const double dram = 4 * head_bytes / bw;
  // One slot of K (or V): the next head's load waits for this head's last block to drain.
  const double exposed = (p.k_buffers == 1 || p.v_buffers == 1 ? drain + latency : 0) +
                         (p.k_buffers == 1 ? head_bytes / bw : 0) + (p.v_buffers == 1 ? head_bytes / bw : 0);
  const double per_head = std::max(array, dram) + exposed;
  const double first = (2 * head_bytes + double(std::min(p.bq, s.n) * s.dh) * eb) / bw + latency;
  return first + double(s.instances) * per_head + drain;
}

}  // namespace

double fused_estimate(const HwConfig& hw, const FusedAttentionPlan& p, const FusedShape& s) {
  return estimate(hw, p, s, block_costs(hw, p.bq, s));
}

namespace {

// One head after another through the emitter, on DRAM tensors laid out as the model's (rows strided).
void emit_heads(const HwConfig& hw, const FusedAttentionPlan& p, const FusedShape& s, ProgramSink& sink,
                std::int64_t heads) {
  std::vector<TensorInfo> tensors;
  std::uint64_t next = 0;
  for (const char* name : {"Q", "K", "V", "O"}) {
    TensorInfo t{name, next, std::uint64_t(heads * s.n), std::uint64_t(2 * s.dh), hw.array.operand_bytes};
    next = align_up(next + t.bytes(), 4096);
    tensors.push_back(t);
  }
  Emitter em(sink, tensors);
  FusedAttentionEmitter e(hw, p, s.n, s.dh, 0);
  for (std::int64_t h = 0; h < heads; ++h) {
    auto block = [&](int t) { return DramBlock{std::uint16_t(t), h * s.n, 0, s.n, s.dh}; };
    e.emit_head(em, {block(0), block(1), block(2), block(3)}, s.causal, 0.125f);
  }
}

std::string plan_key(const FusedAttentionPlan& p, const FusedShape& s) {
  std::ostringstream os;
  os << "fused n" << s.n << " d" << s.dh << " c" << s.causal << " i" << s.instances << " m" << p.bq << " q"
     << p.q_buffers << " o" << p.o_buffers << " k" << p.k_buffers << " v" << p.v_buffers;
  return os.str();
}

void check_fixed(const HwConfig& hw, const FusedShape& s, const ModelMapping& file, const std::string& name,
                 const OpMapping& f) {
  std::vector<std::string> problems;
  auto problem = [&](const std::string& field, const std::string& rule) {
    problems.push_back(file.where(name, field) + ": " + rule);
  };
  if (f.kind != "fused") {
    problem("kind", name + " is fused attention here (the fused variant): kind must be \"fused\", got \"" + f.kind + "\"");
  } else {
    if (f.tile_of("m") > s.n)
      problem("tile/m", "query rows per fused instruction: at most the sequence length " + std::to_string(s.n) +
                            ", got " + std::to_string(f.tile_of("m")));
    if (f.tile_of("p") && f.tile_of("p") != hw.array.cols)
      problem("tile/p", "the key tile is the array's cols (" + std::to_string(hw.array.cols) +
                            ": keys on the columns, the in-array binding), got " + std::to_string(f.tile_of("p")));
    for (const auto& [step, unit] : f.units) {
      const char* want = step == "P" ? "pe" : "array";
      if (unit != want)
        problem("units/" + step,
                step == "P" ? "the fused schedule runs the softmax in the PEs and row units of /datapath: \"pe\", got \"" +
                                  unit + "\""
                            : step + " is a contraction of the fused instruction, on the array: \"array\", got \"" + unit +
                                  "\"");
    }
    if (f.has_resident) {
      std::vector<std::string> r = f.resident;
      std::sort(r.begin(), r.end());
      if (r != std::vector<std::string>{"K", "V"})
        problem("resident", "the fused schedule keeps a head's K and V whole on chip (one instruction reads every key "
                            "its block sees): must be [\"K\", \"V\"]");
    }
    if (f.causal >= 0 && (f.causal == 1) != s.causal)
      problem("causal", std::string("the layer is ") + (s.causal ? "causal: must be true" : "not causal: must be false"));
  }
  if (!problems.empty()) {
    std::string msg;
    for (const std::string& p : problems) msg += (msg.empty() ? "" : "\n") + p;
    throw UserError(msg);
  }
}

}  // namespace

double time_fused(const HwConfig& hw, const FusedAttentionPlan& p, const FusedShape& s) {
  return time_extrapolated(hw, s.instances, [&](ProgramSink& sink, std::int64_t r) { emit_heads(hw, p, s, sink, r); });
}

FusedPick search_fused(const HwConfig& hw, const FusedShape& s, std::uint64_t capacity, const MapperOptions& opt,
                       const std::string& name) {
  require_fused_datapath(hw, name);
  const OpMapping* fixed = opt.fixed ? opt.fixed->find(name) : nullptr;
  if (fixed) check_fixed(hw, s, *opt.fixed, name, *fixed);
  std::vector<FusedAttentionPlan> plans = fused_candidates(hw, s, capacity, fixed, opt.effort);
  if (plans.empty()) {
    if (!fixed) (void)plan_fused_attention(hw, s.n, s.dh, capacity, name);  // says why in its terms
    const std::vector<FusedAttentionPlan> any =
        fused_candidates(hw, s, std::numeric_limits<std::uint64_t>::max(), fixed, opt.effort);
    std::uint64_t least = std::numeric_limits<std::uint64_t>::max();
    for (const FusedAttentionPlan& p : any) least = std::min(least, p.footprint);
    throw UserError((fixed ? opt.fixed->where(name, "") + ": the fixed choices leave" : hw.source + ": /sram: " + name +
                                                                                          " has") +
                    " no fused schedule within the SRAM's " + std::to_string(capacity) + " B: the smallest needs " +
                    std::to_string(least) + " B (Q and O blocks, K and V of one head)");
  }
  // The thorough effort's extra block sizes are its wider mapspace (search.h: default's pick is timed
  // within it, and the thorough pick is never slower).
  const std::vector<std::int64_t> narrow = fused_block_choices(hw, s.n, MapperEffort::Default);
  std::vector<MapCandidate> c(plans.size());
  std::vector<BlockCost> blocks;
  for (std::size_t i = 0; i < plans.size(); ++i) {
    const FusedAttentionPlan& p = plans[i];
    if (i == 0 || p.bq != plans[i - 1].bq) blocks = block_costs(hw, p.bq, s);
    c[i].wide = std::find(narrow.begin(), narrow.end(), p.bq) == narrow.end() && !(fixed && fixed->tile_of("m"));
    c[i].analytic_cycles = estimate(hw, p, s, blocks);
    c[i].dram_bytes = std::uint64_t(4 * s.n * s.dh * hw.array.operand_bytes);
    c[i].sram_bytes = p.footprint;
    c[i].key = plan_key(p, s);
    c[i].time = [&hw, p, s] { return time_fused(hw, p, s); };
  }
  std::size_t best = pick_mapping(c, capacity, opt);
  // The schedule before the mapper, timed too: the pick is never slower than it as timed.
  if (!fixed && opt.effort != MapperEffort::Fast) {
    try {
      const FusedAttentionPlan seed = plan_fused_attention(hw, s.n, s.dh, capacity, name);
      for (std::size_t i = 0; i < plans.size(); ++i) {
        const FusedAttentionPlan& p = plans[i];
        if (p.bq != seed.bq || p.q_buffers != seed.q_buffers || p.o_buffers != seed.o_buffers ||
            p.k_buffers != seed.k_buffers || p.v_buffers != seed.v_buffers)
          continue;
        if (c[i].timed_cycles < 0) {
          if (opt.cache) {
            auto it = opt.cache->timed_cycles.find(c[i].key);
            if (it == opt.cache->timed_cycles.end()) it = opt.cache->timed_cycles.emplace(c[i].key, c[i].time()).first;
            c[i].timed_cycles = it->second;
          } else {
            c[i].timed_cycles = c[i].time();
          }
        }
        // Another plan replaces it only when the timer finds it faster by more than 0.5 %: within that
        // the timer does not rank plans that differ in slots (see above).
        if (c[best].timed_cycles < 0 || c[i].timed_cycles <= c[best].timed_cycles * 1.005) best = i;
        break;
      }
    } catch (const UserError&) {
      // It does not fit this budget: nothing to compare with.
    }
  }
  FusedPick pick;
  pick.plan = plans[best];
  pick.cycles = c[best].timed_cycles >= 0 ? c[best].timed_cycles : c[best].analytic_cycles;
  pick.candidates = plans.size();
  return pick;
}

OpMapping fused_op_mapping(const FusedAttentionPlan& p, bool causal) {
  OpMapping m;
  m.kind = "fused";
  m.tile = {{"m", p.bq}, {"p", p.key_tile}};
  m.units = {{"S", "array"}, {"P", "pe"}, {"O", "array"}};
  m.resident = {"K", "V"};
  m.has_resident = true;
  m.buffers = {{"Q", p.q_buffers}, {"O", p.o_buffers}, {"K", p.k_buffers}, {"V", p.v_buffers}};
  m.causal = causal ? 1 : 0;
  return m;
}

}  // namespace attnsim
