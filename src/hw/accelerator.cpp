#include "hw/accelerator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "common/checked_math.h"
#include "common/errors.h"
#include "common/sim_threads.h"
#include "timing/fused_timing.h"
#include "timing/sram_traffic.h"
#include "timing/unit_timing.h"

namespace attnsim {

using sc_core::sc_event;

namespace {
double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double g_progress_interval_s = 0;
}  // namespace

void set_simulation_progress_interval(double seconds) { g_progress_interval_s = seconds; }

// The compiler's view of the window: add() blocks the producer thread while the window is full.
class Accelerator::WindowSink final : public ProgramSink {
 public:
  explicit WindowSink(Accelerator& acc) : acc_(acc) {}
  std::uint32_t add(Instr in) override { return acc_.push(in); }

 private:
  Accelerator& acc_;
};

Accelerator::Accelerator(sc_core::sc_module_name name, const HwConfig& hw, const ProgramSource& program)
    : sc_module(name),
      hw_(hw),
      program_(program),
      period_(hw.array.period_fs()),
      array_(make_array_model(hw.array, hw.datapath)),
      dram_(make_dram(hw)),
      ports_(hw.sram, hw.accumulators),
      window_(kWindow),
      done_(kWindow, 0) {
  for (Queue* q : {&array_q_, &vector_q_, &softmax_q_, &load_q_, &store_q_}) q->ring.assign(kWindow, 0);
  load_.is_write = false, load_.queue = &load_q_, load_.unit = TraceUnit::LoadDma;
  store_.is_write = true, store_.queue = &store_q_, store_.unit = TraceUnit::StoreDma;

  sc_core::sc_spawn_options big;
  big.set_stack_size(1 << 20);  // the compiler's loops run on this thread
  // Every thread runs guarded (common/sim_threads.h): a UserError inside one stays a UserError.
  sc_core::sc_spawn(guarded([this] { producer_thread(); }), "producer", &big);
  if (hw.array.gemm_chaining && hw.array.timing == TimingMode::Overlapped) {
    array_chained_ = true;
    sc_core::sc_spawn(guarded([this] { chained_array_thread(); }), "array");
    sc_core::sc_spawn(guarded([this] { array_retire_thread(); }), "array_retire");
  } else {
    sc_core::sc_spawn(guarded([this] { array_thread(); }), "array_thread");
  }
  if (hw.datapath.admits_fused_attention()) {
    fused_draining_.assign(kWindow, 0);
    sc_core::sc_spawn(guarded([this] { fused_retire_thread(); }), "fused_retire");
  }
  sc_core::sc_spawn(guarded([this] { vector_thread(&vector_q_, false); }), "vector_unit");
  if (hw.softmax.present) sc_core::sc_spawn(guarded([this] { vector_thread(&softmax_q_, true); }), "softmax_unit");
  for (DmaSide* side : {&load_, &store_}) {
    side->remaining.assign(kWindow, 0);
    side->earliest_done.assign(kWindow, 0);
    side->assigned.resize(std::size_t(hw.dma.outstanding));
    side->assigned_at.assign(std::size_t(hw.dma.outstanding), 0);
    for (int w = hw.dma.outstanding - 1; w >= 0; --w) side->idle.push_back(std::uint32_t(w));
    for (int w = 0; w < hw.dma.outstanding; ++w) {
      events_.push_back(std::make_unique<sc_event>());
      side->go.push_back(events_.back().get());
      sc_core::sc_spawn_options opts;
      opts.set_stack_size(32 * 1024);
      sc_core::sc_spawn(guarded([this, side, w] { dma_worker_thread(side, std::uint32_t(w)); }),
                        sc_core::sc_gen_unique_name(side->is_write ? "store_worker" : "load_worker"), &opts);
    }
    sc_core::sc_spawn(guarded([this, side] { dma_issue_thread(side); }),
                      sc_core::sc_gen_unique_name(side->is_write ? "store_issue" : "load_issue"));
  }

  // The watchdog's bound. With nothing computing, the longest legitimate wait between two
  // completions is for DRAM. Ideal DRAM: every segment of both DMA sides ahead on the bus (a segment
  // is at most max(segment_bytes, the SRAM's bytes): a tile fits in SRAM), then the latency. Cycle
  // DRAM: every burst of every segment of both sides ahead (32 B, the smallest burst of the
  // presets), each within the controller's own bound between completions (dram_controller.cpp),
  // which catches a starving DRAM much sooner. Doubled, at least 10^4 cycles. A generous bound costs
  // nothing: with no event left the watchdog's single wait ends at once.
  double dram_cycles = double(dram_->stall_bound_fs()) / double(period_) * (2.0 * hw.dma.outstanding + 1) *
                       std::ceil(double(hw.dma.segment_bytes) / 32.0);
  if (hw.dram.model == DramModel::Ideal) {
    const double segment = std::max(double(hw.dma.segment_bytes), double(hw.sram.total_bytes()));
    dram_cycles = (2.0 * hw.dma.outstanding + 1) * std::ceil(segment / hw.dram.bytes_per_cycle) +
                  double(hw.dram.latency_cycles);
  }
  watchdog_cycles_ = std::int64_t(std::min(double(kMaxRunCycles), std::max(1e4, 2.0 * dram_cycles + 1e4)));
  sc_core::sc_spawn(guarded([this] { watchdog_thread(); }), "watchdog");
  progress_interval_s_ = g_progress_interval_s;
  progress_start_s_ = progress_last_s_ = progress_interval_s_ > 0 ? wall_seconds() : 0.0;
  progress_countdown_ = 1024;
}

void Accelerator::watchdog_thread() {
  // Saturated: at a clock so slow that the bound is not a representable time, the run hits the
  // time limit first.
  const fs_t bound = watchdog_cycles_ > kMaxSimFs / period_ ? kMaxSimFs : watchdog_cycles_ * period_;
  while (!finished()) {
    sc_core::wait(fs_time(std::min(bound, kMaxSimFs - now_fs())), finished_);  // woken at the end: time stays
    if (finished()) return;
    if (computing_ > 0) {  // a unit's end is scheduled: that is progress
      note_progress();
      continue;
    }
    if (now_fs() - last_progress_fs_ >= bound) throw InternalError(stuck_units());
  }
}

std::string Accelerator::stuck_units() const {
  std::string s = "watchdog: no instruction completed, no DMA segment returned and no unit computed for " +
                  std::to_string(watchdog_cycles_) + " cycles (the bound from the DRAM, DMA and SRAM config) up to cycle " +
                  std::to_string(now_fs() / period_) + "; " + progress();
  const char* names[] = {"array", "vector unit", "softmax unit", "load DMA", "store DMA"};
  int u = 0;
  for (const Queue* q : {&array_q_, &vector_q_, &softmax_q_, &load_q_, &store_q_}) {
    const char* name = names[u++];
    if (q->head == 0) continue;
    const std::uint32_t id = q->ring[(q->head - 1) % kWindow];
    if (id < done_prefix_ || is_done(id)) continue;
    const Instr& in = instr(id);
    s += std::string("; stuck: ") + name + " at instruction " + std::to_string(id) + " " + to_string(in.op);
    std::string waits;
    for (int i = 0; i < in.num_deps; ++i)
      if (!is_done(in.deps[i]))
        waits += (waits.empty() ? "" : ", ") + std::to_string(in.deps[i]) + " " + to_string(instr(in.deps[i]).op);
    if (!waits.empty()) s += " waiting for " + waits;
  }
  for (const DmaSide* side : {&load_, &store_}) {
    if (side->in_flight == 0) continue;
    std::size_t oldest = side->assigned.size();
    for (std::size_t w = 0; w < side->assigned.size(); ++w) {
      const bool busy = std::find(side->idle.begin(), side->idle.end(), std::uint32_t(w)) == side->idle.end();
      if (busy && (oldest == side->assigned.size() || side->assigned_at[w] < side->assigned_at[oldest])) oldest = w;
    }
    s += std::string("; ") + (side->is_write ? "store" : "load") + " DMA: " + std::to_string(side->in_flight) +
         " segments in DRAM";
    if (oldest < side->assigned.size()) {
      const Segment& seg = side->assigned[oldest];
      char addr[32];
      std::snprintf(addr, sizeof addr, "0x%llx", (unsigned long long)seg.addr);
      s += ", the oldest since cycle " + std::to_string(side->assigned_at[oldest] / period_) + " (instruction " +
           std::to_string(seg.instr) + ", " + std::to_string(seg.bytes) + " bytes at " + addr + ")";
    }
  }
  const std::string dram = dram_->describe_pending();
  if (!dram.empty()) s += "; DRAM: " + dram;
  return s;
}

void Accelerator::print_progress() {
  progress_countdown_ = 1024;
  const double now = wall_seconds();
  if (now - progress_last_s_ < progress_interval_s_) return;
  progress_last_s_ = now;
  char line[200];
  std::snprintf(line, sizeof line, "attnsim: simulating: cycle %lld, %llu instructions done, %.0f s\n",
                (long long)(now_fs() / period_), (unsigned long long)done_prefix_, now - progress_start_s_);
  std::cerr << line << std::flush;
}

Accelerator::~Accelerator() = default;

void Accelerator::attach_trace(TraceRecorder* recorder) {
  trace_ = recorder;
  ports_.set_observer(recorder);
  dram_->set_data_observer(recorder);
  for (DmaSide* side : {&load_, &store_}) side->started.assign(recorder ? kWindow : 0, 0);
}

std::string Accelerator::progress() const {
  std::string s = std::to_string(done_prefix_) + " of " + std::to_string(next_id_) + " instructions done" +
                  (producer_done_ ? "" : " (program not fully generated)");
  if (done_prefix_ < next_id_) {
    const Instr& in = instr(done_prefix_);
    s += "; oldest pending: " + std::to_string(in.id) + " " + to_string(in.op) + " deps";
    for (int i = 0; i < in.num_deps; ++i) s += " " + std::to_string(in.deps[i]) + (is_done(in.deps[i]) ? "(done)" : "");
  }
  const char* names[] = {"array", "vector", "softmax", "load", "store"};
  int i = 0;
  for (const Queue* q : {&array_q_, &vector_q_, &softmax_q_, &load_q_, &store_q_}) {
    s += std::string("; ") + names[i++] + " queue " + std::to_string(q->tail - q->head);
    if (q->head > 0) s += " after " + std::to_string(q->ring[(q->head - 1) % kWindow]);
  }
  s += "; load workers idle " + std::to_string(load_.idle.size()) + ", store workers idle " +
       std::to_string(store_.idle.size());
  return s;
}

SimStats Accelerator::stats() const {
  SimStats s = stats_;
  s.bank_read_bytes = ports_.bank_read_bytes();
  s.bank_written_bytes = ports_.bank_written_bytes();
  s.bank_read_accesses = ports_.bank_read_accesses();
  s.bank_write_accesses = ports_.bank_write_accesses();
  s.bank_queueing_cycles = ports_.queueing_cycles();
  s.accumulators = ports_.accumulator_totals();
  return s;
}

void Accelerator::producer_thread() {
  WindowSink sink(*this);
  program_.generate(sink);
  producer_done_ = true;
  if (finished()) finished_.notify();
  for (Queue* q : {&array_q_, &vector_q_, &softmax_q_, &load_q_, &store_q_}) q->pushed.notify();
}

std::uint32_t Accelerator::push(Instr in) {
  while (next_id_ - done_prefix_ >= kWindow) sc_core::wait(any_done_);
  const std::uint32_t id = next_id_++;
  in.id = id;
  window_[id % kWindow] = in;
  done_[id % kWindow] = 0;
  ++stats_.instrs;
  auto route = [id](Queue& q) {
    q.ring[q.tail++ % kWindow] = id;
    q.pushed.notify();
  };
  switch (in.op) {
    case Opcode::Gemm:
      route(array_q_);
      break;
    case Opcode::Vector:
      route(vector_q_);
      break;
    case Opcode::Softmax:
      route(hw_.softmax.present ? softmax_q_ : vector_q_);
      break;
    case Opcode::Load:
      route(load_q_);
      break;
    case Opcode::Store:
      route(store_q_);
      break;
    case Opcode::Barrier:
      route(array_q_), route(vector_q_), route(load_q_), route(store_q_);
      if (hw_.softmax.present) route(softmax_q_);
      break;
  }
  return id;
}

bool Accelerator::next(Queue& q, std::uint32_t* id, bool attribute) {
  while (q.empty()) {
    if (producer_done_) return false;
    // A unit with nothing queued waits for the window to move: the program's next instruction for
    // it sits behind the oldest unfinished one (a phase of softmax through DRAM, the final stores),
    // so, as at a barrier, the wait is charged to that instruction's kind.
    const bool any = done_prefix_ < next_id_;
    const Opcode op = any ? instr(done_prefix_).op : Opcode::Barrier;
    const fs_t t0 = now_fs();
    sc_core::wait(q.pushed);
    if (attribute && any) attribute_stall(op, array_idle_part(t0));
  }
  *id = q.ring[q.head++ % kWindow];
  return true;
}

void Accelerator::complete(std::uint32_t id) {
  done_[id % kWindow] = 1;
  while (done_prefix_ < next_id_ && done_[done_prefix_ % kWindow]) {
    done_[done_prefix_ % kWindow] = 0;
    ++done_prefix_;
  }
  note_progress();
  if (finished()) finished_.notify();
  if (progress_interval_s_ > 0 && --progress_countdown_ == 0) print_progress();
  any_done_.notify();
}

void Accelerator::attribute_stall(Opcode waiting_for, fs_t waited) {
  if (waiting_for == Opcode::Load || waiting_for == Opcode::Store)
    stats_.stall_memory_fs += waited;
  else if (waiting_for == Opcode::Softmax)
    stats_.stall_softmax_fs += waited;
  else if (waiting_for == Opcode::Vector)
    stats_.stall_vector_fs += waited;
  else
    stats_.stall_dependency_fs += waited;
}

void Accelerator::wait_for_deps(const Instr& in, bool attribute) {
  for (;;) {
    const Instr* pending = nullptr;
    for (int i = 0; i < in.num_deps && !pending; ++i)
      if (!is_done(in.deps[i])) pending = &instr(in.deps[i]);
    if (!pending) break;
    const Opcode op = pending->op;
    const fs_t t0 = now_fs();
    sc_core::wait(any_done_);
    if (attribute) attribute_stall(op, array_idle_part(t0));
  }
  align_to_edge(period_);
}

void Accelerator::wait_for_barrier(std::uint32_t id, bool attribute) {
  // By id, not by reference: once the first unit completes the barrier its window slot may be
  // reused while the other units are still here. A unit waiting here waits for the oldest
  // unfinished instruction; its wait is charged to that instruction's kind.
  while (done_prefix_ < id) {
    const Opcode op = instr(done_prefix_).op;
    const fs_t t0 = now_fs();
    sc_core::wait(any_done_);
    if (attribute) attribute_stall(op, array_idle_part(t0));
  }
  if (!is_done(id)) complete(id);
  align_to_edge(period_);
}

fs_t Accelerator::sram_transfer(const SramTile& t, std::uint64_t bytes, bool write, bool array_side) {
  if (bytes == 0 || t.rows == 0) return now_fs();
  const std::int64_t now_cycle = now_fs() / period_;
  return cycles_to_fs(fs_t(ports_.reserve(t.region(), bytes, write, now_cycle, array_side)), period_);
}

void Accelerator::charge_sram_accesses(const Instr& in, const SramAccessCounts& before) {
  op_stats(in).sram += ports_.access_counts() - before;
}

OpStats& Accelerator::op_stats(const Instr& in) {
  if (in.layer >= stats_.ops.size()) stats_.ops.resize(std::size_t(in.layer) + 1);
  return stats_.ops[in.layer][std::size_t(in.opclass)];
}

void Accelerator::note_span(OpStats& s, fs_t start, fs_t end) {
  if (s.first_start_fs < 0 || start < s.first_start_fs) s.first_start_fs = start;
  s.last_end_fs = std::max(s.last_end_fs, end);
}

void Accelerator::array_thread() {
  std::uint32_t id;
  while (next(array_q_, &id, true)) {
    const Instr& in = instr(id);
    if (in.op == Opcode::Barrier) {
      wait_for_barrier(id, true);
      continue;
    }
    wait_for_deps(in, true);
    if (in.is_fused_attention()) {
      run_fused_attention(id, in);
      continue;
    }
    const fs_t start = now_fs();
    if (trace_) trace_->begin(TraceUnit::Array);
    const SramTraffic t = gemm_sram_traffic(hw_.array, in);
    // The array cannot run faster than the banks holding its operands deliver them.
    // Partial sums in accumulator storage move through the array's own ports there (array_side).
    const SramAccessCounts accesses_before = ports_.access_counts();
    const fs_t ports_done =
        std::max({sram_transfer(in.a, t.a_read, false, true), sram_transfer(in.b, t.b_read, false, true),
                  sram_transfer(in.c, t.c_read, false, true), sram_transfer(in.c, t.c_written, true, true)});
    charge_sram_accesses(in, accesses_before);
    ++computing_;
    const std::int64_t cycles = array_->run_gemm({in.m, in.k, in.n}, nullptr);
    // Busy: the compute cycles (run_gemm advanced time by exactly them), not the port stall below.
    if (trace_) {
      trace_->end(TraceUnit::Array);
      trace_->slice(TraceUnit::Array, in, start, now_fs());
    }
    if (ports_done > now_fs()) {
      stats_.stall_sram_port_fs += ports_done - now_fs();
      wait_fs(ports_done - now_fs());
    }
    --computing_;
    const fs_t busy_fs = cycles_to_fs(cycles, period_);
    stats_.array_busy_fs += busy_fs;
    stats_.macs += in.macs();
    ++stats_.gemms;
    OpStats& os = op_stats(in);
    os.array_busy_fs += busy_fs;
    os.macs += in.macs();
    ++os.instrs;
    note_span(os, start, now_fs());
    complete(id);
  }
}

fs_t Accelerator::array_idle_part(fs_t t0) const {
  if (!array_chained_) return now_fs() - t0;
  // A chained array may still be running earlier GEMMs while its thread waits for the next one: only
  // the time since the array last fell idle (its last GEMM ended and its SRAM transfers were done) is a
  // stall. The thread never waits during an SRAM port tail (it waits for the ports before the next
  // GEMM), so that tail is charged once, by the retire thread.
  if (array_in_flight_ > 0) return 0;
  return now_fs() - std::max(t0, array_idle_since_);
}

static bool overlaps(const SramTile& x, const SramTile& y) {
  if (x.rows == 0 || y.rows == 0) return false;
  return x.addr < y.addr + y.extent() && y.addr < x.addr + x.extent();
}

// gemm_chaining: GEMMs are begun in program order, each when its dependencies are met and the array's
// operand feeders have finished the previous GEMM's SRAM transfers (they serve instructions in order);
// the array starts it when its pipeline allows (timing/array_timing.h, "Chained GEMM instructions"), so
// the previous one may still be running. array_retire_thread ends them in order. An in-flight GEMM
// whose result this one reads (or whose operands this one overwrites) without a dependency saying so
// is waited for too: the compiler may rely on the array's order for that, which chaining no longer gives.
void Accelerator::run_fused_attention(std::uint32_t id, const Instr& in) {
  if (!hw_.datapath.admits_fused_attention())
    throw InternalError("instruction " + std::to_string(id) + ": fused attention on a datapath that does not admit it");
  // Q is read once into the rows, K and V once per query fold down the columns, O written once from the
  // row units (timing/fused_timing.h): nothing else touches the banks.
  const std::uint64_t folds = (std::uint64_t(in.m) + std::uint64_t(hw_.array.rows) - 1) / std::uint64_t(hw_.array.rows);
  const SramAccessCounts accesses_before = ports_.access_counts();
  const fs_t ports_done = std::max({sram_transfer(in.a, in.a.bytes(), false, true),
                                    sram_transfer(in.b, folds * in.b.bytes(), false, true),
                                    sram_transfer(in.v, folds * in.v.bytes(), false, true),
                                    sram_transfer(in.c, in.c.bytes(), true, true)});
  charge_sram_accesses(in, accesses_before);
  ++computing_;
  // The array model starts it when its datapath allows (earlier fused instructions may still be draining:
  // timing/fused_timing.h, FusedChain) and waits the occupancy (the PE-level one steps the PEs and row units
  // through it); fused_retire_thread learns from it when O has left.
  if (trace_) trace_->begin(TraceUnit::Array);
  const IArrayModel::FusedRun t = array_->run_fused_attention({in.m, in.n, in.k}, nullptr);
  const fs_t start = t.start_fs;
  if (trace_) {
    trace_->end(TraceUnit::Array);
    trace_->slice(TraceUnit::Array, in, start, now_fs());
  }
  if (ports_done > now_fs()) {
    stats_.stall_sram_port_fs += ports_done - now_fs();
    wait_fs(ports_done - now_fs());
  }
  array_idle_since_ = array_busy_until_ = now_fs();  // the chained thread's idle measure (array_idle_part)
  const fs_t busy_fs = cycles_to_fs(t.occupancy, period_);
  stats_.array_busy_fs += busy_fs;
  stats_.macs += in.macs();
  ++stats_.gemms;
  OpStats& os = op_stats(in);
  os.array_busy_fs += busy_fs;
  os.macs += in.macs();
  ++os.instrs;
  const FusedAttentionActions acts = fused_attention_actions(hw_.array, {in.m, in.n, in.k});
  for (std::size_t p = 0; p < std::size_t(kVecPrimCount); ++p) {
    stats_.datapath_pe_ops[p] += acts.pe[p];
    stats_.row_unit_ops[p] += acts.row_unit[p];
    os.datapath_pe_ops[p] += acts.pe[p];
    os.row_unit_ops[p] += acts.row_unit[p];
  }
  // O leaves after the drain (end_fused in fused_retire_thread, in order).
  note_span(os, start, now_fs());
  ATTNSIM_ASSERT(fused_count_ < fused_draining_.size(), "fused attention drain ring overflow");
  fused_draining_[(fused_head_ + fused_count_) % fused_draining_.size()] = id;
  ++fused_count_;
  fused_pushed_.notify(sc_core::SC_ZERO_TIME);
  // computing_ stays raised until the drain ends (fused_retire_thread): the completion is scheduled.
}

void Accelerator::fused_retire_thread() {
  for (;;) {
    while (fused_count_ == 0) sc_core::wait(fused_pushed_);
    const std::uint32_t id = fused_draining_[fused_head_];
    array_->end_fused();  // returns when its O has left; a later one's never overtakes an earlier one's
    note_span(op_stats(instr(id)), now_fs(), now_fs());
    fused_head_ = (fused_head_ + 1) % fused_draining_.size();
    --fused_count_;
    --computing_;
    complete(id);
  }
}

void Accelerator::chained_array_thread() {
  std::uint32_t id;
  while (next(array_q_, &id, true)) {
    const Instr& in = instr(id);
    if (in.op == Opcode::Barrier) {
      wait_for_barrier(id, true);
      continue;
    }
    if (array_ports_done_ > now_fs()) wait_fs(array_ports_done_ - now_fs());
    wait_for_deps(in, true);
    if (in.is_fused_attention()) {
      // The fused datapath pipelines its own key tiles and does not chain with plain GEMMs: it starts on
      // an empty array (the plain GEMMs in flight have ended).
      while (array_in_flight_ > 0) {
        const fs_t t0 = now_fs();
        sc_core::wait(any_done_);
        attribute_stall(Opcode::Gemm, array_idle_part(t0));
      }
      align_to_edge(period_);
      run_fused_attention(id, in);
      continue;
    }
    for (;;) {  // SRAM hazards with in-flight GEMMs
      const Instr* hazard = nullptr;
      for (std::size_t i = 0; i < array_flight_count_ && !hazard; ++i) {
        const Instr& f = instr(array_flight_[(array_flight_head_ + i) % array_flight_.size()].id);
        if (overlaps(f.c, in.a) || overlaps(f.c, in.b) || overlaps(in.c, f.a) || overlaps(in.c, f.b)) hazard = &f;
      }
      if (!hazard) break;
      const fs_t t0 = now_fs();
      sc_core::wait(any_done_);
      attribute_stall(Opcode::Gemm, array_idle_part(t0));
    }
    align_to_edge(period_);
    ++computing_;  // a scheduled start (the watchdog counts it as progress)
    array_->begin_gemm({in.m, in.k, in.n}, nullptr);  // returns at the GEMM's start
    --computing_;
    if (trace_ && array_in_flight_ == 0) trace_->begin(TraceUnit::Array);
    ++array_in_flight_;
    const SramTraffic t = gemm_sram_traffic(hw_.array, in);
    // The array cannot run faster than the banks holding its operands deliver them.
    // Partial sums in accumulator storage move through the array's own ports there (array_side).
    const SramAccessCounts accesses_before = ports_.access_counts();
    array_ports_done_ =
        std::max({sram_transfer(in.a, t.a_read, false, true), sram_transfer(in.b, t.b_read, false, true),
                  sram_transfer(in.c, t.c_read, false, true), sram_transfer(in.c, t.c_written, true, true)});
    charge_sram_accesses(in, accesses_before);
    if (array_flight_count_ == array_flight_.size()) {  // grow the ring, keeping the order (a handful at most)
      std::vector<ArrayFlight> grown(std::max<std::size_t>(8, 2 * array_flight_.size()));
      for (std::size_t i = 0; i < array_flight_count_; ++i)
        grown[i] = array_flight_[(array_flight_head_ + i) % array_flight_.size()];
      array_flight_.swap(grown);
      array_flight_head_ = 0;
    }
    array_flight_[(array_flight_head_ + array_flight_count_++) % array_flight_.size()] = {id, now_fs(),
                                                                                          array_ports_done_};
    array_begun_.notify();
  }
}

// Ends the chained array's GEMMs in order: busy time is the union of their [start, end] intervals (the
// array is busy while any GEMM is in it); a GEMM whose SRAM transfers outlast its compute completes when
// they are done, and that tail is charged as an SRAM-port stall, as without chaining.
void Accelerator::array_retire_thread() {
  for (;;) {
    while (array_flight_count_ == 0) sc_core::wait(array_begun_);
    const ArrayFlight f = array_flight_[array_flight_head_];
    ++computing_;
    array_->end_gemm();  // returns at the GEMM's end
    --computing_;
    const fs_t end = now_fs();
    const Instr& in = instr(f.id);
    const fs_t busy = end - std::max(f.start, array_busy_until_);
    array_busy_until_ = end;
    --array_in_flight_;
    if (trace_) {
      if (array_in_flight_ == 0) trace_->end(TraceUnit::Array);
      trace_->slice(TraceUnit::Array, in, f.start, end);
    }
    if (f.ports_done > now_fs()) {
      stats_.stall_sram_port_fs += f.ports_done - now_fs();
      wait_fs(f.ports_done - now_fs());
    }
    array_idle_since_ = now_fs();
    stats_.array_busy_fs += busy;
    stats_.macs += in.macs();
    ++stats_.gemms;
    OpStats& os = op_stats(in);
    os.array_busy_fs += busy;
    os.macs += in.macs();
    ++os.instrs;
    note_span(os, f.start, now_fs());
    array_flight_head_ = (array_flight_head_ + 1) % array_flight_.size(), --array_flight_count_;
    complete(f.id);
  }
}

void Accelerator::vector_thread(Queue* q, bool softmax_unit) {
  std::uint32_t id;
  while (next(*q, &id)) {
    const Instr& in = instr(id);
    if (in.op == Opcode::Barrier) {
      wait_for_barrier(id, false);
      continue;
    }
    wait_for_deps(in, false);
    const fs_t start = now_fs();
    const TraceUnit unit = softmax_unit ? TraceUnit::Softmax : TraceUnit::Vector;
    if (trace_) trace_->begin(unit);
    const bool is_softmax = in.op == Opcode::Softmax;
    const std::int64_t cycles = is_softmax ? softmax_op_cycles(hw_, in) : vector_op_cycles(hw_.vector, in);
    const UnitTraffic t = unit_sram_traffic(in);
    const SramAccessCounts accesses_before = ports_.access_counts();
    const fs_t ports_done = std::max({sram_transfer(in.a, t.a_read, false), sram_transfer(in.b, t.b_read, false),
                                      sram_transfer(in.c, t.c_read, false), sram_transfer(in.c, t.c_written, true),
                                      sram_transfer(in.b, t.b_written, true)});
    charge_sram_accesses(in, accesses_before);
    ++computing_;
    wait_fs(cycles_to_fs(cycles, period_));
    if (ports_done > now_fs()) wait_fs(ports_done - now_fs());
    --computing_;
    const fs_t busy = now_fs() - start;
    (softmax_unit ? stats_.softmax_busy_fs : stats_.vector_busy_fs) += busy;
    const LaneOps lane_ops = unit_lane_ops(in);
    auto& unit_ops = softmax_unit ? stats_.softmax_lane_ops : stats_.vector_lane_ops;
    auto& op_unit_ops = softmax_unit ? op_stats(in).softmax_lane_ops : op_stats(in).vector_lane_ops;
    for (std::size_t p = 0; p < lane_ops.size(); ++p) unit_ops[p] += lane_ops[p], op_unit_ops[p] += lane_ops[p];
    if (trace_) {
      trace_->end(unit);
      trace_->slice(unit, in, start, now_fs());
    }
    OpStats& os = op_stats(in);
    if (is_softmax) {
      stats_.softmax_work_fs += busy;
      ++stats_.softmax_ops;
      os.softmax_busy_fs += busy;
    } else {
      ++stats_.vector_ops;
      os.vector_busy_fs += busy;
    }
    ++os.instrs;
    note_span(os, start, now_fs());
    complete(id);
  }
}

void Accelerator::dma_issue_thread(DmaSide* side) {
  const std::uint64_t seg_max = std::uint64_t(hw_.dma.segment_bytes);
  std::uint32_t id;
  while (next(*side->queue, &id)) {
    const Instr& in = instr(id);
    if (in.op == Opcode::Barrier) {
      wait_for_barrier(id, false);
      continue;
    }
    wait_for_deps(in, false);
    const std::uint32_t slot = id % kWindow;
    if (trace_) side->started[slot] = now_fs();
    (side->is_write ? stats_.stores : stats_.loads)++;
    OpStats& os = op_stats(in);
    (side->is_write ? os.store_bytes : os.load_bytes) += in.bytes();
    ++os.instrs;
    note_span(os, now_fs(), now_fs());
    // SRAM side: a LOAD writes the tile into its banks, a STORE reads it out, through the ports.
    const SramAccessCounts accesses_before = ports_.access_counts();
    side->earliest_done[slot] = sram_transfer(in.sram, in.sram.bytes(), !side->is_write);
    charge_sram_accesses(in, accesses_before);
    // Rows adjacent in DRAM merge into one run (all rows, if the DRAM model ignores addresses);
    // runs are cut into segments of at most seg_max.
    const bool contiguous = in.dram_stride == in.row_bytes || dram_->address_independent();
    const std::uint64_t runs = contiguous ? 1 : in.rows;
    const std::uint64_t run_bytes = contiguous ? in.bytes() : in.row_bytes;
    // A DRAM model that ignores addresses (ideal: a bandwidth pipe) times a run the same however it
    // is cut, except for how finely concurrent instructions interleave on its bus; there a run is cut
    // into at most 4 segments (each at least segment_bytes), so that a large tile costs the
    // simulator a few transfers, not thousands (BERT and LRA runs move by tens of cycles in 10^9).
    const std::uint64_t seg = dram_->address_independent()
                                  ? std::max(seg_max, (run_bytes + 3) / 4)
                                  : seg_max;
    const std::uint64_t segs_per_run = (run_bytes + seg - 1) / seg;
    side->remaining[slot] = std::uint32_t(runs * segs_per_run);
    if (side->remaining[slot] == 0) {
      if (trace_) trace_->slice(side->unit, in, now_fs(), now_fs());
      complete(id);
      continue;
    }
    const std::uint64_t dram_addr = in.dram_addr, stride = in.dram_stride;
    for (std::uint64_t r = 0; r < runs; ++r)
      for (std::uint64_t s = 0; s < segs_per_run; ++s) {
        while (side->idle.empty()) sc_core::wait(side->worker_free);
        const std::uint32_t w = side->idle.back();
        side->idle.pop_back();
        const std::uint64_t off = s * seg;
        side->assigned[w] = {dram_addr + r * stride + off, std::min(seg, run_bytes - off), id};
        side->assigned_at[w] = now_fs();
        if (side->in_flight++ == 0) {
          side->busy_since = now_fs();
          if (trace_) trace_->begin(side->unit);
        }
        side->go[w]->notify();
      }
  }
}

void Accelerator::dma_worker_thread(DmaSide* side, std::uint32_t index) {
  for (;;) {
    sc_core::wait(*side->go[index]);
    const Segment seg = side->assigned[index];
    if (trace_) trace_->dram_issue(side->is_write, seg.bytes);
    dram_->transfer(seg.addr, seg.bytes, side->is_write);
    if (trace_) trace_->dram_done(side->is_write, seg.bytes);
    note_progress();
    ++stats_.dma_segments;
    const std::uint32_t slot = seg.instr % kWindow;
    if (--side->remaining[slot] == 0) {
      // The instruction is done when its last segment is and the SRAM ports have moved the tile.
      const fs_t done_at = ceil_to_edge(std::max(now_fs(), side->earliest_done[slot]), period_);
      ++computing_;
      wait_fs(done_at - now_fs());
      --computing_;
      note_span(op_stats(instr(seg.instr)), now_fs(), now_fs());
      if (trace_) trace_->slice(side->unit, instr(seg.instr), side->started[slot], now_fs());
      complete(seg.instr);
    }
    if (--side->in_flight == 0) {
      (side->is_write ? stats_.store_busy_fs : stats_.load_busy_fs) += now_fs() - side->busy_since;
      if (trace_) trace_->end(side->unit);
    }
    side->idle.push_back(index);
    side->worker_free.notify();
  }
}

SimOutcome simulate(const HwConfig& hw, const ProgramSource& program) { return simulate(hw, program, nullptr); }

SimOutcome simulate(const HwConfig& hw, const ProgramSource& program, const TraceOptions* trace) {
  init_sim_time();
  // Declared before the accelerator so that it outlives it; its destructor removes partial files
  // if the simulation fails.
  std::unique_ptr<TraceRecorder> recorder;
  Accelerator acc("accelerator", hw, program);
  if (trace) {
    recorder = std::make_unique<TraceRecorder>(*trace, hw, acc.dram().channels(), program.tensors);
    acc.attach_trace(recorder.get());
  }
  sc_core::sc_start();
  rethrow_thread_failure();  // a UserError (time overflow), the watchdog's diagnosis
  acc.finish_array();
  ATTNSIM_ASSERT(acc.finished(), "simulation ended with instructions not done (a dependency cycle?): " +
                                     acc.progress());
  SimOutcome out;
  out.stats = acc.stats();
  out.stats.end_fs = ceil_to_edge(now_fs(), hw.array.period_fs());
  out.stats.cycles = out.stats.end_fs / hw.array.period_fs();
  out.dram_bytes_read = acc.dram().bytes_read();
  out.dram_bytes_written = acc.dram().bytes_written();
  out.dram_busy_fs = fs_t(acc.dram().busy_time().value());
  out.dram_peak_bytes_per_cycle = acc.dram().peak_bytes_per_cycle();
  acc.dram().write_stats(out.dram_stats);
  if (recorder) out.trace = recorder->finish(out.stats.end_fs);
  return out;
}

SimOutcome simulate(const HwConfig& hw, const TileProgram& program) {
  return simulate(hw, ProgramSource::of(program));
}

}  // namespace attnsim
