#include "compiler/rowwise_cascades.h"

#include <algorithm>
#include <memory>
#include <sstream>

#include "cascade/builtin.h"
#include "common/errors.h"
#include "mapper/cascade_search.h"

namespace attnsim {

namespace {

// The cascade's tensors by role: X, the second input (-1 when none), Y.
struct Roles {
  int x = -1, second = -1, y = -1;
  bool params = false;  // the second input is a norm's parameters or a bias row (not X's shape)
};

Roles roles_of(const cascade::Cascade& c) {
  Roles r;
  for (std::size_t t = 0; t < c.desc.tensors.size(); ++t) {
    const cascade::TensorDecl& td = c.desc.tensors[t];
    if (td.role == cascade::TensorRole::Input) {
      if (td.name == "X")
        r.x = int(t);
      else if (r.second < 0)
        r.second = int(t);
      else
        throw InternalError("row-wise cascade " + c.desc.name + " has more than two inputs");
    } else if (td.role == cascade::TensorRole::Output) {
      if (td.name != "Y" || r.y >= 0) throw InternalError("row-wise cascade " + c.desc.name + ": one output, Y");
      r.y = int(t);
    }
  }
  if (r.x < 0 || r.y < 0) throw InternalError("row-wise cascade " + c.desc.name + ": input X and output Y");
  if (r.second >= 0) r.params = c.tensor(r.second).ranks[0] != c.tensor(r.x).ranks[0];
  return r;
}

DramBlock block_of(const TensorView& v) { return {std::uint16_t(v.tensor), v.row0, v.col0, v.rows, v.cols}; }

}  // namespace

bool has_rowwise_cascade(OpKind k) {
  switch (k) {
    case OpKind::LayerNorm:
    case OpKind::RmsNorm:
    case OpKind::Add:
    case OpKind::Gelu:
    case OpKind::Relu:
    case OpKind::SwiGlu:
    case OpKind::Copy:
    case OpKind::L2Norm:
    case OpKind::AddRow:
    case OpKind::RowSum:
    case OpKind::RowMax:
      return true;
    default:
      return false;
  }
}

cascade::Cascade rowwise_cascade(OpKind k, std::int64_t rows, std::int64_t cols) {
  if (!has_rowwise_cascade(k)) throw InternalError(std::string("no row-wise cascade for op kind ") + to_string(k));
  const std::string stem = to_string(k);
  cascade::Cascade c = cascade::bind_cascade(
      cascade::parse_cascade(cascade::builtin_cascade_json(stem), "models/cascades/" + stem + ".json"),
      {{"M", double(rows)}, {"C", double(cols)}}, false);
  (void)roles_of(c);  // checks the interface
  return c;
}

std::int64_t rowwise_block_rows(const cascade::Cascade& c, const cascade::Mapping& m) {
  const int row = c.tensor(roles_of(c).y).ranks[0];
  for (const cascade::GroupMapping& g : m.groups)
    for (const cascade::Loop& l : g.loops)
      if (l.rank == row) return l.tile;
  return c.extent[std::size_t(row)];
}

cascade::Mapping rowwise_default_mapping(const cascade::Cascade& c, const HwConfig& hw, std::uint64_t capacity,
                                         const std::string& what) {
  const Roles r = roles_of(c);
  const int row = c.tensor(r.x).ranks[0];
  const std::int64_t rows = c.rows(r.x), cols = c.cols(r.x);
  cascade::Mapping m = cascade::whole_mapping(c, hw);
  m.source = "generated mapping of " + c.desc.name;
  if (r.params) m.tensors[std::size_t(r.second)].buffers = 1;  // loaded once, read by every block
  auto footprint = [&](std::int64_t rb) -> std::uint64_t {
    m.groups.front().loops = {{row, rb}};
    cascade::CascadePlan plan;
    if (!cascade::check_mapping(c, m, hw, std::uint64_t(-1), &plan).empty())
      throw InternalError("row-wise cascade " + c.desc.name + ": its row-block mapping is illegal");
    return plan.groups.front().footprint;
  };
  // Blocks large enough that the DRAM latency is hidden: two latencies' worth of bytes at the peak
  // bandwidth (with double buffering the next block is in flight while this one is used), at least
  // 16 KiB; and at most an eighth of the SRAM, so that double-buffered inputs and outputs use at
  // most about three quarters of it. Not larger: the first load and the last store of a phase are
  // exposed, so blocks that grew with the SRAM made more SRAM cost cycles.
  const std::int64_t row_bytes = cols * hw.array.operand_bytes;
  const double latency = hw.dram.model == DramModel::Ideal ? double(hw.dram.latency_cycles) : 100.0;
  const std::int64_t target_bytes =
      std::max<std::int64_t>(16384, std::int64_t(2 * hw.dram.peak_bytes_per_cycle * latency));
  std::int64_t rb = std::max<std::int64_t>(1, std::min(std::int64_t(capacity / 8), target_bytes) / row_bytes);
  rb = std::min(rb, rows);
  while (rb > 1 && footprint(rb) > capacity) rb /= 2;
  if (footprint(rb) > capacity) {
    const int buffers = r.second >= 0 && !r.params ? 3 : 2;
    std::ostringstream msg;
    msg << hw.source << ": /sram: " << what << ": one row of " << cols << " elements, double-buffered in " << buffers
        << " buffers" << (r.params ? " with its parameters" : "") << ", needs " << footprint(1) << " B, more than the "
        << capacity << " B of SRAM available";
    throw UserError(msg.str());
  }
  m.groups.front().loops = {{row, rb}};
  return m;
}

cascade::Binding rowwise_binding(const cascade::Cascade& c, const OpInstance& i) {
  const Roles r = roles_of(c);
  cascade::Binding b;
  b.blocks.resize(c.desc.tensors.size());
  auto bind = [&](int t, const TensorView& v) {
    ATTNSIM_ASSERT(v.tensor >= 0 && !v.transposed && v.rows == c.rows(t) && v.cols == c.cols(t),
                   "row-wise cascade " + c.desc.name + ": " + c.tensor(t).name + " is " + std::to_string(c.rows(t)) +
                       "x" + std::to_string(c.cols(t)) + ", the op's view " + std::to_string(v.rows) + "x" +
                       std::to_string(v.cols));
    b.blocks[std::size_t(t)] = block_of(v);
  };
  bind(r.x, i.in[0]);
  if (r.second >= 0) bind(r.second, i.in[1]);
  bind(r.y, i.out);
  return b;
}

RowwisePhase lower_rowwise_op(const HwConfig& hw, const GraphOp& op, std::uint64_t capacity,
                              const ModelMapping* fixed) {
  ATTNSIM_ASSERT(!op.instances.empty(), "op " + op.name + " has no instances");
  const TensorView& x = op.instances.front().in[0];
  auto c = std::make_shared<cascade::Cascade>(rowwise_cascade(op.kind, x.rows, x.cols));
  const cascade::Mapping m = fixed && fixed->find(op.name)
                                 ? fixed_cascade_mapping(*c, hw, capacity, *fixed, op.name)
                                 : rowwise_default_mapping(*c, hw, capacity, op.name);
  auto plan = std::make_shared<cascade::CascadePlan>(cascade::plan_cascade(*c, m, hw, capacity));
  auto bindings = std::make_shared<std::vector<cascade::Binding>>();
  bindings->reserve(op.instances.size());
  for (const OpInstance& i : op.instances) bindings->push_back(rowwise_binding(*c, i));
  auto classes = std::make_shared<std::vector<OpClass>>(c->desc.steps.size(), op.cls);
  const Roles r = roles_of(*c);
  RowwisePhase ph;
  std::ostringstream os;
  os << "row blocks of " << rowwise_block_rows(*c, m) << "x" << c->cols(r.x);
  // The streamed tensors' slots (the parameters' are the mapping's, in the cascade part).
  std::vector<int> streamed = {r.x, r.y};
  if (r.second >= 0 && !r.params) streamed.insert(streamed.begin() + 1, r.second);
  bool double_buffered = true;
  for (int t : streamed) double_buffered &= m.tensors[std::size_t(t)].buffers == 2;
  if (double_buffered) {
    os << ", double-buffered";
  } else {
    os << ", buffers";
    for (int t : streamed) os << " " << c->tensor(t).name << " " << m.tensors[std::size_t(t)].buffers;
  }
  os << "; " << cascade::describe(*c, m);
  ph.plan = os.str();
  ph.mapping = cascade_op_mapping(*c, m);
  ATTNSIM_ASSERT(plan->groups.size() == 1, "a row-wise cascade has one step, so one group");
  ph.buffers = cascade::group_buffers(*plan, 0, 0);
  // As the report groups them: parameters are weights, the rest activations.
  const std::string params = r.params ? c->tensor(r.second).name : std::string();
  for (BufferInfo& b : ph.buffers)
    b.cls = !params.empty() && b.name.compare(0, params.size(), params) == 0 &&
                    b.name.size() == params.size() + 1
                ? BufClass::Weight
                : BufClass::Activation;
  ph.emit = [&hw, c, plan, bindings, classes](Emitter& em) { cascade::emit_group(hw, *plan, 0, em, *bindings, *classes); };
  return ph;
}

}  // namespace attnsim
