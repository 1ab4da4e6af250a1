#pragma once
// The SystemC top: executes a tile program on the array, the DMA engine, the SRAM banks and DRAM.
//
// Units and their threads:
//   array        one SC_THREAD, GEMMs in program order
//   load DMA     an issue thread (LOADs in program order) + `outstanding` transfer workers
//   store DMA    the same for STOREs
// An instruction starts when every instruction it depends on has completed (a scoreboard of done
// flags and one event), so loads of the next tiles run ahead into free double buffers while the
// array computes. Every start and completion falls on an accelerator clock edge.
#include <cstdint>
#include <memory>
#include <systemc>
#include <vector>

#include "common/sim_time.h"
#include "config/hw_config.h"
#include "hw/array/i_array.h"
#include "hw/dram/i_dram.h"
#include "ir/tile_program.h"

namespace attnsim {

// Raw results of one simulation, in femtoseconds and bytes; report/ turns them into figures.
struct SimStats {
  fs_t end_fs = 0;
  std::int64_t cycles = 0;
  fs_t array_busy_fs = 0, load_busy_fs = 0, store_busy_fs = 0;
  // Array stalls: waiting for a LOAD or STORE (memory), for another compute unit or a barrier
  // (dependency), or for SRAM ports that cannot feed the array as fast as it computes (sram_port).
  fs_t stall_memory_fs = 0, stall_dependency_fs = 0, stall_sram_port_fs = 0;
  std::uint64_t macs = 0, gemms = 0, loads = 0, stores = 0, dma_segments = 0;
  std::vector<std::uint64_t> bank_read_bytes, bank_written_bytes;
};

class Accelerator : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Accelerator);
  Accelerator(sc_core::sc_module_name name, const HwConfig& hw, const TileProgram& program);
  ~Accelerator() override;

  const SimStats& stats() const { return stats_; }
  const IDram& dram() const { return *dram_; }
  IDram& dram() { return *dram_; }
  bool finished() const { return completed_ == program_.instrs.size(); }

 private:
  struct Segment {
    std::uint64_t addr = 0, bytes = 0;
    std::uint32_t instr = 0;
  };
  struct DmaSide {
    bool is_write = false;
    std::vector<std::uint32_t> queue;      // instruction ids in program order
    std::vector<std::uint32_t> idle;       // idle worker indices (a stack)
    std::vector<Segment> assigned;         // per worker
    std::vector<sc_core::sc_event*> go;    // per worker
    std::vector<std::uint32_t> remaining;  // per instruction: segments not yet done
    std::vector<fs_t> earliest_done;       // per instruction: SRAM port bound on completion
    sc_core::sc_event worker_free;
    int in_flight = 0;
    fs_t busy_since = 0;  // when in_flight last rose from 0
  };

  void array_thread();
  void dma_issue_thread(DmaSide* side);
  void dma_worker_thread(DmaSide* side, std::uint32_t index);
  // Waits until every dependency of instr is done; returns the stall time by cause.
  void wait_for_deps(const Instr& instr, fs_t* memory_fs, fs_t* dependency_fs);
  void wait_for_barrier(const Instr& barrier);
  void complete(std::uint32_t id);
  void account_bank_bytes(const SramRegion& r, std::uint64_t bytes, bool write);
  // Cycles the banks under a region need to move `bytes` through their ports.
  std::int64_t sram_port_cycles(const SramRegion& r, std::uint64_t bytes, int ports) const;

  const HwConfig& hw_;
  const TileProgram& program_;
  const fs_t period_;
  std::unique_ptr<IArrayModel> array_;
  std::unique_ptr<IDram> dram_;
  std::vector<std::uint32_t> array_queue_;
  DmaSide load_, store_;
  std::vector<std::uint8_t> done_;
  std::size_t completed_ = 0;
  std::uint32_t done_prefix_ = 0;  // every instruction below this id is done
  sc_core::sc_event any_done_;
  std::vector<std::unique_ptr<sc_core::sc_event>> events_;
  SimStats stats_;
};

// Elaborates, runs to completion and returns the statistics (one elaboration per process).
struct SimOutcome {
  SimStats stats;
  Json dram_stats;
  std::uint64_t dram_bytes_read = 0, dram_bytes_written = 0;
  fs_t dram_busy_fs = 0;
  double dram_peak_bytes_per_cycle = 0;
};
SimOutcome simulate(const HwConfig& hw, const TileProgram& program);

}  // namespace attnsim
