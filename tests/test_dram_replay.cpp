// Address mapping decode, trace parsing (three formats, bad lines), the dram-replay CLI (exit status 2
// with FILE:LINE, determinism, --check with zero violations) and /dram config validation.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "common/errors.h"
#include "config/hw_config.h"
#include "hw/dram/dram_stats.h"
#include "hw/dram/trace_reader.h"
#include "test_dram_support.h"

using namespace attnsim;
using namespace attnsim::test;

namespace {

struct CliRun {
  int status = -1;
  std::string out;  // stdout and stderr
};
CliRun run_cli(const std::string& args) {
  CliRun r;
  std::string cmd = std::string(ATTNSIM_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}
std::string write_tmp(const std::string& name, const std::string& text) {
  std::string path = "/tmp/attnsim_test_dram_" + std::to_string(getpid()) + "_" + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("dram mapping: RoBaRaCoCh decodes field by field", "[dram][mapping]") {
  // DDR4-3200, 2 channels, 2 ranks, 64 B bursts. From the least significant bit: offset 6 bits [5:0],
  // Ch 1 bit [6], Co 7 bits [13:7] (128 bursts per 8 KB row), Ra 1 bit [14], Ba 4 bits [18:15] (bank
  // group in the low two), Ro 16 bits [34:19].
  const DramSpec s = dram_spec("ddr4-3200", {{"channels", 2}, {"ranks", 2}});
  AddressMapping m;
  std::string err;
  REQUIRE(m.parse("RoBaRaCoCh", s, &err));
  const std::uint64_t addr = (std::uint64_t(1234) << 19) | (std::uint64_t(0b1110) << 15) | (std::uint64_t(1) << 14) |
                             (std::uint64_t(77) << 7) | (std::uint64_t(1) << 6) | 0x2a;
  DramAddress d = m.decode(addr);
  CHECK(d.channel == 1);
  CHECK(d.column == 77);
  CHECK(d.rank == 1);
  CHECK(d.bank_group == 0b10);
  CHECK(d.bank == 0b11);
  CHECK(d.row == 1234);
  CHECK(m.encode(d) == (addr & ~std::uint64_t(63)));
  // Explicit bank-group field: RoBgBaRaCoCh puts the bank (2 bits) below the bank group (2 bits).
  REQUIRE(m.parse("RoBgBaRaCoCh", s, &err));
  d = m.decode(addr);
  CHECK(d.bank == 0b10);
  CHECK(d.bank_group == 0b11);
  CHECK_FALSE(m.parse("RoBaRaCoCo", s, &err));
  CHECK(err.find("twice") != std::string::npos);
  CHECK_FALSE(m.parse("RoBaCoCh", s, &err));
  CHECK(err.find("Ra is missing") != std::string::npos);
}

TEST_CASE("dram mapping: the XOR scheme spreads a same-bank row stride over all banks", "[dram][mapping]") {
  // RoBaRaCoCh-xor on 1-channel DDR4: bank index (4 bits) ^= row[3:0]. A 128 KiB stride (Ro starts at
  // bit 17) keeps bank 0 under RoBaRaCoCh but visits banks 0, 1, 2, ..., 15 under -xor.
  const DramSpec s = dram_spec("ddr4-3200");
  AddressMapping plain, x;
  std::string err;
  REQUIRE(plain.parse("RoBaRaCoCh", s, &err));
  REQUIRE(x.parse("RoBaRaCoCh-xor", s, &err));
  for (int i = 0; i < 16; ++i) {
    const std::uint64_t a = std::uint64_t(i) << 17;
    DramAddress p = plain.decode(a), q = x.decode(a);
    CHECK(p.bank_group == 0);
    CHECK(p.bank == 0);
    CHECK(q.row == i);
    CHECK(q.bank_group == (i & 3));
    CHECK(q.bank == (i >> 2));
  }
  std::mt19937_64 rng(3);
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t a = (rng() % (std::uint64_t(1) << 33)) & ~std::uint64_t(63);
    CHECK(x.encode(x.decode(a)) == a);
  }
}

TEST_CASE("dram traces: the three formats parse and are auto-detected", "[dram][trace]") {
  const std::int64_t tck = 625000;  // DDR4-3200
  std::istringstream d3("# comment\n0x1000 READ 5\n0x2040 WRITE 12\n");
  Trace t = read_trace(d3, "a.trace", TraceFormat::Auto, tck);
  CHECK(t.format == TraceFormat::DramSim3);
  REQUIRE(t.records.size() == 2);
  CHECK(t.records[1].addr == 0x2040);
  CHECK(t.records[1].is_write);
  CHECK(t.records[1].cycle == 12);
  std::istringstream ram("LD 0x40\nST 0x80\n\n");
  t = read_trace(ram, "b.trace", TraceFormat::Auto, tck);
  CHECK(t.format == TraceFormat::Ramulator);
  REQUIRE(t.records.size() == 2);
  CHECK(!t.records[0].is_write);
  CHECK(t.records[1].is_write);
  CHECK(t.records[1].cycle == 0);
  std::istringstream plain("4096 R 10\n0x100 W 10.1\n");
  t = read_trace(plain, "c.trace", TraceFormat::Auto, tck);
  CHECK(t.format == TraceFormat::Plain);
  CHECK(t.records[0].addr == 4096);
  CHECK(t.records[0].cycle == 16);  // 10 ns / 0.625 ns
  CHECK(t.records[1].cycle == 17);  // 10.1 ns rounds up
  std::istringstream bad("0x1000 READ 5\n0x2000 REED 6\n");
  try {
    read_trace(bad, "bad.trace", TraceFormat::Auto, tck);
    FAIL("no error");
  } catch (const UserError& e) {
    CHECK(std::string(e.what()).find("bad.trace:2: expected READ or WRITE") != std::string::npos);
  }
}

TEST_CASE("dram-replay CLI: example traces replay with zero timing violations, output is deterministic",
          "[dram][cli]") {
  for (const char* f : {"random_reads.dramsim3.trace", "stream_mix.ramulator.trace", "stride_8k.plain.trace"}) {
    for (const char* preset : {"ddr4-3200", "lpddr4-4266", "hbm2", "hbm3", "ddr5-4800", "lpddr5-6400", "gddr6-16000"}) {
      INFO(f << " on " << preset);
      const std::string args =
          std::string("dram-replay --dram ") + preset + " --trace " + ATTNSIM_SOURCE_DIR + "/traces/" + f + " --check";
      CliRun a = run_cli(args);
      REQUIRE(a.status == 0);
      Json j = Json::parse(a.out);
      CHECK(j["timing_check"]["violations"] == 0);
      CHECK(j["timing_check"]["commands"].get<int>() > 0);
      if (std::string(preset) == "ddr4-3200") {
        CliRun b = run_cli(args);
        CHECK(a.out == b.out);  // byte-identical
      }
    }
  }
  // --command-trace writes every command; reading it back and checking gives zero violations.
  const std::string cmds = write_tmp("cmds.txt", "");
  CliRun c = run_cli(std::string("dram-replay --dram ddr4-3200 --trace ") + ATTNSIM_SOURCE_DIR +
                     "/traces/stream_mix.ramulator.trace --command-trace " + cmds);
  REQUIRE(c.status == 0);
  std::ifstream in(cmds);
  auto trace = read_command_trace(in, cmds);
  CHECK(trace.size() > 96);
  CHECK(check_command_trace(dram_spec("ddr4-3200"), trace).empty());
  std::remove(cmds.c_str());
}

TEST_CASE("dram-replay CLI: a bad trace line exits 2 with FILE:LINE", "[dram][cli]") {
  const std::string path = write_tmp("bad.trace", "0x40 READ 0\n0x80 READ 1\n0xZZ READ 2\n");
  CliRun r = run_cli("dram-replay --dram ddr4-3200 --trace " + path);
  CHECK(r.status == 2);
  CHECK(r.out.find(path + ":3: expected a hexadecimal address") != std::string::npos);
  CliRun u = run_cli("dram-replay --dram ddr5-9999 --trace " + path);
  CHECK(u.status == 2);
  CHECK(u.out.find("no DRAM preset of that name") != std::string::npos);
  CliRun h = run_cli("dram-replay --help");
  CHECK(h.status == 0);
  CHECK(h.out.find("--command-trace") != std::string::npos);
  std::remove(path.c_str());
}

TEST_CASE("dram config: a cycle /dram object is validated with JSON paths", "[dram][config]") {
  auto problems = [](const std::string& dram) {
    Json doc = Json::parse(R"({"array": {"rows": 8, "cols": 8, "clock_mhz": 1000},
        "sram": {"banks": 2, "bytes_per_bank": 65536, "port_bytes": 64}, "dram": )" +
                           dram + "}");
    try {
      parse_hw_config(doc, "hw.json");
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(problems(R"({"model": "cycle", "preset": "hbm2"})").empty());
  std::string p = problems(R"({"model": "cycle", "preset": "ddr4-3200", "channels": 3, "mapping": "RoBaXXCoCh",
                               "read_queue": 0, "timing": {"tRCDD": 22}})");
  CHECK(p.find("hw.json: /dram/read_queue: must be an integer in [1, 1024], got 0") != std::string::npos);
  CHECK(p.find("hw.json: /dram/timing/tRCDD: unknown timing parameter (did you mean \"tRCD\"?)") != std::string::npos);
  p = problems(R"({"model": "cycle", "preset": "ddr4-3200", "channels": 3, "mapping": "RoBaXXCoCh"})");
  CHECK(p.find("/dram/channels: must be a power of two, got 3") != std::string::npos);
  CHECK(p.find("/dram/mapping: unknown field \"XX\"") != std::string::npos);
  p = problems(R"({"model": "cycle", "preset": "ddr9"})");
  CHECK(p.find("/dram/preset: no DRAM preset of that name") != std::string::npos);
  p = problems(R"({"model": "cycle", "preset": "ddr4-3200", "write_high": 8, "write_low": 8})");
  CHECK(p.find("/dram/write_low: must be below write_high (8), got 8") != std::string::npos);
  p = problems(R"({"model": "cycel"})");
  CHECK(p.find("/dram/model: must be one of ideal|cycle (did you mean \"cycle\"?)") != std::string::npos);
}

TEST_CASE("dram stats: a row-buffer hit rate of a few in a million is not rounded to 0", "[dram][stats]") {
  // 323 hits among 1,000,000 classified requests: 323 / 10^6 = 0.000323 exactly.
  DramStats s;
  s.row_hits = 323;
  s.row_misses = 999677;
  const Json j = s.to_json(load_dram_spec("ddr4-3200"), 1000);
  CHECK(j["row_buffer"]["hit_rate"].get<double>() == Approx(0.000323).epsilon(1e-12));
}
