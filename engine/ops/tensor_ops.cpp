// Shape and arithmetic ops: add, scale, concat_channels, reshape, flatten, sum, mean, l2_normalize;
// the running sums accumulate and accumulate_hits.
#include "engine/autograd.h"
#include "engine/ops.h"

namespace mfd {

Tensor add(const Tensor& a, const Tensor& b) {
  check_same_device_dtype("add", a, b);
  MFD_CHECK(a.shape() == b.shape(), "add: shapes differ, ", a.shape().str(), " and ",
            b.shape().str());
  Tensor y = Tensor::empty_like(a);
  backend_for(a).add(a, b, y);
  if (needs_grad({a, b})) {
    record("add", y, [ga = grad_ref(a), gb = grad_ref(b)](const Tensor& dy) {  // saves nothing
      // Both gradients are dy: the first input without a gradient yet takes dy itself, the
      // other gets a copy or adds it.
      bool adopted = false;
      for (const GradRef* r : {&ga, &gb}) {
        if (!r->defined()) continue;
        if (!adopted && adopt_grad(*r, dy)) {
          adopted = true;
          continue;
        }
        GradWrite write;
        Tensor g = grad_to_write(*r, write);
        if (write == GradWrite::assign) {
          backend_for(dy).copy(g.raw(), dy.raw(), dy.nbytes());
        } else {
          backend_for(dy).axpy(1.0, dy, g);
        }
      }
    });
  }
  return y;
}

void accumulate(Tensor& acc, const Tensor& x, double alpha) {
  check_same_device_dtype("accumulate", acc, x);
  MFD_CHECK(acc.shape() == x.shape(), "accumulate: shapes differ, ", acc.shape().str(), " and ", x.shape().str());
  backend_for(acc).axpy(alpha, x, acc);
}

void accumulate_hits(Tensor& count, const Tensor& scores, const Tensor& labels) {
  check_ndim("accumulate_hits", "scores", scores, 2);
  check_same_device_dtype("accumulate_hits", count, scores);
  MFD_CHECK(count.numel() == 1, "accumulate_hits: count must be a scalar, got ", count.shape().str());
  MFD_CHECK(labels.dtype() == DType::i32 && labels.numel() == scores.size(0) && labels.device() == scores.device(),
            "accumulate_hits: labels must be i32 (", scores.size(0), ") on the scores' device");
  backend_for(count).count_correct(scores, labels, count);
}

Tensor scale(const Tensor& x, double alpha) {
  Tensor y = Tensor::zeros_like(x);
  backend_for(x).axpy(alpha, x, y);
  if (needs_grad({x})) {
    record("scale", y, [gx = grad_ref(x), alpha](const Tensor& dy) {
      Tensor dx = grad_of(gx);
      backend_for(dy).axpy(alpha, dy, dx);
    });
  }
  return y;
}

Tensor concat_channels(const std::vector<Tensor>& xs) {
  MFD_CHECK(!xs.empty(), "concat_channels: no inputs");
  int64_t channels = 0;
  bool any_grad = false;
  for (const Tensor& x : xs) {
    check_ndim("concat_channels", "input", x, 4);
    check_same_device_dtype("concat_channels", xs[0], x);
    MFD_CHECK(x.size(0) == xs[0].size(0) && x.size(2) == xs[0].size(2) && x.size(3) == xs[0].size(3),
              "concat_channels: ", x.shape().str(), " does not match ", xs[0].shape().str(),
              " outside the channel dimension");
    channels += x.size(1);
    any_grad = any_grad || needs_grad({x});
  }
  Tensor y = Tensor::empty({xs[0].size(0), channels, xs[0].size(2), xs[0].size(3)}, xs[0].dtype(),
                           xs[0].device());
  backend_for(y).concat_channels_forward(xs, y);
  if (any_grad) {
    std::vector<GradRef> refs;
    std::vector<int64_t> widths;
    for (const Tensor& x : xs) refs.push_back(grad_ref(x)), widths.push_back(x.size(1));
    record("concat_channels", y, [refs, widths](const Tensor& dy) {
      std::vector<Tensor> dxs;
      for (const GradRef& r : refs) dxs.push_back(grad_if_needed(r));
      backend_for(dy).concat_channels_backward(dy, widths, dxs);
    });
  }
  return y;
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  MFD_CHECK(shape.numel() == x.numel(), "reshape: cannot view ", x.shape().str(), " as ",
            shape.str());
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = x.impl().storage;
  impl->shape = shape;
  impl->dtype = x.dtype();
  Tensor y(std::move(impl));
  if (needs_grad({x})) {
    record("reshape", y, [gx = grad_ref(x), shape = x.shape()](const Tensor& dy) {
      Tensor dx = grad_of(gx);
      backend_for(dy).axpy(1.0, reshape(dy.detach(), shape), dx);
    });
  }
  return y;
}

Tensor flatten(const Tensor& x) {
  MFD_CHECK(x.ndim() >= 1, "flatten: needs at least one dimension");
  return reshape(x, {x.size(0), x.size(0) ? x.numel() / x.size(0) : 0});
}

static Tensor scaled_sum(const Tensor& x, double factor) {
  Tensor y = Tensor::empty(Shape{}, x.dtype(), x.device());
  backend_for(x).sum(x, factor, y);
  if (needs_grad({x})) {
    record("sum", y, [gx = grad_ref(x), factor](const Tensor& dy) {
      Tensor dx = grad_of(gx);
      backend_for(dy).broadcast_accumulate(dy, factor, dx);
    });
  }
  return y;
}

Tensor sum(const Tensor& x) { return scaled_sum(x, 1.0); }

Tensor mean(const Tensor& x) {
  MFD_CHECK(x.numel() > 0, "mean of an empty tensor");
  return scaled_sum(x, 1.0 / static_cast<double>(x.numel()));
}

Tensor l2_normalize(const Tensor& x, double eps) {
  check_ndim("l2_normalize", "x", x, 2);
  Tensor y = Tensor::empty_like(x);
  backend_for(x).l2_normalize_forward(x, eps, y);
  if (needs_grad({x})) {
    Tensor y_saved = y.detach();
    record("l2_normalize", y, [x, y_saved, eps](const Tensor& dy) {
      Tensor dx = grad_of(x);
      backend_for(x).l2_normalize_backward(x, y_saved, dy, eps, dx);
    });
  }
  return y;
}

}  // namespace mfd
