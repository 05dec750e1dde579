// Max, average and global average pooling on the CPU, one (n, c) plane per task. Floor mode; max pads with -inf,
// average counts padded positions in its divisor (PyTorch's count_include_pad=True).
#include <algorithm>
#include <limits>

#include "engine/cpu/kernels.h"
#include "engine/pool_math.h"

namespace mfd::cpu {

namespace {

using Window = PoolWindow;
inline Window window_at(const PoolShape& g, int64_t oh, int64_t ow) { return pool_window(g.params, g.h, g.w, oh, ow); }

// Calls f(index in plane) for the in-bounds positions of window (oh, ow), in row-major order.
template <typename F> void for_window(const PoolShape& g, int64_t oh, int64_t ow, F f) {
  const Window win = window_at(g, oh, ow);
  for (int64_t ih = win.h0; ih < win.h1; ++ih)
    for (int64_t iw = win.w0; iw < win.w1; ++iw) f(ih * g.w + iw);
}


}  // namespace

template <typename T> void max_pool2d_forward(const T* x, T* y, const PoolShape& g) {
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < g.planes; ++pl) {
    const T* plane = x + pl * g.h * g.w;
    for (int64_t oh = 0; oh < g.p; ++oh)
      for (int64_t ow = 0; ow < g.q; ++ow) {
        const Window win = window_at(g, oh, ow);
        T best = -std::numeric_limits<T>::infinity();  // branch-free max; ties do not matter here
        for (int64_t ih = win.h0; ih < win.h1; ++ih)
          for (int64_t iw = win.w0; iw < win.w1; ++iw) best = std::max(best, plane[ih * g.w + iw]);
        y[(pl * g.p + oh) * g.q + ow] = best;
      }
  }
}

template <typename T>
void max_pool2d_backward(const T* x, const T* /*y*/, const T* dy, T* dx, const PoolShape& g) {
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < g.planes; ++pl) {
    const T* plane = x + pl * g.h * g.w;
    T* dplane = dx + pl * g.h * g.w;
    for (int64_t oh = 0; oh < g.p; ++oh)
      for (int64_t ow = 0; ow < g.q; ++ow) {
        const int64_t idx = pool_argmax(plane, g.w, window_at(g, oh, ow));
        if (idx >= 0) dplane[idx] += dy[(pl * g.p + oh) * g.q + ow];
      }
  }
}

template <typename T> void avg_pool2d_forward(const T* x, T* y, const PoolShape& g) {
  const double divisor = g.params.kernel_h * g.params.kernel_w;
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < g.planes; ++pl) {
    const T* plane = x + pl * g.h * g.w;
    for (int64_t oh = 0; oh < g.p; ++oh)
      for (int64_t ow = 0; ow < g.q; ++ow) {
        double s = 0.0;
        for_window(g, oh, ow, [&](int64_t idx) { s += plane[idx]; });
        y[(pl * g.p + oh) * g.q + ow] = static_cast<T>(s / divisor);
      }
  }
}

template <typename T> void avg_pool2d_backward(const T* dy, T* dx, const PoolShape& g) {
  const double divisor = g.params.kernel_h * g.params.kernel_w;
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < g.planes; ++pl) {
    T* dplane = dx + pl * g.h * g.w;
    for (int64_t oh = 0; oh < g.p; ++oh)
      for (int64_t ow = 0; ow < g.q; ++ow) {
        const T share = static_cast<T>(dy[(pl * g.p + oh) * g.q + ow] / divisor);
        for_window(g, oh, ow, [&](int64_t idx) { dplane[idx] += share; });
      }
  }
}

template <typename T> void global_avg_pool_forward(const T* x, T* y, int64_t planes, int64_t m) {
#pragma omp parallel for schedule(static) if (planes * m > 16384)
  for (int64_t i = 0; i < planes; ++i) {
    double s = 0.0;
    for (int64_t j = 0; j < m; ++j) s += x[i * m + j];
    y[i] = static_cast<T>(s / static_cast<double>(m));
  }
}

template <typename T> void global_avg_pool_backward(const T* dy, T* dx, int64_t planes, int64_t m) {
  const double inv = 1.0 / static_cast<double>(m);
#pragma omp parallel for schedule(static) if (planes * m > 16384)
  for (int64_t i = 0; i < planes; ++i) {
    const T g = static_cast<T>(dy[i] * inv);
    for (int64_t j = 0; j < m; ++j) dx[i * m + j] += g;
  }
}

#define MFD_INSTANTIATE(T)                                                                  \
  template void max_pool2d_forward<T>(const T*, T*, const PoolShape&);                   \
  template void max_pool2d_backward<T>(const T*, const T*, const T*, T*, const PoolShape&); \
  template void avg_pool2d_forward<T>(const T*, T*, const PoolShape&);                   \
  template void avg_pool2d_backward<T>(const T*, T*, const PoolShape&);                  \
  template void global_avg_pool_forward<T>(const T*, T*, int64_t, int64_t);                 \
  template void global_avg_pool_backward<T>(const T*, T*, int64_t, int64_t);
MFD_INSTANTIATE(float)
MFD_INSTANTIATE(double)
#undef MFD_INSTANTIATE

}  // namespace mfd::cpu
