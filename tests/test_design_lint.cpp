// Design lint (config/design_lint.h): each rule fires on a design derived by hand to break it and
// stays quiet on the presets that meet it; `attnsim check` prints the warnings and --strict makes them
// fatal.
#include <catch2/catch.hpp>

#include "config/design_lint.h"
#include "support/cli.h"

using namespace attnsim;
using namespace attnsim::test;

namespace {

std::vector<std::string> rules(const std::vector<LintWarning>& w) {
  std::vector<std::string> r;
  for (const LintWarning& x : w) r.push_back(x.rule);
  return r;
}

HwConfig with(const std::string& preset, const Json& patch) {
  std::string source;
  Json doc = read_hw_document(preset, &source);
  doc.merge_patch(patch);
  return parse_hw_config(doc, preset);
}

}  // namespace

TEST_CASE("lint: the edge and cloud presets meet every rule at head_dim 64", "[lint]") {
  // edge: read side 16 banks x 1 x 64 B = 1024 B/cycle >= (32 + 32) x 2 = 128; exponentials
  // min(32, 32) = 32 >= 32 x 32 / 64 = 16 scores per cycle; 16 banks.
  CHECK(lint_hardware(load_hw_config("edge"), 64).empty());
  // cloud: 64 x 256 = 16384 >= (256 + 256) x 2 = 1024; 1024 >= 65536 / 64 = 1024 (exactly); 64 banks.
  CHECK(lint_hardware(load_hw_config("cloud"), 64).empty());
}

TEST_CASE("lint: SRAM read and write sides against the array's full-rate demand", "[lint]") {
  // edge with 4 B ports: 16 x 4 = 64 B/cycle < 128.
  const auto narrow = lint_hardware(with("edge", {{"sram", {{"port_bytes", 4}, {"interleave_bytes", 64}}}}), 64);
  REQUIRE(rules(narrow) == std::vector<std::string>{"sram_read_ports"});
  CHECK(narrow[0].path == "/sram/port_bytes");
  CHECK_THAT(narrow[0].message, Catch::Contains("64 B/cycle") && Catch::Contains("consumes 128 B/cycle") &&
                                    Catch::Contains("50% of the array's rate"));
  // 8 B ports: 16 x 8 = 128 = the demand: no warning.
  CHECK(lint_hardware(with("edge", {{"sram", {{"port_bytes", 8}, {"interleave_bytes", 64}}}}), 64).empty());
  // TPU v1 without its accumulators (WS, contiguous banks, partial sums in SRAM): read side 2 banks x
  // 256 B = 512 < 256 x 1 (the streamed operand) + 256 x 4 (partial sums read back) = 1280; write
  // side 256 < 1024.
  const auto tpu = lint_hardware(with("tpu-v1", {{"accumulators", nullptr}}), 0);
  CHECK(rules(tpu) == std::vector<std::string>{"sram_read_ports", "sram_write_ports"});
  CHECK_THAT(tpu[0].message, Catch::Contains("512 B/cycle") && Catch::Contains("1280 B/cycle"));
  CHECK_THAT(tpu[1].message, Catch::Contains("takes 256 B/cycle") && Catch::Contains("1024 B"));
  // The preset declares them: the partial sums leave the SRAM, one bank's 256 B >= 256 x 1.
  CHECK(lint_hardware(load_hw_config("tpu-v1"), 0).empty());
}

TEST_CASE("lint: a softmax slower than the array's score rate", "[lint]") {
  // cloud at head_dim 32: 65536 / 32 = 2048 scores per cycle against 1024 exponentials: 50%.
  const auto c = lint_hardware(load_hw_config("cloud"), 32);
  REQUIRE(rules(c) == std::vector<std::string>{"softmax_rate"});
  CHECK(c[0].path == "/softmax/exp_per_cycle");
  CHECK_THAT(c[0].message, Catch::Contains("2048 scores per cycle") && Catch::Contains("50%"));
  // Without a softmax unit, edge's vector unit: 32 lanes / exp cost 4 = 8 < 16 at head_dim 64.
  std::string source;
  Json doc = read_hw_document("edge", &source);
  doc.erase("softmax");
  const auto v = lint_hardware(parse_hw_config(doc, "edge"), 64);
  REQUIRE(rules(v) == std::vector<std::string>{"softmax_rate"});
  CHECK(v[0].path == "/vector/lanes");
  CHECK_THAT(v[0].message, Catch::Contains("32 / 4 = 8"));
}

TEST_CASE("lint: interleaved banks that are not a power of two", "[lint]") {
  // 12 banks of 32 KiB in 64 B stripes; ports 12 x 64 = 768 >= 128.
  const auto w = lint_hardware(with("edge", {{"sram", {{"banks", 12}}}}), 64);
  REQUIRE(rules(w) == std::vector<std::string>{"bank_count"});
  CHECK(w[0].path == "/sram/banks");
}

TEST_CASE("lint: primal's rank above its samples, a low-rank rank at or above N", "[lint]") {
  ModelOverrides ov;
  ov.variant = "primal:rank=300,samples=100";
  auto w = lint_model(load_model_config("lra-text", ov), nullptr);
  REQUIRE(rules(w) == std::vector<std::string>{"primal_samples"});  // two layers alike: one warning
  CHECK(w[0].path == "/layers/0/attention/rank");
  // The default samples min(N, 10 s) = min(64, 200) = 64 >= s = 20: nothing to say.
  ov.variant = "primal";
  ov.seq_len = 64;
  CHECK(lint_model(load_model_config("lra-text", ov), nullptr).empty());
  // lowrank_linear with s = 64 at N = 64: no saving.
  ov.variant = "lowrank_linear:rank=64";
  CHECK(rules(lint_model(load_model_config("lra-text", ov), nullptr)) == std::vector<std::string>{"lowrank_rank"});
  // Linformer and Nystromformer clamp their rank to N, so they are not warned about.
  ov.variant = "linformer:rank=512";
  CHECK(lint_model(load_model_config("lra-text", ov), nullptr).empty());
}

TEST_CASE("attnsim check: warnings exit 0, or 2 with --strict", "[lint][cli]") {
  CliResult ok = run_cli("check edge cloud");
  CHECK(ok.status == 0);
  CHECK(ok.out.find("warning") == std::string::npos);
  CliResult w = run_cli("check cloud --model lra-text");
  CHECK(w.status == 0);
  CHECK_THAT(w.out, Catch::Contains("cloud: /softmax/exp_per_cycle: warning (softmax_rate)") &&
                        Catch::Contains("1 warning"));
  CHECK(run_cli("check cloud --model lra-text --strict").status == 2);
  CliResult p = run_cli("check edge --model lra-text --variant primal:rank=300,samples=100 --strict");
  CHECK(p.status == 2);
  CHECK_THAT(p.out, Catch::Contains("preset:lra-text: /layers/0/attention/rank: warning (primal_samples)"));
  CHECK(run_cli("check edge --seq-len 64").status == 2);  // --seq-len needs --model
}
