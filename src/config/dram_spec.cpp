#include "config/dram_spec.h"

#include <cmath>
#include <fstream>

#include "common/checked_math.h"
#include "common/errors.h"
#include "config/presets.h"
#include "config/dram_address_mapping.h"

namespace attnsim {

const DramTimingField* dram_timing_fields(int* count) {
  static const DramTimingField fields[] = {
      {"CL", &DramTiming::CL, 1},         {"CWL", &DramTiming::CWL, 1},       {"tRCD", &DramTiming::tRCD, 1},
      {"tRP", &DramTiming::tRP, 1},       {"tRAS", &DramTiming::tRAS, 1},     {"tRC", &DramTiming::tRC, 1},
      {"tCCD_S", &DramTiming::tCCD_S, 1}, {"tCCD_L", &DramTiming::tCCD_L, 1}, {"tRRD_S", &DramTiming::tRRD_S, 1},
      {"tRRD_L", &DramTiming::tRRD_L, 1}, {"tFAW", &DramTiming::tFAW, 0},     {"tWR", &DramTiming::tWR, 1},
      {"tWTR_S", &DramTiming::tWTR_S, 1}, {"tWTR_L", &DramTiming::tWTR_L, 1}, {"tRTP", &DramTiming::tRTP, 1},
      {"tRFC", &DramTiming::tRFC, 1},     {"tREFI", &DramTiming::tREFI, 1},   {"tRTRS", &DramTiming::tRTRS, 0},
      {"tCKE", &DramTiming::tCKE, 1},     {"tXP", &DramTiming::tXP, 1},       {"tCKESR", &DramTiming::tCKESR, 1},
      {"tXS", &DramTiming::tXS, 1},       {"tRFCpb", &DramTiming::tRFCpb, 1}, {"tREFIpb", &DramTiming::tREFIpb, 1},
      {"tPBR2PBR", &DramTiming::tPBR2PBR, 1}, {"tPBR2ACT", &DramTiming::tPBR2ACT, 0},
  };
  *count = int(sizeof fields / sizeof fields[0]);
  return fields;
}

std::int64_t DramSpec::capacity_bytes() const {
  // Saturates: the organization's limits allow 2^73 bytes, more than any address can reach.
  std::int64_t c = 1;
  for (std::int64_t f : {std::int64_t(channels), std::int64_t(ranks), std::int64_t(banks_per_rank()), rows, row_bytes()})
    if (!checked_mul(c, f, &c)) return kMaxSimFs;
  return c;
}

std::int64_t DramSpec::min_refresh_interval() const {
  // A REF falls due every tREFI and may be issued late by the PREA it needs: the bank opened just
  // before the due cycle closes after tRAS (or its read's tRTP, or its write's data and tWR), then
  // tRP. After the REF, a request needs tRFC before its ACT and tRCD before its column command,
  // which must come before the next REF falls due and blocks the rank again.
  const std::int64_t close = std::max({std::int64_t(t.tRAS), std::int64_t(t.tRCD) + t.tRTP,
                                       std::int64_t(t.tRCD) + t.CWL + burst_cycles() + t.tWR});
  return std::int64_t(t.tRFC) + t.tRP + close + t.tRCD;
}

double DramSpec::peak_bytes_per_second() const {
  // Two data beats per clock on each channel.
  return double(channels) * channel_width_bits / 8.0 * 2.0 / (double(tCK_fs) * 1e-15);
}

const char* find_dram_preset(const std::string& name) {
  for (const auto& p : embedded_dram_presets())
    if (name == p.name) return p.json_text;
  return nullptr;
}

std::string dram_preset_names() {
  std::string s;
  for (const auto& p : embedded_dram_presets()) s += (s.empty() ? "" : ", ") + std::string(p.name);
  return s;
}

namespace {

bool power_of_two(std::int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

// A power policy object, {"policy": "off"} or {"policy": "idle_cycles", "after_cycles": N}: N, or 0 for off.
std::int64_t read_power_policy(const JsonView& d, const char* key) {
  JsonView p = d.object(key, /*required=*/false);
  if (!p.is_object()) return 0;
  p.reject_unknown_keys({"policy", "after_cycles"});
  const std::string policy = p.choice("policy", std::nullopt, {"off", "idle_cycles"});
  // Asked first, so that the schema records after_cycles as optional: it is required with idle_cycles only.
  const bool given = p.has("after_cycles");
  const std::int64_t after = given ? p.integer("after_cycles", std::nullopt, 1, std::int64_t(1) << 40) : 0;
  if (policy == "idle_cycles" && !given)
    p.diag().add(p.child_path("after_cycles"), "required with policy \"idle_cycles\" (DRAM cycles of idleness)");
  if (policy == "off" && given) p.diag().add(p.child_path("after_cycles"), "only with policy \"idle_cycles\"");
  return policy == "idle_cycles" ? after : 0;
}

// Reads the timing keys of an object (a device's "timing" or a config's "timing" overrides).
void read_timing(const JsonView& t, DramTiming* timing, bool required) {
  int n = 0;
  const DramTimingField* fields = dram_timing_fields(&n);
  for (int i = 0; i < n; ++i) {
    const DramTimingField& f = fields[i];
    // The power-down and self-refresh timings are optional in a device file (files written before them
    // stay valid); a power policy that needs one checks that it is there (check_spec).
    // So are the per-bank refresh timings (absent where the standard has no per-bank REF).
    const bool power_timing = f.member == &DramTiming::tCKE || f.member == &DramTiming::tXP ||
                              f.member == &DramTiming::tCKESR || f.member == &DramTiming::tXS ||
                              f.member == &DramTiming::tRFCpb || f.member == &DramTiming::tREFIpb ||
                              f.member == &DramTiming::tPBR2PBR || f.member == &DramTiming::tPBR2ACT;
    if ((!required || power_timing) && !t.has(f.name)) continue;
    timing->*f.member = int(
        t.integer(f.name, required ? std::nullopt : std::optional<std::int64_t>(timing->*f.member), f.min, 100000000));
  }
}

void reject_unknown_timing_keys(const JsonView& t, bool allow_tck) {
  if (!t.is_object()) return;
  int n = 0;
  const DramTimingField* fields = dram_timing_fields(&n);
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.emplace_back(fields[i].name);
  if (allow_tck) names.emplace_back("tCK_ps");
  t.declare_keys(names);
  for (auto it = t.node()->begin(); it != t.node()->end(); ++it) {
    bool known = false;
    for (auto& nm : names) known |= nm == it.key();
    if (known) continue;
    std::string hint = did_you_mean(it.key(), names);
    std::string list;
    for (auto& nm : names) list += (list.empty() ? "" : ", ") + nm;
    t.diag().add(
        t.child_path(it.key()),
        "unknown timing parameter" + (hint.empty() ? " (known: " + list + ")" : " (did you mean \"" + hint + "\"?)"));
  }
}

// The device's "power" section: {"devices_per_rank": N, "rails": [{"name", "volts", "IDD0", "IDD2N", "IDD3N",
// "IDD4R", "IDD4W", "IDD5B", and optionally "IDD2P", "IDD3P", "IDD6"}, ...], "source": "..."} or {"per_byte_fallback": true, "source": "..."}.
void read_power(const JsonView& p, DramPower* power) {
  if (!p.is_object()) return;
  p.reject_unknown_keys({"devices_per_rank", "rails", "source", "per_byte_fallback"});
  power->source = p.string("source", std::nullopt);
  if (p.has("source") && (*p.node())["source"].is_string() && power->source.empty())
    p.diag().add(p.child_path("source"), "must say where the figures come from (a non-empty string)");
  if (p.boolean("per_byte_fallback", false)) {
    if (p.has("rails")) p.diag().add(p.child_path("rails"), "must be absent with per_byte_fallback");
    return;
  }
  // Required in this form only: the schema, which holds both forms in one object, records it optional.
  if (p.recording()) (void)p.has("devices_per_rank");
  power->devices_per_rank = int(p.integer("devices_per_rank", std::nullopt, 1, 1024));
  p.annotate("rails", {{"type", "array"}, {"minItems", 1}, {"items", {{"type", "object"}}}});
  if (!p.has("rails") || !(*p.node())["rails"].is_array() || (*p.node())["rails"].empty()) {
    p.diag().add(p.child_path("rails"), "must be a non-empty array of supply rails (or give per_byte_fallback)");
    return;
  }
  const Json& rails = (*p.node())["rails"];
  for (std::size_t i = 0; i < rails.size(); ++i) {
    JsonView r(&rails[i], p.child_path("rails") + "/" + std::to_string(i), &p.diag());
    if (!rails[i].is_object()) {
      p.diag().add(p.child_path("rails") + "/" + std::to_string(i), "must be an object", rails[i]);
      continue;
    }
    r.reject_unknown_keys(
        {"name", "volts", "IDD0", "IDD2N", "IDD3N", "IDD4R", "IDD4W", "IDD5B", "IDD2P", "IDD3P", "IDD6"});
    DramPowerRail rail;
    rail.name = r.string("name", std::nullopt);
    rail.volts = r.number("volts", std::nullopt, 0.0, 10.0, /*min_exclusive=*/true);
    rail.idd0_mA = r.number("IDD0", std::nullopt, 0.0, 1e5);
    rail.idd2n_mA = r.number("IDD2N", std::nullopt, 0.0, 1e5);
    rail.idd3n_mA = r.number("IDD3N", std::nullopt, 0.0, 1e5);
    rail.idd4r_mA = r.number("IDD4R", std::nullopt, 0.0, 1e5);
    rail.idd4w_mA = r.number("IDD4W", std::nullopt, 0.0, 1e5);
    rail.idd5b_mA = r.number("IDD5B", std::nullopt, 0.0, 1e5);
    // Absent: the power-down or self-refresh state is priced as the standby it stands for (dram_spec.h).
    rail.idd2p_mA = r.number("IDD2P", rail.idd2n_mA, 0.0, 1e5);
    rail.idd3p_mA = r.number("IDD3P", rail.idd3n_mA, 0.0, 1e5);
    rail.idd6_mA = r.number("IDD6", rail.idd2n_mA, 0.0, 1e5);
    // Each command's energy is its current above the background it replaces (report/dram_energy.h): never negative.
    auto at_least = [&](const char* key, double v, const char* other, double floor) {
      if (r.has(key) && v < floor)
        p.diag().add(r.child_path(key), std::string("must be at least ") + other + " (" + std::to_string(floor) + ")",
                     v);
    };
    at_least("IDD0", rail.idd0_mA, "IDD3N", rail.idd3n_mA);
    at_least("IDD0", rail.idd0_mA, "IDD2N", rail.idd2n_mA);
    at_least("IDD4R", rail.idd4r_mA, "IDD3N", rail.idd3n_mA);
    at_least("IDD4W", rail.idd4w_mA, "IDD3N", rail.idd3n_mA);
    at_least("IDD5B", rail.idd5b_mA, "IDD3N", rail.idd3n_mA);
    power->rails.push_back(rail);
  }
  power->present = true;
}

// Reads a device description (configs/dram/*.json) into spec, controller defaults included.
void read_device(const JsonView& root, DramSpec* spec) {
  root.reject_unknown_keys(
      {"description", "standard", "speed_grade", "channel_kind", "organization", "timing", "controller", "power"});
  read_power(root.object("power", /*required=*/false), &spec->power);
  spec->description = root.string("description", std::nullopt);
  spec->standard = root.string("standard", std::nullopt);
  spec->speed_grade = root.string("speed_grade", std::string());
  spec->channel_kind = root.string("channel_kind", std::string("channel"));
  JsonView o = root.object("organization");
  o.reject_unknown_keys(
      {"channel_width_bits", "burst_length", "bank_groups", "banks_per_group", "rows", "columns", "banks_per_refresh"});
  spec->channel_width_bits = int(o.integer("channel_width_bits", std::nullopt, 8, 1024));
  spec->burst_length = int(o.integer("burst_length", std::nullopt, 2, 64));
  spec->bank_groups = int(o.integer("bank_groups", std::nullopt, 1, 64));
  spec->banks_per_group = int(o.integer("banks_per_group", std::nullopt, 1, 64));
  spec->rows = o.integer("rows", std::nullopt, 1, std::int64_t(1) << 24);
  spec->columns = int(o.integer("columns", std::nullopt, 1, 1 << 16));
  spec->banks_per_refresh = int(o.integer("banks_per_refresh", 0, 0, 4096));
  for (const char* k : {"channel_width_bits", "burst_length", "bank_groups", "banks_per_group", "rows", "columns"}) {
    if (!o.has(k)) continue;
    const Json& v = (*o.node())[k];
    if (v.is_number_integer() && !power_of_two(v.get<std::int64_t>()))
      o.diag().add(o.child_path(k), "must be a power of two", v);
  }
  o.annotate("burst_length", {{"multipleOf", 2}});
  if (spec->burst_length % 2) o.diag().add(o.child_path("burst_length"), "must be even (two beats per clock)");
  if (spec->columns < spec->burst_length)
    o.diag().add(o.child_path("columns"), "must hold at least one burst (columns >= burst_length)");
  JsonView t = root.object("timing");
  reject_unknown_timing_keys(t, true);
  // From 1 fs (the time resolution) to the longest period whose kMaxRunCycles cycles fit in
  // simulated time (checked_math.h).
  double tck_ps = t.number("tCK_ps", std::nullopt, 0.001, double(kMaxPeriodFs) / 1000.0);
  spec->tCK_fs = std::llround(tck_ps * 1000.0);
  if (t.has("tCK_ps") && std::fabs(tck_ps * 1000.0 - double(spec->tCK_fs)) > 1e-6)
    t.diag().add(t.child_path("tCK_ps"), "must be a whole number of femtoseconds", (*t.node())["tCK_ps"]);
  read_timing(t, &spec->t, /*required=*/true);
  JsonView c = root.object("controller");
  c.reject_unknown_keys(
      {"channels", "ranks", "mapping", "read_queue", "write_queue", "write_high", "write_low", "frontend_cycles",
       "bank_queue", "refresh"});
  spec->channels = int(c.integer("channels", 1, 1, 1024));
  spec->ranks = int(c.integer("ranks", 1, 1, 16));
  spec->mapping = c.string("mapping", std::string("RoBaRaCoCh"));
  spec->read_queue = int(c.integer("read_queue", 32, 1, 1024));
  spec->write_queue = int(c.integer("write_queue", 32, 1, 1024));
  spec->write_high = int(c.integer("write_high", 24, 1, 1024));
  spec->write_low = int(c.integer("write_low", 8, 0, 1024));
  spec->frontend_cycles = int(c.integer("frontend_cycles", 0, 0, 100000));
  spec->bank_queue = int(c.integer("bank_queue", 0, 0, 1024));
  spec->per_bank_refresh = c.choice("refresh", std::string("all_bank"), {"all_bank", "per_bank"}) == "per_bank";
}

// Problems of a preset document become problems of the /dram/preset key that named it.
void read_preset(const Json& doc, const std::string& source, const JsonView& at, DramSpec* spec) {
  Diagnostics pd(source);
  JsonView root(&doc, "", &pd);
  if (!doc.is_object())
    pd.add("", "a DRAM device description must be a JSON object", doc);
  else
    read_device(root, spec);
  for (const auto& p : pd.problems()) at.diag().add(at.child_path("preset"), "invalid DRAM device description: " + p);
}

// Cross-field checks on the final spec; reported under the /dram object's path.
void check_spec(const JsonView& d, const DramSpec& s) {
  auto& diag = d.diag();
  if (!power_of_two(s.channels)) diag.add(d.child_path("channels"), "must be a power of two", s.channels);
  if (!power_of_two(s.ranks)) diag.add(d.child_path("ranks"), "must be a power of two", s.ranks);
  if (s.write_high > s.write_queue)
    diag.add(d.child_path("write_high"), "must not exceed write_queue (" + std::to_string(s.write_queue) + ")",
             s.write_high);
  if (s.write_low >= s.write_high)
    diag.add(d.child_path("write_low"), "must be below write_high (" + std::to_string(s.write_high) + ")", s.write_low);
  const DramTiming& t = s.t;
  if (t.tRC < t.tRAS)
    diag.add(d.child_path("timing") + "/tRC", "must be at least tRAS (" + std::to_string(t.tRAS) + ")", t.tRC);
  if (t.tCCD_L < t.tCCD_S)
    diag.add(d.child_path("timing") + "/tCCD_L", "must be at least tCCD_S (" + std::to_string(t.tCCD_S) + ")",
             t.tCCD_L);
  if (t.tCCD_S < s.burst_cycles())
    diag.add(d.child_path("timing") + "/tCCD_S",
             "must be at least the burst's data cycles (" + std::to_string(s.burst_cycles()) + ")", t.tCCD_S);
  if (t.tRRD_L < t.tRRD_S)
    diag.add(d.child_path("timing") + "/tRRD_L", "must be at least tRRD_S (" + std::to_string(t.tRRD_S) + ")",
             t.tRRD_L);
  if (t.tWTR_L < t.tWTR_S)
    diag.add(d.child_path("timing") + "/tWTR_L", "must be at least tWTR_S (" + std::to_string(t.tWTR_S) + ")",
             t.tWTR_L);
  if (t.tREFI <= s.min_refresh_interval())
    diag.add(d.child_path("timing") + "/tREFI",
             "must exceed tRFC + tRP + max(tRAS, tRCD + tRTP, tRCD + CWL + BL/2 + tWR) + tRCD = " +
                 std::to_string(s.min_refresh_interval()) +
                 " cycles, or a refresh falls due before a request opened after the previous one can be served, "
                 "and refresh starves every request",
             t.tREFI);
  if (s.per_bank_refresh) {
    // Named after the key that asked for it: /dram/refresh (or the device's controller.refresh).
    const std::string key = d.has("refresh") ? d.child_path("refresh") : d.child_path("controller") + "/refresh";
    if (s.banks_per_refresh == 0 || t.tRFCpb == 0 || t.tREFIpb == 0 || t.tPBR2PBR == 0)
      diag.add(key, "\"per_bank\" needs a device with per-bank refresh (" + (s.standard.empty() ? "this device" : s.standard) +
                        " here: organization.banks_per_refresh and the timings tRFCpb, tREFIpb, tPBR2PBR); use \"all_bank\"");
    else if (s.banks_per_rank() % s.banks_per_refresh != 0)
      diag.add(key, "\"per_bank\": banks_per_refresh (" + std::to_string(s.banks_per_refresh) +
                        ") must divide the banks of a rank (" + std::to_string(s.banks_per_rank()) + ")");
    else if (std::int64_t(t.tREFIpb) * s.refresh_sets() > t.tREFI || t.tREFIpb <= t.tPBR2PBR + t.tRP + t.tRAS)
      diag.add(d.child_path("timing") + "/tREFIpb",
               "must be at most tREFI / bank sets (" + std::to_string(t.tREFI / s.refresh_sets()) +
                   ": every bank refreshed each tREFI) and above tPBR2PBR + tRP + tRAS (" +
                   std::to_string(t.tPBR2PBR + t.tRP + t.tRAS) + ": the set can be closed and refreshed in time)",
               t.tREFIpb);
  }
  if (s.power_down_after_cycles > 0 && (t.tCKE == 0 || t.tXP == 0))
    diag.add(d.child_path("power_down"), "needs the device's tCKE and tXP (its timing, or /dram/timing)");
  if (s.self_refresh_after_cycles > 0 && (t.tCKESR == 0 || t.tXS == 0))
    diag.add(d.child_path("self_refresh"), "needs the device's tCKESR and tXS (its timing, or /dram/timing)");
  std::string error;
  AddressMapping m;
  if (!s.mapping.empty() && !m.parse(s.mapping, s, &error)) diag.add(d.child_path("mapping"), error, s.mapping);
}

}  // namespace

DramSpec parse_cycle_dram(const JsonView& d) {
  DramSpec spec;
  if (!d.is_object()) return spec;
  d.reject_unknown_keys({"model", "preset", "channels", "ranks", "mapping", "read_queue", "write_queue", "write_high",
                         "write_low", "frontend_cycles", "bank_queue", "fast_path", "timing", "description", "power_down",
                         "self_refresh", "refresh"});
  d.string("description", std::string());
  std::string preset = d.string("preset", std::nullopt);
  if (preset.empty()) return spec;  // recorded as required by string()
  if (const char* text = find_dram_preset(preset)) {
    read_preset(parse_json_text(text, "preset:" + preset), "preset:" + preset, d, &spec);
    spec.name = preset;
  } else if (std::ifstream(preset)) {
    read_preset(read_json_file(preset), preset, d, &spec);
    spec.name = preset;
  } else {
    d.diag().add(d.child_path("preset"),
                 "no DRAM preset of that name and no such file (presets: " + dram_preset_names() + ")", preset);
    return spec;
  }
  spec.channels = int(d.integer("channels", spec.channels, 1, 1024));
  spec.ranks = int(d.integer("ranks", spec.ranks, 1, 16));
  spec.mapping = d.string("mapping", spec.mapping);
  spec.read_queue = int(d.integer("read_queue", spec.read_queue, 1, 1024));
  spec.write_queue = int(d.integer("write_queue", spec.write_queue, 1, 1024));
  spec.write_high = int(d.integer("write_high", spec.write_high, 1, 1024));
  spec.write_low = int(d.integer("write_low", spec.write_low, 0, 1024));
  spec.frontend_cycles = int(d.integer("frontend_cycles", spec.frontend_cycles, 0, 100000));
  spec.bank_queue = int(d.integer("bank_queue", spec.bank_queue, 0, 1024));
  spec.fast_path = d.boolean("fast_path", true);
  spec.per_bank_refresh =
      d.choice("refresh", std::string(spec.per_bank_refresh ? "per_bank" : "all_bank"), {"all_bank", "per_bank"}) ==
      "per_bank";
  spec.power_down_after_cycles = read_power_policy(d, "power_down");
  spec.self_refresh_after_cycles = read_power_policy(d, "self_refresh");
  JsonView t = d.object("timing", /*required=*/false);
  reject_unknown_timing_keys(t, false);
  read_timing(t, &spec.t, /*required=*/false);
  if (d.diag().ok()) check_spec(d, spec);
  return spec;
}

double validate_cycle_dram_config(const JsonView& d, double accelerator_clock_mhz, DramSpec* spec_out) {
  const size_t before = d.diag().problems().size();
  DramSpec spec = parse_cycle_dram(d);
  if (d.diag().problems().size() != before || spec.tCK_fs <= 0 || accelerator_clock_mhz <= 0) return 0.0;
  if (spec_out) *spec_out = spec;
  return spec.peak_bytes_per_second() / (accelerator_clock_mhz * 1e6);
}

DramSpec parse_dram_device(const Json& doc, const std::string& source, SchemaRecorder* recorder) {
  Diagnostics diag(source);
  diag.record_into(recorder);
  DramSpec spec;
  JsonView root(&doc, "", &diag);
  if (!doc.is_object())
    diag.add("", "a DRAM device description must be a JSON object", doc);
  else
    read_device(root, &spec);
  spec.name = source;
  if (diag.ok()) check_spec(root, spec);
  diag.throw_if_any();
  return spec;
}

DramSpec load_dram_spec(const std::string& file_or_preset) {
  std::ifstream probe(file_or_preset);
  if (!probe) {
    if (!find_dram_preset(file_or_preset))
      throw UserError(file_or_preset +
                      ": no such file, and no DRAM preset of that name (presets: " + dram_preset_names() + ")");
    Json doc = {{"model", "cycle"}, {"preset", file_or_preset}};
    Diagnostics diag("preset:" + file_or_preset);
    DramSpec s = parse_cycle_dram(JsonView(&doc, "", &diag));
    diag.throw_if_any();
    return s;
  }
  Json doc = read_json_file(file_or_preset);
  if (doc.is_object() && doc.contains("organization")) return parse_dram_device(doc, file_or_preset);
  Diagnostics diag(file_or_preset);
  DramSpec spec;
  if (doc.is_object() && doc.contains("dram")) {  // a hardware config
    JsonView root(&doc, "", &diag);
    JsonView d = root.object("dram");
    if (d.is_object() && d.string("model", std::string()) != "cycle")
      diag.add("/dram/model", "dram-replay needs a cycle DRAM model", (*d.node())["model"]);
    else
      spec = parse_cycle_dram(d);
  } else {
    spec = parse_cycle_dram(JsonView(&doc, "", &diag));
  }
  diag.throw_if_any();
  return spec;
}

}  // namespace attnsim
