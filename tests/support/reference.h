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

// Each row divided by its Euclidean norm, clamped below at 1e-12: x / max(||x_row||_2, 1e-12).
inline Mat l2_normalize_rows(const Mat& x, std::int64_t rows, std::int64_t cols) {
  require(std::int64_t(x.size()) == rows * cols, "l2_normalize_rows shape");
  Mat y(x.size());
  for (std::int64_t r = 0; r < rows; ++r) {
    double sq = 0;
    for (std::int64_t c = 0; c < cols; ++c) sq += double(x[r * cols + c]) * x[r * cols + c];
    const double norm = std::max(std::sqrt(sq), 1e-12);
    for (std::int64_t c = 0; c < cols; ++c) y[r * cols + c] = float(x[r * cols + c] / norm);
  }
  return y;
}

// The causal prefix mean: row i = (x_0 + ... + x_i) / (i + 1).
inline Mat prefix_mean_rows(const Mat& x, std::int64_t rows, std::int64_t cols) {
  require(std::int64_t(x.size()) == rows * cols, "prefix_mean_rows shape");
  Mat y(x.size());
  std::vector<double> sum(cols, 0.0);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      sum[c] += x[r * cols + c];
      y[r * cols + c] = float(sum[c] / double(r + 1));
    }
  return y;
}

// ---------------------------------------------------------------------------------------------
// Low-rank attention, one head (n tokens, head dim d, rank s). Computed in double from the inputs
// to the output; only the result is rounded to float.

namespace detail {
using DMat = std::vector<double>;
inline DMat to_double(const Mat& a) { return DMat(a.begin(), a.end()); }
inline Mat to_float(const DMat& a) { return Mat(a.begin(), a.end()); }
// c (m x n) = a (m x k) b (k x n), or b^T when b_t (b stored n x k).
inline DMat mm(const DMat& a, const DMat& b, std::int64_t m, std::int64_t k, std::int64_t n, bool b_t = false) {
  DMat c(m * n, 0.0);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (std::int64_t kk = 0; kk < k; ++kk) acc += a[i * k + kk] * (b_t ? b[j * k + kk] : b[kk * n + j]);
      c[i * n + j] = acc;
    }
  return c;
}
// a^T (cols x rows) for a (rows x cols).
inline DMat tr(const DMat& a, std::int64_t rows, std::int64_t cols) {
  DMat t(a.size());
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) t[c * rows + r] = a[r * cols + c];
  return t;
}
inline DMat l2_rows(DMat x, std::int64_t rows, std::int64_t cols) {
  for (std::int64_t r = 0; r < rows; ++r) {
    double sq = 0;
    for (std::int64_t c = 0; c < cols; ++c) sq += x[r * cols + c] * x[r * cols + c];
    const double norm = std::max(std::sqrt(sq), 1e-12);
    for (std::int64_t c = 0; c < cols; ++c) x[r * cols + c] /= norm;
  }
  return x;
}
inline DMat prefix_mean(const DMat& x, std::int64_t rows, std::int64_t cols) {
  DMat y(x.size());
  for (std::int64_t c = 0; c < cols; ++c) {
    double sum = 0;
    for (std::int64_t r = 0; r < rows; ++r) y[r * cols + c] = (sum += x[r * cols + c]) / double(r + 1);
  }
  return y;
}
// O = [E | R] Wc + bc for E, R (n x s), Wc (2s x d), bc (1 x d).
inline Mat primal_output(const DMat& e, const DMat& r, const Mat& wc, const Mat& bc, std::int64_t n, std::int64_t s,
                         std::int64_t d) {
  Mat o(n * d);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t c = 0; c < d; ++c) {
      double acc = bc[c];
      for (std::int64_t j = 0; j < s; ++j) acc += e[i * s + j] * wc[j * d + c] + r[i * s + j] * wc[(s + j) * d + c];
      o[i * d + c] = float(acc);
    }
  return o;
}
}  // namespace detail

// Primal's sampled tokens: idx_i = floor(i (n - 1) / (p - 1)) for i = 0 .. p-1, evenly spread from the
// first token to the last; {n - 1} when p = 1.
inline std::vector<std::int64_t> primal_sample_indices(std::int64_t n, std::int64_t p) {
  require(n >= 1 && p >= 1, "primal_sample_indices: n and p must be positive");
  if (p == 1) return {n - 1};
  std::vector<std::int64_t> idx(p);
  for (std::int64_t i = 0; i < p; ++i) idx[i] = i * (n - 1) / (p - 1);
  return idx;
}

// Primal attention for head `head` (head dim d, rank s, p sampled tokens):
//   x (n x d_model) is the layer's attention input; X_h = its columns [head*d, head*d + d) (n x d);
//   X_s = rows primal_sample_indices(n, p) of X_h (p x d);
//   WeT = we_tilde_t X_s, WrT = wr_tilde_t X_s (s x d), with we_tilde_t, wr_tilde_t (s x p);
//   E = l2_normalize_rows(q) WeT^T, R = l2_normalize_rows(k) WrT^T (n x s), q and k (n x d);
//   O = [E | R] wc + bc (n x d), wc (2s x d), bc (1 x d).
inline Mat primal_attention(const Mat& x, std::int64_t n, std::int64_t d_model, std::int64_t head, std::int64_t d,
                            const Mat& q, const Mat& k, std::int64_t s, std::int64_t p, const Mat& we_tilde_t,
                            const Mat& wr_tilde_t, const Mat& wc, const Mat& bc) {
  require(n >= 1 && d >= 1 && s >= 1 && p >= 1 && head >= 0 && (head + 1) * d <= d_model, "primal_attention dims");
  require(std::int64_t(x.size()) == n * d_model && std::int64_t(q.size()) == n * d && k.size() == q.size() &&
              std::int64_t(we_tilde_t.size()) == s * p && wr_tilde_t.size() == we_tilde_t.size() &&
              std::int64_t(wc.size()) == 2 * s * d && std::int64_t(bc.size()) == d,
          "primal_attention shapes");
  using namespace detail;
  const std::vector<std::int64_t> idx = primal_sample_indices(n, p);
  DMat xs(p * d);
  for (std::int64_t i = 0; i < p; ++i)
    for (std::int64_t c = 0; c < d; ++c) xs[i * d + c] = x[idx[i] * d_model + head * d + c];
  const DMat we_t = mm(to_double(we_tilde_t), xs, s, p, d), wr_t = mm(to_double(wr_tilde_t), xs, s, p, d);
  const DMat e = mm(l2_rows(to_double(q), n, d), we_t, n, d, s, true);
  const DMat r = mm(l2_rows(to_double(k), n, d), wr_t, n, d, s, true);
  return primal_output(e, r, wc, bc, n, s, d);
}

// Causal primal attention for one head: the prefix means q_bar = prefix_mean_rows(q), k_bar likewise,
// row-normalised, against learned we_t, wr_t (s x d):
//   E = l2_normalize_rows(q_bar) we_t^T, R = l2_normalize_rows(k_bar) wr_t^T (n x s);
//   O = [E | R] wc + bc (n x d), wc (2s x d), bc (1 x d).
inline Mat primal_causal_attention(const Mat& q, const Mat& k, std::int64_t n, std::int64_t d, std::int64_t s,
                                   const Mat& we_t, const Mat& wr_t, const Mat& wc, const Mat& bc) {
  require(n >= 1 && d >= 1 && s >= 1, "primal_causal_attention dims");
  require(std::int64_t(q.size()) == n * d && k.size() == q.size() && std::int64_t(we_t.size()) == s * d &&
              wr_t.size() == we_t.size() && std::int64_t(wc.size()) == 2 * s * d && std::int64_t(bc.size()) == d,
          "primal_causal_attention shapes");
  using namespace detail;
  const DMat qn = l2_rows(prefix_mean(to_double(q), n, d), n, d), kn = l2_rows(prefix_mean(to_double(k), n, d), n, d);
  const DMat e = mm(qn, to_double(we_t), n, d, s, true), r = mm(kn, to_double(wr_t), n, d, s, true);
  return primal_output(e, r, wc, bc, n, s, d);
}

// Low-rank linear attention for one head: O = (Q W_Q) ((K W_K)^T V) (n x d), with q, k, v (n x d),
// w_q (d x s) and W_K given transposed as w_kt (s x d), so K W_K = K w_kt^T (n x s).
// Linformer, one head: K~ = E K, V~ = F V (E, F: k x n), O = softmax(scale Q K~^T) V~.
inline Mat linformer_attention(const Mat& q, const Mat& k, const Mat& v, std::int64_t n, std::int64_t d,
                               std::int64_t kk, const Mat& e, const Mat& f, double scale) {
  const Mat kp = matmul(e, k, kk, n, d), vp = matmul(f, v, kk, n, d);
  const Mat s = matmul(q, transpose(kp, kk, d), n, d, kk);
  return matmul(softmax_rows(s, n, kk, scale, false), vp, n, kk, d);
}

// Performer (FAVOR+, non-causal), one head, m random features w (d x m): with c = d^(-1/4),
//   phi(x)_j = exp(c (x w)_j - c^2 |x|^2 / 2) / sqrt(m)   (no max-subtraction stabiliser)
//   O_i = sum_t (phi(q_i) . phi(k_t)) v_t / sum_t (phi(q_i) . phi(k_t)),
// computed as the linear-attention product Qf (Kf^T V) over Qf (Kf^T 1), all in double.
inline Mat performer_attention(const Mat& q, const Mat& k, const Mat& v, std::int64_t n, std::int64_t d,
                               std::int64_t m, const Mat& w) {
  require(n >= 1 && d >= 1 && m >= 1, "performer_attention dims");
  require(std::int64_t(q.size()) == n * d && k.size() == q.size() && v.size() == q.size() &&
              std::int64_t(w.size()) == d * m,
          "performer_attention shapes");
  using namespace detail;
  const double c = 1 / std::sqrt(std::sqrt(double(d)));
  auto features = [&](const Mat& x) {  // n x m
    DMat xw = mm(to_double(x), to_double(w), n, d, m);
    for (std::int64_t i = 0; i < n; ++i) {
      double sq = 0;
      for (std::int64_t j = 0; j < d; ++j) sq += double(x[i * d + j]) * x[i * d + j];
      for (std::int64_t j = 0; j < m; ++j)
        xw[i * m + j] = std::exp(c * xw[i * m + j] - c * c * sq / 2) / std::sqrt(double(m));
    }
    return xw;
  };
  const DMat qf = features(q), kft = tr(features(k), n, m);  // kft: m x n
  const DMat kv = mm(kft, to_double(v), m, n, d), z = mm(kft, DMat(n, 1.0), m, n, 1);
  const DMat num = mm(qf, kv, n, m, d), den = mm(qf, z, n, m, 1);
  DMat o(n * d);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < d; ++j) o[i * d + j] = num[i * d + j] / den[i];
  return to_float(o);
}

// Nystromformer (Xiong et al. 2021, non-causal), one head, l landmarks, all in double:
//   Q~, K~ (l x d): landmark i = the mean of rows [floor(i n / l), floor((i + 1) n / l));
//   F = softmax(s Q K~^T), A = softmax(s Q~ K~^T), BV = softmax(s Q~ K^T) V (s = 1 / sqrt(d));
//   A+ by the paper code's iteration: Z0 = A^T / (max_j sum_i A_ij * max_i sum_j A_ij), 6 times
//   Z <- 0.25 Z (13 I - A Z (15 I - A Z (7 I - A Z))); O = F (A+ BV).
inline Mat nystromformer_attention(const Mat& q, const Mat& k, const Mat& v, std::int64_t n, std::int64_t d,
                                   std::int64_t l) {
  require(n >= 1 && d >= 1 && l >= 1 && l <= n, "nystromformer_attention dims");
  require(std::int64_t(q.size()) == n * d && k.size() == q.size() && v.size() == q.size(),
          "nystromformer_attention shapes");
  using namespace detail;
  const double sc = 1 / std::sqrt(double(d));
  auto landmarks = [&](const Mat& x) {
    DMat m(std::size_t(l * d), 0.0);
    for (std::int64_t i = 0; i < l; ++i) {
      const std::int64_t r0 = i * n / l, r1 = (i + 1) * n / l;
      for (std::int64_t r = r0; r < r1; ++r)
        for (std::int64_t j = 0; j < d; ++j) m[std::size_t(i * d + j)] += x[std::size_t(r * d + j)];
      for (std::int64_t j = 0; j < d; ++j) m[std::size_t(i * d + j)] /= double(r1 - r0);
    }
    return m;
  };
  auto softmax = [&](DMat s, std::int64_t rows, std::int64_t cols) {
    for (std::int64_t r = 0; r < rows; ++r) {
      double mx = -1e300, sum = 0;
      for (std::int64_t j = 0; j < cols; ++j) mx = std::max(mx, sc * s[std::size_t(r * cols + j)]);
      for (std::int64_t j = 0; j < cols; ++j) {
        double& e = s[std::size_t(r * cols + j)];
        e = std::exp(sc * e - mx);
        sum += e;
      }
      for (std::int64_t j = 0; j < cols; ++j) s[std::size_t(r * cols + j)] /= sum;
    }
    return s;
  };
  const DMat qd = to_double(q), kd = to_double(k), vd = to_double(v), ql = landmarks(q), kl = landmarks(k);
  const DMat f = softmax(mm(qd, kl, n, d, l, true), n, l), a = softmax(mm(ql, kl, l, d, l, true), l, l);
  const DMat bv = mm(softmax(mm(ql, kd, l, d, n, true), l, n), vd, l, n, d);
  double max_col = 0, max_row = 0;
  for (std::int64_t j = 0; j < l; ++j) {
    double cs = 0, rs = 0;
    for (std::int64_t i = 0; i < l; ++i) cs += a[std::size_t(i * l + j)], rs += a[std::size_t(j * l + i)];
    max_col = std::max(max_col, cs), max_row = std::max(max_row, rs);
  }
  DMat z = tr(a, l, l);
  for (double& x : z) x /= max_col * max_row;
  auto cminus = [&](double c, DMat x) {  // c I - x
    for (double& e : x) e = -e;
    for (std::int64_t i = 0; i < l; ++i) x[std::size_t(i * l + i)] += c;
    return x;
  };
  for (int it = 0; it < 6; ++it) {
    const DMat az = mm(a, z, l, l, l);
    const DMat inner = mm(az, cminus(15, mm(az, cminus(7, az), l, l, l)), l, l, l);
    z = mm(z, cminus(13, inner), l, l, l);
    for (double& e : z) e *= 0.25;
  }
  return to_float(mm(f, mm(z, bv, l, l, d), n, l, d));
}

inline Mat lowrank_linear_attention(const Mat& q, const Mat& k, const Mat& v, std::int64_t n, std::int64_t d,
                                    std::int64_t s, const Mat& w_q, const Mat& w_kt) {
  require(n >= 1 && d >= 1 && s >= 1, "lowrank_linear_attention dims");
  require(std::int64_t(q.size()) == n * d && k.size() == q.size() && v.size() == q.size() &&
              std::int64_t(w_q.size()) == d * s && w_kt.size() == w_q.size(),
          "lowrank_linear_attention shapes");
  using namespace detail;
  const DMat qw = mm(to_double(q), to_double(w_q), n, d, s);
  const DMat kw = mm(to_double(k), to_double(w_kt), n, d, s, true);
  const DMat kv = mm(tr(kw, n, s), to_double(v), s, n, d);  // (K W_K)^T V, s x d
  return to_float(mm(qw, kv, n, s, d));
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
