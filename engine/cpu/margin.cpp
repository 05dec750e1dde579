// Margin logits (AM-Softmax, ArcFace) and Center Loss on the CPU; one row (sample) per task.
#include <cmath>
#include <vector>

#include "engine/cpu/kernels.h"
#include "engine/math.h"

namespace mfd::cpu {

template <typename T>
void margin_logits_forward(const T* cos, const int32_t* labels, const MarginParams& p, T* out, int64_t n,
                           int64_t k) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < k; ++j) out[i * k + j] = static_cast<T>(p.s * cos[i * k + j]);
    const double c = cos[i * k + labels[i]];
    const double target = p.kind == MarginParams::additive_cosine ? c - p.m : arcface_target(c, p.m);
    out[i * k + labels[i]] = static_cast<T>(p.s * target);
  }
}

template <typename T>
void margin_logits_backward(const T* cos, const int32_t* labels, const MarginParams& p, const T* dout,
                            T* dcos, int64_t n, int64_t k) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < k; ++j) {
      if (j == labels[i]) continue;
      dcos[i * k + j] += static_cast<T>(p.s * dout[i * k + j]);
    }
    const int64_t y = i * k + labels[i];
    const double slope = p.kind == MarginParams::additive_cosine ? 1.0 : arcface_target_grad(cos[y], p.m);
    dcos[y] += static_cast<T>(p.s * slope * dout[y]);
  }
}

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

#define MFD_INSTANTIATE(T)                                                                                 \
  template void margin_logits_forward<T>(const T*, const int32_t*, const MarginParams&, T*, int64_t, int64_t); \
  template void margin_logits_backward<T>(const T*, const int32_t*, const MarginParams&, const T*, T*, int64_t, \
                                          int64_t);                                                          \
  template void center_loss_forward<T>(const T*, const T*, const int32_t*, T*, int64_t, int64_t);           \
  template void center_loss_backward<T>(const T*, const T*, const int32_t*, T, T*, int64_t, int64_t);       \
  template void center_update<T>(const T*, const int32_t*, double, T*, int64_t, int64_t, int64_t);
MFD_INSTANTIATE(float)
MFD_INSTANTIATE(double)
#undef MFD_INSTANTIATE

}  // namespace mfd::cpu
