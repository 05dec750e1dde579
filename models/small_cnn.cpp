#include "models/small_cnn.h"

namespace mfd {

SmallCnn::SmallCnn(int in_channels, int image_size, int num_classes, Generator& gen, int width) {
  features_ = register_module("features", std::make_shared<Sequential>());
  int channels = in_channels;
  for (int out : {width, 2 * width}) {
    auto conv = std::make_shared<Conv2d>(Conv2dOptions{channels, out, 3, 1, 1, 1, false}, gen);
    kaiming_normal_fan_out(conv->weight(), gen);
    features_->add(conv).add(std::make_shared<BatchNorm2d>(out)).add(std::make_shared<ReLU>());
    features_->add(std::make_shared<MaxPool2d>(2, 2));
    channels = out;
  }
  auto conv3 = std::make_shared<Conv2d>(Conv2dOptions{channels, channels, 3, 1, 1, 1, false}, gen);
  kaiming_normal_fan_out(conv3->weight(), gen);
  features_->add(conv3).add(std::make_shared<BatchNorm2d>(channels)).add(std::make_shared<ReLU>());
  const int side = image_size / 4;
  hidden_ = register_module("hidden", std::make_shared<Linear>(channels * side * side, 128, gen));
  classifier_ = register_module("classifier", std::make_shared<Linear>(128, num_classes, gen));
}

ModelOutput SmallCnn::run(const Tensor& x) {
  MFD_MODULE_RANGE();
  ModelOutput out;
  Tensor h = x;
  int layer = 0;
  for (auto& [name, child] : features_->children()) {
    h = child->forward(h);
    if (++layer % 4 == 0 || layer == 11) out.stages.push_back(h);  // after each pool, and the last ReLU
  }
  out.embedding = relu(hidden_->forward(flatten(h)));
  out.logits = classifier_->forward(out.embedding);
  return out;
}

std::shared_ptr<Model> make_small_cnn(const ModelConfig& config, Generator& gen) {
  return std::make_shared<SmallCnn>(config.in_channels, config.image_size, config.num_classes, gen,
                                    scaled_channels(32, config.width));
}

}  // namespace mfd
