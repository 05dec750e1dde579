// SmallCnn, for CPU runs on 28x28 or 32x32 images (the quick start and the end-to-end test):
//   features: [conv3x3-BN-ReLU-maxpool2] x 2 (width, 2 width channels), conv3x3-BN-ReLU (2 width)
//   hidden: linear to 128 + ReLU; classifier: linear to the classes.
// Names as torch.nn.Sequential would give them: features.{0,1,4,5,8,9}, hidden, classifier.
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
  std::shared_ptr<Linear> hidden_, classifier_;
};

}  // namespace mfd
