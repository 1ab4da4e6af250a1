#pragma once
// The SRAM bank ports, shared by every unit that moves data through them (the array, the load and
// store DMA, the vector unit, the softmax unit). Plain C++; the SystemC units call reserve() and
// wait until the cycle it returns.
//
// Model. Each bank has a read side of port_bytes * read_ports bytes per cycle and a write side of
// port_bytes * write_ports, each a work-conserving FIFO queue: a transfer is served as soon as the
// side is free, and the side is never idle while a transfer waits. A transfer of `bytes` over a
// region is spread over the banks the region spans in proportion to the region's extent in each
// (a bank holding a third of the region gets a third of the bytes, rounded up). For each bank b:
//   need_b       = ceil(share_b / (port_bytes * ports))
//   busy_until_b = max(now, busy_until_b) + need_b
// and the transfer's SRAM side is done at max_b busy_until_b over the region's banks, which
// reserve() returns. A unit alone on bank-aligned banks therefore gets
// ceil(bytes / (banks * port_bytes * ports)) cycles, and anything beyond now + max_b need_b is
// delay caused by other users of the same banks: queueing_cycles() sums it over all transfers.
// Reservations are made in simulated-time order of their `now`; one made for an earlier cycle than
// a bank's busy_until simply queues behind it, as a later arrival would.
//
// Per-bank byte totals (for the report) split the bytes exactly (they sum to the bytes moved),
// each bank's part within one byte of its proportional share; only the timing rounds up.
#include <cstdint>
#include <vector>

#include "config/hw_config.h"
#include "ir/tile_program.h"

namespace attnsim {

// Told of every bank-side occupancy reserve() queues (for utilization traces; see trace_recorder.h).
class SramPortObserver {
 public:
  virtual ~SramPortObserver() = default;
  // The bank's read or write side moves `bytes` (its share of a transfer, as counted in the byte
  // totals) during cycles [start_cycle, start_cycle + cycles).
  virtual void on_bank_transfer(int bank, bool write, std::int64_t start_cycle, std::int64_t cycles,
                                std::uint64_t bytes) = 0;
};

class SramPorts {
 public:
  explicit SramPorts(const SramConfig& sram);

  // Queues a transfer of `bytes` over region r on the write (true) or read side of its banks,
  // arriving at now_cycle; returns the cycle by which its SRAM side is done (now_cycle when
  // nothing moves). A region outside the SRAM is a bug (InternalError).
  std::int64_t reserve(const SramRegion& r, std::uint64_t bytes, bool write, std::int64_t now_cycle);

  const std::vector<std::uint64_t>& bank_read_bytes() const { return read_bytes_; }
  const std::vector<std::uint64_t>& bank_written_bytes() const { return written_bytes_; }
  // Cycles transfers waited behind other users' transfers, summed over reserve() calls.
  std::int64_t queueing_cycles() const { return queueing_cycles_; }
  // The cycle a bank's read or write side finishes what has been queued on it.
  std::int64_t busy_until(int bank, bool write) const;
  // Null (the default): no observer, one pointer check per reserve().
  void set_observer(SramPortObserver* observer) { observer_ = observer; }

 private:
  // Reports a reservation just made to the observer, bank by bank (the same shares as reserve()).
  void notify(const SramRegion& r, std::uint64_t bytes, bool write) const;

  SramConfig cfg_;
  std::vector<std::int64_t> read_busy_until_, write_busy_until_;
  std::vector<std::uint64_t> read_bytes_, written_bytes_;
  std::int64_t queueing_cycles_ = 0;
  SramPortObserver* observer_ = nullptr;
};

}  // namespace attnsim
