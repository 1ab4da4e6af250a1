// attnsim merge: combines the output folders of a sweep's shares (attnsim sweep --shard I/N) into
// one folder whose results.csv is the one an unsharded run writes, and reports missing and
// duplicate points.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/cli_common.h"
#include "common/errors.h"
#include "report/report.h"
#include "sweep/sweep_output.h"

namespace attnsim::cli {

namespace {

namespace fs = std::filesystem;

constexpr int kExitIncomplete = 1;
constexpr std::size_t kListed = 20;

Json read_record(const std::string& dir) {
  const std::string path = dir + "/spec.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot read (not the output folder of attnsim sweep?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_json_text(ss.str(), path);
}

bool same_points(const SweepSpec& a, const SweepSpec& b) {
  if (a.points.size() != b.points.size() || a.axis_names != b.axis_names) return false;
  for (std::size_t i = 0; i < a.points.size(); ++i)
    if (a.points[i].hash != b.points[i].hash) return false;
  return true;
}

// Hard links where the file system allows them, else copies.
void copy_point(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to, ec);
  for (const auto& e : fs::directory_iterator(from)) {
    if (!e.is_regular_file()) continue;
    const fs::path target = to / e.path().filename();
    if (fs::equivalent(e.path(), target, ec)) continue;
    fs::remove(target, ec);
    fs::create_hard_link(e.path(), target, ec);
    if (ec) fs::copy_file(e.path(), target, fs::copy_options::overwrite_existing);
  }
}

}  // namespace

int cmd_merge(const Args& args) {
  po::options_description opts("options");
  std::vector<std::string> dirs;
  std::string out_dir;
  opts.add_options()("help,h", "this text")("dirs", po::value(&dirs)->required()->multitoken(),
                                            "the shares' output folders (attnsim sweep --shard I/N --out DIR)")(
      "out", po::value(&out_dir)->required(), "the merged output folder (may be the shares' parent)");
  po::positional_options_description pos;
  pos.add("dirs", -1);
  po::variables_map vm;
  if (!parse_options("merge", "DIR... --out DIR", opts, &pos, args, vm)) return 0;

  std::vector<SweepSpec> specs;
  std::vector<Json> records;
  for (const std::string& d : dirs) {
    records.push_back(read_record(d));
    specs.push_back(spec_from_record(records.back(), d + "/spec.json"));
    if (!same_points(specs.front(), specs.back()))
      throw UserError(d + "/spec.json: a different sweep from " + dirs.front() +
                      "/spec.json (its points or axes differ); merge the shares of one spec");
  }
  const SweepSpec& spec = specs.front();
  std::vector<std::optional<Finished>> done(spec.points.size());
  std::vector<int> found_in(spec.points.size(), -1);
  std::vector<std::string> duplicates, conflicts;
  for (std::size_t d = 0; d < dirs.size(); ++d)
    for (const SweepPoint& p : spec.points) {
      std::optional<Finished> f = read_finished(dirs[d] + "/points/" + p.hash + "/status.json");
      if (!f) continue;
      if (found_in[p.index] < 0) {
        done[p.index] = std::move(f);
        found_in[p.index] = int(d);
        continue;
      }
      const Finished& first = *done[p.index];
      const bool same = first.ok == f->ok && first.error == f->error && first.row == f->row;
      (same ? duplicates : conflicts)
          .push_back("point " + std::to_string(p.index) + " (" + p.label() + ") in " + dirs[std::size_t(found_in[p.index])] +
                     " and " + dirs[d] + (same ? "" : ", with different results"));
    }

  make_directories(out_dir + "/points");
  for (const SweepPoint& p : spec.points)
    if (found_in[p.index] >= 0)
      copy_point(fs::path(dirs[std::size_t(found_in[p.index])]) / "points" / p.hash, fs::path(out_dir) / "points" / p.hash);
  Json record = records.front();
  record.erase("shard");
  write_atomically(out_dir + "/spec.json", record.dump(2) + "\n");
  write_atomically(out_dir + "/results.csv", results_csv(spec, done));

  std::size_t ok = 0, failed = 0;
  std::vector<std::string> missing;
  for (const SweepPoint& p : spec.points) {
    if (!done[p.index])
      missing.push_back("point " + std::to_string(p.index) + " (" + p.label() + ")");
    else
      done[p.index]->ok ? ++ok : ++failed;
  }
  std::cout << "merged " << dirs.size() << " folders: " << ok + failed << " of " << spec.points.size() << " points ("
            << ok << " ok, " << failed << " failed), " << missing.size() << " missing, " << duplicates.size() + conflicts.size()
            << " duplicates\n";
  auto list = [](const char* what, const std::vector<std::string>& items) {
    for (std::size_t i = 0; i < items.size() && i < kListed; ++i) std::cout << "  " << what << ": " << items[i] << "\n";
    if (items.size() > kListed) std::cout << "  ... and " << items.size() - kListed << " more " << what << "\n";
  };
  list("missing", missing);
  list("duplicate", duplicates);
  list("conflict", conflicts);
  std::cout << "results in " << out_dir << "/results.csv\n";
  return missing.empty() && conflicts.empty() ? 0 : kExitIncomplete;
}

}  // namespace attnsim::cli
