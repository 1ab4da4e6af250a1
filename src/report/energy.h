#pragma once
// Energy and area of a run: the actions the simulator counted, each priced by the hardware's energy
// table (config/energy_table.h), plus leakage over the run's time. Plain arithmetic over counts, so
// anyone can recompute a total from the report's "actions" with another table.
//
//   array    = MACs x (mac_pj[datatype] + 2 x operand_bytes x pe_operand_register_pj_per_byte
//                                       + 2 x accumulator_bytes x pe_accumulator_pj_per_byte)
//   sram     = sum over banks of read accesses x sram_read_pj(bytes_per_bank, port_bytes)
//                              + write accesses x sram_write_pj(bytes_per_bank, port_bytes)
//              + accumulator storage accesses x acc_access_pj(port width) (below)
//   vector   = sum over primitives of the vector unit's lane operations x vector_pj_per_lane_op
//   softmax  = the same for the softmax unit (zero when there is none: its SOFTMAX work is the vector unit's)
//   datapath = the fused datapath's operations (GEMM fused_attention, timing/fused_timing.h fused_attention_actions):
//              sum over primitives of PE softmax steps x (datapath_pe_pj_per_op + 8 x pe_accumulator_pj_per_byte)
//              + row-unit operations x (row_unit_pj_per_op + 8 x pe_accumulator_pj_per_byte): each step reads
//              and writes its fp32 operand (a PE's score entry, a row unit's running value); zero without one
//   dma      = bytes the DMA moved (LOAD + STORE) x dma_pj_per_byte
//   dram     = dram dynamic + dram background: with the cycle-accurate controller and a device with current
//              figures, its command counts and power-state residency priced as report/dram_energy.h says;
//              otherwise (the ideal model, a per_byte_fallback device) bytes moved x dram_pj_per_byte[technology]
//              and no background
//   leakage  = leakage_mw_per_mm2 x on-chip area (everything but the DRAM PHY) x run time
//   total    = the sum of the eight, in this order
// Idle units cost no dynamic energy (clock gating): only leakage charges time.
//
// The accumulator storage (C bytes) is built from macros w = min(SRAM port, its two ports) bytes
// wide, n = ceil(widest port / w) of them side by side, C / n bytes each; an access of a W-byte port
// reads or writes ceil(W / w) of them in parallel, so either side pays the same per byte:
//   acc_access_pj(W) = ceil(W / w) x sram_read_pj(C / n, w)     (writes alike with sram_write_pj)
// and its area is C x sram_um2_per_byte(C / n, w).
// The fused datapath's area (absent: 0): PEs x (pe_softmax_um2 when the PEs have a softmax primitive
// + score_entries x pe_score_entry_um2) + row units x ops_per_cycle x row_unit_um2_per_op_per_cycle.
#include <array>
#include <cstdint>
#include <vector>

#include "config/hw_config.h"
#include "hw/accelerator.h"
#include "report/dram_energy.h"

namespace attnsim {

// What the run did, as counted by the units and the DRAM model.
struct ActionCounts {
  std::uint64_t macs = 0;
  std::vector<std::uint64_t> bank_read_accesses, bank_write_accesses;  // SRAM port accesses per bank
  std::uint64_t sram_read_bytes = 0, sram_written_bytes = 0;          // through the banks' ports
  std::uint64_t acc_array_read_accesses = 0, acc_array_write_accesses = 0;
  std::uint64_t acc_unit_read_accesses = 0, acc_unit_write_accesses = 0;
  std::array<std::uint64_t, kVecPrimCount> vector_lane_ops{}, softmax_lane_ops{};
  std::array<std::uint64_t, kVecPrimCount> datapath_pe_ops{}, row_unit_ops{};  // the fused datapath's
  std::uint64_t dma_bytes = 0;                             // LOAD and STORE bytes
  std::uint64_t dram_read_bytes = 0, dram_written_bytes = 0;  // what the DRAM model moved
  DramCommandCounts dram_commands;                            // the cycle-accurate controller's
  double seconds = 0;                                      // the run's simulated time
};
ActionCounts action_counts(const SimOutcome& o);

struct AreaBreakdown {
  double array = 0, sram = 0, accumulators = 0, vector = 0, softmax = 0, datapath = 0, dma = 0, dram_phy = 0;  // mm^2
  double total = 0;
  double on_chip_logic_and_memory() const { return total - dram_phy; }  // what leaks
};
AreaBreakdown area_breakdown(const HwConfig& hw);

// The energy of one action, pJ, as the breakdown prices it.
struct ActionEnergies {
  double mac = 0;  // with the PE's register and accumulator accesses
  double sram_read = 0, sram_write = 0;  // one bank port access
  double acc_array_read = 0, acc_array_write = 0, acc_unit_read = 0, acc_unit_write = 0;
  std::array<double, kVecPrimCount> datapath_pe_op{}, row_unit_op{};  // with the operand's register access
  double dma_byte = 0, dram_byte = 0;
  double leakage_pj_per_s = 0;
  bool dram_by_commands = false;  // the cycle-accurate model on a device with current figures
  DramCommandEnergies dram_command;
};
ActionEnergies action_energies(const HwConfig& hw, const AreaBreakdown& area);

struct EnergyBreakdown {
  double array = 0, sram = 0, vector = 0, softmax = 0, datapath = 0, dma = 0, dram = 0, leakage = 0;  // pJ
  double total = 0;  // array + sram + vector + softmax + datapath + dma + dram + leakage, summed in that order
  double dram_dynamic = 0, dram_background = 0;  // dram = dram_dynamic + dram_background
  bool dram_by_commands = false;
};
EnergyBreakdown energy_breakdown(const HwConfig& hw, const ActionCounts& counts);

// The energy of one op (a layer's op class, or a class summed over layers) from the actions its instructions
// were counted doing: MACs, SRAM and accumulator port accesses, lane operations, the fused datapath's operations,
// DMA bytes, each priced as for
// the run; DRAM's dynamic part is the run's apportioned by the op's share of the DMA bytes (the controller's
// commands carry no op: dram_pj_per_dma_byte = the run's DRAM dynamic energy / its DMA bytes). Background and
// leakage charge time, not ops: the run's only. Summed over every op, each part equals the run's.
struct OpEnergy {
  double array = 0, sram = 0, vector = 0, softmax = 0, datapath = 0, dma = 0, dram_dynamic = 0;  // pJ
  double total = 0;  // the seven, in this order
};
OpEnergy op_energy(const HwConfig& hw, const ActionEnergies& e, const OpStats& o, double dram_pj_per_dma_byte);
Json op_energy_json(const OpEnergy& e);

// The report's "energy" and "area_mm2" sections (hw.energy.present; empty objects otherwise).
Json energy_json(const HwConfig& hw, const ActionCounts& counts);
Json area_json(const HwConfig& hw);

}  // namespace attnsim
