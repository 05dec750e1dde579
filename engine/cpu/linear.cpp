// Linear on the CPU: y (N, O) = x (N, I) w^T (I, O) + b, with OpenBLAS.
#include "engine/cpu/blas.h"
#include "engine/cpu/kernels.h"

namespace mfd::cpu {

template <typename T>
void linear_forward(const T* x, const T* w, const T* b, T* y, int64_t n, int64_t in, int64_t out) {
  gemm(false, true, n, out, in, T(1), x, in, w, in, T(0), y, out);
  if (!b) return;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < out; ++o) y[i * out + o] += b[o];
}

template <typename T>
void linear_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, int64_t n,
                     int64_t in, int64_t out) {
  if (dx) gemm(false, false, n, in, out, T(1), dy, out, w, in, T(1), dx, in);  // dx += dy w
  if (dw) gemm(true, false, out, in, n, T(1), dy, out, x, in, T(1), dw, in);   // dw += dy^T x
  if (db) {
    for (int64_t o = 0; o < out; ++o) {
      double s = 0.0;
      for (int64_t i = 0; i < n; ++i) s += dy[i * out + o];
      db[o] += static_cast<T>(s);
    }
  }
}

template void linear_forward<float>(const float*, const float*, const float*, float*, int64_t, int64_t, int64_t);
template void linear_forward<double>(const double*, const double*, const double*, double*, int64_t, int64_t, int64_t);
template void linear_backward<float>(const float*, const float*, const float*, float*, float*, float*,
                                     int64_t, int64_t, int64_t);
template void linear_backward<double>(const double*, const double*, const double*, double*, double*,
                                      double*, int64_t, int64_t, int64_t);

}  // namespace mfd::cpu
