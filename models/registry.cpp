#include <cmath>

#include "models/model.h"

namespace mfd {

const std::vector<ModelEntry>& model_registry() {
  static const std::vector<std::string> resnet = {"stem", "layer1", "layer2", "layer3", "layer4"};
  static const std::vector<ModelEntry> all = {
      {"resnet18", resnet, [](const ModelConfig& c, Generator& g) { return make_resnet("resnet18", c, g); }},
      {"resnet50", resnet, [](const ModelConfig& c, Generator& g) { return make_resnet("resnet50", c, g); }},
      {"resnext50_32x4d", resnet, [](const ModelConfig& c, Generator& g) { return make_resnet("resnext50_32x4d", c, g); }},
      {"densenet121", {"stem", "denseblock1", "denseblock2", "denseblock3", "denseblock4"}, make_densenet121},
      {"mobilenet_v2", {"features[0:2]", "features[2:4]", "features[4:7]", "features[7:14]", "features[14:19]"},
       make_mobilenet_v2},
      {"wide_resnet28_10", {"stem", "layer1", "layer2", "layer3"}, make_wide_resnet28_10},
      {"smallcnn", {"block1", "block2", "block3"}, make_small_cnn},
  };
  return all;
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const ModelEntry& e : model_registry()) names.push_back(e.name);
  return names;
}

const ModelEntry& model_entry(const std::string& name) {
  for (const ModelEntry& e : model_registry())
    if (e.name == name) return e;
  std::string valid;
  for (const std::string& n : model_names()) valid += (valid.empty() ? "" : ", ") + n;
  fail("unknown model '", name, "' (valid: ", valid, ")");
}

std::shared_ptr<Model> make_model(const std::string& name, const ModelConfig& config, Generator& gen) {
  MFD_CHECK(config.width > 0, "--width must be > 0, got ", config.width);
  MFD_CHECK(config.num_classes >= 1, "a model needs at least one class");
  const ModelEntry& entry = model_entry(name);
  std::shared_ptr<Model> model = entry.make(config, gen);
  model->stages_ = entry.stages;
  return model;
}

int scaled_channels(int c, double width) { return std::max(1, static_cast<int>(std::lround(c * width))); }

std::shared_ptr<Conv2d> make_conv(const Conv2dOptions& o, ConvInit init, Generator& gen) {
  auto conv = std::make_shared<Conv2d>(o, gen);
  if (init == ConvInit::fan_out) kaiming_normal_fan_out(conv->weight(), gen);
  else kaiming_normal_fan_in(conv->weight(), gen);
  return conv;
}

}  // namespace mfd
