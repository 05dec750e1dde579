// MFD loss on the CPU. x (B, D, M) with M = H * W is centred into y (D, N), N = B * M; one
// symmetric product S = y y^T (OpenBLAS syrk); the normalisation and both sums over the D x D
// matrix in one pass. Backward builds A = dL/dy y^-1 (D x D) in one pass and does one GEMM,
// dy = A y, written into dx's layout.
//
// With F_ij = S_ij r_i r_j (r_i = 1/||y_i||, 0 when dead) and L = sum_{i!=j} F_ij^2 / P:
//   dL/dy_i = (4/P) [ sum_{j!=i} F_ij r_i r_j y_j - (sum_{j!=i} F_ij^2) r_i^2 y_i ],
// i.e. dy = A y with A symmetric. Every row of y sums to zero over the centring group (the
// batch at each position, or the whole channel), and A only mixes rows, so A y is already
// centred: the backward of the centring (subtracting the group mean of dy) is the identity here.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/cpu/blas.h"
#include "engine/cpu/kernels.h"
#include "engine/cpu/lane_sum.h"
#include "engine/mfd_math.h"

namespace mfd::cpu {

namespace {

inline void syrk(int64_t d, int64_t n, const float* y, float* s) {
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, d, n, 1.0f, y, n, 0.0f, s, d);
}
inline void syrk(int64_t d, int64_t n, const double* y, double* s) {
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, d, n, 1.0, y, n, 0.0, s, d);
}

// The group sums of channel i over the shard in x: per position (batch centring, `sum` has m
// entries) or over all its values (channel centring, one entry), in double, and sum x^2.
template <typename T>
void channel_sums(const T* x, int64_t b, int64_t d, int64_t m, int64_t i, MfdCentering centering, double* sum,
                  double& raw) {
  const bool batch = centering == MfdCentering::batch;
  std::fill(sum, sum + (batch ? m : 1), 0.0);
  LaneSum energy, all;
  for (int64_t k = 0; k < b; ++k) {
    const T* xi = x + (k * d + i) * m;
    if (batch) {
      for (int64_t p = 0; p < m; ++p) sum[p] += xi[p];
    } else {
      for_lanes(m, [&](int64_t p, int l) { all.lane[l] += xi[p]; });
    }
    for_lanes(m, [&](int64_t p, int l) { energy.lane[l] += double(xi[p]) * xi[p]; });
  }
  if (!batch) sum[0] = all.total();
  raw = energy.total();
}

// Row i of y = channel i of x minus its group mean; returns the centred energy sum y^2 (double).
template <typename T>
double center_channel(const T* x, int64_t b, int64_t d, int64_t m, int64_t i, MfdCentering centering,
                      const double* mean, T* yi) {
  const bool batch = centering == MfdCentering::batch;
  LaneSum centred;
  for (int64_t k = 0; k < b; ++k) {
    const T* xi = x + (k * d + i) * m;
    T* out = yi + k * m;
    if (batch) {
      for_lanes(m, [&](int64_t p, int l) {
        const double v = xi[p] - mean[p];
        out[p] = static_cast<T>(v);
        centred.lane[l] += v * v;
      });
    } else {
      const double mu = mean[0];
      for_lanes(m, [&](int64_t p, int l) {
        const double v = xi[p] - mu;
        out[p] = static_cast<T>(v);
        centred.lane[l] += v * v;
      });
    }
  }
  return centred.total();
}

// corr holds S = y y^T above the diagonal: normalise it into F, mirror it below, and sum F^2 and
// |F| off the diagonal, per row, then the rows in order (the result does not depend on threads).
template <typename T> void normalize_and_sum(T* corr, const T* inv_norm, int64_t d, T* loss, T* mean_abs) {
  std::vector<double> row_sq(d, 0.0), row_abs(d, 0.0);
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < d; ++i) {
    T* row = corr + i * d + i + 1;  // the entries right of the diagonal
    const T* r = inv_norm + i + 1;
    const T ri = inv_norm[i];
    corr[i * d + i] = ri != T(0) ? T(1) : T(0);
    LaneSum sq, abs;
    for_lanes(d - i - 1, [&](int64_t j, int l) {
      const T f = row[j] * ri * r[j];
      row[j] = f;
      sq.lane[l] += double(f) * f;
      abs.lane[l] += std::fabs(double(f));
    });
    row_sq[i] = 2.0 * sq.total(), row_abs[i] = 2.0 * abs.total();
  }
  // Mirrored below the diagonal tile by tile, so that the column writes stay in cache.
  constexpr int64_t kTile = 64;
  const int64_t tiles = (d + kTile - 1) / kTile;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t bi = 0; bi < tiles; ++bi)
    for (int64_t bj = bi; bj < tiles; ++bj)
      for (int64_t i = bi * kTile; i < std::min(d, (bi + 1) * kTile); ++i)
        for (int64_t j = std::max(i + 1, bj * kTile); j < std::min(d, (bj + 1) * kTile); ++j)
          corr[j * d + i] = corr[i * d + j];
  double sum_sq = 0.0, sum_abs = 0.0;
  for (int64_t i = 0; i < d; ++i) {
    sum_sq += row_sq[i];
    sum_abs += row_abs[i];
  }
  *loss = static_cast<T>(sum_sq / mfd_pairs(d));
  *mean_abs = static_cast<T>(sum_abs / mfd_pairs(d));
}

}  // namespace

template <typename T>
void mfd_forward(const T* x, int64_t b, int64_t d, int64_t m, MfdCentering centering, T* y,
                 T* inv_norm, T* corr, T* loss, T* mean_abs) {
  const int64_t n = b * m;
  const double count = centering == MfdCentering::batch ? double(b) : double(n);
  // Centre channel by channel, in double: the means, the raw and the centred energies.
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < d; ++i) {
    std::vector<double> mean(centering == MfdCentering::batch ? m : 1);
    double raw;
    channel_sums(x, b, d, m, i, centering, mean.data(), raw);
    for (double& v : mean) v /= count;
    inv_norm[i] = static_cast<T>(mfd_inv_norm(center_channel(x, b, d, m, i, centering, mean.data(), y + i * n), raw));
  }
  syrk(d, n, y, corr);  // upper triangle of S
  normalize_and_sum(corr, inv_norm, d, loss, mean_abs);
}

// The same in steps (backend.h), the caller summing over the processes in between.
template <typename T>
void mfd_sums(const T* x, int64_t b, int64_t d, int64_t m, MfdCentering centering, T* sum, T* raw) {
  const int64_t per_channel = centering == MfdCentering::batch ? m : 1;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < d; ++i) {
    std::vector<double> s(per_channel);
    double r;
    channel_sums(x, b, d, m, i, centering, s.data(), r);
    for (int64_t p = 0; p < per_channel; ++p) sum[i * per_channel + p] = static_cast<T>(s[p]);
    raw[i] = static_cast<T>(r);
  }
}

template <typename T>
void mfd_center(const T* x, int64_t b, int64_t d, int64_t m, MfdCentering centering, const T* sum, double count, T* y,
                T* energy) {
  const int64_t per_channel = centering == MfdCentering::batch ? m : 1;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < d; ++i) {
    std::vector<double> mean(per_channel);
    for (int64_t p = 0; p < per_channel; ++p) mean[p] = sum[i * per_channel + p] / count;
    energy[i] = static_cast<T>(center_channel(x, b, d, m, i, centering, mean.data(), y + i * b * m));
  }
}

template <typename T> void mfd_product(const T* y, int64_t d, int64_t n, T* s) {
  std::fill(s, s + d * d, T(0));  // syrk writes the upper triangle; the sum over processes reads all
  if (n > 0) syrk(d, n, y, s);
}

template <typename T>
void mfd_normalize(const T* s, const T* energy, const T* raw, int64_t d, T* inv_norm, T* corr, T* loss, T* mean_abs) {
  for (int64_t i = 0; i < d; ++i) inv_norm[i] = static_cast<T>(mfd_inv_norm(energy[i], raw[i]));
  if (s != corr) std::copy(s, s + d * d, corr);
  normalize_and_sum(corr, inv_norm, d, loss, mean_abs);
}

template <typename T>
void mfd_backward(const T* y, const T* inv_norm, const T* corr, T dloss, T* dx, int64_t b, int64_t d,
                  int64_t m) {
  const int64_t n = b * m;
  const double scale = 4.0 * dloss / mfd_pairs(d);
  Tensor a_buffer = scratch<T>(d * d);
  T* a = a_buffer.data<T>();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < d; ++i) {
    LaneSum row_sq;  // sum over j != i of F_ij^2: the entries left, then right of the diagonal
    const T* f = corr + i * d;
    T* ai = a + i * d;
    const double si = scale * inv_norm[i];
    auto entry = [&](int64_t j, int l) {
      const double fj = f[j];
      ai[j] = static_cast<T>(si * fj * inv_norm[j]);
      row_sq.lane[l] += fj * fj;
    };
    for_lanes(i, entry);
    for_lanes(d - i - 1, [&](int64_t j, int l) { entry(i + 1 + j, l); });
    ai[i] = static_cast<T>(-scale * row_sq.total() * inv_norm[i] * inv_norm[i]);
  }
  if (m >= kMfdPerSampleMinPositions) {
    // dx_k (D x M) += A y_k: one GEMM per sample, straight into dx's layout.
    for (int64_t k = 0; k < b; ++k)
      gemm(false, false, d, m, d, T(1), a, d, y + k * m, n, T(1), dx + k * d * m, m);
    return;
  }
  // Small maps: one wide GEMM into a scratch (D, N), then added into dx's layout.
  Tensor dy_buffer = scratch<T>(d * n);  // every element is written by the GEMM
  T* dy = dy_buffer.data<T>();
  gemm(false, false, d, n, d, T(1), a, d, y, n, T(0), dy, n);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t k = 0; k < b; ++k)
    for (int64_t i = 0; i < d; ++i) {
      const T* src = dy + i * n + k * m;
      T* dst = dx + (k * d + i) * m;
      for (int64_t p = 0; p < m; ++p) dst[p] += src[p];
    }
}

#define MFD_INSTANTIATE(T)                                                                          \
  template void mfd_forward<T>(const T*, int64_t, int64_t, int64_t, MfdCentering, T*, T*, T*, T*, T*); \
  template void mfd_backward<T>(const T*, const T*, const T*, T, T*, int64_t, int64_t, int64_t);      \
  template void mfd_sums<T>(const T*, int64_t, int64_t, int64_t, MfdCentering, T*, T*);               \
  template void mfd_center<T>(const T*, int64_t, int64_t, int64_t, MfdCentering, const T*, double, T*, T*); \
  template void mfd_product<T>(const T*, int64_t, int64_t, T*);                                       \
  template void mfd_normalize<T>(const T*, const T*, const T*, int64_t, T*, T*, T*, T*);
MFD_INSTANTIATE(float)
MFD_INSTANTIATE(double)
#undef MFD_INSTANTIATE

}  // namespace mfd::cpu
