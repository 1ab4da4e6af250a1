// attnsim check: validate config files and report every problem in each; then lint the designs
// (config/design_lint.h): warnings about designs that are valid but will surely underperform or
// mislead. Problems exit 2; warnings exit 0, or 2 with --strict.
#include <iostream>
#include <optional>

#include "cli/cli_common.h"
#include "common/errors.h"
#include "config/design_lint.h"

namespace attnsim::cli {

namespace {

// Without a model the softmax rule assumes this head size (BERT's, GPT-2's, LLaMA's 128 / 2).
constexpr std::int64_t kTypicalHeadDim = 64;

void print(const std::string& file, const LintWarning& w) {
  std::cout << file << ": " << w.path << ": warning (" << w.rule << "): " << w.message << "\n";
}

}  // namespace

int cmd_check(const Args& args) {
  po::options_description opts("options");
  std::vector<std::string> files, sets;
  std::string model_name, variant;
  std::int64_t seq_len = 0;
  opts.add_options()("help,h", "this text")("file", po::value(&files), "hardware config files (or preset names) to check")(
      "model", po::value(&model_name),
      ("also check this workload (a JSON file or a preset: " + model_preset_names() +
       ") and lint each hardware against it")
          .c_str())("seq-len", po::value(&seq_len), "with --model: override every layer's sequence length N")(
      "variant", po::value(&variant), "with --model: override every layer's attention variant (as run --variant)")(
      "set", po::value(&sets)->composing(),
      "override a hardware value before validation: /json/pointer=VALUE (repeatable)")(
      "strict", "warnings count as problems: exit 2 when there is any");
  po::positional_options_description pos;
  pos.add("file", -1);
  po::variables_map vm;
  if (!parse_options("check", "FILE... [--model M [--seq-len N] [--variant V]] [--set /p=V] [--strict]", opts, &pos,
                     args, vm))
    return 0;
  if (files.empty()) throw UserError("check: give at least one config file");
  if (model_name.empty() && (seq_len || !variant.empty()))
    throw UserError("check: --seq-len and --variant need --model");
  bool all_ok = true;
  std::size_t warnings = 0;
  std::optional<ModelConfig> model;
  if (!model_name.empty()) {
    ModelOverrides ov;
    ov.seq_len = seq_len;
    ov.variant = variant;
    try {
      model = load_model_config(model_name, ov);
      std::cout << model->source << ": ok (model: " << model->layers.size() << " layers)\n";
      for (const LintWarning& w : lint_model(*model, nullptr)) {
        print(model->source, w);
        ++warnings;
      }
    } catch (const UserError& e) {
      all_ok = false;
      std::cerr << e.what() << "\n";
    }
  }
  for (const std::string& f : files) {
    try {
      const HwConfig hw = load_hw(f, sets);
      std::cout << f << ": ok (hardware: " << hw.array.rows << "x" << hw.array.cols << " "
                << to_string(hw.array.dataflow) << ", " << hw.sram.total_bytes() << " B SRAM in " << hw.sram.banks
                << " banks)\n";
      for (const ScheduleAdmission& a : admitted_schedules(hw))
        std::cout << f << ": attention schedule " << a.schedule << ": " << (a.admitted ? "admitted" : "not admitted")
                  << " (" << a.why << ")\n";
      std::vector<LintWarning> found = lint_hardware(hw, model ? 0 : kTypicalHeadDim);
      for (LintWarning& w : found)
        if (w.rule == "softmax_rate") w.message += " (head_dim " + std::to_string(kTypicalHeadDim) + "; --model gives the model's)";
      if (model)
        for (LintWarning& w : lint_model(*model, &hw))
          if (!w.in_model || w.rule == "softmax_rate") found.push_back(std::move(w));
      for (const LintWarning& w : found) print(f, w);
      warnings += found.size();
    } catch (const UserError& e) {
      all_ok = false;
      std::cerr << e.what() << "\n";
    }
  }
  if (warnings) std::cout << warnings << " warning" << (warnings == 1 ? "" : "s") << (vm.count("strict") ? " (--strict: exit 2)" : "") << "\n";
  if (!all_ok || (warnings && vm.count("strict"))) return kExitUserError;
  return 0;
}

}  // namespace attnsim::cli
