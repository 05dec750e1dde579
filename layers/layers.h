// The layers models are built from. Each owns its parameters under torchvision's names and
// calls the engine ops; constructors initialise as PyTorch's defaults (models re-initialise
// where torchvision does).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "engine/rng.h"
#include "layers/module.h"

namespace mfd {

struct Conv2dOptions {
  int in_channels, out_channels, kernel;
  int stride = 1, padding = 0, groups = 1;
  bool bias = true;
};

class Conv2d : public Module {
 public:
  Conv2d(const Conv2dOptions& o, Generator& gen);
  Tensor forward(const Tensor& x) override;
  Tensor& weight() { return weight_; }
  Tensor& bias() { return bias_; }  // undefined without bias
  const Conv2dOptions& options() const { return options_; }

 private:
  Conv2dOptions options_;
  Tensor& weight_;
  Tensor& bias_;
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int channels, double momentum = 0.1, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  Tensor& weight() { return weight_; }
  Tensor& bias() { return bias_; }
  Tensor& running_mean() { return running_mean_; }
  Tensor& running_var() { return running_var_; }

 private:
  double momentum_, eps_;
  Tensor &weight_, &bias_, &running_mean_, &running_var_, &num_batches_tracked_;
};

class Linear : public Module {
 public:
  Linear(int in_features, int out_features, Generator& gen, bool bias = true);
  Tensor forward(const Tensor& x) override;
  Tensor& weight() { return weight_; }
  Tensor& bias() { return bias_; }

 private:
  Tensor &weight_, &bias_;
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override {
    MFD_MODULE_RANGE();
    return relu(x);
  }
};

class ReLU6 : public Module {
 public:
  Tensor forward(const Tensor& x) override {
    MFD_MODULE_RANGE();
    return relu6(x);
  }
};

class Dropout : public Module {
 public:
  // Draws its masks from its own stream, seeded from `gen`, so that they follow the run's seed.
  Dropout(double p, Generator& gen) : p_(p), gen_(gen.seed() ^ 0x64726f706f7574ULL /* "dropout" */) {
    register_generator("generator", gen_);
  }
  Tensor forward(const Tensor& x) override {
    MFD_MODULE_RANGE();
    return dropout(x, p_, is_training(), gen_);
  }

 private:
  double p_;
  Generator gen_;
};

class MaxPool2d : public Module {
 public:
  MaxPool2d(int kernel, int stride, int padding = 0) : p_{kernel, kernel, stride, stride, padding, padding} {}
  Tensor forward(const Tensor& x) override {
    MFD_MODULE_RANGE();
    return max_pool2d(x, p_);
  }

 private:
  Pool2dParams p_;
};

class AvgPool2d : public Module {
 public:
  AvgPool2d(int kernel, int stride, int padding = 0) : p_{kernel, kernel, stride, stride, padding, padding} {}
  Tensor forward(const Tensor& x) override {
    MFD_MODULE_RANGE();
    return avg_pool2d(x, p_);
  }

 private:
  Pool2dParams p_;
};

// AdaptiveAvgPool2d(1) followed by flatten: (N, C, H, W) -> (N, C).
class GlobalAvgPool : public Module {
 public:
  Tensor forward(const Tensor& x) override {
    MFD_MODULE_RANGE();
    return global_avg_pool(x);
  }
};

class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override {
    MFD_MODULE_RANGE();
    return flatten(x);
  }
};

// Children named "0", "1", ... as torch.nn.Sequential, or by the names given.
class Sequential : public Module {
 public:
  Sequential& add(std::shared_ptr<Module> m) { return add(std::to_string(size_), std::move(m)); }
  Sequential& add(const std::string& name, std::shared_ptr<Module> m) {
    register_module(name, std::move(m));
    ++size_;
    return *this;
  }
  Tensor forward(const Tensor& x) override {
    MFD_MODULE_RANGE();
    Tensor y = x;
    for (auto& [name, child] : children()) y = child->forward(y);
    return y;
  }

 private:
  int size_ = 0;
};

}  // namespace mfd
