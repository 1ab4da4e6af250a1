#pragma once
// The workload description: a transformer model as a list of layers, read from JSON (a file in
// models/ or an embedded preset name) with every problem reported at once, path-aware.
//
// File format (models/*.json):
//   {
//     "description": "...",
//     "dtype": "fp16",                       // fp32 | fp16 | bf16 | int8: operand element type (default fp16)
//     "defaults": { LAYER FIELDS },          // optional: applied to every layer
//     "layers": [ { "repeat": 11 }, { "attention": {"variant": "primal", "rank": 20} } ]
//   }
// LAYER FIELDS (all required after defaults are applied, except where noted):
//   "d_model": int, "heads": int, "head_dim": int, "seq_len": int, "batch": int (default 1),
//   "ffn": {"width": int, "activation": "gelu" | "relu" | "swiglu"},
//   "norm": "layernorm" | "rmsnorm" (default layernorm), "norm_position": "pre" | "post" (default pre),
//   "causal": bool (default false),
//   "attention": {"variant": NAME, ...variant parameters}, "repeat": int (default 1, layers only),
//   "kv_heads": int (default heads; grouped-query attention: the heads share kv_heads K/V heads, which
//   must divide heads; 1 is multi-query attention)
// Generation (top level, optional): "generate": int (tokens generated per sequence after the prompt;
// 0 or absent: no generation, the model runs whole sequences), "prefill": int (the prompt's tokens,
// default the first layer's seq_len). With generate > 0 every layer must be causal and of a variant that
// decodes token by token (flash, row_fused, unfused, primal_causal, lowrank_linear: its causal form is
// the recurrence M_i = M_{i-1} + (W_K^T k_i) v_i^T); prefill + generate <= 2^20.
// A layer entry's fields override the defaults (objects "ffn" and "attention" are replaced whole).
// "ffn" needs both "width" and "activation". The vanilla variants (unfused, row_fused, flash) take
// no parameters, so their "attention" object holds only "variant".
// Limits (beyond them a size is a typo, or the tensors overflow 64-bit byte counts): d_model <= 65536,
// heads, head_dim <= 4096, seq_len <= 2^20, batch <= 65536, ffn width <= 2^20, repeat <= 4096,
// batch * seq_len <= 2^24 tokens and batch * heads <= 2^16 per layer, at most 4096 layers after
// repeats and 2^20 (layer, batch, head) attention instances in all. Every layer has the first
// layer's d_model, seq_len and batch: a layer reads the previous layer's output tensor.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/json_reader.h"

namespace attnsim {

// Variants and their parameters ("attention": {"variant": NAME, PARAM: int, ...}); a hyphen may
// stand for an underscore in NAME ("primal-causal").
enum class AttnVariant : std::uint8_t {
  Unfused,        // "unfused": vanilla, S materialised (spilled to DRAM when it does not fit)
  RowFused,       // "row_fused": vanilla, FLAT-style query row blocks with full score rows on chip
  Flash,          // "flash": vanilla, online softmax over streamed K/V tiles
  Primal,         // "primal": rank s (default 20), samples p (default min(N, 10 s))
  PrimalCausal,   // "primal_causal": rank s (default 20)
  LowRankLinear,  // "lowrank_linear": rank s (default 20)
  Linformer,      // "linformer": rank = the projected length k (default 256, Wang et al. 2020), clamped to N
  Performer,      // "performer": rank = the random features m (default round(d ln d), performer-pytorch)
  Nystromformer,  // "nystromformer": rank = the landmarks l (default 64, Xiong et al. 2021), clamped to N
  Fused,          // "fused": vanilla, scores kept and normalised inside the array (FuseMax class); needs a
                  // hardware /datapath that admits it (compiler/fused_attention_lowering.h)
  Cascade,        // "cascade": a variant described as a cascade file ("file", optional "mapping"; src/cascade/)
  kCount
};
bool is_vanilla(AttnVariant v);
const char* to_string(AttnVariant v);
// The built-in variants' names, in enum order (for messages and --help). "cascade" is accepted
// too but is not built in: it names a file ("cascade:models/cascades/cosine.json" on the command line).
const std::vector<std::string>& attn_variant_names();

struct AttentionSpec {
  AttnVariant variant = AttnVariant::Flash;
  std::int64_t rank = 0;     // s of the low-rank variants (0: not given, the variant's default applies)
  std::int64_t samples = 0;  // primal's p (0: min(N, 10 s))
  std::int64_t spill = 0;    // unfused: 1 = always spill the score matrix to DRAM (the published unfused baseline)
  Json params;               // the whole "attention" object as written
  // cascade: "file" (a cascade, cascade/cascade.h) and optional "mapping" (cascade/mapping.h), paths
  // relative to the working directory, and their documents as read (checked by the compiler).
  std::string cascade_file, mapping_file;
  Json cascade_doc, mapping_doc;
};
inline constexpr std::int64_t kDefaultRank = 20;  // Primal-Attention's LRA setting (s = 20)
inline constexpr std::int64_t kDefaultLinformerK = 256;  // Linformer's default projected length
inline constexpr std::int64_t kDefaultNystromLandmarks = 64;  // Nystromformer's default number of landmarks
// The rank a variant uses when the model does not give one; head_dim matters to performer only
// (its default number of random features is round(d ln d), d = head_dim).
std::int64_t default_rank(AttnVariant v, std::int64_t head_dim);
// Whether a variant can run a causal (decoder) layer.
bool supports_causal(AttnVariant v);
// The command line's variant syntax for --help: each built-in variant with the parameters it takes
// (from the same table the parser checks), what they mean and their defaults, and cascade:FILE.
std::string variant_syntax_help();
// A variant from a name with optional parameters, "primal:rank=96,samples=200" (the command
// line's form), or "cascade:FILE"; nullopt and *problem set when it is not one.
std::optional<AttentionSpec> parse_variant_spec(const std::string& text, std::string* problem);

enum class Activation : std::uint8_t { Gelu, Relu, SwiGlu };
enum class NormKind : std::uint8_t { LayerNorm, RmsNorm };
enum class NormPosition : std::uint8_t { Pre, Post };

struct LayerSpec {
  std::int64_t d_model = 0, heads = 0, head_dim = 0, seq_len = 0, batch = 1;
  std::int64_t ffn_width = 0;
  Activation activation = Activation::Gelu;
  NormKind norm = NormKind::LayerNorm;
  NormPosition norm_position = NormPosition::Pre;
  bool causal = false;
  std::int64_t kv_heads = 0;  // K/V heads (resolved: heads when not given)
  AttentionSpec attention;
};

struct ModelConfig {
  std::string source;  // file path or "preset:NAME"
  std::string description;
  std::string dtype;  // "fp16", ...
  int elem_bytes = 2;
  std::vector<LayerSpec> layers;  // repeats expanded
  std::int64_t generate = 0;      // tokens generated per sequence (0: no generation)
  std::int64_t prefill = 0;       // prompt tokens per sequence (resolved: the first layer's seq_len)
  // The document as read with the overrides written into it (see ModelOverrides), for reports:
  // parsing `resolved` without overrides gives this same config. Defaults are not expanded into the
  // layers, so a report shows the model the way its author wrote it.
  Json resolved;
};

// Command-line overrides, applied after reading and before validation of the combination. They are
// written into the document (seq_len, batch: into "defaults" and into every layer entry that sets
// them; variant: "attention" becomes {"variant": NAME} in "defaults" and in every layer entry, kept
// as written where it already names that variant; dtype: the top-level "dtype"). A bad override is
// reported under its flag's name (--seq-len, --batch, --variant, --dtype), not a JSON path.
struct ModelOverrides {
  std::int64_t seq_len = 0;  // 0: keep
  std::int64_t batch = 0;    // 0: keep
  std::string variant;       // "": keep; else the attention variant of every layer ("primal:rank=96")
  std::string dtype;         // "": keep
  std::int64_t generate = 0;  // 0: keep (--generate; the top-level "generate")
  std::int64_t prefill = 0;   // 0: keep (--prefill; the top-level "prefill")
};
// Whether a variant can generate token by token (a decode step: vanilla reads the KV cache,
// primal_causal and lowrank_linear update a fixed-size state); for the others, the causal variant a
// user should pick instead ("" when it can).
std::string decode_alternative(AttnVariant v);

// Parses a model document; every problem is reported at once as a UserError naming the source,
// the JSON path and the rule.
// With a recorder, its rules are recorded too (config/schema_recorder.h).
ModelConfig parse_model_config(const Json& doc, const std::string& source, const ModelOverrides& ov = {},
                               SchemaRecorder* recorder = nullptr);
// The document of a file path, or of an embedded preset name (models/NAME.json) when no such file
// exists; *source is the path or "preset:NAME".
Json read_model_document(const std::string& file_or_preset, std::string* source);
// Reads a file path, or an embedded preset name (models/NAME.json) when no such file exists.
ModelConfig load_model_config(const std::string& file_or_preset, const ModelOverrides& ov = {});
// Names of the embedded model presets, comma-separated, for messages.
std::string model_preset_names();

}  // namespace attnsim
