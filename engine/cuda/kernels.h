// The CUDA backend's own kernels (engine/cuda/kernels.cu), float32, on raw contiguous device
// arrays; every launcher queues on the context's stream and returns at once. Contracts (assign or
// accumulate, null = not wanted) are those of engine/backend.h. Reductions are deterministic:
// fixed partitions and fixed-order trees, sums in double, no atomics.
#pragma once
#include <cstdint>

#include "engine/backend.h"

namespace mfd::cuda {

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
void dropout_mask(float* t, int64_t n, double p, uint64_t seed, uint64_t offset);

// y (N, C, M) += b[c] (conv bias; linear bias with M = 1).
void bias_add(float* y, const float* b, int64_t n, int64_t c, int64_t m);
// db[c] += sum over (N, M) of dy (conv and linear bias gradients).
void bias_grad(const float* dy, float* db, int64_t n, int64_t c, int64_t m);

// Batch norm pieces the CUDA backend runs itself (evaluation, and the backward through running
// statistics), and the full training path used when cuDNN cannot take the call.
void batch_norm_forward_eval(const float* x, const float* gamma, const float* beta, const float* running_mean,
                             const float* running_var, double eps, float* y, float* save_mean, float* save_invstd,
                             int64_t n, int64_t c, int64_t m);
void batch_norm_forward_train(const float* x, const float* gamma, const float* beta, double momentum, double eps,
                              float* running_mean, float* running_var, float* y, float* save_mean,
                              float* save_invstd, int64_t n, int64_t c, int64_t m);
void batch_norm_backward(const float* x, const float* gamma, const float* mean, const float* invstd,
                         const float* dy, bool batch_stats, float* dx, float* dgamma, float* dbeta, int64_t n,
                         int64_t c, int64_t m);

struct PoolShape {
  int64_t planes, h, w, p, q;  // planes = N * C; input (h, w), output (p, q)
  Pool2dParams params;
};
void max_pool2d_forward(const float* x, float* y, const PoolShape& s);
void max_pool2d_backward(const float* x, const float* dy, float* dx, const PoolShape& s);
void avg_pool2d_forward(const float* x, float* y, const PoolShape& s);
void avg_pool2d_backward(const float* dy, float* dx, const PoolShape& s);
void global_avg_pool_forward(const float* x, float* y, int64_t planes, int64_t m);
void global_avg_pool_backward(const float* dy, float* dx, int64_t planes, int64_t m);

// piece (N, c, M) += channels [start, start + c) of whole (N, total, M).
void concat_backward_piece(const float* whole, float* piece, int64_t n, int64_t total, int64_t start, int64_t c,
                           int64_t m);

void l2_normalize_forward(const float* x, double eps, float* y, int64_t n, int64_t d);
void l2_normalize_backward(const float* x, const float* y, const float* dy, double eps, float* dx, int64_t n,
                           int64_t d);

// Labels are checked on the device before any kernel indexes with them (an out-of-range label
// is never used as an index: the kernels clamp it); the first bad one (lowest sample index) raises
// an Error naming it at the next synchronisation (context.h), not here: no wait.
void check_labels(const char* op, const int32_t* labels, int64_t n, int64_t k);
// out[0] += the rows of scores (N, K) whose first largest entry is at their label.
void count_correct(const float* scores, const int32_t* labels, int64_t n, int64_t k, float* out);

void softmax_cross_entropy_forward(const float* logits, const int32_t* labels, float* loss, float* probs,
                                   int64_t n, int64_t k);
void softmax_cross_entropy_backward(const float* probs, const int32_t* labels, const float* dloss, float* dlogits,
                                    int64_t n, int64_t k);

void margin_logits_forward(const float* cos, const int32_t* labels, const MarginParams& p, float* out, int64_t n,
                           int64_t k);
void margin_logits_backward(const float* cos, const int32_t* labels, const MarginParams& p, const float* dout,
                            float* dcos, int64_t n, int64_t k);
void center_loss_forward(const float* x, const float* centers, const int32_t* labels, float* loss, int64_t n,
                         int64_t e);
void center_loss_backward(const float* x, const float* centers, const int32_t* labels, const float* dloss,
                          float* dx, int64_t n, int64_t e, int64_t k);
void center_update(const float* x, const int32_t* labels, double alpha, float* centers, int64_t n, int64_t e,
                   int64_t k);

// MFD pieces (engine/cuda/cuda_backend.cu strings them with the cuBLAS products).
// Centres x (B, D, M) into y (D, B*M) and writes inv_norm (D) with the dead-channel rule.
void mfd_center(const float* x, int64_t b, int64_t d, int64_t m, MfdCentering centering, float* y,
                float* inv_norm);
// corr holds S = y y^T (D, D); normalises it in place into F and writes loss and mean_abs.
void mfd_normalize(float* corr, const float* inv_norm, int64_t d, float* loss, float* mean_abs);
// a (D, D) = dL/dy y^-1 from F, inv_norm and the scalar dloss (on the device).
void mfd_grad_matrix(const float* corr, const float* inv_norm, const float* dloss, float* a, int64_t d);
// dx (B, D, M) += dy (D, B*M) in dx's layout.
void mfd_scatter_add(const float* dy, float* dx, int64_t b, int64_t d, int64_t m);

}  // namespace mfd::cuda
