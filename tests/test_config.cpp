// Hardware config validation: every rule gives FILE: /json/path: rule, got VALUE, and every problem
// of a file is reported at once.
#include <catch2/catch.hpp>

#include "common/errors.h"
#include "config/hw_config.h"
#include "config/presets.h"

using namespace attnsim;

namespace {

const char* kValid = R"({
  "array": {"rows": 32, "cols": 16, "dataflow": "ws", "timing": "scalesim", "clock_mhz": 1000},
  "sram": {"banks": 8, "bytes_per_bank": 65536, "port_bytes": 32},
  "dram": {"model": "ideal", "bytes_per_cycle": 16, "latency_cycles": 100}
})";

// Parses text and returns the UserError's problems (empty if it parsed).
std::vector<std::string> problems_of(const std::string& text) {
  try {
    parse_hw_config(parse_json_text(text, "hw.json"), "hw.json");
  } catch (const UserError& e) {
    return e.problems().empty() ? std::vector<std::string>{e.what()} : e.problems();
  }
  return {};
}

Json valid() { return parse_json_text(kValid, "hw.json"); }

std::vector<std::string> problems_with(const std::string& pointer, const Json& value) {
  Json doc = valid();
  doc[Json::json_pointer(pointer)] = value;
  return problems_of(doc.dump());
}

}  // namespace

TEST_CASE("a valid config parses with defaults filled in", "[config]") {
  HwConfig hw = parse_hw_config(valid(), "hw.json");
  CHECK(hw.array.rows == 32);
  CHECK(hw.array.cols == 16);
  CHECK(hw.array.dataflow == Dataflow::WS);
  CHECK(hw.array.operand_bytes == 1);  // default
  CHECK(hw.sram.total_bytes() == 8 * 65536);
  CHECK(hw.dram.peak_bytes_per_cycle == 16.0);
  CHECK(hw.array.period_fs() == 1000000);  // 1000 MHz = 1 ns = 10^6 fs
}

TEST_CASE("every embedded preset is valid and describes itself", "[config]") {
  REQUIRE(embedded_presets().size() >= 3);
  for (const auto& p : embedded_presets()) {
    INFO(p.name);
    HwConfig hw = load_hw_config(p.name);
    CHECK_FALSE(hw.description.empty());
  }
  // The two FLAT platforms, as the issue states them.
  HwConfig edge = load_hw_config("edge"), cloud = load_hw_config("cloud");
  CHECK(edge.array.pes() == 32 * 32);
  CHECK(edge.sram.total_bytes() == 512 * 1024);
  CHECK(cloud.array.pes() == 256 * 256);
  CHECK(cloud.sram.total_bytes() == 32 * 1024 * 1024);
  CHECK(cloud.array.clock_mhz == 940.0);
  // 400 GiB/s at 940 MHz: 400 * 2^30 / 940e6 = 456.9 B/cycle.
  CHECK(cloud.dram.bytes_per_cycle == Approx(400.0 * (1 << 30) / 940e6).epsilon(1e-3));
  CHECK(edge.dram.bytes_per_cycle == Approx(50.0 * (1 << 30) / 940e6).epsilon(1e-3));
}

TEST_CASE("malformed JSON names the file, line and column", "[config][errors]") {
  auto p = problems_of("{\n  \"array\": {\"rows\": 32,,}\n}");
  REQUIRE(p.size() == 1);
  CHECK_THAT(p[0], Catch::StartsWith("hw.json:2:"));
  CHECK_THAT(p[0], Catch::Contains("malformed JSON"));
}

TEST_CASE("an unknown key is rejected with a did-you-mean", "[config][errors]") {
  auto p = problems_with("/array/dataflw", "os");
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "hw.json: /array/dataflw: unknown key (did you mean \"dataflow\"?)");
  p = problems_with("/sramm", Json::object());
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "hw.json: /sramm: unknown key (did you mean \"sram\"?)");
}

TEST_CASE("a wrong type is named with the value", "[config][errors]") {
  auto p = problems_with("/array/rows", "32");
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "hw.json: /array/rows: must be an integer, got \"32\"");
  p = problems_with("/array/dataflow", 3);
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "hw.json: /array/dataflow: must be one of os|ws|is, got 3");
  p = problems_with("/array/dataflow", "wss");
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "hw.json: /array/dataflow: must be one of os|ws|is (did you mean \"ws\"?), got \"wss\"");
}

TEST_CASE("negative and out-of-range sizes never wrap", "[config][errors]") {
  auto p = problems_with("/sram/bytes_per_bank", -65536);
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "hw.json: /sram/bytes_per_bank: must be an integer in [1, 1099511627776], got -65536");
  // 2^64 - 1 would wrap to -1 if read as a signed integer.
  p = problems_of(
      std::string(kValid).replace(std::string(kValid).find("\"rows\": 32"), 10, "\"rows\": 18446744073709551615"));
  REQUIRE(p.size() == 1);
  CHECK_THAT(p[0],
             Catch::StartsWith("hw.json: /array/rows: must be an integer in [1, 4096], got 18446744073709551615"));
  p = problems_with("/array/clock_mhz", 0);
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "hw.json: /array/clock_mhz: must be a number in [7.4506, 100000], got 0");
}

TEST_CASE("zero banks is refused", "[config][errors]") {
  auto p = problems_with("/sram/banks", 0);
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "hw.json: /sram/banks: must be an integer in [1, 65536], got 0");
}

TEST_CASE("a missing required key is named", "[config][errors]") {
  Json doc = valid();
  doc["array"].erase("rows");
  auto p = problems_of(doc.dump());
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "hw.json: /array/rows: is required but not given");
}

TEST_CASE("every problem of a file is reported at once", "[config][errors]") {
  Json doc = valid();
  doc["array"]["rows"] = -1;
  doc["array"]["colls"] = 8;
  doc["sram"]["banks"] = 0;
  doc["dram"]["bytes_per_cycle"] = "fast";
  auto p = problems_of(doc.dump());
  CHECK(p.size() == 4);
  CHECK_THAT(p[0], Catch::Contains("/array/colls: unknown key"));
}

TEST_CASE("the PE-level model is refused on large arrays", "[config][errors]") {
  Json doc = valid();
  doc["array"]["rows"] = 128;
  doc["array"]["cols"] = 128;
  doc["array"]["fidelity"] = "pe";
  auto p = problems_of(doc.dump());
  REQUIRE(p.size() == 1);
  CHECK_THAT(p[0], Catch::StartsWith("hw.json: /array/fidelity: the pe model"));
}

TEST_CASE("SRAM interleaving: 0 or absent is contiguous, otherwise a power of two from 64 B to a bank", "[config]") {
  HwConfig hw = parse_hw_config(valid(), "hw.json");
  CHECK(hw.sram.interleave_bytes == 0);
  CHECK(hw.sram.stripe_bytes() == 65536);  // contiguous: a stripe of a whole bank
  CHECK_FALSE(hw.sram.interleaved());
  for (std::int64_t g : {std::int64_t(32), std::int64_t(64), std::int64_t(4096), std::int64_t(65536)}) {
    INFO(g);
    CHECK(problems_with("/sram/interleave_bytes", g).empty());  // 32 = port_bytes: a multiple of the port
  }
  Json doc = valid();
  doc["sram"]["interleave_bytes"] = 256;
  hw = parse_hw_config(doc, "hw.json");
  CHECK(hw.sram.stripe_bytes() == 256);
  CHECK(hw.sram.interleaved());
  auto p = problems_with("/sram/interleave_bytes", 96);
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "hw.json: /sram/interleave_bytes: must be 0 (contiguous banks) or a power of two, got 96");
  p = problems_with("/sram/interleave_bytes", 16);  // below 64 B and not a multiple of the 32 B port
  REQUIRE(p.size() == 1);
  CHECK(p[0] ==
        "hw.json: /sram/interleave_bytes: must be at least 64 B or a multiple of port_bytes (32), so that a port "
        "access stays in one bank, got 16");
  p = problems_with("/sram/interleave_bytes", 131072);
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "hw.json: /sram/interleave_bytes: must be at most bytes_per_bank (65536), got 131072");
  doc = valid();
  doc["sram"]["bytes_per_bank"] = 3 * 4096;
  doc["sram"]["interleave_bytes"] = 8192;
  p = problems_of(doc.dump());
  REQUIRE(p.size() == 1);
  CHECK_THAT(p[0], Catch::Contains("/sram/interleave_bytes: must divide bytes_per_bank (12288)"));
  p = problems_with("/sram/interleave_bytes", -64);
  REQUIRE(p.size() == 1);
  CHECK_THAT(p[0], Catch::StartsWith("hw.json: /sram/interleave_bytes: must be an integer in [0, "));
}

TEST_CASE("accumulator storage: optional, defaults sized to a row of partial sums per cycle", "[config]") {
  HwConfig hw = parse_hw_config(valid(), "hw.json");
  CHECK_FALSE(hw.accumulators.present);
  CHECK(hw.onchip_bytes() == 8 * 65536);
  CHECK_FALSE(hw.in_accumulators(8 * 65536));
  Json doc = valid();
  doc["accumulators"] = {{"bytes", 16384}};
  hw = parse_hw_config(doc, "hw.json");
  CHECK(hw.accumulators.present);
  CHECK(hw.accumulators.bytes == 16384);
  // 16 columns x 4 B accumulators (the default accumulator_bytes) = 64 B per cycle.
  CHECK(hw.accumulators.port_bytes == 64);
  CHECK(hw.accumulators.array_port_bytes == 64);
  CHECK(hw.accumulator_base() == 8 * 65536);
  CHECK(hw.onchip_bytes() == 8 * 65536 + 16384);
  CHECK(hw.in_accumulators(8 * 65536));
  CHECK_FALSE(hw.in_accumulators(8 * 65536 - 1));
  doc["accumulators"] = {{"bytes", 32}, {"port_bytes", 0}, {"wide", true}};
  auto p = problems_of(doc.dump());
  REQUIRE(p.size() == 3);
  CHECK_THAT(p[0], Catch::Contains("/accumulators/wide: unknown key"));
  CHECK(p[1] == "hw.json: /accumulators/bytes: must be an integer in [64, 1099511627776], got 32");
  CHECK(p[2] == "hw.json: /accumulators/port_bytes: must be an integer in [1, 1048576], got 0");
  p = problems_with("/accumulators", 5);
  REQUIRE(p.size() == 1);
  CHECK_THAT(p[0], Catch::StartsWith("hw.json: /accumulators: "));
}

TEST_CASE("GEMM chaining is off by default and needs overlapped timing", "[config][errors]") {
  CHECK_FALSE(parse_hw_config(valid(), "hw.json").array.gemm_chaining);  // old configs keep their cycles
  Json doc = valid();
  doc["array"]["timing"] = "overlapped";
  doc["array"]["gemm_chaining"] = true;
  CHECK(parse_hw_config(doc, "hw.json").array.gemm_chaining);
  // scalesim runs every fold alone: asking for chaining too is a contradiction, not a silent no-op.
  auto p = problems_with("/array/gemm_chaining", true);
  REQUIRE(p.size() == 1);
  CHECK_THAT(p[0], Catch::StartsWith("hw.json: /array/gemm_chaining: needs \"timing\": \"overlapped\""));
  p = problems_with("/array/gemm_chaining", "yes");
  REQUIRE(p.size() == 1);
  CHECK_THAT(p[0], Catch::StartsWith("hw.json: /array/gemm_chaining: must be true or false"));
}
