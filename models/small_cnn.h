// SmallCnn, for CPU runs on 28x28 or 32x32 images (the quick start, `bin/train smallcnn ...`):
//   features: [conv3x3-BN-ReLU-maxpool2] x 2 (width, 2 width channels), conv3x3-BN-ReLU (2 width)
//   hidden: linear to 128 + ReLU (the embedding); classifier: linear to the classes.
// Stages (for MFD): the output of each of the three blocks. Names as torch.nn.Sequential would
// give them: features.{0,1,4,5,8,9}, hidden, classifier. `--width` scales the default 32 channels.
#pragma once
#include <memory>

#include "models/model.h"

namespace mfd {

class SmallCnn : public Model {
 public:
  // width: channels of the first block (the second has twice as many).
  SmallCnn(int in_channels, int image_size, int num_classes, Generator& gen, int width = 32);
  ModelOutput run(const Tensor& x) override;
  int embedding_dim() const override { return 128; }

 private:
  std::shared_ptr<Sequential> features_;
  std::shared_ptr<Linear> hidden_, classifier_;
};

}  // namespace mfd
