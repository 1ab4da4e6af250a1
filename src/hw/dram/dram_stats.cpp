#include "hw/dram/dram_stats.h"

#include <algorithm>
#include <cmath>

#include "config/dram_spec.h"

namespace attnsim {

const char* to_string(DramCommand c) {
  switch (c) {
    case DramCommand::ACT:
      return "ACT";
    case DramCommand::PRE:
      return "PRE";
    case DramCommand::PREA:
      return "PREA";
    case DramCommand::RD:
      return "RD";
    case DramCommand::WR:
      return "WR";
    case DramCommand::REF:
      return "REF";
    case DramCommand::PDE:
      return "PDE";
    case DramCommand::PDX:
      return "PDX";
    case DramCommand::SRE:
      return "SRE";
    case DramCommand::SRX:
      return "SRX";
    case DramCommand::REFPB:
      return "REFpb";
  }
  return "?";
}

const char* to_string(RankPowerState s) {
  switch (s) {
    case RankPowerState::ActiveStandby:
      return "active_standby";
    case RankPowerState::PrechargedStandby:
      return "precharged_standby";
    case RankPowerState::ActivePowerDown:
      return "active_power_down";
    case RankPowerState::PrechargedPowerDown:
      return "precharged_power_down";
    case RankPowerState::SelfRefresh:
      return "self_refresh";
  }
  return "?";
}

std::uint64_t DramStats::latency_percentile(double q) const {
  if (reads == 0) return 0;
  const std::uint64_t need = std::uint64_t(std::ceil(q * double(reads)));
  std::uint64_t seen = 0;
  for (int i = 0; i < kExactLatencyCycles; ++i) {
    seen += latency_hist[size_t(i)];
    if (seen >= std::max<std::uint64_t>(need, 1)) return std::uint64_t(i);
  }
  return latency_max;
}

void DramStats::merge(const DramStats& o) {
  reads += o.reads;
  writes += o.writes;
  bytes_read += o.bytes_read;
  bytes_written += o.bytes_written;
  row_hits += o.row_hits;
  row_misses += o.row_misses;
  row_conflicts += o.row_conflicts;
  for (int i = 0; i < kDramCommandKinds; ++i) commands[size_t(i)] += o.commands[size_t(i)];
  data_bus_cycles += o.data_bus_cycles;
  prea_banks_closed += o.prea_banks_closed;
  rank_active_cycles += o.rank_active_cycles;
  latency_sum += o.latency_sum;
  latency_max = std::max(latency_max, o.latency_max);
  for (size_t i = 0; i < latency_hist.size(); ++i) latency_hist[i] += o.latency_hist[i];
  read_queue_integral += o.read_queue_integral;
  write_queue_integral += o.write_queue_integral;
  read_queue_max = std::max(read_queue_max, o.read_queue_max);
  write_queue_max = std::max(write_queue_max, o.write_queue_max);
  rank_power.insert(rank_power.end(), o.rank_power.begin(), o.rank_power.end());  // another controller's ranks
}

namespace {
double round3(double v) { return std::round(v * 1000.0) / 1000.0; }
double round9(double v) { return std::round(v * 1e9) / 1e9; }
}  // namespace

Json DramStats::to_json(const DramSpec& spec, std::int64_t elapsed_cycles) const {
  const double tck_ns = double(spec.tCK_fs) * 1e-6;
  const double seconds = double(elapsed_cycles) * double(spec.tCK_fs) * 1e-15;
  const double bytes = double(bytes_read + bytes_written);
  const double achieved = seconds > 0 ? bytes / seconds : 0.0;
  const double peak = spec.peak_bytes_per_second();
  Json j;
  j["model"] = "cycle";
  j["device"] = spec.name;
  j["standard"] = spec.standard;
  j["channel_kind"] = spec.channel_kind;
  j["channels"] = spec.channels;
  j["ranks"] = spec.ranks;
  j["mapping"] = spec.mapping;
  j["tCK_ps"] = double(spec.tCK_fs) / 1000.0;
  j["burst_bytes"] = spec.burst_bytes();
  j["cycles"] = elapsed_cycles;
  j["time_ns"] = round3(double(elapsed_cycles) * tck_ns);
  j["requests"] = {{"reads", reads}, {"writes", writes}};
  j["bandwidth"] = {
      {"bytes_read", bytes_read},
      {"bytes_written", bytes_written},
      {"achieved_GBps", round3(achieved / 1e9)},
      {"peak_GBps", round3(peak / 1e9)},
      {"percent_of_peak", round3(peak > 0 ? 100.0 * achieved / peak : 0.0)},
      {"data_bus_busy_percent",
       round3(elapsed_cycles > 0 ? 100.0 * double(data_bus_cycles) / (double(elapsed_cycles) * spec.channels) : 0.0)}};
  auto lat = [&](double cycles, double scale) { return round3(cycles * scale); };
  const double mean = reads ? double(latency_sum) / double(reads) : 0.0;
  for (int unit = 0; unit < 2; ++unit) {
    const double scale = unit == 0 ? tck_ns : 1.0;
    j[unit == 0 ? "read_latency_ns" : "read_latency_cycles"] = {{"mean", lat(mean, scale)},
                                                                {"p50", lat(double(latency_percentile(0.50)), scale)},
                                                                {"p95", lat(double(latency_percentile(0.95)), scale)},
                                                                {"p99", lat(double(latency_percentile(0.99)), scale)},
                                                                {"max", lat(double(latency_max), scale)}};
  }
  const std::uint64_t classified = row_hits + row_misses + row_conflicts;
  j["row_buffer"] = {{"hits", row_hits},
                     {"misses", row_misses},
                     {"conflicts", row_conflicts},
                     // Nine decimals: a few hits in millions of requests must not read as 0.
                     {"hit_rate", round9(classified ? double(row_hits) / double(classified) : 0.0)}};
  Json cmds;
  // REFpb only where per-bank refresh is on: the all-bank reports keep their keys.
  for (int i = 0; i < kDramCommandKinds; ++i)
    if (DramCommand(i) != DramCommand::REFPB || spec.per_bank_refresh) cmds[to_string(DramCommand(i))] = commands[size_t(i)];
  j["refresh"] = spec.per_bank_refresh ? "per_bank" : "all_bank";
  j["commands"] = cmds;
  // What the command-level energy prices beside the commands (report/dram_energy.h).
  const std::uint64_t rank_cycles = std::uint64_t(std::max<std::int64_t>(elapsed_cycles, 0)) *
                                    std::uint64_t(spec.channels) * std::uint64_t(spec.ranks);
  const std::uint64_t active = std::min(rank_active_cycles, rank_cycles);
  j["banks_closed_by_PREA"] = prea_banks_closed;
  // Rank-cycles with a bank open or a refresh running, and the rest: what the background energy prices
  // (report/dram_energy.h prices it with `power_states` below: power-down and self-refresh residency).
  j["background_rank_cycles"] = {{"active_standby_rank_cycles", active},
                                 {"precharged_standby_rank_cycles", rank_cycles - active}};
  const double denom = elapsed_cycles > 0 ? double(elapsed_cycles) * spec.channels : 1.0;
  j["queues"] = {{"read_capacity", spec.read_queue},
                 {"write_capacity", spec.write_queue},
                 {"read_avg_per_channel", round3(double(read_queue_integral) / denom)},
                 {"write_avg_per_channel", round3(double(write_queue_integral) / denom)},
                 {"read_max", read_queue_max},
                 {"write_max", write_queue_max}};
  // Power states: cycles summed over the ranks of every channel (they add up to channels x ranks x elapsed
  // cycles), then per rank as [channel][rank] objects of the same keys.
  Json totals = Json::object(), per_channel = Json::array();
  for (int k = 0; k < kRankPowerStates; ++k) totals[std::string(to_string(RankPowerState(k))) + "_cycles"] = 0;
  for (size_t i = 0; i < rank_power.size(); ++i) {
    if (i % size_t(spec.ranks) == 0) per_channel.push_back(Json::array());
    Json r = Json::object();
    for (int k = 0; k < kRankPowerStates; ++k) {
      const std::string key = std::string(to_string(RankPowerState(k))) + "_cycles";
      const std::uint64_t c = rank_power[i].cycles_until(RankPowerState(k), elapsed_cycles);
      r[key] = c;
      totals[key] = totals[key].get<std::uint64_t>() + c;
    }
    per_channel.back().push_back(r);
  }
  totals["per_rank"] = per_channel;
  j["power_states"] = totals;
  return j;
}

}  // namespace attnsim
