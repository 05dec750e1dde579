// Evaluation of a saved model: test accuracy and, per stage, the mean |F_ij| (i != j) of its
// channels' Pearson matrix computed on each test batch of 128 and averaged over the batches
// (dead channels count as 0): the rows of the paper's Tables I and III.
#pragma once
#include <string>
#include <vector>

namespace mfd {

struct Evaluation {
  std::string checkpoint;
  double test_acc = 0.0;
  std::vector<double> mean_abs_corr;  // stages 0..4
};

// path: a run folder (its last.safetensors) or a checkpoint file.
Evaluation evaluate_checkpoint(const std::string& path, const std::string& data_dir_override = "");

}  // namespace mfd
