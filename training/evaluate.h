// Evaluation of a saved model: test accuracy and, per stage, the mean |F_ij| (i != j) of its
// channels' Pearson matrix computed on each test batch of 128 and averaged over the batches
// (dead channels count as 0): the rows of the paper's Tables I and III.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "losses/objective.h"
#include "models/model.h"
#include "training/run_config.h"

namespace mfd {

// A trained model rebuilt from its checkpoint (in evaluation mode), with its test set.
struct LoadedRun {
  std::string checkpoint;
  RunConfig config;
  ImageDataset test;
  std::shared_ptr<Model> model;
  std::unique_ptr<Objective> objective;
};
// path: a run folder (its last.safetensors) or a checkpoint file.
LoadedRun load_run(const std::string& path, const std::string& data_dir_override = "");

struct Evaluation {
  std::string checkpoint;
  double test_acc = 0.0;
  std::vector<double> mean_abs_corr;  // stages 0..4
};

Evaluation evaluate_checkpoint(const std::string& path, const std::string& data_dir_override = "");

// evaluate_checkpoint of a run folder, kept in RUN/evaluation.json and recomputed only when
// last.safetensors is newer.
Evaluation cached_evaluation(const std::string& run_dir, const std::string& data_dir_override = "");

}  // namespace mfd
