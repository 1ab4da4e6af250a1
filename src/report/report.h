#pragma once
// Turns a simulation's raw statistics into the report: a JSON document (the full record), a CSV
// row of headline figures, and a short table for the terminal. Same inputs, byte-identical output.
#include <ostream>
#include <string>

#include "config/hw_config.h"
#include "compiler/model_lowering.h"
#include "hw/accelerator.h"
#include "ir/graph.h"
#include "ir/tile_program.h"
#include "report/energy.h"

namespace attnsim {

// workload: what was simulated, e.g. {"kind": "gemm", "m": 64, "k": 64, "n": 64}; phases: what the
// compiler made of each graph op (empty for a lone GEMM); graph: the workload graph the program was
// compiled from, for the compulsory roofline (report/roofline.h). A lone GEMM (workload kind "gemm")
// needs none; without either, the report has no roofline.compulsory section.
Json make_report(const HwConfig& hw, const Json& workload, const ProgramSource& program, const SimOutcome& outcome,
                 const std::vector<PhaseInfo>& phases = {}, const Graph* graph = nullptr);
Json make_report(const HwConfig& hw, const Json& workload, const TileProgram& program, const SimOutcome& outcome);

// A report of a model's first layers made the whole model's (sim/generate.h's prefill extrapolated over
// its layers): its run figures (cycles, time, MACs, utilization, array busy cycles, busy fractions,
// array stalls, DRAM bytes and bandwidth, the roofline against its own traffic, program counts, SRAM
// bank conflict cycles) from `o`, whose scalar statistics are the whole model's (its per-layer and
// per-bank vectors are not read); the compulsory roofline from the whole model's `graph`; the energy
// from `counts`. The rest (schedule, phases, layers, ops, SRAM banks and high water, accumulators, the
// DRAM model's statistics) stays the first layers'.
void put_whole_model_figures(const HwConfig& hw, const SimOutcome& o, const Graph& graph, const ActionCounts& counts,
                             Json* report);

// Headline figures as (column, value) pairs, flattened from the report, in a fixed order.
std::vector<std::pair<std::string, Json>> headline_figures(const Json& report);

void write_json_file(const std::string& path, const Json& doc);
// A value as one CSV cell: strings bare, other values as JSON; quoted when it holds , " or a newline.
std::string csv_cell(const Json& v);
// One header line and one row.
void write_csv_file(const std::string& path, const std::vector<std::pair<std::string, Json>>& row);
void print_summary(std::ostream& os, const Json& report);

// Creates a directory (and parents); UserError if it cannot.
void make_directories(const std::string& dir);

}  // namespace attnsim
