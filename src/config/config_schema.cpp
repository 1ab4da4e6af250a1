#include "config/config_schema.h"

#include "config/dram_spec.h"
#include "config/energy_table.h"
#include "config/hw_config.h"
#include "config/model_config.h"
#include "config/presets.h"
#include "config/schema_recorder.h"

namespace attnsim {

namespace {

// Example documents: together they reach every rule of parse_hw_config (each optional section and
// key given, each DRAM model). The recorder refuses to write a schema with an allowed key none of
// them reads, so a key added to the validator without an example here fails `attnsim schema hw`.
const char* const kHwExampleIdeal = R"({
  "$schema": "attnsim-hw.schema.json",
  "description": "every section and key, ideal DRAM",
  "array": {"rows": 16, "cols": 16, "dataflow": "ws", "timing": "overlapped", "fidelity": "pe",
            "gemm_chaining": true, "clock_mhz": 1000, "operand_bytes": 2, "accumulator_bytes": 4},
  "sram": {"banks": 4, "bytes_per_bank": 65536, "port_bytes": 64, "read_ports": 2, "write_ports": 1,
           "interleave_bytes": 64},
  "accumulators": {"bytes": 65536, "port_bytes": 64, "array_port_bytes": 64},
  "dram": {"model": "ideal", "bytes_per_cycle": 32, "latency_cycles": 100},
  "dma": {"outstanding": 16, "segment_bytes": 1024},
  "vector": {"lanes": 16, "latency_cycles": 4,
             "cost": {"add": 1, "mul": 1, "max": 1, "exp": 4, "rsqrt": 4, "reciprocal": 4, "prefix_sum": 1}},
  "softmax": {"lanes": 16, "exp_per_cycle": 8, "latency_cycles": 4},
  "datapath": {"pe": {"max": 1, "add": 1, "row_scalar_mul": 1, "exp": 4, "score_entries": 2},
               "row_units": {"count": 16, "ops_per_cycle": 2, "exp_cycles": 4}},
  "energy": {"preset": "7nm", "datatype": "fp16", "dram": "hbm2"}
})";
const char* const kHwExampleCycle = R"({
  "array": {"rows": 16, "cols": 16, "clock_mhz": 1000},
  "sram": {"banks": 4, "bytes_per_bank": 65536, "port_bytes": 64},
  "dram": {"model": "cycle", "preset": "ddr4-3200", "description": "every controller key", "channels": 1,
           "ranks": 1, "mapping": "RoBaRaCoCh", "read_queue": 32, "write_queue": 32, "write_high": 24,
           "write_low": 8, "frontend_cycles": 0, "bank_queue": 8, "fast_path": true, "refresh": "all_bank",
           "power_down": {"policy": "idle_cycles", "after_cycles": 100},
           "self_refresh": {"policy": "idle_cycles", "after_cycles": 100000}},
  "energy": {"file": "energy-table.json"}
})";

// What each DRAM timing parameter is (JEDEC names), in cycles of the DRAM clock (tCK).
const SchemaDescription kDramTiming[] = {
    {"CL", "CAS latency: READ to first data"},
    {"CWL", "CAS write latency: WRITE to first data"},
    {"tRCD", "ACT to READ or WRITE in the same bank"},
    {"tRP", "PRE to ACT in the same bank (precharge)"},
    {"tRAS", "ACT to PRE in the same bank (row active time)"},
    {"tRC", "ACT to ACT in the same bank"},
    {"tCCD_S", "column command to column command, different bank groups"},
    {"tCCD_L", "column command to column command, same bank group"},
    {"tRRD_S", "ACT to ACT, different bank groups"},
    {"tRRD_L", "ACT to ACT, same bank group"},
    {"tFAW", "window in which at most four ACTs may issue per rank (0: no limit)"},
    {"tWR", "end of write data to PRE (write recovery)"},
    {"tWTR_S", "end of write data to READ, different bank groups"},
    {"tWTR_L", "end of write data to READ, same bank group"},
    {"tRTP", "READ to PRE"},
    {"tRFC", "REF to the next command to the rank (refresh cycle)"},
    {"tREFI", "interval between REF commands"},
    {"tRTRS", "rank-to-rank switch on the data bus"},
    {"tCKE", "power-down entry to exit: the shortest power-down (and power-down exit to the next entry)"},
    {"tXP", "power-down exit to the next command to the rank"},
    {"tCKESR", "self-refresh entry to exit: the shortest self-refresh"},
    {"tXS", "self-refresh exit to the next command to the rank"},
    {"tRFCpb", "per-bank REF to an ACT or REF of a bank it refreshed (tRFCpb, DDR5 tRFCsb, HBM tRFCSB)"},
    {"tREFIpb", "interval between per-bank REFs of a rank, round robin over its bank sets (tREFI / sets)"},
    {"tPBR2PBR", "per-bank REF to the next per-bank REF of the rank (LPDDR tPBR2PBR, DDR5 tREFSBRD, HBM tRREFD)"},
    {"tPBR2ACT", "per-bank REF to an ACT of another bank of the rank"},
};

std::vector<SchemaDescription> hw_descriptions() {
  std::vector<SchemaDescription> d = {
      {"/$schema", "the JSON Schema this file follows (attnsim schema hw), for editors; ignored by attnsim"},
      {"/description", "free text shown in reports"},
      {"/array", "the systolic array"},
      {"/array/rows", "rows of processing elements (PEs)"},
      {"/array/cols", "columns of PEs"},
      {"/array/dataflow", "the stationary operand: os output, ws weight, is input stationary (default os)"},
      {"/array/timing",
       "scalesim: each fold runs alone (SCALE-Sim v2); overlapped: consecutive folds overlap through double-buffered "
       "operands (default scalesim)"},
      {"/array/fidelity", "fast: closed-form latency per tile; pe: every PE stepped each cycle (default fast)"},
      {"/array/gemm_chaining",
       "consecutive GEMM instructions overlap like folds of one GEMM; needs timing overlapped (default false)"},
      {"/array/clock_mhz", "accelerator clock in MHz; every cycle count of the config is in this clock"},
      {"/array/operand_bytes", "bytes per input operand element (default 1)"},
      {"/array/accumulator_bytes", "bytes per partial-sum element (default 4)"},
      {"/sram", "the banked on-chip SRAM"},
      {"/sram/banks", "number of banks"},
      {"/sram/bytes_per_bank", "capacity of one bank in bytes"},
      {"/sram/port_bytes", "bytes one port moves per cycle"},
      {"/sram/read_ports", "read ports per bank (default 1)"},
      {"/sram/write_ports", "write ports per bank (default 1)"},
      {"/sram/interleave_bytes",
       "stripe size in bytes of the address interleaving over banks; 0: contiguous banks (default 0). A power of two, "
       "at least 64 or a multiple of port_bytes, dividing bytes_per_bank"},
      {"/accumulators", "optional accumulator storage beside the array for partial sums (absent: none)"},
      {"/accumulators/bytes", "capacity in bytes"},
      {"/accumulators/port_bytes",
       "bytes per cycle of the vector, softmax and DMA side, each way (default cols x accumulator_bytes)"},
      {"/accumulators/array_port_bytes", "bytes per cycle of the array's side, each way (default cols x "
                                         "accumulator_bytes)"},
      {"/dram", "the DRAM behind the DMA engine"},
      {"/dram/model", "ideal: fixed bandwidth and latency; cycle: the cycle-accurate DRAM controller"},
      {"/dram/bytes_per_cycle", "ideal: sustained bandwidth in bytes per accelerator cycle"},
      {"/dram/latency_cycles", "ideal: accelerator cycles from request to last byte (default 0)"},
      {"/dram/preset", "cycle: a DRAM device preset name (" + dram_preset_names() + ") or a device file"},
      {"/dram/description", "cycle: free text"},
      {"/dram/channels", "cycle: independent channels, a power of two (default: the device's)"},
      {"/dram/ranks", "cycle: ranks per channel, a power of two (default: the device's)"},
      {"/dram/mapping",
       "cycle: physical address mapping, Ramulator 2 style field string from most to least significant, e.g. "
       "RoBaRaCoCh (default: the device's)"},
      {"/dram/read_queue", "cycle: read queue entries per channel (with bank_queue: the transaction queue before the bank queues)"},
      {"/dram/write_queue", "cycle: write queue entries per channel"},
      {"/dram/write_high", "cycle: write queue entries at which writes drain first; at most write_queue"},
      {"/dram/write_low", "cycle: write queue entries at which draining stops; below write_high"},
      {"/dram/frontend_cycles", "cycle: DRAM cycles a request spends in the controller's front end"},
      {"/dram/bank_queue",
       "cycle: reads per bank the scheduler sees (DRAMSim3's per-bank command queues; 0: one shared read queue)"},
      {"/dram/fast_path",
       "cycle: simulation only: true (default) the fast scheduler, false the reference scan; the same commands"},
      {"/dram/timing", "cycle: overrides of the device's timing parameters, in DRAM clock cycles (tCK)"},
      {"/dram/refresh",
       "cycle: all_bank (a REF to the whole rank every tREFI, after a PREA) or per_bank (where the device has it: "
       "a per-bank REF to one bank set every tREFIpb, round robin, the other banks serving meanwhile) (default: "
       "the device's, all_bank in every preset)"},
      {"/dram/power_down",
       "cycle: when an idle rank enters power-down (active if a row is open, precharged otherwise); it leaves it "
       "(PDX, then tXP) when a request for it arrives or its refresh falls due (default off)"},
      {"/dram/power_down/policy", "off, or idle_cycles: after after_cycles DRAM cycles with no request queued for "
                                  "the rank since its last READ or WRITE"},
      {"/dram/power_down/after_cycles", "idle_cycles: DRAM cycles (tCK) from the rank's last READ or WRITE"},
      {"/dram/self_refresh",
       "cycle: when an idle rank enters self-refresh (all banks precharged first; no REF needed while in it); it "
       "leaves it (SRX, then tXS) when a request for it arrives (default off)"},
      {"/dram/self_refresh/policy", "off, or idle_cycles: after after_cycles DRAM cycles with no request queued "
                                    "for the rank since its last READ or WRITE"},
      {"/dram/self_refresh/after_cycles", "idle_cycles: DRAM cycles (tCK) from the rank's last READ or WRITE"},
      {"/dma", "the DMA engine (optional)"},
      {"/dma/outstanding", "segments in flight per side, load and store (default 64)"},
      {"/dma/segment_bytes", "bytes of the largest contiguous DRAM transfer (default 2048)"},
      {"/vector", "the vector unit (optional: it always exists; this tunes it)"},
      {"/vector/lanes", "elements per issue (default: the array's cols)"},
      {"/vector/latency_cycles", "pipeline depth in cycles, paid once per instruction (default 4)"},
      {"/vector/cost", "issue cycles of one primitive on lanes elements; a missing primitive keeps its default"},
      {"/vector/cost/add", "cycles per add (default 1)"},
      {"/vector/cost/mul", "cycles per multiply (default 1)"},
      {"/vector/cost/max", "cycles per max (default 1)"},
      {"/vector/cost/exp", "cycles per exponential (default 4)"},
      {"/vector/cost/rsqrt", "cycles per reciprocal square root (default 4)"},
      {"/vector/cost/reciprocal", "cycles per reciprocal (default 4)"},
      {"/vector/cost/prefix_sum", "cycles per prefix-sum step (default 1)"},
      {"/softmax", "optional dedicated softmax unit (absent: softmax runs on the vector unit)"},
      {"/softmax/lanes", "lanes of max, add and multiply"},
      {"/softmax/exp_per_cycle", "exponentials (and reciprocals) per cycle in total; at most lanes (default lanes)"},
      {"/softmax/latency_cycles", "pipeline depth in cycles, paid once per instruction (default 4)"},
      {"/datapath",
       "optional capabilities beyond MAC for attention fused in the array (FuseMax class); absent: none"},
      {"/datapath/pe", "what each PE of the 2D array can do besides MAC; a missing primitive is one it cannot do"},
      {"/datapath/pe/max", "cycles per element of a running-max compare in a PE (0: not supported, the default)"},
      {"/datapath/pe/add", "cycles per element of an add in a PE (0: not supported, the default)"},
      {"/datapath/pe/row_scalar_mul",
       "cycles per element of a multiply by a scalar broadcast along the array row (0: not supported, the default)"},
      {"/datapath/pe/exp", "cycles per element of an exponential in a PE (0: not supported, the default)"},
      {"/datapath/pe/score_entries",
       "fp32 score elements each PE holds (0: none, the default); 2 or more let the next key tile's Q K^T accumulate "
       "while this tile's probabilities wait for P V"},
      {"/datapath/row_units", "optional 1D array of row units beside the 2D array (per-row running max, sum, output)"},
      {"/datapath/row_units/count", "row units (each serves one query row at a time; count >= array rows: one per row)"},
      {"/datapath/row_units/ops_per_cycle", "add, multiply or max operations per cycle per unit (default 1)"},
      {"/datapath/row_units/exp_cycles", "cycles of one exponential or reciprocal on a row unit (default 4)"},
      {"/energy", "the per-action energy and area table that prices the run's counted actions (optional)"},
      {"/energy/preset", "an energy table preset: " + energy_preset_names() + " (default 45nm)"},
      {"/energy/file", "an energy table file instead of a preset, relative to this file's directory"},
      {"/energy/datatype",
       "the MAC datatype priced: int8, fp16, bf16 or fp32, as wide as /array/operand_bytes (default: int8 for 1 B, "
       "fp16 for 2 B, fp32 otherwise)"},
      {"/energy/dram",
       "the DRAM technology priced per byte: ddr4, lpddr4, hbm2 or hbm3 (default: the cycle-accurate device's "
       "family, else ddr4)"},
  };
  for (const SchemaDescription& t : kDramTiming)
    d.push_back({"/dram/timing/" + t.location, "cycle: " + t.text + ", in DRAM clock cycles (tCK)"});
  return d;
}

// Every variant with every parameter, every layer field in the defaults and in a layer, and a layer
// that takes every field from the defaults (so that none is required in a layer).
const char* const kModelExample = R"({
  "$schema": "attnsim-model.schema.json",
  "description": "every key",
  "dtype": "fp16",
  "defaults": {"d_model": 64, "heads": 2, "head_dim": 32, "seq_len": 128, "batch": 1, "kv_heads": 2,
               "ffn": {"width": 256, "activation": "gelu"}, "norm": "layernorm", "norm_position": "pre",
               "causal": false, "attention": {"variant": "flash"}},
  "layers": [
    {"repeat": 2},
    {"d_model": 64, "heads": 2, "head_dim": 32, "seq_len": 128, "batch": 1, "kv_heads": 1,
     "ffn": {"width": 256, "activation": "relu"}, "norm": "rmsnorm", "norm_position": "post", "causal": false,
     "attention": {"variant": "primal", "rank": 8, "samples": 64}},
    {"attention": {"variant": "unfused"}},
    {"attention": {"variant": "unfused", "spill": 1}},
    {"attention": {"variant": "fused"}},
    {"attention": {"variant": "row_fused"}},
    {"attention": {"variant": "primal_causal", "rank": 8}, "causal": true},
    {"attention": {"variant": "lowrank_linear", "rank": 8}},
    {"attention": {"variant": "linformer", "rank": 8}},
    {"attention": {"variant": "performer", "rank": 8}},
    {"attention": {"variant": "nystromformer", "rank": 8}},
    {"attention": {"variant": "cascade", "file": "cascade.json", "mapping": "mapping.json"}}
  ]
})";

// Generation: a causal model that generates tokens after a prompt (the decode-capable variants).
const char* const kModelGenerationExample = R"({
  "generate": 16, "prefill": 64,
  "defaults": {"d_model": 64, "heads": 4, "head_dim": 16, "seq_len": 64, "kv_heads": 2,
               "ffn": {"width": 128, "activation": "swiglu"}, "causal": true, "attention": {"variant": "flash"}},
  "layers": [{}, {"attention": {"variant": "primal_causal"}}, {"attention": {"variant": "lowrank_linear"}}]
})";

std::vector<SchemaDescription> model_descriptions() {
  std::vector<SchemaDescription> d = {
      {"/$schema", "the JSON Schema this file follows (attnsim schema model), for editors; ignored by attnsim"},
      {"/description", "free text shown in reports"},
      {"/dtype", "element type of activations and weights: fp32 4 bytes, fp16 and bf16 2, int8 1 (default fp16)"},
      {"/defaults", "layer fields every layer takes unless it gives its own"},
      {"/defaults/repeat", "not allowed here: repeat belongs to a layer entry"},
      {"/layers", "the layers in order; the residual stream keeps its d_model and tokens through the model"},
      {"/layers/[]/repeat", "this entry stands for this many identical layers (default 1)"},
      {"/generate", "tokens generated per sequence after the prompt, one decode step each (default 0: whole "
                    "sequences only); every layer causal and of a variant that decodes"},
      {"/prefill", "tokens of the prompt per sequence, processed at once before the first generated token "
                   "(default the first layer's seq_len)"},
  };
  const SchemaDescription fields[] = {
      {"d_model", "model width in elements (tokens x d_model is the residual stream); in a layer or the defaults"},
      {"heads", "attention heads (primal: heads x head_dim = d_model); in a layer or the defaults"},
      {"head_dim", "elements per head; in a layer or the defaults"},
      {"seq_len", "sequence length N in tokens; batch x seq_len at most 2^24; in a layer or the defaults"},
      {"batch", "sequences per batch (default 1); in generation, the sequences decoded together"},
      {"kv_heads", "K/V heads in heads (grouped-query attention: heads / kv_heads query heads share one; 1 is "
                   "multi-query; must divide heads; default heads)"},
      {"ffn", "the feed-forward block; given whole (an entry's ffn replaces the defaults'); in a layer or the defaults"},
      {"ffn/width", "hidden width of the feed-forward block in elements"},
      {"ffn/activation", "activation of the feed-forward block (swiglu: gated, two input projections)"},
      {"norm", "normalisation (default layernorm)"},
      {"norm_position", "normalisation before (pre) or after (post) each block (default pre)"},
      {"causal", "causal (decoder) attention mask (default false)"},
      {"attention", "the attention variant and its parameters; in a layer or the defaults"},
      {"attention/variant", "the attention variant ('-' and '_' are the same); cascade: a lowering file"},
      {"attention/rank", "low-rank variants: the rank s (default: the variant's)"},
      {"attention/samples", "primal: the samples p (default min(N, 10 s))"},
      {"attention/spill",
       "unfused: 1 = always spill the score matrix to DRAM (S written and read, P written and read), even when it "
       "fits on chip (default: spill only when it does not)"},
      {"attention/file", "cascade: the cascade file (JSON), relative to the working directory"},
      {"attention/mapping", "cascade: an optional mapping file (JSON) for the cascade"},
  };
  for (const char* where : {"/defaults/", "/layers/[]/"})
    for (const SchemaDescription& f : fields) d.push_back({where + f.location, f.text});
  return d;
}

const char* const kEntrySource =
    "where the value comes from: a citation, with the arithmetic that turns the source's figures into the value, "
    "or the reasoning of an estimate (a non-empty string)";

// An entry {"value", "source"}: what it prices and the value's unit.
void add_entry(std::vector<SchemaDescription>* d, const std::string& at, const std::string& what,
               const std::string& unit) {
  d->push_back({at, what});
  d->push_back({at + "/value", what + ", in " + unit + " (0 to 10^7)"});
  d->push_back({at + "/source", kEntrySource});
}

// A power-law curve in the bank's capacity C and the port's width W (config/energy_table.h):
// value = ref_value x (C / ref_capacity_bytes)^capacity_exponent x (W / ref_width_bytes)^width_exponent.
void add_curve(std::vector<SchemaDescription>* d, const std::string& at, const std::string& what,
               const std::string& unit) {
  d->push_back({at, what + ": ref_value x (C / ref_capacity_bytes)^capacity_exponent x (W / "
                           "ref_width_bytes)^width_exponent, C the bank's capacity and W the port's width in bytes"});
  d->push_back({at + "/ref_value", "the value at the reference point, in " + unit + " (0 to 10^7)"});
  d->push_back({at + "/ref_capacity_bytes", "the reference bank capacity, in bytes (above 0)"});
  d->push_back({at + "/ref_width_bytes", "the reference port width, in bytes (above 0)"});
  d->push_back(
      {at + "/capacity_exponent", "the exponent of the capacity ratio (-2 to 2; 0.5: CACTI-style square root)"});
  d->push_back({at + "/width_exponent", "the exponent of the width ratio (-2 to 2; 0: the width does not matter)"});
  d->push_back({at + "/source", kEntrySource});
}

std::vector<SchemaDescription> energy_descriptions() {
  std::vector<SchemaDescription> d = {
      {"/description", "free text: the node, the sources and the modelling choices (default empty)"},
      {"/node_nm", "the process node, in nm (above 0, at most 1000)"},
      {"/energy", "energy per counted action, in pJ (leakage in mW per mm^2)"},
      {"/energy/mac_pj", "one multiply-accumulate of the array, by datatype: the multiply and the accumulator's add"},
      {"/energy/vector_pj_per_lane_op", "the vector unit's primitives, per lane and operation (fp32 lanes)"},
      {"/energy/softmax_pj_per_lane_op", "the softmax unit's primitives, per lane and operation"},
      {"/energy/dram_pj_per_byte", "DRAM, per byte moved, by technology (the hardware's /energy/dram picks one)"},
      {"/area", "area per component: um^2 per PE, lane or byte, mm^2 for the DMA engine and the DRAM PHY"},
      {"/area/pe_um2", "one processing element of the array, by datatype (multiplier, adder, registers)"},
      {"/area/dram_phy_mm2_per_GBps", "the DRAM PHY per GB/s (10^9 B/s) of peak bandwidth, by technology"},
  };
  const std::pair<const char*, const char*> datatypes[] = {
      {"int8", "int8 (int32 accumulation)"}, {"fp16", "fp16 (fp32 accumulation)"},
      {"bf16", "bf16 (fp32 accumulation)"}, {"fp32", "fp32"}};
  for (const auto& [key, what] : datatypes) {
    add_entry(&d, std::string("/energy/mac_pj/") + key, std::string("a MAC in ") + what, "pJ per MAC");
    add_entry(&d, std::string("/area/pe_um2/") + key, std::string("a PE computing in ") + what, "um^2 per PE");
  }
  add_entry(&d, "/energy/pe_operand_register_pj_per_byte",
            "a PE's operand register write (each MAC writes its two operands into the forwarding registers)",
            "pJ per byte");
  add_entry(&d, "/energy/pe_accumulator_pj_per_byte",
            "a PE's partial-sum register read and write (each MAC moves 2 x accumulator_bytes)", "pJ per byte");
  add_curve(&d, "/energy/sram_read_pj", "one read access of an SRAM port", "pJ per access");
  add_curve(&d, "/energy/sram_write_pj", "one write access of an SRAM port", "pJ per access");
  const char* const prims[] = {"add", "mul", "max", "exp", "rsqrt", "reciprocal", "prefix_sum"};
  for (const char* p : prims) {
    add_entry(&d, std::string("/energy/vector_pj_per_lane_op/") + p,
              std::string("the vector unit's ") + p + " on one lane", "pJ per lane operation");
    add_entry(&d, std::string("/energy/softmax_pj_per_lane_op/") + p,
              std::string("the softmax unit's ") + p + " on one lane", "pJ per lane operation");
  }
  d.push_back({"/energy/datapath_pe_pj_per_op",
               "the fused datapath's PE softmax steps (add, mul: the row-scalar multiply, max, exp), per operation"});
  for (const char* p : {"add", "mul", "max", "exp"})
    add_entry(&d, std::string("/energy/datapath_pe_pj_per_op/") + p,
              std::string("a PE's in-array softmax ") + p + " (its score entry's register access is added)",
              "pJ per operation");
  d.push_back({"/energy/row_unit_pj_per_op",
               "the fused datapath's row units (add, mul, max, exp, reciprocal), per operation"});
  for (const char* p : {"add", "mul", "max", "exp", "reciprocal"})
    add_entry(&d, std::string("/energy/row_unit_pj_per_op/") + p,
              std::string("a row unit's ") + p + " (its operand's register access is added)", "pJ per operation");
  add_entry(&d, "/energy/dma_pj_per_byte", "the DMA engine, per byte it moves", "pJ per byte");
  const std::pair<const char*, const char*> techs[] = {
      {"ddr4", "DDR4"}, {"lpddr4", "LPDDR4"}, {"hbm2", "HBM2"}, {"hbm3", "HBM3"}};
  for (const auto& [key, what] : techs) {
    add_entry(&d, std::string("/energy/dram_pj_per_byte/") + key, std::string(what) + ", per byte moved",
              "pJ per byte");
    add_entry(&d, std::string("/area/dram_phy_mm2_per_GBps/") + key, std::string("a ") + what + " PHY",
              "mm^2 per GB/s of peak bandwidth");
  }
  add_entry(&d, "/energy/leakage_mw_per_mm2", "leakage power of the chip's area, over the whole run",
            "mW per mm^2");
  add_curve(&d, "/area/sram_um2_per_byte", "SRAM area per byte of a bank (cells, periphery)", "um^2 per byte");
  add_entry(&d, "/area/vector_um2_per_lane", "one lane of the vector unit", "um^2 per lane");
  add_entry(&d, "/area/softmax_um2_per_lane", "one lane of the softmax unit (max, add, multiply)", "um^2 per lane");
  add_entry(&d, "/area/softmax_um2_per_exp_unit", "one exponential (and reciprocal) unit of the softmax unit",
            "um^2 per unit");
  add_entry(&d, "/area/pe_softmax_um2",
            "a PE's in-array softmax logic beyond its MAC (max compare, exp's exponent add, sequencing), when the "
            "hardware's /datapath gives its PEs a softmax primitive",
            "um^2 per PE");
  add_entry(&d, "/area/pe_score_entry_um2", "one fp32 score entry of PE-local storage (/datapath/pe/score_entries)",
            "um^2 per entry");
  add_entry(&d, "/area/row_unit_um2_per_op_per_cycle",
            "a row unit of the fused datapath, per operation it issues a cycle (/datapath/row_units/ops_per_cycle)",
            "um^2");
  add_entry(&d, "/area/dma_mm2", "the DMA engine", "mm^2");
  return d;
}

std::vector<SchemaDescription> dram_descriptions() {
  std::vector<SchemaDescription> d = {
      {"/description", "free text: the device and the sources of its figures"},
      {"/standard",
       "the JEDEC standard (DDR4, DDR5, LPDDR4, LPDDR5, HBM2, HBM3, GDDR6, ...); with speed_grade it selects the "
       "timing checker's table of JEDEC minimums"},
      {"/speed_grade", "the speed grade, e.g. 3200AA (default empty)"},
      {"/channel_kind",
       "what one channel is, for reports: channel, legacy channel (128-bit), pseudo-channel (32-bit) (default "
       "channel)"},
      {"/organization", "one channel's organization; every size a power of two"},
      {"/organization/channel_width_bits", "the data bus width of one channel, in bits (8 to 1024)"},
      {"/organization/burst_length", "data beats per burst, two per clock: even (2 to 64)"},
      {"/organization/bank_groups", "bank groups per rank (1 to 64)"},
      {"/organization/banks_per_group", "banks per bank group (1 to 64)"},
      {"/organization/rows", "rows per bank (at most 2^24)"},
      {"/organization/columns",
       "column addresses per row, each channel_width_bits wide (at most 65536; at least burst_length)"},
      {"/organization/banks_per_refresh",
       "banks one per-bank REF refreshes: 1 (LPDDR4, HBM), 2 (LPDDR5 bank-group mode), the bank groups (DDR5 "
       "REFsb); absent or 0: the device has no per-bank refresh"},
      {"/timing", "JEDEC timing in DRAM clock cycles (tCK), each from the standard's speed bin or the data sheet"},
      {"/timing/tCK_ps", "the DRAM clock period, in ps: a whole number of femtoseconds"},
      {"/controller", "the controller's defaults for this device; a hardware config's /dram object overrides each"},
      {"/controller/channels", "independent channels, a power of two (default 1)"},
      {"/controller/ranks", "ranks per channel, a power of two (default 1)"},
      {"/controller/mapping",
       "physical address mapping, Ramulator 2 style field string from most to least significant, e.g. RoBaRaCoCh "
       "(default RoBaRaCoCh)"},
      {"/controller/read_queue", "read queue entries per channel (default 32)"},
      {"/controller/write_queue", "write queue entries per channel (default 32)"},
      {"/controller/write_high", "write queue entries at which writes drain first; at most write_queue (default 24)"},
      {"/controller/write_low", "write queue entries at which draining stops; below write_high (default 8)"},
      {"/controller/frontend_cycles",
       "DRAM cycles from a request's acceptance until it may be scheduled: the controller and PHY pipeline "
       "(default 0)"},
      {"/controller/bank_queue",
       "reads per bank the scheduler sees, the rest waiting in read_queue (DRAMSim3's per-bank command queues; "
       "default 0: one shared read queue of read_queue entries)"},
      {"/controller/refresh",
       "all_bank (default) or per_bank: per-bank REFs (organization.banks_per_refresh and the tRFCpb, tREFIpb, "
       "tPBR2PBR timings needed)"},
      {"/power",
       "the device's currents for the command-level DRAM energy (DRAMPower / Micron power calculator style), or "
       "per_byte_fallback; absent: energy per byte"},
      {"/power/devices_per_rank", "DRAM devices that make up one rank (1 to 1024)"},
      {"/power/rails", "the supply rails, each with its voltage and IDD currents per device"},
      {"/power/rails/[]/name", "the rail's name, e.g. VDD or VPP"},
      {"/power/rails/[]/volts", "the rail's voltage, in V"},
      {"/power/rails/[]/IDD0", "one bank activate-precharge current, in mA per device"},
      {"/power/rails/[]/IDD2N", "precharged standby current, in mA per device"},
      {"/power/rails/[]/IDD3N", "active standby current, in mA per device"},
      {"/power/rails/[]/IDD4R", "burst read current, in mA per device"},
      {"/power/rails/[]/IDD4W", "burst write current, in mA per device"},
      {"/power/rails/[]/IDD5B", "burst (all-bank) refresh current, in mA per device"},
      {"/power/rails/[]/IDD2P",
       "precharged power-down current (all banks closed, CKE low), in mA per device (default: IDD2N, i.e. "
       "power-down priced as precharged standby)"},
      {"/power/rails/[]/IDD3P",
       "active power-down current (a bank open, CKE low), in mA per device (default: IDD3N, i.e. priced as "
       "active standby)"},
      {"/power/rails/[]/IDD6",
       "self-refresh current, in mA per device (default: IDD2N, i.e. self-refresh priced as precharged standby)"},
      {"/power/source", "where the currents come from (a data sheet, a reference simulator's table)"},
      {"/power/per_byte_fallback",
       "true: no current table is known; the energy table's per-byte DRAM figure is used (default false)"},
  };
  for (const SchemaDescription& t : kDramTiming)
    d.push_back({"/timing/" + t.location, t.text + ", in DRAM clock cycles (tCK)"});
  return d;
}

}  // namespace

Json hw_config_schema() {
  SchemaRecorder recorder;
  recorder.begin_document();
  parse_hw_config(parse_json_text(kHwExampleIdeal, "schema example"), "schema example", &recorder);
  // The cycle example overrides every timing parameter with the DDR4-3200 preset's own values.
  Json cycle = parse_json_text(kHwExampleCycle, "schema example");
  Json& timing = cycle["dram"]["timing"];
  const Json ddr4 = parse_json_text(find_dram_preset("ddr4-3200"), "preset:ddr4-3200");
  int n = 0;
  const DramTimingField* fields = dram_timing_fields(&n);
  // The per-bank refresh timings, which DDR4 lacks, from HBM2's.
  const Json hbm2 = parse_json_text(find_dram_preset("hbm2"), "preset:hbm2");
  for (int i = 0; i < n; ++i)
    timing[fields[i].name] = (ddr4.at("timing").contains(fields[i].name) ? ddr4 : hbm2).at("timing").at(fields[i].name);
  recorder.begin_document();
  parse_hw_config(cycle, "schema example", &recorder);
  return recorder.schema("attnsim hardware config",
                         "An accelerator for attnsim: systolic array, banked SRAM, optional accumulator storage, DRAM, "
                         "DMA, vector and softmax units. Rules across fields (a value bounded by another, powers of "
                         "two, files that must exist) are checked by attnsim check, not here.",
                         hw_descriptions());
}

Json model_config_schema() {
  SchemaRecorder recorder;
  const Json example = parse_json_text(kModelExample, "schema example");
  recorder.begin_document();
  parse_model_config(example, "schema example", {}, &recorder);
  // The defaults take each layer's attention in turn, so that every variant is read there too.
  for (const Json& layer : example.at("layers")) {
    if (!layer.contains("attention")) continue;
    Json doc = example;
    doc["defaults"]["attention"] = layer["attention"];
    doc["defaults"]["causal"] = layer.value("causal", false);
    doc["layers"] = Json::array({Json::object()});
    recorder.begin_document();
    parse_model_config(doc, "schema example", {}, &recorder);
  }
  recorder.begin_document();
  parse_model_config(parse_json_text(kModelGenerationExample, "schema example"), "schema example", {}, &recorder);
  return recorder.schema("attnsim model",
                         "A transformer model for attnsim: layer fields in defaults and per layer. Rules across "
                         "fields (each size in a layer or in the defaults, the same d_model in every layer, "
                         "variants that need heads x head_dim = d_model or a causal form, size products, files that "
                         "must exist) are checked by attnsim, "
                         "not here.",
                         model_descriptions());
}

// Every key of an energy table is required and read whatever its value, so any valid table reaches
// every rule: the example is the 45 nm preset itself.
Json energy_table_schema() {
  SchemaRecorder recorder;
  recorder.begin_document();
  parse_energy_table(parse_json_text(embedded_energy_presets().front().json_text, "schema example"), "schema example",
                     &recorder);
  return recorder.schema("attnsim energy table",
                         "Per-action energy and area (configs/energy/*.json, or the hardware config's /energy/file): "
                         "every entry a value with its source. attnsim multiplies each counted action by its entry "
                         "(report.json's energy section) and sums the areas (attnsim area).",
                         energy_descriptions());
}

// Every key of a device is read whatever it holds (the controller's with defaults): the examples are the
// DDR4-3200 preset and the HBM2 one (per-bank refresh keys, per_bank selected).
Json dram_device_schema() {
  SchemaRecorder recorder;
  recorder.begin_document();
  parse_dram_device(parse_json_text(find_dram_preset("ddr4-3200"), "schema example"), "schema example", &recorder);
  Json hbm2 = parse_json_text(find_dram_preset("hbm2"), "schema example");
  hbm2["controller"]["refresh"] = "per_bank";
  recorder.begin_document();
  parse_dram_device(hbm2, "schema example", &recorder);
  return recorder.schema("attnsim DRAM device",
                         "A DRAM device for the cycle-accurate controller (configs/dram/*.json, or a file named by "
                         "a hardware config's /dram/preset): organization, JEDEC timing in clock cycles, controller "
                         "defaults. Powers of two, rules across fields (tRC >= tRAS, tCCD_L >= tCCD_S, the refresh "
                         "interval against the other timings, the mapping string against the organization) are "
                         "checked by attnsim, not here.",
                         dram_descriptions());
}

}  // namespace attnsim
