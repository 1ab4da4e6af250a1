#pragma once
// Runs the attnsim binary as a child process and measures its wall time and peak RSS (wait4's
// rusage of that child alone). Benchmarks report medians of repeated runs; ratios are taken
// within one run of the benchmark, since this machine is shared and noisy.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace attnsim::bench {

struct Measurement {
  double wall_s = 0;
  double max_rss_mb = 0;
  int status = 0;
};

inline Measurement run_once(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  std::string bin = ATTNSIM_BINARY;
  argv.push_back(bin.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  Measurement m;
  m.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  m.max_rss_mb = double(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
  m.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return m;
}

// Median wall time and median peak RSS over `repeats` runs.
inline Measurement run_median(const std::vector<std::string>& args, int repeats) {
  std::vector<Measurement> ms;
  for (int i = 0; i < repeats; ++i) ms.push_back(run_once(args));
  auto med = [&](auto key) {
    std::vector<double> v;
    for (auto& m : ms) v.push_back(key(m));
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  Measurement r;
  r.wall_s = med([](const Measurement& m) { return m.wall_s; });
  r.max_rss_mb = med([](const Measurement& m) { return m.max_rss_mb; });
  for (auto& m : ms) r.status |= m.status;
  return r;
}

}  // namespace attnsim::bench
