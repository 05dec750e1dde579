// Elementwise math both backends run: the CPU kernels and the CUDA kernels call these same
// functions, so the CPU tests check the arithmetic the GPU does.
#pragma once
#include <cmath>

#include "engine/hostdevice.h"

namespace mfd {

// clamp(x, 0, cap); cap = +inf gives relu.
template <typename T> MFD_HD T relu_capped(T x, T cap) {
  return x > T(0) ? (x < cap ? x : cap) : T(0);
}
// The gradient passes where the output lies strictly inside (0, cap).
template <typename T> MFD_HD T relu_capped_grad(T y, T dy, T cap) {
  return (y > T(0) && y < cap) ? dy : T(0);
}

// PyTorch's SGD: d = g + wd * w; v = momentum * v + d; w -= lr * v. (On PyTorch's first step
// v = d, which is the same as starting from v = 0.)
template <typename T> MFD_HD void sgd_update(T& w, T g, T& v, T lr, T momentum, T weight_decay) {
  T d = g + weight_decay * w;
  v = momentum * v + d;
  w -= lr * v;
}

// Keep-mask value of dropout for a uniform draw u in (0, 1).
template <typename T> MFD_HD T dropout_keep(double u, double p) {
  return u >= p ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
}

// ArcFace's target logit before scaling, cos(theta + m), with the standard fallback
// cos(theta) - m sin(m) once theta + m passes pi (cos(theta) <= cos(pi - m)), which keeps it
// decreasing in theta; and its derivative with respect to cos(theta).
MFD_HD double arcface_target(double c, double m) {
  const double sin_theta = sqrt(fmax(0.0, 1.0 - c * c));
  return c > cos(3.141592653589793 - m) ? c * cos(m) - sin_theta * sin(m) : c - m * sin(m);
}
MFD_HD double arcface_target_grad(double c, double m) {
  if (c <= cos(3.141592653589793 - m)) return 1.0;
  const double sin_theta = sqrt(fmax(1e-12, 1.0 - c * c));  // finite at |c| = 1
  return cos(m) + c * sin(m) / sin_theta;
}

}  // namespace mfd
