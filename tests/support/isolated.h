#pragma once
// Runs a function in a forked child and returns what it wrote, so a test can elaborate and simulate
// SystemC modules many times (SystemC allows one elaboration per process). The child's exceptions
// become a failure message in the parent instead of aborting the test binary.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace attnsim::test {

struct IsolatedResult {
  int exit_status = -1;  // 0 when fn returned normally
  std::string output;    // what fn returned (or the exception message)
};

// fn: () -> std::string. Runs in a child process; its return value comes back in output.
template <typename Fn>
IsolatedResult run_isolated(Fn&& fn) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    close(fds[0]);
    int status = 0;
    std::string out;
    try {
      out = fn();
    } catch (const std::exception& e) {
      out = std::string("exception: ") + e.what();
      status = 1;
    } catch (...) {
      out = "unknown exception";
      status = 1;
    }
    size_t off = 0;
    while (off < out.size()) {
      ssize_t w = write(fds[1], out.data() + off, out.size() - off);
      if (w <= 0) break;
      off += size_t(w);
    }
    close(fds[1]);
    _exit(status);
  }
  close(fds[1]);
  IsolatedResult r;
  char buf[65536];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) r.output.append(buf, size_t(n));
  close(fds[0]);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  r.exit_status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  return r;
}

}  // namespace attnsim::test
