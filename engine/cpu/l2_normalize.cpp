// Row-wise L2 normalisation on the CPU (the margin losses' embeddings and class weights); one
// row per task, the norm in double.
#include <cmath>

#include "engine/cpu/kernels.h"

namespace mfd::cpu {

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

template void l2_normalize_forward<float>(const float*, double, float*, int64_t, int64_t);
template void l2_normalize_forward<double>(const double*, double, double*, int64_t, int64_t);
template void l2_normalize_backward<float>(const float*, const float*, const float*, double, float*, int64_t, int64_t);
template void l2_normalize_backward<double>(const double*, const double*, const double*, double, double*, int64_t,
                                            int64_t);

}  // namespace mfd::cpu
