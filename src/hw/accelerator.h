#pragma once
// The SystemC top: executes a streamed tile program on the array, the vector unit, the optional
// softmax unit, the DMA engine, the SRAM banks and DRAM.
//
// Threads:
//   producer     runs the compiler's generator; instructions enter a window of kWindow slots and
//                the producer waits while the window is full (the oldest unfinished instruction
//                holds it), so memory does not grow with the program's length
//   array        GEMMs in program order; with gemm_chaining a GEMM may start before the previous one
//                has ended, and a second thread (array_retire) ends them in order
//   vector       VECTORs (and SOFTMAXes when there is no softmax unit) in program order
//   softmax      SOFTMAXes in program order, when the hardware has a softmax unit
//   load DMA     an issue thread (LOADs in program order) + `outstanding` transfer workers
//   store DMA    the same for STOREs
// An instruction starts when every instruction it depends on has completed (a scoreboard of done
// flags and one event). Every unit moves its SRAM bytes through the banks' shared ports
// (sram_ports.h), so a unit finishes no earlier than its port transfers do. Every start and
// completion falls on an accelerator clock edge.
//
// Tracing (trace_recorder.h), only when a recorder is attached: each unit reports when it becomes
// busy and idle (by the same definition as the busy times in SimStats) and each instruction as a
// slice, each DMA worker its DRAM transfers, and the SRAM ports and the DRAM model the bytes they
// move (observers). Without a recorder each of these is one null-pointer check.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <systemc>
#include <vector>

#include "common/sim_time.h"
#include "config/hw_config.h"
#include "hw/array/i_array.h"
#include "hw/dram/i_dram.h"
#include "hw/trace_recorder.h"
#include "ir/tile_program.h"
#include "timing/sram_ports.h"

namespace attnsim {

// What one (layer, op class) did: busy time per unit, work, and when it ran.
struct OpStats {
  fs_t array_busy_fs = 0, vector_busy_fs = 0, softmax_busy_fs = 0;
  std::uint64_t macs = 0, load_bytes = 0, store_bytes = 0, instrs = 0;
  fs_t first_start_fs = -1, last_end_fs = 0;
  // For the energy per op (report/energy.h): the port accesses its instructions made, the lane operations
  // of its VECTOR and SOFTMAX instructions on each unit.
  SramAccessCounts sram;
  std::array<std::uint64_t, kVecPrimCount> vector_lane_ops{}, softmax_lane_ops{};
  // The fused datapath's own operations (GEMM fused_attention; timing/fused_timing.h fused_attention_actions):
  // the PEs' softmax steps and the row units', by primitive.
  std::array<std::uint64_t, kVecPrimCount> datapath_pe_ops{}, row_unit_ops{};
};

// Raw results of one simulation, in femtoseconds and bytes; report/ turns them into figures.
struct SimStats {
  fs_t end_fs = 0;
  std::int64_t cycles = 0;
  fs_t array_busy_fs = 0, load_busy_fs = 0, store_busy_fs = 0, vector_busy_fs = 0, softmax_busy_fs = 0;
  // SOFTMAX work, wherever it ran (the softmax unit, or the vector unit when there is none).
  fs_t softmax_work_fs = 0;
  // Array stalls: waiting for a LOAD or STORE (memory), for a SOFTMAX (softmax), for a VECTOR
  // (vector: a norm, an activation, a rescale the array needs first), for anything else (dependency:
  // another GEMM, a barrier's turn), or for SRAM ports; at a barrier, the wait is charged to the kind
  // of the oldest unfinished instruction (sram_port: the banks holding its operands cannot feed it
  // as fast as it computes, alone or shared with other units).
  fs_t stall_memory_fs = 0, stall_softmax_fs = 0, stall_vector_fs = 0, stall_dependency_fs = 0,
       stall_sram_port_fs = 0;
  std::uint64_t macs = 0, gemms = 0, vector_ops = 0, softmax_ops = 0, loads = 0, stores = 0, dma_segments = 0;
  std::uint64_t instrs = 0;
  std::int64_t bank_queueing_cycles = 0;  // port time units waited behind other units (bank conflicts)
  std::vector<std::uint64_t> bank_read_bytes, bank_written_bytes;
  std::vector<std::uint64_t> bank_read_accesses, bank_write_accesses;  // port accesses (port_bytes wide)
  // Lane operations by primitive (VecPrim order, timing/unit_timing.h unit_lane_ops) on the vector
  // unit (VECTOR instructions, and SOFTMAX ones when there is no softmax unit) and on the softmax unit.
  std::array<std::uint64_t, kVecPrimCount> vector_lane_ops{}, softmax_lane_ops{};
  // The fused datapath's PE softmax steps and row-unit operations by primitive (GEMM fused_attention).
  std::array<std::uint64_t, kVecPrimCount> datapath_pe_ops{}, row_unit_ops{};
  SramPorts::AccumulatorTotals accumulators;  // accumulator storage traffic (zero when there is none)
  // Indexed [layer][op class].
  std::vector<std::array<OpStats, std::size_t(OpClass::kCount)>> ops;
};

class Accelerator : public sc_core::sc_module {
 public:
  static constexpr std::uint32_t kWindow = 1u << 14;  // instructions in flight between compiler and units

  SC_HAS_PROCESS(Accelerator);
  Accelerator(sc_core::sc_module_name name, const HwConfig& hw, const ProgramSource& program);
  ~Accelerator() override;

  SimStats stats() const;  // with the SRAM ports' byte totals
  const IDram& dram() const { return *dram_; }
  IDram& dram() { return *dram_; }
  bool finished() const { return producer_done_ && done_prefix_ == next_id_; }
  // Records a trace (call before sc_start; null: none, the default). Every hook is one pointer
  // check when there is no recorder.
  void attach_trace(TraceRecorder* recorder);
  std::string progress() const;  // where the program stands, for error messages
  // The watchdog's bound in cycles: the longest the units may go without completing an
  // instruction or a DMA segment while none of them computes (accelerator.cpp).
  std::int64_t watchdog_cycles() const { return watchdog_cycles_; }
  // Long runs: a progress line on stderr at most every `seconds` of wall time (0: none, the default).
  void set_progress_interval(double seconds) { progress_interval_s_ = seconds; }
  void finish_array() { array_->finish(); }  // after the simulation: results left inside the array leave

 private:
  struct Queue {  // a unit's instruction ids in program order (at most kWindow of them)
    std::vector<std::uint32_t> ring;
    std::uint32_t head = 0, tail = 0;
    sc_core::sc_event pushed;
    bool empty() const { return head == tail; }
  };
  struct Segment {
    std::uint64_t addr = 0, bytes = 0;
    std::uint32_t instr = 0;
  };
  struct DmaSide {
    bool is_write = false;
    Queue* queue = nullptr;
    std::vector<std::uint32_t> idle;       // idle worker indices (a stack)
    std::vector<Segment> assigned;         // per worker
    std::vector<sc_core::sc_event*> go;    // per worker
    std::vector<std::uint32_t> remaining;  // per window slot: segments not yet done
    std::vector<fs_t> earliest_done;       // per window slot: SRAM port bound on completion
    std::vector<fs_t> started;             // per window slot, when tracing: when issue began
    std::vector<fs_t> assigned_at;         // per worker: when its segment went to DRAM (watchdog)
    TraceUnit unit = TraceUnit::LoadDma;
    sc_core::sc_event worker_free;
    int in_flight = 0;
    fs_t busy_since = 0;  // when in_flight last rose from 0
  };
  class WindowSink;

  void producer_thread();
  void array_thread();
  // A GEMM FusedAttention on the array (timing/fused_timing.h): the array is busy for its occupancy, then
  // fused_retire_thread completes it when its drain has passed, while the next instruction already runs.
  void run_fused_attention(std::uint32_t id, const Instr& in);
  void fused_retire_thread();
  void chained_array_thread();  // gemm_chaining: begins GEMMs, possibly before the previous one ended
  void array_retire_thread();   // gemm_chaining: ends them in order, completes them
  // The part of a wait of the array thread since t0 during which the array was idle (a stall).
  fs_t array_idle_part(fs_t t0) const;
  void vector_thread(Queue* q, bool softmax_unit);
  void dma_issue_thread(DmaSide* side);
  void dma_worker_thread(DmaSide* side, std::uint32_t index);
  std::uint32_t push(Instr in);  // called by the producer
  // Next instruction of a unit's queue; false when the program has ended.
  // attribute: charge a wait for an empty queue to the kind of the oldest unfinished instruction.
  bool next(Queue& q, std::uint32_t* id, bool attribute = false);
  bool is_done(std::uint32_t id) const { return id < done_prefix_ || done_[id % kWindow]; }
  const Instr& instr(std::uint32_t id) const { return window_[id % kWindow]; }
  // Waits until every dependency of instr is done; adds the wait to the bucket of the cause.
  void wait_for_deps(const Instr& instr, bool attribute);
  void wait_for_barrier(std::uint32_t id, bool attribute);
  void attribute_stall(Opcode waiting_for, fs_t waited);
  void complete(std::uint32_t id);
  // No silent hang: when instructions are pending and no unit completes an instruction, returns a
  // DMA segment or computes for watchdog_cycles(), stops the run with an InternalError naming the
  // stuck units and the oldest waiting instructions (a dependency that can never be met, a DRAM
  // that serves nothing).
  void watchdog_thread();
  std::string stuck_units() const;
  void note_progress() { last_progress_fs_ = now_fs(); }
  void print_progress();
  // Reserves SRAM port time for bytes over a tile; returns when (fs) the ports are done. array_side:
  // the array's own ports, when the tile is in accumulator storage.
  fs_t sram_transfer(const SramTile& t, std::uint64_t bytes, bool write, bool array_side = false);
  // Charges the port accesses made since `before` (this thread's reservations, no wait between) to in's op.
  void charge_sram_accesses(const Instr& in, const SramAccessCounts& before);
  OpStats& op_stats(const Instr& in);
  void note_span(OpStats& s, fs_t start, fs_t end);

  const HwConfig& hw_;
  const ProgramSource& program_;
  const fs_t period_;
  std::unique_ptr<IArrayModel> array_;
  std::unique_ptr<IDram> dram_;
  SramPorts ports_;
  std::vector<Instr> window_;
  std::vector<std::uint8_t> done_;
  std::uint32_t next_id_ = 0;      // ids given so far
  std::uint32_t done_prefix_ = 0;  // every instruction below this id is done
  bool producer_done_ = false;
  Queue array_q_, vector_q_, softmax_q_, load_q_, store_q_;
  DmaSide load_, store_;
  sc_core::sc_event any_done_;
  std::vector<std::unique_ptr<sc_core::sc_event>> events_;
  SimStats stats_;
  TraceRecorder* trace_ = nullptr;
  // Watchdog and progress.
  std::int64_t watchdog_cycles_ = 0;
  fs_t last_progress_fs_ = 0;
  int computing_ = 0;  // units inside a timed compute or SRAM-port wait (their end is scheduled)
  sc_core::sc_event finished_;
  double progress_interval_s_ = 0;
  double progress_start_s_ = 0, progress_last_s_ = 0;
  std::uint32_t progress_countdown_ = 0;

  // gemm_chaining (chained_array_thread, array_retire_thread).
  struct ArrayFlight {  // a GEMM the array has started and not yet ended
    std::uint32_t id = 0;
    fs_t start = 0, ports_done = 0;
  };
  bool array_chained_ = false;
  std::vector<ArrayFlight> array_flight_;  // a ring, in program order
  std::size_t array_flight_head_ = 0, array_flight_count_ = 0;
  int array_in_flight_ = 0;    // started and not yet ended (the array is busy)
  fs_t array_busy_until_ = 0;  // end of the last ended GEMM
  fs_t array_idle_since_ = 0;  // when the last ended GEMM completed (its SRAM transfers done)
  fs_t array_ports_done_ = 0;  // the last begun GEMM's SRAM transfers are done
  sc_core::sc_event array_begun_;

  // Fused attention instructions whose occupancy has ended and whose output is still draining, in
  // program order (a ring of kWindow slots): their ids (the array model says when O has left: end_fused).
  std::vector<std::uint32_t> fused_draining_;
  std::size_t fused_head_ = 0, fused_count_ = 0;
  sc_core::sc_event fused_pushed_;
};

// Elaborates, runs to completion and returns the statistics (one elaboration per process).
struct SimOutcome {
  SimStats stats;
  Json dram_stats;
  std::uint64_t dram_bytes_read = 0, dram_bytes_written = 0;
  fs_t dram_busy_fs = 0;
  double dram_peak_bytes_per_cycle = 0;
  TraceSummary trace;  // enabled only when a trace was recorded
};
SimOutcome simulate(const HwConfig& hw, const ProgramSource& program);
SimOutcome simulate(const HwConfig& hw, const TileProgram& program);
// With trace non-null, also records the utilization traces it asks for into trace->dir
// (trace_recorder.h: timeline.csv, trace.json, trace.vcd) and describes them in SimOutcome::trace.
SimOutcome simulate(const HwConfig& hw, const ProgramSource& program, const TraceOptions* trace);
// For long single runs (run, gemm): simulate() prints a progress line on stderr at most every
// `seconds` of wall time (0: never, the default).
void set_simulation_progress_interval(double seconds);

}  // namespace attnsim
