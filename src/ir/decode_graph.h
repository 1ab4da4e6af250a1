#pragma once
// The workload graph of one decode step of a generating model: every sequence of the batch takes one
// new token through every layer, attending to what earlier tokens left behind. Plain C++.
//
// A step at context c (tokens already processed per sequence: the prompt and the tokens generated
// before) for a pre-norm layer (B = batch, D = d_model, H heads, G = kv_heads, g = H / G, dh =
// head_dim, s rank, Cap = the cache's capacity in tokens per sequence):
//   xn1 = Norm(x)                                      x: B x D, one row per sequence
//   vanilla (flash, row_fused, unfused):
//     qkv = xn1 Wqkv                                   B x (H + 2G) dh: Q heads, K heads, V heads
//     Kcache[(b G + j) Cap + c] = K_bj, same for V     append (Copy), the cache laid out per layer,
//                                                      sequence, KV head and position (dh per row)
//     O_bj = softmax(Q_bj Kcache_bj[0..c]^T / sqrt(dh)) Vcache_bj[0..c]
//                                                      one attention group instance per (b, KV head j):
//                                                      Q_bj is the g query heads sharing KV head j
//                                                      (g x dh), against c + 1 cached keys, not causal
//                                                      (the cache is the past); lowered as a mapping of
//                                                      the vanilla cascade (online softmax over cache
//                                                      blocks, or the whole row when it fits)
//   primal_causal (state: the prefix sums of q and k, B x 2 H dh):
//     state = state + xn1 Wqk                          the running sums (the prefix mean's numerator)
//     qn, kn = L2Norm(state per head)                  l2norm(sum / i) = l2norm(sum): no count needed
//     E_h = qn_h WeT_h^T, R_h = kn_h WrT_h^T           B x s each, per head with the batch on the array
//     o_h = [E_h | R_h] Wc + bc
//   lowrank_linear (state: M_bh = sum_{j <= i} (W_K^T k_j) v_j^T, s x dh per (b, h)):
//     qkv = xn1 Wqkv (B x 3 H dh); KP_h = WKT_h K_h^T (s x B, per head); dM_bh = KP_h[:, b] V_bh (s x dh);
//     M = M + dM; Qp_h = Q_h WQ_h (B x s, per head); o_bh = Qp_bh M_bh (1 x dh)
//   attn = o Wo; h = x + attn; y = h + FFN(Norm(h))   as in a whole-sequence layer (graph.h)
// Low-rank variants use H K/V heads (kv_heads applies to the vanilla cache). Tensors are named as in
// graph.h ("Ll.qkv", ...); the cache and state tensors are Ll.Kcache, Ll.Vcache, Ll.state. Heads are
// views: a B x (heads dh) projection is aliased as (B heads) x dh rows (GraphTensor::alias_of).
#include <cstdint>
#include <vector>

#include "config/model_config.h"
#include "ir/graph.h"

namespace attnsim {

struct DecodeStepGraph {
  Graph graph;
  std::vector<int> state_tensors;  // the KV cache or recurrent state tensors, per layer
  std::int64_t context = 0;        // tokens per sequence before this step
  std::int64_t capacity = 0;       // the cache's tokens per sequence
};

// The step that processes token `context` (0-based) of every sequence, with caches holding `capacity`
// tokens per sequence (context < capacity). The model must be validated with generation (pre-norm
// layers only: UserError naming the layer otherwise).
DecodeStepGraph build_decode_step_graph(const ModelConfig& m, std::int64_t context, std::int64_t capacity);

// Bytes per sequence of a layer's KV cache at `tokens` tokens, or of its fixed-size state:
// vanilla 2 x kv_heads x head_dim x tokens x dtype bytes; primal_causal 2 x heads x head_dim x dtype
// bytes; lowrank_linear heads x s x head_dim x dtype bytes.
std::uint64_t state_bytes_per_sequence(const LayerSpec& l, int elem_bytes, std::int64_t tokens);

}  // namespace attnsim
