// Row-wise kernels on (N, D) matrices: softmax cross-entropy and L2 normalisation.
// Each row is one task; sums are taken in double.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/cpu/kernels.h"

namespace mfd::cpu {

template <typename T>
void softmax_cross_entropy_forward(const T* logits, const int32_t* labels, T* loss, T* probs,
                                   int64_t n, int64_t k) {
  std::vector<double> row_loss(n);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const T* z = logits + i * k;
    T* pr = probs + i * k;
    const double top = *std::max_element(z, z + k);
    double denom = 0.0;
    for (int64_t j = 0; j < k; ++j) denom += std::exp(double(z[j]) - top);
    for (int64_t j = 0; j < k; ++j) pr[j] = static_cast<T>(std::exp(double(z[j]) - top) / denom);
    row_loss[i] = std::log(denom) + top - double(z[labels[i]]);
  }
  double total = 0.0;
  for (double l : row_loss) total += l;
  *loss = static_cast<T>(total / static_cast<double>(n));
}

template <typename T>
void softmax_cross_entropy_backward(const T* probs, const int32_t* labels, T dloss, T* dlogits,
                                    int64_t n, int64_t k) {
  const T scale = dloss / static_cast<T>(n);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < k; ++j) dlogits[i * k + j] += scale * probs[i * k + j];
    dlogits[i * k + labels[i]] -= scale;
  }
}

template <typename T> void l2_normalize_forward(const T* x, double eps, T* y, int64_t n, int64_t d) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    double sq = 0.0;
    for (int64_t j = 0; j < d; ++j) sq += double(x[i * d + j]) * x[i * d + j];
    const double inv = 1.0 / std::max(std::sqrt(sq), eps);
    for (int64_t j = 0; j < d; ++j) y[i * d + j] = static_cast<T>(x[i * d + j] * inv);
  }
}

template <typename T>
void l2_normalize_backward(const T* x, const T* y, const T* dy, double eps, T* dx, int64_t n,
                           int64_t d) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    double sq = 0.0, y_dot_dy = 0.0;
    for (int64_t j = 0; j < d; ++j) {
      sq += double(x[i * d + j]) * x[i * d + j];
      y_dot_dy += double(y[i * d + j]) * dy[i * d + j];
    }
    const double norm = std::sqrt(sq);
    // Above eps, y = x / |x| and dx = (dy - y (y . dy)) / |x|; below it y = x / eps is linear.
    const bool clamped = norm < eps;
    const double inv = 1.0 / (clamped ? eps : norm);
    for (int64_t j = 0; j < d; ++j) {
      const double along = clamped ? 0.0 : y[i * d + j] * y_dot_dy;
      dx[i * d + j] += static_cast<T>((dy[i * d + j] - along) * inv);
    }
  }
}

#define MFD_INSTANTIATE(T)                                                                        \
  template void softmax_cross_entropy_forward<T>(const T*, const int32_t*, T*, T*, int64_t, int64_t); \
  template void softmax_cross_entropy_backward<T>(const T*, const int32_t*, T, T*, int64_t, int64_t); \
  template void l2_normalize_forward<T>(const T*, double, T*, int64_t, int64_t);                 \
  template void l2_normalize_backward<T>(const T*, const T*, const T*, double, T*, int64_t, int64_t);
MFD_INSTANTIATE(float)
MFD_INSTANTIATE(double)
#undef MFD_INSTANTIATE

}  // namespace mfd::cpu
