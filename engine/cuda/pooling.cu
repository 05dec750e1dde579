// Pooling on CUDA: max and average pooling through cuDNN (cudnnPoolingForward and Backward;
// deterministic max mode; the average counts the padding, PyTorch's default), with descriptors
// made once per shape and cached; global average pooling is a reduction kernel (one warp per map).
// Pooling never mixes channels, so the N * C maps are given to cuDNN as N = planes, C = 1.
#include <array>
#include <map>
#include <memory>
#include <mutex>

#include "engine/cuda/cudnn_util.h"
#include "engine/cuda/kernels.h"
#include "engine/cuda/reduce.cuh"

namespace mfd::cuda {

namespace {

struct PoolDescs {
  TensorDesc x, y;
  cudnnPoolingDescriptor_t pool = nullptr;
  PoolDescs(const PoolShape& s, cudnnPoolingMode_t mode) : x(s.planes, 1, s.h, s.w), y(s.planes, 1, s.p, s.q) {
    const Pool2dParams& p = s.params;
    MFD_CUDNN_CHECK(cudnnCreatePoolingDescriptor(&pool));
    MFD_CUDNN_CHECK(cudnnSetPooling2dDescriptor(pool, mode, CUDNN_NOT_PROPAGATE_NAN, p.kernel_h, p.kernel_w, p.pad_h,
                                                p.pad_w, p.stride_h, p.stride_w));
  }
  ~PoolDescs() { cudnnDestroyPoolingDescriptor(pool); }
  PoolDescs(const PoolDescs&) = delete;
  PoolDescs& operator=(const PoolDescs&) = delete;
};

// The descriptors of (mode, shape), made on first use and kept.
const PoolDescs& pool_descs(const PoolShape& s, cudnnPoolingMode_t mode) {
  using Key = std::array<int64_t, 12>;
  static std::mutex mutex;
  static std::map<Key, std::unique_ptr<PoolDescs>> cache;
  const Pool2dParams& p = s.params;
  const Key key{mode, s.planes, s.h, s.w, s.p, s.q, p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.pad_h, p.pad_w};
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<PoolDescs>& d = cache[key];
  if (!d) d = std::make_unique<PoolDescs>(s, mode);
  return *d;
}

constexpr cudnnPoolingMode_t kMax = CUDNN_POOLING_MAX_DETERMINISTIC;
constexpr cudnnPoolingMode_t kAverage = CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING;

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

}  // namespace

void max_pool2d_forward(const float* x, float* y, const PoolShape& s) {
  if (s.planes * s.p * s.q == 0) return;
  const PoolDescs& d = pool_descs(s, kMax);
  MFD_CUDNN_CHECK(cudnnPoolingForward(cudnn(), d.pool, &kOne, d.x.d, x, &kZero, d.y.d, y));
}

// cuDNN sends each window's gradient to one of its maxima; where a window holds several equal
// maxima that may be another one than the CPU's first (test/engine/pooling_test.cpp accepts both).
void max_pool2d_backward(const float* x, const float* y, const float* dy, float* dx, const PoolShape& s) {
  if (s.planes * s.p * s.q == 0 || s.planes * s.h * s.w == 0) return;
  const PoolDescs& d = pool_descs(s, kMax);
  MFD_CUDNN_CHECK(cudnnPoolingBackward(cudnn(), d.pool, &kOne, d.y.d, y, d.y.d, dy, d.x.d, x, &kOne, d.x.d, dx));
}

void avg_pool2d_forward(const float* x, float* y, const PoolShape& s) {
  if (s.planes * s.p * s.q == 0) return;
  const PoolDescs& d = pool_descs(s, kAverage);
  MFD_CUDNN_CHECK(cudnnPoolingForward(cudnn(), d.pool, &kOne, d.x.d, x, &kZero, d.y.d, y));
}

// Average pooling's backward reads neither y nor x; cuDNN still takes their pointers, so dy and
// dx (of the same shapes) stand in for them.
void avg_pool2d_backward(const float* dy, float* dx, const PoolShape& s) {
  if (s.planes * s.p * s.q == 0 || s.planes * s.h * s.w == 0) return;
  const PoolDescs& d = pool_descs(s, kAverage);
  MFD_CUDNN_CHECK(cudnnPoolingBackward(cudnn(), d.pool, &kOne, d.y.d, dy, d.y.d, dy, d.x.d, dx, &kOne, d.x.d, dx));
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

}  // namespace mfd::cuda
