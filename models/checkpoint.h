// Checkpoints: one safetensors file holding a model's parameters and buffers under their
// torchvision names (so that torchvision's load_state_dict(..., strict=False) takes them), the
// optimizer's momentum under "momentum.<name>", and string metadata (epoch, configuration, and
// "rng.<name>" for each module's random stream, such as Dropout's). Written atomically, with a
// checksum of every tensor and of the header (engine/safetensors.h).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "engine/optimizer.h"
#include "layers/module.h"

namespace mfd {

void save_checkpoint(const std::string& path, Module& model, SGD* optimizer,
                     const std::map<std::string, std::string>& metadata = {});

// Loads into the model (and the optimizer, when given) in place, keeping their devices; returns
// the metadata. Refuses, naming the tensor, a checkpoint that lacks one of the model's tensors or
// holds one of another shape or dtype, or (when an optimizer is given: training resumes) lacks the
// state of one of its random streams.
std::map<std::string, std::string> load_checkpoint(const std::string& path, Module& model, SGD* optimizer);

// Several modules in one file, each under its prefix ("" for the model, so that torchvision can
// load it; "objective." for a loss's own weights or centres).
struct CheckpointPart {
  std::string prefix;
  Module* module;
};
void save_checkpoint(const std::string& path, const std::vector<CheckpointPart>& parts, SGD* optimizer,
                     const std::map<std::string, std::string>& metadata);
std::map<std::string, std::string> load_checkpoint(const std::string& path, const std::vector<CheckpointPart>& parts,
                                                   SGD* optimizer);

}  // namespace mfd
