#include <cmath>

#include "models/model.h"

namespace mfd {

std::vector<std::string> model_names() {
  return {"resnet18", "resnet50", "resnext50_32x4d", "densenet121", "mobilenet_v2"};
}

std::shared_ptr<Model> make_model(const std::string& name, const ModelConfig& config, Generator& gen) {
  MFD_CHECK(config.width > 0, "--width must be > 0, got ", config.width);
  MFD_CHECK(config.num_classes >= 1, "a model needs at least one class");
  if (name == "resnet18" || name == "resnet50" || name == "resnext50_32x4d") return make_resnet(name, config, gen);
  if (name == "densenet121") return make_densenet121(config, gen);
  if (name == "mobilenet_v2") return make_mobilenet_v2(config, gen);
  std::string valid;
  for (const std::string& n : model_names()) valid += (valid.empty() ? "" : ", ") + n;
  fail("unknown model '", name, "' (valid: ", valid, ")");
}

int scaled_channels(int c, double width) { return std::max(1, static_cast<int>(std::lround(c * width))); }

std::shared_ptr<Conv2d> make_conv(const Conv2dOptions& o, ConvInit init, Generator& gen) {
  auto conv = std::make_shared<Conv2d>(o, gen);
  if (init == ConvInit::fan_out) kaiming_normal_fan_out(conv->weight(), gen);
  else kaiming_normal_fan_in(conv->weight(), gen);
  return conv;
}

}  // namespace mfd
