#include "layers/module.h"

#include <cxxabi.h>

#include <cstdlib>
#include <typeinfo>

#include "engine/autograd.h"
#include "engine/backend.h"

namespace mfd {

Tensor Module::forward(const Tensor&) {
  fail("this module has no single-input forward(); call its own forward method");
}

const std::string& Module::path() {
  if (!path_.empty()) return path_;
  if (parent_ && parent_->parent_) {
    path_ = parent_->path() + "." + name_;
  } else if (parent_) {
    path_ = name_;  // a model's direct child: "conv1", "layer1", "features"
  } else {
    // The type, without namespaces: "ResNet", "Conv2d".
    int status = 0;
    char* demangled = abi::__cxa_demangle(typeid(*this).name(), nullptr, nullptr, &status);
    path_ = status == 0 && demangled ? demangled : typeid(*this).name();
    std::free(demangled);
    const size_t colon = path_.rfind("::");
    if (colon != std::string::npos) path_ = path_.substr(colon + 2);
  }
  return path_;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

Tensor& Module::register_parameter(const std::string& name, Tensor value) {
  value.set_requires_grad(true);
  params_.emplace_back(name, std::make_unique<Tensor>(std::move(value)));
  return *params_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor value) {
  buffers_.emplace_back(name, std::make_unique<Tensor>(std::move(value)));
  return *buffers_.back().second;
}

void Module::collect(const std::string& prefix, bool buffers, std::vector<NamedTensor>& out) {
  for (auto& [name, t] : buffers ? buffers_ : params_) out.emplace_back(prefix + name, t.get());
  for (auto& [name, child] : children_) child->collect(prefix + name + ".", buffers, out);
}

std::vector<NamedTensor> Module::named_parameters() {
  std::vector<NamedTensor> out;
  collect("", false, out);
  return out;
}

std::vector<NamedTensor> Module::named_buffers() {
  std::vector<NamedTensor> out;
  collect("", true, out);
  return out;
}

std::vector<NamedGenerator> Module::named_generators() {
  std::vector<NamedGenerator> out = generators_;
  for (auto& [name, child] : children_)
    for (auto& [child_name, g] : child->named_generators()) out.emplace_back(name + "." + child_name, g);
  return out;
}

std::vector<Tensor> Module::parameters() {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(*t);
  return out;
}

int64_t Module::num_parameters() {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) n += t->numel();
  return n;
}

void Module::zero_grad() {
  for (auto& [name, t] : named_parameters()) drop_grad(*t);
}

void Module::convert_floating(const std::function<Tensor(const Tensor&)>& convert) {
  for (auto* list : {&params_, &buffers_})
    for (auto& [name, t] : *list) {
      if (!is_floating(t->dtype())) continue;
      bool grad = t->requires_grad();
      *t = convert(*t);
      t->set_requires_grad(grad);
    }
  for (auto& [name, child] : children_) child->convert_floating(convert);
}

void Module::to(Device device) {
  convert_floating([device](const Tensor& t) { return t.to(device); });
}

void Module::to(DType dtype) {
  convert_floating([dtype](const Tensor& t) { return t.to(dtype); });
}

}  // namespace mfd
