// conv2d on the CPU: im2col + one OpenBLAS GEMM per group over a chunk of samples, col2im for the
// input gradient; float32 windowed convolutions go to oneDNN instead where it is faster
// (conv2d_dnnl.h). x (N, C, H, W), w (K, C/G, R, S), y (N, K, P, Q).
//
// A chunk of ns samples is lowered to col (C*R*S, ns*P*Q), so that small late-stage maps (4x4)
// still give the GEMM thousands of columns; large maps use one sample at a time, and a 1x1,
// stride-1, unpadded convolution of one sample uses x itself as col.
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "engine/cpu/blas.h"
#include "engine/cpu/conv2d_dnnl.h"
#include "engine/cpu/kernels.h"

namespace mfd::cpu {

namespace {

constexpr int64_t kTargetColumns = 1024;      // GEMM width worth batching samples for
constexpr int64_t kMaxColElements = 1 << 24;  // bound on the lowered buffer (64 MiB in float)

int64_t chunk_samples(const ConvShape& g) {
  int64_t pq = g.p * g.q, rows = g.c * g.r * g.s;
  int64_t ns = (kTargetColumns + pq - 1) / pq;
  ns = std::min(ns, std::max<int64_t>(1, kMaxColElements / std::max<int64_t>(1, rows * pq)));
  return std::max<int64_t>(1, std::min(ns, g.n));
}

bool is_pointwise(const ConvShape& g) {
  const Conv2dParams& p = g.params;
  return g.r == 1 && g.s == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0;
}

// Output columns ow in [lo, hi) read input column ow * stride - first, which lies in [0, in_w).
inline void inside_columns(int64_t first, int64_t stride, int64_t in_w, int64_t out_w, int64_t& lo, int64_t& hi) {
  lo = std::min(out_w, first > 0 ? (first + stride - 1) / stride : int64_t(0));
  const int64_t last = in_w - 1 + first;  // ow * stride <= last
  hi = last < 0 ? lo : std::max(lo, std::min(out_w, last / stride + 1));
}

// col[(c*R + i)*S + j][n*P*Q + oh*Q + ow] = x[n0 + n, c, oh*sh - ph + i, ow*sw - pw + j], 0 outside.
template <typename T> void im2col(const T* x, const ConvShape& g, int64_t n0, int64_t ns, T* col) {
  const int64_t pq = g.p * g.q, cols = ns * pq, rs = g.r * g.s;
  const Conv2dParams& pr = g.params;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t c = 0; c < g.c; ++c) {
    for (int64_t ij = 0; ij < rs; ++ij) {
      const int64_t i = ij / g.s, j = ij % g.s;
      T* row = col + (c * rs + ij) * cols;
      for (int64_t n = 0; n < ns; ++n) {
        const T* plane = x + ((n0 + n) * g.c + c) * g.h * g.w;
        T* out = row + n * pq;
        for (int64_t oh = 0; oh < g.p; ++oh) {
          const int64_t ih = oh * pr.stride_h - pr.pad_h + i;
          T* out_row = out + oh * g.q;
          if (ih < 0 || ih >= g.h) {
            std::fill(out_row, out_row + g.q, T(0));
            continue;
          }
          const T* in_row = plane + ih * g.w;
          const int64_t first = pr.pad_w - j, sw = pr.stride_w;
          int64_t ow_lo, ow_hi;
          inside_columns(first, sw, g.w, g.q, ow_lo, ow_hi);
          std::fill(out_row, out_row + ow_lo, T(0));
          if (sw == 1) {
            std::memcpy(out_row + ow_lo, in_row + ow_lo - first, (ow_hi - ow_lo) * sizeof(T));
          } else {
            for (int64_t ow = ow_lo; ow < ow_hi; ++ow) out_row[ow] = in_row[ow * sw - first];
          }
          std::fill(out_row + ow_hi, out_row + g.q, T(0));
        }
      }
    }
  }
}

// The adjoint of im2col: dx[n0 + n, c, ih, iw] += every col entry that was read from there.
template <typename T> void col2im_add(const T* col, const ConvShape& g, int64_t n0, int64_t ns, T* dx) {
  const int64_t pq = g.p * g.q, cols = ns * pq, rs = g.r * g.s;
  const Conv2dParams& pr = g.params;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < ns; ++n) {
    for (int64_t c = 0; c < g.c; ++c) {
      T* plane = dx + ((n0 + n) * g.c + c) * g.h * g.w;
      for (int64_t ij = 0; ij < rs; ++ij) {
        const int64_t i = ij / g.s, j = ij % g.s;
        const T* in = col + (c * rs + ij) * cols + n * pq;
        for (int64_t oh = 0; oh < g.p; ++oh) {
          const int64_t ih = oh * pr.stride_h - pr.pad_h + i;
          if (ih < 0 || ih >= g.h) continue;
          T* out_row = plane + ih * g.w;
          const T* in_row = in + oh * g.q;
          const int64_t first = pr.pad_w - j, sw = pr.stride_w;
          int64_t ow_lo, ow_hi;
          inside_columns(first, sw, g.w, g.q, ow_lo, ow_hi);
          for (int64_t ow = ow_lo; ow < ow_hi; ++ow) out_row[ow * sw - first] += in_row[ow];
        }
      }
    }
  }
}

// Moves a chunk between sample-major (ns, K, PQ) and channel-major (K, ns*PQ) layouts.
template <typename T>
void to_channel_major(const T* src, int64_t ns, int64_t k, int64_t pq, T* dst) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t c = 0; c < k; ++c)
    for (int64_t n = 0; n < ns; ++n)
      std::memcpy(dst + (c * ns + n) * pq, src + (n * k + c) * pq, pq * sizeof(T));
}
template <typename T>
void to_sample_major(const T* src, int64_t ns, int64_t k, int64_t pq, T* dst) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < ns; ++n)
    for (int64_t c = 0; c < k; ++c)
      std::memcpy(dst + (n * k + c) * pq, src + (c * ns + n) * pq, pq * sizeof(T));
}

// Runs body(group) for every group: one threaded GEMM when there is one group, else the groups
// in parallel with one BLAS thread each.
template <typename F> void for_each_group(int64_t groups, F body) {
  if (groups == 1) {
    body(0);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t gi = 0; gi < groups; ++gi) body(gi);
}

}  // namespace

template <typename T>
void conv2d_forward(const T* x, const T* w, const T* b, T* y, const ConvShape& g) {
  if constexpr (std::is_same_v<T, float>) {
    if (use_dnnl_conv(g, ConvDirection::forward)) return dnnl_conv2d_forward(x, w, b, y, g);
  }
  const int64_t pq = g.p * g.q, ns_max = chunk_samples(g), rows = g.c * g.r * g.s;
  const int64_t kg = g.k / g.params.groups, rows_g = rows / g.params.groups;
  const bool direct = is_pointwise(g) && ns_max == 1;
  Tensor col_buffer = scratch<T>(direct ? 0 : rows * ns_max * pq);
  Tensor out_buffer = scratch<T>(ns_max > 1 ? g.k * ns_max * pq : 0);
  T* col = col_buffer.data<T>();
  T* out = out_buffer.data<T>();
  for (int64_t n0 = 0; n0 < g.n; n0 += ns_max) {
    const int64_t ns = std::min(ns_max, g.n - n0), cols = ns * pq;
    const T* colp = direct ? x + n0 * g.c * g.h * g.w : col;
    if (!direct) im2col(x, g, n0, ns, col);
    T* outp = ns_max > 1 ? out : y + n0 * g.k * pq;
    for_each_group(g.params.groups, [&](int64_t gi) {
      gemm(false, false, kg, cols, rows_g, T(1), w + gi * kg * rows_g, rows_g,
           colp + gi * rows_g * cols, cols, T(0), outp + gi * kg * cols, cols);
    });
    if (ns_max > 1) to_sample_major(out, ns, g.k, pq, y + n0 * g.k * pq);
  }
  if (b) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t k = 0; k < g.k; ++k) {
        T* plane = y + (n * g.k + k) * pq;
        for (int64_t i = 0; i < pq; ++i) plane[i] += b[k];
      }
  }
}

template <typename T>
void conv2d_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, const ConvShape& g, bool assign_dx) {
  const int64_t pq = g.p * g.q, ns_max = chunk_samples(g), rows = g.c * g.r * g.s;
  const int64_t kg = g.k / g.params.groups, rows_g = rows / g.params.groups;
  const bool direct = is_pointwise(g) && ns_max == 1;
  if (db) {
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < g.k; ++k) {
      double s = 0.0;
      for (int64_t n = 0; n < g.n; ++n) {
        const T* plane = dy + (n * g.k + k) * pq;
        for (int64_t i = 0; i < pq; ++i) s += plane[i];
      }
      db[k] += static_cast<T>(s);
    }
  }
  if (!dx && !dw) return;
  if constexpr (std::is_same_v<T, float>) {  // each gradient on its faster path
    const bool data = dx && use_dnnl_conv(g, ConvDirection::data);
    const bool weights = dw && use_dnnl_conv(g, ConvDirection::weights);
    if (data || weights) {  // one call for both, which then reorders dy once
      dnnl_conv2d_backward(x, w, dy, data ? dx : nullptr, weights ? dw : nullptr, g, assign_dx);
      if (data) dx = nullptr;
      if (weights) dw = nullptr;
    }
    if (!dx && !dw) return;
  }
  // col2im adds into dx: an assigned dx starts from zeros, but where dx is the GEMM's own output.
  if (dx && assign_dx && !direct) fill(dx, g.n * g.c * g.h * g.w, T(0));
  Tensor col_buffer = scratch<T>(direct ? 0 : rows * ns_max * pq);  // lowered x, then reused for dcol
  Tensor dyc_buffer = scratch<T>(ns_max > 1 ? g.k * ns_max * pq : 0);
  T* col = col_buffer.data<T>();
  T* dyc = dyc_buffer.data<T>();
  for (int64_t n0 = 0; n0 < g.n; n0 += ns_max) {
    const int64_t ns = std::min(ns_max, g.n - n0), cols = ns * pq;
    const T* dyp = dy + n0 * g.k * pq;
    if (ns_max > 1) {
      to_channel_major(dyp, ns, g.k, pq, dyc);
      dyp = dyc;
    }
    if (dw) {
      const T* colp = direct ? x + n0 * g.c * g.h * g.w : col;
      if (!direct) im2col(x, g, n0, ns, col);
      // dW_g (Kg x rows_g) += dY_g (Kg x cols) col_g^T (cols x rows_g)
      for_each_group(g.params.groups, [&](int64_t gi) {
        gemm(false, true, kg, rows_g, cols, T(1), dyp + gi * kg * cols, cols,
             colp + gi * rows_g * cols, cols, T(1), dw + gi * kg * rows_g, rows_g);
      });
    }
    if (dx) {
      // dcol_g (rows_g x cols) = W_g^T (rows_g x Kg) dY_g (Kg x cols); written straight into dx
      // (accumulating) when col is x itself.
      T* dcol = direct ? dx + n0 * g.c * g.h * g.w : col;
      const T beta = direct && !assign_dx ? T(1) : T(0);
      for_each_group(g.params.groups, [&](int64_t gi) {
        gemm(true, false, rows_g, cols, kg, T(1), w + gi * kg * rows_g, rows_g,
             dyp + gi * kg * cols, cols, beta, dcol + gi * rows_g * cols, cols);
      });
      if (!direct) col2im_add(col, g, n0, ns, dx);
    }
  }
}

template void conv2d_forward<float>(const float*, const float*, const float*, float*, const ConvShape&);
template void conv2d_forward<double>(const double*, const double*, const double*, double*, const ConvShape&);
template void conv2d_backward<float>(const float*, const float*, const float*, float*, float*, float*,
                                     const ConvShape&, bool);
template void conv2d_backward<double>(const double*, const double*, const double*, double*, double*,
                                      double*, const ConvShape&, bool);

}  // namespace mfd::cpu
