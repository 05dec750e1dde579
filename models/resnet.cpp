// ResNet18/50 and ResNeXt50-32x4d as torchvision 0.14 builds them (Bottleneck with the stride on
// the 3x3, "v1.5"), with the paper's stem for small images: conv1 3x3 stride 1 padding 1, and the
// max-pool only for inputs of 64x64 and more.
//
// Stages (for MFD): 0 = conv1, bn1, relu (+ maxpool when kept); 1..4 = layer1..layer4.
// Initialisation as torchvision: convolutions Kaiming-normal fan_out, BN weight 1 and bias 0, fc
// PyTorch's default Linear init.
#include "models/model.h"

namespace mfd {

namespace {

// conv1-bn1-relu-conv2-bn2(-relu-conv3-bn3) plus the identity or a 1x1 downsample, then relu.
class ResidualBlock : public Module {
 public:
  // Bottleneck (expansion 4) when bottleneck, else BasicBlock (expansion 1).
  ResidualBlock(bool bottleneck, int inplanes, int planes, int stride, int groups, int width, Generator& gen)
      : bottleneck_(bottleneck) {
    const int out = planes * (bottleneck ? 4 : 1);
    if (bottleneck) {
      conv1_ = register_module("conv1", make_conv({inplanes, width, 1, 1, 0, 1, false}, ConvInit::fan_out, gen));
      bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(width));
      conv2_ = register_module("conv2", make_conv({width, width, 3, stride, 1, groups, false}, ConvInit::fan_out, gen));
      bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(width));
      conv3_ = register_module("conv3", make_conv({width, out, 1, 1, 0, 1, false}, ConvInit::fan_out, gen));
      bn3_ = register_module("bn3", std::make_shared<BatchNorm2d>(out));
    } else {
      conv1_ = register_module("conv1", make_conv({inplanes, planes, 3, stride, 1, 1, false}, ConvInit::fan_out, gen));
      bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(planes));
      conv2_ = register_module("conv2", make_conv({planes, planes, 3, 1, 1, 1, false}, ConvInit::fan_out, gen));
      bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
    }
    if (stride != 1 || inplanes != out) {
      downsample_ = register_module("downsample", std::make_shared<Sequential>());
      downsample_->add(make_conv({inplanes, out, 1, stride, 0, 1, false}, ConvInit::fan_out, gen));
      downsample_->add(std::make_shared<BatchNorm2d>(out));
    }
  }

  Tensor forward(const Tensor& x) override {
    MFD_MODULE_RANGE();
    Tensor out = relu(bn1_->forward(conv1_->forward(x)));
    out = bn2_->forward(conv2_->forward(out));
    if (bottleneck_) out = bn3_->forward(conv3_->forward(relu(out)));
    return relu(add(out, downsample_ ? downsample_->forward(x) : x));
  }

 private:
  bool bottleneck_;
  std::shared_ptr<Conv2d> conv1_, conv2_, conv3_;
  std::shared_ptr<BatchNorm2d> bn1_, bn2_, bn3_;
  std::shared_ptr<Sequential> downsample_;
};

class ResNet : public Model {
 public:
  ResNet(bool bottleneck, const std::vector<int>& blocks, int groups, int width_per_group, const ModelConfig& cfg,
         Generator& gen)
      : keep_maxpool_(cfg.image_size >= 64) {
    int inplanes = scaled_channels(64, cfg.width);
    conv1_ = register_module("conv1", make_conv({cfg.in_channels, inplanes, 3, 1, 1, 1, false}, ConvInit::fan_out, gen));
    bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(inplanes));
    const int base[4] = {64, 128, 256, 512};
    for (int stage = 0; stage < 4; ++stage) {
      const int planes = scaled_channels(base[stage], cfg.width);
      // torchvision: width = int(planes * (width_per_group / 64)) * groups; at least one per group.
      const int width = std::max(1, planes * width_per_group / 64) * groups;
      auto layer = register_module("layer" + std::to_string(stage + 1), std::make_shared<Sequential>());
      for (int b = 0; b < blocks[stage]; ++b) {
        const int stride = (b == 0 && stage > 0) ? 2 : 1;
        layer->add(std::make_shared<ResidualBlock>(bottleneck, inplanes, planes, stride, groups, width, gen));
        inplanes = planes * (bottleneck ? 4 : 1);
      }
      layers_[stage] = layer;
    }
    embedding_dim_ = inplanes;
    fc_ = register_module("fc", std::make_shared<Linear>(inplanes, cfg.num_classes, gen));
  }

  ModelOutput run(const Tensor& x) override {
    MFD_MODULE_RANGE();
    ModelOutput out;
    Tensor h = relu(bn1_->forward(conv1_->forward(x)));
    if (keep_maxpool_) h = max_pool2d(h, {3, 3, 2, 2, 1, 1});
    out.stages.push_back(h);
    for (auto& layer : layers_) {
      h = layer->forward(h);
      out.stages.push_back(h);
    }
    out.embedding = global_avg_pool(h);
    out.logits = fc_->forward(out.embedding);
    return out;
  }
  int embedding_dim() const override { return embedding_dim_; }

 private:
  bool keep_maxpool_;
  int embedding_dim_ = 0;
  std::shared_ptr<Conv2d> conv1_;
  std::shared_ptr<BatchNorm2d> bn1_;
  std::shared_ptr<Sequential> layers_[4];
  std::shared_ptr<Linear> fc_;
};

}  // namespace

std::shared_ptr<Model> make_resnet(const std::string& name, const ModelConfig& config, Generator& gen) {
  if (name == "resnet18") return std::make_shared<ResNet>(false, std::vector<int>{2, 2, 2, 2}, 1, 64, config, gen);
  if (name == "resnet50") return std::make_shared<ResNet>(true, std::vector<int>{3, 4, 6, 3}, 1, 64, config, gen);
  if (name == "resnext50_32x4d")
    return std::make_shared<ResNet>(true, std::vector<int>{3, 4, 6, 3}, 32, 4, config, gen);
  fail("make_resnet: unknown variant ", name);
}

}  // namespace mfd
