#pragma once
// A DRAM device and its controller settings: organization, JEDEC timing in clock cycles, and the
// controller's queues and address mapping. Plain C++ (no SystemC), so the config layer can validate a
// "cycle" DRAM config without a simulation kernel.
//
// Where a spec comes from: an embedded preset (configs/dram/NAME.json, see presets.h) or a device
// file of the same shape, then the overrides of a /dram object:
//   {"model": "cycle", "preset": "ddr4-3200", "channels": 2, "ranks": 1, "mapping": "RoBaRaCoCh",
//    "read_queue": 32, "write_queue": 32, "write_high": 24, "write_low": 8, "frontend_cycles": 5, "bank_queue": 8,
//    "timing": {"tRCD": 22}, "power_down": {"policy": "idle_cycles", "after_cycles": 100},
//    "self_refresh": {"policy": "off"}}
#include <cstdint>
#include <string>
#include <vector>

#include "config/json_reader.h"

namespace attnsim {

// JEDEC timing parameters, all in DRAM clock cycles (nCK). The constraint each one imposes is listed in
// dram_channel.cpp (the controller) and, independently, in timing_checker.cpp.
struct DramTiming {
  int CL = 0;      // RD to first data beat
  int CWL = 0;     // WR to first data beat
  int tRCD = 0;    // ACT to RD/WR, same bank
  int tRP = 0;     // PRE/PREA to ACT (and to REF), same bank
  int tRAS = 0;    // ACT to PRE, same bank
  int tRC = 0;     // ACT to ACT, same bank
  int tCCD_S = 0;  // RD to RD (WR to WR), same rank, different bank group
  int tCCD_L = 0;  // RD to RD (WR to WR), same bank group
  int tRRD_S = 0;  // ACT to ACT, same rank, different bank group
  int tRRD_L = 0;  // ACT to ACT, same bank group
  int tFAW = 0;    // at most four ACTs per rank in any window of tFAW cycles
  int tWR = 0;     // end of write data to PRE, same bank
  int tWTR_S = 0;  // end of write data to RD, same rank, different bank group
  int tWTR_L = 0;  // end of write data to RD, same bank group
  int tRTP = 0;    // RD to PRE, same bank
  int tRFC = 0;    // REF to ACT or REF, same rank
  int tREFI = 0;   // average interval between REFs to one rank
  int tRTRS = 0;   // rank-to-rank switch: extra bus gap between data bursts of different ranks
  // Power-down and self-refresh (used only when a /dram power policy enters them):
  int tCKE = 0;    // power-down entry (PDE) to exit (PDX): the shortest power-down; also PDX to the next PDE
  int tXP = 0;     // power-down exit (PDX) to any command of the rank
  int tCKESR = 0;  // self-refresh entry (SRE) to exit (SRX): the shortest self-refresh
  int tXS = 0;     // self-refresh exit (SRX) to any command of the rank
  // Per-bank refresh (used only with /dram/refresh "per_bank"; 0 where the standard has none): one REFpb
  // (LPDDR4/5 REFpb, DDR5 REFsb, HBM2/3 REFPB) refreshes a set of banks_per_refresh banks of the rank.
  int tRFCpb = 0;    // REFpb to ACT or REFpb of a refreshed bank
  int tREFIpb = 0;   // interval between REFpbs of a rank (round robin over its bank sets: tREFI / sets)
  int tPBR2PBR = 0;  // REFpb to the next REFpb of the rank (another bank set)
  int tPBR2ACT = 0;  // REFpb to an ACT of another bank of the rank
};

struct DramTimingField {
  const char* name;
  int DramTiming::*member;
  int min;
};
// Every timing parameter by its JSON name, in declaration order.
const DramTimingField* dram_timing_fields(int* count);

// The device's supply currents, for the DRAM energy from the controller's command counts (report/dram_energy.h),
// as DRAMPower and the Micron power calculators use them: per rail, the data-sheet IDD figures of one device
// (mA), the rank's devices drawing them together. Absent ("per_byte_fallback"): no current figures are
// known for the device, and its energy is the energy table's per-byte figure for the DRAM technology.
struct DramPowerRail {
  std::string name;  // "VDD", "VPP", "VDD2", ...
  double volts = 0;
  double idd0_mA = 0;   // one bank ACT-PRE cycling at tRC
  double idd2n_mA = 0;  // precharged standby: every bank closed
  double idd3n_mA = 0;  // active standby: a bank open
  double idd4r_mA = 0;  // burst read
  double idd4w_mA = 0;  // burst write
  double idd5b_mA = 0;  // burst (all-bank) refresh
  // Power-down and self-refresh (optional in a file; absent, the state is priced as the standby it stands for:
  // IDD2P = IDD2N, IDD3P = IDD3N, IDD6 = IDD2N).
  double idd2p_mA = 0;  // precharged power-down: every bank closed, CKE low
  double idd3p_mA = 0;  // active power-down: a bank open, CKE low
  double idd6_mA = 0;   // self-refresh
};
struct DramPower {
  bool present = false;  // false: per-byte fallback
  int devices_per_rank = 1;
  std::vector<DramPowerRail> rails;
  std::string source;  // where the figures (or the fallback) come from
};

struct DramSpec {
  std::string name;  // preset name or file
  std::string description;
  std::string standard;      // DDR4, DDR5, LPDDR4, LPDDR5, HBM2, HBM3, GDDR6, ...
  std::string speed_grade;   // "3200AA", "6400", ...: with standard, keys the timing checker's JEDEC table
  std::string channel_kind;  // "channel", "legacy channel (128-bit)", "pseudo-channel (32-bit)"
  // Organization of one channel.
  int channel_width_bits = 64;
  int burst_length = 8;  // data beats per burst (two per clock)
  int bank_groups = 1;
  int banks_per_group = 1;
  std::int64_t rows = 0;  // per bank
  int columns = 0;        // column addresses per row, each channel_width_bits wide
  // Timing.
  std::int64_t tCK_fs = 0;
  DramTiming t;
  // Controller.
  int channels = 1;
  int ranks = 1;
  std::string mapping = "RoBaRaCoCh";
  int read_queue = 32;
  int write_queue = 32;
  int write_high = 24;      // enter write drain when the write queue holds this many
  int write_low = 8;        // leave write drain when it holds this many or fewer (and reads wait)
  int frontend_cycles = 0;  // controller/PHY pipeline: cycles from acceptance until a request may be scheduled
  // Per-bank read command queues (DRAMSim3's PER_BANK queue structure; 0: off, one shared read queue). When set,
  // read_queue is the transaction queue in front of them: a read is accepted while it holds fewer than
  // read_queue reads, and enters the scheduler (FR-FCFS over every bank's queue) when its bank's queue holds
  // fewer than bank_queue reads, the oldest first; up to read_queue + banks x bank_queue reads are in flight.
  int bank_queue = 0;
  // Refresh (/dram/refresh, the device's controller "refresh"): "all_bank" (default: REF to a whole rank every
  // tREFI, after a PREA) or "per_bank" (where the standard has it: a REFpb to one bank set every tREFIpb, round
  // robin, the rank's other banks serving meanwhile). A per-bank REF refreshes the banks whose flat index in the
  // rank (bank_group x banks_per_group + bank) is congruent to its set modulo refresh_sets(): one bank (LPDDR4,
  // HBM), a bank pair (LPDDR5 BG mode), or the same bank of every bank group (DDR5 REFsb).
  bool per_bank_refresh = false;
  int banks_per_refresh = 0;  // the device's (organization): banks one per-bank REF refreshes; 0: no per-bank REF
  // Power policy (/dram/power_down, /dram/self_refresh; "idle_cycles" with after_cycles, or "off" = 0): a rank
  // with no queued request enters power-down after_cycles after its last RD/WR (active power-down if a row is
  // open, precharged power-down otherwise) and self-refresh (all banks precharged first) after its own
  // after_cycles; it leaves either state when a request for it arrives (or, from power-down, when a refresh
  // falls due). Off by default: the presets' cycle counts do not change.
  std::int64_t power_down_after_cycles = 0;
  std::int64_t self_refresh_after_cycles = 0;
  // Simulation, not hardware: false selects the reference FR-FCFS scan (dram_channel.cpp), kept to check
  // that the fast one issues the same commands at the same cycles (/dram/fast_path, default true).
  bool fast_path = true;
  DramPower power;

  int banks_per_rank() const { return bank_groups * banks_per_group; }
  int burst_bytes() const { return channel_width_bits / 8 * burst_length; }
  int burst_cycles() const { return burst_length / 2; }  // data bus cycles per burst (DDR)
  int bursts_per_row() const { return columns / burst_length; }
  int refresh_sets() const { return banks_per_refresh > 0 ? banks_per_rank() / banks_per_refresh : 0; }
  std::int64_t row_bytes() const { return std::int64_t(columns) * channel_width_bits / 8; }
  std::int64_t capacity_bytes() const;
  // The shortest tREFI at which a request can always be served between two refreshes (dram_spec.cpp).
  std::int64_t min_refresh_interval() const;
  // Peak data bandwidth of all channels, in bytes per second.
  double peak_bytes_per_second() const;
};

// Reads a /dram object of model "cycle" (preset + overrides), recording every problem in the view's
// Diagnostics under the object's JSON path. Returns the spec (meaningful only if no problem was recorded).
DramSpec parse_cycle_dram(const JsonView& d);

// For hw_config.cpp: validates a /dram "cycle" object and returns the peak bandwidth in bytes per
// accelerator cycle at the given accelerator clock (0 when the object has problems); the spec read
// goes to *spec when given.
double validate_cycle_dram_config(const JsonView& d, double accelerator_clock_mhz, DramSpec* spec = nullptr);

// A device description (configs/dram/*.json) with its controller defaults, checked as a whole;
// UserError with every problem. With a recorder, its rules are recorded too (config/schema_recorder.h).
DramSpec parse_dram_device(const Json& doc, const std::string& source, SchemaRecorder* recorder = nullptr);

// For the CLI: an embedded preset name, a device file (shaped like configs/dram/*.json), a /dram
// object file ({"model": "cycle", "preset": ...}) or a hardware config file with a /dram object.
// Throws UserError with every problem.
DramSpec load_dram_spec(const std::string& file_or_preset);

const char* find_dram_preset(const std::string& name);
std::string dram_preset_names();

}  // namespace attnsim
