#include "config/energy_table.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/errors.h"
#include "config/hw_config.h"
#include "config/presets.h"

namespace attnsim {

const char* to_string(Datatype d) {
  static constexpr const char* kNames[] = {"int8", "fp16", "bf16", "fp32"};
  return std::size_t(d) < std::size(kNames) ? kNames[std::size_t(d)] : "?";
}

int datatype_bytes(Datatype d) { return d == Datatype::Int8 ? 1 : d == Datatype::Fp32 ? 4 : 2; }

const char* to_string(DramTech t) {
  static constexpr const char* kNames[] = {"ddr4", "lpddr4", "hbm2", "hbm3"};
  return std::size_t(t) < std::size(kNames) ? kNames[std::size_t(t)] : "?";
}

double PowerLawCurve::at(double capacity_bytes, double width_bytes) const {
  return ref_value * std::pow(capacity_bytes / ref_capacity_bytes, capacity_exponent) *
         std::pow(width_bytes / ref_width_bytes, width_exponent);
}

namespace {

// The largest value any entry may hold: far above any real figure (a DRAM byte costs ~100 pJ, a PE
// ~10^4 um^2), low enough that a typo of a few orders of magnitude is caught.
constexpr double kMaxEntry = 1e7;

void require_source(const JsonView& v) {
  if (!v.is_object()) return;
  const std::string s = v.string("source", std::nullopt);
  v.annotate("source", {{"minLength", 1}});
  if (v.has("source") && v.node()->at("source").is_string() && s.empty())
    v.diag().add(v.child_path("source"), "must say where the value comes from (a non-empty string)");
}

// {"value": x, "source": "..."}: a non-negative number with its source.
double entry(const JsonView& parent, const std::string& key) {
  JsonView v = parent.object(key);
  v.reject_unknown_keys({"value", "source"});
  require_source(v);
  return v.number("value", std::nullopt, 0.0, kMaxEntry);
}

// One entry per name, in order (datatypes, DRAM technologies, unit primitives).
template <std::size_t N>
void entries(const JsonView& parent, const std::string& key, const std::array<const char*, N>& names,
             std::array<double, N>* out) {
  JsonView o = parent.object(key);
  o.reject_unknown_keys(std::vector<std::string>(names.begin(), names.end()));
  for (std::size_t i = 0; i < N; ++i) (*out)[i] = entry(o, names[i]);
}

// One entry for each of the named primitives (a subset of the VecPrim order); the others stay 0.
void prim_entries(const JsonView& parent, const std::string& key, const std::vector<VecPrim>& prims,
                  std::array<double, kEnergyPrimCount>* out) {
  JsonView o = parent.object(key);
  std::vector<std::string> names;
  for (VecPrim p : prims) names.push_back(to_string(p));
  o.reject_unknown_keys(names);
  for (VecPrim p : prims) (*out)[std::size_t(p)] = entry(o, to_string(p));
}

PowerLawCurve curve(const JsonView& parent, const std::string& key) {
  JsonView c = parent.object(key);
  c.reject_unknown_keys(
      {"ref_value", "ref_capacity_bytes", "ref_width_bytes", "capacity_exponent", "width_exponent", "source"});
  require_source(c);
  PowerLawCurve p;
  p.ref_value = c.number("ref_value", std::nullopt, 0.0, kMaxEntry);
  p.ref_capacity_bytes = c.number("ref_capacity_bytes", std::nullopt, 0.0, 1e15, /*min_exclusive=*/true);
  p.ref_width_bytes = c.number("ref_width_bytes", std::nullopt, 0.0, 1e9, /*min_exclusive=*/true);
  // Exponents beyond +-2 would make a 1 MiB bank cost 10^12 times an 8 KiB one: not a fit of anything physical.
  p.capacity_exponent = c.number("capacity_exponent", std::nullopt, -2.0, 2.0);
  p.width_exponent = c.number("width_exponent", std::nullopt, -2.0, 2.0);
  return p;
}

constexpr std::array<const char*, kDatatypeCount> kDatatypeNames = {"int8", "fp16", "bf16", "fp32"};
constexpr std::array<const char*, kDramTechCount> kDramTechNames = {"ddr4", "lpddr4", "hbm2", "hbm3"};
// VecPrim order (config/hw_config.h).
constexpr std::array<const char*, kEnergyPrimCount> kPrimNames = {"add",   "mul",        "max",       "exp",
                                                                  "rsqrt", "reciprocal", "prefix_sum"};
static_assert(kEnergyPrimCount == kVecPrimCount, "one energy per vector primitive");

}  // namespace

EnergyTable parse_energy_table(const Json& doc, const std::string& source, SchemaRecorder* recorder) {
  Diagnostics diag(source);
  diag.record_into(recorder);
  EnergyTable t;
  t.source = source;
  if (!doc.is_object()) {
    diag.add("", "an energy table must be a JSON object", doc);
    diag.throw_if_any();
  }
  JsonView root(&doc, "", &diag);
  root.reject_unknown_keys({"description", "node_nm", "energy", "area"});
  t.description = root.string("description", std::string());
  t.node_nm = root.number("node_nm", std::nullopt, 0.0, 1000.0, /*min_exclusive=*/true);

  JsonView e = root.object("energy");
  e.reject_unknown_keys({"mac_pj", "pe_operand_register_pj_per_byte", "pe_accumulator_pj_per_byte", "sram_read_pj",
                         "sram_write_pj", "vector_pj_per_lane_op", "softmax_pj_per_lane_op", "datapath_pe_pj_per_op",
                         "row_unit_pj_per_op", "dma_pj_per_byte", "dram_pj_per_byte", "leakage_mw_per_mm2"});
  entries(e, "mac_pj", kDatatypeNames, &t.mac_pj);
  t.pe_operand_register_pj_per_byte = entry(e, "pe_operand_register_pj_per_byte");
  t.pe_accumulator_pj_per_byte = entry(e, "pe_accumulator_pj_per_byte");
  t.sram_read_pj = curve(e, "sram_read_pj");
  t.sram_write_pj = curve(e, "sram_write_pj");
  entries(e, "vector_pj_per_lane_op", kPrimNames, &t.vector_pj_per_lane_op);
  entries(e, "softmax_pj_per_lane_op", kPrimNames, &t.softmax_pj_per_lane_op);
  prim_entries(e, "datapath_pe_pj_per_op", {VecPrim::Add, VecPrim::Mul, VecPrim::Max, VecPrim::Exp},
               &t.datapath_pe_pj_per_op);
  prim_entries(e, "row_unit_pj_per_op",
               {VecPrim::Add, VecPrim::Mul, VecPrim::Max, VecPrim::Exp, VecPrim::Reciprocal}, &t.row_unit_pj_per_op);
  t.dma_pj_per_byte = entry(e, "dma_pj_per_byte");
  entries(e, "dram_pj_per_byte", kDramTechNames, &t.dram_pj_per_byte);
  t.leakage_mw_per_mm2 = entry(e, "leakage_mw_per_mm2");

  JsonView a = root.object("area");
  a.reject_unknown_keys({"pe_um2", "sram_um2_per_byte", "vector_um2_per_lane", "softmax_um2_per_lane",
                         "softmax_um2_per_exp_unit", "pe_softmax_um2", "pe_score_entry_um2",
                         "row_unit_um2_per_op_per_cycle", "dma_mm2", "dram_phy_mm2_per_GBps"});
  entries(a, "pe_um2", kDatatypeNames, &t.pe_um2);
  t.sram_um2_per_byte = curve(a, "sram_um2_per_byte");
  t.vector_um2_per_lane = entry(a, "vector_um2_per_lane");
  t.softmax_um2_per_lane = entry(a, "softmax_um2_per_lane");
  t.softmax_um2_per_exp_unit = entry(a, "softmax_um2_per_exp_unit");
  t.pe_softmax_um2 = entry(a, "pe_softmax_um2");
  t.pe_score_entry_um2 = entry(a, "pe_score_entry_um2");
  t.row_unit_um2_per_op_per_cycle = entry(a, "row_unit_um2_per_op_per_cycle");
  t.dma_mm2 = entry(a, "dma_mm2");
  entries(a, "dram_phy_mm2_per_GBps", kDramTechNames, &t.dram_phy_mm2_per_GBps);
  diag.throw_if_any();
  return t;
}

std::string energy_preset_names() {
  std::string s;
  for (const auto& p : embedded_energy_presets()) s += (s.empty() ? "" : ", ") + std::string(p.name);
  return s;
}

const EnergyTable* find_energy_preset(const std::string& name) {
  // Parsed once: a sweep parses a hardware config per point, and every one names a preset.
  static const std::vector<std::pair<std::string, EnergyTable>> tables = [] {
    std::vector<std::pair<std::string, EnergyTable>> v;
    for (const auto& p : embedded_energy_presets())
      v.emplace_back(p.name, parse_energy_table(parse_json_text(p.json_text, std::string("preset:") + p.name),
                                                std::string("preset:") + p.name));
    return v;
  }();
  for (const auto& [n, t] : tables)
    if (n == name) return &t;
  return nullptr;
}

EnergyTable load_energy_table(const std::string& file_or_preset) {
  std::ifstream probe(file_or_preset);
  if (probe) {
    check_input_file(file_or_preset, "energy table");
    return parse_energy_table(read_json_file(file_or_preset), file_or_preset);
  }
  if (const EnergyTable* t = find_energy_preset(file_or_preset)) return *t;
  throw UserError(file_or_preset + ": no such energy table file, and no energy preset of that name (presets: " +
                  energy_preset_names() + ")");
}

void read_energy_section(const JsonView& e, int operand_bytes, const std::string& dram_preset,
                         const std::string& base_dir, EnergyConfig* out) {
  Diagnostics& diag = e.diag();
  e.reject_unknown_keys({"preset", "file", "datatype", "dram"});
  const std::size_t before = diag.problems().size();
  std::string preset = e.string("preset", std::string()), file = e.string("file", std::string());
  if (e.has("preset") && e.has("file"))
    diag.add(e.child_path("file"), "give either \"preset\" or \"file\", not both", true);
  if (!preset.empty() && !find_energy_preset(preset))
    diag.add(e.child_path("preset"), "must name an energy preset (" + energy_preset_names() + ")", Json(preset));

  // The datatype: named, or the natural one for the operand width (1 B int8, 2 B fp16, 4 B and wider fp32).
  Datatype dt = operand_bytes == 1 ? Datatype::Int8 : operand_bytes == 2 ? Datatype::Fp16 : Datatype::Fp32;
  if (e.has("datatype")) {
    const std::string name = e.choice("datatype", std::nullopt, {"int8", "fp16", "bf16", "fp32"});
    for (int d = 0; d < kDatatypeCount; ++d)
      if (name == to_string(Datatype(d))) dt = Datatype(d);
    if (diag.problems().size() == before && datatype_bytes(dt) != operand_bytes)
      diag.add(e.child_path("datatype"),
               "is " + std::to_string(datatype_bytes(dt)) + " B wide but /array/operand_bytes is " +
                   std::to_string(operand_bytes),
               Json(name));
  }
  // The DRAM technology: named, or the cycle-accurate device's family (its preset's name), or DDR4. The
  // tables hold no LPDDR5, DDR5 or GDDR6 figures: lpddr5 presets take LPDDR4's, the others DDR4's (their
  // device files' "power" sections say so where the per-byte figure is their energy).
  DramTech tech = DramTech::Ddr4;
  for (int k = 0; k < kDramTechCount; ++k)
    if (dram_preset.rfind(to_string(DramTech(k)), 0) == 0) tech = DramTech(k);
  if (dram_preset.rfind("lpddr5", 0) == 0) tech = DramTech::Lpddr4;
  if (e.has("dram")) {
    const std::string name = e.choice("dram", std::nullopt, {"ddr4", "lpddr4", "hbm2", "hbm3"});
    for (int k = 0; k < kDramTechCount; ++k)
      if (name == to_string(DramTech(k))) tech = DramTech(k);
  }
  // The table is read only for an otherwise good config; `attnsim schema` records the section's rules
  // from an example that names a file it never opens.
  if (!diag.ok() || e.recording()) return;
  if (!file.empty()) {
    // A relative path is taken from the hardware config's directory when the file is there.
    std::string path = file;
    if (!base_dir.empty() && std::filesystem::path(file).is_relative()) {
      const std::string beside = (std::filesystem::path(base_dir) / file).string();
      if (std::ifstream(beside)) path = beside;
    }
    if (!std::ifstream(path)) {
      diag.add(e.child_path("file"), "no such energy table file", Json(file));
      return;
    }
    check_input_file(path, "energy table");
    out->table = parse_energy_table(read_json_file(path), path);
  } else {
    out->table = *find_energy_preset(preset.empty() ? "45nm" : preset);
  }
  out->present = true;
  out->datatype = dt;
  out->dram = tech;
}

}  // namespace attnsim
