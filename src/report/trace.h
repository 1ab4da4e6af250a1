#pragma once
// Report- and CLI-side pieces of the utilization traces (the recording is hw/trace_recorder.h):
// reading the list of formats a user asked for, and the report's "trace" section.
#include <string>

#include "config/hw_config.h"
#include "hw/trace_recorder.h"

namespace attnsim {

// Sets opts->timeline, perfetto and vcd from a comma-separated list of "timeline", "perfetto" and
// "vcd" (each at most once, at least one). A bad list is a UserError that names `flag`.
void parse_trace_formats(const std::string& list, TraceOptions* opts,
                         const std::string& flag = "--trace-formats");

// The report's "trace" section: directory, files, window, slices, truncation, conventions.
Json trace_report(const TraceSummary& s);

// One line for the terminal when the slice limit was hit (empty otherwise).
std::string trace_truncation_warning(const TraceSummary& s);

}  // namespace attnsim
