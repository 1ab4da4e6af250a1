#include "report/trace.h"

#include <set>

#include "common/errors.h"

namespace attnsim {

void parse_trace_formats(const std::string& list, TraceOptions* opts, const std::string& flag) {
  const std::string known = "timeline, perfetto, vcd";
  std::set<std::string> seen;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t comma = list.find(',', pos);
    const std::string item = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (item.empty()) throw UserError(flag + " \"" + list + "\": empty format name; choose from " + known);
    if (item != "timeline" && item != "perfetto" && item != "vcd")
      throw UserError(flag + " \"" + list + "\": unknown format \"" + item + "\"; choose from " + known);
    if (!seen.insert(item).second) throw UserError(flag + " \"" + list + "\": \"" + item + "\" given twice");
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  opts->timeline = seen.count("timeline") > 0;
  opts->perfetto = seen.count("perfetto") > 0;
  opts->vcd = seen.count("vcd") > 0;
}

Json trace_report(const TraceSummary& s) {
  Json files = Json::array();
  for (const std::string& f : s.files) files.push_back(f);
  Json t = {{"dir", s.dir},
            {"files", files},
            {"window_cycles", s.window_cycles},
            // adaptive: the smallest power of two giving at most 2000 windows (no --trace-window)
            {"window_adaptive", s.adaptive_window},
            {"windows", s.windows},
            {"dram_bytes_in_flight", "time average over each window"},
            {"max_slices", s.max_slices},
            {"slices_written", s.slices_written},
            {"max_lanes", s.max_lanes},
            // drawn from the end of the lane's previous slice: all max_lanes lanes of the unit were busy
            {"slices_clipped", s.slices_clipped},
            {"arrows", {{"first_instr", s.arrows_from}, {"instrs", s.arrows_instrs}, {"written", s.arrows_written}}},
            {"truncated", s.truncated}};
  if (s.truncated) {
    t["truncated_at_cycle"] = s.truncated_at_cycle;
    t["slices_dropped"] = s.slices_dropped;
  }
  return t;
}

std::string trace_truncation_warning(const TraceSummary& s) {
  if (!s.truncated) return "";
  return "trace.json truncated at cycle " + std::to_string(s.truncated_at_cycle) + " after " +
         std::to_string(s.slices_written) + " slices (--trace-max-slices " + std::to_string(s.max_slices) + "); " +
         std::to_string(s.slices_dropped) + " later slices dropped, counters and timeline complete";
}

}  // namespace attnsim
