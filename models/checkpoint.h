// Checkpoints: one safetensors file holding a model's parameters and buffers under their
// torchvision names (so that torchvision's load_state_dict(..., strict=False) takes them), the
// optimizer's momentum under "momentum.<name>", and string metadata (epoch, RNG state,
// configuration). Written atomically.
#pragma once
#include <map>
#include <string>

#include "engine/optimizer.h"
#include "layers/module.h"

namespace mfd {

void save_checkpoint(const std::string& path, Module& model, SGD* optimizer,
                     const std::map<std::string, std::string>& metadata = {});

// Loads into the model (and the optimizer, when given) in place, keeping their devices; returns
// the metadata. Refuses, naming the tensor, a checkpoint that lacks one of the model's tensors or
// holds one of another shape or dtype.
std::map<std::string, std::string> load_checkpoint(const std::string& path, Module& model, SGD* optimizer);

}  // namespace mfd
