#pragma once
// Runs functions in forked child processes and collects what they return through pipes. SystemC
// allows one elaboration per process, so a command that simulates several configurations runs each
// one in a child of its own; a child that fails (an exception, a crash) costs only its own result.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace attnsim {

struct ChildResult {
  bool ok = false;     // the task returned normally
  std::string output;  // what it returned; when !ok, why it failed: the exception's message, the
                       // signal that killed the child, its exit status, or the timeout
  double seconds = 0;  // wall time from fork to the child's exit
  bool timed_out = false;  // killed after ChildOptions::timeout_s
  bool cancelled = false;  // never ran, or killed, because ChildOptions::stop was raised
};

struct ChildOptions {
  int jobs = 1;            // children at once (>= 1)
  double timeout_s = 0;    // a child still running after this long is killed (0: no limit)
  // Polled at least every 100 ms; once nonzero no child is started and the running ones are
  // killed (a signal handler's flag, for an interrupted sweep).
  const volatile int* stop = nullptr;
};

using ChildTask = std::function<std::string()>;
// Called in the parent as each child finishes, in order of completion.
using ChildDone = std::function<void(std::size_t index, const ChildResult& result)>;

// Runs every task in a forked child of its own, at most `jobs` (>= 1) at once, started in the tasks'
// order; returns the results in the tasks' order whatever the order of completion. In the child,
// stdout is redirected to stderr (the parent's stdout stays for its results) and the process ends
// with _exit once the task's value is written, without running destructors or atexit handlers.
// A fork or pipe that cannot be made is that task's failure.
std::vector<ChildResult> run_in_children(const std::vector<ChildTask>& tasks, int jobs,
                                         const ChildDone& on_done = nullptr);
// The same with a per-child timeout and a stop flag. on_done is not called for cancelled tasks.
// Children die with the parent (PR_SET_PDEATHSIG), so a killed sweep leaves no simulations behind.
std::vector<ChildResult> run_in_children(const std::vector<ChildTask>& tasks, const ChildOptions& options,
                                         const ChildDone& on_done = nullptr);

}  // namespace attnsim
