#include "cli/cli_common.h"

#include <iostream>

#include "common/errors.h"
#include "compiler/model_lowering.h"
#include "hw/accelerator.h"
#include "ir/graph.h"
#include "report/report.h"

namespace attnsim::cli {

void apply_overrides(Json& doc, const std::vector<std::string>& sets, const std::string& source) {
  for (const std::string& s : sets) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0 || s[0] != '/')
      throw UserError("--set " + s + ": expected /json/pointer=VALUE, e.g. --set /array/rows=64");
    const std::string path = s.substr(0, eq), text = s.substr(eq + 1);
    Json value;
    try {
      value = Json::parse(text);
    } catch (const Json::parse_error&) {
      value = text;  // a bare word such as ws is taken as a string
    }
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

Json model_workload(const ModelConfig& model) {
  const LayerSpec& l0 = model.layers.front();
  return {{"kind", "model"},
          {"model", model.source},
          {"layers", model.layers.size()},
          {"seq_len", l0.seq_len},
          {"batch", l0.batch},
          {"d_model", l0.d_model},
          {"heads", l0.heads},
          {"head_dim", l0.head_dim},
          {"dtype", model.dtype},
          {"variant", to_string(l0.attention.variant)}};
}

Json simulate_model(const HwConfig& hw, const ModelConfig& model, const TraceOptions* trace) {
  const Graph graph = build_graph(model);
  const CompiledModel compiled = compile_model(hw, graph);
  const SimOutcome outcome = simulate(hw, compiled.program, trace);
  Json report = make_report(hw, model_workload(model), compiled.program, outcome, compiled.phases, &graph);
  report["model"] = model.resolved;
  return report;
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

}  // namespace attnsim::cli
