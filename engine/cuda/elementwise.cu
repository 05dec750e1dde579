// Elementwise CUDA kernels: fill and cast (every dtype), the float32 arithmetic, ReLU/ReLU6, the
// whole-tensor sum and its backward, the SGD step, and the counter-based random fills (the
// formulas of engine/math.h and engine/philox.h, which the CPU runs too).
#include <algorithm>

#include "engine/cuda/allocator.h"
#include "engine/cuda/kernels.h"
#include "engine/cuda/reduce.cuh"
#include "engine/math.h"
#include "engine/philox.h"

namespace mfd::cuda {

namespace {

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
__global__ void dropout_kernel(float* p, int64_t n, double prob, uint64_t seed, uint64_t offset, uint64_t first) {
  MFD_GRID_STRIDE(i, n) p[i] = dropout_keep<float>(philox_uniform(seed, offset, first + i), prob);
}

}  // namespace

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
void dropout_mask(float* t, int64_t n, double p, uint64_t seed, uint64_t offset, uint64_t first) {
  MFD_LAUNCH_1D("dropout_mask", dropout_kernel, n, t, n, p, seed, offset, first);
}

void sum(const float* x, int64_t n, double scale, float* out) {
  // A fixed number of blocks for a given n, each summing a fixed strided subset.
  const unsigned blocks = std::min(blocks_for(n), 1024u);
  DeviceBuffer parts(blocks * sizeof(double));
  sum_partial_kernel<<<blocks, kThreads, 0, stream()>>>(x, n, parts.as<double>());
  MFD_CUDA_LAUNCH_CHECK("sum");
  finalize_sum(parts.as<double>(), blocks, scale, 1.0, out);
}

}  // namespace mfd::cuda
