// The only place that calls cuDNN (engine/cuda/cudnn_ops.cu): convolutions (forward, backward
// data, backward filter; grouped and depthwise through the group count) with algorithms chosen
// once per shape by measurement, and batch normalisation in training. Float32 NCHW; contracts of
// engine/backend.h (forward assigns, backward accumulates). No cuDNN type leaks out of this header.
#pragma once
#include <cstdint>

#include "engine/backend.h"

namespace mfd::cuda {

struct ConvShape {
  int64_t n, c, h, w;  // x (N, C, H, W)
  int64_t k, r, s;     // w (K, C/groups, R, S)
  int64_t p, q;        // y (N, K, P, Q)
  Conv2dParams params;
};

void cudnn_conv2d_forward(const float* x, const float* w, float* y, const ConvShape& g);          // y = conv(x, w)
void cudnn_conv2d_backward_data(const float* w, const float* dy, float* dx, const ConvShape& g);  // dx +=
void cudnn_conv2d_backward_filter(const float* x, const float* dy, float* dw, const ConvShape& g);  // dw +=

// x (N, C, H, W); y assigned; running statistics updated with `momentum` (unbiased variance);
// save_mean and save_invstd = 1 / sqrt(var + eps) assigned.
void cudnn_batch_norm_forward_train(const float* x, const float* gamma, const float* beta, double momentum,
                                    double eps, float* running_mean, float* running_var, float* y,
                                    float* save_mean, float* save_invstd, int64_t n, int64_t c, int64_t h,
                                    int64_t w);
// Through the batch statistics: dx, dgamma, dbeta += (all three required).
void cudnn_batch_norm_backward(const float* x, const float* gamma, const float* save_mean,
                               const float* save_invstd, const float* dy, float* dx, float* dgamma, float* dbeta,
                               int64_t n, int64_t c, int64_t h, int64_t w);

// Whether cuDNN takes a batch-norm call of this shape (sizes fit its int arguments), unless
// MFD_CUDA_OWN_BN=1 asks for the backend's own kernels.
bool cudnn_batch_norm_usable(int64_t n, int64_t c, int64_t h, int64_t w, double eps);

}  // namespace mfd::cuda
