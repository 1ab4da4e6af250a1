// The CLI as a user meets it: usage, --help, --version, bad input with exit status 2, and
// byte-identical reports for identical inputs.
#include <catch2/catch.hpp>

#include <fstream>

#include "config/json_reader.h"
#include "support/cli.h"

using namespace attnsim::test;

TEST_CASE("a bare attnsim prints usage, not a crash", "[cli]") {
  CliResult r = run_cli("");
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("usage: attnsim <command>"));
  CHECK_THAT(r.err, Catch::Contains("gemm"));
}

TEST_CASE("version and help options", "[cli]") {
  CliResult v = run_cli("--version");
  CHECK(v.status == 0);
  CHECK_THAT(v.out, Catch::StartsWith("attnsim "));
  CliResult h = run_cli("gemm --help");
  CHECK(h.status == 0);
  CHECK_THAT(h.out, Catch::Contains("--hw"));
  CHECK_THAT(h.out, Catch::Contains("--emit"));
  CHECK(run_cli("check --help").status == 0);
  CliResult u = run_cli("frobnicate");
  CHECK(u.status == 2);
  CHECK_THAT(u.err, Catch::Contains("unknown command 'frobnicate'"));
}

TEST_CASE("a missing option and a bad number exit with status 2", "[cli][errors]") {
  CliResult r = run_cli("gemm --hw edge --m 64 --k 64");
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("--n"));
  r = run_cli("gemm --hw edge --m 64 --k 64 --n -5");
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("GEMM dimensions must be positive"));
  r = run_cli("gemm --hw nosuch --m 64 --k 64 --n 64");
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("nosuch: no such file, and no preset of that name"));
}

TEST_CASE("a broken config file exits with status 2 and every problem named", "[cli][errors]") {
  const std::string path = write_temp("broken.json", R"({
    "array": {"rows": 0, "cols": 32, "dataflow": "os", "clock_mhz": 1000},
    "sram": {"banks": 4, "bytes_per_bank": -1, "port_bytes": 64},
    "dram": {"model": "ideal", "bytes_per_cycle": 32, "latncy_cycles": 10}
  })");
  CliResult r = run_cli("gemm --hw " + path + " --m 64 --k 64 --n 64");
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains(path + ": /array/rows: must be an integer in [1, 4096], got 0"));
  CHECK_THAT(r.err, Catch::Contains(path + ": /sram/bytes_per_bank: must be an integer in [1, 1099511627776], got -1"));
  CHECK_THAT(r.err, Catch::Contains(path + ": /dram/latncy_cycles: unknown key (did you mean \"latency_cycles\"?)"));
  CliResult c = run_cli("check " + path + " edge");
  CHECK(c.status == 2);
  CHECK_THAT(c.out, Catch::Contains("edge: ok"));
  CHECK_THAT(c.err, Catch::Contains("/array/rows"));
  CliResult m = run_cli("gemm --hw " + write_temp("malformed.json", "{\"array\": [1, 2") + " --m 1 --k 1 --n 1");
  CHECK(m.status == 2);
  CHECK_THAT(m.err, Catch::Contains("malformed JSON"));
}

TEST_CASE("a bad --set override is a user error", "[cli][errors]") {
  CliResult r = run_cli("gemm --hw edge --m 64 --k 64 --n 64 --set /array/dataflow=diagonal");
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("preset:edge: /array/dataflow: must be one of os|ws|is"));
  r = run_cli("gemm --hw edge --m 64 --k 64 --n 64 --set rows=3");
  CHECK(r.status == 2);
}

TEST_CASE("a GEMM whose smallest tile cannot fit names the tile and the capacity", "[cli][errors]") {
  // 4 banks x 256 B = 1 KiB. On a 32x32 OS array the smallest tile is A 32x1024 (64 KiB at 2 B):
  // far too big.
  CliResult r = run_cli("gemm --hw edge --m 64 --k 1024 --n 64 --set /sram/banks=4 --set /sram/bytes_per_bank=256");
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("/sram: GEMM 64x1024x64 does not fit"));
  CHECK_THAT(r.err, Catch::Contains("exceeds the SRAM capacity of 1024 B (4 banks x 256 B)"));
}

TEST_CASE("the same inputs give byte-identical reports", "[cli]") {
  const std::string a = temp_dir() + "/det-a", b = temp_dir() + "/det-b";
  const std::string args = "gemm --hw edge --m 300 --k 70 --n 200 --set /array/dataflow=ws --out ";
  CliResult r1 = run_cli(args + a), r2 = run_cli(args + b);
  REQUIRE(r1.status == 0);
  REQUIRE(r2.status == 0);
  CHECK(r1.out == r2.out.substr(0, r2.out.find("report written")) + r1.out.substr(r1.out.find("report written")));
  CHECK(slurp(a + "/report.json") == slurp(b + "/report.json"));
  CHECK(slurp(a + "/report.csv") == slurp(b + "/report.csv"));
  CHECK_FALSE(slurp(a + "/report.json").empty());
}

TEST_CASE("emit tiles prints the tile program", "[cli]") {
  const std::string one_tile = write_temp(
      "one-tile.json", R"({"mapping_version": 1, "ops": {"gemm": {"kind": "gemm", "tile": {"m": 64, "k": 64, "n": 64}}}})");
  CliResult r = run_cli("gemm --hw edge --m 64 --k 64 --n 64 --emit tiles --mapping " + one_tile);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("0: LOAD A"));
  CHECK_THAT(r.out, Catch::Contains("GEMM m=64 k=64 n=64"));
  CHECK_THAT(r.out, Catch::Contains("STORE C"));
}

TEST_CASE("report.csv of a generation says whether the prefill was extrapolated from its first layers", "[cli][decode]") {
  // The last column follows report.json's prefill.layers_simulated: [1,2,3] (gpt-wikitext103 on edge at
  // prefill 256 is linear within 0.1%, README) gives 1-3; --all-layers gives all.
  auto last_cells = [](const std::string& csv) {
    const std::size_t nl = csv.find('\n');
    const std::string head = csv.substr(0, nl), row = csv.substr(nl + 1, csv.find('\n', nl + 1) - nl - 1);
    return std::make_pair(head.substr(head.rfind(',') + 1), row.substr(row.rfind(',') + 1));
  };
  for (const bool all : {false, true}) {
    const std::string dir = temp_dir() + (all ? "/gen-all-layers" : "/gen-sampled-layers");
    const CliResult r = run_cli("run --hw edge --model gpt-wikitext103 --prefill 256 --generate 2" +
                                std::string(all ? " --all-layers" : "") + " --out " + dir);
    REQUIRE(r.status == 0);
    const auto [name, value] = last_cells(slurp(dir + "/report.csv"));
    CHECK(name == "prefill_layers_simulated");
    CHECK(value == (all ? "all" : "1-3"));
    const attnsim::Json ls = attnsim::read_json_file(dir + "/report.json")["prefill"]["layers_simulated"];
    CHECK(ls == (all ? attnsim::Json("all") : attnsim::Json::array({1, 2, 3})));
  }
}

TEST_CASE("run with generation refuses the mapper flags it would not honour", "[cli][decode][errors]") {
  const std::string mapping = temp_dir() + "/gen-mapping.json";
  std::ofstream(mapping) << R"({"mapping_version": 1, "ops": {}})";
  for (const std::string& flag : {std::string("--mapper thorough"), std::string("--mapper-seed 3"), "--mapping " + mapping}) {
    const CliResult r = run_cli("run --hw edge --model gpt-wikitext103 --prefill 64 --generate 2 " + flag);
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains(": not with generation"));
  }
}

TEST_CASE("run --decode-only simulates the decode steps alone and says the prefill was not simulated", "[cli][decode]") {
  const std::string dir = temp_dir() + "/decode-only";
  CliResult r = run_cli("run --hw edge --model gpt-wikitext103 --variant primal_causal --prefill 64 --generate 2 "
                        "--decode-only --out " + dir);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("time to first token     not simulated"));
  CHECK_THAT(r.err, Catch::Contains("prefill 64 (not simulated)"));
  CHECK(std::filesystem::exists(dir + "/report.json"));
  CHECK(std::filesystem::exists(dir + "/steps.csv"));
  CHECK(!std::filesystem::exists(dir + "/report.csv"));  // the headline figures are the prefill's
  CHECK_THAT(slurp(dir + "/steps.csv"), Catch::Contains("\n1,64,true,"));  // one step, at context 64
  r = run_cli("run --hw edge --model gpt-wikitext103 --generate 1 --decode-only");
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("--decode-only: needs generation with at least one decode step"));
  r = run_cli("run --hw edge --model gpt-wikitext103 --decode-only");
  CHECK(r.status == 2);
}
