#include "config/scalesim_input.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

#include "common/checked_math.h"
#include "common/errors.h"

namespace attnsim {

namespace {

// Problems located in one file, reported together ("FILE:LINE:COLUMN: rule").
class LocatedProblems {
 public:
  explicit LocatedProblems(std::string file) : file_(std::move(file)) {}
  void add(int line, int column, const std::string& rule) {
    problems_.push_back(file_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + rule);
  }
  void add_file(const std::string& rule) { problems_.push_back(file_ + ": " + rule); }
  bool ok() const { return problems_.empty(); }
  void throw_if_any() const {
    if (!problems_.empty()) throw UserError(problems_);
  }

 private:
  std::string file_;
  std::vector<std::string> problems_;
};

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// The text's lines without their line ends ("\n" or "\r\n"); a UTF-8 byte order mark is dropped.
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    if (end == text.size()) break;
    start = end + 1;
  }
  if (!lines.empty() && lines.back().empty()) lines.pop_back();  // the last line's end
  return lines;
}

// A piece of a line with its 1-based column (of its first non-blank character).
struct Field {
  std::string text;
  int column = 1;
};

Field trimmed(const std::string& line, std::size_t begin, std::size_t end) {
  while (begin < end && is_space(line[begin])) ++begin;
  while (end > begin && is_space(line[end - 1])) --end;
  return {line.substr(begin, end - begin), int(begin) + 1};
}

// A non-negative decimal integer of at most `max`, or nullopt (Python's int() also takes a sign and
// underscores; SCALE-Sim's own files have neither).
std::optional<std::int64_t> parse_count(const std::string& s, std::int64_t max) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

// ---- the run config --------------------------------------------------------------------------

struct IniValue {
  std::string key;  // as written
  Field value;
  int line = 0, key_column = 1;
};
struct IniSection {
  int line = 0;
  std::map<std::string, IniValue> values;  // by lowercased key (configparser's optionxform)
};

// The keys SCALE-Sim v2 reads, by section (configparser lowercases keys; sections keep their case).
const std::map<std::string, std::vector<std::string>>& known_keys() {
  static const std::map<std::string, std::vector<std::string>> keys = {
      {"general", {"run_name"}},
      {"architecture_presets",
       {"ArrayHeight", "ArrayWidth", "IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB", "IfmapOffset", "FilterOffset",
        "OfmapOffset", "Dataflow", "Bandwidth", "MemoryBanks"}},
      {"run_presets", {"InterfaceBandwidth"}},
      {"network_presets", {"TopologyCsvLoc"}},
  };
  return keys;
}

// Python's configparser with its defaults (strict, "=" and ":" delimiters, full-line "#" and ";"
// comments); a continued (indented) value line, which no SCALE-Sim config uses, is refused.
std::map<std::string, IniSection> parse_ini(const std::string& text, LocatedProblems& problems) {
  std::map<std::string, IniSection> sections;
  IniSection* current = nullptr;
  std::string current_name;
  bool in_refused_section = false;  // keys under a refused header are not reported again
  const std::vector<std::string> lines = split_lines(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const int line_no = int(i) + 1;
    const std::string& line = lines[i];
    const Field whole = trimmed(line, 0, line.size());
    if (whole.text.empty() || whole.text[0] == '#' || whole.text[0] == ';') continue;
    if (whole.column > 1) {
      problems.add(line_no, whole.column,
                   "an indented line (a continued value in configparser) is not supported; start it in column 1");
      continue;
    }
    if (whole.text[0] == '[') {
      if (whole.text.back() != ']' || whole.text.size() < 3) {
        problems.add(line_no, 1, "a section header must be [name]");
        current = nullptr;
        in_refused_section = true;
        continue;
      }
      current_name = whole.text.substr(1, whole.text.size() - 2);
      if (!known_keys().count(current_name)) {
        std::vector<std::string> names;
        for (const auto& [name, keys] : known_keys()) names.push_back(name);
        const std::string hint = did_you_mean(current_name, names);
        problems.add(line_no, 2,
                     "unknown section [" + current_name +
                         "]: SCALE-Sim v2 reads [general], [architecture_presets], [run_presets] and "
                         "[network_presets] (sparsity, layouts, multiple cores and the rest of SCALE-Sim v3 are not "
                         "modelled)" +
                         (hint.empty() ? "" : "; did you mean [" + hint + "]?"));
        current = nullptr;
        in_refused_section = true;
        continue;
      }
      if (sections.count(current_name)) {
        problems.add(
            line_no, 2,
            "section [" + current_name + "] already appeared on line " + std::to_string(sections[current_name].line));
        current = nullptr;
        in_refused_section = true;
        continue;
      }
      current = &sections[current_name];
      in_refused_section = false;
      current->line = line_no;
      continue;
    }
    const std::size_t delim = line.find_first_of(":=");
    if (delim == std::string::npos) {
      problems.add(line_no, 1, "expected KEY : VALUE or KEY = VALUE, or a [section]");
      continue;
    }
    const Field key = trimmed(line, 0, delim);
    if (key.text.empty()) {
      problems.add(line_no, 1, "a key is missing before '" + std::string(1, line[delim]) + "'");
      continue;
    }
    if (!current) {
      if (!in_refused_section) problems.add(line_no, key.column, "a key before any [section]");
      continue;
    }
    const std::vector<std::string>& keys = known_keys().at(current_name);
    const std::string lk = lower(key.text);
    bool known = false;
    std::vector<std::string> lowered;
    for (const auto& k : keys) {
      lowered.push_back(lower(k));
      known = known || lower(k) == lk;
    }
    if (!known) {
      std::string list;
      for (const auto& k : keys) list += (list.empty() ? "" : ", ") + k;
      std::string hint = did_you_mean(lk, lowered);
      for (const auto& k : keys)
        if (lower(k) == hint) hint = k;
      problems.add(line_no, key.column,
                   "unknown key " + key.text + " in [" + current_name + "] (SCALE-Sim v2 reads " + list + ")" +
                       (hint.empty() ? "" : "; did you mean " + hint + "?"));
      continue;
    }
    if (current->values.count(lk)) {
      problems.add(
          line_no, key.column,
          key.text + " already set on line " + std::to_string(current->values[lk].line) + " of [" + current_name + "]");
      continue;
    }
    IniValue v;
    v.key = key.text;
    v.key_column = key.column;
    v.line = line_no;
    v.value = trimmed(line, delim + 1, line.size());
    if (v.value.text.empty()) v.value.column = int(delim) + 2;
    current->values[lk] = v;
  }
  return sections;
}

}  // namespace

ScaleSimConfig read_scalesim_config(const std::string& path) {
  const std::string text = read_text_file(path, "SCALE-Sim config");
  LocatedProblems problems(path);
  std::map<std::string, IniSection> sections = parse_ini(text, problems);
  ScaleSimConfig cfg;
  cfg.source = path;

  // The value of a key SCALE-Sim requires (a problem when it is missing), or null.
  auto required = [&](const std::string& section, const std::string& key) -> const IniValue* {
    auto s = sections.find(section);
    if (s == sections.end()) return nullptr;  // reported once per section below
    auto v = s->second.values.find(lower(key));
    if (v == s->second.values.end()) {
      problems.add(s->second.line, 1, "[" + section + "] has no " + key + " (SCALE-Sim v2 requires it)");
      return nullptr;
    }
    return &v->second;
  };
  auto optional = [&](const std::string& section, const std::string& key) -> const IniValue* {
    auto s = sections.find(section);
    if (s == sections.end()) return nullptr;
    auto v = s->second.values.find(lower(key));
    return v == s->second.values.end() ? nullptr : &v->second;
  };
  auto count = [&](const IniValue* v, std::int64_t min, std::int64_t max, const std::string& why) -> std::int64_t {
    if (!v) return min;
    auto n = parse_count(v->value.text, max);
    if (!n || *n < min) {
      problems.add(v->line, v->value.column,
                   v->key + ": must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]" + why +
                       ", got \"" + v->value.text + "\"");
      return min;
    }
    return *n;
  };
  for (const char* section : {"general", "architecture_presets", "run_presets"})
    if (!sections.count(section))
      problems.add_file(std::string("no [") + section + "] section (SCALE-Sim v2 requires it)");

  if (const IniValue* v = required("general", "run_name")) cfg.run_name = v->value.text;

  // InterfaceBandwidth decides whether Bandwidth is read (scale_config.py).
  if (const IniValue* v = required("run_presets", "InterfaceBandwidth")) {
    if (v->value.text == "USER")
      cfg.user_bandwidth = true;
    else if (v->value.text != "CALC")
      problems.add(v->line, v->value.column, "InterfaceBandwidth: must be USER or CALC, got \"" + v->value.text + "\"");
  }

  const std::string arr = "architecture_presets";
  // attnsim's arrays have at most 4096 rows and columns (hw_config.cpp).
  cfg.rows = int(count(required(arr, "ArrayHeight"), 1, 4096, ""));
  cfg.cols = int(count(required(arr, "ArrayWidth"), 1, 4096, ""));
  const std::int64_t max_kib = std::int64_t(1) << 28;  // 256 GiB per SRAM
  cfg.ifmap_sram_kib = count(required(arr, "IfmapSramSzkB"), 1, max_kib, "");
  cfg.filter_sram_kib = count(required(arr, "FilterSramSzkB"), 1, max_kib, "");
  cfg.ofmap_sram_kib = count(required(arr, "OfmapSramSzkB"), 1, max_kib, "");
  const std::int64_t max_offset = (std::int64_t(1) << 31) - 1;  // SCALE-Sim's address matrices are int32
  cfg.ifmap_offset = count(required(arr, "IfmapOffset"), 0, max_offset, "");
  cfg.filter_offset = count(required(arr, "FilterOffset"), 0, max_offset, "");
  cfg.ofmap_offset = count(required(arr, "OfmapOffset"), 0, max_offset, "");
  if (const IniValue* v = required(arr, "Dataflow")) {
    const std::string& df = v->value.text;
    if (df == "os")
      cfg.dataflow = Dataflow::OS;
    else if (df == "ws")
      cfg.dataflow = Dataflow::WS;
    else if (df == "is")
      cfg.dataflow = Dataflow::IS;
    else
      problems.add(v->line, v->value.column, "Dataflow: must be os, ws or is, got \"" + df + "\"");
  }
  // Bandwidth: read only in USER mode, a comma-separated list of which SCALE-Sim's layer simulation
  // uses the first for every operand (single_layer_sim.py); one value is accepted, so that none is
  // silently dropped. In CALC mode SCALE-Sim ignores it; it must still be well-formed.
  if (const IniValue* v = cfg.user_bandwidth ? required(arr, "Bandwidth") : optional(arr, "Bandwidth")) {
    const std::string& s = v->value.text;
    const std::size_t comma = s.find(',');
    if (comma != std::string::npos && cfg.user_bandwidth) {
      problems.add(v->line, v->value.column + int(comma),
                   "Bandwidth: one value (words per cycle) is supported; SCALE-Sim v2 would use only the first of a "
                   "list");
    } else if (comma == std::string::npos) {
      auto n = parse_count(s, 1000000000);
      if (!n || *n < 1)
        problems.add(v->line, v->value.column,
                     "Bandwidth: must be an integer in [1, 1000000000] (words per cycle), got \"" + s + "\"");
      else
        cfg.bandwidth_words_per_cycle = *n;
    }
  }
  // MemoryBanks appears in SCALE-Sim's sample configs, but v2 does not read it: each operand has one
  // SRAM. Banked SRAMs are SCALE-Sim v3's; only the v2 meaning (1) is accepted.
  if (const IniValue* v = optional(arr, "MemoryBanks")) {
    if (v->value.text != "1")
      problems.add(v->line, v->value.column,
                   "MemoryBanks: only 1 is supported (SCALE-Sim v2 does not read the key; banked SRAMs are not "
                   "modelled), got \"" +
                       v->value.text + "\"");
  }
  // TopologyCsvLoc: SCALE-Sim takes the text between the first pair of double quotes.
  if (const IniValue* v = optional("network_presets", "TopologyCsvLoc")) {
    const std::string& s = v->value.text;
    const std::size_t q1 = s.find('"'), q2 = q1 == std::string::npos ? q1 : s.find('"', q1 + 1);
    if (q2 == std::string::npos || q2 == q1 + 1)
      problems.add(v->line, v->value.column, "TopologyCsvLoc: must be a path in double quotes, got " + s);
    else
      cfg.topology_path = s.substr(q1 + 1, q2 - q1 - 1);
  }
  problems.throw_if_any();
  return cfg;
}

// How the run config maps onto attnsim's hardware (hw_config.h):
//   ArrayHeight, ArrayWidth, Dataflow -> /array/rows, cols, dataflow; /array/timing is "scalesim", the
//     convention SCALE-Sim's compute model follows (timing/array_timing.h). clock_mhz is 1000: SCALE-Sim
//     counts cycles, not time, so times in the report are in units of 1 ns per cycle.
//   word size -> operand_bytes = accumulator_bytes = 1: SCALE-Sim's memory system moves 1-byte words
//     for the ifmap, the filter and the ofmap alike (single_layer_sim.py, word_size = 1).
//   IfmapSramSzkB + FilterSramSzkB + OfmapSramSzkB -> one SRAM bank of their sum in bytes (x 1024).
//     SCALE-Sim has three double-buffered scratchpads, one per operand; attnsim's compiler places the
//     double-buffered A, B and C tiles in one address space instead (an operand may use room another
//     would leave free). SCALE-Sim's scratchpads answer every request of the array in the cycle it is
//     made; the bank here has two read and two write ports of R + C bytes (a column of ifmap and a row
//     of filter words per cycle on one, the DMA on the other), so that its ports do not throttle the
//     array either.
//   InterfaceBandwidth USER, Bandwidth -> an ideal DRAM of Bandwidth bytes per cycle (words of 1 B);
//     CALC (SCALE-Sim sizes the bandwidth so that the array never stalls) -> an ideal DRAM of R + 2C
//     bytes per cycle, the array's peak operand rate (a column of ifmap, a row of filter and a row of
//     ofmap words per cycle). Latency 0 in both: SCALE-Sim's DRAM interface has none.
//   Not modelled: IfmapOffset, FilterOffset, OfmapOffset (addresses in SCALE-Sim's traces; attnsim
//     places the tensors itself), run_name (kept in the description), SCALE-Sim's read and write buffer
//     fill policy (attnsim's DMA loads whole tiles ahead of the array, double-buffered).
Json scalesim_hw_document(const ScaleSimConfig& cfg) {
  const std::int64_t R = cfg.rows, C = cfg.cols;
  const double dram_bytes_per_cycle = cfg.user_bandwidth ? double(cfg.bandwidth_words_per_cycle) : double(R + 2 * C);
  Json doc;
  doc["description"] =
      "SCALE-Sim v2 run config " + cfg.source + " (run_name " + cfg.run_name + "): " + std::to_string(R) + "x" +
      std::to_string(C) + " " + to_string(cfg.dataflow) + ", SRAMs " + std::to_string(cfg.ifmap_sram_kib) + " + " +
      std::to_string(cfg.filter_sram_kib) + " + " + std::to_string(cfg.ofmap_sram_kib) + " KiB, InterfaceBandwidth " +
      (cfg.user_bandwidth ? "USER " + std::to_string(cfg.bandwidth_words_per_cycle) + " B/cycle" : std::string("CALC"));
  doc["array"] = {{"rows", R},
                  {"cols", C},
                  {"dataflow", to_string(cfg.dataflow)},
                  {"timing", "scalesim"},
                  {"clock_mhz", 1000},
                  {"operand_bytes", 1},
                  {"accumulator_bytes", 1}};
  doc["sram"] = {{"banks", 1},
                 {"bytes_per_bank", cfg.sram_bytes()},
                 {"port_bytes", std::min<std::int64_t>(R + C, 65536)},
                 {"read_ports", 2},
                 {"write_ports", 2}};
  doc["dram"] = {{"model", "ideal"}, {"bytes_per_cycle", dram_bytes_per_cycle}, {"latency_cycles", 0}};
  return doc;
}

void lower_conv_layer(TopologyLayer& l) {
  // ceil((H - F + S) / S) for H >= F, S >= 1 (topology_utils.py, topo_calc_hyperparams).
  l.ofmap_h = (l.ifmap_h - l.filter_h + l.stride_h + l.stride_h - 1) / l.stride_h;
  l.ofmap_w = (l.ifmap_w - l.filter_w + l.stride_w + l.stride_w - 1) / l.stride_w;
  l.m = l.ofmap_h * l.ofmap_w;
  l.k = l.filter_h * l.filter_w * l.channels;
  l.n = l.num_filters;
}

Topology read_scalesim_topology(const std::string& path) {
  const std::string text = read_text_file(path, "topology file");
  LocatedProblems problems(path);
  Topology topo;
  topo.source = path;
  // SCALE-Sim splits each stripped row at commas and drops the last piece (rows end with a comma);
  // here a trailing empty field is dropped, so a row without the final comma reads the same.
  auto fields_of = [](const std::string& line) {
    std::vector<Field> f;
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = line.find(',', start);
      const std::size_t end = comma == std::string::npos ? line.size() : comma;
      f.push_back(trimmed(line, start, end));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (f.size() > 1 && f.back().text.empty()) f.pop_back();
    return f;
  };
  const std::vector<std::string> lines = split_lines(text);
  if (lines.empty()) {
    problems.add_file("empty: expected a header (Layer, M, N, K, or the convolution fields) and layers");
    problems.throw_if_any();
  }
  const std::vector<Field> header = fields_of(lines[0]);
  const char* kConvHeader =
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides";
  if (header.size() == 4 && lower(header[1].text) == "m" && lower(header[2].text) == "n" &&
      lower(header[3].text) == "k") {
    topo.kind = TopologyKind::Gemm;
  } else if (header.size() == 8 || (header.size() == 9 && lower(header[8].text).find("stride") != std::string::npos)) {
    // SCALE-Sim's own files spell the convolution header several ways; the count says what it is.
    topo.kind = TopologyKind::Conv;
  } else if (header.size() > 8) {
    const Field& extra = header[8];
    problems.add(1, extra.column,
                 "unsupported column \"" + extra.text + "\": a convolution topology has the fields " + kConvHeader +
                     " (and optionally a column stride); batch sizes, sparsity and the like are not modelled");
    problems.throw_if_any();
  } else {
    problems.add(1, 1,
                 "header of " + std::to_string(header.size()) +
                     " comma-separated fields: expected Layer, M, N, K (GEMMs) or " + kConvHeader + " (convolutions)");
    problems.throw_if_any();
  }
  constexpr std::int64_t kMaxField = (std::int64_t(1) << 31) - 1;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const int line_no = int(i) + 1;
    if (trimmed(lines[i], 0, lines[i].size()).text.empty()) continue;  // SCALE-Sim skips blank rows
    const std::vector<Field> f = fields_of(lines[i]);
    const std::size_t want_min = topo.kind == TopologyKind::Gemm ? 4 : 8,
                      want_max = topo.kind == TopologyKind::Gemm ? 4 : 9;
    if (f.size() < want_min || f.size() > want_max) {
      const int column = f.size() > want_max ? f[want_max].column : int(lines[i].size()) + 1;
      problems.add(line_no, column,
                   std::to_string(f.size()) + " fields: a " +
                       (topo.kind == TopologyKind::Gemm ? "GEMM" : "convolution") + " row has " +
                       (topo.kind == TopologyKind::Gemm
                            ? std::string("4 (Layer, M, N, K)")
                            : std::string("8 (") + kConvHeader + "), or 9 with the column stride apart"));
      continue;
    }
    bool ok = true;
    std::vector<std::int64_t> v(f.size(), 0);
    static const char* kGemmNames[] = {"Layer", "M", "N", "K"};
    static const char* kConvNames[] = {"Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width",
                                       "Channels",   "Num Filter",   "Strides",     "Stride width"};
    for (std::size_t j = 1; j < f.size(); ++j) {
      auto n = parse_count(f[j].text, kMaxField);
      if (!n || *n < 1) {
        const char* name = topo.kind == TopologyKind::Gemm ? kGemmNames[j] : kConvNames[j];
        problems.add(line_no, f[j].column,
                     std::string(name) + ": must be an integer in [1, " + std::to_string(kMaxField) + "], got \"" +
                         f[j].text + "\"");
        ok = false;
      } else {
        v[j] = *n;
      }
    }
    if (!ok) continue;
    TopologyLayer l;
    l.name = f[0].text;
    l.line = line_no;
    if (topo.kind == TopologyKind::Gemm) {
      // topology_utils.py, load_arrays_gemm: [M, K, 1, K, 1, N, 1, 1] as ifmap H, W, filter H, W,
      // channels, filters and strides, so that the ofmap is M x 1 and the window K.
      l.conv = false;
      l.m = v[1], l.n = v[2], l.k = v[3];
      l.ifmap_h = l.m, l.ifmap_w = l.k, l.filter_h = 1, l.filter_w = l.k, l.channels = 1, l.num_filters = l.n;
      l.ofmap_h = l.m, l.ofmap_w = 1;
      topo.layers.push_back(l);
      continue;
    }
    l.conv = true;
    l.ifmap_h = v[1], l.ifmap_w = v[2], l.filter_h = v[3], l.filter_w = v[4], l.channels = v[5], l.num_filters = v[6];
    l.stride_h = v[7];
    l.stride_w = f.size() == 9 ? v[8] : v[7];  // one stride for both directions unless a column stride is given
    // SCALE-Sim asserts these (topology_utils.py, "ISSUE #9").
    if (l.filter_h > l.ifmap_h) {
      problems.add(line_no, f[3].column, "Filter Height " + f[3].text + " exceeds IFMAP Height " + f[1].text);
      ok = false;
    }
    if (l.filter_w > l.ifmap_w) {
      problems.add(line_no, f[4].column, "Filter Width " + f[4].text + " exceeds IFMAP Width " + f[2].text);
      ok = false;
    }
    if (!ok) continue;
    std::int64_t window = 0, pixels = 0;
    // A depth-wise layer ("DP" in its name, as SCALE-Sim recognises it) runs as one layer per channel,
    // each with one input channel, named NAME + "Channel_" + index.
    const bool depthwise = l.name.find("DP") != std::string::npos;
    TopologyLayer probe = l;
    if (depthwise) probe.channels = 1;
    lower_conv_layer(probe);
    if (!checked_mul(probe.filter_h * probe.filter_w, probe.channels, &window) || window > kMaxField ||
        !checked_mul(probe.ofmap_h, probe.ofmap_w, &pixels) || pixels > kMaxField) {
      problems.add(line_no, f[0].column,
                   "the layer's GEMM is too large: M = " + std::to_string(probe.ofmap_h) + " x " +
                       std::to_string(probe.ofmap_w) + " ofmap pixels and K = window " + f[3].text + " x " + f[4].text +
                       " x channels must each be at most " + std::to_string(kMaxField));
      continue;
    }
    if (depthwise) {
      for (std::int64_t c = 0; c < l.channels; ++c) {
        TopologyLayer d = probe;
        d.name = l.name + "Channel_" + std::to_string(c);
        topo.layers.push_back(d);
      }
    } else {
      topo.layers.push_back(probe);
    }
  }
  if (problems.ok() && topo.layers.empty()) problems.add_file("no layers after the header");
  problems.throw_if_any();
  return topo;
}

}  // namespace attnsim
