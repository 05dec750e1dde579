// bin/evaluate RUN_DIR_OR_CHECKPOINT [--data-dir DIR] [--device D]: the test accuracy and the
// per-stage mean |correlation| of a saved model (training/evaluate.h).
#include <cstdio>
#include <string>

#include "training/command_line.h"
#include "training/evaluate.h"
#include "training/run_config.h"

int main(int argc, char** argv) {
  mfd::RunConfig options;  // the two settings of a run that evaluation may change
  options.data_dir = "";
  mfd::CommandLine cl;
  cl.program = "evaluate";
  cl.arguments = "RUN_DIR_OR_CHECKPOINT";
  cl.description = "The test accuracy and the mean |correlation| of each stage of a saved model (test batches of 128,\n"
                   "evaluation mode, dead channels counted as 0): the rows of the paper's Tables I and III.";
  cl.min_positional = cl.max_positional = 1;
  cl.flags = mfd::run_config_flags(options, options, {"data-dir", "device"});
  for (mfd::Flag& f : cl.flags)
    if (f.name == "data-dir") f.default_value = "the run's own";
  return mfd::run_program(cl, argc, argv, [&](const std::vector<std::string>& positional) {
    const mfd::Evaluation ev = mfd::evaluate_checkpoint(positional[0], options.data_dir, options.device, stderr);
    std::printf("%s\ntest accuracy: %.2f%%\nmean |correlation| per stage (0..%zu):", ev.checkpoint.c_str(),
                100 * ev.test_acc, ev.mean_abs_corr.size() - 1);
    for (double c : ev.mean_abs_corr) std::printf(" %.4f", c);
    std::printf("\n");
    return 0;
  });
}
