#pragma once
// Per-action energy and area tables (configs/energy/*.json, embedded as presets) and the hardware
// config's choice of one ("energy": {"preset": "45nm"} or {"file": PATH}, with the array's datatype
// and the DRAM technology). Every entry of a table carries its "source"; the reader checks each
// value's range and reports every problem of the file at once, by JSON path.
//
// SRAM energy per access and SRAM area per byte are power-law curves in the bank's capacity C and
// the port's width W, fitted to a reference point (PowerLawCurve::at):
//   value(C, W) = ref_value * (C / ref_capacity_bytes)^capacity_exponent * (W / ref_width_bytes)^width_exponent
// e.g. the 45 nm read energy, 10 pJ * sqrt(C / 8 KiB) * (W / 8 B), through Horowitz's 8 KB and 32 KB points.
#include <array>
#include <cstdint>
#include <string>

#include "config/json_reader.h"

namespace attnsim {

// The array's arithmetic: a MAC multiplies two operands of this type and accumulates in the type's
// accumulator (int8: int32; fp16, bf16, fp32: fp32).
enum class Datatype : std::uint8_t { Int8, Fp16, Bf16, Fp32, kCount };
inline constexpr int kDatatypeCount = int(Datatype::kCount);
const char* to_string(Datatype d);
int datatype_bytes(Datatype d);

// The DRAM technology the per-byte energy and the PHY area are taken for.
enum class DramTech : std::uint8_t { Ddr4, Lpddr4, Hbm2, Hbm3, kCount };
inline constexpr int kDramTechCount = int(DramTech::kCount);
const char* to_string(DramTech t);

struct PowerLawCurve {
  double ref_value = 0, ref_capacity_bytes = 1, ref_width_bytes = 1, capacity_exponent = 0, width_exponent = 0;
  double at(double capacity_bytes, double width_bytes) const;
};

// The primitives of the vector and softmax units, in VecPrim order (config/hw_config.h).
inline constexpr int kEnergyPrimCount = 7;

struct EnergyTable {
  std::string source;  // file path or "preset:NAME"
  std::string description;
  double node_nm = 0;
  // Energy, pJ.
  std::array<double, kDatatypeCount> mac_pj{};
  double pe_operand_register_pj_per_byte = 0;  // each MAC writes its two operands into PE registers
  double pe_accumulator_pj_per_byte = 0;       // each MAC reads and writes its partial sum
  PowerLawCurve sram_read_pj, sram_write_pj;   // per port access (capacity: the bank; width: the port)
  std::array<double, kEnergyPrimCount> vector_pj_per_lane_op{};
  std::array<double, kEnergyPrimCount> softmax_pj_per_lane_op{};
  // The fused datapath (hw_config.h DatapathConfig), by primitive in VecPrim order; the primitives it lacks
  // are 0: a PE's softmax steps (add, mul, max, exp), a row unit's operations (add, mul, max, exp, reciprocal).
  std::array<double, kEnergyPrimCount> datapath_pe_pj_per_op{};
  std::array<double, kEnergyPrimCount> row_unit_pj_per_op{};
  double dma_pj_per_byte = 0;
  std::array<double, kDramTechCount> dram_pj_per_byte{};
  double leakage_mw_per_mm2 = 0;
  // Area.
  std::array<double, kDatatypeCount> pe_um2{};
  PowerLawCurve sram_um2_per_byte;  // capacity: the bank (width unused when width_exponent is 0)
  double vector_um2_per_lane = 0, softmax_um2_per_lane = 0, softmax_um2_per_exp_unit = 0;
  // The fused datapath: each PE's softmax logic beyond its MAC, each PE-local score entry, a row unit per
  // operation it issues a cycle.
  double pe_softmax_um2 = 0, pe_score_entry_um2 = 0, row_unit_um2_per_op_per_cycle = 0;
  double dma_mm2 = 0;
  std::array<double, kDramTechCount> dram_phy_mm2_per_GBps{};
};

// The hardware config's "energy" section, resolved: the table, the array's datatype and the DRAM technology.
struct EnergyConfig {
  bool present = false;  // false only for a HwConfig built in code without a table
  EnergyTable table;
  Datatype datatype = Datatype::Fp16;
  DramTech dram = DramTech::Ddr4;
};

// Parses a table; every problem is reported at once as a UserError naming `source`. With a
// recorder, its rules are recorded too (config/schema_recorder.h).
EnergyTable parse_energy_table(const Json& doc, const std::string& source, SchemaRecorder* recorder = nullptr);
// A file path, or an embedded preset name (45nm, 7nm, fusemax-artifact) when `file_or_preset` is not a file.
EnergyTable load_energy_table(const std::string& file_or_preset);
// The embedded table of that name (parsed once), or nullptr.
const EnergyTable* find_energy_preset(const std::string& name);
std::string energy_preset_names();  // "45nm, 7nm, fusemax-artifact" for messages

// Reads the hardware config's "energy" view into *out (absent: preset 45nm, the datatype from
// operand_bytes, the DRAM technology from the cycle-accurate preset's name or DDR4). Problems of the
// section go to its Diagnostics; a problem inside the named table throws that table's UserError.
// base_dir: the directory relative "file" paths are taken from (the hardware config's, or "").
void read_energy_section(const JsonView& e, int operand_bytes, const std::string& dram_preset,
                         const std::string& base_dir, EnergyConfig* out);

}  // namespace attnsim
