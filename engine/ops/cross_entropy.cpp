#include "engine/autograd.h"
#include "engine/ops.h"

namespace mfd {

Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  check_ndim("cross_entropy", "logits", logits, 2);
  MFD_CHECK(labels.dtype() == DType::i32 && labels.ndim() == 1 && labels.size(0) == logits.size(0),
            "cross_entropy: labels must be i32 of shape (", logits.size(0), "), got ",
            dtype_name(labels.dtype()), " ", labels.shape().str());
  MFD_CHECK(labels.device() == logits.device(), "cross_entropy: labels and logits on different devices");
  MFD_CHECK(logits.size(0) > 0, "cross_entropy: empty batch");
  Tensor loss = Tensor::empty(Shape{}, logits.dtype(), logits.device());
  Tensor probs = Tensor::empty_like(logits);
  backend_for(logits).softmax_cross_entropy_forward(logits, labels, loss, probs);
  if (needs_grad({logits})) {
    // Saves the probabilities and labels, not the logits.
    record("cross_entropy", loss, [glogits = grad_ref(logits), labels, probs](const Tensor& dloss) {
      Tensor dlogits = grad_of(glogits);
      backend_for(dloss).softmax_cross_entropy_backward(probs, labels, dloss, dlogits);
    });
  }
  return loss;
}

}  // namespace mfd
