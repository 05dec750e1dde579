// The CUDA backend's own kernels (see kernels.h). Float32; the arithmetic mirrors the CPU
// reference (engine/cpu/) step by step, with the shared formulas of engine/math.h,
// engine/mfd_math.h and engine/philox.h, sums in double. Reductions use a fixed partition of the
// work (it depends only on the shapes) and fixed-order trees, so results are deterministic.
#include "engine/cuda/kernels.h"

#include <algorithm>
#include <cfloat>
#include <climits>

#include "engine/cuda/allocator.h"
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/math.h"
#include "engine/mfd_math.h"
#include "engine/philox.h"
#include "engine/pool_math.h"

namespace mfd::cuda {

namespace {

constexpr int kThreads = 256;     // elementwise and per-channel kernels
constexpr int kRowThreads = 128;  // one block per row (softmax, l2 norm, center loss)

// Blocks for a grid-stride loop over n elements.
unsigned blocks_for(int64_t n, int threads = kThreads) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>((n + threads - 1) / threads, int64_t(1) << 20)));
}

#define MFD_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(blockDim.x) * gridDim.x)

// ---- block and warp reductions (every thread of the block must call them) ----------------------

// The combining rules, each with its identity.
struct SumOp {
  static constexpr double identity = 0.0;
  __device__ static double apply(double a, double b) { return a + b; }
};
struct MaxOp {
  static constexpr float identity = -FLT_MAX;
  __device__ static float apply(float a, float b) { return a < b ? b : a; }
};
struct MinOp {
  static constexpr int identity = INT_MAX;
  __device__ static int apply(int a, int b) { return min(a, b); }
};

template <typename Op, typename T> __device__ __forceinline__ T warp_reduce(T v) {
  for (int o = 16; o > 0; o >>= 1) v = Op::apply(v, __shfl_down_sync(0xffffffffu, v, o));
  return v;
}

template <typename Op, typename T> __device__ T block_reduce(T v) {
  __shared__ T shared[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_reduce<Op>(v);
  __syncthreads();  // a previous call may still read shared[0]
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < warps ? shared[lane] : T(Op::identity);
    v = warp_reduce<Op>(v);
    if (lane == 0) shared[0] = v;
  }
  __syncthreads();
  return shared[0];
}

__device__ __forceinline__ double warp_sum(double v) { return warp_reduce<SumOp>(v); }
__device__ double block_sum(double v) { return block_reduce<SumOp>(v); }
__device__ float block_max(float v) { return block_reduce<MaxOp>(v); }
__device__ int block_min(int v) { return block_reduce<MinOp>(v); }

// out = scale * sum(parts[0..count)) / divisor, in one block.
__global__ void finalize_sum_kernel(const double* parts, int64_t count, double scale, double divisor, float* out) {
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) s += parts[i];
  s = block_sum(s);
  if (threadIdx.x == 0) *out = static_cast<float>(scale * s / divisor);
}

void finalize_sum(const double* parts, int64_t count, double scale, double divisor, float* out) {
  finalize_sum_kernel<<<1, kThreads, 0, stream()>>>(parts, count, scale, divisor, out);
  MFD_CUDA_LAUNCH_CHECK("finalize_sum");
}

// ---- elementwise ---------------------------------------------------------------------------------

template <typename T> __global__ void fill_kernel(T* p, int64_t n, T v) {
  MFD_GRID_STRIDE(i, n) p[i] = v;
}

template <typename S, typename D> __global__ void cast_kernel(const S* s, D* d, int64_t n) {
  MFD_GRID_STRIDE(i, n) d[i] = static_cast<D>(s[i]);
}

template <typename S> void cast_from(const S* src, void* dst, DType dst_dtype, int64_t n) {
  cudaStream_t st = stream();
  switch (dst_dtype) {
    case DType::f32: cast_kernel<<<blocks_for(n), kThreads, 0, st>>>(src, static_cast<float*>(dst), n); break;
    case DType::f64: cast_kernel<<<blocks_for(n), kThreads, 0, st>>>(src, static_cast<double*>(dst), n); break;
    case DType::i32: cast_kernel<<<blocks_for(n), kThreads, 0, st>>>(src, static_cast<int32_t*>(dst), n); break;
    case DType::i64: cast_kernel<<<blocks_for(n), kThreads, 0, st>>>(src, static_cast<int64_t*>(dst), n); break;
  }
  MFD_CUDA_LAUNCH_CHECK("cast");
}

__global__ void axpy_kernel(float a, const float* x, float* y, int64_t n) {
  MFD_GRID_STRIDE(i, n) y[i] += a * x[i];
}
__global__ void add_kernel(const float* a, const float* b, float* o, int64_t n) {
  MFD_GRID_STRIDE(i, n) o[i] = a[i] + b[i];
}
__global__ void mul_kernel(const float* a, const float* b, float* o, int64_t n) {
  MFD_GRID_STRIDE(i, n) o[i] = a[i] * b[i];
}
__global__ void mul_accumulate_kernel(const float* a, const float* b, float* o, int64_t n) {
  MFD_GRID_STRIDE(i, n) o[i] += a[i] * b[i];
}
__global__ void relu_forward_kernel(const float* x, float cap, float* y, int64_t n) {
  MFD_GRID_STRIDE(i, n) y[i] = relu_capped(x[i], cap);
}
__global__ void relu_backward_kernel(const float* y, const float* dy, float cap, float* dx, int64_t n) {
  MFD_GRID_STRIDE(i, n) dx[i] += relu_capped_grad(y[i], dy[i], cap);
}
__global__ void sum_partial_kernel(const float* x, int64_t n, double* parts) {
  double s = 0.0;
  MFD_GRID_STRIDE(i, n) s += x[i];
  s = block_sum(s);
  if (threadIdx.x == 0) parts[blockIdx.x] = s;
}
__global__ void broadcast_accumulate_kernel(const float* dout, double scale, float* dx, int64_t n) {
  const float g = static_cast<float>(scale * dout[0]);
  MFD_GRID_STRIDE(i, n) dx[i] += g;
}
__global__ void sgd_kernel(float* w, const float* g, float* v, int64_t n, float lr, float momentum, float wd) {
  MFD_GRID_STRIDE(i, n) {
    float wi = w[i], vi = v[i];
    sgd_update(wi, g[i], vi, lr, momentum, wd);
    w[i] = wi;
    v[i] = vi;
  }
}

__global__ void uniform_kernel(float* p, int64_t n, double lo, double hi, uint64_t seed, uint64_t offset) {
  MFD_GRID_STRIDE(i, n) p[i] = static_cast<float>(lo + (hi - lo) * philox_uniform(seed, offset, i));
}
__global__ void normal_kernel(float* p, int64_t n, double mean, double std, uint64_t seed, uint64_t offset) {
  MFD_GRID_STRIDE(i, n) p[i] = static_cast<float>(mean + std * philox_normal(seed, offset, i));
}
__global__ void dropout_kernel(float* p, int64_t n, double prob, uint64_t seed, uint64_t offset) {
  MFD_GRID_STRIDE(i, n) p[i] = dropout_keep<float>(philox_uniform(seed, offset, i), prob);
}

// ---- per-channel reductions over (N, C, M) -------------------------------------------------------

// Splits of one channel's N * M values over blocks (grid (C, splits)); depends on shapes only.
int channel_splits(int64_t n, int64_t c, int64_t m) {
  const int64_t per_channel = n * m;
  int64_t splits = (per_channel + kThreads * 8 - 1) / (kThreads * 8);
  splits = std::min<int64_t>(splits, std::max<int64_t>(1, 8192 / std::max<int64_t>(c, 1)));
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(splits, 65535)));
}

// parts_a[c, s] = sum of dy; parts_b[c, s] = sum of dy * (x - mean) * invstd (when x is given).
__global__ void channel_sums_kernel(const float* dy, const float* x, const float* mean, const float* invstd,
                                    int64_t n, int64_t c, int64_t m, double* parts_a, double* parts_b) {
  const int64_t ch = blockIdx.x, splits = gridDim.y, total = n * m;
  const double mu = x ? double(mean[ch]) : 0.0, is = x ? double(invstd[ch]) : 0.0;
  double sa = 0.0, sb = 0.0;
  for (int64_t e = blockIdx.y * int64_t(blockDim.x) + threadIdx.x; e < total; e += splits * blockDim.x) {
    const int64_t i = e / m, j = e - i * m, idx = (i * c + ch) * m + j;
    const float g = dy[idx];
    sa += g;
    if (x) sb += g * (x[idx] - mu) * is;
  }
  sa = block_sum(sa);
  if (x) sb = block_sum(sb);
  if (threadIdx.x == 0) {
    parts_a[ch * splits + blockIdx.y] = sa;
    if (x) parts_b[ch * splits + blockIdx.y] = sb;
  }
}

// parts[c, s] = sum of (x - mean[c])^2, mean in double.
__global__ void channel_sq_dev_kernel(const float* x, const double* mean, int64_t n, int64_t c, int64_t m,
                                      double* parts) {
  const int64_t ch = blockIdx.x, splits = gridDim.y, total = n * m;
  const double mu = mean[ch];
  double s = 0.0;
  for (int64_t e = blockIdx.y * int64_t(blockDim.x) + threadIdx.x; e < total; e += splits * blockDim.x) {
    const int64_t i = e / m, j = e - i * m;
    const double d = double(x[(i * c + ch) * m + j]) - mu;
    s += d * d;
  }
  s = block_sum(s);
  if (threadIdx.x == 0) parts[ch * splits + blockIdx.y] = s;
}

__device__ double sum_parts(const double* parts, int64_t ch, int splits) {
  double s = 0.0;
  for (int k = 0; k < splits; ++k) s += parts[ch * splits + k];
  return s;
}

__global__ void bias_grad_finalize_kernel(const double* parts, int splits, int64_t c, float* db) {
  MFD_GRID_STRIDE(ch, c) db[ch] += static_cast<float>(sum_parts(parts, ch, splits));
}

__global__ void bias_add_kernel(float* y, const float* b, int64_t n, int64_t c, int64_t m) {
  MFD_GRID_STRIDE(i, n * c * m) y[i] += b[(i / m) % c];
}

// ---- batch norm ----------------------------------------------------------------------------------

// y = x * a[c] + shift[c], in double as the CPU.
__global__ void bn_apply_kernel(const float* x, const double* a, const double* shift, float* y, int64_t n,
                                int64_t c, int64_t m) {
  MFD_GRID_STRIDE(i, n * c * m) {
    const int64_t ch = (i / m) % c;
    y[i] = static_cast<float>(x[i] * a[ch] + shift[ch]);
  }
}

__global__ void bn_eval_coefficients_kernel(const float* gamma, const float* beta, const float* running_mean,
                                            const float* running_var, double eps, int64_t c, double* a,
                                            double* shift, float* save_mean, float* save_invstd) {
  MFD_GRID_STRIDE(ch, c) {
    const double invstd = 1.0 / sqrt(double(running_var[ch]) + eps);
    const double mean = running_mean[ch];
    a[ch] = gamma[ch] * invstd;
    shift[ch] = beta[ch] - mean * a[ch];
    save_mean[ch] = running_mean[ch];
    save_invstd[ch] = static_cast<float>(invstd);
  }
}

__global__ void bn_mean_kernel(const double* parts, int splits, int64_t c, double count, double* mean) {
  MFD_GRID_STRIDE(ch, c) mean[ch] = sum_parts(parts, ch, splits) / count;
}

__global__ void bn_train_coefficients_kernel(const double* sq_parts, int splits, const double* mean,
                                             const float* gamma, const float* beta, double momentum, double eps,
                                             double count, int64_t c, float* running_mean, float* running_var,
                                             double* a, double* shift, float* save_mean, float* save_invstd) {
  MFD_GRID_STRIDE(ch, c) {
    const double sq = sum_parts(sq_parts, ch, splits), mu = mean[ch];
    const double invstd = 1.0 / sqrt(sq / count + eps);
    a[ch] = gamma[ch] * invstd;
    shift[ch] = beta[ch] - mu * a[ch];
    running_mean[ch] = static_cast<float>((1.0 - momentum) * running_mean[ch] + momentum * mu);
    running_var[ch] = static_cast<float>((1.0 - momentum) * running_var[ch] + momentum * sq / (count - 1.0));
    save_mean[ch] = static_cast<float>(mu);
    save_invstd[ch] = static_cast<float>(invstd);
  }
}

// dgamma, dbeta += the sums; coef[c] = (gamma * invstd, mean(dy), mean(dy * xhat)) for dx.
__global__ void bn_backward_finalize_kernel(const double* parts_dy, const double* parts_dyx, int splits,
                                            const float* gamma, const float* invstd, bool batch_stats,
                                            double count, int64_t c, float* dgamma, float* dbeta, double* coef) {
  MFD_GRID_STRIDE(ch, c) {
    const double sum_dy = sum_parts(parts_dy, ch, splits), sum_dyx = sum_parts(parts_dyx, ch, splits);
    if (dbeta) dbeta[ch] += static_cast<float>(sum_dy);
    if (dgamma) dgamma[ch] += static_cast<float>(sum_dyx);
    coef[3 * ch] = double(gamma[ch]) * double(invstd[ch]);
    coef[3 * ch + 1] = batch_stats ? sum_dy / count : 0.0;
    coef[3 * ch + 2] = batch_stats ? sum_dyx / count : 0.0;
  }
}

__global__ void bn_backward_dx_kernel(const float* x, const float* dy, const float* mean, const float* invstd,
                                      const double* coef, float* dx, int64_t n, int64_t c, int64_t m) {
  MFD_GRID_STRIDE(i, n * c * m) {
    const int64_t ch = (i / m) % c;
    const double mu = mean[ch], is = invstd[ch];
    dx[i] += static_cast<float>(coef[3 * ch] * (dy[i] - coef[3 * ch + 1] - (x[i] - mu) * is * coef[3 * ch + 2]));
  }
}

// ---- pooling -------------------------------------------------------------------------------------

using Win = PoolWindow;
__device__ __forceinline__ Win window_at(const PoolShape& g, int64_t oh, int64_t ow) {
  return pool_window(g.params, g.h, g.w, oh, ow);
}

// The outputs whose windows contain input row ih: [lo, hi] (empty when lo > hi).
__device__ __forceinline__ void windows_containing(int64_t i, int kernel, int stride, int pad, int64_t out,
                                                   int64_t& lo, int64_t& hi) {
  const int64_t a = i + pad - kernel + 1;  // o * stride >= a
  lo = a <= 0 ? 0 : (a + stride - 1) / stride;
  hi = min((i + pad) / stride, out - 1);
}

// The windows containing input element i (over all planes): its index r in its plane, the offset
// of its plane's outputs, and the output rows [oh0, oh1] and columns [ow0, ow1] (empty when lo > hi).
struct InputWindows {
  int64_t r, base, oh0, oh1, ow0, ow1;
};
__device__ __forceinline__ InputWindows input_windows(int64_t i, const PoolShape& g) {
  const Pool2dParams& p = g.params;
  InputWindows in;
  const int64_t pl = i / (g.h * g.w);
  in.r = i - pl * g.h * g.w;
  in.base = pl * g.p * g.q;
  const int64_t ih = in.r / g.w, iw = in.r - ih * g.w;
  windows_containing(ih, p.kernel_h, p.stride_h, p.pad_h, g.p, in.oh0, in.oh1);
  windows_containing(iw, p.kernel_w, p.stride_w, p.pad_w, g.q, in.ow0, in.ow1);
  return in;
}

__global__ void max_pool_forward_kernel(const float* x, float* y, PoolShape g) {
  MFD_GRID_STRIDE(o, g.planes * g.p * g.q) {
    const int64_t pl = o / (g.p * g.q), r = o - pl * g.p * g.q, oh = r / g.q, ow = r - oh * g.q;
    const float* plane = x + pl * g.h * g.w;
    const Win win = window_at(g, oh, ow);
    float best = -INFINITY;
    for (int64_t ih = win.h0; ih < win.h1; ++ih)
      for (int64_t iw = win.w0; iw < win.w1; ++iw) {
        const float v = plane[ih * g.w + iw];
        best = best < v ? v : best;  // std::max(best, v), as the CPU
      }
    y[o] = best;
  }
}

// Index in its plane of the first maximum of each window (row-major, strict >), -1 when empty.
__global__ void max_pool_argmax_kernel(const float* x, int32_t* arg, PoolShape g) {
  MFD_GRID_STRIDE(o, g.planes * g.p * g.q) {
    const int64_t pl = o / (g.p * g.q), r = o - pl * g.p * g.q, oh = r / g.q, ow = r - oh * g.q;
    const float* plane = x + pl * g.h * g.w;
    arg[o] = static_cast<int32_t>(pool_argmax(plane, g.w, window_at(g, oh, ow)));
  }
}

// Each input gathers the gradients of the windows whose first maximum it is, in (oh, ow) order.
__global__ void max_pool_backward_kernel(const int32_t* arg, const float* dy, float* dx, PoolShape g) {
  MFD_GRID_STRIDE(i, g.planes * g.h * g.w) {
    const InputWindows in = input_windows(i, g);
    float v = dx[i];
    for (int64_t oh = in.oh0; oh <= in.oh1; ++oh)
      for (int64_t ow = in.ow0; ow <= in.ow1; ++ow)
        if (arg[in.base + oh * g.q + ow] == in.r) v += dy[in.base + oh * g.q + ow];
    dx[i] = v;
  }
}

__global__ void avg_pool_forward_kernel(const float* x, float* y, PoolShape g) {
  const double divisor = double(g.params.kernel_h) * g.params.kernel_w;
  MFD_GRID_STRIDE(o, g.planes * g.p * g.q) {
    const int64_t pl = o / (g.p * g.q), r = o - pl * g.p * g.q, oh = r / g.q, ow = r - oh * g.q;
    const float* plane = x + pl * g.h * g.w;
    const Win win = window_at(g, oh, ow);
    double s = 0.0;
    for (int64_t ih = win.h0; ih < win.h1; ++ih)
      for (int64_t iw = win.w0; iw < win.w1; ++iw) s += plane[ih * g.w + iw];
    y[o] = static_cast<float>(s / divisor);
  }
}

__global__ void avg_pool_backward_kernel(const float* dy, float* dx, PoolShape g) {
  const double divisor = double(g.params.kernel_h) * g.params.kernel_w;
  MFD_GRID_STRIDE(i, g.planes * g.h * g.w) {
    const InputWindows in = input_windows(i, g);
    float v = dx[i];
    for (int64_t oh = in.oh0; oh <= in.oh1; ++oh)
      for (int64_t ow = in.ow0; ow <= in.ow1; ++ow) v += static_cast<float>(dy[in.base + oh * g.q + ow] / divisor);
    dx[i] = v;
  }
}

// One warp per plane.
__global__ void global_avg_pool_forward_kernel(const float* x, float* y, int64_t planes, int64_t m) {
  const int64_t warp = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (warp >= planes) return;  // whole warps leave together
  double s = 0.0;
  for (int64_t j = lane; j < m; j += 32) s += x[warp * m + j];
  s = warp_sum(s);
  if (lane == 0) y[warp] = static_cast<float>(s / double(m));
}

__global__ void global_avg_pool_backward_kernel(const float* dy, float* dx, int64_t planes, int64_t m) {
  const float inv = static_cast<float>(1.0 / double(m));
  MFD_GRID_STRIDE(i, planes * m) dx[i] += dy[i / m] * inv;
}

__global__ void concat_backward_kernel(const float* whole, float* piece, int64_t n, int64_t total, int64_t start,
                                       int64_t c, int64_t m) {
  MFD_GRID_STRIDE(idx, n * c * m) {
    const int64_t i = idx / (c * m), r = idx - i * c * m;
    piece[idx] += whole[(i * total + start) * m + r];
  }
}

// ---- rows ----------------------------------------------------------------------------------------

__global__ void l2_forward_kernel(const float* x, double eps, float* y, int64_t d) {
  const float* xr = x + blockIdx.x * d;
  float* yr = y + blockIdx.x * d;
  double sq = 0.0;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) sq += double(xr[j]) * xr[j];
  sq = block_sum(sq);
  const double inv = 1.0 / fmax(sqrt(sq), eps);
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) yr[j] = static_cast<float>(xr[j] * inv);
}

__global__ void l2_backward_kernel(const float* x, const float* y, const float* dy, double eps, float* dx, int64_t d) {
  const int64_t row = blockIdx.x * d;
  double sq = 0.0, ydy = 0.0;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
    sq += double(x[row + j]) * x[row + j];
    ydy += double(y[row + j]) * dy[row + j];
  }
  sq = block_sum(sq);
  ydy = block_sum(ydy);
  const double norm = sqrt(sq);
  const bool clamped = norm < eps;
  const double inv = 1.0 / (clamped ? eps : norm);
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
    const double along = clamped ? 0.0 : y[row + j] * ydy;
    dx[row + j] += static_cast<float>((dy[row + j] - along) * inv);
  }
}

__global__ void check_labels_kernel(const int32_t* labels, int64_t n, int64_t k, int32_t* flag) {
  int first = INT_MAX;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
    if (labels[i] < 0 || labels[i] >= k) {
      first = static_cast<int>(i);
      break;  // later ones of this thread are larger
    }
  first = block_min(first);
  if (threadIdx.x == 0 && first != INT_MAX && flag[0] < 0) {  // the first bad label since the last report
    flag[0] = first;
    flag[1] = labels[first];
    flag[2] = static_cast<int32_t>(k);
  }
}

// One thread per row: its first largest score; hits of the block summed, then added to out[0]
// (an exact integer count in float, so the order of the additions does not matter).
__global__ void count_correct_kernel(const float* scores, const int32_t* labels, int64_t n, int64_t k, float* out) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  float hit = 0.0f;
  if (i < n) {
    const float* row = scores + i * k;
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j)
      if (row[j] > row[best]) best = j;
    hit = best == labels[i] ? 1.0f : 0.0f;
  }
  hit = block_sum(hit);
  if (threadIdx.x == 0 && hit > 0) atomicAdd(out, hit);
}

__global__ void softmax_forward_kernel(const float* logits, const int32_t* labels, float* probs, double* row_loss,
                                       int64_t k) {
  const int64_t i = blockIdx.x;
  const float* z = logits + i * k;
  float* pr = probs + i * k;
  float top = -INFINITY;
  for (int64_t j = threadIdx.x; j < k; j += blockDim.x) top = top < z[j] ? z[j] : top;
  top = block_max(top);
  double denom = 0.0;
  for (int64_t j = threadIdx.x; j < k; j += blockDim.x) denom += exp(double(z[j]) - top);
  denom = block_sum(denom);
  for (int64_t j = threadIdx.x; j < k; j += blockDim.x) pr[j] = static_cast<float>(exp(double(z[j]) - top) / denom);
  if (threadIdx.x == 0) {
    const int32_t y = labels[i];
    row_loss[i] = (y >= 0 && y < k) ? log(denom) + top - double(z[y]) : 0.0;  // labels checked before
  }
}

__global__ void softmax_backward_kernel(const float* probs, const int32_t* labels, const float* dloss, float* dlogits,
                                        int64_t n, int64_t k) {
  const float scale = dloss[0] / static_cast<float>(n);
  MFD_GRID_STRIDE(idx, n * k) {
    const int64_t i = idx / k, j = idx - i * k;
    float v = dlogits[idx] + scale * probs[idx];
    if (j == labels[i]) v -= scale;
    dlogits[idx] = v;
  }
}

__global__ void margin_forward_kernel(const float* cos, const int32_t* labels, MarginParams p, float* out, int64_t n,
                                      int64_t k) {
  MFD_GRID_STRIDE(idx, n * k) {
    const int64_t i = idx / k, j = idx - i * k;
    if (j == labels[i]) {
      const double c = cos[idx];
      const double target = p.kind == MarginParams::additive_cosine ? c - p.m : arcface_target(c, p.m);
      out[idx] = static_cast<float>(p.s * target);
    } else {
      out[idx] = static_cast<float>(p.s * cos[idx]);
    }
  }
}

__global__ void margin_backward_kernel(const float* cos, const int32_t* labels, MarginParams p, const float* dout,
                                       float* dcos, int64_t n, int64_t k) {
  MFD_GRID_STRIDE(idx, n * k) {
    const int64_t i = idx / k, j = idx - i * k;
    if (j == labels[i]) {
      const double slope = p.kind == MarginParams::additive_cosine ? 1.0 : arcface_target_grad(cos[idx], p.m);
      dcos[idx] += static_cast<float>(p.s * slope * dout[idx]);
    } else {
      dcos[idx] += static_cast<float>(p.s * dout[idx]);
    }
  }
}

__global__ void center_forward_kernel(const float* x, const float* centers, const int32_t* labels, double* row,
                                      int64_t e, int64_t k) {
  const int64_t i = blockIdx.x;
  const int32_t y = labels[i];
  double s = 0.0;
  if (y >= 0 && y < k)
    for (int64_t j = threadIdx.x; j < e; j += blockDim.x) {
      const double diff = double(x[i * e + j]) - centers[y * e + j];
      s += diff * diff;
    }
  s = block_sum(s);
  if (threadIdx.x == 0) row[i] = s;
}

__global__ void center_backward_kernel(const float* x, const float* centers, const int32_t* labels,
                                       const float* dloss, float* dx, int64_t n, int64_t e, int64_t k) {
  const float scale = dloss[0] / static_cast<float>(n);
  MFD_GRID_STRIDE(idx, n * e) {
    const int64_t i = idx / e, j = idx - i * e;
    const int32_t y = labels[i];
    if (y >= 0 && y < k) dx[idx] += scale * (x[idx] - centers[y * e + j]);  // a bad label is reported, not used
  }
}

// One thread per (class, feature): the sum over that class's samples, in sample order.
__global__ void center_update_kernel(const float* x, const int32_t* labels, double alpha, float* centers, int64_t n,
                                     int64_t e, int64_t k) {
  MFD_GRID_STRIDE(idx, k * e) {
    const int64_t c = idx / e, j = idx - c * e;
    const double cj = centers[idx];
    double delta = 0.0;
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i)
      if (labels[i] == c) {
        ++count;
        delta += cj - x[i * e + j];
      }
    centers[idx] = static_cast<float>(cj - alpha * delta / (1.0 + count));
  }
}

// ---- MFD -----------------------------------------------------------------------------------------

// Batch centring: per (channel, position) the mean over the batch; partial raw and centred
// energies per (channel, split).
__global__ void mfd_center_batch_kernel(const float* x, int64_t b, int64_t d, int64_t m, float* y, double* part_raw,
                                        double* part_cen) {
  const int64_t ch = blockIdx.x, splits = gridDim.y, nn = b * m;
  double raw = 0.0, cen = 0.0;
  for (int64_t p = blockIdx.y * int64_t(blockDim.x) + threadIdx.x; p < m; p += splits * blockDim.x) {
    double mean = 0.0;
    for (int64_t k = 0; k < b; ++k) {
      const float v = x[(k * d + ch) * m + p];
      mean += v;
      raw += double(v) * v;
    }
    mean /= double(b);
    for (int64_t k = 0; k < b; ++k) {
      const double v = x[(k * d + ch) * m + p] - mean;
      y[ch * nn + k * m + p] = static_cast<float>(v);
      cen += v * v;
    }
  }
  raw = block_sum(raw);
  cen = block_sum(cen);
  if (threadIdx.x == 0) {
    part_raw[ch * splits + blockIdx.y] = raw;
    part_cen[ch * splits + blockIdx.y] = cen;
  }
}

// Channel centring, pass 1: partial sums and raw energies over all of a channel's values.
__global__ void mfd_channel_sums_kernel(const float* x, int64_t b, int64_t d, int64_t m, double* part_sum,
                                        double* part_raw) {
  const int64_t ch = blockIdx.x, splits = gridDim.y, nn = b * m;
  double s = 0.0, raw = 0.0;
  for (int64_t e = blockIdx.y * int64_t(blockDim.x) + threadIdx.x; e < nn; e += splits * blockDim.x) {
    const int64_t k = e / m, p = e - k * m;
    const float v = x[(k * d + ch) * m + p];
    s += v;
    raw += double(v) * v;
  }
  s = block_sum(s);
  raw = block_sum(raw);
  if (threadIdx.x == 0) {
    part_sum[ch * splits + blockIdx.y] = s;
    part_raw[ch * splits + blockIdx.y] = raw;
  }
}

__global__ void mfd_channel_mean_kernel(const double* part_sum, int splits, int64_t d, double count, double* mean) {
  MFD_GRID_STRIDE(ch, d) mean[ch] = sum_parts(part_sum, ch, splits) / count;
}

// Channel centring, pass 2: y = x - mean, partial centred energies.
__global__ void mfd_channel_apply_kernel(const float* x, int64_t b, int64_t d, int64_t m, const double* mean, float* y,
                                         double* part_cen) {
  const int64_t ch = blockIdx.x, splits = gridDim.y, nn = b * m;
  const double mu = mean[ch];
  double cen = 0.0;
  for (int64_t e = blockIdx.y * int64_t(blockDim.x) + threadIdx.x; e < nn; e += splits * blockDim.x) {
    const int64_t k = e / m, p = e - k * m;
    const double v = x[(k * d + ch) * m + p] - mu;
    y[ch * nn + e] = static_cast<float>(v);
    cen += v * v;
  }
  cen = block_sum(cen);
  if (threadIdx.x == 0) part_cen[ch * splits + blockIdx.y] = cen;
}

__global__ void mfd_inv_norm_kernel(const double* part_raw, const double* part_cen, int splits, int64_t d,
                                    float* inv_norm) {
  MFD_GRID_STRIDE(ch, d) {
    inv_norm[ch] = static_cast<float>(mfd_inv_norm(sum_parts(part_cen, ch, splits), sum_parts(part_raw, ch, splits)));
  }
}

// Row i of the symmetric S (read above the diagonal): F = S r_i r_j mirrored below, the diagonal
// 1 (0 when dead), and the row's sums of 2 F^2 and 2 |F| over j > i.
__global__ void mfd_normalize_kernel(float* corr, const float* inv_norm, int64_t d, double* row_sq, double* row_abs) {
  const int64_t i = blockIdx.x;
  double sq = 0.0, ab = 0.0;
  for (int64_t j = i + 1 + threadIdx.x; j < d; j += blockDim.x) {
    const float f = corr[i * d + j] * inv_norm[i] * inv_norm[j];
    corr[i * d + j] = f;
    corr[j * d + i] = f;
    sq += 2.0 * double(f) * f;
    ab += 2.0 * fabs(double(f));
  }
  if (threadIdx.x == 0) corr[i * d + i] = inv_norm[i] != 0.0f ? 1.0f : 0.0f;
  sq = block_sum(sq);
  ab = block_sum(ab);
  if (threadIdx.x == 0) {
    row_sq[i] = sq;
    row_abs[i] = ab;
  }
}

__global__ void mfd_grad_matrix_kernel(const float* corr, const float* inv_norm, const float* dloss, float* a,
                                       int64_t d) {
  const int64_t i = blockIdx.x;
  const double scale = 4.0 * double(dloss[0]) / mfd_pairs(d);
  double rs = 0.0;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
    if (j == i) continue;
    const double f = corr[i * d + j];
    rs += f * f;
  }
  rs = block_sum(rs);
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
    if (j == i) {
      a[i * d + i] = static_cast<float>(-scale * rs * inv_norm[i] * inv_norm[i]);
    } else {
      const double f = corr[i * d + j];
      a[i * d + j] = static_cast<float>(scale * f * inv_norm[i] * inv_norm[j]);
    }
  }
}

__global__ void mfd_scatter_add_kernel(const float* dy, float* dx, int64_t b, int64_t d, int64_t m) {
  const int64_t nn = b * m;
  MFD_GRID_STRIDE(idx, b * d * m) {
    const int64_t k = idx / (d * m), rem = idx - k * d * m, i = rem / m, p = rem - i * m;
    dx[idx] += dy[i * nn + k * m + p];
  }
}

}  // namespace

// ---- launchers -----------------------------------------------------------------------------------

void fill(void* dst, DType dtype, int64_t n, double value) {
  if (n == 0) return;
  cudaStream_t s = stream();
  switch (dtype) {
    case DType::f32: fill_kernel<<<blocks_for(n), kThreads, 0, s>>>(static_cast<float*>(dst), n, static_cast<float>(value)); break;
    case DType::f64: fill_kernel<<<blocks_for(n), kThreads, 0, s>>>(static_cast<double*>(dst), n, value); break;
    case DType::i32: fill_kernel<<<blocks_for(n), kThreads, 0, s>>>(static_cast<int32_t*>(dst), n, static_cast<int32_t>(value)); break;
    case DType::i64: fill_kernel<<<blocks_for(n), kThreads, 0, s>>>(static_cast<int64_t*>(dst), n, static_cast<int64_t>(value)); break;
  }
  MFD_CUDA_LAUNCH_CHECK("fill");
}

void cast(const void* src, DType src_dtype, void* dst, DType dst_dtype, int64_t n) {
  if (n == 0) return;
  switch (src_dtype) {
    case DType::f32: cast_from(static_cast<const float*>(src), dst, dst_dtype, n); break;
    case DType::f64: cast_from(static_cast<const double*>(src), dst, dst_dtype, n); break;
    case DType::i32: cast_from(static_cast<const int32_t*>(src), dst, dst_dtype, n); break;
    case DType::i64: cast_from(static_cast<const int64_t*>(src), dst, dst_dtype, n); break;
  }
}

#define MFD_LAUNCH_1D(name, kernel, n, ...)                               \
  do {                                                                    \
    if ((n) == 0) return;                                                 \
    kernel<<<blocks_for(n), kThreads, 0, stream()>>>(__VA_ARGS__);        \
    MFD_CUDA_LAUNCH_CHECK(name);                                          \
  } while (0)

void axpy(float alpha, const float* x, float* y, int64_t n) { MFD_LAUNCH_1D("axpy", axpy_kernel, n, alpha, x, y, n); }
void add(const float* a, const float* b, float* out, int64_t n) { MFD_LAUNCH_1D("add", add_kernel, n, a, b, out, n); }
void mul(const float* a, const float* b, float* out, int64_t n) { MFD_LAUNCH_1D("mul", mul_kernel, n, a, b, out, n); }
void mul_accumulate(const float* a, const float* b, float* out, int64_t n) {
  MFD_LAUNCH_1D("mul_accumulate", mul_accumulate_kernel, n, a, b, out, n);
}
void relu_forward(const float* x, float cap, float* y, int64_t n) {
  MFD_LAUNCH_1D("relu_forward", relu_forward_kernel, n, x, cap, y, n);
}
void relu_backward(const float* y, const float* dy, float cap, float* dx, int64_t n) {
  MFD_LAUNCH_1D("relu_backward", relu_backward_kernel, n, y, dy, cap, dx, n);
}
void broadcast_accumulate(const float* dout, double scale, float* dx, int64_t n) {
  MFD_LAUNCH_1D("broadcast_accumulate", broadcast_accumulate_kernel, n, dout, scale, dx, n);
}
void sgd_step(float* w, const float* g, float* v, int64_t n, float lr, float momentum, float weight_decay) {
  MFD_LAUNCH_1D("sgd_step", sgd_kernel, n, w, g, v, n, lr, momentum, weight_decay);
}
void fill_uniform(float* t, int64_t n, double lo, double hi, uint64_t seed, uint64_t offset) {
  MFD_LAUNCH_1D("fill_uniform", uniform_kernel, n, t, n, lo, hi, seed, offset);
}
void fill_normal(float* t, int64_t n, double mean, double std, uint64_t seed, uint64_t offset) {
  MFD_LAUNCH_1D("fill_normal", normal_kernel, n, t, n, mean, std, seed, offset);
}
void dropout_mask(float* t, int64_t n, double p, uint64_t seed, uint64_t offset) {
  MFD_LAUNCH_1D("dropout_mask", dropout_kernel, n, t, n, p, seed, offset);
}
void bias_add(float* y, const float* b, int64_t n, int64_t c, int64_t m) {
  MFD_LAUNCH_1D("bias_add", bias_add_kernel, n * c * m, y, b, n, c, m);
}

void sum(const float* x, int64_t n, double scale, float* out) {
  // A fixed number of blocks for a given n, each summing a fixed strided subset.
  const unsigned blocks = std::min(blocks_for(n), 1024u);
  DeviceBuffer parts(blocks * sizeof(double));
  sum_partial_kernel<<<blocks, kThreads, 0, stream()>>>(x, n, parts.as<double>());
  MFD_CUDA_LAUNCH_CHECK("sum");
  finalize_sum(parts.as<double>(), blocks, scale, 1.0, out);
}

void bias_grad(const float* dy, float* db, int64_t n, int64_t c, int64_t m) {
  if (c == 0) return;
  const int splits = channel_splits(n, c, m);
  DeviceBuffer parts(c * splits * sizeof(double));
  channel_sums_kernel<<<dim3(static_cast<unsigned>(c), splits), kThreads, 0, stream()>>>(
      dy, nullptr, nullptr, nullptr, n, c, m, parts.as<double>(), nullptr);
  MFD_CUDA_LAUNCH_CHECK("bias_grad");
  bias_grad_finalize_kernel<<<blocks_for(c), kThreads, 0, stream()>>>(parts.as<double>(), splits, c, db);
  MFD_CUDA_LAUNCH_CHECK("bias_grad_finalize");
}

void batch_norm_forward_eval(const float* x, const float* gamma, const float* beta, const float* running_mean,
                             const float* running_var, double eps, float* y, float* save_mean, float* save_invstd,
                             int64_t n, int64_t c, int64_t m) {
  if (c == 0) return;
  DeviceBuffer coef(2 * c * sizeof(double));
  double* a = coef.as<double>();
  bn_eval_coefficients_kernel<<<blocks_for(c), kThreads, 0, stream()>>>(gamma, beta, running_mean, running_var, eps,
                                                                        c, a, a + c, save_mean, save_invstd);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_eval_coefficients");
  if (n * m == 0) return;
  bn_apply_kernel<<<blocks_for(n * c * m), kThreads, 0, stream()>>>(x, a, a + c, y, n, c, m);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_apply");
}

void batch_norm_forward_train(const float* x, const float* gamma, const float* beta, double momentum, double eps,
                              float* running_mean, float* running_var, float* y, float* save_mean,
                              float* save_invstd, int64_t n, int64_t c, int64_t m) {
  if (c == 0 || n * m == 0) return;
  const int splits = channel_splits(n, c, m);
  const double count = double(n * m);
  DeviceBuffer parts(c * splits * sizeof(double)), stats(3 * c * sizeof(double));
  double* mean = stats.as<double>();
  double* a = mean + c;
  double* shift = a + c;
  cudaStream_t s = stream();
  const dim3 grid(static_cast<unsigned>(c), splits);
  channel_sums_kernel<<<grid, kThreads, 0, s>>>(x, nullptr, nullptr, nullptr, n, c, m, parts.as<double>(), nullptr);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_sums");
  bn_mean_kernel<<<blocks_for(c), kThreads, 0, s>>>(parts.as<double>(), splits, c, count, mean);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_mean");
  channel_sq_dev_kernel<<<grid, kThreads, 0, s>>>(x, mean, n, c, m, parts.as<double>());
  MFD_CUDA_LAUNCH_CHECK("batch_norm_variance");
  bn_train_coefficients_kernel<<<blocks_for(c), kThreads, 0, s>>>(parts.as<double>(), splits, mean, gamma, beta,
                                                                  momentum, eps, count, c, running_mean, running_var,
                                                                  a, shift, save_mean, save_invstd);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_coefficients");
  bn_apply_kernel<<<blocks_for(n * c * m), kThreads, 0, s>>>(x, a, shift, y, n, c, m);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_apply");
}

void batch_norm_backward(const float* x, const float* gamma, const float* mean, const float* invstd,
                         const float* dy, bool batch_stats, float* dx, float* dgamma, float* dbeta, int64_t n,
                         int64_t c, int64_t m) {
  if (c == 0 || n * m == 0) return;
  const int splits = channel_splits(n, c, m);
  DeviceBuffer parts(2 * c * splits * sizeof(double)), coef(3 * c * sizeof(double));
  double* parts_dy = parts.as<double>();
  double* parts_dyx = parts_dy + c * splits;
  cudaStream_t s = stream();
  channel_sums_kernel<<<dim3(static_cast<unsigned>(c), splits), kThreads, 0, s>>>(dy, x, mean, invstd, n, c, m,
                                                                                  parts_dy, parts_dyx);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_backward_sums");
  bn_backward_finalize_kernel<<<blocks_for(c), kThreads, 0, s>>>(parts_dy, parts_dyx, splits, gamma, invstd,
                                                                 batch_stats, double(n * m), c, dgamma, dbeta,
                                                                 coef.as<double>());
  MFD_CUDA_LAUNCH_CHECK("batch_norm_backward_finalize");
  if (!dx) return;
  bn_backward_dx_kernel<<<blocks_for(n * c * m), kThreads, 0, s>>>(x, dy, mean, invstd, coef.as<double>(), dx, n, c,
                                                                   m);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_backward_dx");
}

void max_pool2d_forward(const float* x, float* y, const PoolShape& s) {
  MFD_LAUNCH_1D("max_pool2d", max_pool_forward_kernel, s.planes * s.p * s.q, x, y, s);
}

void max_pool2d_backward(const float* x, const float* dy, float* dx, const PoolShape& s) {
  const int64_t outputs = s.planes * s.p * s.q, inputs = s.planes * s.h * s.w;
  if (outputs == 0 || inputs == 0) return;
  MFD_CHECK(s.h * s.w <= INT32_MAX, "max_pool2d_backward: a plane of ", s.h * s.w, " elements is too large");
  DeviceBuffer arg(outputs * sizeof(int32_t));
  max_pool_argmax_kernel<<<blocks_for(outputs), kThreads, 0, stream()>>>(x, arg.as<int32_t>(), s);
  MFD_CUDA_LAUNCH_CHECK("max_pool2d_argmax");
  max_pool_backward_kernel<<<blocks_for(inputs), kThreads, 0, stream()>>>(arg.as<int32_t>(), dy, dx, s);
  MFD_CUDA_LAUNCH_CHECK("max_pool2d_backward");
}

void avg_pool2d_forward(const float* x, float* y, const PoolShape& s) {
  MFD_LAUNCH_1D("avg_pool2d", avg_pool_forward_kernel, s.planes * s.p * s.q, x, y, s);
}
void avg_pool2d_backward(const float* dy, float* dx, const PoolShape& s) {
  if (s.planes * s.p * s.q == 0) return;
  MFD_LAUNCH_1D("avg_pool2d_backward", avg_pool_backward_kernel, s.planes * s.h * s.w, dy, dx, s);
}

void global_avg_pool_forward(const float* x, float* y, int64_t planes, int64_t m) {
  if (planes == 0) return;
  const int64_t threads = planes * 32;
  global_avg_pool_forward_kernel<<<static_cast<unsigned>((threads + kThreads - 1) / kThreads), kThreads, 0,
                                   stream()>>>(x, y, planes, m);
  MFD_CUDA_LAUNCH_CHECK("global_avg_pool");
}
void global_avg_pool_backward(const float* dy, float* dx, int64_t planes, int64_t m) {
  MFD_LAUNCH_1D("global_avg_pool_backward", global_avg_pool_backward_kernel, planes * m, dy, dx, planes, m);
}

void concat_backward_piece(const float* whole, float* piece, int64_t n, int64_t total, int64_t start, int64_t c,
                           int64_t m) {
  MFD_LAUNCH_1D("concat_channels_backward", concat_backward_kernel, n * c * m, whole, piece, n, total, start, c, m);
}

void l2_normalize_forward(const float* x, double eps, float* y, int64_t n, int64_t d) {
  if (n == 0) return;
  l2_forward_kernel<<<static_cast<unsigned>(n), kRowThreads, 0, stream()>>>(x, eps, y, d);
  MFD_CUDA_LAUNCH_CHECK("l2_normalize");
}
void l2_normalize_backward(const float* x, const float* y, const float* dy, double eps, float* dx, int64_t n,
                           int64_t d) {
  if (n == 0) return;
  l2_backward_kernel<<<static_cast<unsigned>(n), kRowThreads, 0, stream()>>>(x, y, dy, eps, dx, d);
  MFD_CUDA_LAUNCH_CHECK("l2_normalize_backward");
}

void check_labels(const char* op, const int32_t* labels, int64_t n, int64_t k) {
  if (n == 0) return;
  MFD_CHECK(n <= INT32_MAX, op, ": ", n, " labels are too many");
  note_label_check(op);
  check_labels_kernel<<<1, kThreads, 0, stream()>>>(labels, n, k, label_flag_device());
  MFD_CUDA_LAUNCH_CHECK("check_labels");
}

void count_correct(const float* scores, const int32_t* labels, int64_t n, int64_t k, float* out) {
  if (n == 0) return;
  MFD_LAUNCH_1D("count_correct", count_correct_kernel, n, scores, labels, n, k, out);
}

void softmax_cross_entropy_forward(const float* logits, const int32_t* labels, float* loss, float* probs,
                                   int64_t n, int64_t k) {
  if (n == 0) return;
  DeviceBuffer rows(n * sizeof(double));
  softmax_forward_kernel<<<static_cast<unsigned>(n), kRowThreads, 0, stream()>>>(logits, labels, probs,
                                                                                 rows.as<double>(), k);
  MFD_CUDA_LAUNCH_CHECK("cross_entropy");
  finalize_sum(rows.as<double>(), n, 1.0, double(n), loss);
}
void softmax_cross_entropy_backward(const float* probs, const int32_t* labels, const float* dloss, float* dlogits,
                                    int64_t n, int64_t k) {
  MFD_LAUNCH_1D("cross_entropy_backward", softmax_backward_kernel, n * k, probs, labels, dloss, dlogits, n, k);
}

void margin_logits_forward(const float* cos, const int32_t* labels, const MarginParams& p, float* out, int64_t n,
                           int64_t k) {
  MFD_LAUNCH_1D("margin_logits", margin_forward_kernel, n * k, cos, labels, p, out, n, k);
}
void margin_logits_backward(const float* cos, const int32_t* labels, const MarginParams& p, const float* dout,
                            float* dcos, int64_t n, int64_t k) {
  MFD_LAUNCH_1D("margin_logits_backward", margin_backward_kernel, n * k, cos, labels, p, dout, dcos, n, k);
}

void center_loss_forward(const float* x, const float* centers, const int32_t* labels, float* loss, int64_t n,
                         int64_t e) {
  // k is not passed: labels were checked against the centres' count by the caller.
  if (n == 0) return;
  DeviceBuffer rows(n * sizeof(double));
  center_forward_kernel<<<static_cast<unsigned>(n), kRowThreads, 0, stream()>>>(x, centers, labels, rows.as<double>(),
                                                                                e, INT64_MAX);
  MFD_CUDA_LAUNCH_CHECK("center_loss");
  finalize_sum(rows.as<double>(), n, 0.5, double(n), loss);
}
void center_loss_backward(const float* x, const float* centers, const int32_t* labels, const float* dloss,
                          float* dx, int64_t n, int64_t e, int64_t k) {
  MFD_LAUNCH_1D("center_loss_backward", center_backward_kernel, n * e, x, centers, labels, dloss, dx, n, e, k);
}
void center_update(const float* x, const int32_t* labels, double alpha, float* centers, int64_t n, int64_t e,
                   int64_t k) {
  MFD_LAUNCH_1D("center_update", center_update_kernel, k * e, x, labels, alpha, centers, n, e, k);
}

void mfd_center(const float* x, int64_t b, int64_t d, int64_t m, MfdCentering centering, float* y,
                float* inv_norm) {
  if (d == 0) return;
  if (b * m == 0) {  // no observations: every channel is dead (inv_norm 0), as on the CPU
    fill(inv_norm, DType::f32, d, 0.0);
    return;
  }
  cudaStream_t s = stream();
  if (centering == MfdCentering::batch) {
    const int splits = channel_splits(1, d, m);  // the work of a block is a set of positions
    DeviceBuffer parts(2 * d * splits * sizeof(double));
    double* raw = parts.as<double>();
    double* cen = raw + d * splits;
    mfd_center_batch_kernel<<<dim3(static_cast<unsigned>(d), splits), kThreads, 0, s>>>(x, b, d, m, y, raw, cen);
    MFD_CUDA_LAUNCH_CHECK("mfd_center_batch");
    mfd_inv_norm_kernel<<<blocks_for(d), kThreads, 0, s>>>(raw, cen, splits, d, inv_norm);
    MFD_CUDA_LAUNCH_CHECK("mfd_inv_norm");
    return;
  }
  const int splits = channel_splits(b, d, m);
  DeviceBuffer parts(3 * d * splits * sizeof(double)), mean(d * sizeof(double));
  double* sums = parts.as<double>();
  double* raw = sums + d * splits;
  double* cen = raw + d * splits;
  const dim3 grid(static_cast<unsigned>(d), splits);
  mfd_channel_sums_kernel<<<grid, kThreads, 0, s>>>(x, b, d, m, sums, raw);
  MFD_CUDA_LAUNCH_CHECK("mfd_channel_sums");
  mfd_channel_mean_kernel<<<blocks_for(d), kThreads, 0, s>>>(sums, splits, d, double(b * m), mean.as<double>());
  MFD_CUDA_LAUNCH_CHECK("mfd_channel_mean");
  mfd_channel_apply_kernel<<<grid, kThreads, 0, s>>>(x, b, d, m, mean.as<double>(), y, cen);
  MFD_CUDA_LAUNCH_CHECK("mfd_channel_apply");
  mfd_inv_norm_kernel<<<blocks_for(d), kThreads, 0, s>>>(raw, cen, splits, d, inv_norm);
  MFD_CUDA_LAUNCH_CHECK("mfd_inv_norm");
}

void mfd_normalize(float* corr, const float* inv_norm, int64_t d, float* loss, float* mean_abs) {
  if (d == 0) return;
  DeviceBuffer rows(2 * d * sizeof(double));
  double* row_sq = rows.as<double>();
  double* row_abs = row_sq + d;
  mfd_normalize_kernel<<<static_cast<unsigned>(d), kThreads, 0, stream()>>>(corr, inv_norm, d, row_sq, row_abs);
  MFD_CUDA_LAUNCH_CHECK("mfd_normalize");
  finalize_sum(row_sq, d, 1.0, mfd_pairs(d), loss);
  finalize_sum(row_abs, d, 1.0, mfd_pairs(d), mean_abs);
}

void mfd_grad_matrix(const float* corr, const float* inv_norm, const float* dloss, float* a, int64_t d) {
  if (d == 0) return;
  mfd_grad_matrix_kernel<<<static_cast<unsigned>(d), kThreads, 0, stream()>>>(corr, inv_norm, dloss, a, d);
  MFD_CUDA_LAUNCH_CHECK("mfd_grad_matrix");
}

void mfd_scatter_add(const float* dy, float* dx, int64_t b, int64_t d, int64_t m) {
  MFD_LAUNCH_1D("mfd_scatter_add", mfd_scatter_add_kernel, b * d * m, dy, dx, b, d, m);
}

}  // namespace mfd::cuda
