#include "losses/margin.h"

#include "engine/autograd.h"
#include "engine/ops.h"

namespace mfd {

Tensor cosine_logits(const Tensor& x, const Tensor& w) {
  return linear(l2_normalize(x), l2_normalize(w), Tensor());
}

static Tensor margin_logits(const Tensor& cos, const Tensor& labels, const MarginParams& p) {
  check_ndim("margin_logits", "cos", cos, 2);
  MFD_CHECK(labels.dtype() == DType::i32 && labels.ndim() == 1 && labels.size(0) == cos.size(0),
            "margin_logits: labels must be i32 of shape (", cos.size(0), "), got ", labels.shape().str());
  Tensor out = Tensor::empty_like(cos);
  backend_for(cos).margin_logits_forward(cos, labels, p, out);
  if (needs_grad({cos})) {
    record("margin_logits", out, [cos, labels, p](const Tensor& dout) {  // ArcFace's slope reads cos
      Tensor dcos = grad_of(cos);
      backend_for(cos).margin_logits_backward(cos, labels, p, dout, dcos);
    });
  }
  return out;
}

Tensor am_softmax_logits(const Tensor& cos, const Tensor& labels, double s, double m) {
  return margin_logits(cos, labels, {MarginParams::additive_cosine, s, m});
}

Tensor arcface_logits(const Tensor& cos, const Tensor& labels, double s, double m) {
  return margin_logits(cos, labels, {MarginParams::additive_angular, s, m});
}

}  // namespace mfd
