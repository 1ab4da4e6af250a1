#include "hw/trace_recorder.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <systemc>
#include <sysc/tracing/sc_tracing_ids.h>

#include "common/errors.h"

namespace attnsim {

namespace {

const char* const kUnitNames[kTraceUnits] = {"array", "vector_unit", "softmax_unit", "load_dma", "store_dma"};
// Timeline column names of the busy fractions, in TraceUnit order.
const char* const kBusyColumns[kTraceUnits] = {"array_busy", "vector_busy", "softmax_busy", "load_dma_busy",
                                               "store_dma_busy"};
// Every event belongs to one process, pid 1 (the accelerator); its units are threads.

// A unit's lane 0 is thread u + 1 (array = 1, ..., store_dma = 5); its extra lane i is (u + 1) * 1000 + i.
int lane_tid(std::size_t u, std::size_t lane) { return int(lane == 0 ? u + 1 : (u + 1) * 1000 + lane); }

void append_int(std::string& s, long long v) {
  char b[24];
  s.append(b, std::to_chars(b, b + sizeof b, v).ptr);
}

// Appends `digits` decimal digits of v (0 <= v < 10^digits), zero-padded, dropping trailing zeros
// when `trim`.
void append_fraction(std::string& s, long long v, int digits, bool trim) {
  char b[20];
  for (int i = digits - 1; i >= 0; --i, v /= 10) b[i] = char('0' + v % 10);
  int n = digits;
  if (trim)
    while (n > 0 && b[n - 1] == '0') --n;
  s.append(b, std::size_t(n));
}

// Fixed point with at most 6 decimals, trailing zeros dropped ("0.25", "3", "0"): v rounded to a
// multiple of 1e-6 in integer arithmetic (snprintf's "%.6f" costs ten times as much; a trace
// formats a few hundred numbers per window). Values are never negative; huge ones (>= 1e12,
// where 1e6 v could overflow) take the slow path.
void append_fixed6(std::string& s, double v) {
  if (!(v >= 1e12 || v <= -1e12)) {
    const long long q = std::llround(v * 1e6);
    if (q < 0) s += '-';
    const long long a = q < 0 ? -q : q;
    append_int(s, a / 1000000);
    if (a % 1000000) {
      s += '.';
      append_fraction(s, a % 1000000, 6, true);
    }
    return;
  }
  char b[64];
  int n = std::snprintf(b, sizeof b, "%.6f", v);
  while (n > 0 && b[n - 1] == '0') --n;
  if (n > 0 && b[n - 1] == '.') --n;
  s.append(b, std::size_t(n));
}

// Whole nanoseconds as microseconds with 3 decimals.
void append_us(std::string& s, long long ns) {
  append_int(s, ns / 1000);
  s += '.';
  append_fraction(s, ns % 1000, 3, false);
}
// fs to whole nanoseconds, rounded half up.
long long to_ns(fs_t fs) { return (fs + 500000) / 1000000; }

void append_json_string(std::string& s, const std::string& v) {
  s += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') {
      s += '\\';
      s += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      s += b;
    } else {
      s += c;
    }
  }
  s += '"';
}

std::FILE* open_for_writing(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw UserError(path + ": cannot write: " + std::strerror(errno));
  return f;
}

void write_all(std::FILE* f, const std::string& s, const std::string& path) {
  if (!s.empty() && std::fwrite(s.data(), 1, s.size(), f) != s.size())
    throw UserError(path + ": write failed: " + std::strerror(errno));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// TimelineWindows

TimelineWindows::TimelineWindows(std::size_t columns, fs_t period_fs, std::int64_t window_cycles)
    : columns_(columns),
      period_(period_fs),
      window_cycles_(window_cycles > 0 ? window_cycles : 1),
      adaptive_(window_cycles <= 0) {
  ATTNSIM_ASSERT(period_fs > 0, "trace windows need a positive clock period");
}

void TimelineWindows::ensure(fs_t t) {
  if (t <= 0) t = 1;
  std::int64_t k = (t - 1) / window_fs();
  if (adaptive_)
    while (k >= kAdaptiveWindows) {
      merge_pairs();
      k = (t - 1) / window_fs();
    }
  const std::int64_t need = k - first_ + 1;
  if (need > held()) {
    integral_.resize(std::size_t(need), 0);
    values_.resize(std::size_t(need) * columns_, 0);
  }
}

void TimelineWindows::merge_pairs() {
  ATTNSIM_ASSERT(first_ == 0, "adaptive trace windows are never dropped");
  const std::size_t n = integral_.size(), m = (n + 1) / 2;
  for (std::size_t i = 0; i < m; ++i) {
    const std::size_t a = 2 * i, b = 2 * i + 1;
    unsigned __int128 integ = integral_[a] + (b < n ? integral_[b] : 0);
    integral_[i] = integ;
    for (std::size_t c = 0; c < columns_; ++c)
      values_[i * columns_ + c] = values_[a * columns_ + c] + (b < n ? values_[b * columns_ + c] : 0);
  }
  integral_.resize(m);
  values_.resize(m * columns_);
  window_cycles_ *= 2;
}

void TimelineWindows::add_time(std::size_t col, fs_t s, fs_t e) {
  s = std::max(s, floor_fs_);
  if (e <= s) return;
  ensure(e);
  const fs_t w = window_fs();
  for (std::int64_t k = s / w;; ++k) {
    const fs_t lo = std::max(s, k * w), hi = std::min(e, (k + 1) * w);
    at(k, col) += std::uint64_t(hi - lo);
    if (hi == e) break;
  }
}

void TimelineWindows::add_spread(std::size_t col, fs_t s, fs_t e, std::uint64_t amount) {
  if (amount == 0) return;
  s = std::max(s, floor_fs_);
  if (e <= s) {
    ensure(s + 1);
    at(s / window_fs(), col) += amount;
    return;
  }
  ensure(e);
  const fs_t w = window_fs();
  if (s / w == (e - 1) / w) {  // the usual case: within one window
    at(s / w, col) += amount;
    return;
  }
  const unsigned __int128 len = std::uint64_t(e - s);
  std::uint64_t given = 0;  // the rounded cumulative share so far: the parts sum to amount exactly
  for (std::int64_t k = s / w;; ++k) {
    const fs_t hi = std::min(e, (k + 1) * w);
    const std::uint64_t cum = std::uint64_t(static_cast<unsigned __int128>(amount) * std::uint64_t(hi - s) / len);
    at(k, col) += cum - given;
    given = cum;
    if (hi == e) break;
  }
}

void TimelineWindows::add_integral(fs_t s, fs_t e, std::uint64_t value) {
  s = std::max(s, floor_fs_);
  if (value == 0 || e <= s) return;
  ensure(e);
  const fs_t w = window_fs();
  for (std::int64_t k = s / w;; ++k) {
    const fs_t lo = std::max(s, k * w), hi = std::min(e, (k + 1) * w);
    integral_[std::size_t(k - first_)] += static_cast<unsigned __int128>(value) * std::uint64_t(hi - lo);
    if (hi == e) break;
  }
}

void TimelineWindows::drop_before(std::int64_t window) {
  if (window <= first_) return;
  const std::int64_t n = window - first_;
  if (n >= held()) {
    integral_.clear();
    values_.clear();
  } else {
    integral_.erase(integral_.begin(), integral_.begin() + n);
    values_.erase(values_.begin(), values_.begin() + n * std::int64_t(columns_));
  }
  first_ = window;
  floor_fs_ = std::max(floor_fs_, window * window_fs());
}

void TimelineWindows::fold_after(std::int64_t last) {
  if (first_ + held() <= last + 1) return;
  ATTNSIM_ASSERT(last >= first_, "trace windows: folding into a window already written");
  for (std::int64_t k = last + 1; k < first_ + held(); ++k) {
    integral_[std::size_t(last - first_)] += integral_[std::size_t(k - first_)];
    for (std::size_t c = 0; c < columns_; ++c) at(last, c) += at(k, c);
  }
  integral_.resize(std::size_t(last - first_ + 1));
  values_.resize(std::size_t(last - first_ + 1) * columns_);
}

// ---------------------------------------------------------------------------------------------
// TraceRecorder

TraceRecorder::TraceRecorder(const TraceOptions& opts, const HwConfig& hw, int dram_channels,
                             std::vector<TensorInfo> tensors)
    : opts_(opts),
      hw_(hw),
      period_(hw.array.period_fs()),
      banks_(hw.sram.banks),
      channels_(dram_channels),
      tensors_(std::move(tensors)),
      windows_(kTraceUnits + std::size_t(hw.sram.banks) + std::size_t(dram_channels), hw.array.period_fs(),
               opts.window_cycles),
      col_bank0_(kTraceUnits),
      col_ch0_(kTraceUnits + std::size_t(hw.sram.banks)) {
  if (opts_.dir.empty()) throw UserError("trace: no output directory given");
  if (opts_.window_cycles < 0)
    throw UserError("trace: window of " + std::to_string(opts_.window_cycles) +
                    " cycles: must be at least 1 (0: adaptive)");
  if (opts_.max_lanes < 1 || opts_.max_lanes > TraceOptions::kMaxLanes)
    throw UserError("trace: " + std::to_string(opts_.max_lanes) + " lanes per unit: must be 1 to " +
                    std::to_string(TraceOptions::kMaxLanes));
  if (opts_.arrows_instrs > TraceOptions::kMaxArrowInstrs)
    throw UserError("trace: an arrows window of " + std::to_string(opts_.arrows_instrs) +
                    " instructions: must be at most " + std::to_string(TraceOptions::kMaxArrowInstrs));
  ATTNSIM_ASSERT(dram_channels >= 1, "a DRAM model has at least one channel");
  for (std::vector<fs_t>& lanes : lane_end_) lanes.reserve(opts_.max_lanes);
  if (opts_.perfetto) arrow_ends_.resize(std::size_t(opts_.arrows_instrs));
  next_close_fs_ = windows_.adaptive() ? INT64_MAX : windows_.window_fs();
  buf_.reserve(1 << 20);
  line_.reserve(4096);
  open_files();
}

TraceRecorder::~TraceRecorder() {
  if (!finished_) close_files(false);
}

void TraceRecorder::open_files() {
  std::error_code ec;
  std::filesystem::create_directories(opts_.dir, ec);
  if (ec) throw UserError(opts_.dir + ": cannot create trace directory: " + ec.message());
  if (opts_.timeline) {
    csv_path_ = opts_.dir + "/timeline.csv";
    csv_ = open_for_writing(csv_path_ + ".partial");
    std::string h = "window_start_cycle,window_end_cycle";
    for (const char* c : kBusyColumns) h += std::string(",") + c;
    for (int b = 0; b < banks_; ++b) h += ",bank" + std::to_string(b) + "_port_use";
    for (int c = 0; c < channels_; ++c) h += ",dram_ch" + std::to_string(c) + "_GBps";
    h += ",dram_bytes_in_flight\n";
    write_all(csv_, h, csv_path_);
  }
  if (opts_.perfetto) {
    json_path_ = opts_.dir + "/trace.json";
    json_ = open_for_writing(json_path_ + ".partial");
    buf_ += "{\"traceEvents\":[\n";
    event_separator();
    buf_ += "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":";
    append_json_string(buf_, "attnsim " + hw_.source);
    buf_ += "}}";
    for (std::size_t u = 0; u < kTraceUnits; ++u) {
      if (TraceUnit(u) == TraceUnit::Softmax && !hw_.softmax.present) continue;
      event_separator();
      buf_ += "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":";
      append_int(buf_, lane_tid(u, 0));
      buf_ += ",\"args\":{\"name\":\"";
      buf_ += kUnitNames[u];
      buf_ += "\"}}";
      event_separator();
      buf_ += "{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":";
      append_int(buf_, lane_tid(u, 0));
      buf_ += ",\"args\":{\"sort_index\":";
      append_int(buf_, lane_tid(u, 0) * 1000);
      buf_ += "}}";
    }
  }
  if (opts_.vcd) {
    // SystemC appends ".vcd". The VCD samples these plain variables at the end of every time step.
    vcd_ = sc_core::sc_create_vcd_trace_file((opts_.dir + "/trace").c_str());
    if (!vcd_) throw UserError(opts_.dir + "/trace.vcd: cannot write");
    // The simulation's resolution (no rounding), set quietly: SystemC would print an Info line to stdout.
    sc_core::sc_report_handler::set_actions(sc_core::SC_ID_TRACING_TIMESCALE_UNIT_, sc_core::SC_INFO,
                                            sc_core::SC_DO_NOTHING);
    vcd_->set_time_unit(1, sc_core::SC_FS);
    for (std::size_t u = 0; u < kTraceUnits; ++u) {
      if (TraceUnit(u) == TraceUnit::Softmax && !hw_.softmax.present) continue;
      sc_core::sc_trace(vcd_, busy_[u], std::string(kBusyColumns[u]));
    }
    sc_core::sc_trace(vcd_, transfers_[0], "load_dma_transfers");
    sc_core::sc_trace(vcd_, transfers_[1], "store_dma_transfers");
    sc_core::sc_trace(vcd_, in_flight_, "dram_bytes_in_flight");
  }
}

// keep: rename the finished files into place; otherwise (an abandoned run) remove the partial ones.
void TraceRecorder::close_files(bool keep) {
  auto close = [keep](std::FILE*& f, const std::string& path) {
    if (!f) return;
    const bool ok = std::fclose(f) == 0;
    f = nullptr;
    const std::string partial = path + ".partial";
    if (!keep) {
      std::remove(partial.c_str());
      return;
    }
    std::error_code ec;
    if (ok) std::filesystem::rename(partial, path, ec);
    if (!ok || ec) throw UserError(path + ": write failed" + (ec ? ": " + ec.message() : std::string()));
  };
  close(csv_, csv_path_);
  close(json_, json_path_);
  if (vcd_) {
    sc_core::sc_close_vcd_trace_file(vcd_);
    vcd_ = nullptr;
  }
}

void TraceRecorder::event_separator() {
  if (!first_event_) buf_ += ",\n";
  first_event_ = false;
}

void TraceRecorder::flush_json(bool force) {
  if (!json_ || (!force && buf_.size() < (1u << 20) - 4096)) return;
  write_all(json_, buf_, json_path_);
  buf_.clear();
}

void TraceRecorder::advance(fs_t now) {
  if (now >= next_close_fs_) close_windows_before(now / windows_.window_fs() * windows_.window_fs());
}

// Fixed windows: the windows ending by `boundary` can no longer change once the open busy
// intervals and the in-flight integral are accounted up to it (every later hook is at or after
// now, and what is reserved ahead starts at or after now too), so they are written and dropped.
void TraceRecorder::close_windows_before(fs_t boundary) {
  for (std::size_t u = 0; u < kTraceUnits; ++u)
    if (busy_[u] && since_[u] < boundary) {
      windows_.add_time(u, since_[u], boundary);
      since_[u] = boundary;
    }
  if (in_flight_since_ < boundary) {
    windows_.add_integral(in_flight_since_, boundary, in_flight_);
    in_flight_since_ = boundary;
  }
  const std::int64_t last = boundary / windows_.window_fs();  // windows below this one are complete
  for (std::int64_t k = windows_.first(); k < last; ++k) write_window(k, (k + 1) * windows_.window_cycles());
  windows_.drop_before(last);
  next_close_fs_ = boundary + windows_.window_fs();
}

void TraceRecorder::begin(TraceUnit u) {
  const fs_t now = now_fs();
  advance(now);
  const std::size_t i = std::size_t(u);
  if (busy_[i]) return;
  busy_[i] = true;
  since_[i] = now;
}

void TraceRecorder::end(TraceUnit u) {
  const fs_t now = now_fs();
  advance(now);
  const std::size_t i = std::size_t(u);
  if (!busy_[i]) return;
  windows_.add_time(i, since_[i], now);
  busy_[i] = false;
}

void TraceRecorder::dram_issue(bool is_write, std::uint64_t bytes) {
  const fs_t now = now_fs();
  advance(now);
  windows_.add_integral(in_flight_since_, now, in_flight_);
  in_flight_since_ = now;
  in_flight_ += bytes;
  ++transfers_[is_write];
}

void TraceRecorder::dram_done(bool is_write, std::uint64_t bytes) {
  const fs_t now = now_fs();
  advance(now);
  windows_.add_integral(in_flight_since_, now, in_flight_);
  in_flight_since_ = now;
  in_flight_ -= bytes;
  --transfers_[is_write];
}

void TraceRecorder::on_bank_transfer(int bank, bool /*write*/, std::int64_t start_cycle, std::int64_t cycles,
                                     std::uint64_t bytes) {
  advance(now_fs());
  windows_.add_spread(col_bank0_ + std::size_t(bank), start_cycle * period_, (start_cycle + cycles) * period_, bytes);
}

void TraceRecorder::on_dram_data(int channel, std::int64_t start_fs, std::int64_t end_fs, std::uint64_t bytes) {
  ATTNSIM_ASSERT(channel >= 0 && channel < channels_, "DRAM channel out of range in the trace");
  advance(now_fs());
  windows_.add_spread(col_ch0_ + std::size_t(channel), start_fs, end_fs, bytes);
}

void TraceRecorder::slice(TraceUnit u, const Instr& in, fs_t start, fs_t end) {
  if (!json_) return;
  if (slices_ >= opts_.max_slices) {
    if (dropped_++ == 0) truncated_at_fs_ = end;
    return;
  }
  ++slices_;
  // The lowest lane whose slices all ended by start. Slices arrive in order of their end (each is
  // recorded when it ends), so a lane's latest end tells whether the new slice overlaps anything on
  // it. With every lane busy: the lane that frees first, drawn from its latest end (see "Lanes").
  const std::size_t ui = std::size_t(u);
  std::vector<fs_t>& lanes = lane_end_[ui];
  std::size_t lane = 0;
  while (lane < lanes.size() && lanes[lane] > start) ++lane;
  fs_t drawn_start = start;
  if (lane == lanes.size()) {
    if (lanes.size() < opts_.max_lanes) {
      lanes.push_back(end);
    } else {
      lane = std::size_t(std::min_element(lanes.begin(), lanes.end()) - lanes.begin());
      drawn_start = lanes[lane];
      ATTNSIM_ASSERT(drawn_start <= end, "trace slices arrive out of order of their ends");
      ++clipped_;
    }
  }
  lanes[lane] = end;

  const long long ts = to_ns(drawn_start), te = to_ns(end);
  const int tid = lane_tid(ui, lane);
  event_separator();
  buf_ += "{\"name\":\"";
  buf_ += to_string(in.op);
  buf_ += ' ';
  buf_ += to_string(in.opclass);
  buf_ += "\",\"cat\":\"";
  buf_ += kUnitNames[ui];
  buf_ += "\",\"ph\":\"X\",\"ts\":";
  append_us(buf_, ts);
  buf_ += ",\"dur\":";
  append_us(buf_, te - ts);
  buf_ += ",\"pid\":1,\"tid\":";
  append_int(buf_, tid);
  buf_ += ",\"args\":{\"id\":";
  append_int(buf_, in.id);
  buf_ += ",\"layer\":";
  append_int(buf_, in.layer);
  buf_ += ",\"cycles\":";
  append_int(buf_, (end - start + period_ / 2) / period_);
  if (drawn_start != start) {
    buf_ += ",\"clipped_cycles\":";
    append_int(buf_, (drawn_start - start + period_ / 2) / period_);
  }
  switch (in.op) {
    case Opcode::Gemm:
      buf_ += ",\"macs\":";
      append_int(buf_, (long long)in.macs());
      buf_ += ",\"m\":";
      append_int(buf_, in.m);
      buf_ += ",\"k\":";
      append_int(buf_, in.k);
      buf_ += ",\"n\":";
      append_int(buf_, in.n);
      break;
    case Opcode::Vector:
    case Opcode::Softmax:
      buf_ += ",\"op\":\"";
      buf_ += in.op == Opcode::Vector ? to_string(in.vec_op()) : to_string(in.sm_op());
      buf_ += "\",\"elems\":";
      append_int(buf_, (long long)in.c.elems());
      break;
    case Opcode::Load:
    case Opcode::Store:
      buf_ += ",\"bytes\":";
      append_int(buf_, (long long)in.bytes());
      if (in.tensor < tensors_.size()) {
        buf_ += ",\"tensor\":";
        append_json_string(buf_, tensors_[in.tensor].name);
      }
      break;
    case Opcode::Barrier:
      break;
  }
  buf_ += "}}";
  // Arrows into this slice from its producers in the window (recorded before it: a producer's slice
  // is written before it completes, and this instruction started after that).
  const std::uint64_t at = std::uint64_t(in.id) - opts_.arrows_from;  // wraps to huge below the window
  if (at < arrow_ends_.size() && te > ts) {
    arrow_ends_[at] = {ts, tid};
    for (int d = 0; d < in.num_deps; ++d) {
      const std::uint64_t from = std::uint64_t(in.deps[std::size_t(d)]) - opts_.arrows_from;
      if (from >= arrow_ends_.size() || arrow_ends_[from].tid == 0) continue;
      ++arrows_;
      const long long flow_id = (long long)in.id * Instr::kMaxDeps + d;
      for (const bool start_event : {true, false}) {
        event_separator();
        buf_ += start_event ? "{\"name\":\"dependency\",\"cat\":\"dependency\",\"ph\":\"s\",\"id\":"
                            : "{\"name\":\"dependency\",\"cat\":\"dependency\",\"ph\":\"f\",\"bp\":\"e\",\"id\":";
        append_int(buf_, flow_id);
        buf_ += ",\"ts\":";
        append_us(buf_, start_event ? arrow_ends_[from].start_ns : ts);
        buf_ += ",\"pid\":1,\"tid\":";
        append_int(buf_, start_event ? arrow_ends_[from].tid : tid);
        buf_ += ",\"args\":{\"from\":";
        append_int(buf_, in.deps[std::size_t(d)]);
        buf_ += ",\"to\":";
        append_int(buf_, in.id);
        buf_ += "}}";
      }
    }
  }
  flush_json(false);
}

void TraceRecorder::write_window(std::int64_t k, std::int64_t end_cycle) {
  const std::int64_t start_cycle = k * windows_.window_cycles();
  const std::int64_t len = end_cycle - start_cycle;
  if (len <= 0) return;
  const double len_fs = double(len) * double(period_);
  double busy[kTraceUnits];
  for (std::size_t u = 0; u < kTraceUnits; ++u) {
    const std::uint64_t v = windows_.value(k, u);
    busy_total_[u] += fs_t(v);
    busy[u] = double(v) / len_fs;
  }
  const double port_capacity =
      double(len) * double(hw_.sram.port_bytes) * double(hw_.sram.read_ports + hw_.sram.write_ports);
  std::vector<double>& ports = ports_scratch_;
  std::vector<double>& gbps = gbps_scratch_;
  ports.resize(std::size_t(banks_));
  gbps.resize(std::size_t(channels_));
  for (int b = 0; b < banks_; ++b)
    ports[std::size_t(b)] = double(windows_.value(k, col_bank0_ + std::size_t(b))) / port_capacity;
  // bytes / (len_fs * 1e-15 s) / 1e9 = bytes * 1e6 / len_fs
  for (int c = 0; c < channels_; ++c)
    gbps[std::size_t(c)] = double(windows_.value(k, col_ch0_ + std::size_t(c))) * 1e6 / len_fs;
  const double in_flight = double(windows_.integral(k)) / len_fs;
  ++windows_written_;

  if (csv_) {
    line_.clear();
    append_int(line_, start_cycle);
    line_ += ',';
    append_int(line_, end_cycle);
    for (double v : busy) {
      line_ += ',';
      append_fixed6(line_, v);
    }
    for (const std::vector<double>* col : {&ports, &gbps})
      for (double v : *col) {
        line_ += ',';
        append_fixed6(line_, v);
      }
    line_ += ',';
    append_fixed6(line_, in_flight);
    line_ += '\n';
    write_all(csv_, line_, csv_path_);
  }
  if (json_) write_counters_at(start_cycle * period_, busy, ports, gbps, in_flight);
}

void TraceRecorder::write_counters_at(fs_t ts_fs, const double* busy, const std::vector<double>& ports,
                                      const std::vector<double>& gbps, double in_flight) {
  auto head = [&](const char* name) {
    event_separator();
    buf_ += "{\"name\":\"";
    buf_ += name;
    buf_ += "\",\"ph\":\"C\",\"ts\":";
    append_us(buf_, to_ns(ts_fs));
    buf_ += ",\"pid\":1,\"args\":{";
  };
  head("unit busy (fraction)");
  bool first = true;
  for (std::size_t u = 0; u < kTraceUnits; ++u) {
    if (TraceUnit(u) == TraceUnit::Softmax && !hw_.softmax.present) continue;
    buf_ += first ? "\"" : ",\"";
    first = false;
    buf_ += kUnitNames[u];
    buf_ += "\":";
    append_fixed6(buf_, busy[u]);
  }
  buf_ += "}}";
  head("DRAM bandwidth (GB/s)");
  for (std::size_t c = 0; c < gbps.size(); ++c) {
    buf_ += c ? ",\"ch" : "\"ch";
    append_int(buf_, (long long)c);
    buf_ += "\":";
    append_fixed6(buf_, gbps[c]);
  }
  buf_ += "}}";
  head("DRAM bytes in flight (time average)");
  buf_ += "\"bytes\":";
  append_fixed6(buf_, in_flight);
  buf_ += "}}";
  head("SRAM port use (fraction)");
  for (std::size_t b = 0; b < ports.size(); ++b) {
    buf_ += b ? ",\"bank" : "\"bank";
    append_int(buf_, (long long)b);
    buf_ += "\":";
    append_fixed6(buf_, ports[b]);
  }
  buf_ += "}}";
  flush_json(false);
}

TraceSummary TraceRecorder::finish(fs_t end_fs) {
  ATTNSIM_ASSERT(!finished_, "trace finished twice");
  // Nothing should still be busy or in flight once the program is done; close at the end anyway.
  for (std::size_t u = 0; u < kTraceUnits; ++u)
    if (busy_[u]) {
      windows_.add_time(u, since_[u], end_fs);
      busy_[u] = false;
    }
  windows_.add_integral(in_flight_since_, end_fs, in_flight_);
  in_flight_since_ = end_fs;

  const std::int64_t end_cycle = end_fs / period_;
  if (end_cycle > 0) {
    windows_.ensure(end_cycle * period_);  // adaptive: the window that covers the whole run
    const std::int64_t W = windows_.window_cycles();
    const std::int64_t last = (end_cycle - 1) / W;
    windows_.fold_after(last);
    for (std::int64_t k = windows_.first(); k <= last; ++k) write_window(k, std::min((k + 1) * W, end_cycle));
  }
  if (json_) {
    // A last sample at the end, so that the counters do not appear to go on past the run.
    const double zero_busy[kTraceUnits] = {};
    write_counters_at(end_cycle * period_, zero_busy, std::vector<double>(std::size_t(banks_), 0.0),
                      std::vector<double>(std::size_t(channels_), 0.0), 0.0);
    for (std::size_t u = 0; u < kTraceUnits; ++u)
      for (std::size_t lane = 1; lane < lane_end_[u].size(); ++lane) {
        event_separator();
        buf_ += "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":";
        append_int(buf_, lane_tid(u, lane));
        buf_ += ",\"args\":{\"name\":\"";
        buf_ += kUnitNames[u];
        buf_ += " #";
        append_int(buf_, (long long)lane);
        buf_ += "\"}}";
        event_separator();
        buf_ += "{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":";
        append_int(buf_, lane_tid(u, lane));
        buf_ += ",\"args\":{\"sort_index\":";
        append_int(buf_, lane_tid(u, 0) * 1000 + (long long)lane);
        buf_ += "}}";
      }
    std::string marker;
    if (dropped_) {
      marker = "trace truncated at cycle " + std::to_string(truncated_at_fs_ / period_) + " after " +
               std::to_string(slices_) + " slices";
      event_separator();
      buf_ += "{\"name\":";
      append_json_string(buf_, marker);
      buf_ += ",\"ph\":\"i\",\"s\":\"g\",\"ts\":";
      append_us(buf_, to_ns(truncated_at_fs_));
      buf_ += ",\"pid\":1,\"tid\":1,\"args\":{\"slices_written\":";
      append_int(buf_, (long long)slices_);
      buf_ += ",\"slices_dropped\":";
      append_int(buf_, (long long)dropped_);
      buf_ += "}}";
    }
    buf_ += "\n],\n\"displayTimeUnit\":\"ns\",\n";
    buf_ += "\"otherData\":{\"generator\":\"attnsim " ATTNSIM_VERSION "\",\"hardware\":";
    append_json_string(buf_, hw_.source);
    buf_ += ",\"cycles\":";
    append_int(buf_, end_cycle);
    buf_ += ",\"clock_mhz\":";
    append_fixed6(buf_, hw_.array.clock_mhz);
    buf_ += ",\"window_cycles\":";
    append_int(buf_, windows_.window_cycles());
    buf_ += ",\"slices_written\":";
    append_int(buf_, (long long)slices_);
    buf_ += ",\"max_lanes\":";
    append_int(buf_, opts_.max_lanes);
    buf_ += ",\"slices_clipped\":";
    append_int(buf_, (long long)clipped_);
    buf_ += ",\"arrows\":";
    append_int(buf_, (long long)arrows_);
    buf_ += ",\"truncated\":";
    buf_ += dropped_ ? "true" : "false";
    if (dropped_) {
      buf_ += ",\"truncation\":";
      append_json_string(buf_, marker);
    }
    buf_ += "}}\n";
    flush_json(true);
  }
  finished_ = true;
  close_files(true);

  TraceSummary s;
  s.enabled = true;
  s.dir = opts_.dir;
  if (opts_.timeline) s.files.push_back("timeline.csv");
  if (opts_.perfetto) s.files.push_back("trace.json");
  if (opts_.vcd) s.files.push_back("trace.vcd");
  s.window_cycles = windows_.window_cycles();
  s.adaptive_window = windows_.adaptive();
  s.windows = opts_.timeline || opts_.perfetto ? windows_written_ : 0;  // VCD only: none written
  s.max_slices = opts_.max_slices;
  s.slices_written = slices_;
  s.slices_dropped = dropped_;
  s.truncated = dropped_ > 0;
  s.truncated_at_cycle = dropped_ ? truncated_at_fs_ / period_ : -1;
  s.max_lanes = opts_.max_lanes;
  s.slices_clipped = clipped_;
  s.arrows_from = opts_.arrows_from;
  s.arrows_instrs = opts_.arrows_instrs;
  s.arrows_written = arrows_;
  s.busy_fs = busy_total_;
  return s;
}

}  // namespace attnsim
