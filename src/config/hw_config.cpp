#include "config/hw_config.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/checked_math.h"
#include "common/errors.h"
#include "config/presets.h"
#include "config/dram_spec.h"
#include "config/schema_recorder.h"

namespace attnsim {

const char* to_string(Dataflow d) { return d == Dataflow::OS ? "os" : d == Dataflow::WS ? "ws" : "is"; }
const char* to_string(TimingMode t) { return t == TimingMode::ScaleSim ? "scalesim" : "overlapped"; }
const char* to_string(ArrayFidelity f) { return f == ArrayFidelity::Fast ? "fast" : "pe"; }

const char* to_string(VecPrim p) {
  switch (p) {
    case VecPrim::Add:
      return "add";
    case VecPrim::Mul:
      return "mul";
    case VecPrim::Max:
      return "max";
    case VecPrim::Exp:
      return "exp";
    case VecPrim::Rsqrt:
      return "rsqrt";
    case VecPrim::Reciprocal:
      return "reciprocal";
    case VecPrim::PrefixSum:
      return "prefix_sum";
    case VecPrim::kCount:
      break;
  }
  return "?";
}

std::int64_t ArrayConfig::period_fs() const { return std::max<std::int64_t>(1, std::llround(1e9 / clock_mhz)); }

// The largest array the PE-level model accepts: it exists to validate the fast model.
static constexpr std::int64_t kMaxPeModelPes = 64 * 64;

HwConfig parse_hw_config(const Json& doc, const std::string& source, SchemaRecorder* recorder) {
  Diagnostics diag(source);
  diag.record_into(recorder);
  HwConfig hw;
  hw.source = source;
  hw.resolved = doc;
  JsonView root(&doc, "", &diag);
  if (!doc.is_object()) {
    diag.add("", "a hardware config must be a JSON object", doc);
    diag.throw_if_any();
  }
  root.reject_unknown_keys(
      {"$schema", "description", "array", "sram", "accumulators", "dram", "dma", "vector", "softmax", "energy",
                         "datapath"});
  root.string("$schema", std::string());  // the schema an editor checks the file against (attnsim schema hw)
  hw.description = root.string("description", std::string());

  JsonView a = root.object("array");
  a.reject_unknown_keys({"rows", "cols", "dataflow", "timing", "fidelity", "gemm_chaining", "clock_mhz",
                         "operand_bytes", "accumulator_bytes"});
  hw.array.rows = int(a.integer("rows", std::nullopt, 1, 4096));
  hw.array.cols = int(a.integer("cols", std::nullopt, 1, 4096));
  std::string df = a.choice("dataflow", std::string("os"), {"os", "ws", "is"});
  hw.array.dataflow = df == "os" ? Dataflow::OS : df == "ws" ? Dataflow::WS : Dataflow::IS;
  hw.array.timing = a.choice("timing", std::string("scalesim"), {"scalesim", "overlapped"}) == "scalesim"
                        ? TimingMode::ScaleSim
                        : TimingMode::Overlapped;
  hw.array.fidelity =
      a.choice("fidelity", std::string("fast"), {"fast", "pe"}) == "fast" ? ArrayFidelity::Fast : ArrayFidelity::Pe;
  // Chaining is the shadow-register overlap of overlapped timing carried across instructions; SCALE-Sim's
  // convention (scalesim) has no overlap at all, so a config asking for both is contradictory, and
  // ignoring the flag would let a scalesim run pass for a chained one.
  hw.array.gemm_chaining = a.boolean("gemm_chaining", false);
  if (hw.array.gemm_chaining && hw.array.timing == TimingMode::ScaleSim)
    diag.add(a.child_path("gemm_chaining"),
             "needs \"timing\": \"overlapped\" (scalesim runs every fold alone); set it to false with scalesim timing",
             true);
  // From the slowest clock whose kMaxRunCycles cycles fit in simulated femtoseconds (checked_math.h)
  // to 100 GHz (a 10,000 fs period: rounding it to a whole femtosecond errs by at most 0.005%).
  hw.array.clock_mhz = a.number("clock_mhz", std::nullopt, kMinClockMhz, 100000.0);
  hw.array.operand_bytes = int(a.integer("operand_bytes", 1, 1, 8));
  hw.array.accumulator_bytes = int(a.integer("accumulator_bytes", 4, 1, 8));
  if (hw.array.fidelity == ArrayFidelity::Pe && hw.array.pes() > kMaxPeModelPes)
    diag.add(a.child_path("fidelity"),
             "the pe model steps every PE each cycle and is meant for validation on arrays of at most 4096 PEs; this "
             "array has " +
                 std::to_string(hw.array.pes()),
             "pe");

  JsonView s = root.object("sram");
  s.reject_unknown_keys({"banks", "bytes_per_bank", "port_bytes", "read_ports", "write_ports", "interleave_bytes"});
  const std::size_t sram_problems_before = diag.problems().size();
  hw.sram.banks = int(s.integer("banks", std::nullopt, 1, kMaxSramBanks));
  hw.sram.bytes_per_bank = s.integer("bytes_per_bank", std::nullopt, 1, std::int64_t(1) << 40);
  hw.sram.port_bytes = int(s.integer("port_bytes", std::nullopt, 1, 65536));
  hw.sram.read_ports = int(s.integer("read_ports", 1, 1, 16));
  hw.sram.write_ports = int(s.integer("write_ports", 1, 1, 16));
  hw.sram.interleave_bytes = s.integer("interleave_bytes", 0, 0, std::int64_t(1) << 40);
  // Address interleaving: stripes of a power of two, at least a port's width (or a 64 B burst, the
  // compiler's buffer alignment) so that one port access never straddles two banks, and at most a
  // bank (a stripe of a whole bank is the contiguous layout).
  if (diag.problems().size() == sram_problems_before && hw.sram.interleave_bytes != 0) {
    const std::int64_t g = hw.sram.interleave_bytes;
    std::string rule;
    if ((g & (g - 1)) != 0)
      rule = "must be 0 (contiguous banks) or a power of two";
    else if (g < 64 && g % hw.sram.port_bytes != 0)
      rule = "must be at least 64 B or a multiple of port_bytes (" + std::to_string(hw.sram.port_bytes) +
             "), so that a port access stays in one bank";
    else if (g > hw.sram.bytes_per_bank)
      rule = "must be at most bytes_per_bank (" + std::to_string(hw.sram.bytes_per_bank) + ")";
    else if (hw.sram.bytes_per_bank % g != 0)
      rule = "must divide bytes_per_bank (" + std::to_string(hw.sram.bytes_per_bank) +
             "), so that every bank holds whole stripes";
    if (!rule.empty()) diag.add(s.child_path("interleave_bytes"), rule, s.node()->at("interleave_bytes"));
  }

  // Accumulator storage exists only when its section does.
  JsonView ac = root.object("accumulators", /*required=*/false);
  if (ac.is_object()) {
    ac.reject_unknown_keys({"bytes", "port_bytes", "array_port_bytes"});
    hw.accumulators.present = true;
    // At least one 64 B burst (the compiler's buffer alignment), at most the SRAM's own limit.
    hw.accumulators.bytes = ac.integer("bytes", std::nullopt, 64, std::int64_t(1) << 40);
    const int row_bytes = hw.array.cols * hw.array.accumulator_bytes;  // one row of partial sums
    hw.accumulators.port_bytes = int(ac.integer("port_bytes", row_bytes, 1, 1 << 20));
    hw.accumulators.array_port_bytes = int(ac.integer("array_port_bytes", row_bytes, 1, 1 << 20));
  }

  JsonView d = root.object("dram");
  std::string model = d.choice("model", std::nullopt, {"ideal", "cycle"});
  if (model == "cycle") {
    d.branch("cycle", schema_when_one_of("model", {"cycle"}));
    // The cycle-accurate controller: a device preset plus controller overrides (config/dram_spec.h).
    hw.dram.model = DramModel::Cycle;
    if (d.node()) hw.dram.cycle_spec = *d.node();
    DramSpec spec;
    hw.dram.peak_bytes_per_cycle = validate_cycle_dram_config(d, hw.array.clock_mhz, &spec);
    std::string error;
    if (hw.dram.peak_bytes_per_cycle > 0 && hw.dram.rows.mapping.parse(spec.mapping, spec, &error)) {
      auto& r = hw.dram.rows;
      r.channels = spec.channels, r.ranks = spec.ranks, r.banks_per_rank = spec.banks_per_rank();
      r.bank_groups = spec.bank_groups, r.banks_per_group = spec.banks_per_group;
      const double dram_cycles = std::max(spec.t.tFAW / 4.0, double(spec.t.tRRD_S));
      r.activate_cycles = dram_cycles * double(spec.tCK_fs) * hw.array.clock_mhz / 1e9;  // fs x MHz / 1e9: cycles
      hw.dram.write_queue_bytes = double(spec.channels) * spec.write_queue * spec.burst_bytes();
    }
  } else if (model == "ideal") {
    d.branch("ideal", schema_when_one_of("model", {"ideal"}));
    d.reject_unknown_keys({"model", "bytes_per_cycle", "latency_cycles"});
    hw.dram.model = DramModel::Ideal;
    // At least a byte per 1000 cycles: a transfer's bus time, bytes x period / bytes_per_cycle, must
    // stay a representable time (checked again per transfer, ideal_dram.cpp).
    hw.dram.bytes_per_cycle = d.number("bytes_per_cycle", std::nullopt, 1e-3, 1e9);
    hw.dram.latency_cycles = d.integer("latency_cycles", 0, 0, 1000000000);
    hw.dram.peak_bytes_per_cycle = hw.dram.bytes_per_cycle;
  }

  JsonView m = root.object("dma", /*required=*/false);
  m.reject_unknown_keys({"outstanding", "segment_bytes"});
  hw.dma.outstanding = int(m.integer("outstanding", 64, 1, 4096));
  hw.dma.segment_bytes = m.integer("segment_bytes", 2048, 1, 1 << 30);

  // The vector unit always exists (it runs VECTOR instructions); its section only tunes it.
  JsonView v = root.object("vector", /*required=*/false);
  v.reject_unknown_keys({"lanes", "latency_cycles", "cost"});
  hw.vector.lanes = int(v.integer("lanes", hw.array.cols, 1, 65536));
  hw.vector.latency_cycles = int(v.integer("latency_cycles", kDefaultVectorLatency, 0, 100000));
  JsonView vc = v.object("cost", /*required=*/false);
  vc.reject_unknown_keys({"add", "mul", "max", "exp", "rsqrt", "reciprocal", "prefix_sum"});
  for (int p = 0; p < kVecPrimCount; ++p)
    hw.vector.cost[p] = int(vc.integer(to_string(VecPrim(p)), kDefaultVectorCost[p], 1, 1000));

  // The softmax unit exists only when its section does.
  JsonView sm = root.object("softmax", /*required=*/false);
  if (sm.is_object()) {
    sm.reject_unknown_keys({"lanes", "exp_per_cycle", "latency_cycles"});
    hw.softmax.present = true;
    const std::size_t problems_before = diag.problems().size();
    hw.softmax.lanes = int(sm.integer("lanes", std::nullopt, 1, 65536));
    const bool lanes_ok = diag.problems().size() == problems_before;
    hw.softmax.exp_per_cycle = int(sm.integer("exp_per_cycle", hw.softmax.lanes, 1, 65536));
    hw.softmax.latency_cycles = int(sm.integer("latency_cycles", kDefaultVectorLatency, 0, 100000));
    // Each lane feeds at most one element per cycle into the exponential units, so more of them than
    // lanes would never be used; such a config is a mistake, not a faster unit.
    if (lanes_ok && sm.has("exp_per_cycle") && hw.softmax.exp_per_cycle > hw.softmax.lanes)
      diag.add(sm.child_path("exp_per_cycle"),
               "must be at most lanes (" + std::to_string(hw.softmax.lanes) +
                   "): each lane passes at most one element per cycle to the exponential units",
               sm.node()->at("exp_per_cycle"));
  }

  // The datapath's capabilities beyond MAC exist only when its section does (DatapathConfig).
  JsonView dp = root.object("datapath", /*required=*/false);
  if (dp.is_object()) {
    dp.reject_unknown_keys({"pe", "row_units"});
    hw.datapath.present = true;
    JsonView pe = dp.object("pe", /*required=*/false);
    pe.reject_unknown_keys({"max", "add", "row_scalar_mul", "exp", "score_entries"});
    // Issue cycles per element; 0 (the default) means the PE has no such primitive.
    hw.datapath.pe_max_cycles = int(pe.integer("max", 0, 0, 1000));
    hw.datapath.pe_add_cycles = int(pe.integer("add", 0, 0, 1000));
    hw.datapath.pe_row_scalar_mul_cycles = int(pe.integer("row_scalar_mul", 0, 0, 1000));
    hw.datapath.pe_exp_cycles = int(pe.integer("exp", 0, 0, 1000));
    hw.datapath.pe_score_entries = int(pe.integer("score_entries", 0, 0, 1 << 20));
    JsonView ru = dp.object("row_units", /*required=*/false);
    if (ru.is_object()) {
      ru.reject_unknown_keys({"count", "ops_per_cycle", "exp_cycles"});
      hw.datapath.row_units = int(ru.integer("count", std::nullopt, 1, 65536));
      hw.datapath.row_unit_ops_per_cycle = int(ru.integer("ops_per_cycle", 1, 1, 1024));
      hw.datapath.row_unit_exp_cycles = int(ru.integer("exp_cycles", 4, 1, 1000));
    }
    // Scores held in the PEs are useless without the primitives that normalise them there, and the
    // primitives without a place to hold a score: a half-declared in-array softmax is a mistake.
    const bool any_op = hw.datapath.pe_max_cycles || hw.datapath.pe_add_cycles ||
                        hw.datapath.pe_row_scalar_mul_cycles || hw.datapath.pe_exp_cycles;
    if (hw.datapath.pe_score_entries > 0 && !any_op)
      diag.add(pe.child_path("score_entries"),
               "PE-local score storage needs at least one of the PE primitives max, add, row_scalar_mul, exp",
               pe.node()->at("score_entries"));
  }

  // The energy section is checked always; its table is read only once everything else is good (the
  // datatype's check needs the operand width, the DRAM technology the device); a problem inside the table itself is reported against the table's file.
  JsonView en = root.object("energy", /*required=*/false);
  {
    const std::string dram_preset =
        hw.dram.model == DramModel::Cycle && hw.dram.cycle_spec.is_object() && hw.dram.cycle_spec.contains("preset") &&
                hw.dram.cycle_spec["preset"].is_string()  // another type is the DRAM section's error, reported with it
            ? hw.dram.cycle_spec["preset"].get<std::string>()
            : std::string();
    const std::string base_dir =
        source.rfind("preset:", 0) == 0 ? std::string() : std::filesystem::path(source).parent_path().string();
    read_energy_section(en, hw.array.operand_bytes, dram_preset, base_dir, &hw.energy);
  }

  diag.throw_if_any();
  return hw;
}

Json read_hw_document(const std::string& file_or_preset, std::string* source) {
  std::ifstream probe(file_or_preset);
  if (probe) {
    *source = file_or_preset;
    return read_json_file(file_or_preset);
  }
  if (const char* text = find_preset(file_or_preset)) {
    *source = "preset:" + file_or_preset;
    return parse_json_text(text, *source);
  }
  throw UserError(file_or_preset + ": no such file, and no preset of that name (presets: " + preset_names() + ")");
}

HwConfig load_hw_config(const std::string& file_or_preset) {
  std::string source;
  Json doc = read_hw_document(file_or_preset, &source);
  return parse_hw_config(doc, source);
}

}  // namespace attnsim
