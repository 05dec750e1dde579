// The CPU backend: binds engine/backend.h to the kernels of engine/cpu/ (kernels.h lists them, one
// file per op family, named like its CUDA twin), choosing the scalar type.
#include <algorithm>
#include <cstring>
#include <limits>

#include "engine/backend.h"
#include "engine/cpu/host_block_cache.h"
#include "engine/cpu/kernels.h"
#include "engine/cpu/op_profile.h"
#include "engine/cpu/parallel.h"
#include "engine/math.h"
#include "engine/philox.h"

namespace mfd::cpu {

namespace {

// Runs the statements with T bound to the C++ type of a floating dtype.
#define MFD_FLOAT_DISPATCH(op, dtype, ...)                                                  \
  do {                                                                                      \
    OpTimer op_timer(op);                                                                   \
    switch (dtype) {                                                                        \
      case DType::f32: { using T = float; __VA_ARGS__; break; }                             \
      case DType::f64: { using T = double; __VA_ARGS__; break; }                            \
      default: fail(op, ": needs a floating tensor (f32 or f64), got ", dtype_name(dtype)); \
    }                                                                                       \
  } while (0)

// Whether a convolution's kernel is 1x1 (the profile names the two kinds apart).
bool is_1x1(const Tensor& w) { return w.size(2) * w.size(3) == 1; }

// Typed pointer, or null for an undefined (not wanted) output.
template <typename T> T* ptr(const Tensor& t) { return t.defined() ? static_cast<T*>(t.raw()) : nullptr; }

template <typename F> void parallel_for(int64_t n, F f) {
#pragma omp parallel for schedule(static) if (n > 16384)
  for (int64_t i = 0; i < n; ++i) f(i);
}

template <typename Src, typename Dst> void cast_loop(const Tensor& src, Tensor& dst) {
  const Src* s = static_cast<const Src*>(src.raw());
  Dst* d = static_cast<Dst*>(dst.raw());
  parallel_for(src.numel(), [=](int64_t i) { d[i] = static_cast<Dst>(s[i]); });
}

template <typename Src> void cast_from(const Tensor& src, Tensor& dst) {
  switch (dst.dtype()) {
    case DType::f32: cast_loop<Src, float>(src, dst); break;
    case DType::f64: cast_loop<Src, double>(src, dst); break;
    case DType::i32: cast_loop<Src, int32_t>(src, dst); break;
    case DType::i64: cast_loop<Src, int64_t>(src, dst); break;
  }
}

// Labels are class ids: anything outside [0, k) is refused before a kernel indexes with it.
void check_label_range(const char* op, const Tensor& labels, int64_t k) {
  const int32_t* y = static_cast<const int32_t*>(labels.raw());
  for (int64_t i = 0; i < labels.numel(); ++i)
    MFD_CHECK(y[i] >= 0 && y[i] < k, op, ": label ", y[i], " of sample ", i, " is outside [0, ", k, ")");
}

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device::cpu; }

  void* allocate(size_t bytes) override { return cache_.allocate(bytes); }
  int64_t fresh_allocations() const { return cache_.fresh_allocations(); }
  int64_t bytes_in_use() const { return cache_.bytes_in_use(); }
  void deallocate(void* ptr, size_t bytes) override { cache_.deallocate(ptr, bytes); }
  void copy_from_host(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy_to_host(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }

  void fill(Tensor& t, double value) override {
    switch (t.dtype()) {
      case DType::i32: std::fill_n(static_cast<int32_t*>(t.raw()), t.numel(), static_cast<int32_t>(value)); break;
      case DType::i64: std::fill_n(static_cast<int64_t*>(t.raw()), t.numel(), static_cast<int64_t>(value)); break;
      default: MFD_FLOAT_DISPATCH("fill", t.dtype(), cpu::fill(ptr<T>(t), t.numel(), static_cast<T>(value)));
    }
  }

  void cast(const Tensor& src, Tensor& dst) override {
    switch (src.dtype()) {
      case DType::f32: cast_from<float>(src, dst); break;
      case DType::f64: cast_from<double>(src, dst); break;
      case DType::i32: cast_from<int32_t>(src, dst); break;
      case DType::i64: cast_from<int64_t>(src, dst); break;
    }
  }

  void axpy(double alpha, const Tensor& x, Tensor& y) override {
    MFD_FLOAT_DISPATCH("axpy", x.dtype(), cpu::axpy(static_cast<T>(alpha), ptr<T>(x), ptr<T>(y), x.numel()));
  }
  void add(const Tensor& a, const Tensor& b, Tensor& out) override {
    MFD_FLOAT_DISPATCH("add", a.dtype(), cpu::add(ptr<T>(a), ptr<T>(b), ptr<T>(out), a.numel()));
  }
  void mul(const Tensor& a, const Tensor& b, Tensor& out) override {
    MFD_FLOAT_DISPATCH("mul", a.dtype(), cpu::mul(ptr<T>(a), ptr<T>(b), ptr<T>(out), a.numel()));
  }
  void mul_accumulate(const Tensor& a, const Tensor& b, Tensor& out) override {
    MFD_FLOAT_DISPATCH("mul_accumulate", a.dtype(), cpu::mul_accumulate(ptr<T>(a), ptr<T>(b), ptr<T>(out), a.numel()));
  }
  void relu_forward(const Tensor& x, double cap, Tensor& y) override {
    MFD_FLOAT_DISPATCH("relu", x.dtype(), cpu::relu_forward(ptr<T>(x), static_cast<T>(cap), ptr<T>(y), x.numel()));
  }
  void relu_backward(const Tensor& y, const Tensor& dy, double cap, Tensor& dx, GradWrite write) override {
    MFD_FLOAT_DISPATCH("relu_backward", y.dtype(),
                       cpu::relu_backward(ptr<T>(y), ptr<T>(dy), static_cast<T>(cap), ptr<T>(dx), y.numel(),
                                          write == GradWrite::assign));
  }
  void sum(const Tensor& x, double scale, Tensor& out) override {
    MFD_FLOAT_DISPATCH("sum", x.dtype(), cpu::sum(ptr<T>(x), x.numel(), scale, ptr<T>(out)));
  }
  void broadcast_accumulate(const Tensor& dout, double scale, Tensor& dx) override {
    MFD_FLOAT_DISPATCH("broadcast_accumulate", dx.dtype(),
                       cpu::broadcast_accumulate(ptr<T>(dout), scale, ptr<T>(dx), dx.numel()));
  }
  void fill_uniform(Tensor& t, double lo, double hi, uint64_t seed, uint64_t offset) override {
    MFD_FLOAT_DISPATCH("fill_uniform", t.dtype(), cpu::fill_uniform(ptr<T>(t), t.numel(), lo, hi, seed, offset));
  }
  void fill_normal(Tensor& t, double mean, double std, uint64_t seed, uint64_t offset) override {
    MFD_FLOAT_DISPATCH("fill_normal", t.dtype(), cpu::fill_normal(ptr<T>(t), t.numel(), mean, std, seed, offset));
  }
  void dropout_mask(Tensor& mask, double p, uint64_t seed, uint64_t offset, uint64_t first) override {
    MFD_FLOAT_DISPATCH("dropout_mask", mask.dtype(),
                       cpu::dropout_mask(ptr<T>(mask), mask.numel(), p, seed, offset, first));
  }

  void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p,
                      Tensor& y) override {
    MFD_FLOAT_DISPATCH(is_1x1(w) ? "conv2d 1x1" : "conv2d windowed", x.dtype(),
                       cpu::conv2d_forward(ptr<T>(x), ptr<T>(w), ptr<T>(b), ptr<T>(y), conv_shape(x, w, p)));
  }

  void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Conv2dParams& p,
                       Tensor& dx, Tensor& dw, Tensor& db, GradWrite dx_write) override {
    MFD_FLOAT_DISPATCH(is_1x1(w) ? "conv2d_backward 1x1" : "conv2d_backward windowed", x.dtype(),
                       cpu::conv2d_backward(ptr<T>(x), ptr<T>(w), ptr<T>(dy), ptr<T>(dx), ptr<T>(dw),
                                            ptr<T>(db), conv_shape(x, w, p), dx_write == GradWrite::assign));
  }

  void batch_norm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                double momentum, double eps, Tensor& running_mean,
                                Tensor& running_var, Tensor& y, Tensor& save_mean,
                                Tensor& save_invstd) override {
    MFD_FLOAT_DISPATCH("batch_norm2d", x.dtype(),
                       cpu::batch_norm_forward_train(ptr<T>(x), ptr<T>(gamma), ptr<T>(beta), momentum, eps,
                                                     ptr<T>(running_mean), ptr<T>(running_var), ptr<T>(y),
                                                     ptr<T>(save_mean), ptr<T>(save_invstd), x.size(0),
                                                     x.size(1), x.size(2) * x.size(3)));
  }

  void batch_norm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                               const Tensor& running_mean, const Tensor& running_var, double eps,
                               Tensor& y, Tensor& save_mean, Tensor& save_invstd) override {
    MFD_FLOAT_DISPATCH("batch_norm2d", x.dtype(),
                       cpu::batch_norm_forward_eval(ptr<T>(x), ptr<T>(gamma), ptr<T>(beta),
                                                    ptr<T>(running_mean), ptr<T>(running_var), eps, ptr<T>(y),
                                                    ptr<T>(save_mean), ptr<T>(save_invstd), x.size(0),
                                                    x.size(1), x.size(2) * x.size(3)));
  }

  void batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                           const Tensor& save_invstd, const Tensor& dy, bool batch_stats, Tensor& dx,
                           Tensor& dgamma, Tensor& dbeta, GradWrite dx_write) override {
    MFD_FLOAT_DISPATCH("batch_norm2d_backward", x.dtype(),
                       cpu::batch_norm_backward(ptr<T>(x), ptr<T>(gamma), ptr<T>(save_mean),
                                                ptr<T>(save_invstd), ptr<T>(dy), batch_stats, ptr<T>(dx),
                                                ptr<T>(dgamma), ptr<T>(dbeta), x.size(0), x.size(1),
                                                x.size(2) * x.size(3), dx_write == GradWrite::assign));
  }

  // x viewed as (N, C, M): the three sizes every batch norm kernel takes.
  static int64_t bn_m(const Tensor& x) { return x.size(2) * x.size(3); }
  void batch_norm_sum(const Tensor& x, Tensor& sum) override {
    MFD_FLOAT_DISPATCH("batch_norm2d sums", x.dtype(),
                       cpu::batch_norm_sum(ptr<T>(x), ptr<T>(sum), x.size(0), x.size(1), bn_m(x)));
  }
  void batch_norm_sq_dev(const Tensor& x, const Tensor& sum, double count, Tensor& sq) override {
    MFD_FLOAT_DISPATCH("batch_norm2d sums", x.dtype(),
                       cpu::batch_norm_sq_dev(ptr<T>(x), ptr<T>(sum), count, ptr<T>(sq), x.size(0), x.size(1), bn_m(x)));
  }
  void batch_norm_apply_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& sum,
                              const Tensor& sq, double count, double momentum, double eps, Tensor& running_mean,
                              Tensor& running_var, Tensor& y, Tensor& save_mean, Tensor& save_invstd) override {
    MFD_FLOAT_DISPATCH("batch_norm2d", x.dtype(),
                       cpu::batch_norm_apply_train(ptr<T>(x), ptr<T>(gamma), ptr<T>(beta), ptr<T>(sum), ptr<T>(sq),
                                                   count, momentum, eps, ptr<T>(running_mean), ptr<T>(running_var),
                                                   ptr<T>(y), ptr<T>(save_mean), ptr<T>(save_invstd), x.size(0),
                                                   x.size(1), bn_m(x)));
  }
  void batch_norm_backward_sums(const Tensor& x, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dy,
                                Tensor& sum_dy, Tensor& sum_dy_xhat) override {
    MFD_FLOAT_DISPATCH("batch_norm2d_backward", x.dtype(),
                       cpu::batch_norm_backward_sums(ptr<T>(x), ptr<T>(save_mean), ptr<T>(save_invstd), ptr<T>(dy),
                                                     ptr<T>(sum_dy), ptr<T>(sum_dy_xhat), x.size(0), x.size(1),
                                                     bn_m(x)));
  }
  void batch_norm_backward_apply(const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                                 const Tensor& save_invstd, const Tensor& dy, const Tensor& sum_dy,
                                 const Tensor& sum_dy_xhat, double count, Tensor& dx) override {
    MFD_FLOAT_DISPATCH("batch_norm2d_backward", x.dtype(),
                       cpu::batch_norm_backward_apply(ptr<T>(x), ptr<T>(gamma), ptr<T>(save_mean), ptr<T>(save_invstd),
                                                      ptr<T>(dy), ptr<T>(sum_dy), ptr<T>(sum_dy_xhat), count,
                                                      ptr<T>(dx), x.size(0), x.size(1), bn_m(x)));
  }

  void max_pool2d_forward(const Tensor& x, const Pool2dParams& p, Tensor& y) override {
    MFD_FLOAT_DISPATCH("max_pool2d", x.dtype(),
                       cpu::max_pool2d_forward(ptr<T>(x), ptr<T>(y), pool_shape(x, y, p)));
  }
  void max_pool2d_backward(const Tensor& x, const Tensor& y, const Tensor& dy, const Pool2dParams& p,
                           Tensor& dx) override {
    MFD_FLOAT_DISPATCH("max_pool2d_backward", x.dtype(),
                       cpu::max_pool2d_backward(ptr<T>(x), ptr<T>(y), ptr<T>(dy), ptr<T>(dx),
                                                pool_shape(x, y, p)));
  }
  void avg_pool2d_forward(const Tensor& x, const Pool2dParams& p, Tensor& y) override {
    MFD_FLOAT_DISPATCH("avg_pool2d", x.dtype(),
                       cpu::avg_pool2d_forward(ptr<T>(x), ptr<T>(y), pool_shape(x, y, p)));
  }
  void avg_pool2d_backward(const Tensor& dy, const Pool2dParams& p, Tensor& dx) override {
    MFD_FLOAT_DISPATCH("avg_pool2d_backward", dy.dtype(),
                       cpu::avg_pool2d_backward(ptr<T>(dy), ptr<T>(dx), pool_shape(dx, dy, p)));
  }

  void global_avg_pool_forward(const Tensor& x, Tensor& y) override {
    MFD_FLOAT_DISPATCH("global_avg_pool", x.dtype(),
                       cpu::global_avg_pool_forward(ptr<T>(x), ptr<T>(y), x.size(0) * x.size(1),
                                                    x.size(2) * x.size(3)));
  }

  void global_avg_pool_backward(const Tensor& dy, Tensor& dx) override {
    const int64_t planes = dx.size(0) * dx.size(1), m = dx.size(2) * dx.size(3);
    MFD_FLOAT_DISPATCH("global_avg_pool_backward", dx.dtype(), {
      const T* pdy = ptr<T>(dy);
      T* pdx = ptr<T>(dx);
      const T inv = static_cast<T>(1.0 / static_cast<double>(m));
      parallel_for(planes * m, [=](int64_t i) { pdx[i] += pdy[i / m] * inv; });
    });
  }

  void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) override {
    MFD_FLOAT_DISPATCH("linear", x.dtype(),
                       cpu::linear_forward(ptr<T>(x), ptr<T>(w), ptr<T>(b), ptr<T>(y), x.size(0), x.size(1),
                                           w.size(0)));
  }
  void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx, Tensor& dw,
                       Tensor& db) override {
    MFD_FLOAT_DISPATCH("linear_backward", x.dtype(),
                       cpu::linear_backward(ptr<T>(x), ptr<T>(w), ptr<T>(dy), ptr<T>(dx), ptr<T>(dw),
                                            ptr<T>(db), x.size(0), x.size(1), w.size(0)));
  }

  // Pieces as raw pointers (null where undefined) with their channel counts.
  template <typename T>
  static void concat_pieces(const std::vector<Tensor>& xs, std::vector<T*>& ptrs, std::vector<int64_t>& channels) {
    for (const Tensor& x : xs) {
      ptrs.push_back(ptr<T>(x));
      channels.push_back(x.defined() ? x.size(1) : 0);
    }
  }
  void concat_channels_forward(const std::vector<Tensor>& xs, Tensor& y) override {
    MFD_FLOAT_DISPATCH("concat_channels", y.dtype(), {
      std::vector<T*> ptrs;
      std::vector<int64_t> channels;
      concat_pieces(xs, ptrs, channels);
      cpu::concat_channels(ptr<T>(y), y.size(0), y.size(1), y.size(2) * y.size(3), ptrs, channels, false);
    });
  }
  void concat_channels_backward(const Tensor& dy, const std::vector<int64_t>& channels,
                                std::vector<Tensor>& dxs) override {
    MFD_FLOAT_DISPATCH("concat_channels_backward", dy.dtype(), {
      std::vector<T*> ptrs;
      std::vector<int64_t> unused;
      concat_pieces(dxs, ptrs, unused);
      cpu::concat_channels(ptr<T>(dy), dy.size(0), dy.size(1), dy.size(2) * dy.size(3), ptrs, channels, true);
    });
  }

  void l2_normalize_forward(const Tensor& x, double eps, Tensor& y) override {
    MFD_FLOAT_DISPATCH("l2_normalize", x.dtype(),
                       cpu::l2_normalize_forward(ptr<T>(x), eps, ptr<T>(y), x.size(0), x.size(1)));
  }
  void l2_normalize_backward(const Tensor& x, const Tensor& y, const Tensor& dy, double eps,
                             Tensor& dx) override {
    MFD_FLOAT_DISPATCH("l2_normalize_backward", x.dtype(),
                       cpu::l2_normalize_backward(ptr<T>(x), ptr<T>(y), ptr<T>(dy), eps, ptr<T>(dx),
                                                  x.size(0), x.size(1)));
  }

  void softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels, Tensor& loss,
                                     Tensor& probs) override {
    const int64_t n = logits.size(0), k = logits.size(1);
    check_label_range("cross_entropy", labels, k);
    MFD_FLOAT_DISPATCH("cross_entropy", logits.dtype(),
                       cpu::softmax_cross_entropy_forward(ptr<T>(logits), ptr<int32_t>(labels), ptr<T>(loss),
                                                          ptr<T>(probs), n, k));
  }
  void softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels, const Tensor& dloss,
                                      Tensor& dlogits) override {
    MFD_FLOAT_DISPATCH("cross_entropy_backward", probs.dtype(),
                       cpu::softmax_cross_entropy_backward(ptr<T>(probs),
                                                           static_cast<const int32_t*>(labels.raw()),
                                                           *ptr<T>(dloss), ptr<T>(dlogits), probs.size(0),
                                                           probs.size(1)));
  }

  void count_correct(const Tensor& scores, const Tensor& labels, Tensor& out) override {
    MFD_FLOAT_DISPATCH("count_correct", scores.dtype(),
                       cpu::count_correct(ptr<T>(scores), static_cast<const int32_t*>(labels.raw()), scores.size(0),
                                          scores.size(1), ptr<T>(out)));
  }

  void mfd_forward(const Tensor& x, MfdCentering centering, Tensor& y, Tensor& inv_norm, Tensor& corr,
                   Tensor& loss, Tensor& mean_abs) override {
    MFD_FLOAT_DISPATCH("mfd_loss", x.dtype(),
                       cpu::mfd_forward(ptr<T>(x), x.size(0), x.size(1), x.size(2) * x.size(3), centering,
                                        ptr<T>(y), ptr<T>(inv_norm), ptr<T>(corr), ptr<T>(loss), ptr<T>(mean_abs)));
  }
  void mfd_backward(const Tensor& y, const Tensor& inv_norm, const Tensor& corr, const Tensor& dloss,
                    Tensor& dx) override {
    MFD_FLOAT_DISPATCH("mfd_loss_backward", y.dtype(),
                       cpu::mfd_backward(ptr<T>(y), ptr<T>(inv_norm), ptr<T>(corr), *ptr<T>(dloss), ptr<T>(dx),
                                         dx.size(0), dx.size(1), dx.size(2) * dx.size(3)));
  }

  void mfd_sums(const Tensor& x, MfdCentering centering, Tensor& sum, Tensor& raw) override {
    MFD_FLOAT_DISPATCH("mfd_loss", x.dtype(),
                       cpu::mfd_sums(ptr<T>(x), x.size(0), x.size(1), x.size(2) * x.size(3), centering, ptr<T>(sum),
                                     ptr<T>(raw)));
  }
  void mfd_center(const Tensor& x, MfdCentering centering, const Tensor& sum, double count, Tensor& y,
                  Tensor& energy) override {
    MFD_FLOAT_DISPATCH("mfd_loss", x.dtype(),
                       cpu::mfd_center(ptr<T>(x), x.size(0), x.size(1), x.size(2) * x.size(3), centering, ptr<T>(sum),
                                       count, ptr<T>(y), ptr<T>(energy)));
  }
  void mfd_product(const Tensor& y, Tensor& s) override {
    MFD_FLOAT_DISPATCH("mfd_loss", y.dtype(), cpu::mfd_product(ptr<T>(y), y.size(0), y.size(1), ptr<T>(s)));
  }
  void mfd_normalize(const Tensor& s, const Tensor& energy, const Tensor& raw, Tensor& inv_norm, Tensor& corr,
                     Tensor& loss, Tensor& mean_abs) override {
    MFD_FLOAT_DISPATCH("mfd_loss", s.dtype(),
                       cpu::mfd_normalize(ptr<T>(s), ptr<T>(energy), ptr<T>(raw), s.size(0), ptr<T>(inv_norm),
                                          ptr<T>(corr), ptr<T>(loss), ptr<T>(mean_abs)));
  }

  void margin_logits_forward(const Tensor& cos, const Tensor& labels, const MarginParams& p, Tensor& out) override {
    check_label_range("margin_logits", labels, cos.size(1));
    MFD_FLOAT_DISPATCH("margin_logits", cos.dtype(),
                       cpu::margin_logits_forward(ptr<T>(cos), ptr<int32_t>(labels), p, ptr<T>(out), cos.size(0),
                                                  cos.size(1)));
  }
  void margin_logits_backward(const Tensor& cos, const Tensor& labels, const MarginParams& p, const Tensor& dout,
                              Tensor& dcos) override {
    MFD_FLOAT_DISPATCH("margin_logits_backward", cos.dtype(),
                       cpu::margin_logits_backward(ptr<T>(cos), ptr<int32_t>(labels), p, ptr<T>(dout), ptr<T>(dcos),
                                                   cos.size(0), cos.size(1)));
  }
  void center_loss_forward(const Tensor& x, const Tensor& centers, const Tensor& labels, Tensor& loss) override {
    check_label_range("center_loss", labels, centers.size(0));
    MFD_FLOAT_DISPATCH("center_loss", x.dtype(),
                       cpu::center_loss_forward(ptr<T>(x), ptr<T>(centers), ptr<int32_t>(labels), ptr<T>(loss),
                                                x.size(0), x.size(1)));
  }
  void center_loss_backward(const Tensor& x, const Tensor& centers, const Tensor& labels, const Tensor& dloss,
                            Tensor& dx) override {
    MFD_FLOAT_DISPATCH("center_loss_backward", x.dtype(),
                       cpu::center_loss_backward(ptr<T>(x), ptr<T>(centers), ptr<int32_t>(labels), *ptr<T>(dloss),
                                                 ptr<T>(dx), x.size(0), x.size(1)));
  }
  void center_deltas(const Tensor& x, const Tensor& labels, const Tensor& centers, Tensor& delta,
                     Tensor& counts) override {
    check_label_range("center_update", labels, centers.size(0));
    MFD_FLOAT_DISPATCH("center_update", x.dtype(),
                       cpu::center_deltas(ptr<T>(x), ptr<int32_t>(labels), ptr<T>(centers), ptr<T>(delta),
                                          ptr<T>(counts), x.size(0), x.size(1), centers.size(0)));
  }
  void center_apply(const Tensor& delta, const Tensor& counts, double alpha, Tensor& centers) override {
    MFD_FLOAT_DISPATCH("center_update", centers.dtype(),
                       cpu::center_apply(ptr<T>(delta), ptr<T>(counts), alpha, ptr<T>(centers), centers.size(1),
                                         centers.size(0)));
  }

  void sgd_step(Tensor& w, const Tensor& g, Tensor& v, double lr, double momentum,
                double weight_decay) override {
    MFD_FLOAT_DISPATCH("sgd_step", w.dtype(),
                       cpu::sgd_step(ptr<T>(w), ptr<T>(g), ptr<T>(v), w.numel(), static_cast<T>(lr),
                                     static_cast<T>(momentum), static_cast<T>(weight_decay)));
  }

 private:
  HostBlockCache cache_;
};

}  // namespace

namespace {
CpuBackend& the_backend() {
  static CpuBackend backend;
  return backend;
}
}  // namespace

Backend& cpu_backend() { return the_backend(); }
int64_t fresh_allocations() { return the_backend().fresh_allocations(); }
int64_t bytes_in_use() { return the_backend().bytes_in_use(); }

}  // namespace mfd::cpu
