// The networks of the paper, built from layers/, each exposing its 5 stage outputs for MFD.
// Names of parameters and buffers are torchvision's, so that a checkpoint maps one to one onto the
// torchvision model with the same modifications.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/rng.h"
#include "layers/layers.h"

namespace mfd {

struct ModelConfig {
  int num_classes = 10;
  int in_channels = 3;
  int image_size = 32;     // 32 (CIFAR): no stem max-pool; 64 (Tiny ImageNet, FaceScrub): kept
  double width = 1.0;      // channel multiplier for small CPU runs
  bool mobilenet_stride1_stem = false;  // MobileNetV2 keeps torchvision's stride-2 stem by default
  double mobilenet_dropout = 0.2;       // before MobileNetV2's classifier (0 in the parity tests)
};

struct ModelOutput {
  Tensor logits;               // (N, classes)
  Tensor embedding;            // (N, E): the classifier's input
  std::vector<Tensor> stages;  // the 5 stage outputs, stage 0 = the stem
};

class Model : public Module {
 public:
  virtual ModelOutput run(const Tensor& x) = 0;
  Tensor forward(const Tensor& x) override { return run(x).logits; }
  virtual int embedding_dim() const = 0;
};

// resnet18, resnet50, resnext50_32x4d, densenet121, mobilenet_v2. An unknown name lists these.
std::shared_ptr<Model> make_model(const std::string& name, const ModelConfig& config, Generator& gen);
std::vector<std::string> model_names();

// Model-specific constructors (models/resnet.cpp, densenet.cpp, mobilenet_v2.cpp).
std::shared_ptr<Model> make_resnet(const std::string& name, const ModelConfig& config, Generator& gen);
std::shared_ptr<Model> make_densenet121(const ModelConfig& config, Generator& gen);
std::shared_ptr<Model> make_mobilenet_v2(const ModelConfig& config, Generator& gen);

// Channel count c scaled by the width multiplier, at least 1.
int scaled_channels(int c, double width);
// Convolution without bias followed by its BatchNorm, registered on `parent` as `conv_name` and
// `bn_name`; the weight initialised Kaiming-normal with fan_out (ResNet, MobileNetV2) or fan_in
// (DenseNet).
enum class ConvInit { fan_out, fan_in };
std::shared_ptr<Conv2d> make_conv(const Conv2dOptions& o, ConvInit init, Generator& gen);

}  // namespace mfd
