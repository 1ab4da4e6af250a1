#include "compiler/gemm_cascade.h"

#include <algorithm>
#include <sstream>

#include "cascade/builtin.h"
#include "cascade/lower.h"
#include "common/errors.h"

namespace attnsim {

bool gemm_cascade_translatable(const GemmTiling& t, bool b_transposed, std::string* why) {
  const char* reason = nullptr;
  const std::int64_t n_inner = t.n_outer ? ceil_div(t.dims.m, t.tm) : ceil_div(t.dims.n, t.tn);
  // Slots of a cascade buffer: at most cascade::kMaxSlots (65536, more than any SRAM holds tiles).
  if (t.k_middle && 2 * n_inner > cascade::kMaxSlots)
    reason = "k in the middle of the loop order with more inner tiles than a cascade buffer's slots";
  else if (t.outer_resident && (t.lead_block > 0 ? t.lead_block + 1 : 2) * ceil_div(t.dims.k, t.tk) > cascade::kMaxSlots)
    reason = "resident outer panels in more slots than a cascade buffer's";
  else if (t.lead_block > 0 && t.lead_block * n_inner + 2 > cascade::kMaxSlots)
    reason = "a lead block of more C tiles than a cascade buffer's slots";
  if (reason && why) *why = reason;
  return reason == nullptr;
}

bool gemm_cascade_loads_as_emitter(const GemmTiling& t) {
  const GemmDims& d = t.dims;
  const std::int64_t nm = ceil_div(d.m, t.tm), nn = ceil_div(d.n, t.tn), nk = ceil_div(d.k, t.tk);
  const std::int64_t n_outer = t.n_outer ? nn : nm, n_inner = t.n_outer ? nm : nn;
  // k in the middle: each outer block (m, k) serves the inner loop in one run and never comes back.
  return (t.outer_resident || t.k_middle || !(nk == 2 && n_inner > 1)) &&
         (t.inner_resident || !(n_inner * nk == 2 && n_outer > 1));
}

const char* gemm_cascade_stem(Epilogue epi) {
  switch (epi) {
    case Epilogue::None:
      return "gemm";
    case Epilogue::Gelu:
      return "gemm_gelu";
    case Epilogue::Relu:
      return "gemm_relu";
    case Epilogue::AddResidual:
      return "gemm_residual";
  }
  throw InternalError("no such epilogue");
}

cascade::Cascade gemm_cascade(Epilogue epi, const GemmDims& d, bool b_transposed) {
  const std::string stem = gemm_cascade_stem(epi);
  Json doc = cascade::builtin_cascade_json(stem);
  if (b_transposed) {
    // B stored N x K (as K is for S = Q K^T): its ranks in the other order, the contraction reading it so.
    ATTNSIM_ASSERT(doc["steps"][0].is_string() && doc["steps"][0].get<std::string>() == "C[m,n] = A[m,k] * B[k,n]",
                   "gemm cascade " + stem + " without its contraction first");
    doc["inputs"]["B"] = Json::array({"n", "k"});
    doc["steps"][0] = "C[m,n] = A[m,k] * B[n,k]";
    doc["description"] = doc["description"].get<std::string>() + ", B stored transposed";
  }
  return cascade::bind_cascade(cascade::parse_cascade(doc, stem),
                               {{"M", double(d.m)}, {"K", double(d.k)}, {"N", double(d.n)}}, false);
}

GemmLayout gemm_layout(const HwConfig& hw, const GemmTiling& t, std::uint64_t base, std::uint64_t capacity) {
  GemmBufferSizes bs = gemm_buffer_sizes(hw, t);
  const bool c_acc = t.c_in_accumulators;
  auto sram_total = [&](const GemmBufferSizes& b) {
    return std::uint64_t(b.a_slots) * b.a + std::uint64_t(b.b_slots) * b.b +
           (c_acc ? 0 : std::uint64_t(b.c_slots) * b.c) + 2 * b.r;
  };
  // Bank- or stripe-aligned slots when they still fit (above).
  const std::uint64_t unit = std::uint64_t(hw.sram.interleaved() ? hw.sram.stripe_bytes() : hw.sram.bytes_per_bank);
  GemmBufferSizes aligned = bs;
  aligned.a = align_up(bs.a, unit), aligned.b = align_up(bs.b, unit), aligned.c = c_acc ? bs.c : align_up(bs.c, unit);
  aligned.r = bs.r ? align_up(bs.r, unit) : 0;
  if (base % unit == 0 && sram_total(aligned) <= capacity) bs = aligned;
  GemmLayout l;
  l.a_bytes = bs.a, l.b_bytes = bs.b, l.c_bytes = bs.c, l.r_bytes = bs.r;
  std::uint64_t at = base;
  for (std::int64_t i = 0; i < bs.a_slots; ++i, at += bs.a) l.a.push_back(at);
  for (std::int64_t i = 0; i < bs.b_slots; ++i, at += bs.b) l.b.push_back(at);
  std::uint64_t c_at = c_acc ? hw.accumulator_base() : at;
  for (std::int64_t i = 0; i < bs.c_slots; ++i, c_at += bs.c) l.c.push_back(c_at);
  if (!c_acc) at = c_at;
  l.r[0] = at, l.r[1] = at + bs.r;
  l.end = base + sram_total(bs);
  return l;
}

std::vector<BufferInfo> GemmLayout::buffers(const std::string& prefix, std::uint32_t phase, BufClass ca, BufClass cb,
                                            BufClass cc) const {
  std::vector<BufferInfo> v;
  const std::size_t most = std::max({a.size(), b.size(), c.size()});
  for (std::size_t i = 0; i < most; ++i) {
    if (i < a.size()) v.push_back({prefix + "A" + std::to_string(i), {a[i], a_bytes}, ca, phase});
    if (i < b.size()) v.push_back({prefix + "B" + std::to_string(i), {b[i], b_bytes}, cb, phase});
    if (i < c.size()) v.push_back({prefix + "C" + std::to_string(i), {c[i], c_bytes}, cc, phase});
    if (i < 2 && r_bytes) v.push_back({prefix + "R" + std::to_string(i), {r[i], r_bytes}, BufClass::Activation, phase});
  }
  return v;
}

namespace {

int tensor_of(const cascade::Cascade& c, const char* name) {
  const int t = c.desc.tensor_index(name);
  ATTNSIM_ASSERT(t >= 0, std::string("gemm cascade without tensor ") + name);
  return t;
}

int rank_of(const cascade::Cascade& c, const char* name) {
  const int r = c.desc.rank_index(name);
  ATTNSIM_ASSERT(r >= 0, std::string("gemm cascade without rank ") + name);
  return r;
}

}  // namespace

cascade::Mapping gemm_cascade_mapping(const HwConfig& hw, const cascade::Cascade& c, const GemmTiling& t,
                                      std::uint64_t capacity) {
  ATTNSIM_ASSERT(gemm_cascade_translatable(t, false), "a GEMM tiling the cascade does not express");
  cascade::Mapping m = cascade::whole_mapping(c, hw);
  m.source = "mapping of " + c.desc.name + " translated from its GEMM tiling";
  const int mr = rank_of(c, "m"), kr = rank_of(c, "k"), nr = rank_of(c, "n");
  const cascade::Loop lm{mr, t.tm}, ln{nr, t.tn}, lk{kr, t.tk};
  m.groups[0].chain = true;  // a tile's K steps back to back on the array, as a GEMM's K steps run
  if (t.k_middle)  // m, k, n (n, k, m): a row of C tiles open over k, in 2 x (inner tiles) slots (below)
    m.groups[0].loops = t.n_outer ? std::vector<cascade::Loop>{ln, lk, lm} : std::vector<cascade::Loop>{lm, lk, ln};
  else
    m.groups[0].loops = t.n_outer ? std::vector<cascade::Loop>{ln, lm, lk} : std::vector<cascade::Loop>{lm, ln, lk};
  // The layout (gemm_layout: bank- or stripe-aligned when it fits, C in the accumulator storage when the
  // tiling put it there): each tensor's slots where its buffers 0, 1, .. are.
  const GemmLayout layout = gemm_layout(hw, t, 0, capacity);
  // A resident inner operand (the whole of it on chip, each tile loaded once) is the cascade's resident
  // input with one slot, where the layout's first slot of it starts (its slots, a tile each, are
  // contiguous and hold at least the whole operand).
  const int inner = t.inner_resident ? tensor_of(c, t.n_outer ? "A" : "B") : -1;
  for (const BufferInfo& b : layout.buffers("", 0, BufClass::Activation, BufClass::Weight, BufClass::Output)) {
    const std::string name = b.name.substr(0, 1);
    const int slot = std::stoi(b.name.substr(1));
    const int tensor = c.desc.tensor_index(name);
    if (tensor < 0 || (tensor == inner && slot > 0)) continue;
    ATTNSIM_ASSERT(slot < cascade::kMaxSlots, "a GEMM tiling with more slots than a cascade buffer");
    m.tensors[std::size_t(tensor)].at[slot] = std::int64_t(b.region.addr);
  }
  if (inner >= 0) {
    m.groups[0].resident = {inner};
    m.tensors[std::size_t(inner)].buffers = 1;
  }
  // A resident outer panel (outer_resident: A's tm x K for m outer): two panels' K tiles, 2 x nk
  // slots taken in turn, so each outer iteration loads its panel's tiles into the slots the one before
  // last used, and every inner iteration reads them from there (the layout's slot (outer % 2) nk + k).
  if (t.outer_resident)
    m.tensors[std::size_t(tensor_of(c, t.n_outer ? "B" : "A"))].buffers =
        int((t.lead_block > 0 ? t.lead_block + 1 : 2) * ceil_div(t.dims.k, t.tk));
  // A lead block (the mapping's lead): the first lead_block outer tiles with k outermost, their
  // lead_block x n_inner C tiles open over k, two more slots for the tiles after the block while its
  // stores go out (the layout's C slots), and lead_block + 1 outer panels (the panel of the tile after
  // the block loads while the block's are still read).
  if (t.lead_block > 0) {
    m.groups[0].lead = t.lead_block;
    m.tensors[std::size_t(tensor_of(c, "C"))].buffers =
        int(t.lead_block * (t.n_outer ? ceil_div(t.dims.m, t.tm) : ceil_div(t.dims.n, t.tn)) + 2);
  }
  // k in the middle: the outer iteration's C tiles, one per inner tile, accumulate at once; the next
  // iteration's take the other n_inner slots while these are stored (the layout's (outer % 2) n_inner +
  // inner, which the generic lowering's rotation over the slots reproduces).
  if (t.k_middle)
    m.tensors[std::size_t(tensor_of(c, "C"))].buffers =
        int(2 * (t.n_outer ? ceil_div(t.dims.m, t.tm) : ceil_div(t.dims.n, t.tn)));
  // The epilogue's result overwrites the finished C tile in its buffer.
  const int y = c.desc.tensor_index("Y");
  if (y >= 0) m.tensors[std::size_t(y)].in_place = tensor_of(c, "C");
  return m;
}

GemmCascadeEmitter::GemmCascadeEmitter(const HwConfig& hw, const GemmTiling& t, Epilogue epi, std::uint64_t capacity,
                                       bool b_transposed)
    : hw_(hw),
      t_(t),
      epi_(epi),
      b_transposed_(b_transposed),
      capacity_(capacity),
      cascade_(std::make_shared<cascade::Cascade>(gemm_cascade(epi, t.dims, b_transposed))) {
  mapping_ = gemm_cascade_mapping(hw, *cascade_, t, capacity);
  plan_ = cascade::plan_cascade(*cascade_, mapping_, hw, capacity);
}

std::vector<BufferInfo> GemmCascadeEmitter::buffers(const std::string& prefix, std::uint32_t phase, BufClass a,
                                                    BufClass b, BufClass c) const {
  return gemm_layout(hw_, t_, 0, capacity_).buffers(prefix, phase, a, b, c);
}

void GemmCascadeEmitter::emit(Emitter& em, const std::vector<GemmBlocks>& blocks) const {
  const cascade::Cascade& c = *cascade_;
  const int ta = tensor_of(c, "A"), tb = tensor_of(c, "B"), tc = tensor_of(c, "C");
  const int ty = c.desc.tensor_index("Y"), tr = c.desc.tensor_index("R");
  std::vector<cascade::Binding> inst;
  for (const GemmBlocks& o : blocks) {
    ATTNSIM_ASSERT(o.epilogue == epi_ && o.b_transposed == b_transposed_ &&
                       gemm_cascade_translatable(t_, o.b_transposed),
                   "a GEMM block the cascade emitter was not built for");
    ATTNSIM_ASSERT(o.a.rows == t_.dims.m && o.a.cols == t_.dims.k &&
                       (o.b_transposed ? o.b.rows : o.b.cols) == t_.dims.n,
                   "a GEMM block of other dimensions than its tiling's");
    cascade::Binding b;
    b.blocks.assign(c.desc.tensors.size(), DramBlock{});
    b.blocks[std::size_t(ta)] = o.a;
    b.blocks[std::size_t(tb)] = o.b;
    b.blocks[std::size_t(ty >= 0 ? ty : tc)] = o.c;
    if (tr >= 0) b.blocks[std::size_t(tr)] = o.residual;
    inst.push_back(b);
  }
  // The contraction counts as the op the caller set, the epilogue as the epilogue's op.
  std::vector<OpClass> classes(c.desc.steps.size(), em.op_class());
  if (!blocks.empty())
    for (std::size_t s = 1; s < classes.size(); ++s) classes[s] = blocks.front().epilogue_class;
  const OpClass cls = em.op_class();
  cascade::emit_group(hw_, plan_, 0, em, inst, classes);
  em.set_class(cls);
}

TileProgram lower_gemm_cascade(const HwConfig& hw, const GemmDims& d, const GemmTiling& t, Epilogue epi,
                               bool b_transposed) {
  TileProgram p;
  const std::uint64_t ob = hw.array.operand_bytes;
  // DRAM layout as lower_gemm's: A, B, C row-major, each starting on a 4 KiB boundary; R after C.
  const std::uint64_t a_base = 0, b_base = align_up(a_base + d.m * d.k * ob, 4096),
                      c_base = align_up(b_base + d.k * d.n * ob, 4096), r_base = align_up(c_base + d.m * d.n * ob, 4096);
  p.tensors = {{"A", a_base, std::uint64_t(d.m), std::uint64_t(d.k), int(ob)},
               {"B", b_base, std::uint64_t(b_transposed ? d.n : d.k), std::uint64_t(b_transposed ? d.k : d.n), int(ob)},
               {"C", c_base, std::uint64_t(d.m), std::uint64_t(d.n), int(ob)}};
  if (epi == Epilogue::AddResidual) p.tensors.push_back({"R", r_base, std::uint64_t(d.m), std::uint64_t(d.n), int(ob)});
  const std::uint64_t cap = std::uint64_t(hw.sram.total_bytes());
  const GemmCascadeEmitter g(hw, t, epi, cap, b_transposed);
  p.buffers = g.buffers("", 0, BufClass::Activation, BufClass::Weight, BufClass::Output);
  std::ostringstream sum;
  sum << "GEMM M=" << d.m << " K=" << d.k << " N=" << d.n << " as cascade " << g.cascade().desc.name << ": "
      << cascade::describe(g.cascade(), g.mapping());
  p.summary = sum.str();
  Emitter em(p, p.tensors);
  GemmBlocks blocks = whole_gemm_blocks(d, epi);
  if (b_transposed) {
    blocks.b = {1, 0, 0, d.n, d.k};
    blocks.b_transposed = true;
  }
  g.emit(em, {blocks});
  return p;
}

}  // namespace attnsim
