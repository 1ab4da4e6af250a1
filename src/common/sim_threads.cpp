#include "common/sim_threads.h"

namespace attnsim {

namespace {
std::exception_ptr& kept_failure() {
  static std::exception_ptr failure;  // one simulation per process (SystemC elaborates once)
  return failure;
}
}  // namespace

void record_thread_failure(std::exception_ptr failure) {
  if (!kept_failure()) kept_failure() = std::move(failure);
  // The failure is the message; SystemC's "Simulation stopped by user" would only add noise.
  // (SystemC 2.3.4 reports it as an info of the generic type "/OSCI/SystemC".)
  sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  sc_core::sc_stop();
}

void rethrow_thread_failure() {
  if (std::exception_ptr failure = std::exchange(kept_failure(), nullptr)) std::rethrow_exception(failure);
}

}  // namespace attnsim
