#pragma once
// Utilization traces of one simulation: what the units did over time, recorded while the simulation
// runs and written as it goes. Three outputs, each optional (TraceOptions):
//
//   timeline.csv  one row per window of W accelerator cycles (the last one may be shorter; it ends
//                 at the run's last cycle):
//                   window_start_cycle, window_end_cycle,
//                   array_busy, vector_busy, softmax_busy, load_dma_busy, store_dma_busy,
//                   bank0_port_use .. bank{B-1}_port_use, dram_ch0_GBps .. dram_ch{C-1}_GBps,
//                   dram_bytes_in_flight
//   trace.json    Chrome / Perfetto trace-event JSON: one track (thread) per unit, every tile
//                 instruction a complete slice on its unit's track, and per-window counters
//   trace.vcd     SystemC VCD (sc_trace) of the units' busy flags, the DMA transfers in flight and
//                 the DRAM bytes in flight, for GTKWave
//
// Conventions (all times are accelerator-clock times; 1 cycle = hw.array.period_fs()):
//   busy        exactly the report's busy time (SimStats): the array from a GEMM's start for its
//               compute cycles (not the SRAM port stall after them); the vector and softmax units
//               from an instruction's start to its end, port waits included; a DMA engine while at
//               least one of its DRAM transfers is in flight (to the aligned completion of its last
//               instruction). A window's busy value is busy time in the window / window time.
//               softmax_busy is the softmax unit's and stays 0 when there is none (SOFTMAX work
//               then counts in vector_busy).
//   port use    bytes moved through a bank's read and write sides in the window / (window cycles x
//               port_bytes x (read_ports + write_ports)). A transfer's bytes are spread evenly over
//               the cycles its bank side is occupied (sram_ports.h), so values are at most 1.
//   DRAM GB/s   bytes moved on channel c in the window / window time, in 10^9 bytes per second. The
//               ideal DRAM has one channel; its transfer's bytes are spread over its data-bus time.
//               The cycle-level DRAM counts each burst's burst_bytes over its data cycles (bursts
//               are whole: a transfer not aligned to bursts counts the whole bursts it touches).
//   in flight   DMA bytes handed to the DRAM model (from the call to IDram::transfer, back-pressure
//               included) and not yet completed, AVERAGED OVER TIME within the window (bytes).
//   numbers     fixed-point with at most 6 decimals, trailing zeros dropped; output is a pure
//               function of the simulation (byte-identical across runs).
//
// Window size: TraceOptions::window_cycles when given (windows are then written as soon as
// simulated time passes them, so memory does not grow with the run). With 0 (the default) the
// window is chosen while the run goes: it starts at 1 cycle and doubles (merging window pairs,
// exactly, since the accumulators are integers) whenever the run would need more than
// kAdaptiveWindows windows, so a run of C cycles gets the smallest power of two W with
// ceil(C / W) <= 2000: between 1000 and 2000 rows for any run longer than 2000 cycles.
//
// trace.json slices: a GEMM spans its compute cycles (as the array's busy time), a VECTOR or
// SOFTMAX its start to its end, a LOAD or STORE from when its DMA engine starts issuing it (its
// dependencies done) to its completion. Named "OPCODE class" ("GEMM qk", "LOAD ffn"); args: id,
// layer, cycles, and macs, m, k, n (GEMM), op, elems (VECTOR, SOFTMAX) or bytes, tensor (DMA).
// Counters ("ph":"C", at each window's start, the timeline's values): "unit busy (fraction)",
// "DRAM bandwidth (GB/s)" per channel, "DRAM bytes in flight (time average)", "SRAM port use
// (fraction)" per bank; then one sample of zeros at the run's end.
// ts and dur are in microseconds with 3 decimals (whole nanoseconds; each slice's end
// is rounded, then dur = end - ts, so back-to-back slices stay back to back). Slices are written
// as instructions complete, straight to the file. At most max_slices are written; the first one
// past that is dropped along with all later ones, the counters and the timeline stay complete, and
// the trace gets a global instant event "trace truncated at cycle X after N slices" (X: the cycle
// the first dropped slice ended) plus "otherData" fields.
//
// Lanes: units that run several instructions at once (the DMA engines, with up to `outstanding`
// transfers of many instructions in flight; the array with chained GEMMs) spread overlapping slices
// over extra tracks "load_dma #1", "load_dma #2", ... next to the unit's own track, at most
// max_lanes tracks per unit in all. A slice goes to the lowest lane whose slices all ended by its
// start; when every lane is still busy it goes to the lane that frees first and is drawn from that
// lane's last end (clipped: its args keep the whole "cycles" and add "clipped_cycles", the part
// not drawn). So a track's slices never overlap (the trace viewers need slices on a thread to nest)
// and a long run with 64 transfers in flight still shows a few DMA tracks.
//
// Arrows: dependency arrows (trace-event flow events, "ph":"s" bound to the producer's slice and
// "ph":"f" with "bp":"e" bound to the consumer's, both at the slice's drawn start, with the same
// "id"; Perfetto and chrome://tracing draw them from the producer's end to the consumer's start) for
// the instructions with ids in [arrows_from, arrows_from + arrows_instrs) (ids as in --emit tiles):
// one per dependency whose producer and consumer both lie in that window and both have a drawn slice
// of nonzero length. A bounded window keeps large runs' traces small; the recorder keeps one entry
// per instruction of the window. Flow events carry args "from" and "to", the two instruction ids.
#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "common/sim_time.h"
#include "config/hw_config.h"
#include "hw/dram/i_dram.h"
#include "ir/tile_program.h"
#include "timing/sram_ports.h"

namespace sc_core {
class sc_trace_file;
}

namespace attnsim {

struct TraceOptions {
  std::string dir;  // where timeline.csv, trace.json and trace.vcd go (created if missing)
  bool timeline = true, perfetto = true, vcd = false;
  std::int64_t window_cycles = 0;      // 0: adaptive (see above)
  std::uint64_t max_slices = 1000000;  // instruction slices in trace.json at most
  std::uint32_t max_lanes = 4;          // tracks per unit in trace.json at most (>= 1; see "Lanes")
  std::uint64_t arrows_from = 0;        // first instruction id of the dependency arrows' window
  std::uint64_t arrows_instrs = 2000;   // instructions in that window; 0: no arrows (see "Arrows")
  static constexpr std::uint32_t kMaxLanes = 64;
  static constexpr std::uint64_t kMaxArrowInstrs = 10000000;  // bounds the recorder's table (16 B each)
};

// The units with a track, in the timeline's column order.
enum class TraceUnit : std::uint8_t { Array, Vector, Softmax, LoadDma, StoreDma, kCount };
constexpr std::size_t kTraceUnits = std::size_t(TraceUnit::kCount);

// What was written, for the report's "trace" section.
struct TraceSummary {
  bool enabled = false;
  std::string dir;
  std::vector<std::string> files;  // names within dir, in the order timeline, perfetto, vcd
  std::int64_t window_cycles = 0;
  bool adaptive_window = false;
  std::uint64_t windows = 0;
  std::uint64_t max_slices = 0, slices_written = 0, slices_dropped = 0;
  bool truncated = false;
  std::int64_t truncated_at_cycle = -1;
  std::uint32_t max_lanes = 0;
  std::uint64_t slices_clipped = 0;  // drawn shorter because all of their unit's lanes were busy
  std::uint64_t arrows_from = 0, arrows_instrs = 0, arrows_written = 0;
  // Busy time per unit (TraceUnit order) summed over the timeline's windows, in fs: equal to the
  // SimStats busy times (a self-check of the windowing, used by the tests).
  std::array<fs_t, kTraceUnits> busy_fs{};
};

// Integer accumulators per window, in plain C++ (no SystemC), so the splitting can be tested alone.
// Window k covers [k W P, (k+1) W P) fs (W: window cycles, P: clock period). Columns hold fs of
// busy time or bytes; one extra 128-bit accumulator holds the in-flight integral (bytes x fs).
class TimelineWindows {
 public:
  static constexpr std::int64_t kAdaptiveWindows = 2000;

  // window_cycles 0: adaptive (starts at 1 and doubles to keep at most kAdaptiveWindows windows).
  TimelineWindows(std::size_t columns, fs_t period_fs, std::int64_t window_cycles);

  std::int64_t window_cycles() const { return window_cycles_; }
  bool adaptive() const { return adaptive_; }
  fs_t window_fs() const { return window_cycles_ * period_; }
  // Adds the overlap (fs) of [s, e) with each window to column col.
  void add_time(std::size_t col, fs_t s, fs_t e);
  // Spreads `amount` over [s, e) in proportion to each window's overlap (integer parts that sum to
  // amount exactly); all of it goes to s's window when e <= s.
  void add_spread(std::size_t col, fs_t s, fs_t e, std::uint64_t amount);
  // Adds value x overlap (bytes x fs) to each window's integral over [s, e).
  void add_integral(fs_t s, fs_t e, std::uint64_t value);

  // Windows held: [first(), first() + held()); their accumulators.
  std::int64_t first() const { return first_; }
  std::int64_t held() const { return std::int64_t(integral_.size()); }
  // A window's accumulators (0 for a window not held).
  std::uint64_t value(std::int64_t window, std::size_t col) const {
    return holds(window) ? values_[std::size_t(window - first_) * columns_ + col] : 0;
  }
  unsigned __int128 integral(std::int64_t window) const {
    return holds(window) ? integral_[std::size_t(window - first_)] : 0;
  }
  // Makes sure the window holding time t - 1 fs exists (t: an interval's exclusive end); in
  // adaptive mode this may double the window.
  void ensure(fs_t t);
  // Drops the windows below `window` (after they were written); later additions before
  // window * W cycles are clamped to it (none happen: see TraceRecorder::advance).
  void drop_before(std::int64_t window);
  // Moves whatever lies at or after window `last` + 1 into window `last` (defensive: nothing is
  // recorded past the run's end) and drops it.
  void fold_after(std::int64_t last);

 private:
  bool holds(std::int64_t window) const { return window >= first_ && window < first_ + held(); }
  void merge_pairs();  // adaptive: W doubles, window k becomes old 2k + old 2k + 1
  std::uint64_t& at(std::int64_t window, std::size_t col) {
    return values_[std::size_t(window - first_) * columns_ + col];
  }

  std::size_t columns_;
  fs_t period_;
  std::int64_t window_cycles_;
  bool adaptive_;
  std::int64_t first_ = 0;  // index of the first window held
  fs_t floor_fs_ = 0;       // nothing is added before this time (windows before it were dropped)
  std::vector<std::uint64_t> values_;
  std::vector<unsigned __int128> integral_;
};

// Records one simulation's trace: the Accelerator calls the hooks below (only when tracing: one
// pointer check at each call site otherwise), SramPorts and the DRAM model report through their
// observer interfaces. Every hook is called at the current simulated time (now_fs()); intervals
// that end in the future (a bank side or the DRAM bus reserved ahead) are accepted as such.
// Created during elaboration, before sc_start (the VCD file must exist by then); finish() once the
// simulation has ended.
class TraceRecorder final : public SramPortObserver, public DramDataObserver {
 public:
  // tensors: the program's, to name LOAD and STORE slices' tensors (may be empty).
  TraceRecorder(const TraceOptions& opts, const HwConfig& hw, int dram_channels, std::vector<TensorInfo> tensors);
  ~TraceRecorder() override;
  TraceRecorder(const TraceRecorder&) = delete;
  TraceRecorder& operator=(const TraceRecorder&) = delete;

  // A unit becomes busy / idle now (see "busy" above).
  void begin(TraceUnit u);
  void end(TraceUnit u);
  // An instruction ran on unit u over [start, end) fs (the array: its compute cycles; the others:
  // from its start to its completion). Writes a slice unless max_slices were written already.
  void slice(TraceUnit u, const Instr& in, fs_t start, fs_t end);
  // A DMA transfer of `bytes` is handed to the DRAM model now / returns from it now.
  void dram_issue(bool is_write, std::uint64_t bytes);
  void dram_done(bool is_write, std::uint64_t bytes);

  void on_bank_transfer(int bank, bool write, std::int64_t start_cycle, std::int64_t cycles,
                        std::uint64_t bytes) override;
  void on_dram_data(int channel, std::int64_t start_fs, std::int64_t end_fs, std::uint64_t bytes) override;

  // Closes the run at end_fs (the report's end, a clock edge): writes the remaining windows, the
  // lane names and the truncation marker, closes the files (renaming them from .partial into place).
  TraceSummary finish(fs_t end_fs);

 private:
  void advance(fs_t now);  // fixed windows: writes every window that ended by now
  void close_windows_before(fs_t boundary);
  void write_window(std::int64_t k, std::int64_t end_cycle);
  void write_counters_at(fs_t ts_fs, const double* busy, const std::vector<double>& ports,
                         const std::vector<double>& gbps, double in_flight);
  void event_separator();
  void flush_json(bool force);
  void open_files();
  void close_files(bool keep);

  TraceOptions opts_;
  const HwConfig& hw_;
  const fs_t period_;
  const int banks_, channels_;
  std::vector<TensorInfo> tensors_;
  TimelineWindows windows_;
  std::size_t col_bank0_, col_ch0_;
  fs_t next_close_fs_;  // fixed windows: the end of the first window not yet written

  // Current state.
  std::array<fs_t, kTraceUnits> since_{};  // when the unit became busy (valid while busy)
  std::array<bool, kTraceUnits> busy_{};   // also traced in the VCD
  std::array<int, 2> transfers_{};         // DMA transfers in DRAM (load, store), for the VCD
  sc_dt::uint64 in_flight_ = 0;            // DMA bytes in DRAM (also traced in the VCD)
  fs_t in_flight_since_ = 0;

  // Outputs.
  std::FILE* csv_ = nullptr;
  std::FILE* json_ = nullptr;
  sc_core::sc_trace_file* vcd_ = nullptr;
  std::string csv_path_, json_path_;
  std::string buf_;  // pending trace.json text (written in blocks)
  std::string line_;                                       // a timeline row
  std::vector<double> ports_scratch_, gbps_scratch_;       // a window's port use and bandwidth
  bool first_event_ = true;
  std::uint64_t slices_ = 0, dropped_ = 0;
  fs_t truncated_at_fs_ = -1;
  // Per unit: lanes' latest slice end (lane 0 is the unit's own track); at most max_lanes each.
  std::array<std::vector<fs_t>, kTraceUnits> lane_end_;
  std::uint64_t clipped_ = 0;
  // Per instruction of the arrows' window (index id - arrows_from): its slice's drawn start (ns) and
  // track; tid 0 while it has none.
  struct ArrowEnd {
    long long start_ns = 0;
    int tid = 0;
  };
  std::vector<ArrowEnd> arrow_ends_;
  std::uint64_t arrows_ = 0;
  std::array<fs_t, kTraceUnits> busy_total_{};  // summed from written windows
  std::uint64_t windows_written_ = 0;
  bool finished_ = false;
};

}  // namespace attnsim
