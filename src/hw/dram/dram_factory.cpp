#include "common/errors.h"
#include "hw/dram/cycle_dram.h"
#include "hw/dram/i_dram.h"
#include "hw/dram/ideal_dram.h"

namespace attnsim {

std::unique_ptr<IDram> make_dram(const HwConfig& hw) {
  switch (hw.dram.model) {
    case DramModel::Ideal:
      return std::make_unique<IdealDram>(hw.dram.bytes_per_cycle, hw.dram.latency_cycles, hw.array.period_fs());
    case DramModel::Cycle: {
      // The config was validated when it was read; parse it again into the full spec.
      Diagnostics diag(hw.source);
      DramSpec spec = parse_cycle_dram(JsonView(&hw.dram.cycle_spec, "/dram", &diag));
      diag.throw_if_any();
      return std::make_unique<CycleDram>(spec, hw.array.period_fs());
    }
  }
  throw InternalError("no DRAM model for this config");
}

}  // namespace attnsim
