// relu, relu6 and dropout.
#include <cmath>
#include <limits>

#include "engine/autograd.h"
#include "engine/batch_shard.h"
#include "engine/ops.h"

namespace mfd {

static Tensor clamped_relu(const Tensor& x, double cap) {
  MFD_CHECK(is_floating(x.dtype()), "relu: x must be floating, got ", dtype_name(x.dtype()));
  Tensor y = Tensor::empty_like(x);
  backend_for(x).relu_forward(x, cap, y);
  if (needs_grad({x})) {
    // Saves its output (where the gradient passes: 0 < y < cap), not its input.
    Tensor y_saved = y.detach();
    record(std::isinf(cap) ? "relu" : "relu6", y, [gx = grad_ref(x), y_saved, cap](const Tensor& dy) {
      GradWrite write;
      Tensor dx = grad_to_write(gx, write);
      backend_for(dy).relu_backward(y_saved, dy, cap, dx, write);
    });
  }
  return y;
}

Tensor relu(const Tensor& x) { return clamped_relu(x, std::numeric_limits<double>::infinity()); }
Tensor relu6(const Tensor& x) { return clamped_relu(x, 6.0); }

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  MFD_CHECK(p >= 0.0 && p < 1.0, "dropout: p must be in [0, 1), got ", p);
  if (!training || p == 0.0) return x;
  Tensor mask = Tensor::empty_like(x);
  if (const BatchShard* shard = current_shard()) {  // this shard's samples of the global batch's mask
    MFD_CHECK(x.size(0) == shard->size, "dropout: ", x.size(0), " samples in a shard of ", shard->size);
    const uint64_t per_sample = static_cast<uint64_t>(x.numel() / x.size(0));
    gen.dropout_mask_(mask, p, shard->begin * per_sample, shard->global * per_sample);
  } else {
    gen.dropout_mask_(mask, p);
  }
  Tensor y = Tensor::empty_like(x);
  backend_for(x).mul(x, mask, y);
  if (needs_grad({x})) {
    record("dropout", y, [gx = grad_ref(x), mask](const Tensor& dy) {  // saves the mask alone
      Tensor dx = grad_of(gx);
      backend_for(dy).mul_accumulate(dy, mask, dx);
    });
  }
  return y;
}

}  // namespace mfd
