// What a run is made of, built from its configuration in one place for bin/train, bin/evaluate
// and the analysis tools: the device, the data, the model and the objective.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "engine/optimizer.h"
#include "losses/objective.h"
#include "models/checkpoint.h"
#include "models/model.h"
#include "training/run_config.h"

namespace mfd {

struct Session {
  RunConfig config;
  Device device = Device::cpu;
  ImageDataset train, test;  // train stays empty when built for evaluation
  std::shared_ptr<Model> model;
  std::shared_ptr<Objective> objective;

  // The modules a checkpoint holds: the model under torchvision's names, the objective's
  // weights and centres under "objective.".
  std::vector<CheckpointPart> checkpoint_parts() const;
  // SGD over the model's and the objective's parameters, with the configuration's settings.
  std::unique_ptr<SGD> make_optimizer() const;
};

enum class Purpose { training, evaluation };

// Loads the data (the training split only for training), resolves the device and builds the
// model and the objective on it from the configuration's seed. Fails (an Error naming what is
// missing) before anything is written anywhere.
Session build_session(const RunConfig& config, Purpose purpose);

// --device auto|cpu|cuda|cuda:N: the device, printed with why (no GPU: the reason; CUDA: which
// one and the math mode: TF32 and the fastest algorithms, or neither with `deterministic`).
Device resolve_device(const std::string& name, bool deterministic);

}  // namespace mfd
