#pragma once
// Two kinds of failure, kept apart as in Ramulator 2: a UserError is bad input (a config, a model,
// a flag, a tile that cannot fit) and ends the program with exit status 2 and a message that names
// the file, the JSON path and the rule. An InternalError is a bug in attnsim (exit status 3).
#include <stdexcept>
#include <string>
#include <vector>

namespace attnsim {

inline constexpr int kExitUserError = 2;
inline constexpr int kExitInternalError = 3;

class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& message) : std::runtime_error(message) {}
  // Several problems reported at once (every problem in a file, not just the first).
  explicit UserError(const std::vector<std::string>& problems)
      : std::runtime_error(join(problems)), problems_(problems) {}
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  static std::string join(const std::vector<std::string>& lines) {
    std::string s;
    for (size_t i = 0; i < lines.size(); ++i) s += (i ? "\n" : "") + lines[i];
    return s;
  }
  std::vector<std::string> problems_;
};

class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& message) : std::logic_error("internal error: " + message) {}
};

// Checks an invariant that only a bug can break.
#define ATTNSIM_ASSERT(cond, msg)                                                                                    \
  do {                                                                                                               \
    if (!(cond))                                                                                                     \
      throw ::attnsim::InternalError(std::string(msg) + " (" #cond ") at " __FILE__ ":" + std::to_string(__LINE__)); \
  } while (0)

}  // namespace attnsim
