#pragma once
// Exceptions in SystemC threads. An exception that escapes a thread reaches sc_start() only as an
// sc_report, its type lost: a UserError (a run too long for simulated time, say) would end as an
// internal error. Threads therefore run through guarded(), which keeps the first exception and
// stops the simulation; after sc_start() returns, rethrow_thread_failure() throws it as it was.
#include <exception>
#include <systemc>
#include <utility>

namespace attnsim {

// Keeps the first failure of this process's simulation and calls sc_stop().
void record_thread_failure(std::exception_ptr failure);
// Throws the kept failure, if any (and forgets it).
void rethrow_thread_failure();

template <class F>
auto guarded(F body) {
  return [body = std::move(body)]() mutable {
    try {
      body();
    } catch (const sc_core::sc_unwind_exception&) {
      throw;  // SystemC's own unwinding of a killed process must pass
    } catch (...) {
      record_thread_failure(std::current_exception());
    }
  };
}

}  // namespace attnsim
