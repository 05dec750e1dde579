#include "models/checkpoint.h"

#include "engine/safetensors.h"

namespace mfd {

namespace {

std::vector<NamedTensor> model_tensors(Module& model) {
  std::vector<NamedTensor> all = model.named_parameters(), buffers = model.named_buffers();
  all.insert(all.end(), buffers.begin(), buffers.end());
  return all;
}

void restore(const std::string& path, SafetensorsContents& file, const std::vector<NamedTensor>& targets) {
  for (const auto& [name, target] : targets) {
    auto it = file.tensors.find(name);
    MFD_CHECK(it != file.tensors.end(), path, ": missing tensor '", name,
              "' (a checkpoint of another model or width?)");
    const Tensor& t = it->second;
    MFD_CHECK(t.shape() == target->shape() && t.dtype() == target->dtype(), path, ": tensor '", name, "' is ",
              dtype_name(t.dtype()), " ", t.shape().str(), ", the model expects ", dtype_name(target->dtype()), " ",
              target->shape().str());
    target->copy_from(t);
  }
}

}  // namespace

void save_checkpoint(const std::string& path, Module& model, SGD* optimizer,
                     const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [name, t] : model_tensors(model)) tensors.emplace_back(name, *t);
  if (optimizer)
    for (const auto& [name, t] : optimizer->named_state()) tensors.emplace_back(name, *t);
  save_safetensors(path, tensors, metadata);
}

std::map<std::string, std::string> load_checkpoint(const std::string& path, Module& model, SGD* optimizer) {
  SafetensorsContents file = load_safetensors(path);
  restore(path, file, model_tensors(model));
  if (optimizer) restore(path, file, optimizer->named_state());
  return file.metadata;
}

}  // namespace mfd
