// Launch helpers shared by the CUDA op files: block sizes, the grid of a grid-stride loop and the
// one-line launch of an elementwise kernel (queued on the context's stream, checked).
#pragma once
#include <algorithm>
#include <cstdint>

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"

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

}  // namespace
}  // namespace mfd::cuda

// Launches kernel over n elements (nothing for n == 0) in a grid-stride loop and checks it; for
// launchers that return void.
#define MFD_LAUNCH_1D(name, kernel, n, ...)                               \
  do {                                                                    \
    if ((n) == 0) return;                                                 \
    kernel<<<blocks_for(n), kThreads, 0, stream()>>>(__VA_ARGS__);        \
    MFD_CUDA_LAUNCH_CHECK(name);                                          \
  } while (0)
