// MobileNetV2 as torchvision 0.14 builds it (width 1.0, its inverted-residual settings, ReLU6,
// dropout 0.2 before the classifier), with torchvision's 3x3 stride-2 stem by default (which
// matches the paper's MobileNetV2 accuracies); ModelConfig::mobilenet_stride1_stem gives stride 1.
// The width multiplier rounds channels to multiples of 8 as torchvision's width_mult does.
//
// Stages (for MFD): 0 = features[0:2] (the stem and the first block); 1 = features[2:4];
// 2 = features[4:7]; 3 = features[7:14]; 4 = features[14:19] (ending with the 1x1 conv to 1280).
// Initialisation as torchvision: convolutions Kaiming-normal fan_out, BN weight 1 and bias 0,
// the classifier N(0, 0.01) with bias 0.
#include <cmath>

#include "models/model.h"

namespace mfd {

namespace {

// torchvision's _make_divisible: the nearest multiple of 8, never 10% below v.
int make_divisible(double v, int divisor = 8) {
  int n = std::max(divisor, static_cast<int>(v + divisor / 2.0) / divisor * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

// Conv2dNormActivation: conv (no bias), BN, ReLU6, as a Sequential "0", "1", "2".
std::shared_ptr<Sequential> conv_bn_relu6(int in, int out, int kernel, int stride, int groups, Generator& gen) {
  auto s = std::make_shared<Sequential>();
  s->add(make_conv({in, out, kernel, stride, (kernel - 1) / 2, groups, false}, ConvInit::fan_out, gen));
  s->add(std::make_shared<BatchNorm2d>(out)).add(std::make_shared<ReLU6>());
  return s;
}

class InvertedResidual : public Module {
 public:
  InvertedResidual(int in, int out, int stride, int expand, Generator& gen) : residual_(stride == 1 && in == out) {
    const int hidden = static_cast<int>(std::lround(in * static_cast<double>(expand)));
    conv_ = register_module("conv", std::make_shared<Sequential>());
    if (expand != 1) conv_->add(conv_bn_relu6(in, hidden, 1, 1, 1, gen));
    conv_->add(conv_bn_relu6(hidden, hidden, 3, stride, hidden, gen));  // depthwise
    conv_->add(make_conv({hidden, out, 1, 1, 0, 1, false}, ConvInit::fan_out, gen));
    conv_->add(std::make_shared<BatchNorm2d>(out));
  }
  Tensor forward(const Tensor& x) override {
    MFD_MODULE_RANGE();
    Tensor y = conv_->forward(x);
    return residual_ ? add(x, y) : y;
  }

 private:
  bool residual_;
  std::shared_ptr<Sequential> conv_;
};

class MobileNetV2 : public Model {
 public:
  MobileNetV2(const ModelConfig& cfg, Generator& gen) {
    const int settings[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                                {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    int in = make_divisible(32 * cfg.width);
    const int last = make_divisible(1280 * std::max(1.0, cfg.width));
    features_ = register_module("features", std::make_shared<Sequential>());
    features_->add(conv_bn_relu6(cfg.in_channels, in, 3, cfg.mobilenet_stride1_stem ? 1 : 2, 1, gen));
    for (const auto& s : settings) {
      const int out = make_divisible(s[1] * cfg.width);
      for (int i = 0; i < s[2]; ++i) {
        features_->add(std::make_shared<InvertedResidual>(in, out, i == 0 ? s[3] : 1, s[0], gen));
        in = out;
      }
    }
    features_->add(conv_bn_relu6(in, last, 1, 1, 1, gen));
    embedding_dim_ = last;
    classifier_ = register_module("classifier", std::make_shared<Sequential>());
    auto fc = std::make_shared<Linear>(last, cfg.num_classes, gen);
    gen.normal_(fc->weight(), 0.0, 0.01);
    backend_for(fc->bias()).fill(fc->bias(), 0.0);
    classifier_->add(std::make_shared<Dropout>(cfg.mobilenet_dropout, gen)).add(fc);
  }

  ModelOutput run(const Tensor& x) override {
    MFD_MODULE_RANGE();
    static const int kStageEnds[5] = {2, 4, 7, 14, 19};  // features[a:b] per stage
    ModelOutput out;
    Tensor h = x;
    int next = 0;
    for (const auto& [name, child] : features_->children()) {
      h = child->forward(h);
      if (++next == kStageEnds[out.stages.size()]) out.stages.push_back(h);
    }
    out.embedding = global_avg_pool(h);
    out.logits = classifier_->forward(out.embedding);
    return out;
  }
  int embedding_dim() const override { return embedding_dim_; }

 private:
  int embedding_dim_ = 0;
  std::shared_ptr<Sequential> features_, classifier_;
};

}  // namespace

std::shared_ptr<Model> make_mobilenet_v2(const ModelConfig& config, Generator& gen) {
  return std::make_shared<MobileNetV2>(config, gen);
}

}  // namespace mfd
