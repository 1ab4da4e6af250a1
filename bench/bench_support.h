#pragma once
// Runs the attnsim binary as a child process and measures its wall time and peak RSS (wait4's
// rusage of that child alone). Benchmarks report medians of repeated runs; ratios are taken
// within one run of the benchmark, since this machine is shared and noisy.
// The child's stdout goes to /dev/null. Its stderr is inherited unless `stderr_path` names a file
// (truncated; "/dev/null" discards it), so that a benchmark's table stays clean and a failed run's
// message can still be read afterwards. With `timeout_s` > 0 a child still running after that many
// seconds is killed (SIGKILL) and its Measurement says timed_out.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/json_reader.h"

namespace attnsim::bench {

struct Measurement {
  double wall_s = 0;
  double max_rss_mb = 0;
  double cpu_s = 0;        // user + system CPU time of the child and the children it waited for
  int status = 0;          // exit status; -1 when the child was killed by a signal (see term_signal)
  int term_signal = 0;     // the signal that ended the child, 0 when it exited
  bool timed_out = false;  // killed after run_once's timeout
};

// Waits up to `timeout_s` for `pid` (SIGCHLD blocked by the caller); kills it when the time is up.
// Returns true on a timeout. The child is reaped either way, its status and rusage in *status, *ru.
inline bool wait_with_timeout(pid_t pid, double timeout_s, const sigset_t& sigchld, int* status, struct rusage* ru) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  for (;;) {
    if (wait4(pid, status, WNOHANG, ru) == pid) return false;
    const double left = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) break;
    struct timespec ts {};
    ts.tv_sec = static_cast<time_t>(left);
    ts.tv_nsec = static_cast<long>((left - std::floor(left)) * 1e9);
    if (sigtimedwait(&sigchld, nullptr, &ts) < 0 && errno == EAGAIN) break;
  }
  if (wait4(pid, status, WNOHANG, ru) == pid) return false;  // ended just as the time ran out
  kill(pid, SIGKILL);
  wait4(pid, status, 0, ru);
  return true;
}

inline Measurement run_once(const std::vector<std::string>& args, const std::string& stderr_path = "",
                            double timeout_s = 0) {
  std::vector<char*> argv;
  std::string bin = ATTNSIM_BINARY;
  argv.push_back(bin.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  // With a timeout, SIGCHLD is blocked until the child is reaped so that sigtimedwait sees it.
  sigset_t sigchld, old_mask;
  sigemptyset(&sigchld);
  sigaddset(&sigchld, SIGCHLD);
  if (timeout_s > 0) sigprocmask(SIG_BLOCK, &sigchld, &old_mask);
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    if (timeout_s > 0) sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    if (!stderr_path.empty()) {
      int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(err >= 0 ? err : devnull, 2);
      if (err > 2) close(err);
    }
    if (devnull > 2) close(devnull);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  struct rusage ru {};
  Measurement m;
  if (timeout_s > 0) {
    m.timed_out = wait_with_timeout(pid, timeout_s, sigchld, &status, &ru);
    sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  } else {
    wait4(pid, &status, 0, &ru);
  }
  m.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  m.cpu_s = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  m.max_rss_mb = double(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
  m.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  m.term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return m;
}

// The median of v (not empty): the middle value, or the mean of the two middle values.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Median wall time and median peak RSS of `ms` (not empty); the statuses OR-ed, the first signal.
inline Measurement median_of_runs(const std::vector<Measurement>& ms) {
  auto med = [&](auto key) {
    std::vector<double> v;
    for (const Measurement& m : ms) v.push_back(key(m));
    return median(std::move(v));
  };
  Measurement r;
  r.wall_s = med([](const Measurement& m) { return m.wall_s; });
  r.max_rss_mb = med([](const Measurement& m) { return m.max_rss_mb; });
  for (const Measurement& m : ms) {
    r.status |= m.status;
    if (!r.term_signal) r.term_signal = m.term_signal;
    r.timed_out |= m.timed_out;
  }
  return r;
}

// The simulated cycles of a report.json, or -1 when it cannot be read (a failed run).
inline std::int64_t report_cycles(const std::string& report_json) {
  try {
    return attnsim::read_json_file(report_json)["cycles"].get<std::int64_t>();
  } catch (const std::exception&) {
    return -1;
  }
}

// Median wall time and median peak RSS over `repeats` runs.
inline Measurement run_median(const std::vector<std::string>& args, int repeats, const std::string& stderr_path = "") {
  std::vector<Measurement> ms;
  for (int i = 0; i < repeats; ++i) ms.push_back(run_once(args, stderr_path));
  return median_of_runs(ms);
}

}  // namespace attnsim::bench
