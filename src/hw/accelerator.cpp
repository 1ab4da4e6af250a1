#include "hw/accelerator.h"

#include <algorithm>

#include "common/errors.h"
#include "hw/sram_traffic.h"

namespace attnsim {

using sc_core::sc_event;

Accelerator::Accelerator(sc_core::sc_module_name name, const HwConfig& hw, const TileProgram& program)
    : sc_module(name),
      hw_(hw),
      program_(program),
      period_(hw.array.period_fs()),
      array_(make_array_model(hw.array)),
      dram_(make_dram(hw)),
      done_(program.instrs.size(), 0) {
  stats_.bank_read_bytes.assign(std::size_t(hw.sram.banks), 0);
  stats_.bank_written_bytes.assign(std::size_t(hw.sram.banks), 0);
  load_.is_write = false;
  store_.is_write = true;
  for (const Instr& in : program.instrs) {
    switch (in.op) {
      case Opcode::Gemm:
        array_queue_.push_back(in.id);
        break;
      case Opcode::Load:
        load_.queue.push_back(in.id);
        break;
      case Opcode::Store:
        store_.queue.push_back(in.id);
        break;
      default:
        array_queue_.push_back(in.id), load_.queue.push_back(in.id), store_.queue.push_back(in.id);
        break;
    }
  }
  SC_THREAD(array_thread);
  for (DmaSide* side : {&load_, &store_}) {
    side->remaining.assign(program.instrs.size(), 0);
    side->earliest_done.assign(program.instrs.size(), 0);
    side->assigned.resize(std::size_t(hw.dma.outstanding));
    for (int w = hw.dma.outstanding - 1; w >= 0; --w) side->idle.push_back(std::uint32_t(w));
    for (int w = 0; w < hw.dma.outstanding; ++w) {
      events_.push_back(std::make_unique<sc_event>());
      side->go.push_back(events_.back().get());
      sc_core::sc_spawn_options opts;
      opts.set_stack_size(32 * 1024);
      sc_core::sc_spawn([this, side, w] { dma_worker_thread(side, std::uint32_t(w)); },
                        sc_core::sc_gen_unique_name(side->is_write ? "store_worker" : "load_worker"), &opts);
    }
    sc_core::sc_spawn_options opts;
    sc_core::sc_spawn([this, side] { dma_issue_thread(side); },
                      sc_core::sc_gen_unique_name(side->is_write ? "store_issue" : "load_issue"), &opts);
  }
}

Accelerator::~Accelerator() = default;

void Accelerator::complete(std::uint32_t id) {
  done_[id] = 1;
  ++completed_;
  while (done_prefix_ < done_.size() && done_[done_prefix_]) ++done_prefix_;
  any_done_.notify();
}

void Accelerator::wait_for_deps(const Instr& in, fs_t* memory_fs, fs_t* dependency_fs) {
  for (;;) {
    const Instr* pending = nullptr;
    for (int i = 0; i < in.num_deps && !pending; ++i)
      if (!done_[in.deps[i]]) pending = &program_.instrs[in.deps[i]];
    if (!pending) break;
    const fs_t t0 = now_fs();
    sc_core::wait(any_done_);
    fs_t* bucket = (pending->op == Opcode::Load || pending->op == Opcode::Store) ? memory_fs : dependency_fs;
    if (bucket) *bucket += now_fs() - t0;
  }
  align_to_edge(period_);
}

void Accelerator::wait_for_barrier(const Instr& b) {
  while (done_prefix_ < b.id) sc_core::wait(any_done_);
  if (!done_[b.id]) complete(b.id);
  align_to_edge(period_);
}

std::int64_t Accelerator::sram_port_cycles(const SramRegion& r, std::uint64_t bytes, int ports) const {
  if (bytes == 0 || r.bytes == 0) return 0;
  const std::uint64_t bpb = std::uint64_t(hw_.sram.bytes_per_bank);
  const std::uint64_t banks = (r.addr + r.bytes - 1) / bpb - r.addr / bpb + 1;
  const std::uint64_t per_cycle = banks * std::uint64_t(hw_.sram.port_bytes) * std::uint64_t(ports);
  return std::int64_t((bytes + per_cycle - 1) / per_cycle);
}

void Accelerator::account_bank_bytes(const SramRegion& r, std::uint64_t bytes, bool write) {
  if (r.bytes == 0 || bytes == 0) return;
  // Bytes spread evenly over the region; each bank gets its share of the region's extent.
  const std::uint64_t bpb = std::uint64_t(hw_.sram.bytes_per_bank);
  auto& v = write ? stats_.bank_written_bytes : stats_.bank_read_bytes;
  for (std::uint64_t b = r.addr / bpb; b <= (r.addr + r.bytes - 1) / bpb && b < v.size(); ++b) {
    const std::uint64_t lo = std::max(r.addr, b * bpb), hi = std::min(r.addr + r.bytes, (b + 1) * bpb);
    v[b] += bytes * (hi - lo) / r.bytes;
  }
}

void Accelerator::array_thread() {
  for (std::uint32_t id : array_queue_) {
    const Instr& in = program_.instrs[id];
    if (in.op == Opcode::Barrier) {
      wait_for_barrier(in);
      continue;
    }
    wait_for_deps(in, &stats_.stall_memory_fs, &stats_.stall_dependency_fs);
    const SramTraffic t = gemm_sram_traffic(hw_.array, in);
    // The array cannot run faster than the banks holding its operands can deliver them.
    const std::int64_t port_bound = std::max({sram_port_cycles(in.a.region(), t.a_read, hw_.sram.read_ports),
                                              sram_port_cycles(in.b.region(), t.b_read, hw_.sram.read_ports),
                                              sram_port_cycles(in.c.region(), t.c_written, hw_.sram.write_ports)});
    const std::int64_t cycles = array_->run_gemm({in.m, in.k, in.n}, nullptr);
    if (port_bound > cycles) {
      wait_fs((port_bound - cycles) * period_);
      stats_.stall_sram_port_fs += (port_bound - cycles) * period_;
    }
    stats_.array_busy_fs += cycles * period_;
    stats_.macs += in.macs();
    ++stats_.gemms;
    account_bank_bytes(in.a.region(), t.a_read, false);
    account_bank_bytes(in.b.region(), t.b_read, false);
    account_bank_bytes(in.c.region(), t.c_read, false);
    account_bank_bytes(in.c.region(), t.c_written, true);
    complete(id);
  }
}

void Accelerator::dma_issue_thread(DmaSide* side) {
  const std::uint64_t seg_max = std::uint64_t(hw_.dma.segment_bytes);
  for (std::uint32_t id : side->queue) {
    const Instr& in = program_.instrs[id];
    if (in.op == Opcode::Barrier) {
      wait_for_barrier(in);
      continue;
    }
    wait_for_deps(in, nullptr, nullptr);
    (side->is_write ? stats_.stores : stats_.loads)++;
    // SRAM side: the banks of the region move the tile through their ports no faster than this.
    const std::int64_t port_cycles =
        sram_port_cycles(in.sram.region(), in.sram.bytes(), side->is_write ? hw_.sram.read_ports : hw_.sram.write_ports);
    side->earliest_done[id] = now_fs() + port_cycles * period_;
    account_bank_bytes(in.sram.region(), in.sram.bytes(), !side->is_write);
    // Rows adjacent in DRAM merge into one run (all rows, if the DRAM model ignores addresses);
    // runs are cut into segments of at most seg_max.
    const bool contiguous = in.dram_stride == in.row_bytes || dram_->address_independent();
    const std::uint64_t runs = contiguous ? 1 : in.rows;
    const std::uint64_t run_bytes = contiguous ? in.bytes() : in.row_bytes;
    const std::uint64_t segs_per_run = (run_bytes + seg_max - 1) / seg_max;
    side->remaining[id] = std::uint32_t(runs * segs_per_run);
    if (side->remaining[id] == 0) {
      complete(id);
      continue;
    }
    for (std::uint64_t r = 0; r < runs; ++r)
      for (std::uint64_t s = 0; s < segs_per_run; ++s) {
        while (side->idle.empty()) sc_core::wait(side->worker_free);
        const std::uint32_t w = side->idle.back();
        side->idle.pop_back();
        const std::uint64_t off = s * seg_max;
        side->assigned[w] = {in.dram_addr + r * in.dram_stride + off, std::min(seg_max, run_bytes - off), id};
        if (side->in_flight++ == 0) side->busy_since = now_fs();
        side->go[w]->notify();
      }
  }
}

void Accelerator::dma_worker_thread(DmaSide* side, std::uint32_t index) {
  for (;;) {
    sc_core::wait(*side->go[index]);
    const Segment seg = side->assigned[index];
    dram_->transfer(seg.addr, seg.bytes, side->is_write);
    ++stats_.dma_segments;
    if (--side->remaining[seg.instr] == 0) {
      // The instruction is done when its last segment is and the SRAM ports have moved the tile.
      const fs_t done_at = ceil_to_edge(std::max(now_fs(), side->earliest_done[seg.instr]), period_);
      wait_fs(done_at - now_fs());
      complete(seg.instr);
    }
    if (--side->in_flight == 0)
      (side->is_write ? stats_.store_busy_fs : stats_.load_busy_fs) += now_fs() - side->busy_since;
    side->idle.push_back(index);
    side->worker_free.notify();
  }
}

SimOutcome simulate(const HwConfig& hw, const TileProgram& program) {
  init_sim_time();
  Accelerator acc("accelerator", hw, program);
  sc_core::sc_start();
  ATTNSIM_ASSERT(acc.finished(), "simulation ended with instructions not done (a dependency cycle?)");
  SimOutcome out;
  out.stats = acc.stats();
  out.stats.end_fs = ceil_to_edge(now_fs(), hw.array.period_fs());
  out.stats.cycles = out.stats.end_fs / hw.array.period_fs();
  out.dram_bytes_read = acc.dram().bytes_read();
  out.dram_bytes_written = acc.dram().bytes_written();
  out.dram_busy_fs = fs_t(acc.dram().busy_time().value());
  out.dram_peak_bytes_per_cycle = acc.dram().peak_bytes_per_cycle();
  acc.dram().write_stats(out.dram_stats);
  return out;
}

}  // namespace attnsim
