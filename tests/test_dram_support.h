#pragma once
// Helpers shared by the DRAM tests: specs from presets with overrides, and trace replays run in a forked
// child (SystemC allows one elaboration per process) that always run the independent timing checker over
// the full command trace, so every simulated DRAM test also demands zero timing violations.
#include <string>
#include <vector>

#include "config/json_reader.h"
#include "config/dram_address_mapping.h"
#include "hw/dram/dram_replay.h"
#include "config/dram_spec.h"
#include "hw/dram/timing_checker.h"
#include "support/isolated.h"

namespace attnsim::test {

inline DramSpec dram_spec(const std::string& preset, const Json& overrides = Json::object()) {
  Json doc = {{"model", "cycle"}, {"preset", preset}};
  for (auto it = overrides.begin(); it != overrides.end(); ++it) doc[it.key()] = it.value();
  Diagnostics diag("test");
  DramSpec s = parse_cycle_dram(JsonView(&doc, "", &diag));
  diag.throw_if_any();
  return s;
}

inline std::uint64_t dram_addr(const DramSpec& spec, int bank_group, int bank, std::int64_t row, int column,
                               int channel = 0, int rank = 0) {
  AddressMapping m;
  std::string err;
  if (!m.parse(spec.mapping, spec, &err)) throw std::runtime_error(err);
  DramAddress a;
  a.channel = channel, a.rank = rank, a.bank_group = bank_group, a.bank = bank, a.row = row, a.column = column;
  return m.encode(a);
}

struct ReplayOutcome {
  Json stats;
  std::int64_t cycles = 0;
  std::size_t violations = 0;
  std::string first_violation;
  std::vector<CommandRecord> commands;
};

inline TraceRecord rd(std::uint64_t addr, std::int64_t cycle = 0) { return TraceRecord{addr, false, cycle}; }
inline TraceRecord wr(std::uint64_t addr, std::int64_t cycle = 0) { return TraceRecord{addr, true, cycle}; }

// Replays in a child; returns stats, the command trace and the checker's verdict.
inline ReplayOutcome replay_checked(const DramSpec& spec, const std::vector<TraceRecord>& trace) {
  auto r = run_isolated([&] {
    ReplayResult res = run_replay(spec, trace, true);
    auto v = check_command_trace(spec, res.commands);
    Json out;
    out["stats"] = res.stats;
    out["cycles"] = res.cycles;
    out["violations"] = v.size();
    out["first_violation"] = v.empty() ? "" : v.front().message();
    Json cmds = Json::array();
    for (const auto& c : res.commands)
      cmds.push_back({c.cycle, int(c.cmd), c.channel, c.rank, c.bank_group, c.bank, c.row, c.column});
    out["commands"] = cmds;
    return out.dump();
  });
  if (r.exit_status != 0) throw std::runtime_error("replay failed: " + r.output);
  Json j = Json::parse(r.output);
  ReplayOutcome o;
  o.stats = j["stats"];
  o.cycles = j["cycles"].get<std::int64_t>();
  o.violations = j["violations"].get<std::size_t>();
  o.first_violation = j["first_violation"].get<std::string>();
  for (const auto& c : j["commands"]) {
    CommandRecord rec;
    rec.cycle = c[0].get<std::int64_t>();
    rec.cmd = DramCommand(c[1].get<int>());
    rec.channel = c[2].get<int>(), rec.rank = c[3].get<int>(), rec.bank_group = c[4].get<int>();
    rec.bank = c[5].get<int>(), rec.row = c[6].get<std::int64_t>(), rec.column = c[7].get<int>();
    o.commands.push_back(rec);
  }
  return o;
}

inline std::vector<std::int64_t> cycles_of(const ReplayOutcome& o, DramCommand cmd) {
  std::vector<std::int64_t> v;
  for (const auto& c : o.commands)
    if (c.cmd == cmd) v.push_back(c.cycle);
  return v;
}

}  // namespace attnsim::test
