// Pooling-window arithmetic of the CPU's pooling (engine/cpu/pooling.cpp): the in-bounds part of
// a window and its first maximum. (CUDA pools with cuDNN, whose windows are the same and whose max
// gradient may go to another of several equal maxima: test/engine/pooling_test.cpp.)
#pragma once
#include <cstdint>

#include "engine/backend.h"
#include "engine/hostdevice.h"

namespace mfd {

// The in-bounds part of output (oh, ow)'s window over an h x w plane: rows [h0, h1), columns
// [w0, w1) (padding is outside it).
struct PoolWindow {
  int64_t h0, h1, w0, w1;
};
MFD_HD PoolWindow pool_window(const Pool2dParams& p, int64_t h, int64_t w, int64_t oh, int64_t ow) {
  const int64_t h0 = oh * p.stride_h - p.pad_h, w0 = ow * p.stride_w - p.pad_w;
  const int64_t h1 = h0 + p.kernel_h, w1 = w0 + p.kernel_w;
  return PoolWindow{h0 > 0 ? h0 : 0, h1 < h ? h1 : h, w0 > 0 ? w0 : 0, w1 < w ? w1 : w};
}

// Index in the plane (row width w) of the window's first maximum in row-major order (strict >),
// or -1 for an empty window: the one position max pooling's gradient goes to.
template <typename T> MFD_HD int64_t pool_argmax(const T* plane, int64_t w, const PoolWindow& win) {
  int64_t best = -1;
  T best_value = T(0);
  for (int64_t ih = win.h0; ih < win.h1; ++ih)
    for (int64_t iw = win.w0; iw < win.w1; ++iw) {
      const T v = plane[ih * w + iw];
      if (best < 0 || v > best_value) {
        best = ih * w + iw;
        best_value = v;
      }
    }
  return best;
}

}  // namespace mfd
