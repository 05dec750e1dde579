// bin/train MODEL DATASET [options]: the experiment runner (training/trainer.h). With no option it
// runs the paper's recipe: SGD lr 0.1 (momentum 0.9, weight decay 5e-4) divided by 10 at epochs
// 30, 60 and 90, 100 epochs, batch 128, softmax loss, lambda 0 (add --lambda 1 for MFD).
#include <cstdio>
#include <cstring>
#include <string>

#include "training/trainer.h"

int main(int argc, char** argv) {
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::printf("%s", mfd::train_usage().c_str());
      return 0;
    }
  mfd::RunConfig config;
  try {
    config = mfd::parse_run_config(argc, argv);
  } catch (const mfd::UsageError& e) {
    std::fprintf(stderr, "train: %s\n", e.what());
    return mfd::kTrainUsage;
  }
  try {
    return mfd::run_training(config, command);
  } catch (const mfd::Error& e) {
    std::fprintf(stderr, "train: %s\n", e.what());
    return mfd::kTrainFailed;
  }
}
