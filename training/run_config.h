// The configuration of one training run: the command line of bin/train, its defaults (the
// paper's recipe), parsing with one-line errors, and a flat key/value form stored in every
// checkpoint (so that a run folder or a checkpoint alone is enough to rebuild the run).
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "engine/json.h"
#include "losses/objective.h"
#include "models/model.h"
#include "training/command_line.h"

namespace mfd {

struct RunConfig {
  std::string model, dataset;
  ObjectiveConfig objective;              // --loss, --lambda, --mfd-stages, --mfd-center, ...
  int epochs = 100;
  int64_t batch = 128;
  double lr = 0.1, momentum = 0.9, weight_decay = 5e-4, gamma = 0.1;
  std::vector<int> milestones = {30, 60, 90};
  std::string schedule = "step";          // step (milestones) or cosine (to 0 over every step)
  bool augment = true;                    // pad 4, random crop, flip
  uint64_t seed = 0;
  std::string device = "auto";            // auto | cpu | cuda[:N]
  std::string data_dir = "data";
  std::string out;                        // default runs/MODEL-DATASET-lambdaL-seedS
  bool resume = false, deterministic = false, force = false;
  double width = 1.0;
  double dropout = -1;                    // where the model has dropout; < 0: the model's default
  int64_t limit_train = 0, limit_test = 0;  // first N samples; 0 = all
  int eval_every = 1;
  int workers = 2;
  // Several processes (mpirun, srun): batch norm and MFD over the global batch (true, the
  // default), or each process over its shard (PyTorch DDP's batch norm; per-process MFD).
  bool sync_bn = true, sync_mfd = true;
  DType dtype = DType::f32;               // float64: CPU runs whose arithmetic is exact to ~1e-15

  std::map<std::string, std::string> to_map() const;  // every field, as text
  std::string to_json() const;                        // the same as a JSON object
};

// Parses argv. A problem (unknown model, data set, loss or flag; malformed value) throws a
// UsageError whose message is one line naming it and the valid choices.
RunConfig parse_run_config(int argc, char** argv);
// Checks the model, data set and ranges (a UsageError naming the problem) and fills in the
// default --out.
void validate_run_config(RunConfig& config);
// bin/train's command line, its flags writing into `config`.
CommandLine train_command_line(RunConfig& config);
// The options of a run as flags writing into `config`: all of them, or those named in `only`;
// the defaults shown are those of `shown` (RunConfig's, or a tool's own recipe).
std::vector<Flag> run_config_flags(RunConfig& config, const RunConfig& shown = RunConfig(),
                                   const std::vector<std::string>& only = {});
// The model configuration of a run: classes, channels and image size from its data set.
ModelConfig model_config_for(const RunConfig& config, const ImageDataset& data);
RunConfig run_config_from_map(const std::map<std::string, std::string>& m);

// Settings a resumed run may change (where the data is, how it is run, how long it goes on,
// how much is evaluated); any other difference makes it another run.
bool may_change_on_resume(const std::string& key);
// The settings that differ between two configurations (as to_map gives them), except those
// `ignore` accepts, each as "--key (stored before, now requested)". A setting the stored run
// lacks (an option added since) differs only when requested other than its default.
std::vector<std::string> config_differences(const std::map<std::string, std::string>& stored,
                                            const std::map<std::string, std::string>& requested,
                                            const std::function<bool(const std::string&)>& ignore);

}  // namespace mfd
