#include "cli/cli_common.h"

#include <cstdlib>
#include <iostream>
#include <utility>

#include "common/checked_math.h"
#include "common/errors.h"
#include "hw/accelerator.h"

namespace attnsim::cli {

void apply_overrides(Json& doc, const std::vector<std::string>& sets, const std::string& source) {
  for (const std::string& s : sets) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0 || s[0] != '/')
      throw UserError("--set " + s + ": expected /json/pointer=VALUE, e.g. --set /array/rows=64");
    const std::string path = s.substr(0, eq), text = s.substr(eq + 1);
    const Json value = parse_json_value(text, source + ": --set " + path);
    try {
      const Json::json_pointer ptr(path);
      if (value.is_null() && !ptr.empty() && doc.contains(ptr.parent_pointer()) &&
          doc[ptr.parent_pointer()].is_object())
        doc[ptr.parent_pointer()].erase(ptr.back());  // null removes the key, as in sweep specs
      else
        doc[ptr] = value;
    } catch (const Json::exception& e) {
      throw UserError(source + ": --set " + path + ": cannot set this path (" + e.what() + ")");
    }
  }
}

HwConfig load_hw(const std::string& file_or_preset, const std::vector<std::string>& sets) {
  std::string source;
  Json doc = read_hw_document(file_or_preset, &source);
  apply_overrides(doc, sets, source);
  return parse_hw_config(doc, source);
}

void check_gemm_size(const HwConfig& hw, std::int64_t m, std::int64_t k, std::int64_t n) {
  constexpr std::int64_t kMaxDim = (std::int64_t(1) << 31) - 1;
  if (m < 1 || k < 1 || n < 1) return;  // lower_gemm says that dimensions must be positive
  for (auto [flag, v] : {std::pair<const char*, std::int64_t>{"--m", m}, {"--k", k}, {"--n", n}})
    if (v > kMaxDim)
      throw UserError(std::string(flag) + ": must be an integer in [1, " + std::to_string(kMaxDim) + "], got " +
                      std::to_string(v));
  const std::int64_t ob = hw.array.operand_bytes;
  mul_or_throw(mul_or_throw(m, k, "--m x --k"), ob, "--m x --k x operand_bytes (the bytes of A)");
  mul_or_throw(mul_or_throw(k, n, "--k x --n"), ob, "--k x --n x operand_bytes (the bytes of B)");
  mul_or_throw(mul_or_throw(m, n, "--m x --n"), hw.array.accumulator_bytes, "--m x --n x accumulator_bytes (C)");
  const std::int64_t macs = mul_or_throw(m * k, n, "--m x --k x --n (the MACs)");
  const std::int64_t min_cycles = macs / hw.array.pes();
  const std::int64_t max_cycles = kMaxSimFs / hw.array.period_fs();
  if (min_cycles > max_cycles)
    throw UserError("--m x --k x --n: " + std::to_string(macs) + " MACs need at least " + std::to_string(min_cycles) +
                    " cycles on " + std::to_string(hw.array.pes()) + " PEs, more than the " +
                    std::to_string(max_cycles) + " that simulated time (2^63 - 1 fs) holds at " +
                    Json(hw.array.clock_mhz).dump() + " MHz");
}

void enable_run_progress() {
  double seconds = 10;
  if (const char* env = std::getenv("ATTNSIM_PROGRESS_S")) {
    char* end = nullptr;
    const double v = std::strtod(env, &end);
    if (end != env && *end == '\0' && v >= 0 && v <= 1e6) seconds = v;
  }
  set_simulation_progress_interval(seconds);
}

bool parse_options(const std::string& command, const std::string& usage, const po::options_description& opts,
                   const po::positional_options_description* positional, const Args& args, po::variables_map& vm) {
  po::command_line_parser parser(args);
  parser.options(opts);
  if (positional) parser.positional(*positional);
  po::store(parser.run(), vm);
  if (vm.count("help")) {
    std::cout << "usage: attnsim " << command << " " << usage << "\n\n" << opts << "\n";
    return false;
  }
  po::notify(vm);
  return true;
}

void MapperFlags::add_to(po::options_description& opts, const std::string& what) {
  opts.add_options()("mapper", po::value(&effort),
                     ("how hard the mapper searches " + what +
                      ": fast (analytical cost only), default (the best few timed), thorough (a wider mapspace, "
                      "more timed)")
                         .c_str())(
      "mapper-seed", po::value(&seed), "seed for the thorough mapper's random sample of the mapspace (default 0)")(
      "mapping", po::value(&mapping_file),
      ("fix some or all of " + what + " from a mapping file (the form --emit mapping prints); the mapper chooses "
                                      "the rest")
          .c_str());
}

MapperOptions MapperFlags::options() {
  MapperOptions o;
  if (!parse_mapper_effort(effort, &o.effort))
    throw UserError("--mapper " + effort + ": must be fast, default or thorough");
  o.seed = seed;
  if (!mapping_file.empty()) {
    fixed = read_mapping_file(mapping_file);
    o.fixed = &fixed;
  }
  return o;
}

}  // namespace attnsim::cli
