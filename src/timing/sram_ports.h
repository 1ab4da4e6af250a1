#pragma once
// The SRAM bank ports, shared by every unit that moves data through them (the array, the load and
// store DMA, the vector unit, the softmax unit). Plain C++; the SystemC units call reserve() and
// wait until the cycle it returns.
//
// Model. Each bank has a read side of port_bytes * read_ports bytes per cycle and a write side of
// port_bytes * write_ports, each a work-conserving FIFO queue: a transfer is served as soon as the
// side is free, and the side is never idle while a transfer waits. A transfer of `bytes` over a
// region is spread over the banks the region spans in proportion to the region's extent in each
// (a bank holding a third of the region gets a third of the bytes, rounded up). The extents follow
// the SRAM's address map (config/sram_map.h): contiguous banks, or stripes of interleave_bytes
// dealt round the banks, so that a region of S stripes spreads over min(S, banks) banks. Each
// bank's extent is computed in closed form: a reservation costs O(banks touched), however many
// stripes the region has. For each bank b:
//   need_b       = ceil(share_b / (port_bytes * ports))
//   busy_until_b = max(now, busy_until_b) + need_b
// and the transfer's SRAM side is done at max_b busy_until_b over the region's banks, which
// reserve() returns. A unit alone on a region spread evenly over its banks (whole banks, or whole
// periods of stripes) therefore gets ceil(bytes / (banks * port_bytes * ports)) cycles, and anything beyond now + max_b need_b is
// delay caused by other users of the same banks: queueing_cycles() sums it over all transfers.
// Reservations are made in simulated-time order of their `now`; one made for an earlier cycle than
// a bank's busy_until simply queues behind it, as a later arrival would.
//
// Per-bank byte totals (for the report) split the bytes exactly (they sum to the bytes moved),
// each bank's part within one byte of its proportional share; only the timing rounds up.
// Per-bank access counts (for the energy, report/energy.h) count port words: a bank's share of a
// transfer takes ceil(share / port_bytes) accesses of one port, whichever of its ports serve them.
//
// Accumulator storage (config/hw_config.h, AccumulatorConfig), when declared, sits at the
// addresses above the SRAM's and has ports of its own, modelled the same way: the array's side
// (array_side = true: partial sums, array_port_bytes per cycle each way) and the units' side (the
// vector and softmax units and the DMA, port_bytes per cycle each way), each a read and a write
// FIFO queue. A transfer there never touches a bank's port.
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
  // The same for the accumulator storage's ports (the array's side or the units' side).
  virtual void on_accumulator_transfer(bool array_side, bool write, std::int64_t start_cycle, std::int64_t cycles,
                                       std::uint64_t bytes) {}
};

// Port accesses of the SRAM banks (summed over banks: every bank prices an access alike) and of the
// accumulator storage's two sides, as running totals: the difference around a unit's reservations is
// what that instruction did (for the energy per op, report/energy.h).
struct SramAccessCounts {
  std::uint64_t read = 0, write = 0;
  std::uint64_t acc_array_read = 0, acc_array_write = 0, acc_unit_read = 0, acc_unit_write = 0;
  SramAccessCounts& operator+=(const SramAccessCounts& o) {
    read += o.read, write += o.write, acc_array_read += o.acc_array_read, acc_array_write += o.acc_array_write;
    acc_unit_read += o.acc_unit_read, acc_unit_write += o.acc_unit_write;
    return *this;
  }
  SramAccessCounts operator-(const SramAccessCounts& o) const {
    return {read - o.read,
            write - o.write,
            acc_array_read - o.acc_array_read,
            acc_array_write - o.acc_array_write,
            acc_unit_read - o.acc_unit_read,
            acc_unit_write - o.acc_unit_write};
  }
};

class SramPorts {
 public:
  explicit SramPorts(const SramConfig& sram, const AccumulatorConfig& accumulators = {});

  // Queues a transfer of `bytes` over region r on the write (true) or read side of its banks (or of
  // the accumulator storage's ports, the array's when array_side, when r lies there), arriving at
  // now_cycle; returns the cycle by which its SRAM side is done (now_cycle when nothing moves). A
  // region outside the SRAM and the accumulator storage, or across both, is a bug (InternalError).
  std::int64_t reserve(const SramRegion& r, std::uint64_t bytes, bool write, std::int64_t now_cycle,
                       bool array_side = false);

  std::vector<std::uint64_t> bank_read_bytes() const { return with_lazy(read_bytes_, side_[0].bytes_add); }
  std::vector<std::uint64_t> bank_written_bytes() const { return with_lazy(written_bytes_, side_[1].bytes_add); }
  // Port accesses (port_bytes wide each) per bank, reads and writes.
  std::vector<std::uint64_t> bank_read_accesses() const { return with_lazy(read_accesses_, side_[0].words_add); }
  std::vector<std::uint64_t> bank_write_accesses() const { return with_lazy(write_accesses_, side_[1].words_add); }
  // Every port access so far (banks summed, accumulator sides apart).
  SramAccessCounts access_counts() const {
    return {total_read_accesses_,           total_write_accesses_,          acc_totals_.array_read_accesses,
            acc_totals_.array_write_accesses, acc_totals_.unit_read_accesses, acc_totals_.unit_write_accesses};
  }
  // Cycles transfers waited behind other users' transfers, summed over reserve() calls (SRAM banks).
  std::int64_t queueing_cycles() const { return queueing_cycles_; }
  // The accumulator storage: bytes through the array's side and the units' side, and waits there.
  struct AccumulatorTotals {
    std::uint64_t array_read_bytes = 0, array_written_bytes = 0, unit_read_bytes = 0, unit_written_bytes = 0;
    // Port accesses: ceil(bytes / width) per transfer, width array_port_bytes or port_bytes.
    std::uint64_t array_read_accesses = 0, array_write_accesses = 0, unit_read_accesses = 0, unit_write_accesses = 0;
    std::int64_t queueing_cycles = 0;
  };
  const AccumulatorTotals& accumulator_totals() const { return acc_totals_; }
  // The cycle a bank's read or write side finishes what has been queued on it.
  std::int64_t busy_until(int bank, bool write) const;
  // Null (the default): no observer, one pointer check per reserve().
  void set_observer(SramPortObserver* observer) { observer_ = observer; }

 private:
  // Reports a reservation just made to the observer, bank by bank (the same shares as reserve()).
  void notify(const SramRegion& r, std::uint64_t bytes, bool write) const;

  std::int64_t reserve_accumulators(const SramRegion& r, std::uint64_t bytes, bool write, std::int64_t now_cycle,
                                    bool array_side);

  static std::vector<std::uint64_t> with_lazy(std::vector<std::uint64_t> v, std::uint64_t add) {
    for (auto& x : v) x += add;
    return v;
  }

  SramConfig cfg_;
  AccumulatorConfig acc_;
  // A transfer of whole periods of the address map (a region of k * banks * stripe bytes, wherever it
  // starts: each bank holds k stripes of it) whose bytes split evenly over the banks does the same to
  // every bank: busy_until = max(now, busy_until) + need, and `share` bytes and `words` accesses more.
  // Such transfers, most of them, take O(1): per side, a bank's busy_until is max(busy[b] + add,
  // floor) (a map of the form x -> max(x + a, m) composes with another into one of the same form), and
  // its bytes and accesses are the vectors' plus bytes_add and words_add. Every other transfer updates
  // busy[b] so that the formula gives its new value (busy[b] = value - add: the value is at least
  // floor). max_busy is the greatest busy[b] (busy[b] never falls), for the greatest value.
  struct Side {
    std::int64_t add = 0, floor = INT64_MIN / 4, max_busy = 0;
    std::uint64_t bytes_add = 0, words_add = 0;
  };
  Side side_[2];  // read, write
  // The accumulator storage's sides: [array_side][write].
  std::int64_t acc_busy_until_[2][2] = {{0, 0}, {0, 0}};
  AccumulatorTotals acc_totals_;
  std::vector<std::int64_t> read_busy_until_, write_busy_until_;
  std::vector<std::uint64_t> read_bytes_, written_bytes_;
  std::vector<std::uint64_t> read_accesses_, write_accesses_;
  std::uint64_t total_read_accesses_ = 0, total_write_accesses_ = 0;
  std::int64_t queueing_cycles_ = 0;
  SramPortObserver* observer_ = nullptr;
};

}  // namespace attnsim
