// AM-Softmax and ArcFace margin logits on CUDA: elementwise over (N, K), the true class getting
// its margin (engine/math.h's arcface_target, which the CPU runs too).
#include "engine/cuda/kernels.h"
#include "engine/cuda/launch.cuh"
#include "engine/math.h"

namespace mfd::cuda {

namespace {

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

}  // namespace

void margin_logits_forward(const float* cos, const int32_t* labels, const MarginParams& p, float* out, int64_t n,
                           int64_t k) {
  MFD_LAUNCH_1D("margin_logits", margin_forward_kernel, n * k, cos, labels, p, out, n, k);
}
void margin_logits_backward(const float* cos, const int32_t* labels, const MarginParams& p, const float* dout,
                            float* dcos, int64_t n, int64_t k) {
  MFD_LAUNCH_1D("margin_logits_backward", margin_backward_kernel, n * k, cos, labels, p, dout, dcos, n, k);
}

}  // namespace mfd::cuda
