// One training run from its configuration: the paper's recipe by default. Writes, in the run
// folder: config.json, metrics.jsonl (one line per epoch), last.safetensors and best.safetensors
// (atomic), results.json at the end, and curves.png. Resumes from last.safetensors (at an epoch
// end or mid-epoch) with model, momentum, schedule, data position and running sums restored, so
// that a resumed run continues bit-identically on the CPU: model, momentum, the objective's
// weights and centres, random streams (dropout), data position and running sums restored, and
// metrics.jsonl cut back to the epochs the checkpoint holds. A folder holding a finished run, or a
// checkpoint of other settings, is refused (a UsageError: exit 2) before anything is built; the
// data, device and model are ready before any file is written.
#pragma once
#include "training/run_config.h"

namespace mfd {

// Exit codes of bin/train.
enum TrainExit { kTrainDone = 0, kTrainFailed = 1, kTrainUsage = 2, kTrainNonFinite = 3, kTrainInterrupted = 130 };

// The parts of the loop: train_step (forward, objective, backward, SGD), run_epoch, evaluate
// (training/evaluate.h), log_epoch (metrics.jsonl), checkpoint; see trainer.cpp.
int run_training(const RunConfig& config, const std::string& command_line);

}  // namespace mfd
