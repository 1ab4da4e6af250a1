// Every input the fuzz harnesses found (tests/data/fuzz/NAME-*, NAME the harness) replayed through
// the same code the harness runs (fuzz/fuzz_targets.h): each must now be rejected, if at all, with a
// UserError. A new finding is added by copying its artifact there under the harness's name.
#include <catch2/catch.hpp>
#include <filesystem>

#include "../fuzz/fuzz_targets.h"
#include "support/cli.h"

TEST_CASE("fuzz findings: every saved input is handled (a user error at most)", "[fuzz][bad_inputs]") {
  namespace fs = std::filesystem;
  int replayed = 0;
  for (const auto& entry : fs::directory_iterator(std::string(ATTNSIM_SOURCE_DIR) + "/tests/data/fuzz")) {
    const std::string name = entry.path().filename().string();
    const std::string text = attnsim::test::slurp(entry.path().string());
    INFO(name);
    if (name.rfind("hw_config-", 0) == 0)
      CHECK_NOTHROW(attnsim::fuzz::hw_config(text));
    else if (name.rfind("model-", 0) == 0)
      CHECK_NOTHROW(attnsim::fuzz::model(text));
    else if (name.rfind("sweep_spec-", 0) == 0)
      CHECK_NOTHROW(attnsim::fuzz::sweep_spec(text));
    else if (name.rfind("dram_trace-", 0) == 0)
      CHECK_NOTHROW(attnsim::fuzz::dram_trace(text));
    else if (name.rfind("mapping-", 0) == 0)
      CHECK_NOTHROW(attnsim::fuzz::mapping(text));
    else if (name.rfind("cascade-", 0) == 0)
      CHECK_NOTHROW(attnsim::fuzz::cascade_file(text));
    else
      FAIL("tests/data/fuzz/" << name << ": name it after its harness (hw_config-, model-, sweep_spec-, dram_trace-, mapping-, cascade-)");
    ++replayed;
  }
  CHECK(replayed >= 1);
}
