#pragma once
// The hardware description: a systolic array, banked on-chip SRAM, a DMA engine and DRAM behind
// one interface. Read from JSON (a file or an embedded preset name) with every problem reported.
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "config/dram_address_mapping.h"
#include "config/energy_table.h"
#include "config/json_reader.h"

namespace attnsim {

enum class Dataflow : std::uint8_t { OS, WS, IS };
// scalesim: each fold runs alone (SCALE-Sim v2's convention); overlapped: consecutive folds
// overlap through double-buffered stationary operands and shadow accumulators.
enum class TimingMode : std::uint8_t { ScaleSim, Overlapped };
// fast: closed-form latency per tile, one wait; pe: every PE register stepped each cycle.
enum class ArrayFidelity : std::uint8_t { Fast, Pe };
enum class DramModel : std::uint8_t { Ideal, Cycle };

const char* to_string(Dataflow d);
const char* to_string(TimingMode t);
const char* to_string(ArrayFidelity f);

struct ArrayConfig {
  int rows = 0;
  int cols = 0;
  Dataflow dataflow = Dataflow::OS;
  TimingMode timing = TimingMode::ScaleSim;
  ArrayFidelity fidelity = ArrayFidelity::Fast;
  // Consecutive GEMM instructions overlap like consecutive folds of one GEMM (the next one's stationary
  // preload and first fold hide under the previous one's last fold; timing/array_timing.h, ArrayChain).
  // Overlapped timing only: scalesim runs every fold alone (a config asking for both is rejected).
  bool gemm_chaining = false;
  double clock_mhz = 1000.0;
  int operand_bytes = 1;      // bytes per input operand element
  int accumulator_bytes = 4;  // bytes per partial sum element
  std::int64_t pes() const { return std::int64_t(rows) * cols; }
  // The clock period in femtoseconds (sim_time.h), rounded to a whole femtosecond.
  std::int64_t period_fs() const;
};

// Banked on-chip SRAM, one linear address space. Addresses map to banks in stripes of
// interleave_bytes: bank = (addr / interleave_bytes) % banks. interleave_bytes 0 in JSON (or
// absent) keeps the banks contiguous (bank = addr / bytes_per_bank), which is the same mapping with
// stripes of a whole bank; stripe_bytes() gives the stripe either way.
// The most banks a config may have (/sram/banks).
inline constexpr int kMaxSramBanks = 65536;

struct SramConfig {
  int banks = 0;
  std::int64_t bytes_per_bank = 0;
  int port_bytes = 0;   // bytes one port moves per cycle
  int read_ports = 1;   // per bank
  int write_ports = 1;  // per bank
  std::int64_t interleave_bytes = 0;  // 0: contiguous banks
  std::int64_t total_bytes() const { return banks * bytes_per_bank; }
  std::int64_t stripe_bytes() const { return interleave_bytes ? interleave_bytes : bytes_per_bank; }
  bool interleaved() const { return interleave_bytes != 0 && interleave_bytes != bytes_per_bank; }
};

// Optional accumulator storage beside the array (TPU-style): a memory of `bytes` at the addresses
// just above the SRAM's, [sram.total_bytes(), sram.total_bytes() + bytes), where the compiler keeps
// GEMM partial sums (accumulator-width C tiles) when they fit. The array reads and writes partial
// sums there through ports of its own, array_port_bytes per cycle each way (default cols x
// accumulator_bytes: one row of partial sums per cycle, what the array produces at full rate, so
// it is never throttled); the vector and softmax units and the DMA read and write it through a
// read and a write side of port_bytes per cycle each (default cols x accumulator_bytes too).
// Neither touches the SRAM banks' ports. Absent: present = false, partial sums live in SRAM.
struct AccumulatorConfig {
  bool present = false;
  std::int64_t bytes = 0;
  int port_bytes = 0;
  int array_port_bytes = 0;
};

struct DramConfig {
  DramModel model = DramModel::Ideal;
  double bytes_per_cycle = 0;       // ideal: sustained bandwidth in accelerator cycles
  std::int64_t latency_cycles = 0;  // ideal: fixed latency from request to last byte
  Json cycle_spec;                  // cycle: the whole /dram object, read by the DRAM model itself
  // Peak bandwidth in bytes per accelerator cycle (ideal: bytes_per_cycle; cycle: from the device).
  double peak_bytes_per_cycle = 0;
  // cycle: what the mapper's program timer knows of the device's rows (mapper/program_timer.h): the
  // address mapping, the channels, ranks and banks per rank, and the accelerator cycles per row
  // activation a rank sustains, max(tFAW / 4, tRRD_S) (activate_cycles 0: not known, rows ignored).
  struct Rows {
    AddressMapping mapping;
    int channels = 0, ranks = 0, banks_per_rank = 0, bank_groups = 0, banks_per_group = 0;
    double activate_cycles = 0;
  } rows;
  // cycle: the bytes the write queues hold (channels x write_queue x burst): a posted write is done once
  // no more than this is still to be written ahead of its end (mapper/program_timer.h).
  double write_queue_bytes = 0;
};

// The DMA engine has a load side and a store side, each issuing its instructions in program
// order. A tile is split into contiguous segments (a row of the tile, or several rows when they
// are adjacent in DRAM, cut at segment_bytes); each segment is one DRAM transfer, and up to
// `outstanding` segments per side are in flight at once.
struct DmaConfig {
  int outstanding = 64;
  std::int64_t segment_bytes = 2048;
};

// The primitives the vector unit issues; every VECTOR operation is priced as a count of these
// (timing/unit_timing.h). JSON names: add, mul, max, exp, rsqrt, reciprocal, prefix_sum.
enum class VecPrim : std::uint8_t { Add, Mul, Max, Exp, Rsqrt, Reciprocal, PrefixSum, kCount };
inline constexpr int kVecPrimCount = int(VecPrim::kCount);
const char* to_string(VecPrim p);

// The vector unit: `lanes` elements per issue; cost[p] is the issue cycles one primitive takes for
// `lanes` elements (an op needing 1 exp per element on 4 * lanes elements with exp cost 4 issues
// for 16 cycles), and latency_cycles is the pipeline depth, paid once per instruction.
// The "vector" section is optional. Defaults (kDefaultVectorCost): lanes = array cols (one lane per
// array column, so a row of results leaves the array at the rate the unit takes it), latency 4,
// cost add 1, mul 1, max 1, exp 4, rsqrt 4, reciprocal 4, prefix_sum 1: single-cycle ALU ops, and
// transcendental and reciprocal functions at a quarter of the rate, as in the special-function units
// of GPUs. A partial "cost" object fills the missing primitives with these defaults.
inline constexpr std::array<int, kVecPrimCount> kDefaultVectorCost = {1, 1, 1, 4, 4, 4, 1};
inline constexpr int kDefaultVectorLatency = 4;
struct VectorConfig {
  int lanes = 0;  // the parser fills in the array's cols
  int latency_cycles = kDefaultVectorLatency;
  std::array<int, kVecPrimCount> cost = kDefaultVectorCost;
  int cost_of(VecPrim p) const { return cost[std::size_t(p)]; }
};

// An optional dedicated softmax unit (timing/unit_timing.h has its timing model): `lanes` lanes
// of max / add / mul, `exp_per_cycle` exponentials (and reciprocals) per cycle in total, and
// latency_cycles of pipeline depth per instruction. When the "softmax" section is absent the
// accelerator has none (present = false) and SOFTMAX instructions run on the vector unit.
// In JSON, lanes is required; exp_per_cycle defaults to lanes and latency_cycles to 4.
struct SoftmaxConfig {
  bool present = false;
  int lanes = 0;
  int exp_per_cycle = 0;
  int latency_cycles = 0;
};

// What the datapath can do beyond the array's MACs and the vector and softmax units (the optional
// "datapath" section; absent: nothing, present = false). FuseMax-class designs (Nayak et al., MICRO
// 2024) keep a score tile inside the 2D array: each PE computes its score by MACs over the head dim,
// then the running-max compare, the subtraction of the row max, the exponential and its share of the
// row sum itself, holds the probability for P V, and a 1D array of row units beside the array keeps
// each query row's running max and sum and rescales and accumulates that row's output.
// PE primitives: 0 = the PE cannot do it, else the PE's issue cycles for one element (its MAC unit
// is busy meanwhile). score_entries: score-tile elements (fp32) each PE holds; with E of them the Q K^T of
// the next E - 1 tiles fills the wait for this tile's row max (timing/fused_timing.h).
struct DatapathConfig {
  bool present = false;
  int pe_max_cycles = 0;             // running max: compare and keep
  int pe_add_cycles = 0;             // add (the subtraction of the row max, the row sum's share)
  int pe_row_scalar_mul_cycles = 0;  // multiply by a scalar broadcast along the row (the 1/sqrt(d) scale)
  int pe_exp_cycles = 0;             // one exponential
  int pe_score_entries = 0;          // score elements of PE-local storage
  int row_units = 0;                 // units of the 1D array (0: none)
  int row_unit_ops_per_cycle = 0;    // add / multiply / max operations per cycle per unit
  int row_unit_exp_cycles = 0;       // cycles of one exponential or reciprocal on a row unit
  // The PE primitives the in-array softmax needs (max, add, row-scalar multiply, exp) and somewhere to keep a score.
  bool pe_softmax() const {
    return pe_max_cycles > 0 && pe_add_cycles > 0 && pe_row_scalar_mul_cycles > 0 && pe_exp_cycles > 0 &&
           pe_score_entries > 0;
  }
  // Whether the fused in-array attention schedule runs on this datapath: the PE softmax and row units.
  bool admits_fused_attention() const { return present && pe_softmax() && row_units > 0; }
  // A PE's cycles per score for the in-array softmax: max, scale, minus the row max, exp, its row-sum share
  // (timing/fused_timing.h).
  std::int64_t pe_softmax_cycles() const {
    return std::int64_t(pe_max_cycles) + pe_row_scalar_mul_cycles + 2 * std::int64_t(pe_add_cycles) + pe_exp_cycles;
  }
  // A PE's issue cycles per key tile at head dim d: Q K^T, the softmax, P V.
  std::int64_t pe_issue_cycles(std::int64_t d) const { return 2 * d + pe_softmax_cycles(); }
  // Cycles a PE waits between the end of its row-max compare and the subtraction of the new running max on
  // an array `cols` wide: the round trip (C hops to the row unit, its compare, C hops back) is 2 C + 1
  // cycles from the compare's first cycle (timing/fused_timing.h).
  std::int64_t pe_round_trip_wait(std::int64_t cols) const {
    return std::max<std::int64_t>(0, 2 * cols + 1 - pe_max_cycles);
  }
  // A PE's cycles per key tile: its issue, or each score entry held for the issue plus the wait, E entries
  // in turn (timing/fused_timing.h).
  std::int64_t pe_tile_cycles(std::int64_t cols, std::int64_t d) const {
    const std::int64_t issue = pe_issue_cycles(d), held = issue + pe_round_trip_wait(cols);
    return std::max(issue, (held + pe_score_entries - 1) / pe_score_entries);
  }
  // A row unit's cycles per key tile for `rows` query rows at head dim d: 2 d + 4 operations and one
  // exponential per row (timing/fused_timing.h).
  std::int64_t row_unit_tile_cycles(std::int64_t rows_per_unit, std::int64_t d) const {
    return (rows_per_unit * (2 * d + 4) + row_unit_ops_per_cycle - 1) / row_unit_ops_per_cycle +
           rows_per_unit * row_unit_exp_cycles;
  }
  // A row unit's cycles for the final O / l of `rows` rows: one reciprocal and d multiplies per row.
  std::int64_t row_unit_normalize_cycles(std::int64_t rows_per_unit, std::int64_t d) const {
    return (rows_per_unit * d + row_unit_ops_per_cycle - 1) / row_unit_ops_per_cycle +
           rows_per_unit * row_unit_exp_cycles;
  }
};

struct HwConfig {
  std::string source;  // file path or "preset:NAME"
  std::string description;
  ArrayConfig array;
  SramConfig sram;
  AccumulatorConfig accumulators;
  DramConfig dram;
  DmaConfig dma;
  VectorConfig vector;
  SoftmaxConfig softmax;
  DatapathConfig datapath;
  // The per-action energy and area table, the array's datatype and the DRAM technology (the optional
  // "energy" section; absent: the 45 nm table). report/energy.h prices a run's counted actions with it.
  EnergyConfig energy;
  Json resolved;  // the document as read, for reports
  // The first address of the accumulator storage (just above the SRAM's), and whether an on-chip
  // region lies in it.
  std::uint64_t accumulator_base() const { return std::uint64_t(sram.total_bytes()); }
  bool in_accumulators(std::uint64_t addr) const { return accumulators.present && addr >= accumulator_base(); }
  // Bytes of the on-chip address space: the SRAM, then the accumulator storage.
  std::uint64_t onchip_bytes() const {
    return std::uint64_t(sram.total_bytes()) + std::uint64_t(accumulators.present ? accumulators.bytes : 0);
  }
};

// Parses a hardware document; every problem is reported at once as a UserError.
// With a recorder, its rules are recorded too (config/schema_recorder.h).
HwConfig parse_hw_config(const Json& doc, const std::string& source, SchemaRecorder* recorder = nullptr);
// Reads a file path, or an embedded preset name (edge, cloud, tpu-v1) when no such file exists;
// *source becomes the path or "preset:NAME" for messages.
Json read_hw_document(const std::string& file_or_preset, std::string* source);
// read_hw_document, then parse_hw_config.
HwConfig load_hw_config(const std::string& file_or_preset);

}  // namespace attnsim
