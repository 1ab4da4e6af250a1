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

}  // namespace attnsim
