// Center Loss on CUDA: the loss (one block per sample, then the mean), its input gradient, and
// Wen et al.'s centre update in two steps (one thread per (class, feature), walking the samples in
// order), so that a data-parallel run sums the classes' deltas over the processes in between.
#include "engine/cuda/allocator.h"
#include "engine/cuda/kernels.h"
#include "engine/cuda/reduce.cuh"

namespace mfd::cuda {

namespace {

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

// One thread per (class, feature): the sum of (c_j - x_i) over that class's samples, in sample
// order (and the class's count, by its first feature's thread).
__global__ void center_deltas_kernel(const float* x, const int32_t* labels, const float* centers, float* delta,
                                     float* counts, int64_t n, int64_t e, int64_t k) {
  MFD_GRID_STRIDE(idx, k * e) {
    const int64_t c = idx / e, j = idx - c * e;
    const double cj = centers[idx];
    double d = 0.0;
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i)
      if (labels[i] == c) {
        ++count;
        d += cj - x[i * e + j];
      }
    delta[idx] = static_cast<float>(d);
    if (j == 0) counts[c] = static_cast<float>(count);
  }
}

__global__ void center_apply_kernel(const float* delta, const float* counts, double alpha, float* centers, int64_t e,
                                    int64_t k) {
  MFD_GRID_STRIDE(idx, k * e) {
    const int64_t c = idx / e;
    centers[idx] = static_cast<float>(centers[idx] - alpha * delta[idx] / (1.0 + counts[c]));
  }
}

}  // namespace

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
void center_deltas(const float* x, const int32_t* labels, const float* centers, float* delta, float* counts, int64_t n,
                   int64_t e, int64_t k) {
  MFD_LAUNCH_1D("center_deltas", center_deltas_kernel, k * e, x, labels, centers, delta, counts, n, e, k);
}
void center_apply(const float* delta, const float* counts, double alpha, float* centers, int64_t e, int64_t k) {
  MFD_LAUNCH_1D("center_apply", center_apply_kernel, k * e, delta, counts, alpha, centers, e, k);
}

}  // namespace mfd::cuda
