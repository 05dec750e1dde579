// Elementwise CPU kernels: the float arithmetic, ReLU/ReLU6, the whole-tensor sum (a fixed
// partition, so results do not depend on the thread count) and its backward, the SGD step, and the
// counter-based random fills (the formulas of engine/math.h and engine/philox.h, which CUDA runs too).
#include "engine/cpu/kernels.h"
#include "engine/cpu/parallel.h"
#include "engine/math.h"
#include "engine/philox.h"

namespace mfd::cpu {

namespace {
template <typename F> void parallel_for(int64_t n, F f) {
#pragma omp parallel for schedule(static) if (n > 16384)
  for (int64_t i = 0; i < n; ++i) f(i);
}
}  // namespace

template <typename T> void fill(T* p, int64_t n, T value) {
  parallel_for(n, [=](int64_t i) { p[i] = value; });
}
template <typename T> void axpy(T alpha, const T* x, T* y, int64_t n) {
  parallel_for(n, [=](int64_t i) { y[i] += alpha * x[i]; });
}
template <typename T> void add(const T* a, const T* b, T* out, int64_t n) {
  parallel_for(n, [=](int64_t i) { out[i] = a[i] + b[i]; });
}
template <typename T> void mul(const T* a, const T* b, T* out, int64_t n) {
  parallel_for(n, [=](int64_t i) { out[i] = a[i] * b[i]; });
}
template <typename T> void mul_accumulate(const T* a, const T* b, T* out, int64_t n) {
  parallel_for(n, [=](int64_t i) { out[i] += a[i] * b[i]; });
}
template <typename T> void relu_forward(const T* x, T cap, T* y, int64_t n) {
  parallel_for(n, [=](int64_t i) { y[i] = relu_capped(x[i], cap); });
}
template <typename T> void relu_backward(const T* y, const T* dy, T cap, T* dx, int64_t n, bool assign) {
  if (assign) {
    parallel_for(n, [=](int64_t i) { dx[i] = relu_capped_grad(y[i], dy[i], cap); });
  } else {
    parallel_for(n, [=](int64_t i) { dx[i] += relu_capped_grad(y[i], dy[i], cap); });
  }
}
template <typename T> void sum(const T* x, int64_t n, double scale, T* out) {
  *out = static_cast<T>(scale * deterministic_sum(n, [=](int64_t i) { return double(x[i]); }));
}
template <typename T> void broadcast_accumulate(const T* dout, double scale, T* dx, int64_t n) {
  const T g = static_cast<T>(scale * *dout);
  parallel_for(n, [=](int64_t i) { dx[i] += g; });
}
template <typename T> void sgd_step(T* w, const T* g, T* v, int64_t n, T lr, T momentum, T weight_decay) {
  parallel_for(n, [=](int64_t i) { sgd_update(w[i], g[i], v[i], lr, momentum, weight_decay); });
}
template <typename T> void fill_uniform(T* p, int64_t n, double lo, double hi, uint64_t seed, uint64_t offset) {
  parallel_for(n, [=](int64_t i) { p[i] = static_cast<T>(lo + (hi - lo) * philox_uniform(seed, offset, i)); });
}
template <typename T> void fill_normal(T* p, int64_t n, double mean, double std, uint64_t seed, uint64_t offset) {
  parallel_for(n, [=](int64_t i) { p[i] = static_cast<T>(mean + std * philox_normal(seed, offset, i)); });
}
template <typename T> void dropout_mask(T* m, int64_t n, double p, uint64_t seed, uint64_t offset, uint64_t first) {
  parallel_for(n, [=](int64_t i) { m[i] = dropout_keep<T>(philox_uniform(seed, offset, first + i), p); });
}

#define MFD_INSTANTIATE(T)                                                                     \
  template void fill<T>(T*, int64_t, T);                                                       \
  template void axpy<T>(T, const T*, T*, int64_t);                                             \
  template void add<T>(const T*, const T*, T*, int64_t);                                       \
  template void mul<T>(const T*, const T*, T*, int64_t);                                       \
  template void mul_accumulate<T>(const T*, const T*, T*, int64_t);                            \
  template void relu_forward<T>(const T*, T, T*, int64_t);                                     \
  template void relu_backward<T>(const T*, const T*, T, T*, int64_t, bool);                    \
  template void sum<T>(const T*, int64_t, double, T*);                                         \
  template void broadcast_accumulate<T>(const T*, double, T*, int64_t);                        \
  template void sgd_step<T>(T*, const T*, T*, int64_t, T, T, T);                               \
  template void fill_uniform<T>(T*, int64_t, double, double, uint64_t, uint64_t);              \
  template void fill_normal<T>(T*, int64_t, double, double, uint64_t, uint64_t);               \
  template void dropout_mask<T>(T*, int64_t, double, uint64_t, uint64_t, uint64_t);
MFD_INSTANTIATE(float)
MFD_INSTANTIATE(double)
#undef MFD_INSTANTIATE

}  // namespace mfd::cpu
