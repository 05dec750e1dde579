#include "engine/autograd.h"
#include "engine/ops.h"

namespace mfd {

Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                    Tensor& running_var, bool training, double momentum, double eps) {
  check_ndim("batch_norm2d", "x", x, 4);
  int64_t channels = x.size(1);
  for (const Tensor* t : {&gamma, &beta, static_cast<const Tensor*>(&running_mean), static_cast<const Tensor*>(&running_var)}) {
    check_same_device_dtype("batch_norm2d", x, *t);
    MFD_CHECK(t->ndim() == 1 && t->size(0) == channels, "batch_norm2d: parameter of shape ",
              t->shape().str(), " for ", channels, " channels");
  }
  Backend& be = backend_for(x);
  Tensor y = Tensor::empty_like(x);
  Tensor mean = Tensor::empty({channels}, x.dtype(), x.device());
  Tensor invstd = Tensor::empty_like(mean);
  if (training) {
    int64_t per_channel = x.size(0) * x.size(2) * x.size(3);
    MFD_CHECK(per_channel > 1, "batch_norm2d: expected more than 1 value per channel when "
              "training, got input of shape ", x.shape().str(), " (use a batch larger than 1)");
    be.batch_norm_forward_train(x, gamma, beta, momentum, eps, running_mean, running_var, y, mean,
                                invstd);
  } else {
    be.batch_norm_forward_eval(x, gamma, beta, running_mean, running_var, eps, y, mean, invstd);
  }
  if (needs_grad({x, gamma, beta})) {
    // Saves x, gamma and the statistics it normalised with, not beta (nor its output).
    record("batch_norm2d", y, [x, gamma, gbeta = grad_ref(beta), mean, invstd, training](const Tensor& dy) {
      Tensor dx = grad_if_needed(x), dgamma = grad_if_needed(gamma), dbeta = grad_if_needed(gbeta);
      backend_for(x).batch_norm_backward(x, gamma, mean, invstd, dy, training, dx, dgamma, dbeta);
    });
  }
  return y;
}

}  // namespace mfd
