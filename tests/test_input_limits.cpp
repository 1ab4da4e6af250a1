// The limits every input reader shares (json_reader.h) and the overflow-proof arithmetic
// (checked_math.h): nesting depth, number literals beyond a double, files that are not files,
// checked products and range-checked conversions, and the bounds derived from simulated time.
#include <catch2/catch.hpp>
#include <limits>

#include "common/checked_math.h"
#include "common/errors.h"
#include "config/hw_config.h"
#include "config/json_reader.h"
#include "hw/dram/trace_reader.h"
#include "support/cli.h"

using namespace attnsim;

namespace {
std::string brackets(int depth) { return std::string(std::size_t(depth), '[') + std::string(std::size_t(depth), ']'); }
}  // namespace

TEST_CASE("JSON nesting: 64 levels are read, 65 are refused at the bracket that goes too deep", "[limits][json]") {
  CHECK(parse_json_text(brackets(64), "f.json").is_array());
  CHECK_THROWS_WITH(parse_json_text(brackets(65), "f.json"),
                    "f.json:1:65: nesting deeper than 64 levels of arrays and objects (the limit for every JSON input)");
  // Brackets inside strings are text, not nesting.
  CHECK(parse_json_text("[\"" + std::string(100, '[') + "\"]", "f.json").is_array());
  // The same limit for --set values.
  CHECK_THROWS_WITH(parse_json_value(brackets(65), "--set /x"), Catch::StartsWith("--set /x: nesting deeper than 64"));
}

TEST_CASE("JSON numbers: a literal beyond a double is refused with its line and column", "[limits][json]") {
  CHECK(parse_json_text("[1.7976931348623157e308]", "f.json")[0].get<double>() == std::numeric_limits<double>::max());
  CHECK_THROWS_WITH(parse_json_text("{\n  \"a\": 1e309}", "f.json"),
                    "f.json:2:8: number 1e309 is outside the range of a double (+-1.8e308)");
  CHECK_THROWS_WITH(parse_json_text("[-1e400]", "f.json"), Catch::StartsWith("f.json:1:2: number -1e400"));
  // Integers beyond 64 bits are read as doubles (nlohmann's rule) and refused by the range checks.
  CHECK(parse_json_text("[18446744073709551616]", "f.json")[0].is_number_float());
  // Underflow is a zero, not an error; text that mentions 1e400 is a string.
  CHECK(parse_json_text("[1e-400, \"1e400\"]", "f.json")[1] == "1e400");
  // --set: a bare word stays a string even when it contains digits; a number literal must fit.
  CHECK(parse_json_value("ddr4-3200", "--set /dram/preset") == "ddr4-3200");
  CHECK(parse_json_value("1e400x", "--set /a") == "1e400x");
  CHECK(parse_json_value("64", "--set /a") == 64);
  CHECK(parse_json_value("null", "--set /a").is_null());
  CHECK(parse_json_value("h\xc3\xa9llo", "--set /a") == "h\xc3\xa9llo");  // UTF-8 text: a string
  for (const char* bad : {"\x93", "a\xc3", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80"})  // stray, truncated,
    CHECK_THROWS_WITH(parse_json_value(bad, "--set /a"), "--set /a: the value is not UTF-8 text");  // surrogate, overlong, > U+10FFFF
  CHECK_THROWS_WITH(parse_json_value("1e400", "--set /a"),
                    "--set /a: number 1e400 is outside the range of a double (+-1.8e308), got 1e400");
}

TEST_CASE("input files: directories and devices are refused by name", "[limits][files]") {
  const std::string dir = attnsim::test::temp_dir();
  CHECK_THROWS_WITH(read_json_file(dir), dir + ": is a directory, expected a file");
  CHECK_THROWS_WITH(read_json_file("/dev/null"), "/dev/null: is a device or socket, expected a file");
  CHECK_THROWS_WITH(read_trace_file(dir, TraceFormat::Auto, 625000), dir + ": is a directory, expected a trace file");
  CHECK_THROWS_WITH(read_json_file(dir + "/no-such.json"), dir + "/no-such.json: cannot open file");
}

TEST_CASE("checked arithmetic: products, sums and conversions that would overflow are caught", "[limits][math]") {
  std::int64_t r = 0;
  CHECK(checked_mul(std::int64_t(3037000499), std::int64_t(3037000499), &r));  // floor(sqrt(2^63 - 1))
  CHECK(r == 9223372030926249001);
  CHECK_FALSE(checked_mul(std::int64_t(3037000500), std::int64_t(3037000500), &r));
  CHECK_FALSE(checked_add(kMaxSimFs, std::int64_t(1), &r));
  CHECK(mul_or_throw(1 << 20, 1 << 20, "a x b") == std::int64_t(1) << 40);
  CHECK_THROWS_WITH(mul_or_throw(std::int64_t(1) << 32, std::int64_t(1) << 31, "--m x --k"),
                    "--m x --k: 4294967296 x 2147483648 exceeds 2^63 - 1");
  // Double to int64: finite and in range only; 2^63 itself is out (the largest int64 is 2^63 - 1).
  CHECK(double_to_int64(9223372036854774784.0, 0, kMaxSimFs, &r));  // the largest double below 2^63
  CHECK(r == 9223372036854774784);
  CHECK_FALSE(double_to_int64(9223372036854775808.0, 0, kMaxSimFs, &r));
  CHECK_FALSE(double_to_int64(1e300, 0, kMaxSimFs, &r));
  CHECK_FALSE(double_to_int64(std::numeric_limits<double>::quiet_NaN(), 0, kMaxSimFs, &r));
  CHECK_FALSE(double_to_int64(-1.0, 0, kMaxSimFs, &r));
  CHECK_FALSE(double_to_int64(11.0, 0, 10, &r));
  // Time: 2^36 cycles of the longest period fit; one more femtosecond of period does not.
  CHECK(cycles_to_fs(kMaxRunCycles, kMaxPeriodFs) <= kMaxSimFs);
  CHECK_THROWS_AS(cycles_to_fs(kMaxRunCycles, kMaxPeriodFs + 1), UserError);
}

TEST_CASE("the slowest clock is derived from 2^36 cycles of simulated femtoseconds", "[limits][math]") {
  // (2^63 - 1) / 2^36 = 134,217,727 fs; 1e9 / 134,217,727 = 7.45058 MHz, rounded up: 7.4506.
  CHECK(kMaxPeriodFs == 134217727);
  Json doc = {{"array", {{"rows", 4}, {"cols", 4}, {"clock_mhz", kMinClockMhz}}},
              {"sram", {{"banks", 1}, {"bytes_per_bank", 4096}, {"port_bytes", 8}}},
              {"dram", {{"model", "ideal"}, {"bytes_per_cycle", 8}}}};
  const HwConfig hw = parse_hw_config(doc, "t.json");
  CHECK(hw.array.period_fs() == 134217378);  // round(1e9 / 7.4506)
  std::int64_t fs = 0;
  CHECK(checked_mul(kMaxRunCycles, hw.array.period_fs(), &fs));
  doc["array"]["clock_mhz"] = 7.4505;
  CHECK_THROWS_WITH(parse_hw_config(doc, "t.json"), "t.json: /array/clock_mhz: must be a number in [7.4506, 100000], got 7.4505");
}
