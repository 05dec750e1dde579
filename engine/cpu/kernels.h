// CPU kernels, templates over the scalar type (float, double), on raw contiguous arrays.
// Contracts (assign or accumulate) are those of engine/backend.h; null output pointers are skipped.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/backend.h"

namespace mfd::cpu {

// Uninitialised scratch memory of n elements from the backend's block cache (a Tensor, so that
// it returns there when the holder goes out of scope).
template <typename T> Tensor scratch(int64_t n) { return Tensor::empty({n}, dtype_of<T>()); }


// elementwise.cpp
template <typename T> void fill(T* p, int64_t n, T value);
template <typename T> void axpy(T alpha, const T* x, T* y, int64_t n);
template <typename T> void add(const T* a, const T* b, T* out, int64_t n);
template <typename T> void mul(const T* a, const T* b, T* out, int64_t n);
template <typename T> void mul_accumulate(const T* a, const T* b, T* out, int64_t n);
template <typename T> void relu_forward(const T* x, T cap, T* y, int64_t n);
// dx += (or, with assign, =) the gradient.
template <typename T> void relu_backward(const T* y, const T* dy, T cap, T* dx, int64_t n, bool assign);
template <typename T> void sum(const T* x, int64_t n, double scale, T* out);
template <typename T> void broadcast_accumulate(const T* dout, double scale, T* dx, int64_t n);
template <typename T> void sgd_step(T* w, const T* g, T* v, int64_t n, T lr, T momentum, T weight_decay);
template <typename T> void fill_uniform(T* p, int64_t n, double lo, double hi, uint64_t seed, uint64_t offset);
template <typename T> void fill_normal(T* p, int64_t n, double mean, double std, uint64_t seed, uint64_t offset);
template <typename T> void dropout_mask(T* m, int64_t n, double p, uint64_t seed, uint64_t offset, uint64_t first);

template <typename T>
void conv2d_forward(const T* x, const T* w, const T* b, T* y, const ConvShape& g);
template <typename T>
void conv2d_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, const ConvShape& g, bool assign_dx);

template <typename T> void max_pool2d_forward(const T* x, T* y, const PoolShape& g);
template <typename T>
void max_pool2d_backward(const T* x, const T* y, const T* dy, T* dx, const PoolShape& g);
template <typename T> void avg_pool2d_forward(const T* x, T* y, const PoolShape& g);
template <typename T> void avg_pool2d_backward(const T* dy, T* dx, const PoolShape& g);

// x (planes, M) -> y (planes): the mean of each plane; backward accumulates dy / M.
template <typename T> void global_avg_pool_forward(const T* x, T* y, int64_t planes, int64_t m);
template <typename T> void global_avg_pool_backward(const T* dy, T* dx, int64_t planes, int64_t m);

// Channel concatenation: whole (N, total, M) and pieces (N, channels[i], M). Forward copies the
// pieces into whole; backward (to_pieces) accumulates the slices of whole into the non-null pieces.
template <typename T>
void concat_channels(T* whole, int64_t n, int64_t total, int64_t m, const std::vector<T*>& pieces,
                     const std::vector<int64_t>& channels, bool to_pieces);

// x viewed as (N, C, M) with M = H * W.
template <typename T>
void batch_norm_forward_train(const T* x, const T* gamma, const T* beta, double momentum, double eps,
                              T* running_mean, T* running_var, T* y, T* save_mean, T* save_invstd,
                              int64_t n, int64_t c, int64_t m);
template <typename T>
void batch_norm_forward_eval(const T* x, const T* gamma, const T* beta, const T* running_mean,
                             const T* running_var, double eps, T* y, T* save_mean, T* save_invstd,
                             int64_t n, int64_t c, int64_t m);
template <typename T>
void batch_norm_backward(const T* x, const T* gamma, const T* mean, const T* invstd, const T* dy,
                         bool batch_stats, T* dx, T* dgamma, T* dbeta, int64_t n, int64_t c,
                         int64_t m, bool assign_dx);

// Batch norm in steps (backend.h): statistics (C) per channel.
template <typename T> void batch_norm_sum(const T* x, T* sum, int64_t n, int64_t c, int64_t m);
template <typename T>
void batch_norm_sq_dev(const T* x, const T* sum, double count, T* sq, int64_t n, int64_t c, int64_t m);
template <typename T>
void batch_norm_apply_train(const T* x, const T* gamma, const T* beta, const T* sum, const T* sq, double count,
                            double momentum, double eps, T* running_mean, T* running_var, T* y, T* save_mean,
                            T* save_invstd, int64_t n, int64_t c, int64_t m);
template <typename T>
void batch_norm_backward_sums(const T* x, const T* mean, const T* invstd, const T* dy, T* sum_dy, T* sum_dy_xhat,
                              int64_t n, int64_t c, int64_t m);
template <typename T>
void batch_norm_backward_apply(const T* x, const T* gamma, const T* mean, const T* invstd, const T* dy,
                               const T* sum_dy, const T* sum_dy_xhat, double count, T* dx, int64_t n, int64_t c,
                               int64_t m);

template <typename T>
void linear_forward(const T* x, const T* w, const T* b, T* y, int64_t n, int64_t in, int64_t out);
template <typename T>
void linear_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, int64_t n,
                     int64_t in, int64_t out);

template <typename T>
void softmax_cross_entropy_forward(const T* logits, const int32_t* labels, T* loss, T* probs,
                                   int64_t n, int64_t k);
template <typename T>
void softmax_cross_entropy_backward(const T* probs, const int32_t* labels, T dloss, T* dlogits,
                                    int64_t n, int64_t k);

// out[0] += the rows of scores (N, K) whose first largest entry is at their label.
template <typename T> void count_correct(const T* scores, const int32_t* labels, int64_t n, int64_t k, T* out);

// MFD loss; x (B, D, M), y (D, B*M), inv_norm (D), corr (D, D), loss and mean_abs scalars.
template <typename T>
void mfd_forward(const T* x, int64_t b, int64_t d, int64_t m, MfdCentering centering, T* y,
                 T* inv_norm, T* corr, T* loss, T* mean_abs);
// MFD in steps (backend.h): sum (D, M) or (D), raw and energy (D), s (D, D).
template <typename T>
void mfd_sums(const T* x, int64_t b, int64_t d, int64_t m, MfdCentering centering, T* sum, T* raw);
template <typename T>
void mfd_center(const T* x, int64_t b, int64_t d, int64_t m, MfdCentering centering, const T* sum, double count, T* y,
                T* energy);
template <typename T> void mfd_product(const T* y, int64_t d, int64_t n, T* s);
template <typename T>
void mfd_normalize(const T* s, const T* energy, const T* raw, int64_t d, T* inv_norm, T* corr, T* loss, T* mean_abs);
template <typename T>
void mfd_backward(const T* y, const T* inv_norm, const T* corr, T dloss, T* dx, int64_t b, int64_t d,
                  int64_t m);

// Margin logits and Center Loss: cos / out (N, K), x (N, E), centers (K, E).
template <typename T>
void margin_logits_forward(const T* cos, const int32_t* labels, const MarginParams& p, T* out, int64_t n, int64_t k);
template <typename T>
void margin_logits_backward(const T* cos, const int32_t* labels, const MarginParams& p, const T* dout, T* dcos,
                            int64_t n, int64_t k);
template <typename T>
void center_loss_forward(const T* x, const T* centers, const int32_t* labels, T* loss, int64_t n, int64_t e);
template <typename T>
void center_loss_backward(const T* x, const T* centers, const int32_t* labels, T dloss, T* dx, int64_t n,
                          int64_t e);
template <typename T>
void center_deltas(const T* x, const int32_t* labels, const T* centers, T* delta, T* counts, int64_t n, int64_t e,
                   int64_t k);
template <typename T> void center_apply(const T* delta, const T* counts, double alpha, T* centers, int64_t e, int64_t k);

template <typename T> void l2_normalize_forward(const T* x, double eps, T* y, int64_t n, int64_t d);
template <typename T>
void l2_normalize_backward(const T* x, const T* y, const T* dy, double eps, T* dx, int64_t n,
                           int64_t d);

}  // namespace mfd::cpu
