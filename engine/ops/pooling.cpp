// max_pool2d, avg_pool2d, global_avg_pool.
#include "engine/autograd.h"
#include "engine/ops.h"

namespace mfd {

static Shape pooled_shape(const char* op, const Tensor& x, const Pool2dParams& p) {
  check_ndim(op, "x", x, 4);
  MFD_CHECK(p.kernel_h >= 1 && p.kernel_w >= 1 && p.stride_h >= 1 && p.stride_w >= 1, op,
            ": kernel and stride must be >= 1");
  MFD_CHECK(2 * p.pad_h <= p.kernel_h && 2 * p.pad_w <= p.kernel_w, op,
            ": padding must be at most half the kernel size (as in PyTorch)");
  int64_t out_h = window_out_size(x.size(2), p.kernel_h, p.stride_h, p.pad_h);
  int64_t out_w = window_out_size(x.size(3), p.kernel_w, p.stride_w, p.pad_w);
  MFD_CHECK(out_h > 0 && out_w > 0, op, ": window larger than the padded input ", x.shape().str());
  return Shape{x.size(0), x.size(1), out_h, out_w};
}

Tensor max_pool2d(const Tensor& x, const Pool2dParams& p) {
  Tensor y = Tensor::empty(pooled_shape("max_pool2d", x, p), x.dtype(), x.device());
  backend_for(x).max_pool2d_forward(x, p, y);
  if (needs_grad({x})) {
    Tensor y_saved = y.detach();
    record("max_pool2d", y, [x, y_saved, p](const Tensor& dy) {
      Tensor dx = grad_of(x);
      backend_for(x).max_pool2d_backward(x, y_saved, dy, p, dx);
    });
  }
  return y;
}

Tensor avg_pool2d(const Tensor& x, const Pool2dParams& p) {
  Tensor y = Tensor::empty(pooled_shape("avg_pool2d", x, p), x.dtype(), x.device());
  backend_for(x).avg_pool2d_forward(x, p, y);
  if (needs_grad({x})) {
    record("avg_pool2d", y, [gx = grad_ref(x), p](const Tensor& dy) {
      Tensor dx = grad_of(gx);
      backend_for(dy).avg_pool2d_backward(dy, p, dx);
    });
  }
  return y;
}

Tensor global_avg_pool(const Tensor& x) {
  check_ndim("global_avg_pool", "x", x, 4);
  Tensor y = Tensor::empty({x.size(0), x.size(1)}, x.dtype(), x.device());
  backend_for(x).global_avg_pool_forward(x, y);
  if (needs_grad({x})) {
    record("global_avg_pool", y, [gx = grad_ref(x)](const Tensor& dy) {
      Tensor dx = grad_of(gx);
      backend_for(dy).global_avg_pool_backward(dy, dx);
    });
  }
  return y;
}

}  // namespace mfd
