#pragma once
// A mapping: the schedule choice for each op of a compiled workload, as the mapper made it
// (`attnsim run --emit mapping`) or as a user fixes it (`--mapping FILE`). Plain C++.
//
// JSON form (a user may give any subset of the ops, and of each op's fields; the mapper searches
// what is left free):
//   {
//     "mapping_version": 1,
//     "ops": {
//       "L0.qkv_proj": {"kind": "gemm", "tile": {"m": 512, "k": 768, "n": 256}, "loop_order": ["m", "n", "k"],
//                       "resident": ["B"]},
//       "L0.attention": {"kind": "flash", "tile": {"m": 1024, "p": 256}},
//       "L3.attention": {"kind": "row_fused", "tile": {"m": 128}},
//       "L5.attention": {"kind": "cascade", "mapping": {"cascade": "vanilla", "groups": [...], ...}},
//       "L6.attention": {"kind": "fused", "tile": {"m": 256, "p": 256}, "units": {"S": "array", "P": "pe", "O": "array"},
//                        "resident": ["K", "V"], "buffers": {"Q": 6, "O": 6, "K": 2, "V": 2}, "causal": false}
//     }
//   }
// Kind "cascade" carries a whole cascade mapping (cascade/mapping.h, its JSON form): what the mapper
// picks for an op lowered from a cascade (the vanilla attention variants), and the row-wise ops' row
// blocks (compiler/rowwise_cascades.h: "L0.norm1": {"kind": "cascade", "mapping": {"cascade":
// "layernorm", ...}}). Its content is checked
// against the op's cascade when the op is compiled; errors name /ops/NAME/mapping/... in the file.
// The kinds flash and row_fused fix tile factors of such an op and leave the rest to the mapper.
// Kind "fused" is the schedule of attention fused in the array (the fused variant; its fields in
// mapper/fused_search.h, checked against the layer and the hardware when the op is compiled).
// Op names are the phase names of `--emit tiles` (L<layer>.<op>); ranks are named as in the op's
// einsum: a GEMM C[m,n] = A[m,k] B[k,n] has ranks m, k, n and loop order m,n,k, n,m,k (the C tile
// accumulates over the inner k loop), m,k,n or n,k,m (the outer row's C tiles stay on chip over k),
// "resident" lists the operands kept on chip, and "lead_block": 2 runs the first two outer tiles as a
// block with k outermost (GemmTiling in compiler/gemm_lowering.h); attention has the query rank m and the key rank p (flash:
// m = bq, p = bk; row-fused: m = br, the query block).
#include <algorithm>
#include <cstdint>
#include <map>
#include <utility>
#include <string>
#include <vector>

#include "config/json_reader.h"

namespace attnsim {

struct OpMapping {
  std::string kind;                          // "gemm", "flash", "row_fused", "cascade", "fused"
  std::map<std::string, std::int64_t> tile;  // rank -> tile factor (elements); kind cascade: the first
                                             // group's query block m and key tile p (not in the JSON form)
  std::vector<std::string> loop_order;       // outermost first; empty: free
  // GEMM: the operands kept on chip ("A", "B"): the outer loop's operand by panel, the inner loop's
  // whole; read from DRAM once either way. Free unless has_resident (then possibly none).
  std::vector<std::string> resident{};
  bool has_resident = false;
  // GEMM: the first lead_block outer tiles run as one block with k outermost (for k: for inner: for
  // outer tile in the block), so that the inner operand's tiles, loaded as the block first needs
  // them, each serve the whole block; the rest as loop_order says. -1: free; 0: none.
  std::int64_t lead_block = -1;
  bool resident_a() const { return std::find(resident.begin(), resident.end(), "A") != resident.end(); }
  bool resident_b() const { return std::find(resident.begin(), resident.end(), "B") != resident.end(); }
  Json cascade = Json();                     // kind "cascade": the cascade mapping's JSON form
  // Kind "fused" (mapper/fused_search.h): the unit of each step by the tensor it writes (S, P, O: array,
  // pe), the slots of each buffer (Q, O: 1 to 8; K, V: 1 or 2), whether the layer is causal (-1: not
  // given); "resident" above lists K and V.
  std::map<std::string, std::string> units{};
  std::map<std::string, std::int64_t> buffers{};
  int causal = -1;
  // The tile factor of `rank`, or 0 when free.
  std::int64_t tile_of(const std::string& rank) const {
    auto it = tile.find(rank);
    return it == tile.end() ? 0 : it->second;
  }
};

struct ModelMapping {
  std::string source;                   // the file it was read from ("" when made by the mapper)
  std::vector<std::pair<std::string, OpMapping>> ops;  // by op name, in program (or file) order
  // The fixed choices for an op, or null.
  const OpMapping* find(const std::string& op) const {
    for (const auto& [name, m] : ops)
      if (name == op) return &m;
    return nullptr;
  }
  // "FILE: /ops/NAME/FIELD" for messages about a fixed choice.
  std::string where(const std::string& op, const std::string& field) const;
};

Json mapping_to_json(const ModelMapping& m);
// The mapping as text: one line per op, readable and diffable (what --emit mapping prints).
std::string mapping_to_text(const ModelMapping& m);
Json op_mapping_to_json(const OpMapping& m);
// Reads and validates the form (kinds, rank names per kind, positive tile factors, loop orders that
// are permutations of the kind's ranks); every problem at once, UserError naming file and path.
// With a recorder, its rules are recorded too (config/schema_recorder.h).
ModelMapping parse_mapping(const Json& doc, const std::string& source, SchemaRecorder* recorder = nullptr);
ModelMapping read_mapping_file(const std::string& path);

}  // namespace attnsim
