// libFuzzer harness: fuzz_targets.h says what it reads.
#include "fuzz_support.h"

ATTNSIM_FUZZ_TARGET(attnsim::fuzz::mapping)
