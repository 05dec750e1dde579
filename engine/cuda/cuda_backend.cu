// The CUDA backend: binds engine/backend.h to the op files of engine/cuda/ (kernels.h lists them:
// cuDNN for convolution, batch norm and pooling, cuBLAS for linear and MFD's products, our kernels
// for the rest). Float32 only; every call is queued on the context's one stream
// (engine/cuda/context.h) and returns at once, except copy_to_host (it waits, and then raises a
// bad label any check found, see context.h).
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/cuda/allocator.h"
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/kernels.h"

namespace mfd::cuda {

namespace {

// The float pointer of a tensor the op computes with, or null for an undefined (not wanted) one.
float* f32(const char* op, const Tensor& t) {
  if (!t.defined()) return nullptr;
  MFD_CHECK(t.dtype() == DType::f32, op, ": the CUDA backend computes in float32 only, got a ", dtype_name(t.dtype()),
            " tensor; convert it with .to(DType::f32) or use --device cpu for float64");
  return static_cast<float*>(t.raw());
}

const int32_t* labels_of(const char* op, const Tensor& t) {
  MFD_CHECK(t.dtype() == DType::i32, op, ": labels must be i32, got ", dtype_name(t.dtype()));
  return static_cast<const int32_t*>(t.raw());
}

class CudaBackend final : public Backend {
 public:
  Device device() const override { return Device::cuda; }

  void* allocate(size_t bytes) override { return device_alloc(bytes); }
  void deallocate(void* ptr, size_t bytes) override { device_free(ptr, bytes); }
  void copy_from_host(void* dst, const void* src, size_t bytes) override { copy_host_to_device(dst, src, bytes); }
  void copy_to_host(void* dst, const void* src, size_t bytes) override { copy_device_to_host(dst, src, bytes); }
  void copy(void* dst, const void* src, size_t bytes) override { copy_device_to_device(dst, src, bytes); }

  // Data movement (fill, cast) takes every dtype; arithmetic is float32.
  void fill(Tensor& t, double value) override { cuda::fill(t.raw(), t.dtype(), t.numel(), value); }
  void cast(const Tensor& src, Tensor& dst) override {
    cuda::cast(src.raw(), src.dtype(), dst.raw(), dst.dtype(), src.numel());
  }

  void axpy(double alpha, const Tensor& x, Tensor& y) override {
    cuda::axpy(static_cast<float>(alpha), f32("axpy", x), f32("axpy", y), x.numel());
  }
  void add(const Tensor& a, const Tensor& b, Tensor& out) override {
    cuda::add(f32("add", a), f32("add", b), f32("add", out), a.numel());
  }
  void mul(const Tensor& a, const Tensor& b, Tensor& out) override {
    cuda::mul(f32("mul", a), f32("mul", b), f32("mul", out), a.numel());
  }
  void mul_accumulate(const Tensor& a, const Tensor& b, Tensor& out) override {
    cuda::mul_accumulate(f32("mul_accumulate", a), f32("mul_accumulate", b), f32("mul_accumulate", out), a.numel());
  }
  void relu_forward(const Tensor& x, double cap, Tensor& y) override {
    cuda::relu_forward(f32("relu", x), static_cast<float>(cap), f32("relu", y), x.numel());
  }
  // GradWrite::assign: the CUDA kernels accumulate, so an assigned gradient starts from zeros
  // (the CPU's kernels assign; here a fused assignment is left for when it can be measured).
  void zero_if_assigned(Tensor& dx, GradWrite write) {
    if (write == GradWrite::assign && dx.defined()) fill(dx, 0.0);
  }

  void relu_backward(const Tensor& y, const Tensor& dy, double cap, Tensor& dx, GradWrite write) override {
    zero_if_assigned(dx, write);
    cuda::relu_backward(f32("relu_backward", y), f32("relu_backward", dy), static_cast<float>(cap),
                        f32("relu_backward", dx), y.numel());
  }
  void sum(const Tensor& x, double scale, Tensor& out) override {
    cuda::sum(f32("sum", x), x.numel(), scale, f32("sum", out));
  }
  void broadcast_accumulate(const Tensor& dout, double scale, Tensor& dx) override {
    cuda::broadcast_accumulate(f32("broadcast_accumulate", dout), scale, f32("broadcast_accumulate", dx), dx.numel());
  }

  void fill_uniform(Tensor& t, double lo, double hi, uint64_t seed, uint64_t offset) override {
    cuda::fill_uniform(f32("fill_uniform", t), t.numel(), lo, hi, seed, offset);
  }
  void fill_normal(Tensor& t, double mean, double std, uint64_t seed, uint64_t offset) override {
    cuda::fill_normal(f32("fill_normal", t), t.numel(), mean, std, seed, offset);
  }
  void dropout_mask(Tensor& mask, double p, uint64_t seed, uint64_t offset, uint64_t first) override {
    cuda::dropout_mask(f32("dropout_mask", mask), mask.numel(), p, seed, offset, first);
  }

  void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p, Tensor& y) override {
    const ConvShape g = conv_shape(x, w, p);
    float* py = f32("conv2d", y);
    if (y.numel() == 0) return;
    if (x.numel() == 0 || w.numel() == 0) {  // an empty reduction: y = b (or 0)
      cuda::fill(py, DType::f32, y.numel(), 0.0);
    } else {
      cudnn_conv2d_forward(f32("conv2d", x), f32("conv2d", w), py, g);
    }
    if (b.defined()) bias_add(py, f32("conv2d", b), g.n, g.k, g.p * g.q);
  }

  void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Conv2dParams& p, Tensor& dx,
                       Tensor& dw, Tensor& db, GradWrite dx_write) override {
    zero_if_assigned(dx, dx_write);
    const ConvShape g = conv_shape(x, w, p);
    const float* pdy = f32("conv2d_backward", dy);
    if (db.defined()) bias_grad(pdy, f32("conv2d_backward", db), g.n, g.k, g.p * g.q);
    if (x.numel() == 0 || w.numel() == 0 || dy.numel() == 0) return;
    if (dx.defined()) cudnn_conv2d_backward_data(f32("conv2d_backward", w), pdy, f32("conv2d_backward", dx), g);
    if (dw.defined()) cudnn_conv2d_backward_filter(f32("conv2d_backward", x), pdy, f32("conv2d_backward", dw), g);
  }

  void batch_norm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, double momentum, double eps,
                                Tensor& running_mean, Tensor& running_var, Tensor& y, Tensor& save_mean,
                                Tensor& save_invstd) override {
    const char* op = "batch_norm2d";
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    if (cudnn_batch_norm_usable(n, c, h, w, eps)) {
      cudnn_batch_norm_forward_train(f32(op, x), f32(op, gamma), f32(op, beta), momentum, eps, f32(op, running_mean),
                                     f32(op, running_var), f32(op, y), f32(op, save_mean), f32(op, save_invstd), n, c,
                                     h, w);
    } else {
      cuda::batch_norm_forward_train(f32(op, x), f32(op, gamma), f32(op, beta), momentum, eps, f32(op, running_mean),
                                     f32(op, running_var), f32(op, y), f32(op, save_mean), f32(op, save_invstd), n, c,
                                     h * w);
    }
  }

  void batch_norm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                               const Tensor& running_var, double eps, Tensor& y, Tensor& save_mean,
                               Tensor& save_invstd) override {
    const char* op = "batch_norm2d";
    cuda::batch_norm_forward_eval(f32(op, x), f32(op, gamma), f32(op, beta), f32(op, running_mean),
                                  f32(op, running_var), eps, f32(op, y), f32(op, save_mean), f32(op, save_invstd),
                                  x.size(0), x.size(1), x.size(2) * x.size(3));
  }

  void batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& save_mean, const Tensor& save_invstd,
                           const Tensor& dy, bool batch_stats, Tensor& dx, Tensor& dgamma, Tensor& dbeta,
                           GradWrite dx_write) override {
    zero_if_assigned(dx, dx_write);
    const char* op = "batch_norm2d_backward";
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    if (batch_stats && dx.defined() && dgamma.defined() && dbeta.defined() && cudnn_batch_norm_usable(n, c, h, w, 1e-5)) {
      cudnn_batch_norm_backward(f32(op, x), f32(op, gamma), f32(op, save_mean), f32(op, save_invstd), f32(op, dy),
                                f32(op, dx), f32(op, dgamma), f32(op, dbeta), n, c, h, w);
      return;
    }
    // Evaluation-mode backward (statistics are constants), or some output not wanted.
    cuda::batch_norm_backward(f32(op, x), f32(op, gamma), f32(op, save_mean), f32(op, save_invstd), f32(op, dy),
                              batch_stats, f32(op, dx), f32(op, dgamma), f32(op, dbeta), n, c, h * w);
  }

  void batch_norm_sum(const Tensor& x, Tensor& sum) override {
    const char* op = "batch_norm2d";
    cuda::batch_norm_sum(f32(op, x), f32(op, sum), x.size(0), x.size(1), x.size(2) * x.size(3));
  }
  void batch_norm_sq_dev(const Tensor& x, const Tensor& sum, double count, Tensor& sq) override {
    const char* op = "batch_norm2d";
    cuda::batch_norm_sq_dev(f32(op, x), f32(op, sum), count, f32(op, sq), x.size(0), x.size(1), x.size(2) * x.size(3));
  }
  void batch_norm_apply_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& sum,
                              const Tensor& sq, double count, double momentum, double eps, Tensor& running_mean,
                              Tensor& running_var, Tensor& y, Tensor& save_mean, Tensor& save_invstd) override {
    const char* op = "batch_norm2d";
    cuda::batch_norm_apply_train(f32(op, x), f32(op, gamma), f32(op, beta), f32(op, sum), f32(op, sq), count, momentum,
                                 eps, f32(op, running_mean), f32(op, running_var), f32(op, y), f32(op, save_mean),
                                 f32(op, save_invstd), x.size(0), x.size(1), x.size(2) * x.size(3));
  }
  void batch_norm_backward_sums(const Tensor& x, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dy,
                                Tensor& sum_dy, Tensor& sum_dy_xhat) override {
    const char* op = "batch_norm2d_backward";
    cuda::batch_norm_backward_sums(f32(op, x), f32(op, save_mean), f32(op, save_invstd), f32(op, dy), f32(op, sum_dy),
                                   f32(op, sum_dy_xhat), x.size(0), x.size(1), x.size(2) * x.size(3));
  }
  void batch_norm_backward_apply(const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                                 const Tensor& save_invstd, const Tensor& dy, const Tensor& sum_dy,
                                 const Tensor& sum_dy_xhat, double count, Tensor& dx) override {
    const char* op = "batch_norm2d_backward";
    cuda::batch_norm_backward_apply(f32(op, x), f32(op, gamma), f32(op, save_mean), f32(op, save_invstd), f32(op, dy),
                                    f32(op, sum_dy), f32(op, sum_dy_xhat), count, f32(op, dx), x.size(0), x.size(1),
                                    x.size(2) * x.size(3));
  }

  void max_pool2d_forward(const Tensor& x, const Pool2dParams& p, Tensor& y) override {
    cuda::max_pool2d_forward(f32("max_pool2d", x), f32("max_pool2d", y), pool_shape(x, y, p));
  }
  void max_pool2d_backward(const Tensor& x, const Tensor& y, const Tensor& dy, const Pool2dParams& p,
                           Tensor& dx) override {
    const char* op = "max_pool2d_backward";
    cuda::max_pool2d_backward(f32(op, x), f32(op, y), f32(op, dy), f32(op, dx), pool_shape(x, y, p));
  }
  void avg_pool2d_forward(const Tensor& x, const Pool2dParams& p, Tensor& y) override {
    cuda::avg_pool2d_forward(f32("avg_pool2d", x), f32("avg_pool2d", y), pool_shape(x, y, p));
  }
  void avg_pool2d_backward(const Tensor& dy, const Pool2dParams& p, Tensor& dx) override {
    cuda::avg_pool2d_backward(f32("avg_pool2d_backward", dy), f32("avg_pool2d_backward", dx), pool_shape(dx, dy, p));
  }
  void global_avg_pool_forward(const Tensor& x, Tensor& y) override {
    cuda::global_avg_pool_forward(f32("global_avg_pool", x), f32("global_avg_pool", y), x.size(0) * x.size(1),
                                  x.size(2) * x.size(3));
  }
  void global_avg_pool_backward(const Tensor& dy, Tensor& dx) override {
    cuda::global_avg_pool_backward(f32("global_avg_pool_backward", dy), f32("global_avg_pool_backward", dx),
                                   dx.size(0) * dx.size(1), dx.size(2) * dx.size(3));
  }

  void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) override {
    const char* op = "linear";
    cuda::linear_forward(f32(op, x), f32(op, w), f32(op, b), f32(op, y), x.size(0), x.size(1), w.size(0));
  }
  void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx, Tensor& dw,
                       Tensor& db) override {
    const char* op = "linear_backward";
    cuda::linear_backward(f32(op, x), f32(op, w), f32(op, dy), f32(op, dx), f32(op, dw), f32(op, db), x.size(0),
                          x.size(1), w.size(0));
  }

  void concat_channels_forward(const std::vector<Tensor>& xs, Tensor& y) override {
    const char* op = "concat_channels";
    const int64_t n = y.size(0), total = y.size(1), m = y.size(2) * y.size(3);
    int64_t start = 0;
    for (const Tensor& x : xs) {
      if (!x.defined()) continue;
      concat_forward_piece(f32(op, x), f32(op, y), n, total, start, x.size(1), m);
      start += x.size(1);
    }
  }

  void concat_channels_backward(const Tensor& dy, const std::vector<int64_t>& channels,
                                std::vector<Tensor>& dxs) override {
    const char* op = "concat_channels_backward";
    const float* pdy = f32(op, dy);
    const int64_t n = dy.size(0), total = dy.size(1), m = dy.size(2) * dy.size(3);
    int64_t start = 0;
    for (size_t i = 0; i < dxs.size(); ++i) {
      if (dxs[i].defined()) concat_backward_piece(pdy, f32(op, dxs[i]), n, total, start, channels[i], m);
      start += channels[i];  // a piece that needs no gradient still takes its slice
    }
  }

  void l2_normalize_forward(const Tensor& x, double eps, Tensor& y) override {
    cuda::l2_normalize_forward(f32("l2_normalize", x), eps, f32("l2_normalize", y), x.size(0), x.size(1));
  }
  void l2_normalize_backward(const Tensor& x, const Tensor& y, const Tensor& dy, double eps, Tensor& dx) override {
    const char* op = "l2_normalize_backward";
    cuda::l2_normalize_backward(f32(op, x), f32(op, y), f32(op, dy), eps, f32(op, dx), x.size(0), x.size(1));
  }

  void softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels, Tensor& loss,
                                     Tensor& probs) override {
    const char* op = "cross_entropy";
    const int64_t n = logits.size(0), k = logits.size(1);
    const int32_t* y = labels_of(op, labels);
    check_labels(op, y, n, k);
    cuda::softmax_cross_entropy_forward(f32(op, logits), y, f32(op, loss), f32(op, probs), n, k);
  }
  void softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels, const Tensor& dloss,
                                      Tensor& dlogits) override {
    const char* op = "cross_entropy_backward";
    cuda::softmax_cross_entropy_backward(f32(op, probs), labels_of(op, labels), f32(op, dloss), f32(op, dlogits),
                                         probs.size(0), probs.size(1));
  }

  void count_correct(const Tensor& scores, const Tensor& labels, Tensor& out) override {
    const char* op = "count_correct";
    cuda::count_correct(f32(op, scores), labels_of(op, labels), scores.size(0), scores.size(1), f32(op, out));
  }

  void mfd_forward(const Tensor& x, MfdCentering centering, Tensor& y, Tensor& inv_norm, Tensor& corr, Tensor& loss,
                   Tensor& mean_abs) override {
    const char* op = "mfd_loss";
    cuda::mfd_forward(f32(op, x), x.size(0), x.size(1), x.size(2) * x.size(3), centering, f32(op, y),
                      f32(op, inv_norm), f32(op, corr), f32(op, loss), f32(op, mean_abs));
  }
  void mfd_sums(const Tensor& x, MfdCentering centering, Tensor& sum, Tensor& raw) override {
    const char* op = "mfd_loss";
    cuda::mfd_sums(f32(op, x), x.size(0), x.size(1), x.size(2) * x.size(3), centering, f32(op, sum), f32(op, raw));
  }
  void mfd_center(const Tensor& x, MfdCentering centering, const Tensor& sum, double count, Tensor& y,
                  Tensor& energy) override {
    const char* op = "mfd_loss";
    cuda::mfd_center(f32(op, x), x.size(0), x.size(1), x.size(2) * x.size(3), centering, f32(op, sum), count,
                     f32(op, y), f32(op, energy));
  }
  void mfd_product(const Tensor& y, Tensor& s) override {
    const char* op = "mfd_loss";
    cuda::mfd_product(f32(op, y), y.size(0), y.size(1), f32(op, s));
  }
  void mfd_normalize(const Tensor& s, const Tensor& energy, const Tensor& raw, Tensor& inv_norm, Tensor& corr,
                     Tensor& loss, Tensor& mean_abs) override {
    const char* op = "mfd_loss";
    cuda::mfd_normalize(f32(op, s), f32(op, energy), f32(op, raw), s.size(0), f32(op, inv_norm), f32(op, corr),
                        f32(op, loss), f32(op, mean_abs));
  }
  void mfd_backward(const Tensor& y, const Tensor& inv_norm, const Tensor& corr, const Tensor& dloss,
                    Tensor& dx) override {
    const char* op = "mfd_loss_backward";
    cuda::mfd_backward(f32(op, y), f32(op, inv_norm), f32(op, corr), f32(op, dloss), f32(op, dx), dx.size(0),
                       dx.size(1), dx.size(2) * dx.size(3));
  }

  void margin_logits_forward(const Tensor& cos, const Tensor& labels, const MarginParams& p, Tensor& out) override {
    const char* op = "margin_logits";
    const int32_t* y = labels_of(op, labels);
    check_labels(op, y, cos.size(0), cos.size(1));
    cuda::margin_logits_forward(f32(op, cos), y, p, f32(op, out), cos.size(0), cos.size(1));
  }
  void margin_logits_backward(const Tensor& cos, const Tensor& labels, const MarginParams& p, const Tensor& dout,
                              Tensor& dcos) override {
    const char* op = "margin_logits_backward";
    cuda::margin_logits_backward(f32(op, cos), labels_of(op, labels), p, f32(op, dout), f32(op, dcos), cos.size(0),
                                 cos.size(1));
  }

  void center_loss_forward(const Tensor& x, const Tensor& centers, const Tensor& labels, Tensor& loss) override {
    const char* op = "center_loss";
    const int32_t* y = labels_of(op, labels);
    check_labels(op, y, x.size(0), centers.size(0));
    cuda::center_loss_forward(f32(op, x), f32(op, centers), y, f32(op, loss), x.size(0), x.size(1));
  }
  void center_loss_backward(const Tensor& x, const Tensor& centers, const Tensor& labels, const Tensor& dloss,
                            Tensor& dx) override {
    const char* op = "center_loss_backward";
    cuda::center_loss_backward(f32(op, x), f32(op, centers), labels_of(op, labels), f32(op, dloss), f32(op, dx),
                               x.size(0), x.size(1), centers.size(0));
  }
  void center_deltas(const Tensor& x, const Tensor& labels, const Tensor& centers, Tensor& delta,
                     Tensor& counts) override {
    const char* op = "center_update";
    const int32_t* y = labels_of(op, labels);
    check_labels(op, y, x.size(0), centers.size(0));
    cuda::center_deltas(f32(op, x), y, f32(op, centers), f32(op, delta), f32(op, counts), x.size(0), x.size(1),
                        centers.size(0));
  }
  void center_apply(const Tensor& delta, const Tensor& counts, double alpha, Tensor& centers) override {
    const char* op = "center_update";
    cuda::center_apply(f32(op, delta), f32(op, counts), alpha, f32(op, centers), centers.size(1), centers.size(0));
  }

  void sgd_step(Tensor& w, const Tensor& g, Tensor& v, double lr, double momentum, double weight_decay) override {
    cuda::sgd_step(f32("sgd_step", w), f32("sgd_step", g), f32("sgd_step", v), w.numel(), static_cast<float>(lr),
                   static_cast<float>(momentum), static_cast<float>(weight_decay));
  }
};

}  // namespace

Backend& cuda_backend() {
  std::string why;
  if (!cuda_ready(&why)) fail("the CUDA backend cannot run: ", why, "; use --device cpu");
  static CudaBackend* backend = new CudaBackend;  // leaked on purpose, like the context
  return *backend;
}

}  // namespace mfd::cuda
