#pragma once
// SCALE-Sim v2's inputs (github.com/scalesim-project/scale-sim-v2): its run config (.cfg, an INI
// file read by Python's configparser) and its topology CSVs (convolution layers, or GEMMs "M, N, K"),
// read so that an architect's SCALE-Sim workloads run on attnsim unchanged. Every problem names the
// file, the line and the column (UserError); keys and features SCALE-Sim v2 does not have, or that
// attnsim does not model, are refused rather than ignored.
#include <cstdint>
#include <string>
#include <vector>

#include "config/hw_config.h"
#include "config/json_reader.h"

namespace attnsim {

// A SCALE-Sim v2 run config, as scalesim/scale_config.py reads it.
struct ScaleSimConfig {
  std::string source;      // the file
  std::string run_name;    // [general] run_name
  int rows = 0, cols = 0;  // ArrayHeight, ArrayWidth
  Dataflow dataflow = Dataflow::OS;
  // IfmapSramSzkB, FilterSramSzkB, OfmapSramSzkB: SCALE-Sim multiplies them by 1024 (KiB).
  std::int64_t ifmap_sram_kib = 0, filter_sram_kib = 0, ofmap_sram_kib = 0;
  // IfmapOffset, FilterOffset, OfmapOffset: the operands' base addresses in SCALE-Sim's traces.
  std::int64_t ifmap_offset = 0, filter_offset = 0, ofmap_offset = 0;
  // [run_presets] InterfaceBandwidth: USER (Bandwidth words per cycle to DRAM) or CALC (SCALE-Sim
  // finds the bandwidth at which the array never stalls).
  bool user_bandwidth = false;
  std::int64_t bandwidth_words_per_cycle = 0;  // USER only
  std::string topology_path;                   // [network_presets] TopologyCsvLoc, "" when absent
  std::int64_t sram_bytes() const { return (ifmap_sram_kib + filter_sram_kib + ofmap_sram_kib) * 1024; }
};

// Reads a .cfg file; every problem at once, each as "FILE:LINE:COLUMN: rule".
ScaleSimConfig read_scalesim_config(const std::string& path);

// The attnsim hardware document (hw_config.h's JSON) that models the run config; scalesim_input.cpp
// says how each key maps and what is not modelled. parse_hw_config validates it (source: the .cfg).
Json scalesim_hw_document(const ScaleSimConfig& cfg);

// One layer of a topology, lowered to the GEMM C[M x N] = A[M x K] B[K x N] SCALE-Sim computes.
struct TopologyLayer {
  std::string name;
  int line = 0;       // where it is in the file (1-based)
  bool conv = false;  // a convolution row (else a GEMM row)
  // Convolution rows: the fields as written (a GEMM row M, N, K reads as SCALE-Sim reads it: an
  // M x K ifmap, a 1 x K filter, one channel, N filters, stride 1).
  std::int64_t ifmap_h = 0, ifmap_w = 0, filter_h = 0, filter_w = 0, channels = 0, num_filters = 0;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t ofmap_h = 0, ofmap_w = 0;  // output pixels per filter, rows and columns
  std::int64_t m = 0, k = 0, n = 0;       // the GEMM: ofmap pixels x window size x filters
};

// SCALE-Sim's im2col (scalesim/topology_utils.py, compute/operand_matrix.py): the ifmap operand has a
// row per output pixel and a column per element of the convolution window, the filter operand a
// column per filter. With ofmap rows Ho = ceil((H - Fh + Sh) / Sh) and columns Wo likewise (SCALE-Sim
// rounds up: a window that starts inside the ifmap but runs past its edge still yields a pixel, so
// 224 x 224 with 11 x 11 at stride 4 gives 55 x 55, not 54 x 54):
//   M = Ho * Wo, K = Fh * Fw * C, N = num_filters.
// Fills ofmap_h, ofmap_w, m, k and n of a convolution layer.
void lower_conv_layer(TopologyLayer& layer);

enum class TopologyKind : std::uint8_t { Conv, Gemm };

struct Topology {
  std::string source;
  TopologyKind kind = TopologyKind::Conv;
  std::vector<TopologyLayer> layers;  // in file order; a depth-wise layer expanded into its channels
};

// Reads a topology CSV. Its header says which kind it is (SCALE-Sim's -i flag says so instead):
// four fields "Layer, M, N, K" for GEMMs, eight (or nine, with the column stride apart) for
// convolutions. Every problem at once, each as "FILE:LINE:COLUMN: rule".
Topology read_scalesim_topology(const std::string& path);

}  // namespace attnsim
