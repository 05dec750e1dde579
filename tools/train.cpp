// bin/train MODEL DATASET [options]: the experiment runner (training/trainer.h). With no option it
// runs the paper's recipe: SGD lr 0.1 (momentum 0.9, weight decay 5e-4) divided by 10 at epochs
// 30, 60 and 90, 100 epochs, batch 128, softmax loss, lambda 0 (add --lambda 1 for MFD).
#include <string>

#include "training/trainer.h"

int main(int argc, char** argv) {
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
  mfd::RunConfig config;
  return mfd::run_program(mfd::train_command_line(config), argc, argv, [&](const std::vector<std::string>& positional) {
    config.model = positional[0];
    config.dataset = positional[1];
    mfd::validate_run_config(config);
    return mfd::run_training(config, command);
  });
}
