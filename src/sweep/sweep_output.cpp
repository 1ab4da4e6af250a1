#include "sweep/sweep_output.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/errors.h"
#include "report/report.h"

namespace attnsim {

namespace fs = std::filesystem;

// Writes text to path through a temporary file renamed over it: a reader (or a kill) never sees a
// partial file.
void write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw UserError(tmp + ": cannot write");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw UserError(path + ": cannot replace: " + ec.message());
}

std::string one_line(std::string text) {
  for (std::size_t at = 0; (at = text.find('\n', at)) != std::string::npos;) text.replace(at, 1, " | ");
  return text;
}

std::optional<Finished> read_finished(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    const Json s = Json::parse(ss.str());
    Finished f;
    f.ok = s.at("status") == "ok";
    f.error = s.value("error", "");
    f.wall_s = s.value("wall_s", 0.0);
    f.sim_s = s.value("sim_s", 0.0);
    f.row = s.value("row", Json());
    if (f.ok && !f.row.is_object()) return std::nullopt;
    return f;
  } catch (const Json::exception&) {
    return std::nullopt;  // torn or foreign: the point runs again
  }
}

std::string format_duration(double s) {
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) % 3600) / 60);
  return buf;
}

// results.csv: the header comes from the first finished point's row, so it only has headline columns
// once one point succeeded; a failed point's headline cells are empty.
std::string results_csv(const SweepSpec& spec, const std::vector<std::optional<Finished>>& done) {
  std::vector<std::string> headline;
  for (const auto& f : done)
    if (f && f->ok) {
      for (auto it = f->row.begin(); it != f->row.end(); ++it) headline.push_back(it.key());
      break;
    }
  std::string out = "index,point,status,error";
  for (const std::string& a : spec.axis_names) out += "," + csv_cell(Json("axis." + a));
  for (const std::string& h : headline) out += "," + csv_cell(Json(h));
  out += "\n";
  for (const SweepPoint& p : spec.points) {
    const auto& f = done[p.index];
    if (!f) continue;
    out += std::to_string(p.index) + "," + p.hash + "," + (f->ok ? "ok" : "failed") + "," +
           csv_cell(Json(one_line(f->error)));
    for (const auto& [name, value] : p.axes) out += "," + csv_cell(value);
    for (const std::string& h : headline) out += "," + (f->ok && f->row.contains(h) ? csv_cell(f->row[h]) : "");
    out += "\n";
  }
  return out;
}

Json spec_record(const SweepSpec& spec) {
  Json points = Json::array();
  for (const SweepPoint& p : spec.points) {
    points.push_back({{"index", p.index}, {"point", p.hash}, {"axes", p.axes_object()}});
  }
  return {{"attnsim_version", ATTNSIM_VERSION},
          {"spec", spec.source},
          {"document", spec.document},
          {"axes", spec.axis_names},
          {"points", points}};
}

SweepSpec spec_from_record(const Json& record, const std::string& source) {
  SweepSpec spec;
  spec.source = source;
  try {
    spec.document = record.at("document");
    for (const Json& a : record.at("axes")) spec.axis_names.push_back(a.get<std::string>());
    for (const Json& p : record.at("points")) {
      SweepPoint point;
      point.index = p.at("index").get<std::size_t>();
      point.hash = p.at("point").get<std::string>();
      for (auto it = p.at("axes").begin(); it != p.at("axes").end(); ++it) point.axes.emplace_back(it.key(), it.value());
      if (point.index != spec.points.size()) throw UserError(source + ": /points: indices out of order");
      spec.points.push_back(std::move(point));
    }
  } catch (const Json::exception& e) {
    throw UserError(source + ": not a sweep record written by attnsim sweep (" + e.what() + ")");
  }
  return spec;
}

Json status_record(const SweepPoint& p, const Finished& f) {
  return {{"index", p.index},         {"point", p.hash},      {"label", p.label()},
          {"status", f.ok ? "ok" : "failed"}, {"error", f.error}, {"wall_s", f.wall_s},
          {"sim_s", f.sim_s},         {"row", f.ok ? f.row : Json()}};
}

}  // namespace attnsim
