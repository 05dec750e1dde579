// SmallCnn: two conv-BN-ReLU-maxpool blocks and a linear classifier, for CPU runs on 28x28 or
// 32x32 images (the quick start and the end-to-end test). Names as a torch.nn.Sequential:
// features.{0,1,4,5}, classifier.
#pragma once
#include <memory>

#include "layers/layers.h"

namespace mfd {

class SmallCnn : public Module {
 public:
  // width: channels of the first block (the second has twice as many).
  SmallCnn(int in_channels, int image_size, int num_classes, Generator& gen, int width = 32);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<Sequential> features_;
  std::shared_ptr<Linear> classifier_;
};

}  // namespace mfd
