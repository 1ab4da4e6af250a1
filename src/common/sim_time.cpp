#include "common/sim_time.h"

#include "common/errors.h"

namespace attnsim {

void init_sim_time() {
  static bool done = false;  // SystemC refuses a second call, and any call after an sc_time exists
  if (!done) sc_core::sc_set_time_resolution(1, sc_core::SC_FS);
  done = true;
  ATTNSIM_ASSERT(sc_core::sc_get_time_resolution() == sc_core::sc_time(1, sc_core::SC_FS),
                 "SystemC time resolution must be 1 fs");
}

void throw_time_overflow(fs_t now, fs_t delta) {
  throw UserError("simulated time would pass 2^63 - 1 fs (about 9,223 s): at " + std::to_string(now) +
                  " fs the run waits another " + std::to_string(delta) +
                  " fs; use a faster clock or a smaller workload");
}

}  // namespace attnsim
