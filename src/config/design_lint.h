#pragma once
// Design lint: designs that are valid but will surely underperform or mislead, found from the
// configs alone (no simulation). Each warning names the JSON path of the field to look at and says
// what the figures are; `attnsim check` prints them (exit 0, or 2 with --strict).
//
// The rules, each a necessary condition for the array to run at full rate, so a warning is never a
// false alarm about speed (a design without warnings may still stall for other reasons):
//   sram_read_ports   the SRAM's read side (banks x read_ports x port_bytes per cycle when addresses
//                     are interleaved; read_ports x port_bytes of one bank per operand when banks are
//                     contiguous: a tile lives in one bank) is narrower than what the array consumes
//                     at full rate: OS (rows + cols) x operand_bytes per cycle (a column of A and a row
//                     of B); WS and IS rows x operand_bytes (the streamed operand), plus, without
//                     accumulator storage, cols x accumulator_bytes of partial sums read back per cycle
//                     (every K fold after the first accumulates in SRAM; timing/sram_traffic.h).
//   sram_write_ports  WS and IS without accumulator storage: the array writes a row of cols partial
//                     sums per cycle, cols x accumulator_bytes, against the write side.
//   softmax_rate      the softmax unit evaluates X = min(lanes, exp_per_cycle) exponentials per cycle
//                     (the vector unit lanes / cost[exp] when there is no softmax unit), and every score
//                     needs one; QK^T yields PEs / head_dim scores per cycle at full rate. X below that
//                     rate and attention's softmax, not the array, sets the pace (timing/unit_timing.h).
//   row_unit_rate     a datapath that admits fused attention (hw_config.h, DatapathConfig) whose row units
//                     take longer per key tile than the PEs (2 d + 4 operations and an exponential per row,
//                     ceil(rows / count) rows per unit, against 2 d MACs plus the in-PE softmax): the 1D
//                     array, not the 2D one, sets the pace of the fused schedule (timing/fused_timing.h).
//   score_entries     the same datapath whose PEs hold too few score entries to hide the row max's round trip
//                     (2 x cols cycles) under the next tiles' Q K^T (timing/fused_timing.h).
//   bank_count        interleaved banks that are not a power of two: the simulator picks a bank as
//                     (address / stripe) mod banks at no cost, where hardware needs a divider or a
//                     mapping table in the address path.
//   primal_samples    primal's rank s above its sample count p: the projections have rank at most p,
//                     so the extra rank costs work and buffers and adds nothing.
//   lowrank_rank      a low-rank variant's rank at or above N: no cheaper than the N x N form it
//                     approximates, so a comparison against vanilla misleads.
#include <cstdint>
#include <string>
#include <vector>

#include "config/hw_config.h"
#include "config/model_config.h"

namespace attnsim {

struct LintWarning {
  std::string rule;     // one of the names above
  std::string path;     // JSON path in the hardware config (or in the model, for the model's rules)
  bool in_model = false;
  std::string message;  // the figures and why it matters
};

// head_dim: the attention head size the softmax rule uses (a model's; 0 skips the rule).
std::vector<LintWarning> lint_hardware(const HwConfig& hw, std::int64_t head_dim);
// Which attention schedules the datapath admits, and why not when it does not (for `attnsim check`).
struct ScheduleAdmission {
  std::string schedule;  // "unfused", "row_fused", "flash", "fused"
  bool admitted = false;
  std::string why;       // where the softmax runs, or what is missing
};
std::vector<ScheduleAdmission> admitted_schedules(const HwConfig& hw);

// The model's own rules; with the hardware, the softmax rule for each distinct head_dim of the model.
std::vector<LintWarning> lint_model(const ModelConfig& model, const HwConfig* hw);

}  // namespace attnsim
