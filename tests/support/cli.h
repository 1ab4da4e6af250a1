#pragma once
// Runs the attnsim binary as a user would and captures its exit status, stdout and stderr.
#include <sys/wait.h>

#include <cstdio>
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

inline std::string temp_dir() {
  static std::string dir = [] {
    char tmpl[] = "/tmp/attnsim-test-XXXXXX";
    const char* d = mkdtemp(tmpl);
    return std::string(d ? d : "/tmp");
  }();
  return dir;
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
