// bin/evaluate RUN_DIR_OR_CHECKPOINT [--data-dir DIR]: the test accuracy and the per-stage mean
// |correlation| of a saved model (training/evaluate.h).
#include <cstdio>
#include <string>

#include "engine/error.h"
#include "training/evaluate.h"

int main(int argc, char** argv) {
  if (argc != 2 && !(argc == 4 && std::string(argv[2]) == "--data-dir")) {
    std::fprintf(stderr, "usage: evaluate RUN_DIR_OR_CHECKPOINT [--data-dir DIR]\n");
    return 2;
  }
  try {
    mfd::Evaluation ev = mfd::evaluate_checkpoint(argv[1], argc == 4 ? argv[3] : "");
    std::printf("%s\ntest accuracy: %.2f%%\nmean |correlation| per stage (0..4):", ev.checkpoint.c_str(), 100 * ev.test_acc);
    for (double c : ev.mean_abs_corr) std::printf(" %.4f", c);
    std::printf("\n");
  } catch (const mfd::Error& e) {
    std::fprintf(stderr, "evaluate: %s\n", e.what());
    return 1;
  }
  return 0;
}
