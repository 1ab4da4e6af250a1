#include "ir/tile_program.h"

#include "common/errors.h"

namespace attnsim {

const char* to_string(Opcode op) {
  switch (op) {
    case Opcode::Load:
      return "LOAD";
    case Opcode::Store:
      return "STORE";
    case Opcode::Gemm:
      return "GEMM";
    case Opcode::Vector:
      return "VECTOR";
    case Opcode::Softmax:
      return "SOFTMAX";
    case Opcode::Barrier:
      return "BARRIER";
  }
  return "?";
}

const char* to_string(VecOp op) {
  static const char* const names[] = {"add",       "mul",     "scale",   "add_row", "copy", "relu", "gelu",
                                      "swiglu",    "layernorm", "rmsnorm", "row_max", "row_sum", "exp",
                                      "l2norm", "prefix_mean", "favor_rows", "favor_cols", "div_col",
                                      "col_mean_acc", "ident_minus", "div_scalar"};
  static_assert(sizeof(names) / sizeof(names[0]) == std::size_t(VecOp::kCount));
  return std::size_t(op) < std::size_t(VecOp::kCount) ? names[std::size_t(op)] : "?";
}

const char* to_string(SmOp op) {
  static const char* const names[] = {"rows", "online_step", "rescale", "normalize", "merge"};
  static_assert(sizeof(names) / sizeof(names[0]) == std::size_t(SmOp::kCount));
  return std::size_t(op) < std::size_t(SmOp::kCount) ? names[std::size_t(op)] : "?";
}

const char* to_string(OpClass c) {
  static const char* const names[] = {"other",    "qkv_proj", "qk",   "softmax", "pv",
                                      "out_proj", "ffn",      "norm", "residual", "global", "lowrank"};
  static_assert(sizeof(names) / sizeof(names[0]) == std::size_t(OpClass::kCount));
  return std::size_t(c) < std::size_t(OpClass::kCount) ? names[std::size_t(c)] : "?";
}

const char* to_string(BufClass c) {
  static const char* const names[] = {"weights", "activations", "q", "k", "v", "scores", "out", "stats"};
  static_assert(sizeof(names) / sizeof(names[0]) == std::size_t(BufClass::kCount));
  return std::size_t(c) < std::size_t(BufClass::kCount) ? names[std::size_t(c)] : "?";
}

void Instr::add_dep(std::uint32_t dep_id) {
  if (dep_id == kNoInstr) return;
  for (int i = 0; i < num_deps; ++i)
    if (deps[i] == dep_id) return;
  ATTNSIM_ASSERT(num_deps < kMaxDeps, "too many dependencies on one instruction");
  deps[num_deps++] = dep_id;
}

std::uint32_t TileProgram::add(Instr instr) {
  instr.id = std::uint32_t(instrs.size());
  for (int i = 0; i < instr.num_deps; ++i)
    ATTNSIM_ASSERT(instr.deps[i] < instr.id, "dependency on a later instruction");
  instrs.push_back(instr);
  return instr.id;
}

std::uint64_t TileProgram::total_macs() const {
  std::uint64_t s = 0;
  for (const auto& i : instrs) s += i.macs();
  return s;
}

ProgramSource ProgramSource::of(const TileProgram& p) {
  ProgramSource s;
  s.tensors = p.tensors;
  s.buffers = p.buffers;
  s.summary = p.summary;
  s.generate = [&p](ProgramSink& sink) {
    for (const Instr& in : p.instrs) sink.add(in);
  };
  return s;
}

TileProgram ProgramSource::materialise() const {
  TileProgram p;
  p.tensors = tensors;
  p.buffers = buffers;
  p.summary = summary;
  generate(p);
  return p;
}

namespace {

class CountingSink final : public ProgramSink {
 public:
  explicit CountingSink(ProgramCounts& c) : c_(c) {}
  std::uint32_t add(Instr in) override {
    ++c_.by_opcode[std::size_t(in.op)];
    c_.macs += in.macs();
    c_.macs_by_class[std::size_t(in.opclass)] += in.macs();
    if (in.op == Opcode::Load || in.op == Opcode::Store) {
      auto& v = in.op == Opcode::Load ? c_.load_bytes_by_tensor : c_.store_bytes_by_tensor;
      if (v.size() <= in.tensor) v.resize(in.tensor + 1u, 0);
      v[in.tensor] += in.bytes();
      (in.op == Opcode::Load ? c_.load_bytes : c_.store_bytes) += in.bytes();
      (in.op == Opcode::Load ? c_.load_bytes_by_class : c_.store_bytes_by_class)[std::size_t(in.opclass)] +=
          in.bytes();
    }
    return std::uint32_t(c_.instrs++);
  }

 private:
  ProgramCounts& c_;
};

void print_tile(std::ostream& os, const char* name, const SramTile& t) {
  os << ' ' << name << "=sram[0x" << std::hex << t.addr << std::dec << " " << t.rows << "x" << t.cols;
  if (t.ld && t.ld != t.cols) os << " ld=" << t.ld;
  os << " x" << int(t.elem_bytes) << "B]";
}

class PrintingSink final : public ProgramSink {
 public:
  PrintingSink(const std::vector<TensorInfo>& tensors, std::ostream& os) : tensors_(tensors), os_(os) {}
  std::uint32_t add(Instr i) override {
    i.id = next_++;
    os_ << i.id << ": " << to_string(i.op);
    switch (i.op) {
      case Opcode::Load:
      case Opcode::Store:
        os_ << ' ' << (i.tensor < tensors_.size() ? tensors_[i.tensor].name : "?") << " dram=0x" << std::hex
            << i.dram_addr << std::dec << " " << i.rows << "x" << i.row_bytes << "B stride=" << i.dram_stride;
        print_tile(os_, "sram", i.sram);
        break;
      case Opcode::Gemm:
        if (i.is_fused_attention()) os_ << " fused_attention";
        os_ << " m=" << i.m << " k=" << i.k << " n=" << i.n << (i.accumulate ? " acc" : "")
            << (i.b_transposed ? " bT" : "");
        if (i.is_fused_attention()) {
          os_ << " imm=" << i.imm;
          if (i.causal) os_ << " causal(" << i.mask_offset << ")";
        }
        print_tile(os_, "a", i.a);
        print_tile(os_, "b", i.b);
        if (i.is_fused_attention()) print_tile(os_, "v", i.v);
        print_tile(os_, "c", i.c);
        break;
      case Opcode::Vector:
      case Opcode::Softmax:
        os_ << ' ' << (i.op == Opcode::Vector ? to_string(i.vec_op()) : to_string(i.sm_op()));
        if (i.imm != 0.f) os_ << " imm=" << i.imm;
        if (i.causal) os_ << " causal(" << i.mask_offset << ")";
        if (i.first) os_ << " first";
        if (i.a.rows) print_tile(os_, "a", i.a);
        if (i.b.rows) print_tile(os_, "b", i.b);
        print_tile(os_, "c", i.c);
        break;
      case Opcode::Barrier:
        break;
    }
    if (i.op != Opcode::Barrier) os_ << " [L" << i.layer << " " << to_string(i.opclass) << "]";
    if (i.num_deps) {
      os_ << " deps=";
      for (int d = 0; d < i.num_deps; ++d) os_ << (d ? "," : "") << i.deps[d];
    }
    os_ << "\n";
    return i.id;
  }

 private:
  const std::vector<TensorInfo>& tensors_;
  std::ostream& os_;
  std::uint32_t next_ = 0;
};

}  // namespace

ProgramCounts count_program(const ProgramSource& src) {
  ProgramCounts c;
  c.load_bytes_by_tensor.assign(src.tensors.size(), 0);
  c.store_bytes_by_tensor.assign(src.tensors.size(), 0);
  CountingSink sink(c);
  src.generate(sink);
  return c;
}

void print_program(const ProgramSource& src, std::ostream& os) {
  os << "# " << src.summary << "\n";
  for (const auto& t : src.tensors)
    os << "# tensor " << t.name << ": " << t.rows << "x" << t.cols << " x " << t.elem_bytes << " B at dram 0x"
       << std::hex << t.dram_base << std::dec << "\n";
  for (const auto& b : src.buffers)
    os << "# buffer " << b.name << " (" << to_string(b.cls) << ", phase " << b.phase << "): sram 0x" << std::hex
       << b.region.addr << std::dec << " + " << b.region.bytes << " B\n";
  PrintingSink sink(src.tensors, os);
  src.generate(sink);
}

void print_tile_program(const TileProgram& p, std::ostream& os) { print_program(ProgramSource::of(p), os); }

}  // namespace attnsim
