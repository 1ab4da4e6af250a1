#include "hw/dram/trace_reader.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "common/checked_math.h"
#include "common/errors.h"
#include "config/json_reader.h"

namespace attnsim {

const char* to_string(TraceFormat f) {
  switch (f) {
    case TraceFormat::Auto:
      return "auto";
    case TraceFormat::DramSim3:
      return "dramsim3";
    case TraceFormat::Ramulator:
      return "ramulator";
    case TraceFormat::Plain:
      return "plain";
  }
  return "?";
}

bool parse_trace_format(const std::string& name, TraceFormat* out) {
  for (TraceFormat f : {TraceFormat::Auto, TraceFormat::DramSim3, TraceFormat::Ramulator, TraceFormat::Plain})
    if (name == to_string(f)) {
      *out = f;
      return true;
    }
  return false;
}

namespace {

// Splits a line into at most 4 whitespace-separated tokens (without allocating).
int tokenize(const std::string& line, std::string_view* tok, int max) {
  int n = 0;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == ',')) ++i;
    if (i >= line.size()) break;
    size_t j = i;
    while (j < line.size() && !(line[j] == ' ' || line[j] == '\t' || line[j] == '\r' || line[j] == ',')) ++j;
    if (n < max) tok[n] = std::string_view(line).substr(i, j - i);
    ++n;
    i = j;
  }
  return n;
}

bool parse_u64(std::string_view s, std::uint64_t* v, bool allow_decimal) {
  if (s.empty()) return false;
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (!allow_decimal) {
    return false;
  }
  std::uint64_t x = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (base == 16 && c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (base == 16 && c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return false;
    if (x > (UINT64_MAX - std::uint64_t(d)) / std::uint64_t(base)) return false;
    x = x * std::uint64_t(base) + std::uint64_t(d);
  }
  *v = x;
  return true;
}

bool upper_is(std::string_view s, const char* word) {
  size_t i = 0;
  for (; word[i]; ++i)
    if (i >= s.size() || std::toupper(static_cast<unsigned char>(s[i])) != word[i]) return false;
  return i == s.size();
}

TraceFormat detect(const std::string_view* tok, int n) {
  if (n >= 1 && (upper_is(tok[0], "LD") || upper_is(tok[0], "ST"))) return TraceFormat::Ramulator;
  if (n >= 2 && (upper_is(tok[1], "READ") || upper_is(tok[1], "WRITE"))) return TraceFormat::DramSim3;
  if (n >= 2 && (upper_is(tok[1], "R") || upper_is(tok[1], "W"))) return TraceFormat::Plain;
  return TraceFormat::Auto;
}

}  // namespace

Trace read_trace(std::istream& in, const std::string& file, TraceFormat format, std::int64_t tCK_fs,
                 std::uint64_t capacity_bytes) {
  Trace trace;
  trace.format = format;
  std::string line;
  std::int64_t lineno = 0;
  std::string_view tok[4];
  auto fail = [&](const std::string& what) {
    throw UserError(file + ":" + std::to_string(lineno) + ": " + what + ", got \"" + line + "\"");
  };
  while (std::getline(in, line)) {
    ++lineno;
    const int n = tokenize(line, tok, 4);
    if (n == 0 || tok[0][0] == '#') continue;
    if (trace.format == TraceFormat::Auto) {
      trace.format = detect(tok, n);
      if (trace.format == TraceFormat::Auto)
        fail(
            "cannot tell the trace format (expected \"0xADDR READ|WRITE CYCLE\", \"LD|ST 0xADDR\" or \"ADDR R|W "
            "TIME_NS\"; use --format)");
    }
    TraceRecord r;
    switch (trace.format) {
      case TraceFormat::DramSim3: {
        std::uint64_t cyc = 0;
        if (n != 3) fail("expected 0xADDR READ|WRITE CYCLE");
        if (!parse_u64(tok[0], &r.addr, false)) fail("expected a hexadecimal address 0x...");
        if (upper_is(tok[1], "READ"))
          r.is_write = false;
        else if (upper_is(tok[1], "WRITE"))
          r.is_write = true;
        else
          fail("expected READ or WRITE");
        if (!parse_u64(tok[2], &cyc, true)) fail("expected a cycle number");
        if (cyc > std::uint64_t(kMaxRunCycles))
          fail("a cycle must be at most " + std::to_string(kMaxRunCycles) + " (2^36, the longest run)");
        r.cycle = std::int64_t(cyc);
        break;
      }
      case TraceFormat::Ramulator: {
        if (n != 2) fail("expected LD|ST 0xADDR");
        if (upper_is(tok[0], "LD"))
          r.is_write = false;
        else if (upper_is(tok[0], "ST"))
          r.is_write = true;
        else
          fail("expected LD or ST");
        if (!parse_u64(tok[1], &r.addr, true)) fail("expected an address");
        break;
      }
      case TraceFormat::Plain: {
        if (n != 3) fail("expected ADDR R|W TIME_NS");
        if (!parse_u64(tok[0], &r.addr, true)) fail("expected an address (0x... or decimal)");
        if (upper_is(tok[1], "R"))
          r.is_write = false;
        else if (upper_is(tok[1], "W"))
          r.is_write = true;
        else
          fail("expected R or W");
        std::string t(tok[2]);
        char* end = nullptr;
        errno = 0;
        const double ns = std::strtod(t.c_str(), &end);
        if (end != t.c_str() + t.size() || errno || !(ns >= 0) || !std::isfinite(ns)) fail("expected a time in ns (>= 0)");
        const double cycle = std::ceil(ns * 1e6 / double(tCK_fs) - 1e-9);
        if (!double_to_int64(std::max(cycle, 0.0), 0, kMaxRunCycles, &r.cycle))
          fail("a time must be at most " + std::to_string(kMaxRunCycles) + " DRAM cycles (2^36, the longest run) of " +
               std::to_string(tCK_fs) + " fs");
        break;
      }
      case TraceFormat::Auto:
        break;
    }
    if (capacity_bytes > 0 && r.addr >= capacity_bytes) {
      char hex[32];
      std::snprintf(hex, sizeof hex, "0x%llx", (unsigned long long)capacity_bytes);
      fail("the address is beyond the DRAM's capacity of " + std::string(hex) + " bytes (" +
           std::to_string(capacity_bytes) + ")");
    }
    trace.records.push_back(r);
  }
  return trace;
}

Trace read_trace_file(const std::string& path, TraceFormat format, std::int64_t tCK_fs,
                      std::uint64_t capacity_bytes) {
  check_input_file(path, "trace file");
  std::ifstream in(path);
  if (!in) throw UserError(path + ": cannot open trace file");
  return read_trace(in, path, format, tCK_fs, capacity_bytes);
}

}  // namespace attnsim
