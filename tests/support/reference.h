#pragma once
// Reference math for checking tile programs: straightforward row-major loops with double
// accumulation, written independently of the executor (src/ir/executor.cpp) so that a shared
// mistake cannot hide. Matrices are std::vector<float>, row-major, with their shapes passed along.
//
// A transformer layer (T = batch * seq_len tokens, D = d_model, H heads, dh = head_dim,
// HD = H * dh, F = ffn width), the dataflow of src/ir/graph.h:
//   pre-norm:   xn = Norm1(x); qkv = xn Wqkv; o = Attention(qkv); a = o Wo; h = x + a;
//               hn = Norm2(h); f = Act(hn W1); y = h + f W2
//   post-norm:  qkv = x Wqkv; o = Attention(qkv); a = o Wo; h = Norm1(x + a);
//               f = Act(h W1); y = Norm2(h + f W2)
// Wqkv is D x 3HD with Q, K, V side by side (head h of Q at columns h*dh, of K at HD + h*dh, of V
// at 2HD + h*dh); batch b's tokens are rows [b*N, b*N + N); o is T x HD with head h at columns
// h*dh. Norm parameters are 2 x D (gamma; beta) for LayerNorm and 1 x D (gamma) for RMSNorm.
// SwiGLU's W1 is D x 2F (gate in the first F columns, up in the next F), Act = silu(gate) * up.
// Attention scale is 1 / sqrt(dh); causal masks key j > query i within a batch.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace attnsim::ref {

using Mat = std::vector<float>;

inline void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(std::string("reference: ") + what);
}

// ---------------------------------------------------------------------------------------------
// Test data and comparison.

// n deterministic pseudo-random values in [-1, 1] (splitmix64, so the values are the same with
// every standard library).
inline Mat random_values(std::size_t n, std::uint64_t seed) {
  Mat v(n);
  std::uint64_t s = seed;
  for (float& x : v) {
    s += 0x9e3779b97f4a7c15ull;
    std::uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    x = float(double(z >> 11) * 0x1.0p-53 * 2.0 - 1.0);
  }
  return v;
}

// max |got - want| / max(max |want|, tiny): the error relative to the scale of the expected
// values. Infinity when the sizes differ or either side holds a NaN (a NaN would otherwise fall
// out of every comparison and pass).
inline double max_rel_error(const Mat& got, const Mat& want) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (got.size() != want.size()) return kInf;
  double err = 0, scale = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i]) || std::isnan(want[i])) return kInf;
    err = std::max(err, std::abs(double(got[i]) - want[i]));
    scale = std::max(scale, std::abs(double(want[i])));
  }
  return err / std::max(scale, 1e-30);
}

// ---------------------------------------------------------------------------------------------
// Matrices.

// c (m x n) = a (m x k) b (k x n).
inline Mat matmul(const Mat& a, const Mat& b, std::int64_t m, std::int64_t k, std::int64_t n) {
  require(std::int64_t(a.size()) == m * k && std::int64_t(b.size()) == k * n, "matmul shapes");
  Mat c(m * n);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (std::int64_t kk = 0; kk < k; ++kk) s += double(a[i * k + kk]) * b[kk * n + j];
      c[i * n + j] = float(s);
    }
  return c;
}

inline Mat transpose(const Mat& a, std::int64_t rows, std::int64_t cols) {
  require(std::int64_t(a.size()) == rows * cols, "transpose shape");
  Mat t(a.size());
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) t[c * rows + r] = a[r * cols + c];
  return t;
}

// Columns [col0, col0 + ncols) of rows [row0, row0 + nrows) of a matrix with `cols` columns.
inline Mat block(const Mat& a, std::int64_t cols, std::int64_t row0, std::int64_t nrows, std::int64_t col0,
                 std::int64_t ncols) {
  require((row0 + nrows) * cols <= std::int64_t(a.size()) && col0 + ncols <= cols, "block outside the matrix");
  Mat b(nrows * ncols);
  for (std::int64_t r = 0; r < nrows; ++r)
    for (std::int64_t c = 0; c < ncols; ++c) b[r * ncols + c] = a[(row0 + r) * cols + col0 + c];
  return b;
}

inline Mat add(const Mat& a, const Mat& b) {
  require(a.size() == b.size(), "add shapes");
  Mat c(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) c[i] = a[i] + b[i];
  return c;
}

// ---------------------------------------------------------------------------------------------
// Elementwise functions.

inline float relu(float x) { return x > 0 ? x : 0.f; }
// The tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
inline float gelu(float x) {
  const double pi = 3.14159265358979323846, xd = x;
  return float(0.5 * xd * (1 + std::tanh(std::sqrt(2 / pi) * (xd + 0.044715 * xd * xd * xd))));
}
inline float silu(float x) { return float(double(x) / (1 + std::exp(-double(x)))); }

inline Mat relu(Mat v) {
  for (float& x : v) x = relu(x);
  return v;
}
inline Mat gelu(Mat v) {
  for (float& x : v) x = gelu(x);
  return v;
}
// gate_up: rows x 2f (gate, then up) -> rows x f: silu(gate) * up.
inline Mat swiglu(const Mat& gate_up, std::int64_t rows, std::int64_t f) {
  require(std::int64_t(gate_up.size()) == rows * 2 * f, "swiglu shape");
  Mat out(rows * f);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < f; ++j)
      out[r * f + j] = float(double(silu(gate_up[r * 2 * f + j])) * gate_up[r * 2 * f + f + j]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Row-wise functions.

// (x - mean) / sqrt(var + 1e-5) * gamma + beta per row (biased variance); params 2 x cols.
inline Mat layernorm(const Mat& x, std::int64_t rows, std::int64_t cols, const Mat& params) {
  require(std::int64_t(x.size()) == rows * cols && std::int64_t(params.size()) == 2 * cols, "layernorm shapes");
  Mat y(x.size());
  for (std::int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (std::int64_t c = 0; c < cols; ++c) mean += x[r * cols + c];
    mean /= double(cols);
    for (std::int64_t c = 0; c < cols; ++c) var += (x[r * cols + c] - mean) * (x[r * cols + c] - mean);
    var /= double(cols);
    for (std::int64_t c = 0; c < cols; ++c)
      y[r * cols + c] = float((x[r * cols + c] - mean) / std::sqrt(var + 1e-5) * params[c] + params[cols + c]);
  }
  return y;
}

// x / sqrt(mean(x^2) + 1e-5) * gamma per row; params 1 x cols.
inline Mat rmsnorm(const Mat& x, std::int64_t rows, std::int64_t cols, const Mat& params) {
  require(std::int64_t(x.size()) == rows * cols && std::int64_t(params.size()) == cols, "rmsnorm shapes");
  Mat y(x.size());
  for (std::int64_t r = 0; r < rows; ++r) {
    double ms = 0;
    for (std::int64_t c = 0; c < cols; ++c) ms += double(x[r * cols + c]) * x[r * cols + c];
    ms /= double(cols);
    for (std::int64_t c = 0; c < cols; ++c) y[r * cols + c] = float(x[r * cols + c] / std::sqrt(ms + 1e-5) * params[c]);
  }
  return y;
}

// softmax(scale * x) per row; with `causal`, element (i, j) is excluded (0) when j > i.
inline Mat softmax_rows(const Mat& x, std::int64_t rows, std::int64_t cols, double scale, bool causal) {
  require(std::int64_t(x.size()) == rows * cols, "softmax shape");
  Mat y(x.size(), 0.f);
  for (std::int64_t i = 0; i < rows; ++i) {
    const std::int64_t n = causal ? std::min(i + 1, cols) : cols;
    double mx = -std::numeric_limits<double>::infinity(), sum = 0;
    for (std::int64_t j = 0; j < n; ++j) mx = std::max(mx, scale * x[i * cols + j]);
    for (std::int64_t j = 0; j < n; ++j) sum += std::exp(scale * x[i * cols + j] - mx);
    for (std::int64_t j = 0; j < n; ++j) y[i * cols + j] = float(std::exp(scale * x[i * cols + j] - mx) / sum);
  }
  return y;
}

// One head: softmax(Q K^T * scale, causal optional) V with Q, K, V n x d. Computed in double from
// the scores to the output (no float rounding of S or P).
inline Mat attention(const Mat& q, const Mat& k, const Mat& v, std::int64_t n, std::int64_t d, double scale,
                     bool causal) {
  require(std::int64_t(q.size()) == n * d && k.size() == q.size() && v.size() == q.size(), "attention shapes");
  Mat o(n * d);
  std::vector<double> p(n);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t keys = causal ? i + 1 : n;
    double mx = -std::numeric_limits<double>::infinity(), sum = 0;
    for (std::int64_t j = 0; j < keys; ++j) {
      double s = 0;
      for (std::int64_t c = 0; c < d; ++c) s += double(q[i * d + c]) * k[j * d + c];
      p[j] = s * scale;
      mx = std::max(mx, p[j]);
    }
    for (std::int64_t j = 0; j < keys; ++j) sum += p[j] = std::exp(p[j] - mx);
    for (std::int64_t c = 0; c < d; ++c) {
      double acc = 0;
      for (std::int64_t j = 0; j < keys; ++j) acc += p[j] * v[j * d + c];
      o[i * d + c] = float(acc / sum);
    }
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// A transformer layer (see the top of the file). Field names follow config/model_config.h's
// LayerSpec; the enums are this file's own so that the reference depends on nothing in src/.

enum class Norm { LayerNorm, RmsNorm };
enum class Act { Gelu, Relu, SwiGlu };

struct Layer {
  std::int64_t batch = 1, seq_len = 0, d_model = 0, heads = 0, head_dim = 0, ffn_width = 0;
  Norm norm = Norm::LayerNorm;
  bool pre_norm = true;
  Act act = Act::Gelu;
  bool causal = false;

  std::int64_t tokens() const { return batch * seq_len; }
  std::int64_t hd() const { return heads * head_dim; }
  std::int64_t w1_cols() const { return act == Act::SwiGlu ? 2 * ffn_width : ffn_width; }
  std::int64_t norm_rows() const { return norm == Norm::LayerNorm ? 2 : 1; }
};

struct LayerWeights {
  Mat wqkv;          // D x 3HD
  Mat wo;            // HD x D
  Mat w1;            // D x F (D x 2F for SwiGLU)
  Mat w2;            // F x D
  Mat norm1, norm2;  // norm_rows() x D

  // Weights uniform in [-1, 1] / sqrt(fan in), so activations stay of order one through the layer;
  // gamma in [0.75, 1.25] and beta in [-0.25, 0.25].
  static LayerWeights random(const Layer& l, std::uint64_t seed) {
    auto scaled = [](Mat v, std::int64_t fan_in) {
      const float s = float(1 / std::sqrt(double(fan_in)));
      for (float& x : v) x *= s;
      return v;
    };
    auto norm = [&](std::uint64_t s) {
      Mat p = random_values(l.norm_rows() * l.d_model, s);
      for (std::int64_t c = 0; c < l.d_model; ++c) p[c] = 1 + 0.25f * p[c];
      for (std::int64_t c = l.d_model; c < std::int64_t(p.size()); ++c) p[c] *= 0.25f;
      return p;
    };
    LayerWeights w;
    w.wqkv = scaled(random_values(l.d_model * 3 * l.hd(), seed + 1), l.d_model);
    w.wo = scaled(random_values(l.hd() * l.d_model, seed + 2), l.hd());
    w.w1 = scaled(random_values(l.d_model * l.w1_cols(), seed + 3), l.d_model);
    w.w2 = scaled(random_values(l.ffn_width * l.d_model, seed + 4), l.ffn_width);
    w.norm1 = norm(seed + 5);
    w.norm2 = norm(seed + 6);
    return w;
  }
};

inline Mat norm(const Layer& l, const Mat& x, const Mat& params) {
  return l.norm == Norm::LayerNorm ? layernorm(x, l.tokens(), l.d_model, params)
                                   : rmsnorm(x, l.tokens(), l.d_model, params);
}

// f = Act(x W1) (T x F) for x of T x D.
inline Mat ffn_activation(const Layer& l, const Mat& hidden) {
  switch (l.act) {
    case Act::Gelu:
      return gelu(hidden);
    case Act::Relu:
      return relu(hidden);
    case Act::SwiGlu:
      return swiglu(hidden, l.tokens(), l.ffn_width);
  }
  return {};
}

// The attention core: qkv (T x 3HD) -> o (T x HD), per batch and head.
inline Mat multi_head_attention(const Layer& l, const Mat& qkv) {
  const std::int64_t n = l.seq_len, dh = l.head_dim, hd = l.hd();
  require(std::int64_t(qkv.size()) == l.tokens() * 3 * hd, "qkv shape");
  Mat o(l.tokens() * hd);
  const double scale = 1 / std::sqrt(double(dh));
  for (std::int64_t b = 0; b < l.batch; ++b)
    for (std::int64_t h = 0; h < l.heads; ++h) {
      const Mat q = block(qkv, 3 * hd, b * n, n, h * dh, dh), k = block(qkv, 3 * hd, b * n, n, hd + h * dh, dh),
                v = block(qkv, 3 * hd, b * n, n, 2 * hd + h * dh, dh);
      const Mat oh = attention(q, k, v, n, dh, scale, l.causal);
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t c = 0; c < dh; ++c) o[(b * n + i) * hd + h * dh + c] = oh[i * dh + c];
    }
  return o;
}

// The whole layer: x (T x D) -> y (T x D).
inline Mat transformer_layer(const Layer& l, const LayerWeights& w, const Mat& x) {
  const std::int64_t t = l.tokens(), d = l.d_model, hd = l.hd(), f = l.ffn_width;
  require(std::int64_t(x.size()) == t * d, "x shape");
  require(std::int64_t(w.wqkv.size()) == d * 3 * hd && std::int64_t(w.wo.size()) == hd * d &&
              std::int64_t(w.w1.size()) == d * l.w1_cols() && std::int64_t(w.w2.size()) == f * d &&
              std::int64_t(w.norm1.size()) == l.norm_rows() * d && std::int64_t(w.norm2.size()) == l.norm_rows() * d,
          "weight shapes");
  if (l.pre_norm) {
    const Mat xn = norm(l, x, w.norm1);
    const Mat o = multi_head_attention(l, matmul(xn, w.wqkv, t, d, 3 * hd));
    const Mat h = add(x, matmul(o, w.wo, t, hd, d));
    const Mat hn = norm(l, h, w.norm2);
    const Mat act = ffn_activation(l, matmul(hn, w.w1, t, d, l.w1_cols()));
    return add(h, matmul(act, w.w2, t, f, d));
  }
  const Mat o = multi_head_attention(l, matmul(x, w.wqkv, t, d, 3 * hd));
  const Mat h = norm(l, add(x, matmul(o, w.wo, t, hd, d)), w.norm1);
  const Mat act = ffn_activation(l, matmul(h, w.w1, t, d, l.w1_cols()));
  return norm(l, add(h, matmul(act, w.w2, t, f, d)), w.norm2);
}

}  // namespace attnsim::ref
