// Evaluation: one pass over a data set in evaluation mode, without gradients, for the test
// figures of every epoch (bin/train), of a saved model (bin/evaluate: test accuracy and, per
// stage, the mean |F_ij| (i != j) of its channels' Pearson matrix on each test batch of 128,
// averaged over the batches, dead channels counting 0: the rows of the paper's Tables I and III),
// and of the analysis tools.
#pragma once
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "training/session.h"

namespace mfd {

struct EvalOptions {
  int64_t batch = 128;
  bool correlations = false;  // also the mean |F| of every stage
  MfdCentering centering = MfdCentering::batch;
  int workers = 2;            // loader threads
  FILE* progress = stdout;    // where the progress line goes; nullptr: nowhere
  double seconds_after = 0;   // the run's time after this pass, for the progress line's ETA
  // Several processes: each evaluates its shard of every batch, and the sums are added.
  int rank = 0, ranks = 1;
  std::function<void()> on_batch;  // after each batch (the data-parallel watchdog's tick)
};

struct EvalResult {
  double loss = 0, accuracy = 0;      // the classification loss (as trained) and top-1 accuracy
  std::vector<double> mean_abs_corr;  // per stage, with EvalOptions::correlations
  double seconds = 0;
};

EvalResult evaluate(Model& model, Objective& objective, const ImageDataset& data, Device device,
                    const EvalOptions& options);

// A trained model rebuilt from its checkpoint (in evaluation mode) on `device`, with its test
// set. path: a run folder (its last.safetensors) or a checkpoint file.
struct TrainedRun {
  std::string checkpoint;
  Session session;
};
TrainedRun load_trained(const std::string& path, const std::string& data_dir_override = "",
                        const std::string& device = "cpu");

struct Evaluation {
  std::string checkpoint;
  double test_acc = 0.0;
  std::vector<double> mean_abs_corr;  // every stage of the model
};

Evaluation evaluate_checkpoint(const std::string& path, const std::string& data_dir_override = "",
                               const std::string& device = "cpu", FILE* progress = stderr);

// evaluate_checkpoint of a run folder, kept in RUN/evaluation.json and recomputed only when
// last.safetensors is newer.
Evaluation cached_evaluation(const std::string& run_dir, const std::string& data_dir_override = "",
                             FILE* progress = stderr);

}  // namespace mfd
