// Center Loss on the CPU: the loss, its input gradient and Wen et al.'s centre update.
#include <cmath>
#include <vector>

#include "engine/cpu/kernels.h"

namespace mfd::cpu {

template <typename T>
void center_loss_forward(const T* x, const T* centers, const int32_t* labels, T* loss, int64_t n, int64_t e) {
  std::vector<double> row(n);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    double s = 0.0;
    for (int64_t j = 0; j < e; ++j) {
      const double diff = double(x[i * e + j]) - centers[labels[i] * e + j];
      s += diff * diff;
    }
    row[i] = s;
  }
  double total = 0.0;
  for (double r : row) total += r;
  *loss = static_cast<T>(0.5 * total / static_cast<double>(n));
}

template <typename T>
void center_loss_backward(const T* x, const T* centers, const int32_t* labels, T dloss, T* dx, int64_t n,
                          int64_t e) {
  const T scale = dloss / static_cast<T>(n);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < e; ++j) dx[i * e + j] += scale * (x[i * e + j] - centers[labels[i] * e + j]);
}

template <typename T>
void center_update(const T* x, const int32_t* labels, double alpha, T* centers, int64_t n, int64_t e, int64_t k) {
  // Per class: the count and the sum of (c_j - x_i) over its samples, in sample order.
  std::vector<double> delta(k * e, 0.0);
  std::vector<int64_t> count(k, 0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = labels[i];
    ++count[c];
    for (int64_t j = 0; j < e; ++j) delta[c * e + j] += double(centers[c * e + j]) - x[i * e + j];
  }
  for (int64_t c = 0; c < k; ++c)
    for (int64_t j = 0; j < e; ++j)
      centers[c * e + j] = static_cast<T>(centers[c * e + j] - alpha * delta[c * e + j] / (1.0 + count[c]));
}

#define MFD_INSTANTIATE(T)                                                                                  \
  template void center_loss_forward<T>(const T*, const T*, const int32_t*, T*, int64_t, int64_t);           \
  template void center_loss_backward<T>(const T*, const T*, const int32_t*, T, T*, int64_t, int64_t);       \
  template void center_update<T>(const T*, const int32_t*, double, T*, int64_t, int64_t, int64_t);
MFD_INSTANTIATE(float)
MFD_INSTANTIATE(double)
#undef MFD_INSTANTIATE

}  // namespace mfd::cpu
