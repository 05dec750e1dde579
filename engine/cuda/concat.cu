// Channel concatenation on CUDA (DenseNet): the forward copies each piece into its slice with one
// strided cudaMemcpy2DAsync; the backward adds each slice back into its piece with a kernel.
#include "engine/cuda/allocator.h"
#include "engine/cuda/kernels.h"
#include "engine/cuda/launch.cuh"

namespace mfd::cuda {

namespace {

__global__ void concat_backward_kernel(const float* whole, float* piece, int64_t n, int64_t total, int64_t start,
                                       int64_t c, int64_t m) {
  MFD_GRID_STRIDE(idx, n * c * m) {
    const int64_t i = idx / (c * m), r = idx - i * c * m;
    piece[idx] += whole[(i * total + start) * m + r];
  }
}

}  // namespace

void concat_forward_piece(const float* piece, float* whole, int64_t n, int64_t total, int64_t start, int64_t c,
                          int64_t m) {
  if (n == 0 || c * m == 0) return;
  // N rows of c*M floats, from a packed piece into rows of total*M floats.
  count_d2d_copy();
  MFD_CUDA_CHECK(cudaMemcpy2DAsync(whole + start * m, total * m * sizeof(float), piece, c * m * sizeof(float),
                                   c * m * sizeof(float), n, cudaMemcpyDeviceToDevice, stream()));
}

void concat_backward_piece(const float* whole, float* piece, int64_t n, int64_t total, int64_t start, int64_t c,
                           int64_t m) {
  MFD_LAUNCH_1D("concat_channels_backward", concat_backward_kernel, n * c * m, whole, piece, n, total, start, c, m);
}

}  // namespace mfd::cuda
