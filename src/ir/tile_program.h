#pragma once
// The tile program: what the compiler emits and the hardware executes. Plain C++, no SystemC.
// Each instruction runs on one unit; units execute their own instructions in program order, and an
// instruction starts only when every instruction it depends on has completed. A BARRIER is seen
// by every unit and waits for all instructions before it.
#include <array>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace attnsim {

enum class Opcode : std::uint8_t { Load, Store, Gemm, Barrier };
enum class Unit : std::uint8_t { Dma, Array, All };
const char* to_string(Opcode op);
Unit unit_of(Opcode op);

// A region of the on-chip SRAM (a linear address space, banks contiguous: bank = addr / bytes_per_bank).
struct SramRegion {
  std::uint64_t addr = 0;
  std::uint64_t bytes = 0;
};

struct Instr {
  static constexpr int kMaxDeps = 4;
  Opcode op = Opcode::Barrier;
  std::uint8_t num_deps = 0;
  std::uint16_t tensor = 0;                    // index into TileProgram::tensors (LOAD, STORE: the DRAM tensor)
  std::uint32_t id = 0;                        // position in the program
  std::array<std::uint32_t, kMaxDeps> deps{};  // ids of earlier instructions

  // LOAD / STORE: a 2-D block of a row-major DRAM tensor <-> a dense SRAM region.
  std::uint64_t dram_addr = 0;    // first byte of the block
  std::uint32_t rows = 0;         // block rows
  std::uint32_t row_bytes = 0;    // contiguous bytes per row
  std::uint64_t dram_stride = 0;  // bytes between block rows in DRAM
  SramRegion sram;                // LOAD: destination; STORE: source

  // GEMM: C[m x n] (+)= A[m x k] B[k x n] on the array.
  std::uint32_t m = 0, k = 0, n = 0;
  bool accumulate = false;  // add to C instead of overwriting it
  SramRegion a, b, c;

  void add_dep(std::uint32_t dep_id);
  std::uint64_t bytes() const { return std::uint64_t(rows) * row_bytes; }
  std::uint64_t macs() const { return std::uint64_t(m) * k * n; }
};

struct TensorInfo {
  std::string name;
  std::uint64_t dram_base = 0;
  std::uint64_t rows = 0, cols = 0;
  int elem_bytes = 0;
};

// A named on-chip buffer chosen by the compiler (for the SRAM report and --emit tiles).
struct BufferInfo {
  std::string name;
  SramRegion region;
};

struct TileProgram {
  std::vector<TensorInfo> tensors;
  std::vector<BufferInfo> buffers;
  std::vector<Instr> instrs;
  std::string summary;  // one line: what was lowered and how it was tiled

  std::uint32_t add(Instr instr);  // assigns the id, returns it
  std::uint64_t total_macs() const;
};

// Human-readable listing, one instruction per line (--emit tiles).
void print_tile_program(const TileProgram& p, std::ostream& os);

}  // namespace attnsim
