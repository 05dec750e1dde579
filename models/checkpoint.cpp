#include "models/checkpoint.h"

#include "engine/safetensors.h"

namespace mfd {

namespace {

std::vector<NamedTensor> part_tensors(const std::vector<CheckpointPart>& parts) {
  std::vector<NamedTensor> all;
  for (const CheckpointPart& part : parts) {
    std::vector<NamedTensor> p = part.module->named_parameters(), b = part.module->named_buffers();
    p.insert(p.end(), b.begin(), b.end());
    for (auto& [name, t] : p) all.emplace_back(part.prefix + name, t);
  }
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
  save_checkpoint(path, {{"", &model}}, optimizer, metadata);
}

std::map<std::string, std::string> load_checkpoint(const std::string& path, Module& model, SGD* optimizer) {
  return load_checkpoint(path, {{"", &model}}, optimizer);
}

void save_checkpoint(const std::string& path, const std::vector<CheckpointPart>& parts, SGD* optimizer,
                     const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [name, t] : part_tensors(parts)) tensors.emplace_back(name, *t);
  if (optimizer)
    for (const auto& [name, t] : optimizer->named_state()) tensors.emplace_back(name, *t);
  save_safetensors(path, tensors, metadata);
}

std::map<std::string, std::string> load_checkpoint(const std::string& path, const std::vector<CheckpointPart>& parts,
                                                   SGD* optimizer) {
  SafetensorsContents file = load_safetensors(path);
  restore(path, file, part_tensors(parts));
  if (optimizer) restore(path, file, optimizer->named_state());
  return file.metadata;
}

}  // namespace mfd
