// WideResNet-28-10 (Zagoruyko and Komodakis, "Wide Residual Networks", BMVC 2016), the CIFAR
// network researchers reach for after ResNet: a 3x3 stem of 16 channels, then three groups of 4
// pre-activation basic blocks (BN-ReLU-conv3x3, optional dropout, BN-ReLU-conv3x3, plus the
// identity or, where the shape changes, a 1x1 convolution of the activated input) of 160, 320
// and 640 channels (16, 32, 64 times the widening factor 10), the second and third starting with
// stride 2; a final BN-ReLU, global average pooling and the classifier. 36.5M parameters for 10
// classes. Initialisation as the authors': convolutions Kaiming-normal fan_out, BN weight 1, bias
// 0, the classifier's bias 0.
//
// Stages (for MFD): 0 = conv1; 1..3 = layer1..layer3, the last with the final BN-ReLU (what the
// classifier pools), as DenseNet's final norm belongs to its last stage.
// Names follow the PyTorch twin in test/fixtures/torchvision_models.py: conv1, layer1.0.bn1,
// layer1.0.conv1, layer1.0.bn2, layer1.0.conv2, layer1.0.shortcut, ..., bn, fc.
#include "models/model.h"

namespace mfd {

namespace {

class WideBlock : public Module {
 public:
  WideBlock(int in, int out, int stride, double dropout, Generator& gen) : dropout_(dropout) {
    bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(in));
    conv1_ = register_module("conv1", make_conv({in, out, 3, stride, 1, 1, false}, ConvInit::fan_out, gen));
    bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(out));
    if (dropout > 0) drop_ = register_module("dropout", std::make_shared<Dropout>(dropout, gen));
    conv2_ = register_module("conv2", make_conv({out, out, 3, 1, 1, 1, false}, ConvInit::fan_out, gen));
    if (in != out || stride != 1)
      shortcut_ = register_module("shortcut", make_conv({in, out, 1, stride, 0, 1, false}, ConvInit::fan_out, gen));
  }

  Tensor forward(const Tensor& x) override {
    MFD_MODULE_RANGE();
    const Tensor a = relu(bn1_->forward(x));
    Tensor h = relu(bn2_->forward(conv1_->forward(a)));
    if (drop_) h = drop_->forward(h);
    return add(conv2_->forward(h), shortcut_ ? shortcut_->forward(a) : x);
  }

 private:
  double dropout_;
  std::shared_ptr<BatchNorm2d> bn1_, bn2_;
  std::shared_ptr<Conv2d> conv1_, conv2_, shortcut_;
  std::shared_ptr<Dropout> drop_;
};

class WideResNet : public Model {
 public:
  WideResNet(int depth, int widen, const ModelConfig& cfg, Generator& gen) {
    MFD_CHECK((depth - 4) % 6 == 0, "WideResNet depth ", depth, " is not 6n + 4");
    const int blocks = (depth - 4) / 6;
    int in = scaled_channels(16, cfg.width);
    conv1_ = register_module("conv1", make_conv({cfg.in_channels, in, 3, 1, 1, 1, false}, ConvInit::fan_out, gen));
    const int base[3] = {16, 32, 64};
    for (int g = 0; g < 3; ++g) {
      const int out = scaled_channels(base[g] * widen, cfg.width);
      auto layer = register_module("layer" + std::to_string(g + 1), std::make_shared<Sequential>());
      for (int b = 0; b < blocks; ++b) {
        layer->add(std::make_shared<WideBlock>(in, out, b == 0 && g > 0 ? 2 : 1, cfg.wrn_dropout, gen));
        in = out;
      }
      layers_[g] = layer;
    }
    bn_ = register_module("bn", std::make_shared<BatchNorm2d>(in));
    fc_ = register_module("fc", std::make_shared<Linear>(in, cfg.num_classes, gen));
    backend_for(fc_->bias()).fill(fc_->bias(), 0.0);
    embedding_dim_ = in;
  }

  ModelOutput run(const Tensor& x) override {
    MFD_MODULE_RANGE();
    ModelOutput out;
    Tensor h = conv1_->forward(x);
    out.stages.push_back(h);
    for (int g = 0; g < 3; ++g) {
      h = layers_[g]->forward(h);
      if (g == 2) h = relu(bn_->forward(h));
      out.stages.push_back(h);
    }
    out.embedding = global_avg_pool(h);
    out.logits = fc_->forward(out.embedding);
    return out;
  }
  int embedding_dim() const override { return embedding_dim_; }

 private:
  int embedding_dim_ = 0;
  std::shared_ptr<Conv2d> conv1_;
  std::shared_ptr<Sequential> layers_[3];
  std::shared_ptr<BatchNorm2d> bn_;
  std::shared_ptr<Linear> fc_;
};

}  // namespace

std::shared_ptr<Model> make_wide_resnet28_10(const ModelConfig& config, Generator& gen) {
  return std::make_shared<WideResNet>(28, 10, config, gen);
}

}  // namespace mfd
