// DenseNet121 as torchvision 0.14 builds it (growth 32, blocks 6-12-24-16, bn_size 4, compression
// 0.5), with the paper's stem for small images: conv0 3x3 stride 1 padding 1, and pool0 only for
// inputs of 64x64 and more. The width multiplier scales the growth rate (and conv0's 2 x growth).
//
// Stages (for MFD): 0 = conv0, norm0, relu0 (+ pool0 when kept); stage k = transition(k-1) (none
// for k = 1) and denseblock k; stage 4 also holds the final norm5 and its ReLU.
// Initialisation as torchvision: convolutions Kaiming-normal fan_in, BN weight 1 and bias 0,
// classifier bias 0 (weight PyTorch's default).
#include "models/model.h"

namespace mfd {

namespace {

// norm1-relu1-conv1 (1x1 to bn_size * growth), norm2-relu2-conv2 (3x3 to growth) on the
// concatenation of all earlier features.
class DenseLayer : public Module {
 public:
  DenseLayer(int in, int growth, int bn_size, Generator& gen) {
    norm1_ = register_module("norm1", std::make_shared<BatchNorm2d>(in));
    conv1_ = register_module("conv1", make_conv({in, bn_size * growth, 1, 1, 0, 1, false}, ConvInit::fan_in, gen));
    norm2_ = register_module("norm2", std::make_shared<BatchNorm2d>(bn_size * growth));
    conv2_ = register_module("conv2", make_conv({bn_size * growth, growth, 3, 1, 1, 1, false}, ConvInit::fan_in, gen));
  }
  Tensor forward(const Tensor& x) override {
    MFD_MODULE_RANGE();
    return conv2_->forward(relu(norm2_->forward(conv1_->forward(relu(norm1_->forward(x))))));
  }

 private:
  std::shared_ptr<BatchNorm2d> norm1_, norm2_;
  std::shared_ptr<Conv2d> conv1_, conv2_;
};

class DenseBlock : public Module {
 public:
  DenseBlock(int layers, int in, int growth, int bn_size, Generator& gen) {
    for (int i = 0; i < layers; ++i)
      layers_.push_back(register_module("denselayer" + std::to_string(i + 1),
                                        std::make_shared<DenseLayer>(in + i * growth, growth, bn_size, gen)));
  }
  Tensor forward(const Tensor& x) override {
    MFD_MODULE_RANGE();
    std::vector<Tensor> features = {x};
    for (auto& layer : layers_) features.push_back(layer->forward(concat_channels(features)));
    return concat_channels(features);
  }

 private:
  std::vector<std::shared_ptr<DenseLayer>> layers_;
};

class DenseNet121 : public Model {
 public:
  DenseNet121(const ModelConfig& cfg, Generator& gen) : keep_pool_(cfg.image_size >= 64) {
    const int growth = scaled_channels(32, cfg.width), bn_size = 4, blocks[4] = {6, 12, 24, 16};
    int channels = 2 * growth;
    // torchvision's nn.Sequential of named children; run() calls them itself.
    features_ = register_module("features", std::make_shared<Sequential>());
    conv0_ = add_feature("conv0", make_conv({cfg.in_channels, channels, 3, 1, 1, 1, false}, ConvInit::fan_in, gen));
    norm0_ = add_feature("norm0", std::make_shared<BatchNorm2d>(channels));
    for (int b = 0; b < 4; ++b) {
      if (b > 0) {
        auto t = std::make_shared<Sequential>();
        t->add("norm", std::make_shared<BatchNorm2d>(channels)).add("relu", std::make_shared<ReLU>());
        t->add("conv", make_conv({channels, channels / 2, 1, 1, 0, 1, false}, ConvInit::fan_in, gen));
        t->add("pool", std::make_shared<AvgPool2d>(2, 2));
        transitions_[b] = add_feature("transition" + std::to_string(b), t);
        channels /= 2;
      }
      blocks_[b] = add_feature("denseblock" + std::to_string(b + 1),
                               std::make_shared<DenseBlock>(blocks[b], channels, growth, bn_size, gen));
      channels += blocks[b] * growth;
    }
    norm5_ = add_feature("norm5", std::make_shared<BatchNorm2d>(channels));
    embedding_dim_ = channels;
    classifier_ = register_module("classifier", std::make_shared<Linear>(channels, cfg.num_classes, gen));
    backend_for(classifier_->bias()).fill(classifier_->bias(), 0.0);
  }

  ModelOutput run(const Tensor& x) override {
    MFD_MODULE_RANGE();
    ModelOutput out;
    Tensor h = relu(norm0_->forward(conv0_->forward(x)));
    if (keep_pool_) h = max_pool2d(h, {3, 3, 2, 2, 1, 1});
    out.stages.push_back(h);
    for (int b = 0; b < 4; ++b) {
      if (b > 0) h = transitions_[b]->forward(h);
      h = blocks_[b]->forward(h);
      if (b == 3) h = relu(norm5_->forward(h));
      out.stages.push_back(h);
    }
    out.embedding = global_avg_pool(h);
    out.logits = classifier_->forward(out.embedding);
    return out;
  }
  int embedding_dim() const override { return embedding_dim_; }

 private:
  // Registers m as "features.<name>".
  template <typename M> std::shared_ptr<M> add_feature(const std::string& name, std::shared_ptr<M> m) {
    features_->add(name, m);
    return m;
  }

  bool keep_pool_;
  int embedding_dim_ = 0;
  std::shared_ptr<Sequential> features_;
  std::shared_ptr<Conv2d> conv0_;
  std::shared_ptr<BatchNorm2d> norm0_, norm5_;
  std::shared_ptr<Sequential> transitions_[4];
  std::shared_ptr<DenseBlock> blocks_[4];
  std::shared_ptr<Linear> classifier_;
};

}  // namespace

std::shared_ptr<Model> make_densenet121(const ModelConfig& config, Generator& gen) {
  return std::make_shared<DenseNet121>(config, gen);
}

}  // namespace mfd
