#pragma once
// Runs the attnsim binary as a user would and captures its exit status, stdout and stderr.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace attnsim::test {

struct CliResult {
  int status = -1;
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One scratch folder per test process, removed when the process that made it exits (a forked child
// leaves it alone; ATTNSIM_KEEP_TEST_FILES=1 keeps it to look at).
class TestTempDir {
 public:
  TestTempDir() : owner_(getpid()) {
    char tmpl[] = "/tmp/attnsim-test-XXXXXX";
    const char* d = mkdtemp(tmpl);
    if (d) path_ = d;
  }
  ~TestTempDir() {
    if (path_.empty() || getpid() != owner_ || std::getenv("ATTNSIM_KEEP_TEST_FILES")) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_.empty() ? kFallback : path_; }

 private:
  inline static const std::string kFallback = "/tmp";
  std::string path_;
  pid_t owner_;
};

inline std::string temp_dir() {
  static TestTempDir dir;
  return dir.path();
}

// args is appended to the binary's path as is (quote what needs quoting); env (NAME=VALUE ...) is
// put before it.
inline CliResult run_cli_env(const std::string& env, const std::string& args) {
  static int counter = 0;
  const std::string base = temp_dir() + "/cli" + std::to_string(counter++);
  const std::string cmd = env + (env.empty() ? "" : " ") + std::string(ATTNSIM_BINARY) + " " + args + " >" + base +
                          ".out 2>" + base + ".err";
  const int raw = std::system(cmd.c_str());
  CliResult r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  return r;
}

inline CliResult run_cli(const std::string& args) { return run_cli_env("", args); }

inline std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = temp_dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace attnsim::test
