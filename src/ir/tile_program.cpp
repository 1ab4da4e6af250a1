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
    case Opcode::Barrier:
      return "BARRIER";
  }
  return "?";
}

Unit unit_of(Opcode op) {
  switch (op) {
    case Opcode::Load:
    case Opcode::Store:
      return Unit::Dma;
    case Opcode::Gemm:
      return Unit::Array;
    case Opcode::Barrier:
      return Unit::All;
  }
  return Unit::All;
}

void Instr::add_dep(std::uint32_t dep_id) {
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

static void print_region(std::ostream& os, const char* name, const SramRegion& r) {
  os << ' ' << name << "=sram[0x" << std::hex << r.addr << "+" << std::dec << r.bytes << "]";
}

void print_tile_program(const TileProgram& p, std::ostream& os) {
  os << "# " << p.summary << "\n";
  for (const auto& t : p.tensors)
    os << "# tensor " << t.name << ": " << t.rows << "x" << t.cols << " x " << t.elem_bytes << " B at dram 0x"
       << std::hex << t.dram_base << std::dec << "\n";
  for (const auto& b : p.buffers)
    os << "# buffer " << b.name << ": sram 0x" << std::hex << b.region.addr << std::dec << " + " << b.region.bytes
       << " B\n";
  for (const auto& i : p.instrs) {
    os << i.id << ": " << to_string(i.op);
    switch (i.op) {
      case Opcode::Load:
      case Opcode::Store:
        os << ' ' << p.tensors.at(i.tensor).name << " dram=0x" << std::hex << i.dram_addr << std::dec << " " << i.rows
           << "x" << i.row_bytes << "B stride=" << i.dram_stride;
        print_region(os, "sram", i.sram);
        break;
      case Opcode::Gemm:
        os << " m=" << i.m << " k=" << i.k << " n=" << i.n << (i.accumulate ? " acc" : "");
        print_region(os, "a", i.a);
        print_region(os, "b", i.b);
        print_region(os, "c", i.c);
        break;
      case Opcode::Barrier:
        break;
    }
    if (i.num_deps) {
      os << " deps=";
      for (int d = 0; d < i.num_deps; ++d) os << (d ? "," : "") << i.deps[d];
    }
    os << "\n";
  }
}

}  // namespace attnsim
