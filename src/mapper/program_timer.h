#pragma once
// A plain-C++ timing estimate of a tile program, for the mapper: fast enough to time a handful of
// candidate schedules per op, close enough to the SystemC accelerator to rank them.
//
// Model (the accelerator's, hw/accelerator.cpp, without SystemC): every unit (array, vector,
// softmax, load DMA, store DMA) takes its instructions in program order; an instruction starts when
// its unit is free and its dependencies are done; a BARRIER waits for everything before it. The
// schedule is built as a list schedule in time order: among the units' next instructions whose
// dependencies are all timed, the one that can start earliest is timed first, so shared resources
// (the DRAM bus, the SRAM bank ports) are reserved in the order of simulated time, as in the
// accelerator.
//   array:   compute cycles from the closed-form fold model (timing/array_timing), SRAM operand and
//            partial-sum transfers through the bank ports; a port stall extends the instruction.
//   vector, softmax: the closed-form unit cycles (timing/unit_timing) and their port transfers.
//   DMA:     issuing does not block the side (outstanding segments are in flight at once, up to the
//            configured number); each segment holds the DRAM bus for bytes / bandwidth in FIFO order
//            and is done `latency` cycles after its last byte (on the cycle-level DRAM a store's segment
//            is posted, hw/dram/dram_engine.h: done a cycle after the stores' bytes up to its end, written
//            at the peak, leave no more than the write queues hold); the instruction is done when its last
//            segment is and its SRAM side has moved the tile. The cycle-level DRAM is approximated
//            by its peak bandwidth, a fixed latency (kCycleDramLatency) and its rows: a segment's
//            data ends no earlier than the rows it needs are open. Within an aligned block of the
//            address mapping only channel and column change (AddressMapping::block_shift); a segment
//            covers consecutive channels there, and each channel's bank keeps the last row it opened.
//            A row not open is opened on that channel's rank no earlier than the segment's issue and
//            one activation after the rank's previous one (HwConfig DramConfig::Rows: max(tFAW / 4,
//            tRRD_S)). So short strided runs (a tile's rows of a few hundred bytes, each in a block of
//            its own) are bound by activations, as on the device (tests/test_mapper.cpp); refresh,
//            bank cycle times and the controller's reordering are left out.
// What it leaves out: the window of in-flight instructions, the DRAM device's own scheduling.
#include <cstdint>
#include <vector>

#include "config/hw_config.h"
#include "ir/tile_program.h"

namespace attnsim {

struct TimedProgram {
  std::int64_t cycles = 0;        // the last instruction's completion
  std::int64_t array_busy = 0;    // cycles the array computes
  std::uint64_t dram_bytes = 0;   // loaded + stored
  std::uint64_t instrs = 0;
};

// Collects a program's instructions (a ProgramSink) and times them on finish().
class ProgramTimer final : public ProgramSink {
 public:
  // The instructions are kept in a per-thread buffer reused from one timing to the next (the mapper
  // times many programs; growing a fresh vector each time cost a third of the time in page faults).
  explicit ProgramTimer(const HwConfig& hw);
  ~ProgramTimer() override;
  ProgramTimer(const ProgramTimer&) = delete;
  ProgramTimer& operator=(const ProgramTimer&) = delete;
  std::uint32_t add(Instr in) override;
  // done_cycles, when given, receives each instruction's completion cycle (for comparisons with a trace).
  TimedProgram finish(std::vector<std::int64_t>* done_cycles = nullptr);

  // Latency assumed for a cycle-level DRAM: about 50 ns at 1 GHz (an unloaded DDR4-3200 read is
  // 46-47 ns in DRAMSim3 and Ramulator 2).
  static constexpr std::int64_t kCycleDramLatency = 50;

 private:
  const HwConfig& hw_;
  std::vector<Instr>& instrs_;  // the thread's buffer (one timer at a time per thread)
};

// Times a program generated into a sink.
template <typename Generate>
TimedProgram time_program(const HwConfig& hw, Generate&& generate) {
  ProgramTimer t(hw);
  generate(static_cast<ProgramSink&>(t));
  return t.finish();
}

}  // namespace attnsim
