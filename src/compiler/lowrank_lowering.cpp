#include "compiler/lowrank_lowering.h"

#include "common/errors.h"
#include "compiler/favor_nystrom_lowering.h"
#include "compiler/lowrank_cascades.h"

namespace attnsim {

std::vector<LowRankPhase> lower_lowrank_group(const HwConfig& hw, const Graph& graph, const AttentionGroup& grp,
                                              const std::string& name, const MapperOptions& opt) {
  // Heads per batch: the layer's head count (the group holds batch * heads, batch-major).
  const std::int64_t heads = std::int64_t(grp.heads.size());
  std::int64_t hpb = heads;
  for (std::int64_t i = 1; i < heads; ++i)
    if (grp.heads[std::size_t(i)].q.row0 != grp.heads[0].q.row0) {
      hpb = i;
      break;
    }
  // Primal, primal-causal, low-rank linear and Linformer are their cascades (models/cascades/*.json).
  if (lowered_as_cascade(grp.spec.variant)) return lower_lowrank_cascade(hw, graph, grp, name, hpb, opt);
  if (grp.spec.variant == AttnVariant::Performer || grp.spec.variant == AttnVariant::Nystromformer)
    return lower_favor_nystrom_group(hw, grp, name, opt);
  throw InternalError("lower_lowrank_group: not a low-rank variant: " + std::string(to_string(grp.spec.variant)));
}

}  // namespace attnsim
