// The networks of the paper (and the CIFAR networks next to them), built from layers/, each
// exposing its stage outputs for MFD: how many and their names are the model's (the registry's).
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
  double wrn_dropout = 0.0;             // between a WideResNet block's convolutions (the paper: 0.3)
};

struct ModelOutput {
  Tensor logits;               // (N, classes)
  Tensor embedding;            // (N, E): the classifier's input
  std::vector<Tensor> stages;  // the stage outputs, stage 0 = the stem (Model::stages() names them)
};

class Model : public Module {
 public:
  virtual ModelOutput run(const Tensor& x) = 0;
  Tensor forward(const Tensor& x) override { return run(x).logits; }
  virtual int embedding_dim() const = 0;
  // The names of the stages run() returns, in order ("stem", "layer1", ...).
  const std::vector<std::string>& stages() const { return stages_; }

 private:
  friend std::shared_ptr<Model> make_model(const std::string&, const ModelConfig&, Generator&);
  std::vector<std::string> stages_;
};

// The one table of models: name, stage names, factory. resnet18, resnet50, resnext50_32x4d,
// densenet121, mobilenet_v2, wide_resnet28_10, smallcnn.
struct ModelEntry {
  std::string name;
  std::vector<std::string> stages;
  std::shared_ptr<Model> (*make)(const ModelConfig& config, Generator& gen);
};
const std::vector<ModelEntry>& model_registry();
// The entry of a name; an unknown name is an Error listing the valid ones.
const ModelEntry& model_entry(const std::string& name);
std::shared_ptr<Model> make_model(const std::string& name, const ModelConfig& config, Generator& gen);
std::vector<std::string> model_names();

// Model-specific constructors (models/resnet.cpp, densenet.cpp, mobilenet_v2.cpp, wide_resnet.cpp,
// small_cnn.cpp).
std::shared_ptr<Model> make_resnet(const std::string& name, const ModelConfig& config, Generator& gen);
std::shared_ptr<Model> make_densenet121(const ModelConfig& config, Generator& gen);
std::shared_ptr<Model> make_mobilenet_v2(const ModelConfig& config, Generator& gen);
std::shared_ptr<Model> make_wide_resnet28_10(const ModelConfig& config, Generator& gen);
std::shared_ptr<Model> make_small_cnn(const ModelConfig& config, Generator& gen);

// Channel count c scaled by the width multiplier, at least 1.
int scaled_channels(int c, double width);
// Convolution without bias followed by its BatchNorm, registered on `parent` as `conv_name` and
// `bn_name`; the weight initialised Kaiming-normal with fan_out (ResNet, MobileNetV2) or fan_in
// (DenseNet).
enum class ConvInit { fan_out, fan_in };
std::shared_ptr<Conv2d> make_conv(const Conv2dOptions& o, ConvInit init, Generator& gen);

}  // namespace mfd
