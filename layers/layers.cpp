#include "layers/layers.h"

namespace mfd {

Conv2d::Conv2d(const Conv2dOptions& o, Generator& gen)
    : options_(o),
      weight_(register_parameter("weight", Tensor::empty({o.out_channels, o.in_channels / o.groups,
                                                          o.kernel, o.kernel}))),
      bias_(o.bias ? register_parameter("bias", Tensor::empty({o.out_channels})) : unset_tensor()) {
  MFD_CHECK(o.groups >= 1 && o.in_channels % o.groups == 0 && o.out_channels % o.groups == 0,
            "Conv2d: groups=", o.groups, " must divide in_channels=", o.in_channels,
            " and out_channels=", o.out_channels);
  default_uniform(weight_, bias_, gen);
}

Tensor Conv2d::forward(const Tensor& x) {
  MFD_MODULE_RANGE();
  Conv2dParams p{options_.stride, options_.stride, options_.padding, options_.padding, options_.groups};
  return conv2d(x, weight_, bias_, p);
}

BatchNorm2d::BatchNorm2d(int channels, double momentum, double eps)
    : momentum_(momentum),
      eps_(eps),
      weight_(register_parameter("weight", Tensor::full({channels}, 1.0))),
      bias_(register_parameter("bias", Tensor::zeros({channels}))),
      running_mean_(register_buffer("running_mean", Tensor::zeros({channels}))),
      running_var_(register_buffer("running_var", Tensor::full({channels}, 1.0))),
      num_batches_tracked_(register_buffer("num_batches_tracked", Tensor::zeros(Shape{}, DType::i64))) {}

Tensor BatchNorm2d::forward(const Tensor& x) {
  MFD_MODULE_RANGE();
  if (is_training()) ++*num_batches_tracked_.data<int64_t>();  // host counter (see Module::to)
  return batch_norm2d(x, weight_, bias_, running_mean_, running_var_, is_training(), momentum_, eps_);
}

Linear::Linear(int in_features, int out_features, Generator& gen, bool bias)
    : weight_(register_parameter("weight", Tensor::empty({out_features, in_features}))),
      bias_(bias ? register_parameter("bias", Tensor::empty({out_features})) : unset_tensor()) {
  default_uniform(weight_, bias_, gen);
}

Tensor Linear::forward(const Tensor& x) {
  MFD_MODULE_RANGE();
  return linear(x, weight_, bias_);
}

}  // namespace mfd
