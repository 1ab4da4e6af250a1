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

  // CSV: one line per row; a message with a comma is quoted.
  c.points[5].error = "no room, sorry";
  const std::vector<std::string> csv = lines_of(compare_csv(compare_table(c)));
  REQUIRE(csv.size() == 10);
  // 44 columns: seq_len, variant, status, 40 empty figures, the error.
  CHECK(csv[6] == "256,row_fused,failed," + std::string(40, ',') + "\"no room, sorry\"");
}
