#pragma once
// The DRAM role, behind the DMA engine. Implementations: IdealDram (fixed bandwidth and latency)
// and the cycle-accurate command-level controller. Both are selected by /dram/model.
// Contract: transfer() is called from an SC_THREAD and returns when the whole transfer is done:
// for a read, when its last byte has arrived on chip; for a write, when the memory system answers
// for its data: the ideal DRAM when its last byte has been written, the cycle-accurate controller
// when its write queue has accepted the last burst (a posted write, as in DRAMSim3 and Ramulator 2;
// the bursts are written later, and the run lasts until they are). Several threads may be inside
// transfer() at once; the model shares its bandwidth among them and may delay a caller before
// accepting its first burst (back-pressure). Timing only: no data.
#include <cstdint>
#include <memory>
#include <string>
#include <systemc>

#include "config/hw_config.h"

namespace attnsim {

// Told of the data each channel moves (for utilization traces; see hw/trace_recorder.h).
class DramDataObserver {
 public:
  virtual ~DramDataObserver() = default;
  // `bytes` cross channel's data bus during [start_fs, end_fs) (femtoseconds of simulated time).
  virtual void on_dram_data(int channel, std::int64_t start_fs, std::int64_t end_fs, std::uint64_t bytes) = 0;
};

class IDram {
 public:
  virtual ~IDram() = default;
  virtual void transfer(std::uint64_t addr, std::uint64_t bytes, bool is_write) = 0;

  virtual std::uint64_t bytes_read() const = 0;
  virtual std::uint64_t bytes_written() const = 0;
  // Time during which the data bus carried data (for the busy fraction).
  virtual sc_core::sc_time busy_time() const = 0;
  // Peak bandwidth in bytes per accelerator cycle, for the roofline.
  virtual double peak_bytes_per_cycle() const = 0;
  // Model-specific statistics, added to the report under "dram".
  virtual void write_stats(Json& out) const = 0;
  // True when timing does not depend on addresses: the DMA may then move a strided tile as if it
  // were contiguous, in fewer and larger transfers, with the same bus time.
  virtual bool address_independent() const { return false; }
  // Independent data channels (the columns of a utilization trace).
  virtual int channels() const { return 1; }
  // The longest a transfer may wait without any request of the model completing (its own watchdog's
  // bound), in femtoseconds; 0 when the model cannot stall (ideal: its waits are computed times).
  virtual std::int64_t stall_bound_fs() const { return 0; }
  // What is waiting inside the model, for a stuck run's message ("" when nothing is known).
  virtual std::string describe_pending() const { return ""; }
  // Null (the default): no observer. Set before the simulation starts.
  virtual void set_data_observer(DramDataObserver* observer) { data_observer_ = observer; }

 protected:
  DramDataObserver* data_observer_ = nullptr;
};

std::unique_ptr<IDram> make_dram(const HwConfig& hw);

}  // namespace attnsim
