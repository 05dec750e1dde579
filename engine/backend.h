// Backend: the kernels one device provides. Callers (engine/ops/*) never see the device; they
// call backend_for(tensor) and the CPU (engine/cpu/) or CUDA (engine/cuda/) twin runs.
//
// Contracts, written once here:
//  - every tensor is contiguous and on this backend's device; floating tensors of one call share
//    a dtype (f32 everywhere; f64 on the CPU); labels are i32;
//  - "assigns" overwrites the output; "accumulates" adds (+=) into it, so that a tensor used twice
//    receives both gradient contributions; an undefined output tensor means "not wanted";
//  - shapes are checked by the caller (engine/ops), not here.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace mfd {

struct Conv2dParams {
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  int groups = 1;
};

struct Pool2dParams {
  int kernel_h = 2, kernel_w = 2;
  int stride_h = 2, stride_w = 2;
  int pad_h = 0, pad_w = 0;
};

// How MFD centres a channel's observations: at each position over the batch (the paper's
// eq. 6, Ibar a map), or by one mean over the batch and all positions.
enum class MfdCentering { batch, channel };

// Margin logits of AM-Softmax (s (cos - m) for the true class) or ArcFace (s cos(theta + m)
// for the true class, engine/math.h); every other class gets s cos.
struct MarginParams {
  enum Kind { additive_cosine, additive_angular } kind = additive_cosine;
  double s = 30.0, m = 0.35;
};

// Output size of a convolution or pooling window along one axis (floor mode).
inline int64_t window_out_size(int64_t in, int kernel, int stride, int pad) {
  return (in + 2 * pad - kernel) / stride + 1;
}

// The sizes of one convolution, as both backends' kernels take them.
struct ConvShape {
  int64_t n, c, h, w;  // x (N, C, H, W)
  int64_t k, r, s;     // w (K, C/groups, R, S)
  int64_t p, q;        // y (N, K, P, Q)
  Conv2dParams params;
};
ConvShape conv_shape(const Tensor& x, const Tensor& w, const Conv2dParams& p);

// The sizes of one pooling: `planes` = N * C maps of (h, w) pooled into (p, q).
struct PoolShape {
  int64_t planes, h, w, p, q;
  Pool2dParams params;
};
inline PoolShape pool_shape(const Tensor& x, const Tensor& y, const Pool2dParams& p) {
  return PoolShape{x.size(0) * x.size(1), x.size(2), x.size(3), y.size(2), y.size(3), p};
}

// How a backward kernel writes an input's gradient: adds into it (the contract's rule, so that a
// tensor used twice gets both contributions), or assigns it when it is the gradient's first
// writer (engine/autograd.h, grad_to_write), which spares the pass that would zero it first.
enum class GradWrite { accumulate, assign };

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

  // Memory. allocate() never returns null: it throws an Error saying what to lower.
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr, size_t bytes) = 0;
  virtual void copy_from_host(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* src, size_t bytes) = 0;
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;  // both on this device

  // Elementwise. Assigns unless named otherwise.
  virtual void fill(Tensor& t, double value) = 0;
  virtual void cast(const Tensor& src, Tensor& dst) = 0;                      // dst = src, new dtype
  virtual void axpy(double alpha, const Tensor& x, Tensor& y) = 0;            // y += alpha * x
  virtual void add(const Tensor& a, const Tensor& b, Tensor& out) = 0;        // out = a + b
  virtual void mul(const Tensor& a, const Tensor& b, Tensor& out) = 0;        // out = a * b
  virtual void mul_accumulate(const Tensor& a, const Tensor& b, Tensor& out) = 0;  // out += a * b
  // y = clamp(x, 0, cap); cap = +inf gives relu, 6 gives relu6.
  virtual void relu_forward(const Tensor& x, double cap, Tensor& y) = 0;
  // dx += dy where 0 < y < cap (the gradient at the kinks is 0, as PyTorch's); dx = ... with
  // GradWrite::assign.
  virtual void relu_backward(const Tensor& y, const Tensor& dy, double cap, Tensor& dx, GradWrite write) = 0;
  // Scalar (1-element) out = sum of all elements of x, times scale.
  virtual void sum(const Tensor& x, double scale, Tensor& out) = 0;
  // dx += scale * dout[0] for every element (the backward of sum).
  virtual void broadcast_accumulate(const Tensor& dout, double scale, Tensor& dx) = 0;

  // Random numbers from the counter-based generator (seed, offset): element i depends only on
  // (seed, offset, i). See engine/philox.h.
  virtual void fill_uniform(Tensor& t, double lo, double hi, uint64_t seed, uint64_t offset) = 0;
  virtual void fill_normal(Tensor& t, double mean, double std, uint64_t seed, uint64_t offset) = 0;
  // mask = (u >= p) / (1 - p): a scaled keep-mask for dropout (p < 1), element i from element
  // first + i of the stream (a data-parallel shard's part of the global batch's mask).
  virtual void dropout_mask(Tensor& mask, double p, uint64_t seed, uint64_t offset, uint64_t first) = 0;

  // Convolution. x (N, C, H, W), w (K, C/groups, R, S), b (K) or undefined, y (N, K, P, Q).
  virtual void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b,
                              const Conv2dParams& p, Tensor& y) = 0;
  // Accumulates into whichever of dx, dw, db are defined (dx assigned with GradWrite::assign).
  virtual void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy,
                               const Conv2dParams& p, Tensor& dx, Tensor& dw, Tensor& db, GradWrite dx_write) = 0;

  // Batch normalisation over (N, H, W) per channel. Both forwards assign y and save the
  // statistics they normalised with, save_mean and save_invstd = 1/sqrt(var + eps) (C), for
  // backward. Training normalises with the biased batch variance and updates the running
  // statistics with `momentum` (running_var with the unbiased variance); evaluation normalises
  // with the running statistics.
  virtual void batch_norm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                        double momentum, double eps, Tensor& running_mean,
                                        Tensor& running_var, Tensor& y, Tensor& save_mean,
                                        Tensor& save_invstd) = 0;
  virtual void batch_norm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                       const Tensor& running_mean, const Tensor& running_var,
                                       double eps, Tensor& y, Tensor& save_mean,
                                       Tensor& save_invstd) = 0;
  // Accumulates (dx assigned with GradWrite::assign). `batch_stats` says whether the saved
  // statistics came from the batch (training), in which case the gradient also flows through
  // them, or from the running statistics.
  virtual void batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                                   const Tensor& save_invstd, const Tensor& dy, bool batch_stats,
                                   Tensor& dx, Tensor& dgamma, Tensor& dbeta, GradWrite dx_write) = 0;

  // Batch normalisation in steps, for statistics over several processes' shards of the batch:
  // the caller sums each step's (C) results over the processes before the next step
  // (engine/ops/batch_norm2d.cpp). `count` is the number of values per channel in all shards
  // together. All assign but batch_norm_backward_apply, which accumulates into dx.
  //   sum = the sum of x per channel;  sq = the sum of (x - sum / count)^2 per channel;
  //   apply_train: batch_norm_forward_train's outputs with mean sum / count and biased variance
  //   sq / count (running_var gets sq / (count - 1));
  //   backward_sums: sum_dy = the sum of dy, sum_dy_xhat = the sum of dy * (x - mean) * invstd;
  //   backward_apply: dx += gamma invstd (dy - sum_dy / count - xhat sum_dy_xhat / count).
  virtual void batch_norm_sum(const Tensor& x, Tensor& sum) = 0;
  virtual void batch_norm_sq_dev(const Tensor& x, const Tensor& sum, double count, Tensor& sq) = 0;
  virtual void batch_norm_apply_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& sum,
                                      const Tensor& sq, double count, double momentum, double eps,
                                      Tensor& running_mean, Tensor& running_var, Tensor& y, Tensor& save_mean,
                                      Tensor& save_invstd) = 0;
  virtual void batch_norm_backward_sums(const Tensor& x, const Tensor& save_mean, const Tensor& save_invstd,
                                        const Tensor& dy, Tensor& sum_dy, Tensor& sum_dy_xhat) = 0;
  virtual void batch_norm_backward_apply(const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                                         const Tensor& save_invstd, const Tensor& dy, const Tensor& sum_dy,
                                         const Tensor& sum_dy_xhat, double count, Tensor& dx) = 0;

  // Pooling (floor mode). Max pads with -inf; average counts the padding (PyTorch's default).
  virtual void max_pool2d_forward(const Tensor& x, const Pool2dParams& p, Tensor& y) = 0;
  // Accumulates into dx at the first maximum of each window.
  virtual void max_pool2d_backward(const Tensor& x, const Tensor& y, const Tensor& dy,
                                   const Pool2dParams& p, Tensor& dx) = 0;
  virtual void avg_pool2d_forward(const Tensor& x, const Pool2dParams& p, Tensor& y) = 0;
  virtual void avg_pool2d_backward(const Tensor& dy, const Pool2dParams& p, Tensor& dx) = 0;
  // x (N, C, H, W) -> y (N, C): the mean of each map. Backward accumulates.
  virtual void global_avg_pool_forward(const Tensor& x, Tensor& y) = 0;
  virtual void global_avg_pool_backward(const Tensor& dy, Tensor& dx) = 0;

  // Linear: x (N, I), w (O, I), b (O) or undefined, y (N, O) = x w^T + b. Backward accumulates.
  virtual void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) = 0;
  virtual void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx,
                               Tensor& dw, Tensor& db) = 0;

  // Channel concatenation of (N, C_i, H, W) tensors into y (N, sum C_i, H, W); backward
  // accumulates each slice of dy into its dxs[i], skipping undefined ones (their slice is still
  // channels[i] wide, which is why the counts are passed).
  virtual void concat_channels_forward(const std::vector<Tensor>& xs, Tensor& y) = 0;
  virtual void concat_channels_backward(const Tensor& dy, const std::vector<int64_t>& channels,
                                        std::vector<Tensor>& dxs) = 0;

  // Row-wise L2 normalisation of x (N, D): y = x / max(||x||, eps). Backward accumulates.
  virtual void l2_normalize_forward(const Tensor& x, double eps, Tensor& y) = 0;
  virtual void l2_normalize_backward(const Tensor& x, const Tensor& y, const Tensor& dy,
                                     double eps, Tensor& dx) = 0;

  // Softmax cross-entropy, mean over the batch: logits (N, K), labels i32 (N), loss scalar,
  // probs (N, K) saved for backward. Labels outside [0, K) raise an Error.
  virtual void softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels,
                                             Tensor& loss, Tensor& probs) = 0;
  // dlogits += dloss * (probs - onehot(labels)) / N.
  virtual void softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels,
                                              const Tensor& dloss, Tensor& dlogits) = 0;

  // out[0] += the number of rows of scores (N, K) whose first largest entry is at the row's i32
  // label (N): top-1 hits, counted on the device so that accuracy needs no read-back per step.
  virtual void count_correct(const Tensor& scores, const Tensor& labels, Tensor& out) = 0;

  // MFD loss of one stage output x (B, D, H, W) (see losses/mfd.h for the definition). Assigns:
  // y (D, B*H*W) the centred observations, inv_norm (D) 1/||y_i|| or 0 for a dead channel,
  // corr (D, D) the Pearson matrix F (0 in dead rows and columns, 1 on live diagonals), and the
  // scalars loss = sum_{i!=j} F_ij^2 / (D(D-1)) and mean_abs = sum_{i!=j} |F_ij| / (D(D-1)).
  virtual void mfd_forward(const Tensor& x, MfdCentering centering, Tensor& y, Tensor& inv_norm,
                           Tensor& corr, Tensor& loss, Tensor& mean_abs) = 0;
  // The same forward in steps, for statistics over several processes' shards of the batch: the
  // caller sums sum and raw, then s and energy, over the processes (losses/mfd.cpp); x is this
  // process's shard, M = H * W. All assign.
  //   sums: sum (D, M) of x over the shard's samples at each position (batch centring) or (D)
  //         over all its values (channel), raw (D) the sum of x^2 per channel;
  //   center: y (D, B*M) = x - sum / count (count: the samples of all shards, times M for
  //         channel centring), energy (D) the sum of y^2 per channel;
  //   product: s (D, D) = y y^T;
  //   normalize: from the summed s, energy and raw, inv_norm (the dead-channel rule), corr, loss
  //         and mean_abs as mfd_forward; s may be corr itself.
  virtual void mfd_sums(const Tensor& x, MfdCentering centering, Tensor& sum, Tensor& raw) = 0;
  virtual void mfd_center(const Tensor& x, MfdCentering centering, const Tensor& sum, double count, Tensor& y,
                          Tensor& energy) = 0;
  virtual void mfd_product(const Tensor& y, Tensor& s) = 0;
  virtual void mfd_normalize(const Tensor& s, const Tensor& energy, const Tensor& raw, Tensor& inv_norm,
                             Tensor& corr, Tensor& loss, Tensor& mean_abs) = 0;
  // dx += dloss * dL/dx, from what the forward saved. Also for a shard: every statistic in F is
  // the global batch's, so dL/dx of the shard's own samples needs nothing from the others.
  virtual void mfd_backward(const Tensor& y, const Tensor& inv_norm, const Tensor& corr,
                            const Tensor& dloss, Tensor& dx) = 0;

  // Margin logits from cosines cos (N, K) and i32 labels (N): assigns out (N, K); backward
  // accumulates into dcos.
  virtual void margin_logits_forward(const Tensor& cos, const Tensor& labels, const MarginParams& p,
                                     Tensor& out) = 0;
  virtual void margin_logits_backward(const Tensor& cos, const Tensor& labels, const MarginParams& p,
                                      const Tensor& dout, Tensor& dcos) = 0;

  // Center loss of embeddings x (N, E) against class centres (K, E): loss = 1/2 mean_i
  // ||x_i - c_{y_i}||^2 (scalar). Backward accumulates into dx only (centres are not learned by
  // gradient). The centres move by Wen et al.'s rule, c_j -= alpha * sum_{y_i = j} (c_j - x_i) /
  // (1 + n_j), in two steps so that several processes can sum their samples' part in between:
  // center_deltas assigns delta (K, E) = sum_{y_i = j} (c_j - x_i) and counts (K) = n_j;
  // center_apply moves the centres.
  virtual void center_loss_forward(const Tensor& x, const Tensor& centers, const Tensor& labels,
                                   Tensor& loss) = 0;
  virtual void center_loss_backward(const Tensor& x, const Tensor& centers, const Tensor& labels,
                                    const Tensor& dloss, Tensor& dx) = 0;
  virtual void center_deltas(const Tensor& x, const Tensor& labels, const Tensor& centers, Tensor& delta,
                             Tensor& counts) = 0;
  virtual void center_apply(const Tensor& delta, const Tensor& counts, double alpha, Tensor& centers) = 0;

  // One SGD step with PyTorch's semantics, in place: v = momentum * v + g + wd * w; w -= lr * v.
  virtual void sgd_step(Tensor& w, const Tensor& g, Tensor& v, double lr, double momentum,
                        double weight_decay) = 0;
};

Backend& backend_for(Device device);
inline Backend& backend_for(const Tensor& t) { return backend_for(t.device()); }

// Whether CUDA ops can run here. When not, *why_not says why ("no NVIDIA driver found ...",
// "built without CUDA ...").
bool cuda_available(std::string* why_not = nullptr);
int cuda_device_count();

}  // namespace mfd
