// One training run from its configuration: the paper's recipe by default. Writes, in the run
// folder: config.json, metrics.jsonl (one line per epoch), last.safetensors and best.safetensors
// (atomic), results.json at the end, and curves.png. Resumes from last.safetensors (at an epoch
// end or mid-epoch) with model, momentum, schedule, data position and running sums restored, so
// that a resumed run continues bit-identically on the CPU.
#pragma once
#include "training/run_config.h"

namespace mfd {

// Exit codes of bin/train.
enum TrainExit { kTrainDone = 0, kTrainFailed = 1, kTrainUsage = 2, kTrainNonFinite = 3, kTrainInterrupted = 130 };

int run_training(const RunConfig& config, const std::string& command_line);

}  // namespace mfd
