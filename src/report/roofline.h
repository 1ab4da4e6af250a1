#pragma once
// The compulsory roofline: the fewest cycles any schedule of a workload can take on a hardware
// config, from what the workload graph itself demands of each resource. Plain C++ on the graph.
//
// Units. The graph's ops, grouped as the workload fuses them: an attention group is one unit (its
// Q, K, V and weights read once, its output written once: S, P, and the low-rank variants'
// intermediates stay inside it), and an element-wise op (Gelu, Relu, Add) that is the only reader of
// a MatMul's output joins that MatMul (the product never has to leave the chip; attnsim's compiler
// fuses it as the GEMM's epilogue). Every other graph op is a unit of its own.
//
// Demands of a unit, in cycles of the array clock (each a lower bound on the cycles that resource
// must work for the unit):
//   array    MACs / PEs. MACs of the algorithm: every MatMul instance's m k n; a causal softmax's
//            masked scores need no MACs, so the MatMul producing its input and the MatMul reading
//            its output count only the unmasked elements (N (N + 1) / 2 of an N x N head); Pinv
//            6 iterations of 4 l^3 (graph.h; the transposition of Z0 is no arithmetic).
//   dram     compulsory DRAM bytes / peak DRAM bytes per cycle. Compulsory bytes: every tensor the
//            unit reads and no op of it writes, read once (the union of the blocks its ops read:
//            heads reading their columns of qkv read qkv once; a weight shared by heads once;
//            GatherRows reads only its p sampled rows), and every tensor it writes that another unit
//            reads, or the model's output, written once (the union of the blocks written). Weights
//            and the model input are included. Elements are the tensor's element size.
//   vector   the minimum issue cycles of the unit's element-wise and row-wise work on the vector
//            unit at full throughput: unit_timing.h's closed form, vector_cycles(), with no
//            per-instruction latency and no SRAM port limits, summed over the instances of each op
//            (one partial last vector per primitive kind and op): LayerNorm, RmsNorm, Add, AddRow,
//            Gelu, Relu, SwiGlu, L2Norm, PrefixMean, DivCol, RowSum, RowMax, FavorRows, FavorCols
//            with vec_op_prims() of their VecOp; SegmentMean as ColMeanAcc (an add per source element,
//            a mul and an add per mean); Pinv per instance (l x l) 19 l^2 add (column sums, 3 x 6
//            c I - X), 7 l^2 mul (Z0's division, 6 x 0.25 Z), l max, 1 reciprocal; MatMul and
//            GatherRows none.
//   softmax  the minimum issue cycles of the Softmax ops on the softmax unit, from the algorithm,
//            not from a schedule's extra work (flash's rescales, per-tile running maxima): per op,
//            with E the unmasked elements, R the rows, L lanes, X = min(lanes, exp_per_cycle),
//              ceil(E / L) [row max] + ceil(E / X) [exp(scale (x - max)), row sum]
//              + ceil(R / X) [1 / sum] + ceil(En / L) [normalise multiply]
//            (the passes of unit_timing.h, latency not counted). En = E, unless every reader of P is
//            a MatMul of the same unit taking P as its left operand: then the division may move to
//            the product (as flash divides O), En = min(E, that product's elements).
//            With no softmax unit the same work runs on the vector unit and lands in vector:
//            vector_cycles() with per element max 1, add 2 (x - max, row sum), mul 1 (scale), exp 1;
//            per row reciprocal 1; per normalised element mul 1; the softmax demand is then 0.
// A unit's bound is the largest of its demands; the binding resource is the one that sets it
// (ties: array, dram, vector, softmax, in that order).
//
// The mapped bound: the same with the array's demand taken as its geometry and dataflow allow,
// array_mapped_cycles = the sum over MatMul instances of F * I, F the folds and I the cycles between
// fold starts of timing/array_timing.h's fold_plan for the whole (untiled) GEMM on this array
// (overlapped: max(T, R); scalesim: the whole fold), the smaller of the GEMM and its transpose
// (C^T = B^T A^T swaps WS and IS). No tiling does better under that model: splitting a mapped
// dimension cannot reduce the folds, and a split of the streamed one pays max(T_i, R) per piece.
// It is at least MACs / PEs and equals it when the GEMM fills whole folds and streams at least R
// rows; it exceeds it when a dimension underfills the array (head_dim 32 on a 256 x 256 array: one
// eighth). Causal-masked MatMuls count their MACs / PEs (the mask skips whole tiles of any shape),
// Pinv 24 GEMMs of l x l x l per instance.
//
// The run. Demands summed over units (units run in parallel across ops: a schedule may overlap one
// op's DRAM traffic with another's compute), the array's and DRAM's from the summed MACs and bytes:
//   bound = max(ceil(sum MACs / PEs), ceil(sum compulsory bytes / bandwidth), sum vector, sum softmax).
// Compulsory bytes of the run are the sum over units: a tensor passed between units is written by
// one and read by each unit that reads it, as the graph's op boundaries require.
// sequential_bound_cycles = the sum of the units' bounds: the bound when units run one after another
// (as attnsim's phases run today: each a graph op or a part of one unit, separated by barriers).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "config/hw_config.h"
#include "ir/graph.h"
#include "timing/array_timing.h"

namespace attnsim {

enum class Resource : std::uint8_t { Array, Dram, Vector, Softmax, kCount };
const char* to_string(Resource r);  // "array", "dram", "vector", "softmax"
constexpr std::size_t kResourceCount = std::size_t(Resource::kCount);

// What a unit (or a sum of units) asks of the hardware, before division by the throughputs.
struct RooflineWork {
  std::uint64_t macs = 0;
  std::uint64_t dram_read_bytes = 0, dram_written_bytes = 0;
  std::int64_t vector_cycles = 0;        // issue cycles at full throughput (softmax work, without a softmax unit)
  std::int64_t softmax_cycles = 0;       // issue cycles on the softmax unit (0 without one)
  std::int64_t array_mapped_cycles = 0;  // the array's cycles as its geometry and dataflow allow
  RooflineWork& operator+=(const RooflineWork& o);
};

// Per resource, cycles; the largest and which resource it is.
struct RooflineBound {
  std::array<std::int64_t, kResourceCount> demand_cycles{};
  std::int64_t bound_cycles = 0;
  Resource binding = Resource::Array;
};

struct RooflineUnit {
  std::string name;  // "L0.attention", "L0.ffn_up+ffn_act", "L0.norm1", "gemm"
  int layer = 0;
  std::vector<int> graph_ops;  // indices into Graph::ops, in order
  RooflineWork work;
  RooflineBound bound;
  RooflineBound mapped;  // with the array's demand as mapped (array_mapped_cycles)
};

struct Roofline {
  std::vector<RooflineUnit> units;  // in graph order
  RooflineWork work;                // summed over units
  RooflineBound bound;              // of the run (summed demands)
  RooflineBound mapped;             // of the run, the array's demand as mapped
  std::int64_t sequential_bound_cycles = 0;
  // Per resource throughput the bounds divide by.
  std::int64_t pes = 0;
  double dram_bytes_per_cycle = 0;
};

// The bound of some work on hw: demands and their maximum.
RooflineBound roofline_bound(const RooflineWork& w, std::int64_t pes, double dram_bytes_per_cycle);
// The same with the array's demand w.array_mapped_cycles.
RooflineBound mapped_bound(const RooflineWork& w, double dram_bytes_per_cycle);

// dram_bytes_per_cycle: the DRAM's peak bandwidth in bytes per array cycle (IDram::peak_bytes_per_cycle).
Roofline compulsory_roofline(const HwConfig& hw, const Graph& g, double dram_bytes_per_cycle);

// The graph of a lone GEMM C = A B: A (m x k, the input), B (k x n, a weight), C (m x n, the output),
// elements of elem_bytes each; one MatMul op named "gemm".
Graph gemm_graph(const GemmDims& d, int elem_bytes);

}  // namespace attnsim
