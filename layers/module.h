// Module: a layer or a container. It owns named parameters and buffers (torchvision's names:
// "conv1.weight", "layer1.0.bn1.running_mean"), named children, and a train/eval mode.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/nvtx.h"
#include "engine/rng.h"
#include "engine/tensor.h"

namespace mfd {

using NamedGenerator = std::pair<std::string, Generator*>;

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;  // parameters are registered by address
  Module& operator=(const Module&) = delete;

  // The single-input forward that containers chain. Modules with other signatures (models
  // returning several outputs) provide their own.
  virtual Tensor forward(const Tensor& x);

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Recursive, in registration order, with dotted prefixes. The pointers stay valid for the
  // module's lifetime; to() and checkpoint loading write through them.
  std::vector<NamedTensor> named_parameters();
  std::vector<NamedTensor> named_buffers();
  // The random streams whose position is training state (Dropout's masks), with dotted names
  // like the tensors'; checkpoints save and restore their offsets so that resume is exact.
  std::vector<NamedGenerator> named_generators();
  std::vector<Tensor> parameters();
  int64_t num_parameters();
  void zero_grad();                 // drops every parameter's gradient
  // Moves the floating parameters and buffers. Integer buffers (BatchNorm's num_batches_tracked)
  // are host-side counters and stay on the CPU, so a training step never copies them back.
  void to(Device device);
  void to(DType dtype);             // converts floating parameters and buffers
  // The direct children in registration order (models that tap outputs between them run them
  // one by one).
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  // This module's dotted path in its model ("layer1.0.conv1", torchvision's name), or its type
  // ("ResNet", "Conv2d") for a module that no parent registered; worked out once. Names the
  // NVTX range of its forward (MFD_MODULE_RANGE).
  const std::string& path();

 protected:
  Tensor& register_parameter(const std::string& name, Tensor value);
  Tensor& register_buffer(const std::string& name, Tensor value);
  void register_generator(const std::string& name, Generator& g) { generators_.emplace_back(name, &g); }
  template <typename M> std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    Module& child = *m;
    child.parent_ = this;
    child.name_ = name;
    children_.emplace_back(name, m);
    return m;
  }
  // An undefined tensor for optional parameters (a convolution without bias) to refer to.
  Tensor& unset_tensor() { return unset_; }

 private:
  void collect(const std::string& prefix, bool buffers, std::vector<NamedTensor>& out);
  // Replaces every floating parameter and buffer by convert(it), keeping requires_grad.
  void convert_floating(const std::function<Tensor(const Tensor&)>& convert);

  // unique_ptr keeps each tensor's address fixed however many are registered.
  std::vector<std::pair<std::string, std::unique_ptr<Tensor>>> params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::vector<NamedGenerator> generators_;  // owned by the module that registered them
  bool training_ = true;
  Tensor unset_;
  Module* parent_ = nullptr;  // the module that registered this one (which owns it)
  std::string name_, path_;   // the name given at registration; path() once worked out
};

}  // namespace mfd

// An NVTX range named by the module's path over the rest of a forward (nothing, and no path
// worked out, in a build without CUDA: engine/nvtx.h).
#define MFD_MODULE_RANGE() MFD_NVTX_RANGE(this->path().c_str())
