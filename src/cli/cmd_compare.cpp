// attnsim compare: the same model with several attention variants at one or more sequence lengths,
// each (N, variant) point simulated in a forked child; one table per N with ratios against the first
// variant, and where the other variants become cheaper.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>

#include "cli/cli_common.h"
#include "cli/compare_table.h"
#include "common/errors.h"
#include "config/model_config.h"
#include "report/report.h"
#include "sim/simulate.h"
#include "common/child_run.h"

namespace attnsim::cli {

namespace {

constexpr int kExitSomePointFailed = 1;
constexpr int kMaxJobs = 256;

// "unfused,primal:rank=96,samples=200,flash": commas separate variants, except before a parameter
// (an item with '=' and no ':'), which belongs to the variant before it.
std::vector<std::string> split_variant_list(const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const bool parameter = item.find('=') != std::string::npos && item.find(':') == std::string::npos;
    if (parameter && !items.empty() && items.back().find(':') != std::string::npos)
      items.back() += "," + item;
    else
      items.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

// The spec as the command line would write it, parameters in the order parse_variant_spec keeps.
std::string variant_label(const AttentionSpec& spec) {
  std::string label = to_string(spec.variant), params;
  for (auto it = spec.params.begin(); it != spec.params.end(); ++it)
    if (it.key() != "variant") params += (params.empty() ? ":" : ",") + it.key() + "=" + it.value().dump();
  return label + params;
}

std::int64_t parse_seq_len(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end || errno == ERANGE || n < 1)
    throw UserError("--seq-lens: each sequence length must be a positive integer, got \"" + text + "\"");
  return n;
}

std::string point_name(std::int64_t seq_len, const std::string& variant) {
  return "N=" + std::to_string(seq_len) + " " + variant;
}

// The datapath variants of one preset (--datapaths): the same array, SRAM and DRAM, with the units that
// normalise the scores changed. softmax_unit: the softmax unit and no in-array datapath (scores leave
// through the array's edge); in_array: the hardware as given, whose /datapath must admit fused attention;
// no_softmax: neither (softmax, if any, on the vector unit).
const char* const kDatapathNames[] = {"softmax_unit", "in_array", "no_softmax"};

HwConfig datapath_variant(const HwConfig& hw, const std::string& name) {
  Json doc = hw.resolved;
  const std::string source = hw.source + " (datapath " + name + ")";
  if (name == "softmax_unit") {
    if (!hw.softmax.present)
      throw UserError("--datapaths: softmax_unit needs a hardware config with a /softmax section; " + hw.source +
                      " has none");
    doc.erase("datapath");
  } else if (name == "in_array") {
    if (!hw.datapath.admits_fused_attention())
      throw UserError("--datapaths: in_array needs a /datapath that admits fused attention (attnsim check " +
                      hw.source + " says what is missing)");
  } else if (name == "no_softmax") {
    doc.erase("datapath");
    doc.erase("softmax");
  } else {
    throw UserError("--datapaths: the datapath must be one of softmax_unit|in_array|no_softmax, got \"" + name + "\"");
  }
  return parse_hw_config(doc, source);
}

// Runs in the child: the whole model, one simulation, its report as JSON text.
void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out || !(out << text)) throw UserError(path + ": cannot write");
}

}  // namespace

int cmd_compare(const Args& args) {
  po::options_description opts("options");
  std::string hw_name, model_name, out_dir, dtype;
  std::vector<std::string> variant_args, seq_len_args, sets, datapath_args;
  std::int64_t batch = 0, generate = 0;
  int jobs = 1;
  const std::string variants_help =
      "attention variants to compare, comma-separated, each on every layer; the first is the baseline of the "
      "ratios. Each variant: " +
      variant_syntax_help();
  const std::string model_help = "workload: a JSON file, or a model preset (" + model_preset_names() + ")";
  auto add = opts.add_options();
  add("help,h", "this text");
  add("hw", po::value(&hw_name)->required(), "hardware config: a JSON file, or a preset (edge, cloud, tpu-v1)");
  add("model", po::value(&model_name)->required(), model_help.c_str());
  add("variants", po::value(&variant_args)->composing(), variants_help.c_str());
  add("datapaths", po::value(&datapath_args)->composing(),
      "datapath variants of the one hardware config as a further axis, comma-separated DATAPATH:VARIANT items "
      "(DATAPATH: softmax_unit = the softmax unit and no in-array datapath, in_array = the config as given, whose "
      "/datapath must admit fused attention, no_softmax = neither; VARIANT as in --variants), e.g. "
      "softmax_unit:flash,in_array:fused,no_softmax:primal; listed after --variants' columns");
  add("seq-lens", po::value(&seq_len_args)->composing(),
      "sequence lengths N, comma-separated (default: the model's own)");
  add("batch", po::value(&batch), "override every layer's batch");
  add("generate", po::value(&generate),
      "generate this many tokens per sequence (the model's /generate); the sequence lengths are then the prompt's "
      "(/prefill), the table's figures are the prefill's, and a generation table per N follows it (time to first "
      "token, time per output token, tokens/s, the last step's DRAM bytes by weights, cache or state and "
      "activations, cache or state bytes per sequence, binding resource, ratios to the first variant)");
  add("dtype", po::value(&dtype), "override the model's operand type: fp32, fp16, bf16, int8");
  add("set", po::value(&sets)->composing(),
      "override a hardware value before validation: /json/pointer=VALUE (repeatable)");
  add("out", po::value(&out_dir), "write compare.json and compare.csv into this directory");
  add("jobs,j", po::value(&jobs), "simulate up to this many points at once, each in its own process (default 1)");
  po::variables_map vm;
  if (!parse_options("compare",
                     "--hw FILE|PRESET --model FILE|PRESET --variants V1,V2,... [--datapaths D1:V1,...] [--seq-lens N1,N2,...] [--batch B] "
                     "[--dtype T] [--set /ptr=V]... [--out DIR] [--jobs J]",
                     opts, nullptr, args, vm))
    return 0;

  // Everything is checked before anything runs: bad input exits with status 2 and no table.
  if (jobs < 1 || jobs > kMaxJobs)
    throw UserError("--jobs: must be in [1, " + std::to_string(kMaxJobs) + "], got " + std::to_string(jobs));
  if (vm.count("batch") && batch <= 0) throw UserError("--batch: must be at least 1, got " + std::to_string(batch));
  if (vm.count("generate") && generate <= 0)
    throw UserError("--generate: must be at least 1, got " + std::to_string(generate));
  std::vector<AttentionSpec> specs;
  std::vector<std::string> labels;
  for (const std::string& arg : variant_args) {
    for (const std::string& item : split_variant_list(arg)) {
      std::string problem;
      const std::optional<AttentionSpec> spec = parse_variant_spec(item, &problem);
      if (!spec) throw UserError("--variants: \"" + item + "\": " + problem);
      const std::string label = variant_label(*spec);
      if (std::find(labels.begin(), labels.end(), label) != labels.end())
        throw UserError("--variants: " + label + " is listed twice");
      specs.push_back(*spec);
      labels.push_back(label);
    }
  }
  // --datapaths: DATAPATH:VARIANT items; the variant part may carry parameters (no_softmax:primal:rank=20).
  std::vector<std::string> datapath_of(labels.size());  // "" for --variants' columns: the hardware as given
  for (const std::string& arg : datapath_args) {
    for (const std::string& item : split_variant_list(arg)) {
      const std::size_t colon = item.find(':');
      if (colon == std::string::npos)
        throw UserError("--datapaths: \"" + item + "\": must be DATAPATH:VARIANT (e.g. in_array:fused)");
      const std::string dp = item.substr(0, colon);
      if (std::find(std::begin(kDatapathNames), std::end(kDatapathNames), dp) == std::end(kDatapathNames))
        throw UserError("--datapaths: \"" + item + "\": the datapath must be one of softmax_unit|in_array|no_softmax, got \"" +
                        dp + "\"");
      std::string problem;
      const std::optional<AttentionSpec> spec = parse_variant_spec(item.substr(colon + 1), &problem);
      if (!spec) throw UserError("--datapaths: \"" + item + "\": " + problem);
      const std::string label = dp + "/" + variant_label(*spec);
      if (std::find(labels.begin(), labels.end(), label) != labels.end())
        throw UserError("--datapaths: " + label + " is listed twice");
      specs.push_back(*spec);
      labels.push_back(label);
      datapath_of.push_back(dp);
    }
  }
  if (labels.empty()) throw UserError("compare: give --variants, --datapaths or both");
  std::vector<std::int64_t> seq_lens;
  for (const std::string& arg : seq_len_args) {
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = arg.find(',', start);
      const std::int64_t n = parse_seq_len(arg.substr(start, comma == std::string::npos ? comma : comma - start));
      if (std::find(seq_lens.begin(), seq_lens.end(), n) != seq_lens.end())
        throw UserError("--seq-lens: " + std::to_string(n) + " is listed twice");
      seq_lens.push_back(n);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  const HwConfig hw = load_hw(hw_name, sets);
  // One hardware config per column: the one given, or its datapath variant.
  std::vector<HwConfig> column_hw;
  for (const std::string& dp : datapath_of) column_hw.push_back(dp.empty() ? hw : datapath_variant(hw, dp));
  ModelOverrides base_ov;
  base_ov.batch = vm.count("batch") ? batch : 0;
  base_ov.dtype = dtype;
  base_ov.generate = vm.count("generate") ? generate : 0;
  const ModelConfig base = load_model_config(model_name, base_ov);
  if (seq_lens.empty()) seq_lens.push_back(base.layers.front().seq_len);
  // The operand check compile_model makes, made here so that a mismatch is bad input, not a failure
  // of every point.
  if (base.elem_bytes != hw.array.operand_bytes)
    throw UserError(hw.source + ": /array/operand_bytes: the model's operands are " + std::to_string(base.elem_bytes) +
                    " B each but the array's are " + std::to_string(hw.array.operand_bytes) +
                    " B; pick a matching dtype (--dtype) or set /array/operand_bytes");
  Comparison cmp;
  cmp.generation = base.generate > 0;
  cmp.seq_lens = seq_lens;
  cmp.variants = labels;
  std::vector<ModelConfig> models;
  for (const std::int64_t n : seq_lens) {
    for (std::size_t v = 0; v < specs.size(); ++v) {
      ModelOverrides ov = base_ov;
      ov.seq_len = n;
      if (base.generate > 0) ov.prefill = n;  // generating: N is the prompt's length
      ov.variant = variant_label(specs[v]);
      try {
        models.push_back(load_model_config(model_name, ov));
      } catch (const UserError& e) {
        throw UserError(point_name(n, labels[v]) + ": " + e.what());
      }
      ComparePoint p;
      p.seq_len = n;
      p.variant = labels[v];
      p.vanilla = is_vanilla(specs[v].variant);
      cmp.points.push_back(std::move(p));
    }
  }
  if (!out_dir.empty()) make_directories(out_dir);

  std::vector<ChildTask> tasks;
  for (std::size_t i = 0; i < models.size(); ++i) {
    const HwConfig& h = column_hw[i % specs.size()];
    const ModelConfig& m = models[i];
    tasks.push_back([&h, &m] { return simulate_model(h, m).dump(); });
  }
  std::cerr << "attnsim compare: " << base.source << " (" << base.layers.size() << " layers) on " << hw.source << ", "
            << labels.size() << " variants x " << seq_lens.size() << " sequence lengths = " << tasks.size() << " runs, "
            << std::min<std::size_t>(std::size_t(jobs), tasks.size()) << " at a time\n";
  std::size_t finished = 0;
  run_in_children(tasks, jobs, [&](std::size_t i, const ChildResult& r) {
    ComparePoint& p = cmp.points[i];
    if (r.ok) {
      try {
        p.report = parse_json_text(r.output, point_name(p.seq_len, p.variant) + " report");
        p.ok = true;
      } catch (const std::exception& e) {
        p.error = std::string("unreadable report: ") + e.what();
      }
    } else {
      p.error = r.output.empty() ? "failed without a message" : r.output;
    }
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.2f s", r.seconds);
    std::cerr << "[" << ++finished << "/" << tasks.size() << "] " << point_name(p.seq_len, p.variant) << ": "
              << (p.ok ? p.report["cycles"].dump() + " cycles" +
                             (p.report.contains("generation") && !p.report["generation"]["tpot_s"].is_null()
                                  ? " (prefill), " + p.report["generation"]["tpot_s"]["mean"].dump() +
                                        " s per output token"
                                  : std::string()) +
                             ", " + seconds
                       : std::string("failed after ") + seconds + ": " + p.error.substr(0, p.error.find('\n')))
              << "\n"
              << std::flush;
  });

  const Json table = compare_table(cmp);
  const Json crossover = compare_crossover(cmp);
  const LayerSpec& l0 = base.layers.front();
  std::cout << "attnsim compare: " << base.source << " (" << base.layers.size() << " layers, d_model " << l0.d_model
            << ", " << l0.heads << " heads x " << l0.head_dim << ", batch " << l0.batch << ", " << base.dtype << ") on "
            << hw.source << "\n";
  print_comparison(std::cout, cmp, table, crossover);
  std::size_t failed = 0;
  for (const ComparePoint& p : cmp.points) failed += p.ok ? 0 : 1;
  if (failed) std::cout << "\n" << failed << " of " << cmp.points.size() << " runs failed\n";

  if (!out_dir.empty()) {
    Json points = Json::array();
    for (const ComparePoint& p : cmp.points) {
      Json j = {{"seq_len", p.seq_len}, {"variant", p.variant}, {"status", p.ok ? "ok" : "failed"}};
      if (p.ok)
        j["report"] = p.report;
      else
        j["error"] = p.error;
      points.push_back(std::move(j));
    }
    Json doc = {{"attnsim_version", ATTNSIM_VERSION},
                {"hardware", hw.source},
                {"model", base.source},
                {"batch", l0.batch},
                {"dtype", base.dtype},
                {"set", sets},
                {"seq_lens", seq_lens},
                {"variants", labels},
                {"columns", compare_columns(cmp.generation)},
                {"table", table},
                {"crossover", crossover},
                {"points", points}};
    write_json_file(out_dir + "/compare.json", doc);
    write_text_file(out_dir + "/compare.csv", compare_csv(table, cmp.generation));
    std::cout << "\nwritten to " << out_dir << "/compare.json and compare.csv\n";
  }
  return failed ? kExitSomePointFailed : 0;
}

}  // namespace attnsim::cli
