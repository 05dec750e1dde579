// Executes a grid's runs with bin/train: one after another, one per local GPU at a time, or as a
// Slurm job array (a generated sbatch script). Runs already finished are skipped; interrupted
// ones are resumed by bin/train itself (it continues from the folder's last checkpoint).
#pragma once
#include <string>
#include <vector>

#include "training/experiments.h"

namespace mfd {

// The runs still to do (missing or interrupted; conflicting ones are reported and left alone),
// each folder once even when several cells of the grid share it.
std::vector<PlannedRun> runs_to_do(const std::vector<PlannedRun>& plan, std::vector<std::string>* conflicts);

// Runs each with `train_program`, its output appended to RUN/train.log. gpus empty: serially on
// bin/train's default device; else at most one run per listed GPU at a time (--device cuda:N).
// ranks > 1: each run is a data-parallel job of that many processes started by mpirun (MFD_MPIRUN
// names another launcher), taking `ranks` of the listed GPUs (CUDA_VISIBLE_DEVICES, --device cuda).
// Returns the number of runs that failed.
int execute_runs(const std::vector<PlannedRun>& runs, const std::string& train_program, const std::vector<int>& gpus,
                 int ranks = 1);

// An sbatch script running `runs` as a job array, one task per run with one GPU, from `workdir`;
// ranks > 1: each run `ranks` tasks on one node (srun), a GPU each.
std::string slurm_script(const std::string& job_name, const std::vector<PlannedRun>& runs,
                         const std::string& train_program, const std::string& workdir, const std::string& log_dir,
                         int ranks = 1);

// The measured training images/s of runs like `config` (same model, data set, width and batch)
// found under runs_dir (the median over their logged epochs), or 0 when there is none.
double measured_images_per_s(const RunConfig& config, const std::string& runs_dir);

// The training speed assumed for a model where no run has measured one: on one H200 with TF32 at
// batch 128 for the full scale (README, "GPU hours"), on this project's 2-core CPU with one thread
// per run for the small scale (docs/results/README.md).
double assumed_images_per_s(const std::string& model, Scale scale);

// bin/reproduce --dry-run: every run to do with its state, command and hours of training, at
// `images_per_s` when given, else the speed measured in earlier runs like it, else the assumed
// one (said so); the data sets missing under the data folder; and the commands that run the grid
// on several GPUs or as a Slurm job array.
std::string dry_run_report(const std::string& grid, const std::vector<PlannedRun>& todo, const GridOptions& options,
                           const std::string& train_program, double images_per_s);

// A command line as one shell-safe string.
std::string shell_quote_all(const std::string& program, const std::vector<std::string>& args);

}  // namespace mfd
