#pragma once
// Shared by the libFuzzer harnesses: an input may be rejected only with a UserError (exit status 2
// in the tool); any other exception is a finding, reported as a crash. SystemC's library defines
// main() and expects sc_main; libFuzzer's main() wins, and this sc_main is never called.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "fuzz_targets.h"

extern "C" int sc_main(int, char**) { return 0; }

// Defines the libFuzzer entry point for one of fuzz_targets.h's functions.
#define ATTNSIM_FUZZ_TARGET(fn)                                                        \
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) { \
    try {                                                                              \
      fn(std::string(reinterpret_cast<const char*>(data), size));                      \
    } catch (const std::exception& e) {                                                \
      std::fprintf(stderr, "fuzz: not a UserError: %s\n", e.what());                   \
      std::abort();                                                                    \
    }                                                                                  \
    return 0;                                                                          \
  }
