#include "engine/autograd.h"
#include "engine/ops.h"

namespace mfd {

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  check_ndim("linear", "x", x, 2);
  check_ndim("linear", "weight", w, 2);
  check_same_device_dtype("linear", x, w);
  MFD_CHECK(x.size(1) == w.size(1), "linear: x ", x.shape().str(), " has ", x.size(1),
            " features, weight ", w.shape().str(), " expects ", w.size(1));
  if (b.defined()) {
    check_same_device_dtype("linear", x, b);
    MFD_CHECK(b.ndim() == 1 && b.size(0) == w.size(0), "linear: bias ", b.shape().str(),
              " does not match ", w.size(0), " outputs");
  }
  Tensor y = Tensor::empty({x.size(0), w.size(0)}, x.dtype(), x.device());
  backend_for(x).linear_forward(x, w, b, y);
  if (needs_grad({x, w, b})) {
    // Saves x and w (the products read them), not b.
    record("linear", y, [x, w, gb = grad_ref(b)](const Tensor& dy) {
      Tensor dx = grad_if_needed(x), dw = grad_if_needed(w), db = grad_if_needed(gb);
      backend_for(x).linear_backward(x, w, dy, dx, dw, db);
    });
  }
  return y;
}

}  // namespace mfd
