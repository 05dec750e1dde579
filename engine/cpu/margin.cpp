// AM-Softmax and ArcFace margin logits on the CPU (engine/math.h's formulas, which CUDA runs too);
// one row per task.
#include <cmath>

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

#define MFD_INSTANTIATE(T)                                                                                        \
  template void margin_logits_forward<T>(const T*, const int32_t*, const MarginParams&, T*, int64_t, int64_t);   \
  template void margin_logits_backward<T>(const T*, const int32_t*, const MarginParams&, const T*, T*, int64_t, \
                                          int64_t);
MFD_INSTANTIATE(float)
MFD_INSTANTIATE(double)
#undef MFD_INSTANTIATE

}  // namespace mfd::cpu
