// The paper's experiments as named grids of bin/train runs (one grid per table), the folder each
// run gets, whether it is already done, and the paper's published numbers for the reports.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "training/run_config.h"

namespace mfd {

// full: the paper's recipe. small: a reduced recipe a 2-core CPU finishes (width 0.125, 10 epochs
// on 2,000 training images), with Fashion-MNIST standing in for data sets that are absent.
enum class Scale { full, small };
Scale parse_scale(const std::string& name);  // an unknown name lists the valid ones
const char* scale_name(Scale scale);

struct GridOptions {
  Scale scale = Scale::full;
  std::string runs_dir = "runs";
  std::string data_dir = "data";
  std::vector<uint64_t> seeds = {0, 1, 2};
};

struct PlannedRun {
  std::string name;                     // folder name, from the whole configuration
  std::string dir;                      // runs_dir/name
  std::vector<std::string> train_args;  // bin/train's arguments (model, data set, flags, --out)
  RunConfig config;                     // what those arguments parse to
  std::string paper_dataset;            // the data set of the paper's cell (config.dataset may stand in)
};

// The options bin/reproduce and bin/report share (--scale, --runs, --data-dir, --seeds a,b,c),
// writing into `options`.
std::vector<Flag> grid_flags(GridOptions& options);

std::vector<std::string> grid_names();  // table1 ... table6
// Whether a data set loads from data_dir (asked once per name and folder).
bool dataset_present(const std::string& name, const std::string& data_dir);
// The runs of one grid, in a stable order (cell by cell, seeds innermost). At small scale the
// stand-in data set is chosen by whether the paper's one loads from data_dir.
std::vector<PlannedRun> plan_grid(const std::string& grid, const GridOptions& options);

// A run folder's state: missing (nothing there), interrupted (started with the same
// configuration, not finished: bin/train resumes it), finished (results.json with the same
// configuration), conflicting (its config.json differs from the requested one: never touched).
enum class RunState { missing, interrupted, finished, conflicting };
const char* run_state_name(RunState state);
// *why gets the differing keys of a conflicting run.
RunState run_state(const PlannedRun& run, std::string* why = nullptr);
// The configuration keys that do not change a run's result and so are not compared.
bool is_execution_key(const std::string& key);

// Training images of an epoch of `config` (its data set's size in the paper, or --limit-train).
int64_t train_images_per_epoch(const RunConfig& config);

// The paper's published accuracy (%) of a cell, or NaN where the paper has none.
double paper_accuracy(const std::string& model, const std::string& dataset, const std::string& loss, double lambda);
// Tables I and III: mean |correlation| per stage, without (lambda 0) and with (lambda 1) MFD.
std::vector<double> paper_correlations(double lambda);

}  // namespace mfd
