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
void center_deltas(const T* x, const int32_t* labels, const T* centers, T* delta, T* counts, int64_t n, int64_t e,
                   int64_t k) {
  // Per class: the count and the sum of (c_j - x_i) over its samples, in sample order.
  std::vector<double> d(k * e, 0.0), count(k, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = labels[i];
    count[c] += 1;
    for (int64_t j = 0; j < e; ++j) d[c * e + j] += double(centers[c * e + j]) - x[i * e + j];
  }
  for (int64_t i = 0; i < k * e; ++i) delta[i] = static_cast<T>(d[i]);
  for (int64_t c = 0; c < k; ++c) counts[c] = static_cast<T>(count[c]);
}

template <typename T> void center_apply(const T* delta, const T* counts, double alpha, T* centers, int64_t e, int64_t k) {
  for (int64_t c = 0; c < k; ++c)
    for (int64_t j = 0; j < e; ++j)
      centers[c * e + j] = static_cast<T>(centers[c * e + j] - alpha * delta[c * e + j] / (1.0 + counts[c]));
}

#define MFD_INSTANTIATE(T)                                                                                  \
  template void center_loss_forward<T>(const T*, const T*, const int32_t*, T*, int64_t, int64_t);           \
  template void center_loss_backward<T>(const T*, const T*, const int32_t*, T, T*, int64_t, int64_t);       \
  template void center_deltas<T>(const T*, const int32_t*, const T*, T*, T*, int64_t, int64_t, int64_t); \
  template void center_apply<T>(const T*, const T*, double, T*, int64_t, int64_t);
MFD_INSTANTIATE(float)
MFD_INSTANTIATE(double)
#undef MFD_INSTANTIATE

}  // namespace mfd::cpu
