// The reductions of the CUDA op files, written once: warp and block trees over a combining rule
// (sum, max, min), a final in-order sum of partials, and the per-channel sums over (N, C, M) that
// batch norm and the bias gradients use. Each partition depends only on the shapes and each tree
// has a fixed order, so results are deterministic; sums are in double.
#pragma once
#include <cfloat>
#include <climits>
#include <cstdint>

#include "engine/cuda/launch.cuh"

namespace mfd::cuda {
namespace {

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

inline void finalize_sum(const double* parts, int64_t count, double scale, double divisor, float* out) {
  finalize_sum_kernel<<<1, kThreads, 0, stream()>>>(parts, count, scale, divisor, out);
  MFD_CUDA_LAUNCH_CHECK("finalize_sum");
}

// ---- per-channel reductions over (N, C, M) -------------------------------------------------------

// Splits of one channel's N * M values over blocks (grid (C, splits)); depends on shapes only.
inline int channel_splits(int64_t n, int64_t c, int64_t m) {
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

__global__ void parts_to_channels_kernel(const double* parts, int splits, int64_t c, float* out) {
  MFD_GRID_STRIDE(ch, c) out[ch] = static_cast<float>(sum_parts(parts, ch, splits));
}

// out[c] = the sum of a channel's partial sums (grid (C, splits) above), assigned.
inline void parts_to_channels(const double* parts, int splits, int64_t c, float* out) {
  parts_to_channels_kernel<<<blocks_for(c), kThreads, 0, stream()>>>(parts, splits, c, out);
  MFD_CUDA_LAUNCH_CHECK("parts_to_channels");
}

}  // namespace
}  // namespace mfd::cuda
