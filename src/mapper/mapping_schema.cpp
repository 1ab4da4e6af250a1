#include "mapper/mapping_schema.h"

#include "cascade/cascade.h"
#include "cascade/mapping.h"
#include "config/hw_config.h"
#include "config/presets.h"
#include "config/schema_recorder.h"
#include "mapper/mapping.h"

namespace attnsim {

namespace {

// Every op kind with every field it takes (the other kinds' fields are refused by hand, and
// recorded so whatever the example holds).
const char* const kMappingExample = R"({
  "mapping_version": 1,
  "ops": {
    "L0.qkv_proj": {"kind": "gemm", "tile": {"m": 512, "k": 768, "n": 256}, "loop_order": ["m", "n", "k"],
                    "resident": ["B"], "lead_block": 2},
    "L0.attention": {"kind": "flash", "tile": {"m": 1024, "p": 256}},
    "L1.attention": {"kind": "row_fused", "tile": {"m": 128}},
    "L2.attention": {"kind": "cascade", "mapping": {"cascade": "vanilla", "groups": [{"steps": ["S", "P", "O"]}]}},
    "L3.attention": {"kind": "fused", "tile": {"m": 256, "p": 256}, "units": {"S": "array", "P": "pe", "O": "array"},
                     "resident": ["K", "V"], "buffers": {"Q": 6, "O": 6, "K": 2, "V": 2}, "causal": false}
  }
})";

// Every key of a cascade mapping, on vanilla attention (its names: ranks m, p, e, f; tensors Q, K, V,
// S, P, O; steps S, P, O). The reader checks names against the cascade, not legality (check_mapping).
const char* const kCascadeMappingExample = R"({
  "//": "a comment",
  "cascade": "vanilla",
  "groups": [{"steps": ["S", "P", "O"], "loops": [{"rank": "m", "tile": 128}], "stream": {"p": 64},
              "resident": ["K", "V"], "interleave": 2, "splits": 2, "chain": true, "lead": 2,
              "ahead": 2}],
  "buffers": {"K": 1, "V": 1, "S": 2},
  "placement": {"S": {"bank": 4}, "P": {"at": [0, 65536]}, "O": {"in_place": "S"}},
  "units": {"S": "array", "P": "softmax", "O": "array"}
})";

const std::vector<SchemaDescription>& cascade_mapping_descriptions() {
  static const std::vector<SchemaDescription> d = {
      {"/^//", "a comment: any key starting with //, ignored"},
      {"/cascade", "the name of the cascade this mapping is for (e.g. vanilla); must be the cascade it is used with"},
      {"/groups",
       "the fused groups, taking the cascade's steps in order: each is one loop nest and one phase; a tensor "
       "written in one group and read in a later one goes through DRAM (default: one group of every step, no loops)"},
      {"/groups/[]/steps", "the group's steps, each named by the tensor it writes, consecutive in cascade order"},
      {"/groups/[]/loops", "the group's loops, outer to inner (default none: every rank whole in each tile)"},
      {"/groups/[]/loops/[]/rank", "the rank looped over, a rank name of the cascade (vanilla: m queries, p keys)"},
      {"/groups/[]/loops/[]/tile", "the tile size of the rank, in elements of the rank (at most 2^30)"},
      {"/groups/[]/stream",
       "ranks the group does not loop over that each step walks in chunks, DRAM operands loaded a chunk at a time: "
       "rank name to chunk size"},
      {"/groups/[]/stream/*", "the chunk size, in elements of the rank (at most its extent)"},
      {"/groups/[]/resident",
       "DRAM inputs of the group kept whole on chip per instance (head), by tensor name: each tile loaded at its "
       "first use and reused by every later iteration"},
      {"/groups/[]/interleave",
       "instances (heads) per pass, walked as the innermost loop of the group, each with its own slots of the "
       "tensors the group writes, so a tile of an input the heads share is loaded once per chunk (default 1, at "
       "most 64)"},
      {"/groups/[]/splits",
       "split-K (flash-decoding): the tiles of the online softmax's key loop (the innermost loop) cut into this many "
       "independent runs, each with its own running max, sum and output, combined at the end (default 1: one chain; "
       "at most 16 and at most the key tiles)"},
      {"/groups/[]/chain",
       "a contraction's next step on the tile the array's previous GEMM wrote does not wait for that GEMM to "
       "complete: the array accumulates in order, chained GEMMs overlap (default false)"},
      {"/groups/[]/lead",
       "a lead block: the first this many tiles of the outermost loop walked with the loop order reversed (a GEMM's "
       "first rows with k outermost), a contraction's tiles there open over its summed loop, a slot each (default 0; "
       "one group, no splits, interleave or softmax)"},
      {"/groups/[]/ahead",
       "where the overlapped steps (flash's Q K^T) of a later tile are issued: 1, those of tile j + 1 before "
       "softmax(j) and P V(j); 2, those of tile j + 2 after softmax(j) and before P V(j), a query tile normalised "
       "after the next tile's first softmax step (default 1; 2 needs the overlap)"},
      {"/buffers", "buffer slots per tensor, by tensor name (default 2 for each)"},
      {"/buffers/*",
       "slots of the tensor's buffer: 1, 2 so that the next tile loads or computes while this one is used, or up to 64 "
       "so that earlier tiles stay on chip and are read again from there"},
      {"/placement", "where a tensor's buffers go, by tensor name (default: packed in tensor order from byte 0)"},
      {"/placement/*", "the first bank, each slot's byte address, or the tensor it is written over"},
      {"/placement/*/bank", "the SRAM bank the buffers start at, 0 to the hardware's banks - 1"},
      {"/placement/*/at",
       "each slot's on-chip byte address (one per slot, up to 64), a multiple of 64 B: inside the SRAM, or past it in the "
       "accumulator storage when the hardware declares one"},
      {"/placement/*/in_place",
       "the tensor whose slots an element-wise map's result overwrites, its input written in the same group, on "
       "chip and read by that step only (a GEMM's epilogue on its accumulator tile)"},
      {"/units", "the unit each step runs on, by the tensor the step writes; checked against the hardware, not chosen"},
      {"/units/*",
       "array (contractions), softmax (softmax steps when the hardware has the unit), vector (softmax without one, "
       "maps, reductions), load (gathers)"},
  };
  return d;
}

std::vector<SchemaDescription> mapping_descriptions() {
  std::vector<SchemaDescription> d = {
      {"/mapping_version", "the format's version: 1 (default 1)"},
      {"/ops",
       "the fixed choices by op name (the phase names of --emit tiles, L<layer>.<op>, e.g. L0.qkv_proj); the mapper "
       "searches every op and field left out"},
      {"/ops/*", "one op's fixed choices: its kind, then the kind's fields; a field left out is searched"},
      {"/ops/*/kind",
       "gemm: a GEMM C[m,n] = A[m,k] B[k,n]; flash, row_fused: tile factors of vanilla attention's flash or "
       "row-fused schedule; cascade: a whole cascade mapping (what --emit mapping prints for attention and the "
       "layers' row-wise ops, norms, residual adds, activations, lowered from a cascade); fused: the schedule of attention fused in the array (the fused variant, on a datapath "
       "with in-array softmax)"},
      {"/ops/*/tile",
       "tile factors by rank, in elements: gemm m, k, n; flash m (query block) and p (key block); row_fused m "
       "(query block); fused m (query rows per fused instruction) and p (keys per key tile: the array's cols)"},
      {"/ops/*/tile/m", "rows of A and C per tile (attention: query rows per block), in elements"},
      {"/ops/*/tile/k", "gemm: the reduction rank k per tile, in elements"},
      {"/ops/*/tile/n", "gemm: columns of B and C per tile, in elements"},
      {"/ops/*/tile/p", "flash: key rows per block; fused: keys per key tile, the array's cols (checked), in elements"},
      {"/ops/*/units",
       "fused: the in-array binding, the unit of each step of vanilla attention by the tensor it writes (S = Q K^T, "
       "P = softmax, O = P V); checked against the datapath, not chosen"},
      {"/ops/*/units/S", "fused: array (Q K^T accumulates in place in the PEs)"},
      {"/ops/*/units/P",
       "fused: pe (the scale, max, exp and row sums in each PE's score entries, the running max, sum and O rescale "
       "in the row units of /datapath)"},
      {"/ops/*/units/O", "fused: array (P V on the probabilities resident in the PEs)"},
      {"/ops/*/buffers",
       "fused: slots per buffer: Q and O blocks 1 to 8 each (the next blocks load and the previous O blocks store "
       "while one computes), K and V 1 or 2 heads each (2: the next head's load under this head's blocks)"},
      {"/ops/*/buffers/Q", "fused: Q block slots, 1 to 8"},
      {"/ops/*/buffers/O", "fused: O block slots, 1 to 8"},
      {"/ops/*/buffers/K", "fused: heads of K on chip, 1 or 2"},
      {"/ops/*/buffers/V", "fused: heads of V on chip, 1 or 2"},
      {"/ops/*/causal", "fused: whether the layer is causal (each query block sees its keys up to its last row); checked "
                        "against the model, not chosen"},
      {"/ops/*/loop_order",
       "gemm: the loops outermost first, k never outermost: [m, n, k] or [n, m, k] (each C tile accumulates over "
       "the inner k), [m, k, n] or [n, k, m] (the outer row's C tiles stay on chip over k); not a choice for the "
       "other kinds"},
      {"/ops/*/resident",
       "gemm: the operands kept on chip, A and/or B (or none: []), each read from DRAM once; fused: K and V, kept "
       "whole per head on chip (required: [\"K\", \"V\"]); not a choice for the other kinds"},
      {"/ops/*/lead_block",
       "gemm: the first lead_block outer tiles (0 to 2) run as one block with k outermost, so that the inner "
       "operand's tiles each serve the whole block; not a choice for the other kinds"},
      {"/ops/*/mapping",
       "cascade: the op's cascade mapping, as attnsim schema cascade-mapping describes it; its names are checked "
       "against the op's cascade when it is compiled"},
  };
  for (const SchemaDescription& c : cascade_mapping_descriptions())
    d.push_back({"/ops/*/mapping" + c.location, c.text});
  return d;
}

// Runs the cascade mapping's reader over its example, on vanilla attention and a hardware with the
// most banks a config allows (so that the recorded maximum bank is every hardware's bound).
void record_cascade_mapping(SchemaRecorder* recorder, const std::string& mount) {
  HwConfig hw = parse_hw_config(parse_json_text(find_preset("edge"), "preset:edge"), "preset:edge");
  hw.sram.banks = kMaxSramBanks;
  const cascade::Cascade c = cascade::bind_cascade(cascade::parse_cascade(cascade::vanilla_attention_json(), "vanilla"),
                                                   {{"N", 1024}, {"d", 64}}, false);
  recorder->begin_document(mount);
  cascade::parse_mapping(parse_json_text(kCascadeMappingExample, "schema example"), "schema example", c, hw, recorder);
}

}  // namespace

Json mapping_schema() {
  SchemaRecorder recorder;
  recorder.begin_document();
  parse_mapping(parse_json_text(kMappingExample, "schema example"), "schema example", &recorder);
  record_cascade_mapping(&recorder, "/ops/*/mapping");
  return recorder.schema("attnsim mapping",
                         "The fixed schedule choices of a workload's ops (attnsim run --emit mapping prints them, "
                         "--mapping FILE reads them). Whether each op exists in the workload with that kind, tile "
                         "factors within its dimensions and the SRAM, and a cascade mapping's names, buffers and "
                         "units against its cascade and the hardware are checked by attnsim run, not here.",
                         mapping_descriptions());
}

Json cascade_mapping_schema() {
  SchemaRecorder recorder;
  record_cascade_mapping(&recorder, "");
  return recorder.schema("attnsim cascade mapping",
                         "How a cascade runs (a model's \"attention\": {\"variant\": \"cascade\", \"mapping\": FILE}, "
                         "and each op of kind cascade in a mapping file): groups, loops, streamed ranks, resident "
                         "inputs, interleaved heads, buffering, placement and units. Names of steps, ranks and tensors, a bank or "
                         "address inside the hardware, and the legality of the schedule are checked by attnsim "
                         "against the cascade and the hardware, not here.",
                         cascade_mapping_descriptions());
}

}  // namespace attnsim
