// Row-wise L2 normalisation on CUDA (the margin losses' embeddings and class weights): one block
// per row, the norm summed in double.
#include "engine/cuda/kernels.h"
#include "engine/cuda/reduce.cuh"

namespace mfd::cuda {

namespace {

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

}  // namespace

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

}  // namespace mfd::cuda
