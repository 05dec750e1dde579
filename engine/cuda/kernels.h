// The CUDA backend's operations on raw contiguous float32 device arrays, one file per op family
// named like its CPU twin (engine/cpu/X.cpp and engine/cuda/X.cu). Every function queues on the
// context's stream and returns at once. Contracts (assign or accumulate, null = not wanted) are
// those of engine/backend.h. Reductions are deterministic: fixed partitions and fixed-order
// trees, sums in double (engine/cuda/reduce.cuh).
#pragma once
#include <cstdint>

#include "engine/backend.h"

namespace mfd::cuda {

// ---- elementwise.cu ------------------------------------------------------------------------------
// dtype codes as engine/dtype.h's DType.
void fill(void* dst, DType dtype, int64_t n, double value);
void cast(const void* src, DType src_dtype, void* dst, DType dst_dtype, int64_t n);
void axpy(float alpha, const float* x, float* y, int64_t n);
void add(const float* a, const float* b, float* out, int64_t n);
void mul(const float* a, const float* b, float* out, int64_t n);
void mul_accumulate(const float* a, const float* b, float* out, int64_t n);
void relu_forward(const float* x, float cap, float* y, int64_t n);
void relu_backward(const float* y, const float* dy, float cap, float* dx, int64_t n);
void sum(const float* x, int64_t n, double scale, float* out);
void broadcast_accumulate(const float* dout, double scale, float* dx, int64_t n);
void sgd_step(float* w, const float* g, float* v, int64_t n, float lr, float momentum, float weight_decay);
void fill_uniform(float* t, int64_t n, double lo, double hi, uint64_t seed, uint64_t offset);
void fill_normal(float* t, int64_t n, double mean, double std, uint64_t seed, uint64_t offset);
void dropout_mask(float* t, int64_t n, double p, uint64_t seed, uint64_t offset, uint64_t first);

// ---- conv2d.cu: cuDNN, algorithms measured once per shape; the bias kernels -----------------------
void cudnn_conv2d_forward(const float* x, const float* w, float* y, const ConvShape& g);          // y = conv(x, w)
void cudnn_conv2d_backward_data(const float* w, const float* dy, float* dx, const ConvShape& g);  // dx +=
void cudnn_conv2d_backward_filter(const float* x, const float* dy, float* dw, const ConvShape& g);  // dw +=
// y (N, C, M) += b[c] (conv bias; linear bias with M = 1); db[c] += sum over (N, M) of dy.
void bias_add(float* y, const float* b, int64_t n, int64_t c, int64_t m);
void bias_grad(const float* dy, float* db, int64_t n, int64_t c, int64_t m);

// ---- batch_norm.cu: cuDNN for training, our kernels for the rest ----------------------------------
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
// Our own kernels, x viewed as (N, C, M).
void batch_norm_forward_eval(const float* x, const float* gamma, const float* beta, const float* running_mean,
                             const float* running_var, double eps, float* y, float* save_mean, float* save_invstd,
                             int64_t n, int64_t c, int64_t m);
void batch_norm_forward_train(const float* x, const float* gamma, const float* beta, double momentum, double eps,
                              float* running_mean, float* running_var, float* y, float* save_mean,
                              float* save_invstd, int64_t n, int64_t c, int64_t m);
void batch_norm_backward(const float* x, const float* gamma, const float* mean, const float* invstd,
                         const float* dy, bool batch_stats, float* dx, float* dgamma, float* dbeta, int64_t n,
                         int64_t c, int64_t m);
// The stepped training forward and backward (backend.h), (C) statistics assigned, dx accumulated.
void batch_norm_sum(const float* x, float* sum, int64_t n, int64_t c, int64_t m);
void batch_norm_sq_dev(const float* x, const float* sum, double count, float* sq, int64_t n, int64_t c, int64_t m);
void batch_norm_apply_train(const float* x, const float* gamma, const float* beta, const float* sum, const float* sq,
                            double count, double momentum, double eps, float* running_mean, float* running_var,
                            float* y, float* save_mean, float* save_invstd, int64_t n, int64_t c, int64_t m);
void batch_norm_backward_sums(const float* x, const float* mean, const float* invstd, const float* dy, float* sum_dy,
                              float* sum_dy_xhat, int64_t n, int64_t c, int64_t m);
void batch_norm_backward_apply(const float* x, const float* gamma, const float* mean, const float* invstd,
                               const float* dy, const float* sum_dy, const float* sum_dy_xhat, double count, float* dx,
                               int64_t n, int64_t c, int64_t m);

// ---- pooling.cu: cuDNN; global average pooling a reduction ---------------------------------------
void max_pool2d_forward(const float* x, float* y, const PoolShape& s);
void max_pool2d_backward(const float* x, const float* y, const float* dy, float* dx, const PoolShape& s);
void avg_pool2d_forward(const float* x, float* y, const PoolShape& s);
void avg_pool2d_backward(const float* dy, float* dx, const PoolShape& s);
void global_avg_pool_forward(const float* x, float* y, int64_t planes, int64_t m);
void global_avg_pool_backward(const float* dy, float* dx, int64_t planes, int64_t m);

// ---- linear.cu: cuBLAS ------------------------------------------------------------------------------
void linear_forward(const float* x, const float* w, const float* b, float* y, int64_t n, int64_t in, int64_t out);
void linear_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db, int64_t n,
                     int64_t in, int64_t out);

// ---- concat.cu --------------------------------------------------------------------------------------
// whole (N, total, M): channels [start, start + c) = piece (N, c, M); backward: piece += that slice.
void concat_forward_piece(const float* piece, float* whole, int64_t n, int64_t total, int64_t start, int64_t c,
                          int64_t m);
void concat_backward_piece(const float* whole, float* piece, int64_t n, int64_t total, int64_t start, int64_t c,
                           int64_t m);

// ---- l2_normalize.cu ----------------------------------------------------------------------------------
void l2_normalize_forward(const float* x, double eps, float* y, int64_t n, int64_t d);
void l2_normalize_backward(const float* x, const float* y, const float* dy, double eps, float* dx, int64_t n,
                           int64_t d);

// ---- cross_entropy.cu ----------------------------------------------------------------------------------
// Labels are checked on the device before any kernel indexes with them (an out-of-range label
// is never used as an index); the first bad one (lowest sample index) raises an Error naming it
// at the next synchronisation (context.h), not here: no wait.
void check_labels(const char* op, const int32_t* labels, int64_t n, int64_t k);
void softmax_cross_entropy_forward(const float* logits, const int32_t* labels, float* loss, float* probs,
                                   int64_t n, int64_t k);
void softmax_cross_entropy_backward(const float* probs, const int32_t* labels, const float* dloss, float* dlogits,
                                    int64_t n, int64_t k);
// out[0] += the rows of scores (N, K) whose first largest entry is at their label.
void count_correct(const float* scores, const int32_t* labels, int64_t n, int64_t k, float* out);

// ---- margin.cu, center_loss.cu -------------------------------------------------------------------------
void margin_logits_forward(const float* cos, const int32_t* labels, const MarginParams& p, float* out, int64_t n,
                           int64_t k);
void margin_logits_backward(const float* cos, const int32_t* labels, const MarginParams& p, const float* dout,
                            float* dcos, int64_t n, int64_t k);
void center_loss_forward(const float* x, const float* centers, const int32_t* labels, float* loss, int64_t n,
                         int64_t e);
void center_loss_backward(const float* x, const float* centers, const int32_t* labels, const float* dloss,
                          float* dx, int64_t n, int64_t e, int64_t k);
void center_deltas(const float* x, const int32_t* labels, const float* centers, float* delta, float* counts, int64_t n,
                   int64_t e, int64_t k);
void center_apply(const float* delta, const float* counts, double alpha, float* centers, int64_t e, int64_t k);

// ---- mfd.cu: all of MFD on CUDA ------------------------------------------------------------------------
// x (B, D, M); y (D, B*M), inv_norm (D), corr (D, D), loss and mean_abs (scalars) assigned.
void mfd_forward(const float* x, int64_t b, int64_t d, int64_t m, MfdCentering centering, float* y, float* inv_norm,
                 float* corr, float* loss, float* mean_abs);
// The forward in steps (backend.h): sum (D, M) or (D), raw and energy (D), s (D, D), assigned.
void mfd_sums(const float* x, int64_t b, int64_t d, int64_t m, MfdCentering centering, float* sum, float* raw);
void mfd_center(const float* x, int64_t b, int64_t d, int64_t m, MfdCentering centering, const float* sum, double count,
                float* y, float* energy);
void mfd_product(const float* y, int64_t d, int64_t n, float* s);
void mfd_normalize(const float* s, const float* energy, const float* raw, int64_t d, float* inv_norm, float* corr,
                   float* loss, float* mean_abs);
// dx (B, D, M) += dloss[0] * dL/dx from what the forward saved.
void mfd_backward(const float* y, const float* inv_norm, const float* corr, const float* dloss, float* dx, int64_t b,
                  int64_t d, int64_t m);

}  // namespace mfd::cuda
