#pragma once
// Every ordering a tile program needs, checked exhaustively rather than by sampling orders (the
// executor's random legal orders, executor.h): two instructions between the same barriers that touch
// the same SRAM or DRAM bytes, one of them writing, must be ordered by what the hardware guarantees
// (tile_program.h): program order within a unit (LOAD, STORE, GEMM, VECTOR, SOFTMAX each its own, as
// the executor takes them) or a chain of dependencies. Written from tile_program.h's description of
// what each instruction reads and writes, apart from the executor.
//
// Reads and writes, byte ranges row by row (strided tiles leave their gaps alone):
//   LOAD   reads its DRAM block, writes its SRAM tile; STORE the reverse;
//   GEMM   reads a, b (and v, fused attention), writes c (and reads it, accumulating);
//   VECTOR, SOFTMAX read a, b, c and write c; PrefixMean, OnlineStep and Merge also write b (the carry, the
//   running statistics). Reading c where an op only writes it can only add pairs that a write of c
//   already makes conflict.
#include <array>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "ir/tile_program.h"

namespace attnsim::test {

struct ByteRange {
  std::uint64_t lo = 0, hi = 0;  // [lo, hi)
};

struct Accesses {
  std::vector<ByteRange> sram_read, sram_write, dram_read, dram_write;
};

inline void add_tile(std::vector<ByteRange>& to, const SramTile& t) {
  for (std::uint32_t r = 0; t.cols && r < t.rows; ++r) {
    const std::uint64_t at = t.addr + std::uint64_t(r) * t.stride() * t.elem_bytes;
    to.push_back({at, at + std::uint64_t(t.cols) * t.elem_bytes});
  }
}

inline void add_block(std::vector<ByteRange>& to, const Instr& in) {
  for (std::uint32_t r = 0; r < in.rows; ++r) {
    const std::uint64_t at = in.dram_addr + r * in.dram_stride;
    to.push_back({at, at + in.row_bytes});
  }
}

inline Accesses accesses_of(const Instr& in) {
  Accesses x;
  switch (in.op) {
    case Opcode::Load:
      add_block(x.dram_read, in);
      add_tile(x.sram_write, in.sram);
      break;
    case Opcode::Store:
      add_tile(x.sram_read, in.sram);
      add_block(x.dram_write, in);
      break;
    case Opcode::Gemm:
      add_tile(x.sram_read, in.a);
      add_tile(x.sram_read, in.b);
      if (in.is_fused_attention()) add_tile(x.sram_read, in.v);
      if (in.accumulate) add_tile(x.sram_read, in.c);
      add_tile(x.sram_write, in.c);
      break;
    case Opcode::Vector:
    case Opcode::Softmax: {
      const bool writes_b = in.op == Opcode::Vector ? in.vec_op() == VecOp::PrefixMean : (in.sm_op() == SmOp::OnlineStep || in.sm_op() == SmOp::Merge);
      add_tile(x.sram_read, in.a);
      add_tile(writes_b ? x.sram_write : x.sram_read, in.b);
      add_tile(x.sram_read, in.c);
      add_tile(x.sram_write, in.c);
      break;
    }
    case Opcode::Barrier:
      break;
  }
  return x;
}

inline bool overlap(const std::vector<ByteRange>& a, const std::vector<ByteRange>& b) {
  for (const ByteRange& p : a)
    for (const ByteRange& q : b)
      if (p.lo < q.hi && q.lo < p.hi) return true;
  return false;
}

// The unordered conflicting pairs, described ("RAW: #12 LOAD L0.state ... before #15 VECTOR ..."), at
// most `max_listed` of them; empty when the program orders everything it must.
inline std::vector<std::string> unordered_conflicts(const TileProgram& p, std::size_t max_listed = 20) {
  const std::vector<Instr>& ins = p.instrs;
  auto describe = [&](const Instr& in) {
    std::ostringstream os;
    os << "#" << in.id << " " << to_string(in.op) << " (" << to_string(in.opclass) << ")";
    if (in.op == Opcode::Load || in.op == Opcode::Store) os << " " << p.tensors[in.tensor].name;
    if (in.op == Opcode::Vector) os << " " << to_string(in.vec_op());
    if (in.op == Opcode::Softmax) os << " " << to_string(in.sm_op());
    return os.str();
  };
  std::vector<std::string> found;
  std::size_t begin = 0;
  while (begin < ins.size() && found.size() < max_listed) {
    std::size_t end = begin;
    while (end < ins.size() && ins[end].op != Opcode::Barrier) ++end;
    const std::size_t n = end - begin, words = (n + 63) / 64;
    // before[i]: the instructions of the segment that certainly complete before i starts.
    std::vector<std::vector<std::uint64_t>> before(n, std::vector<std::uint64_t>(words, 0));
    std::array<std::size_t, std::size_t(Opcode::Barrier)> last_of_unit;
    last_of_unit.fill(SIZE_MAX);
    std::vector<Accesses> acc(n);
    for (std::size_t i = 0; i < n && found.size() < max_listed; ++i) {
      const Instr& in = ins[begin + i];
      acc[i] = accesses_of(in);
      auto after = [&](std::size_t q) {
        for (std::size_t w = 0; w < words; ++w) before[i][w] |= before[q][w];
        before[i][q / 64] |= std::uint64_t(1) << (q % 64);
      };
      std::size_t& prev = last_of_unit[std::size_t(in.op)];
      if (prev != SIZE_MAX) after(prev);
      prev = i;
      for (int d = 0; d < in.num_deps; ++d)
        if (in.deps[std::size_t(d)] >= begin) after(in.deps[std::size_t(d)] - begin);
      for (std::size_t j = 0; j < i && found.size() < max_listed; ++j) {
        if (before[i][j / 64] >> (j % 64) & 1) continue;
        const Accesses &a = acc[j], &b = acc[i];
        const char* kind = overlap(a.sram_write, b.sram_read) || overlap(a.dram_write, b.dram_read)     ? "RAW"
                           : overlap(a.sram_read, b.sram_write) || overlap(a.dram_read, b.dram_write)   ? "WAR"
                           : overlap(a.sram_write, b.sram_write) || overlap(a.dram_write, b.dram_write) ? "WAW"
                                                                                                        : nullptr;
        if (kind) found.push_back(std::string(kind) + ": " + describe(ins[begin + j]) + " before " + describe(in));
      }
    }
    begin = end + 1;
  }
  return found;
}

}  // namespace attnsim::test
