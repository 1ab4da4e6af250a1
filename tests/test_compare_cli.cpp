// attnsim compare as a user runs it (tables, ratios, CSV, determinism across --jobs, bad input, a
// point that fails among others), the forked-children runner under it, and the table and crossover
// figures on hand-made reports.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "common/child_run.h"
#include "cli/compare_table.h"
#include "config/json_reader.h"
#include "support/cli.h"
#include "support/small_model.h"

using namespace attnsim;
using namespace attnsim::cli;
using namespace attnsim::test;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The table line of a variant (the first line that starts with it after the "N = n" heading).
std::string table_line(const std::string& out, std::int64_t n, const std::string& variant) {
  bool in_table = false;
  for (const std::string& line : lines_of(out)) {
    if (line.rfind("N = ", 0) == 0) in_table = line.rfind("N = " + std::to_string(n) + " ", 0) == 0;
    if (in_table && line.rfind("  " + variant + " ", 0) == 0) return line;
  }
  return "";
}

// A minimal report with the fields the compare table reads.
Json fake_report(std::int64_t cycles, std::uint64_t macs, std::uint64_t dram_read, std::int64_t attention_busy,
                 std::int64_t other_busy) {
  return {{"cycles", cycles},
          {"time_us", double(cycles) / 1000.0},
          {"macs", macs},
          {"utilization", 0.5},
          {"dram", {{"bytes_read", dram_read}, {"bytes_written", 0}}},
          {"sram", {{"high_water_bytes", 4096}}},
          {"busy_fraction", {{"softmax_unit", "absent"}, {"softmax_work", 0.25}}},
          {"ops",
           {{"qkv_proj", {{"array_busy_cycles", other_busy}}},
            {"qk", {{"array_busy_cycles", attention_busy / 2}}},
            {"pv", {{"array_busy_cycles", attention_busy - attention_busy / 2}}}}}};
}

ComparePoint point(std::int64_t n, const std::string& variant, bool vanilla, Json report) {
  ComparePoint p;
  p.seq_len = n;
  p.variant = variant;
  p.vanilla = vanilla;
  p.ok = !report.is_null();
  if (p.ok)
    p.report = std::move(report);
  else
    p.error = "it broke";
  return p;
}

}  // namespace

TEST_CASE("compare prints one table per sequence length with ratios against the first variant", "[cli][compare]") {
  const std::string model = write_small_model("compare_small.json");
  const std::string dir = temp_dir() + "/compare_tables";
  CliResult r =
      run_cli("compare --hw edge --model " + model + " --variants unfused,flash --seq-lens 128,256 --out " + dir);
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  for (std::int64_t n : {128, 256}) {
    const std::string unfused = table_line(r.out, n, "unfused"), flash = table_line(r.out, n, "flash");
    REQUIRE(!unfused.empty());
    REQUIRE(!flash.empty());
    // The last four columns are the cycles, MACs, DRAM-bytes and energy ratios; the first row's are 1.
    const std::string ones = "1.000   1.000   1.000     1.000";
    REQUIRE(unfused.size() > ones.size());
    CHECK(unfused.substr(unfused.size() - ones.size()) == ones);
  }
  CHECK(r.out.find("crossover") == std::string::npos);  // both variants are vanilla
  CHECK(r.err.find("[4/4] N=") != std::string::npos);
  CHECK(r.err.find(" cycles, ") != std::string::npos);

  const Json doc = parse_json_text(slurp(dir + "/compare.json"), "compare.json");
  REQUIRE(doc["table"].size() == 4);
  REQUIRE(doc["points"].size() == 4);
  for (std::size_t n = 0; n < 2; ++n) {
    const Json &unfused = doc["table"][2 * n], &flash = doc["table"][2 * n + 1];
    CHECK(unfused["variant"] == "unfused");
    CHECK(flash["variant"] == "flash");
    CHECK(unfused["seq_len"] == (n == 0 ? 128 : 256));
    CHECK(unfused["status"] == "ok");
    CHECK(unfused["cycles_ratio"].get<double>() == 1.0);
    CHECK(unfused["macs_ratio"].get<double>() == 1.0);
    CHECK(unfused["dram_bytes_ratio"].get<double>() == 1.0);
    // Same math, different schedule: equal MACs, a MAC ratio of exactly 1.
    CHECK(flash["macs"] == unfused["macs"]);
    CHECK(flash["macs_ratio"].get<double>() == 1.0);
    CHECK(flash["cycles"] != unfused["cycles"]);
    // edge has a softmax unit; the attention core is part of the array's work, not all of it.
    CHECK(flash["softmax_unit_busy"].get<double>() > 0.0);
    const double share = flash["attention_array_share"].get<double>();
    CHECK(share > 0.0);
    CHECK(share < 1.0);
    CHECK(flash["macs_per_dram_byte"].get<double>() ==
          Approx(flash["macs"].get<double>() / flash["dram_bytes"].get<double>()).epsilon(1e-5));
    // The table row is the point's report, condensed.
    const Json& rep = doc["points"][2 * n + 1]["report"];
    CHECK(rep["cycles"] == flash["cycles"]);
    CHECK(rep["workload"]["variant"] == "flash");
    CHECK(rep["workload"]["seq_len"] == flash["seq_len"]);
    CHECK(flash["dram_bytes"].get<std::uint64_t>() ==
          rep["dram"]["bytes_read"].get<std::uint64_t>() + rep["dram"]["bytes_written"].get<std::uint64_t>());
    CHECK(flash["compulsory_binding"] == rep["roofline"]["compulsory"]["binding"]);
    CHECK(flash["pct_of_compulsory_bound"] == rep["roofline"]["compulsory"]["pct_of_bound"]);
  }
  // The CSV: a header and one row per (N, variant), in the input order.
  const std::vector<std::string> csv = lines_of(slurp(dir + "/compare.csv"));
  REQUIRE(csv.size() == 5);
  CHECK(csv[0].rfind("seq_len,variant,status,cycles,", 0) == 0);
  CHECK(csv[1].rfind("128,unfused,ok,", 0) == 0);
  CHECK(csv[2].rfind("128,flash,ok,", 0) == 0);
  CHECK(csv[3].rfind("256,unfused,ok,", 0) == 0);
  CHECK(csv[4].rfind("256,flash,ok,", 0) == 0);
}

TEST_CASE("compare defaults to the model's own sequence length", "[cli][compare]") {
  const std::string model = write_small_model("compare_small.json");
  CliResult r = run_cli("compare --hw edge --model " + model + " --variants flash,row_fused");
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK(!table_line(r.out, 256, "flash").empty());
  CHECK(!table_line(r.out, 256, "row_fused").empty());
  CHECK(r.err.find("[2/2]") != std::string::npos);
}

TEST_CASE("compare writes byte-identical files whatever --jobs", "[cli][compare]") {
  const std::string model = write_small_model("compare_small.json");
  const std::string a = temp_dir() + "/compare_j1", b = temp_dir() + "/compare_j2";
  const std::string common =
      "compare --hw edge --model " + model + " --variants flash,unfused,row_fused --seq-lens 256,128";
  CliResult ra = run_cli(common + " --jobs 1 --out " + a);
  CliResult rb = run_cli(common + " --jobs 2 --out " + b);
  REQUIRE(ra.status == 0);
  REQUIRE(rb.status == 0);
  CHECK(slurp(a + "/compare.csv") == slurp(b + "/compare.csv"));
  CHECK(slurp(a + "/compare.json") == slurp(b + "/compare.json"));
  CHECK(ra.out.substr(0, ra.out.find("written to")) == rb.out.substr(0, rb.out.find("written to")));
  CHECK(lines_of(slurp(a + "/compare.csv")).size() == 7);
  // Rows in the input order: N = 256 first, then flash, unfused, row_fused.
  CHECK(lines_of(slurp(a + "/compare.csv"))[1].rfind("256,flash,", 0) == 0);
}

TEST_CASE("compare rejects bad input with exit status 2 before running anything", "[cli][compare]") {
  const std::string model = write_small_model("compare_small.json");
  const std::string base = "compare --hw edge --model " + model;
  auto rejected = [](const CliResult& r, const std::string& needle) {
    INFO(r.out << r.err);
    CHECK(r.status == 2);
    CHECK(r.err.find(needle) != std::string::npos);
    CHECK(r.err.find("[1/") == std::string::npos);  // nothing ran
    CHECK(r.out.find("N = ") == std::string::npos);
  };
  SECTION("an unknown variant is named") {
    const CliResult r = run_cli(base + " --variants unfused,flsh");
    rejected(r, "\"flsh\"");
    CHECK(r.err.find("did you mean \"flash\"") != std::string::npos);
  }
  SECTION("a bad parameter names its variant") {
    rejected(run_cli(base + " --variants flash,primal:rank=0"), "primal:rank=0");
    rejected(run_cli(base + " --variants unfused,primal:rank=8,bogus=3"), "bogus");
    rejected(run_cli(base + " --variants unfused,flash:rank=8"), "flash has no parameters");
  }
  SECTION("a variant listed twice") {
    rejected(run_cli(base + " --variants flash,unfused,flash"), "flash is listed twice");
  }
  SECTION("bad sequence lengths") {
    rejected(run_cli(base + " --variants flash --seq-lens 128,0"), "--seq-lens");
    rejected(run_cli(base + " --variants flash --seq-lens 128,abc"), "\"abc\"");
    rejected(run_cli(base + " --variants flash --seq-lens 128,128"), "128 is listed twice");
    rejected(run_cli(base + " --variants flash --seq-lens 4194304"), "N=4194304 flash: --seq-len");
  }
  SECTION("bad --jobs, --batch, hardware, model") {
    rejected(run_cli(base + " --variants flash --jobs 0"), "--jobs");
    rejected(run_cli(base + " --variants flash --batch 0"), "--batch");
    rejected(run_cli(base + " --variants flash --set /array/rows=0"), "/array/rows");
    rejected(run_cli("compare --hw edge --model bert-huge --variants flash"), "bert-base");
    rejected(run_cli("compare --hw tpu-v1 --model " + model + " --variants flash"), "/array/operand_bytes");
  }
  SECTION("--variants is required") { rejected(run_cli(base), "--variants"); }
}

TEST_CASE("compare reports a point that fails and still runs the others, with exit status 1", "[cli][compare]") {
  const std::string model = write_small_model("compare_small.json");
  const std::string dir = temp_dir() + "/compare_failed";
  // 16 banks of 1 KiB: at N = 2048 one row of row-fused scores (20864 B) does not fit; unfused spills
  // its scores and flash streams K/V tiles, so both still run, and row-fused runs at N = 64.
  CliResult r = run_cli("compare --hw edge --set /sram/bytes_per_bank=1024 --model " + model +
                        " --variants unfused,row_fused,flash --seq-lens 64,2048 --jobs 2 --out " + dir);
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  const std::string failed = table_line(r.out, 2048, "row_fused");
  CHECK(failed.find("failed: ") != std::string::npos);
  CHECK(failed.find("row-fused attention keeps a block of query rows' full scores on chip") != std::string::npos);
  for (const char* v : {"unfused", "flash"}) {
    CHECK(table_line(r.out, 2048, v).find("failed") == std::string::npos);
    CHECK(!table_line(r.out, 2048, v).empty());
  }
  CHECK(table_line(r.out, 64, "row_fused").find("failed") == std::string::npos);
  CHECK(r.out.find("1 of 6 runs failed") != std::string::npos);
  CHECK(r.err.find("N=2048 row_fused: failed after ") != std::string::npos);
  CHECK(r.err.find("[6/6]") != std::string::npos);

  const std::vector<std::string> csv = lines_of(slurp(dir + "/compare.csv"));
  REQUIRE(csv.size() == 7);
  CHECK(csv[5].rfind("2048,row_fused,failed,,", 0) == 0);
  CHECK(csv[5].find("20864 B") != std::string::npos);
  for (int i : {1, 2, 3, 4, 6}) CHECK(csv[std::size_t(i)].find(",ok,") != std::string::npos);
  const Json doc = parse_json_text(slurp(dir + "/compare.json"), "compare.json");
  CHECK(doc["points"][4]["status"] == "failed");
  CHECK(doc["points"][4]["error"].get<std::string>().find("20864 B") != std::string::npos);
  CHECK(doc["points"][5]["report"]["cycles"].get<std::int64_t>() > 0);
  CHECK(doc["table"][5]["cycles_ratio"].is_number());
}

TEST_CASE("run_in_children returns every result in input order, failures included", "[cli][compare]") {
  std::vector<ChildTask> tasks;
  for (int i = 0; i < 6; ++i) tasks.push_back([i] { return "task " + std::to_string(i); });
  tasks.push_back([]() -> std::string { throw std::runtime_error("bad input in a child"); });
  tasks.push_back([]() -> std::string {
    std::abort();
    return "";
  });
  tasks.push_back([]() -> std::string { _exit(7); });
  // More than a pipe's buffer from several children at once: the parent must read them all as they
  // write, not one after the other.
  for (int i = 0; i < 3; ++i) tasks.push_back([i] { return std::string(1 << 20, char('a' + i)); });
  for (int jobs : {1, 4}) {
    std::vector<std::size_t> done_order;
    const std::vector<ChildResult> res =
        run_in_children(tasks, jobs, [&](std::size_t i, const ChildResult&) { done_order.push_back(i); });
    REQUIRE(res.size() == tasks.size());
    CHECK(done_order.size() == tasks.size());
    for (int i = 0; i < 6; ++i) {
      CHECK(res[std::size_t(i)].ok);
      CHECK(res[std::size_t(i)].output == "task " + std::to_string(i));
    }
    CHECK(!res[6].ok);
    CHECK(res[6].output == "bad input in a child");
    CHECK(!res[7].ok);
    CHECK(res[7].output.find("killed by signal " + std::to_string(SIGABRT)) != std::string::npos);
    CHECK(!res[8].ok);
    CHECK(res[8].output == "exited with status 7 without a result");
    for (int i = 0; i < 3; ++i) {
      CHECK(res[std::size_t(9 + i)].ok);
      CHECK(res[std::size_t(9 + i)].output == std::string(1 << 20, char('a' + i)));
    }
  }
}

TEST_CASE("compare's table and crossover from the reports", "[cli][compare]") {
  Comparison c;
  c.seq_lens = {1024, 256, 4096};
  c.variants = {"flash", "primal:rank=20", "row_fused"};
  // flash: cycles 100, 1000, 10000 at N = 256, 1024, 4096; primal cheaper in cycles from N = 1024,
  // in MACs from N = 256; primal at N = 4096 failed.
  c.points = {point(1024, "flash", true, fake_report(1000, 800, 400, 60, 40)),
              point(1024, "primal:rank=20", false, fake_report(900, 300, 200, 30, 40)),
              point(1024, "row_fused", true, fake_report(1200, 800, 500, 60, 40)),
              point(256, "flash", true, fake_report(100, 80, 40, 6, 4)),
              point(256, "primal:rank=20", false, fake_report(150, 70, 40, 3, 4)),
              point(256, "row_fused", true, Json()),
              point(4096, "flash", true, fake_report(10000, 8000, 4000, 600, 400)),
              point(4096, "primal:rank=20", false, Json()),
              point(4096, "row_fused", true, fake_report(12000, 8000, 5000, 600, 400))};
  const Json table = compare_table(c);
  REQUIRE(table.size() == 9);
  for (std::size_t i = 0; i < table.size(); ++i) {
    std::size_t k = 0;  // every row has the columns, in order
    for (auto it = table[i].begin(); it != table[i].end(); ++it, ++k) CHECK(it.key() == compare_columns()[k]);
  }
  CHECK(table[0]["cycles_ratio"].get<double>() == 1.0);
  CHECK(table[1]["cycles_ratio"].get<double>() == 0.9);
  CHECK(table[1]["macs_ratio"].get<double>() == 0.375);
  CHECK(table[1]["dram_bytes_ratio"].get<double>() == 0.5);
  CHECK(table[1]["attention_array_share"].get<double>() == Approx(30.0 / 70.0).epsilon(1e-5));
  CHECK(table[1]["macs_per_dram_byte"].get<double>() == 1.5);
  CHECK(table[1]["softmax_unit_busy"] == "absent");
  CHECK(table[1]["compulsory_binding"].is_null());  // a report without a compulsory roofline
  CHECK(table[2]["cycles_ratio"].get<double>() == 1.2);
  CHECK(table[5]["status"] == "failed");
  CHECK(table[5]["cycles"].is_null());
  CHECK(table[5]["error"] == "it broke");

  const Json x = compare_crossover(c);
  REQUIRE(x.is_object());
  CHECK(x["baseline"] == "flash");
  CHECK(x["seq_lens"] == Json::array({256, 1024, 4096}));
  REQUIRE(x["variants"].size() == 1);  // row_fused is vanilla
  CHECK(x["variants"][0]["variant"] == "primal:rank=20");
  CHECK(x["variants"][0]["fewer_cycles_from_seq_len"] == 1024);
  CHECK(x["variants"][0]["fewer_macs_from_seq_len"] == 256);
  CHECK(x["variants"][0]["not_compared"] == Json::array({4096}));

  std::ostringstream os;
  print_comparison(os, c, table, x);
  const std::string out = os.str();
  CHECK(out.find("N = 1024 (x: ratio to flash)") != std::string::npos);
  CHECK(table_line(out, 256, "row_fused").find("failed: it broke") != std::string::npos);
  CHECK(out.find("primal:rank=20  cycles: first cheaper at N = 1024; MACs: first fewer at N = 256") !=
        std::string::npos);
  CHECK(out.find("not compared at N = 4096") != std::string::npos);

  // Not cheaper anywhere.
  c.points[1] = point(1024, "primal:rank=20", false, fake_report(2000, 900, 400, 60, 40));
  c.points[4] = point(256, "primal:rank=20", false, fake_report(200, 90, 40, 6, 4));
  const Json y = compare_crossover(c);
  CHECK(y["variants"][0]["fewer_cycles_from_seq_len"].is_null());
  os.str("");
  print_comparison(os, c, compare_table(c), y);
  CHECK(os.str().find("cycles: not cheaper at any given N; MACs: not fewer at any given N") != std::string::npos);

  // No crossover with one sequence length, or when the first variant is not vanilla.
  Comparison one = c;
  one.seq_lens = {1024};
  one.points.resize(3);
  CHECK(compare_crossover(one).is_null());
  Comparison swapped = c;
  for (std::size_t n = 0; n < 3; ++n) std::swap(swapped.points[3 * n], swapped.points[3 * n + 1]);
  std::swap(swapped.variants[0], swapped.variants[1]);
  CHECK(compare_crossover(swapped).is_null());

  // Energy columns from the reports' energy sections: the ratio to the first variant, the attention share.
  auto with_energy = [](Json r, double total_pj, double qkv_pj, double qk_pj, double pv_pj) {
    r["energy"] = {{"total_pj", total_pj},
                   {"dram_components_pj", {{"dynamic", 10.0}, {"background", 5.0}}},
                   {"average_power_w", 2.0},
                   {"gmacs_per_s_per_w", 3.0},
                   {"gmacs_per_s_per_mm2", 4.0}};
    // Components: array half the total, SRAM a quarter, softmax, DRAM a tenth each, leakage the rest.
    r["energy"]["components_pj"] = {{"array", total_pj / 2}, {"sram", total_pj / 4}, {"vector", 0.0},
                                    {"softmax", total_pj / 10}, {"dma", 0.0}, {"dram", total_pj / 10},
                                    {"leakage", total_pj / 20}};
    r["area_mm2"] = {{"total", 100.0}, {"array", 60.0}, {"softmax", 6.0}};
    r["ops"]["qkv_proj"]["energy_pj"] = {{"total", qkv_pj}};
    r["ops"]["qk"]["energy_pj"] = {{"total", qk_pj}};
    r["ops"]["pv"]["energy_pj"] = {{"total", pv_pj}};
    return r;
  };
  Comparison en;
  en.seq_lens = {1024};
  en.variants = {"flash", "primal:rank=20"};
  en.points = {point(1024, "flash", true, with_energy(fake_report(1000, 800, 400, 60, 40), 4000, 100, 200, 100)),
               point(1024, "primal:rank=20", false, with_energy(fake_report(900, 300, 200, 30, 40), 1000, 300, 50, 50))};
  const Json et = compare_table(en);
  CHECK(et[0]["energy_ratio"].get<double>() == 1.0);
  CHECK(et[1]["energy_ratio"].get<double>() == 0.25);  // 1000 / 4000
  CHECK(et[0]["attention_energy_share"].get<double>() == 0.75);  // (200 + 100) / 400
  CHECK(et[1]["attention_energy_share"].get<double>() == 0.25);  // (50 + 50) / 400
  CHECK(et[1]["energy_dram_background_pj"].get<double>() == 5.0);
  CHECK(et[1]["area_mm2"].get<double>() == 100.0);
  // Energy shares per component (the totals cancel) and the area per component.
  for (const Json& row : et) {
    CHECK(row["energy_share_array"].get<double>() == 0.5);
    CHECK(row["energy_share_sram"].get<double>() == 0.25);
    CHECK(row["energy_share_softmax"].get<double>() == 0.1);
    CHECK(row["energy_share_leakage"].get<double>() == 0.05);
    CHECK(row["energy_share_dma"].get<double>() == 0.0);
    CHECK(row["area_softmax_mm2"].get<double>() == 6.0);
    CHECK(row["area_array_mm2"].get<double>() == 60.0);
    CHECK(row["area_vector_mm2"].is_null());  // not in the report
  }
  {
    std::ostringstream eo;
    print_comparison(eo, en, et, compare_crossover(en));
    CHECK_THAT(eo.str(), Catch::Contains("energy by component, % of each variant's total"));
    CHECK_THAT(eo.str(), Catch::Contains("50.0     25.0"));
  }
  CHECK(table[1]["energy_ratio"].is_null());  // reports without energy

  // Generation figures from hand-made generation sections: the ratios divide the figures; a failed first
  // variant leaves the ratios null, a failed point its figures.
  auto with_generation = [](Json r, double ttft, double tpot, double tps, std::uint64_t per_seq,
                            std::uint64_t weights, std::uint64_t state, std::uint64_t act) {
    r["generation"] = {{"prefill_tokens", 64},
                       {"generate_tokens", 4},
                       {"ttft_s", ttft},
                       {"tpot_s", {{"mean", tpot}, {"first", tpot}, {"last", tpot}}},
                       {"tokens_per_s", tps},
                       {"decode_tokens_per_s", tps},
                       {"state_bytes_per_sequence", {{"at_end", per_seq}}},
                       {"steps", Json::array({{{"dram_bytes", {{"weights", weights}, {"state", state}, {"activations", act}}},
                                               {"binding", "weights bandwidth"}}})}};
    return r;
  };
  Comparison gen;
  gen.generation = true;
  gen.seq_lens = {64, 128};
  gen.variants = {"flash", "primal_causal"};
  gen.points = {point(64, "flash", true, with_generation(fake_report(100, 80, 40, 6, 4), 2.0, 0.5, 10, 4000, 600, 300, 100)),
                point(64, "primal_causal", false, with_generation(fake_report(90, 70, 40, 6, 4), 1.0, 0.4, 12, 100, 700, 50, 50)),
                point(128, "flash", true, Json()),
                point(128, "primal_causal", false, with_generation(fake_report(90, 70, 40, 6, 4), 1.0, 0.4, 12, 100, 700, 50, 50))};
  const Json gt = compare_table(gen);
  CHECK(gt[1]["ttft_ratio"].get<double>() == 0.5);
  CHECK(gt[1]["tpot_ratio"].get<double>() == 0.8);
  CHECK(gt[1]["tokens_per_s_ratio"].get<double>() == 1.2);
  CHECK(gt[1]["state_bytes_ratio"].get<double>() == 0.025);  // 100 / 4000
  CHECK(gt[1]["step_dram_bytes_ratio"].get<double>() == 0.8);  // (700 + 50 + 50) / (600 + 300 + 100)
  CHECK(gt[1]["last_step_dram_state_bytes"] == 50);
  CHECK(gt[1]["last_step_binding"] == "weights bandwidth");
  CHECK(gt[2]["ttft_s"].is_null());
  CHECK(gt[3]["ttft_s"].get<double>() == 1.0);
  CHECK(gt[3]["ttft_ratio"].is_null());
  os.str("");
  print_comparison(os, gen, gt, Json());
  CHECK(os.str().find("generation after a prompt of N = 128, 4 tokens generated") != std::string::npos);
  CHECK(lines_of(compare_csv(gt, true))[0] == [] {
    std::string h;
    for (const std::string& col : compare_columns(true)) h += (h.empty() ? "" : ",") + col;
    return h;
  }());

  // CSV: one line per row; a message with a comma is quoted.
  c.points[5].error = "no room, sorry";
  const std::vector<std::string> csv = lines_of(compare_csv(compare_table(c)));
  REQUIRE(csv.size() == 10);
  // 44 columns: seq_len, variant, status, 40 empty figures, the error.
  CHECK(csv[6] == "256,row_fused,failed," + std::string(40, ',') + "\"no room, sorry\"");
}

TEST_CASE("compare --generate reports each variant's generation with ratios to the first", "[cli][compare][decode]") {
  // Two pre-norm causal layers: d_model 64, 2 query heads of 32 sharing one K/V head (multi-query for
  // the vanilla cache), FFN 128 GELU, LayerNorm, batch 2, fp16 (2 B). Prompt 64, 4 tokens generated:
  // decode steps at contexts 64, 65, 66; the cache ends holding 64 + 3 = 67 tokens per sequence.
  const std::string model = write_temp("compare_gen.json", R"({
  "dtype": "fp16",
  "defaults": {"d_model": 64, "heads": 2, "kv_heads": 1, "head_dim": 32, "seq_len": 64, "batch": 2, "causal": true,
               "norm": "layernorm", "ffn": {"width": 128, "activation": "gelu"}, "attention": {"variant": "flash"}},
  "layers": [{"repeat": 2}]
})");
  const std::string dir = temp_dir() + "/compare_gen";
  const CliResult r = run_cli("compare --hw edge --model " + model +
                              " --generate 4 --seq-lens 64 --variants flash,primal_causal:rank=16,lowrank_linear:rank=16"
                              " --jobs 2 --out " +
                              dir);
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  const std::int64_t L = 2, B = 2, G = 1, H = 2, dh = 32, r16 = 16, D = 64, F = 128, e = 2, last_context = 66;
  // Per sequence at the end: the cache 2 x L x G x dh x 67 tokens x 2 B; primal_causal's prefix sums of q
  // and k 2 x H x dh per layer; lowrank_linear's M, H x s x dh per layer.
  const std::int64_t cache_per_seq = 2 * L * G * dh * 67 * e, primal_per_seq = L * 2 * H * dh * e,
                     linear_per_seq = L * H * r16 * dh * e;
  // The last step's cache or state bytes: every (sequence, layer, K/V head) reads the c + 1 cached keys and
  // values and writes the new ones (c = 66); the low-rank states are read twice and written once per layer
  // (decode_graph.h: the update, and the L2 norm or the output GEMM) whatever the context.
  const std::int64_t cache_step = B * L * G * dh * e * (2 * (last_context + 1) + 2),
                     primal_step = L * B * 2 * H * dh * e * 3, linear_step = L * B * H * r16 * dh * e * 3;
  // Weights, each read once per step: two LayerNorms (2 x D each), Wo HD x D, W1 D x F, W2 F x D; vanilla
  // Wqkv D x (H + 2G) dh; primal_causal Wqk D x 2HD, WeT and WrT H s x dh, Wc 2s x dh once (the heads share it: kept on chip), bc dh;
  // lowrank_linear Wqkv D x 3HD, WQ HD x s, WKT H s x dh.
  const std::int64_t common = 2 * 2 * D + H * dh * D + D * F + F * D;
  const std::int64_t w_flash = L * e * (common + D * (H + 2 * G) * dh),
                     w_primal = L * e * (common + D * 2 * H * dh + 2 * H * r16 * dh + 2 * r16 * dh + dh),
                     w_linear = L * e * (common + D * 3 * H * dh + 2 * H * dh * r16);

  const Json doc = parse_json_text(slurp(dir + "/compare.json"), "compare.json");
  REQUIRE(doc["table"].size() == 3);
  const Json &flash = doc["table"][0], &primal = doc["table"][1], &linear = doc["table"][2];
  CHECK(flash["state_bytes_per_sequence"] == cache_per_seq);
  CHECK(primal["state_bytes_per_sequence"] == primal_per_seq);
  CHECK(linear["state_bytes_per_sequence"] == linear_per_seq);
  CHECK(flash["last_step_dram_state_bytes"] == cache_step);
  CHECK(primal["last_step_dram_state_bytes"] == primal_step);
  CHECK(linear["last_step_dram_state_bytes"] == linear_step);
  CHECK(flash["last_step_dram_weights_bytes"] == w_flash);
  CHECK(primal["last_step_dram_weights_bytes"] == w_primal);
  CHECK(linear["last_step_dram_weights_bytes"] == w_linear);
  CHECK(primal["state_bytes_ratio"].get<double>() == Approx(double(primal_per_seq) / double(cache_per_seq)).epsilon(1e-5));
  CHECK(linear["state_bytes_ratio"].get<double>() == Approx(double(linear_per_seq) / double(cache_per_seq)).epsilon(1e-5));
  for (const Json* row : {&flash, &primal, &linear}) {
    INFO((*row)["variant"]);
    const Json& x = *row;
    CHECK(x["prefill_tokens"] == 64);
    CHECK(x["generate_tokens"] == 4);
    // Tokens per second: batch x 4 tokens over the prefill and the 3 decode steps.
    CHECK(x["tokens_per_s"].get<double>() ==
          Approx(double(B * 4) / (x["ttft_s"].get<double>() + 3 * x["tpot_mean_s"].get<double>())).epsilon(1e-9));
    const std::string binding = x["last_step_binding"].get<std::string>();
    CHECK((binding == "compute" || binding == "array fill and drain" || binding == "weights bandwidth" ||
           binding == (row == &flash ? "cache bandwidth" : "state bandwidth")));
    // Ratios to flash from the figures themselves.
    for (const auto& [ratio, figure] : std::vector<std::pair<const char*, const char*>>{
             {"ttft_ratio", "ttft_s"}, {"tpot_ratio", "tpot_mean_s"}, {"tokens_per_s_ratio", "tokens_per_s"}}) {
      INFO(ratio);
      CHECK(x[ratio].get<double>() == Approx(x[figure].get<double>() / flash[figure].get<double>()).epsilon(1e-5));
    }
    const double step_bytes = x["last_step_dram_weights_bytes"].get<double>() + x["last_step_dram_state_bytes"].get<double>() +
                              x["last_step_dram_activations_bytes"].get<double>();
    const double base_step = flash["last_step_dram_weights_bytes"].get<double>() + double(cache_step) +
                             flash["last_step_dram_activations_bytes"].get<double>();
    CHECK(x["step_dram_bytes_ratio"].get<double>() == Approx(step_bytes / base_step).epsilon(1e-5));
  }
  // A fixed-size state: every decode step costs the same; the cache grows, so the last step is no faster.
  CHECK(primal["tpot_first_s"] == primal["tpot_last_s"]);
  CHECK(linear["tpot_first_s"] == linear["tpot_last_s"]);
  CHECK(flash["tpot_last_s"].get<double>() >= flash["tpot_first_s"].get<double>());

  // Time to first token: the prompt alone, simulated by attnsim run without generation.
  const CliResult prefill = run_cli("run --hw edge --model " + model + " --out " + dir + "/prefill");
  REQUIRE(prefill.status == 0);
  const Json pre = parse_json_text(slurp(dir + "/prefill/report.json"), "report.json");
  CHECK(flash["ttft_s"].get<double>() == Approx(pre["time_us"].get<double>() * 1e-6).epsilon(1e-12));
  CHECK(flash["cycles"] == pre["cycles"]);

  // The CSV: the generation columns before the error, the same values.
  const std::vector<std::string> csv = lines_of(slurp(dir + "/compare.csv"));
  REQUIRE(csv.size() == 4);
  CHECK(csv[0].find(",ttft_s,tpot_mean_s,tpot_first_s,tpot_last_s,tokens_per_s,") != std::string::npos);
  CHECK(csv[0].find(",state_bytes_ratio,step_dram_bytes_ratio,error") != std::string::npos);
  CHECK(doc["columns"] == Json(compare_columns(true)));
  for (const Json& row : doc["table"]) {
    std::size_t k = 0;  // every row has the columns, in order
    for (auto it = row.begin(); it != row.end(); ++it, ++k) CHECK(it.key() == compare_columns(true)[k]);
  }
  CHECK(compare_columns(true).back() == "error");
  CHECK(csv[2].find("," + std::to_string(primal_per_seq) + "," + std::to_string(w_primal) + "," +
                    std::to_string(primal_step) + ",") != std::string::npos);

  // The terminal: a generation table after the prefill's, a row per variant.
  REQUIRE(r.out.find("generation after a prompt of N = 64, 4 tokens generated") != std::string::npos);
  const std::string tail = r.out.substr(r.out.find("generation after a prompt"));
  std::string row;
  for (const std::string& line : lines_of(tail))
    if (line.rfind("  primal_causal:rank=16 ", 0) == 0) row = line;
  std::istringstream cells(row);
  std::vector<std::string> cell;
  for (std::string c; cells >> c;) cell.push_back(c);
  // variant, TTFT, TPOT mean, first, last, tokens/s, step weights, step state, step activations, per sequence.
  REQUIRE(cell.size() > 9);
  CHECK(cell[6] == std::to_string(w_primal));
  CHECK(cell[7] == std::to_string(primal_step));
  CHECK(cell[9] == std::to_string(primal_per_seq));
}
