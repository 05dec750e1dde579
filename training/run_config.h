// The configuration of one training run: the command line of bin/train, its defaults (the
// paper's recipe), parsing with one-line errors, and a flat key/value form stored in every
// checkpoint (so that a run folder or a checkpoint alone is enough to rebuild the run).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "engine/json.h"
#include "losses/objective.h"
#include "models/model.h"

namespace mfd {

struct RunConfig {
  std::string model, dataset;
  ObjectiveConfig objective;              // --loss, --lambda, --mfd-stages, --mfd-center, ...
  int epochs = 100;
  int64_t batch = 128;
  double lr = 0.1, momentum = 0.9, weight_decay = 5e-4, gamma = 0.1;
  std::vector<int> milestones = {30, 60, 90};
  uint64_t seed = 0;
  std::string device = "auto";            // auto | cpu | cuda[:N]
  std::string data_dir = "data";
  std::string out;                        // default runs/MODEL-DATASET-lambdaL-seedS
  bool resume = false, deterministic = false, force = false;
  double width = 1.0;
  int64_t limit_train = 0, limit_test = 0;  // first N samples; 0 = all
  int eval_every = 1;
  int workers = 2;

  std::map<std::string, std::string> to_map() const;  // every field, as text
  std::string to_json() const;                        // the same as a JSON object
};

// Parses argv. A problem (unknown model, data set, loss or flag; malformed value) throws a
// UsageError whose message is one line naming it and the valid choices.
struct UsageError : Error {
  using Error::Error;
};
RunConfig parse_run_config(int argc, char** argv);
// The model configuration of a run: classes, channels and image size from its data set.
ModelConfig model_config_for(const RunConfig& config, const ImageDataset& data);
RunConfig run_config_from_map(const std::map<std::string, std::string>& m);
std::string train_usage();

}  // namespace mfd
