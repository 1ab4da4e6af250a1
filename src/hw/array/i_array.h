#pragma once
// The systolic array role. Two implementations: FastArray (closed-form latency, one wait per tile)
// and PeArray (every PE's registers stepped each cycle in one process, moving real operands).
// Contract: run_gemm is called from an SC_THREAD; it returns after the GEMM's last cycle, having
// advanced simulated time by exactly the cycles it returns times the clock period (sim_time.h). Both models
// must return identical cycle counts for every shape, dataflow and timing mode.
//
// Instruction sequences (begin_gemm / end_gemm; the accelerator uses them when gemm_chaining is on): one
// SC_THREAD begins GEMMs in program order, each when its dependencies are met; another ends them in the
// same order. The array may start a GEMM before the previous one has ended (timing/array_timing.h,
// "Chained GEMM instructions"); both models must start and end every GEMM of every sequence at the same
// cycles, the closed form's (ArrayChain). Cycles count from the first begin_gemm's time, which must be a
// clock edge of the array like every later call; run_gemm and sequences are not mixed on one model.
#include <cstdint>
#include <memory>

#include "common/sim_time.h"
#include "config/hw_config.h"
#include "timing/array_timing.h"
#include "timing/fused_timing.h"

namespace attnsim {

// Optional real operands, row-major: A is m x k, B is k x n, C is m x n and is accumulated into
// (C += A B). Only the PE-level model reads them; the fast model moves no data.
struct GemmOperands {
  const std::int32_t* a = nullptr;
  const std::int32_t* b = nullptr;
  std::int64_t* c = nullptr;
};

// Optional real operands of a GEMM FusedAttention (ir/tile_program.h, GemmKind), row-major fp32: Q m x d,
// K and V n x d, O m x d (written). Score (r, j) is masked when causal and j > r + mask_offset.
struct FusedOperands {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  float* o = nullptr;
  float scale = 1.f;
  bool causal = false;
  std::int64_t mask_offset = 0;
};

class IArrayModel {
 public:
  virtual ~IArrayModel() = default;
  virtual std::int64_t run_gemm(const GemmDims& dims, const GemmOperands* operands) = 0;

  // The GEMM's dependencies are met now: queues it and returns at its start (its first array action,
  // GemmSchedule::start), which is now or later. operands stay valid until finish().
  virtual void begin_gemm(const GemmDims& dims, const GemmOperands* operands) = 0;
  // From another thread than begin_gemm's: returns at the end (GemmSchedule::done) of the oldest begun
  // GEMM not ended yet, at once if that time has come. Call it only for a GEMM that has been begun.
  virtual void end_gemm() = 0;
  // After the last end_gemm: the results still inside the array leave (untimed).
  virtual void finish() = 0;

  // GEMM FusedAttention instructions (timing/fused_timing.h), back to back: called from one SC_THREAD in
  // program order, each when its dependencies are met. The array starts it at the first cycle of its clock
  // (cycle 0 at the first call's time) at or after now that its datapath allows, while earlier ones may
  // still be draining (FusedChain), and returns at the end of its occupancy: simulated time advances by the
  // stall before its start plus exactly its occupancy. end_fused, from another thread, returns when the O
  // of the oldest fused instruction not yet ended has left (at once if that time has passed). Both models
  // start and end every instruction at the same cycles; only the PE-level model reads and writes operands
  // (which stay valid until end_fused). Plain GEMMs do not run on the array meanwhile.
  struct FusedRun {
    fs_t start_fs = 0;           // when its first front started
    std::int64_t occupancy = 0;  // cycles from then until the array takes the next instruction
  };
  virtual FusedRun run_fused_attention(const FusedAttentionDims& dims, const FusedOperands* operands) = 0;
  virtual void end_fused() = 0;
};

// The datapath matters to fused attention only (DatapathConfig{}: the array cannot run it).
std::unique_ptr<IArrayModel> make_array_model(const ArrayConfig& cfg, const DatapathConfig& datapath = {});

}  // namespace attnsim
