#include "engine/autograd.h"
#include "engine/ops.h"

namespace mfd {

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p) {
  check_ndim("conv2d", "x", x, 4);
  check_ndim("conv2d", "weight", w, 4);
  check_same_device_dtype("conv2d", x, w);
  MFD_CHECK(p.groups >= 1 && x.size(1) % p.groups == 0 && w.size(0) % p.groups == 0,
            "conv2d: groups=", p.groups, " must divide input channels ", x.size(1),
            " and output channels ", w.size(0));
  MFD_CHECK(w.size(1) * p.groups == x.size(1), "conv2d: weight ", w.shape().str(), " expects ",
            w.size(1) * p.groups, " input channels, x ", x.shape().str(), " has ", x.size(1));
  MFD_CHECK(p.stride_h >= 1 && p.stride_w >= 1 && p.pad_h >= 0 && p.pad_w >= 0,
            "conv2d: strides must be >= 1 and paddings >= 0");
  if (b.defined()) {
    check_same_device_dtype("conv2d", x, b);
    MFD_CHECK(b.ndim() == 1 && b.size(0) == w.size(0), "conv2d: bias ", b.shape().str(),
              " does not match ", w.size(0), " output channels");
  }
  int64_t out_h = window_out_size(x.size(2), w.size(2), p.stride_h, p.pad_h);
  int64_t out_w = window_out_size(x.size(3), w.size(3), p.stride_w, p.pad_w);
  MFD_CHECK(out_h > 0 && out_w > 0, "conv2d: kernel ", w.size(2), "x", w.size(3),
            " larger than the padded input ", x.shape().str());
  Tensor y = Tensor::empty({x.size(0), w.size(0), out_h, out_w}, x.dtype(), x.device());
  backend_for(x).conv2d_forward(x, w, b, p, y);
  if (needs_grad({x, w, b})) {
    // Saves x and w (the two backward products read them), not b.
    record("conv2d", y, [x, w, gb = grad_ref(b), p](const Tensor& dy) {
      GradWrite dx_write;
      Tensor dx = grad_to_write(x, dx_write), dw = grad_if_needed(w), db = grad_if_needed(gb);
      backend_for(x).conv2d_backward(x, w, dy, p, dx, dw, db, dx_write);
    });
  }
  return y;
}

}  // namespace mfd
