#include "mapper/program_timer.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <queue>

#include "common/errors.h"
#include "timing/array_timing.h"
#include "timing/fused_timing.h"
#include "timing/sram_ports.h"
#include "timing/sram_traffic.h"
#include "timing/unit_timing.h"

namespace attnsim {

namespace {

enum Unit : int { kArray, kVector, kSoftmax, kLoad, kStore, kUnits };

// One DMA side: a pool of workers, each carrying one segment at a time.
struct DmaSide {
  std::priority_queue<double, std::vector<double>, std::greater<double>> worker_free;
};

}  // namespace

namespace {

std::vector<Instr>& thread_buffer() {
  thread_local std::vector<Instr> buffer;
  return buffer;
}

thread_local bool timer_active = false;

}  // namespace

ProgramTimer::ProgramTimer(const HwConfig& hw) : hw_(hw), instrs_(thread_buffer()) {
  ATTNSIM_ASSERT(!timer_active, "one program timer at a time per thread");
  timer_active = true;
  instrs_.clear();
}

ProgramTimer::~ProgramTimer() {
  instrs_.clear();
  timer_active = false;
}

std::uint32_t ProgramTimer::add(Instr in) {
  in.id = std::uint32_t(instrs_.size());
  instrs_.push_back(in);
  return in.id;
}

TimedProgram ProgramTimer::finish(std::vector<std::int64_t>* done_cycles) {
  TimedProgram out;
  out.instrs = instrs_.size();
  const std::size_t n = instrs_.size();
  if (n == 0) return out;

  // Per-unit queues in program order; a barrier is in every queue.
  // Per-unit queues and completion times: per-thread scratch, reused across timings.
  thread_local std::vector<std::uint32_t> queue[kUnits];
  thread_local std::vector<double> done;
  for (auto& q : queue) q.clear();
  const bool softmax_unit = hw_.softmax.present;
  for (const Instr& in : instrs_) {
    switch (in.op) {
      case Opcode::Gemm:
        queue[kArray].push_back(in.id);
        break;
      case Opcode::Vector:
        queue[kVector].push_back(in.id);
        break;
      case Opcode::Softmax:
        queue[softmax_unit ? kSoftmax : kVector].push_back(in.id);
        break;
      case Opcode::Load:
        queue[kLoad].push_back(in.id);
        break;
      case Opcode::Store:
        queue[kStore].push_back(in.id);
        break;
      case Opcode::Barrier:
        for (auto& q : queue) q.push_back(in.id);
        break;
    }
  }

  constexpr double kUnknown = -1;
  done.assign(n, kUnknown);
  std::size_t head[kUnits] = {};
  double unit_free[kUnits] = {};
  double latest_done = 0;  // the latest completion so far (what a barrier waits for)

  SramPorts ports(hw_.sram, hw_.accumulators);
  const double bw = hw_.dram.peak_bytes_per_cycle;
  const double latency =
      hw_.dram.model == DramModel::Ideal ? double(hw_.dram.latency_cycles) : double(kCycleDramLatency);
  double bus_free = 0;
  double write_free = 0;  // cycle-level DRAM: when the stores' bytes so far would be written at the peak
  DmaSide side[2];
  for (DmaSide& s : side)
    for (int w = 0; w < hw_.dma.outstanding; ++w) s.worker_free.push(0);
  const std::uint64_t seg_max = std::uint64_t(hw_.dma.segment_bytes);
  const bool ideal = hw_.dram.model == DramModel::Ideal;
  const double queue_bytes = hw_.dram.write_queue_bytes;
  // The cycle-level DRAM's rows: per channel and bank the row left open, per channel and rank when it can
  // activate the next row (a rank sustains one activation per activate_cycles: tFAW / 4 or tRRD_S).
  const DramConfig::Rows& rows = hw_.dram.rows;
  const bool row_model = !ideal && rows.activate_cycles > 0;
  thread_local std::vector<std::int64_t> open_row;
  thread_local std::vector<double> activate_free;
  int block_shift = 0, channel_shift = 0;
  const std::uint64_t channel_mask = std::uint64_t(std::max(rows.channels, 1) - 1);  // channels: a power of two
  if (row_model) {
    open_row.assign(std::size_t(rows.channels) * std::size_t(rows.ranks * rows.banks_per_rank), -1);
    activate_free.assign(std::size_t(rows.channels) * std::size_t(rows.ranks), 0.0);
    block_shift = std::min(rows.mapping.block_shift(), 62);  // 64 when no field but channel and column has bits
    channel_shift = rows.mapping.channel_shift();
  }
  // When the rows a transfer of `bytes` at DRAM address `addr`, issued at `t`, finds closed are open: its
  // bytes split at the blocks within which only channel and column change; a block's part touches
  // consecutive channels (the channel field's granules), each needing its bank's row open.
  // The block of the last call and whether every channel's row of it is open since (then a transfer inside
  // it finds them open: the common case of a contiguous tile's segments), and its decoded bank and row.
  std::uint64_t last_block = ~std::uint64_t(0);
  bool last_all_open = false;
  DramAddress loc;
  int bank = 0;
  auto rows_open = [&](std::uint64_t addr, std::uint64_t bytes, double t) {
    double ready = t;
    const std::uint64_t end = addr + bytes;
    for (std::uint64_t x = addr; x < end;) {
      const std::uint64_t block = x >> block_shift;
      const std::uint64_t block_end = std::min(end, (block + 1) << block_shift);
      if (block == last_block && last_all_open) {
        x = block_end;
        continue;
      }
      if (block != last_block) {
        loc = rows.mapping.decode(x);
        bank = (loc.rank * rows.bank_groups + loc.bank_group) * rows.banks_per_group + loc.bank;
        last_block = block;
        last_all_open = false;
      }
      // Channels in consecutive granules from x's (the channel field is contiguous); one when the channel
      // changes only between blocks.
      const bool inside = channel_shift < block_shift;
      const std::uint64_t granules = inside ? ((block_end - 1) >> channel_shift) - (x >> channel_shift) + 1 : 1;
      const int touched = int(std::min<std::uint64_t>(std::uint64_t(rows.channels), granules));
      const int first = inside ? int((x >> channel_shift) & channel_mask) : loc.channel;
      last_all_open = touched == rows.channels;
      for (int i = 0; i < touched; ++i) {
        const int ch = (first + i) & channel_mask;
        std::int64_t& open = open_row[std::size_t(ch) * std::size_t(rows.ranks * rows.banks_per_rank) + std::size_t(bank)];
        if (open == loc.row) continue;
        open = loc.row;
        double& a = activate_free[std::size_t(ch * rows.ranks + loc.rank)];
        a = std::max(a, t) + rows.activate_cycles;
        ready = std::max(ready, a);
      }
      x = block_end;
    }
    return ready;
  };

  // Chained GEMMs: the array's pipeline, its feeders' last transfer, its in-order completions.
  const bool chained = hw_.array.gemm_chaining && hw_.array.timing == TimingMode::Overlapped;
  ArrayChain chain(hw_.array);
  std::int64_t array_ports_done = 0, array_busy_until = 0;
  double array_completed = 0;
  double fused_last_done = 0;  // the last fused attention instruction's completion (its O has left)
  struct InFlight {
    SramTile a, b, c;
    double done = -1;
  };
  std::array<InFlight, 8> recent{};
  std::size_t recent_next = 0;
  auto overlaps = [](const SramTile& x, const SramTile& y) {
    if (x.rows == 0 || y.rows == 0) return false;
    return x.addr < y.addr + y.extent() && y.addr < x.addr + x.extent();
  };
  // When a chained GEMM whose dependencies are met at `at` may begin: after the previous GEMM's SRAM
  // transfers, and after any in-flight GEMM whose result it reads or whose operands it overwrites
  // (the accelerator's SRAM hazard check; the last few GEMMs suffice, earlier ones have completed).
  auto chained_ready = [&](const Instr& in, std::int64_t at) {
    std::int64_t ready = std::max(at, array_ports_done);
    for (const InFlight& f : recent)
      if (f.done > double(ready) &&
          (overlaps(f.c, in.a) || overlaps(f.c, in.b) || overlaps(in.c, f.a) || overlaps(in.c, f.b)))
        ready = std::int64_t(std::ceil(f.done));
    return ready;
  };
  double dep_start[kUnits] = {};

  // array_side: the array's own ports on accumulator storage (its partial sums), as the accelerator.
  auto reserve = [&](const SramTile& t, std::uint64_t bytes, bool write, std::int64_t at,
                     bool array_side = false) -> std::int64_t {
    if (bytes == 0 || t.rows == 0) return at;
    return ports.reserve(t.region(), bytes, write, at, array_side);
  };

  for (;;) {
    // The unit whose next instruction can start earliest.
    int best = -1;
    double best_start = std::numeric_limits<double>::infinity();
    bool any = false;
    std::uint32_t barrier_id = kNoInstr;
    for (int u = 0; u < kUnits; ++u) {
      if (head[u] >= queue[u].size()) continue;
      any = true;
      const Instr& in = instrs_[queue[u][head[u]]];
      if (in.op == Opcode::Barrier) {
        barrier_id = in.id;
        continue;
      }
      double start = unit_free[u];
      bool ready = true;
      for (int i = 0; i < in.num_deps && ready; ++i) {
        const double d = done[in.deps[i]];
        if (d == kUnknown)
          ready = false;
        else
          start = std::max(start, d);
      }
      if (!ready) continue;
      dep_start[u] = start;
      // A chained GEMM starts when the array's pipeline lets it (ArrayChain), which can be later than
      // its dependencies: that is its place in time, where its SRAM transfers are reserved.
      if (chained && in.op == Opcode::Gemm && !in.is_fused_attention()) {
        ArrayChain probe = chain;
        start = double(probe.next({in.m, in.k, in.n}, chained_ready(in, std::int64_t(std::ceil(start)))).start);
      }
      // Ties go to the unit that comes first in kArray .. kStore, the order in which the accelerator's
      // threads run within one instant (a load ready with a store takes the DRAM bus first).
      if (start < best_start) best = u, best_start = start;
    }
    if (!any) break;
    if (best < 0) {
      // Every queue is empty or at a barrier: all of them at the same one, or the program is broken.
      bool all_at_barrier = barrier_id != kNoInstr;
      for (int u = 0; u < kUnits && all_at_barrier; ++u)
        all_at_barrier = head[u] < queue[u].size() && queue[u][head[u]] == barrier_id;
      ATTNSIM_ASSERT(all_at_barrier, "program timer: no instruction can start (a dependency on a later one?)");
      const double t = std::ceil(latest_done);
      for (int u = 0; u < kUnits; ++u) unit_free[u] = t, ++head[u];
      done[barrier_id] = t;
      continue;
    }

    const Instr& in = instrs_[queue[best][head[best]]];
    ++head[best];
    // Instructions start on a clock edge (the accelerator aligns after its dependency waits).
    const double start = std::ceil(best_start);
    const std::int64_t at = std::int64_t(start);
    double end = start;
    switch (in.op) {
      case Opcode::Gemm: {
        if (in.is_fused_attention()) {
          // Attention fused in the array (hw/accelerator.cpp, run_fused_attention): Q read once, K and V
          // once per query fold, O written once; the array takes the next instruction after the
          // occupancy (and the port transfers), O has left a drain later, in order.
          const std::uint64_t folds = (std::uint64_t(in.m) + std::uint64_t(hw_.array.rows) - 1) / std::uint64_t(hw_.array.rows);
          const std::int64_t ports_done =
              std::max({reserve(in.a, in.a.bytes(), false, at, true), reserve(in.b, folds * in.b.bytes(), false, at, true),
                        reserve(in.v, folds * in.v.bytes(), false, at, true), reserve(in.c, in.c.bytes(), true, at, true)});
          const FusedAttentionTiming ft = fused_attention_timing(hw_.array, hw_.datapath, {in.m, in.n, in.k});
          out.array_busy += ft.occupancy;
          const double free = std::max(start + double(ft.occupancy), double(ports_done));
          fused_last_done = std::max(fused_last_done, free + double(ft.drain));
          end = fused_last_done;
          unit_free[best] = free;
          break;
        }
        const SramTraffic t = gemm_sram_traffic(hw_.array, in);
        if (chained) {
          // Chained GEMMs (timing/array_timing.h, ArrayChain; hw/accelerator.cpp): begun in program
          // order once the previous GEMM's SRAM transfers are done, started when the pipeline
          // allows, ended (and completed) in order, each when its compute and its transfers are done.
          const GemmSchedule g =
              chain.next({in.m, in.k, in.n}, chained_ready(in, std::int64_t(std::ceil(dep_start[best]))));
          const std::int64_t ports_done =
              std::max({g.start, reserve(in.a, t.a_read, false, g.start, true), reserve(in.b, t.b_read, false, g.start, true),
                        reserve(in.c, t.c_read, false, g.start, true), reserve(in.c, t.c_written, true, g.start, true)});
          array_ports_done = ports_done;
          out.array_busy += g.done - std::max(g.start, array_busy_until);
          array_busy_until = std::max(array_busy_until, g.done);
          end = std::max({double(g.done), double(ports_done), array_completed});
          array_completed = end;
          recent[recent_next] = {in.a, in.b, in.c, end};
          recent_next = (recent_next + 1) % recent.size();
          unit_free[best] = double(g.start);
          break;
        }
        const std::int64_t ports_done =
            std::max({reserve(in.a, t.a_read, false, at, true), reserve(in.b, t.b_read, false, at, true),
                      reserve(in.c, t.c_read, false, at, true), reserve(in.c, t.c_written, true, at, true)});
        const std::int64_t cycles = gemm_cycles(hw_.array.rows, hw_.array.cols, hw_.array.dataflow, hw_.array.timing,
                                                {in.m, in.k, in.n});
        out.array_busy += cycles;
        end = std::max(start + double(cycles), double(ports_done));
        unit_free[best] = end;
        break;
      }
      case Opcode::Vector:
      case Opcode::Softmax: {
        const std::int64_t cycles =
            in.op == Opcode::Softmax ? softmax_op_cycles(hw_, in) : vector_op_cycles(hw_.vector, in);
        const UnitTraffic t = unit_sram_traffic(in);
        const std::int64_t ports_done =
            std::max({reserve(in.a, t.a_read, false, at), reserve(in.b, t.b_read, false, at),
                      reserve(in.c, t.c_read, false, at), reserve(in.c, t.c_written, true, at),
                      reserve(in.b, t.b_written, true, at)});
        end = std::max(start + double(cycles), double(ports_done));
        unit_free[best] = end;
        break;
      }
      case Opcode::Load:
      case Opcode::Store: {
        const bool write = in.op == Opcode::Store;
        DmaSide& s = side[write ? 1 : 0];
        const double sram_done = double(reserve(in.sram, in.sram.bytes(), !write, at));
        // Segments as the accelerator cuts them (hw/accelerator.cpp, dma_issue_thread).
        const bool contiguous = in.dram_stride == in.row_bytes || ideal;
        const std::uint64_t runs = contiguous ? 1 : in.rows;
        const std::uint64_t run_bytes = contiguous ? in.bytes() : in.row_bytes;
        const std::uint64_t seg = ideal ? std::max(seg_max, (run_bytes + 3) / 4) : seg_max;
        double issue = start, last = start;
        for (std::uint64_t r = 0; r < runs; ++r)
          for (std::uint64_t off = 0; off < run_bytes; off += seg) {
            const double bytes = double(std::min(seg, run_bytes - off));
            issue = std::max(issue, s.worker_free.top());
            s.worker_free.pop();
            const double bus_start = std::max(issue, bus_free);
            bus_free = bus_start + bytes / bw;
            if (row_model)  // its data cannot end before the rows it needs are open
              bus_free = std::max(bus_free, rows_open(in.dram_addr + r * in.dram_stride + off,
                                                      std::min(seg, run_bytes - off), issue));
            // A posted write (cycle-level DRAM) is done when its last burst enters a write queue: once no more
            // than the queues' bytes of the writes before it are still to be written (reads take their own
            // queues, so a store behind a stream of loads is done at once).
            double seg_done = bus_free + latency;
            if (write && !ideal) {
              write_free = std::max(write_free, issue) + bytes / bw;
              seg_done = std::max(issue, write_free - queue_bytes / bw) + 1;
            }
            s.worker_free.push(seg_done);
            last = std::max(last, seg_done);
          }
        out.dram_bytes += in.bytes();
        end = std::ceil(std::max(last, sram_done));
        unit_free[best] = issue;  // the side issues its next instruction once this one's segments are out
        break;
      }
      case Opcode::Barrier:
        break;
    }
    done[in.id] = end;
    latest_done = std::max(latest_done, end);
  }
  out.cycles = std::int64_t(std::ceil(latest_done));
  if (done_cycles) {
    done_cycles->clear();
    for (double d : done) done_cycles->push_back(std::int64_t(std::ceil(d)));
  }
  return out;
}

}  // namespace attnsim
