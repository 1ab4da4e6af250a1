#pragma once
// The register-transfer-level systolic array, as plain C++ (no SystemC): PeArrayCore::step() advances
// every PE's registers by one clock cycle. PeArray (pe_array.cpp) calls it once per cycle from the
// caller's SC_THREAD and waits one clock period after each call.
//
// ---------------------------------------------------------------------------------------------------
// Mapping (timing/array_timing.h): the two non-streamed GEMM dimensions are spread over the R x C array and
// folded, the third (length T) streams through it. Fold g covers row-fold rf = g / col_folds and
// col-fold cf = g % col_folds. Partial folds are padded with zero operands to the whole array, so every
// fold is timed (and stepped) on the full R x C, as in SCALE-Sim.
//   OS: PE(i,j) owns C[rf*R+i][cf*C+j]; row i streams A[rf*R+i][t], column j streams B[t][cf*C+j].
//   WS: PE(i,j) holds B[rf*R+i][cf*C+j]; row i streams A[t][rf*R+i]; column j emits C[t][cf*C+j].
//   IS: PE(i,j) holds A[cf*C+j][rf*R+i]; row i streams B[rf*R+i][t]; column j emits C[cf*C+j][t].
// (WS and IS are the same hardware; only the feeders and the output addressing differ.)
//
// Registers (all flat arrays indexed p = i*C + j; "*_cur/*_nxt" pairs are read by a neighbour and are
// double-buffered: a cycle computes every *_nxt from *_cur, then the pairs are swapped, so the order in
// which PEs are visited does not matter. Registers read only by their own PE are updated in place.)
//   h      (all)    : the streamed operand moving right (OS: A; WS: A; IS: B) with its tag.
//   v      (OS)     : B moving down, with its tag.
//   acc    (OS)     : the accumulator of the fold being computed.
//   sacc   (OS)     : the shadow accumulator: takes acc's final value on the fold's last MAC and holds it
//                     until it can enter the drain path.
//   drain  (OS)     : a per-column output path moving down; results leave below row R-1.
//   psum   (WS/IS)  : the partial sum moving down (row 0 starts from 0); row R-1 emits C values.
//   chain  (WS/IS)  : the shadow stationary register; doubles as the load shift-chain (see below).
//   w      (WS/IS)  : the active stationary register the MAC uses.
// Every operand carries a tag: valid, fold number, element index t, and first/last flags (t == 0,
// t == T-1). The first-tagged operand of a fold resets the OS accumulator or swaps the shadow
// stationary register into the active one, PE by PE as the skewed wave passes; the last-tagged operand
// moves the OS result to the shadow accumulator or retires the active stationary value.
//
// Skew: the sequencer issues one stream element per cycle; row i sees it i cycles later and column j
// sees it j cycles later (a triangular delay line, modelled as a ring of issue records), so element t of
// fold g meets PE(i,j) at cycle s_g + t + i + j, where s_g is the cycle its first element was issued.
//
// Stationary load (WS/IS): over R consecutive cycles the loader issues the fold's tile into the top of
// each column, deepest row first (target row R-1 first, row 0 last); column j is delayed j cycles like
// the stream. The chain shifts values down; a register only takes a value from above while values are
// in transit (a wave, not a free-running shift), so row i's register is first overwritten at load
// start + j + i, and after R cycles every row holds its own value (state "resident").
//
// When a fold starts and ends (the cycle count is not computed, it emerges from this):
//   * A fold ends in the cycle in which PE(R-1,C-1) consumes its last-tagged operand (for WS/IS that
//     is also the cycle its last partial sum leaves the bottom row). The GEMM ends when its last fold
//     ends; run_gemm returns the number of cycles stepped until then.
//   * scalesim mode: a fold's first action (its stationary load, or for OS its stream) starts in the
//     cycle after the previous fold ended; WS/IS streaming starts the cycle after the load's last step.
//     So each fold takes L = P + R + C + T - 2 cycles and a GEMM F*L.
//   * overlapped mode: the stream port starts fold g when fold g-1's T elements have all been issued and
//       - WS/IS: fold g's tile is completely loaded (R load cycles), the load having started no earlier
//         than the cycle fold g-1 started streaming (see the hazard argument below);
//       - OS: R cycles have passed since fold g-1 started: each column's drain path moves one result a
//         cycle and a fold leaves R results per column in the (single) shadow accumulators.
//     Hence s_g = s_{g-1} + max(T, R) and the GEMM takes P + (F-1) max(T,R) + R + C + T - 2 cycles.
//
// Why double-buffering is enough here despite the skew (asserted every cycle, ATTNSIM_ASSERT):
//   WS/IS, shadow (chain) register of PE(i,j): fold g's value is swapped into w at s_g + i + j. Fold
//   g+1's load starts at s_g (not earlier), so the load wave first overwrites row i of column j at the
//   end of cycle s_g + j + i: the same cycle as the swap, which reads the register before it is written.
//   The skew of the load by column and the wave-like (not free-running) shift are both essential: a
//   load that shifted all rows of all columns together in the R cycles before s_{g+1} (TPU-style) would
//   overwrite PE(i,j)'s shadow at s_{g+1} - R, before its swap at s_g + i + j whenever
//   max(T,R) < R + i + j. Counterexample: 4x4 WS, M = 4 (T = 4), K = 8, N = 4 (F = 2): PE(3,3) swaps
//   fold 0 in at s_0 + 6 but fold 1's load would begin at s_0 + 4 - 4 = s_0.
//   WS/IS, active register w: fold g's last use is at s_g + T - 1 + i + j, fold g+1's swap at
//   s_{g+1} + i + j >= s_g + T + i + j.
//   OS, accumulator: fold g's last MAC is at s_g + T - 1 + i + j, fold g+1's first at >= s_g + T + i + j.
//   OS, shadow accumulator: fold g's result of PE(i,j) is written at e + i, with e = s_g + T - 1 + j.
//   The drain path gives priority to values passing from above, so row i's result enters the path at
//   e + 2i + 1 (rows 0..i-1 pass first) and fold g+1 writes the shadow again at e + max(T,R) + i; the
//   shadow is free in time iff i + 1 <= max(T, R), which holds for every row because max(T,R) >= R.
//   (With an interval of R-1, row R-1 would be overwritten: the R in max(T, R) is tight for OS.)
//   No deeper per-PE buffer is needed.
//
// Worked example, 2x2 WS, M = 3 (T = 3), K = 2, N = 2 (F = 1, P = R = 2), cycles numbered from 0:
//   cycles 0-1: load column 0 (B[1][0] then B[0][0]); column 1 loads in cycles 1-2.
//   cycle 2: A[0][0] enters row 0 (first), PE(0,0) swaps in B[0][0] and computes A[0][0] B[0][0].
//   cycles 3, 4: A[1][0], A[2][0] (last) enter row 0; row 1 gets A[t][1] one cycle later (3, 4, 5).
//   cycle 6: PE(1,1) consumes A[2][1] (tagged last, it entered row 1 at cycle 5 and moved right one PE)
//   and the psum for C[2][1] leaves the bottom row: the fold, and the GEMM, end after 7 cycles.
//   Closed form: L = P + R + C + T - 2 = 2 + 2 + 2 + 3 - 2 = 7; SCALE-Sim would print 6.
// Overlapped, 2x2 OS, M = 4, K = 1 (T = 1), N = 2 (F = 2): fold 0's only element is issued at cycle 0 and
//   reaches PE(1,1) at cycle 0 + 1 + 1 = 2; fold 1 may be issued once T = 1 and R = 2 cycles have passed,
//   at cycle 2, and reaches PE(1,1) at cycle 4: 5 cycles = 0 + (2-1) max(1,2) + 2 + 2 + 1 - 2 (scalesim:
//   fold 1 is issued the cycle after fold 0 ends, at 3, and ends at 5: 6 cycles = 2 * (2 + 2 + 1 - 2)).
//
// OS results of the last fold are still in the shadow accumulators / drain path when the GEMM's last
// MAC has happened (PE(R-1,C-1)'s result leaves the bottom R cycles later); like array_timing.h (and
// SCALE-Sim), the cycle count stops at the last MAC, and flush() moves those results out untimed.
//
// Instruction sequences (enqueue()): folds are numbered across the whole sequence and every tag also
// names its instruction (seq), whose dimensions, fold plan and operands the feeders and the output
// addressing use. Within an instruction the rules above apply unchanged. An instruction's first fold
// additionally waits for its ready cycle, and:
//   * without chaining (and in scalesim mode): until the previous instruction has ended (its last fold);
//   * with chaining (overlapped): exactly as if it were the next fold of the previous instruction, except
//     that OS compares last MACs instead of starts: the stream port issues it once the previous fold's
//     T_prev elements are out and c + T - 1 >= (previous fold's last issue) + R, the condition the
//     shadow-accumulator argument above needs when consecutive folds stream different lengths (with
//     equal T it is c >= s_prev + R). WS/IS load it once the previous fold has started streaming.
// The results of an OS instruction drain behind the next instruction's MACs (no flush in between);
// flush() at the end of the sequence moves out what remains. These are the rules of ArrayChain
// (timing/array_timing.h), which the fast model computes in closed form.
#include <cstdint>
#include <vector>

#include "config/hw_config.h"
#include "hw/array/i_array.h"
#include "timing/array_timing.h"

namespace attnsim {

class PeArrayCore {
 public:
  // chaining: consecutive instructions of a sequence overlap (ArrayConfig::gemm_chaining, overlapped
  // timing only); otherwise an instruction's first action waits until the previous one has ended.
  PeArrayCore(int rows, int cols, Dataflow df, TimingMode mode, bool chaining = false);

  // Resets every register and the sequencer for one GEMM. operands may be null (zeros move instead).
  void begin(const GemmDims& dims, const GemmOperands* operands);
  // One clock cycle: the sequencer issues, then every PE's registers advance. Returns true when every
  // queued instruction has ended (for begin(): the GEMM's last fold ended in this cycle).
  bool step();
  // After the last timed cycle: moves out the results still inside the array (OS), untimed.
  void flush();
  std::int64_t cycles() const { return cycle_; }

  // Instruction sequences (see "Instruction sequences" above). reset() empties the array and sets the
  // cycle count to 0; enqueue() adds a GEMM that may not start before cycle `ready` and returns its
  // sequence number (0, 1, ...); its operands must stay valid until flush() or until all its results
  // have left the array. start(seq) / done(seq): the cycle of its first array action, and the cycle
  // after its last MAC (its end), or -1 while not known, for the last kCtxSlots instructions.
  void reset();
  std::uint32_t enqueue(const GemmDims& dims, const GemmOperands* operands, std::int64_t ready);
  std::uint32_t enqueued() const { return enqueued_; }
  std::int64_t start(std::uint32_t seq) const { return ctx(seq).start; }
  std::int64_t done(std::uint32_t seq) const { return ctx(seq).done; }
  // No instruction in flight and no result inside the array: stepping would change nothing but the count.
  bool idle() const { return completed_ == total_folds_ && emitted_ == expected_outputs_; }
  // While idle: the cycle count jumps to `cycle` (skips idle cycles without stepping every PE).
  void skip_to(std::int64_t cycle);

 private:
  enum : std::uint8_t { kValid = 1, kFirst = 2, kLast = 4 };
  // The streamed operand (and, for OS, B moving down) with its tag. fold is the fold's number within
  // the whole sequence; seq the instruction it belongs to.
  struct Op {
    std::int32_t val;
    std::int32_t fold;
    std::int32_t idx;  // element index t within the fold's stream
    std::uint32_t flags;
    std::uint32_t seq;
  };
  // A partial sum moving down a column (WS/IS) with the tag of the operand that produced it.
  struct Psum {
    std::int64_t val;
    std::int32_t fold;
    std::int32_t idx;
    std::uint32_t flags;
    std::uint32_t seq;
  };
  // An OS result on its way down the drain path.
  struct Drained {
    std::int64_t val;
    std::int32_t fold;
    std::int32_t row;  // the PE row that produced it
    std::uint32_t valid;
    std::uint32_t seq;
  };
  // A stationary value in the load chain: its destination row and its state.
  enum : std::uint8_t { kFree = 0, kTransit = 1, kResident = 2 };
  struct Chain {
    std::int32_t val;
    std::int32_t fold;
    std::int32_t target;
    std::uint32_t state;
  };
  // What the sequencer issued in one cycle (read back i or j cycles later through the skew).
  struct Issue {
    std::int32_t fold;
    std::int32_t idx;  // stream: element t; load: load step (target row R-1-step)
    std::uint32_t flags;
    std::uint32_t seq;
  };
  // One GEMM instruction of the sequence.
  struct Ctx {
    GemmDims d;
    GemmOperands ops{};
    bool have_ops = false;
    FoldPlan plan;
    std::int64_t first_fold = 0;  // its folds are first_fold .. first_fold + plan.folds - 1
    std::int64_t ready = 0, start = -1, done = -1;
    std::int64_t outputs_left = 0;  // results that have not left the array yet
  };
  static constexpr std::uint32_t kCtxSlots = 1u << 12;  // instructions in the array at once, at most

  const Ctx& ctx(std::uint32_t seq) const { return ctxs_[seq % kCtxSlots]; }
  Ctx& ctx(std::uint32_t seq) { return ctxs_[seq % kCtxSlots]; }
  // The instruction that fold g belongs to, searching forward from *cursor (folds are asked in order).
  std::uint32_t seq_of_fold(std::int64_t g, std::uint32_t* cursor) const;
  // May fold g, the first of instruction x, take the stream (OS) or load (WS/IS) port in cycle c?
  bool first_fold_may_start(const Ctx& x, std::int64_t g, std::int64_t c) const;
  void sequence();
  void feed();
  void step_os();
  void step_stationary();
  std::int32_t stream_value(const Issue& s, int row) const;
  std::int32_t os_b_value(const Issue& s, int col) const;
  std::int32_t load_value(const Issue& l, int col, std::int32_t target) const;
  void emit_stationary(int col, const Psum& p);
  void emit_os(int col, const Drained& d);
  void note_fold_end(std::int32_t fold);
  bool os_empty() const;

  // Configuration.
  const int R_, C_;
  const Dataflow df_;
  const TimingMode mode_;
  const bool stationary_;
  const bool chaining_;

  // The instructions, by sequence number (a ring of kCtxSlots).
  std::vector<Ctx> ctxs_;
  std::uint32_t enqueued_ = 0;
  std::int64_t total_folds_ = 0, expected_outputs_ = 0;
  std::uint32_t stream_seq_ = 0, load_seq_ = 0, done_seq_ = 0;  // cursors: instructions of the next folds

  // Sequencer.
  std::int64_t cycle_ = 0;         // cycles stepped so far
  std::int64_t next_stream_ = 0;   // next fold to start streaming
  std::int64_t stream_fold_ = -1;  // fold being streamed, or -1
  std::uint32_t stream_fold_seq_ = 0;
  std::int64_t stream_t_ = 0;  // next element of stream_fold_
  std::int64_t stream_T_ = 0;  // its stream length
  std::int64_t last_stream_start_ = -1;
  std::int64_t last_stream_T_ = 0;  // stream length of the fold that started at last_stream_start_
  std::int64_t next_load_ = 0;      // next fold to load (WS/IS)
  std::int64_t load_fold_ = -1;     // fold being loaded, or -1
  std::uint32_t load_fold_seq_ = 0;
  std::int64_t load_step_ = 0;
  std::int64_t loaded_ = 0;     // folds whose load has completed (in an earlier cycle)
  std::int64_t completed_ = 0;  // folds that have ended
  std::int64_t emitted_ = 0;    // results that left the array
  std::vector<Issue> stream_ring_, load_ring_;
  std::int64_t ring_mask_ = 0;

  // Edge inputs of this cycle.
  std::vector<Op> row_in_;      // R: streamed operand entering each row
  std::vector<Op> col_in_;      // C: OS: B entering each column
  std::vector<Chain> load_in_;  // C: WS/IS: stationary value entering each column

  // PE registers (see the header comment).
  std::vector<Op> h_cur_, h_nxt_;
  std::vector<Op> v_cur_, v_nxt_;
  std::vector<std::int64_t> acc_;
  std::vector<std::uint8_t> acc_open_;
  std::vector<std::int32_t> acc_fold_;
  std::vector<std::int64_t> sacc_;
  std::vector<std::uint8_t> sacc_full_;
  std::vector<std::int32_t> sacc_fold_;
  std::vector<std::uint32_t> sacc_seq_;
  std::vector<Drained> drain_cur_, drain_nxt_;
  std::vector<Psum> psum_cur_, psum_nxt_;
  std::vector<Chain> chain_cur_, chain_nxt_;
  std::vector<std::int32_t> w_, w_fold_;
  std::vector<std::uint8_t> w_live_;  // the active value still has uses left in its fold
};

}  // namespace attnsim
