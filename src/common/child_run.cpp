#include "common/child_run.h"

#include <poll.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <stdexcept>

namespace attnsim {

namespace {

using Clock = std::chrono::steady_clock;

// The child writes one tag byte, then the task's value (kReturned) or its failure message (kThrew).
constexpr char kReturned = 'R';
constexpr char kThrew = 'T';

struct Running {
  pid_t pid = -1;
  int fd = -1;  // read end of the child's pipe
  std::size_t index = 0;
  std::string data;
  Clock::time_point start;
};

void write_all(int fd, const char* data, std::size_t size) {
  while (size) {
    const ssize_t w = write(fd, data, size);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // the parent is gone: nobody to tell
    data += w;
    size -= std::size_t(w);
  }
}

[[noreturn]] void child_main(const ChildTask& task, int fd, pid_t parent) {
  // A crash ends the child by its signal, which the parent reports; handlers the parent installed
  // (a test framework's, say) would report it as the parent's own.
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGINT, SIGTERM}) std::signal(sig, SIG_DFL);
  // Die with the parent; it may have died between fork and prctl.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);
  dup2(STDERR_FILENO, STDOUT_FILENO);
  char tag = kReturned;
  std::string out;
  try {
    out = task();
  } catch (const std::exception& e) {
    tag = kThrew;
    out = e.what();
  } catch (...) {
    tag = kThrew;
    out = "unknown exception";
  }
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  write_all(fd, &tag, 1);
  write_all(fd, out.data(), out.size());
  close(fd);
  _exit(tag == kReturned ? 0 : 1);
}

std::string errno_message(const char* what) { return std::string(what) + " failed: " + std::strerror(errno); }

ChildResult finish(const Running& r, int wstatus) {
  ChildResult res;
  res.seconds = std::chrono::duration<double>(Clock::now() - r.start).count();
  const bool exited_ok = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
  if (!r.data.empty() && r.data[0] == kReturned && exited_ok) {
    res.ok = true;
    res.output = r.data.substr(1);
  } else if (!r.data.empty() && r.data[0] == kThrew) {
    res.output = r.data.substr(1);
  } else if (WIFSIGNALED(wstatus)) {
    const int sig = WTERMSIG(wstatus);
    const char* name = strsignal(sig);
    res.output = "crashed: killed by signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : "");
  } else {
    res.output =
        "exited with status " + std::to_string(WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1) + " without a result";
  }
  return res;
}

}  // namespace

std::vector<ChildResult> run_in_children(const std::vector<ChildTask>& tasks, int jobs, const ChildDone& on_done) {
  ChildOptions options;
  options.jobs = jobs;
  return run_in_children(tasks, options, on_done);
}

std::vector<ChildResult> run_in_children(const std::vector<ChildTask>& tasks, const ChildOptions& options,
                                         const ChildDone& on_done) {
  const std::size_t max_running = std::size_t(options.jobs < 1 ? 1 : options.jobs);
  std::vector<ChildResult> results(tasks.size());
  std::vector<Running> running;
  std::size_t next = 0;
  auto done = [&](std::size_t index, ChildResult res) {
    results[index] = std::move(res);
    if (on_done) on_done(index, results[index]);
  };
  auto stopped = [&] { return options.stop && *options.stop; };
  auto reap = [](const Running& r) {
    int wstatus = 0;
    while (waitpid(r.pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    return wstatus;
  };
  const pid_t self = getpid();
  while (next < tasks.size() || !running.empty()) {
    if (stopped()) {
      for (const Running& r : running) {
        kill(r.pid, SIGKILL);
        close(r.fd);
        reap(r);
        results[r.index].cancelled = true;
        results[r.index].output = "cancelled";
      }
      running.clear();
      for (; next < tasks.size(); ++next) results[next].cancelled = true, results[next].output = "cancelled";
      break;
    }
    while (next < tasks.size() && running.size() < max_running) {
      const std::size_t index = next++;
      int fds[2];
      if (pipe(fds) != 0) {
        done(index, ChildResult{false, errno_message("pipe"), 0});
        continue;
      }
      // Whatever the parent has buffered must not be written twice.
      std::cout.flush();
      std::cerr.flush();
      std::fflush(nullptr);
      const Clock::time_point start = Clock::now();
      const pid_t pid = fork();
      if (pid < 0) {
        const std::string message = errno_message("fork");
        close(fds[0]);
        close(fds[1]);
        done(index, ChildResult{false, message, 0});
        continue;
      }
      if (pid == 0) {
        close(fds[0]);
        for (const Running& r : running) close(r.fd);
        child_main(tasks[index], fds[1], self);
      }
      close(fds[1]);
      Running r;
      r.pid = pid;
      r.fd = fds[0];
      r.index = index;
      r.start = start;
      running.push_back(std::move(r));
    }
    if (running.empty()) continue;
    // Wake for the nearest deadline, and every 100 ms when a stop flag is to be watched.
    int wait_ms = options.stop ? 100 : -1;
    if (options.timeout_s > 0) {
      const Clock::time_point now = Clock::now();
      for (const Running& r : running) {
        const double left = options.timeout_s - std::chrono::duration<double>(now - r.start).count();
        const int ms = left <= 0 ? 0 : int(std::min(left * 1000.0 + 1.0, 3.6e6));
        wait_ms = wait_ms < 0 ? ms : std::min(wait_ms, ms);
      }
    }
    // Read from every running child: a child blocks when its pipe is full, so waiting on one alone
    // while another fills its pipe would deadlock.
    std::vector<pollfd> pfds;
    for (const Running& r : running) pfds.push_back(pollfd{r.fd, POLLIN, 0});
    if (poll(pfds.data(), pfds.size(), wait_ms) < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(errno_message("poll"));
    }
    const Clock::time_point now = Clock::now();
    for (std::size_t i = pfds.size(); i-- > 0;) {  // from the back: erasing keeps earlier indices valid
      Running& r = running[i];
      const double age = std::chrono::duration<double>(now - r.start).count();
      if (!pfds[i].revents) {
        if (options.timeout_s > 0 && age >= options.timeout_s) {
          kill(r.pid, SIGKILL);
          close(r.fd);
          reap(r);
          ChildResult res;
          res.seconds = age;
          res.timed_out = true;
          char text[96];
          std::snprintf(text, sizeof text, "timeout: killed after %.1f s (limit %.1f s)", age, options.timeout_s);
          res.output = text;
          const std::size_t index = r.index;
          running.erase(running.begin() + std::ptrdiff_t(i));
          done(index, std::move(res));
        }
        continue;
      }
      char buf[65536];
      const ssize_t got = read(r.fd, buf, sizeof buf);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got > 0) {
        r.data.append(buf, std::size_t(got));
        continue;
      }
      // End of file: the child has written everything and is exiting.
      close(r.fd);
      ChildResult res = finish(r, reap(r));
      const std::size_t index = r.index;
      running.erase(running.begin() + std::ptrdiff_t(i));
      done(index, std::move(res));
    }
  }
  return results;
}

}  // namespace attnsim
