// SGD with momentum and weight decay, as torch.optim.SGD (no dampening, no Nesterov), and the
// multi-step learning-rate schedule of the paper (lr 0.1, divided by 10 at epochs 30, 60, 90).
#pragma once
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace mfd {

class SGD {
 public:
  SGD(std::vector<NamedTensor> params, double lr, double momentum = 0.9, double weight_decay = 5e-4);
  // v = momentum * v + g + wd * w; w -= lr * v, for every parameter that has a gradient
  // (parameters without one are skipped, as in PyTorch).
  void step();
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  // The momentum buffers by parameter name ("momentum.conv1.weight"), for checkpoints.
  std::vector<NamedTensor> named_state();

 private:
  std::vector<NamedTensor> params_;
  std::vector<Tensor> velocity_;  // zeros until first used; equal to PyTorch's first-step clone
  double lr_, momentum_, weight_decay_;
};

class MultiStepLR {
 public:
  MultiStepLR(double base_lr, std::vector<int> milestones, double gamma = 0.1);
  // The learning rate of a 0-based epoch: base * gamma^(number of milestones <= epoch).
  double lr_at(int epoch) const;

 private:
  double base_lr_;
  std::vector<int> milestones_;
  double gamma_;
};

}  // namespace mfd
