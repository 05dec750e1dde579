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

// Each module's random streams as metadata "rng.<name>": "<seed>:<offset>".
void save_generators(const std::vector<CheckpointPart>& parts, std::map<std::string, std::string>& metadata) {
  for (const CheckpointPart& part : parts)
    for (const auto& [name, g] : part.module->named_generators())
      metadata["rng." + part.prefix + name] = std::to_string(g->seed()) + ":" + std::to_string(g->offset());
}

// Required when training resumes (required = true), where a stream restarted from its beginning
// would change the run; evaluation draws nothing and loads any checkpoint.
void restore_generators(const std::string& path, const std::vector<CheckpointPart>& parts,
                        const std::map<std::string, std::string>& metadata, bool required) {
  for (const CheckpointPart& part : parts)
    for (const auto& [name, g] : part.module->named_generators()) {
      auto it = metadata.find("rng." + part.prefix + name);
      if (it == metadata.end() && !required) continue;
      MFD_CHECK(it != metadata.end(), path, ": no state for the random stream '", part.prefix, name,
                "' (a checkpoint of another model, or written before dropout streams were saved)");
      const size_t colon = it->second.find(':');
      MFD_CHECK(colon != std::string::npos && std::stoull(it->second.substr(0, colon)) == g->seed(), path,
                ": the random stream '", part.prefix, name, "' was seeded differently (another --seed?)");
      *g = Generator(g->seed(), std::stoull(it->second.substr(colon + 1)));
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
  std::map<std::string, std::string> meta = metadata;
  save_generators(parts, meta);
  save_safetensors(path, tensors, meta);
}

std::map<std::string, std::string> load_checkpoint(const std::string& path, const std::vector<CheckpointPart>& parts,
                                                   SGD* optimizer) {
  SafetensorsContents file = load_safetensors(path);
  restore(path, file, part_tensors(parts));
  if (optimizer) restore(path, file, optimizer->named_state());
  restore_generators(path, parts, file.metadata, optimizer != nullptr);
  return file.metadata;
}

}  // namespace mfd
