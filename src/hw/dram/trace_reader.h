#pragma once
// Memory traces for dram-replay, in three formats (auto-detected from the first request line):
//   dramsim3   0xADDR READ|WRITE CYCLE      CYCLE in memory (DRAM) clock cycles
//   ramulator  LD|ST 0xADDR                 no time: requests are issued as fast as accepted
//   plain      ADDR R|W TIME_NS             ADDR hex (0x...) or decimal, TIME_NS a number of ns
// Blank lines and lines starting with # are skipped. A malformed line is a UserError "FILE:LINE: ...".
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace attnsim {

enum class TraceFormat : std::uint8_t { Auto, DramSim3, Ramulator, Plain };
const char* to_string(TraceFormat f);
// "auto", "dramsim3", "ramulator", "plain"; false if unknown.
bool parse_trace_format(const std::string& name, TraceFormat* out);

struct TraceRecord {
  std::uint64_t addr = 0;
  bool is_write = false;
  std::int64_t cycle = 0;  // earliest DRAM cycle at which it may be issued (0 when the format has no time)
};

struct Trace {
  TraceFormat format = TraceFormat::Auto;  // the detected or given format
  std::vector<TraceRecord> records;
};

// tCK_fs converts plain-format nanoseconds into DRAM cycles (rounded up). A request's cycle must be
// at most kMaxRunCycles (checked_math.h: the longest run), so that cycle x tCK never overflows
// simulated time. With capacity_bytes > 0, an address at or beyond it is refused (the address
// mapping would otherwise drop its high bits and alias it onto another location).
Trace read_trace(std::istream& in, const std::string& file, TraceFormat format, std::int64_t tCK_fs,
                 std::uint64_t capacity_bytes = 0);
// The same from a file; a directory or a missing file is a UserError.
Trace read_trace_file(const std::string& path, TraceFormat format, std::int64_t tCK_fs,
                      std::uint64_t capacity_bytes = 0);

}  // namespace attnsim
