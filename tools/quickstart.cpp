// bin/quickstart: trains the small CNN on the real Fashion-MNIST data on the CPU with bin/train's
// loop (training/trainer.h) and prints the test accuracy. It is `bin/train smallcnn fashionmnist`
// with a recipe that reaches about 91% in 2 epochs: width 0.75 (24 channels), batch 32, SGD lr
// 0.02 annealed to 0 by a cosine over every step, momentum 0.9, weight decay 5e-4, no
// augmentation, no MFD. `make quickstart` runs it; the end-to-end test with --out in its own folder.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

#include "data/dataset.h"
#include "engine/json.h"
#include "engine/safetensors.h"
#include "training/command_line.h"
#include "training/trainer.h"

using namespace mfd;

namespace {

// The sum of the trained model's tensors (not the momentum): the same seed on the same kind of CPU
// gives the same bits, which this shows in one number.
double checksum(const std::string& checkpoint) {
  double sum = 0.0;
  for (const auto& [name, t] : load_safetensors(checkpoint).tensors)
    if (name.rfind("momentum.", 0) != 0 && is_floating(t.dtype()))
      for (double v : t.to_vector()) sum += v;
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  RunConfig c;
  c.model = "smallcnn";
  c.dataset = "fashionmnist";
  c.width = 0.75;
  c.epochs = 2;
  c.batch = 32;
  c.lr = 0.02;
  c.schedule = "cosine";
  c.augment = false;
  c.device = "cpu";
  c.force = true;  // a fresh run every time
  c.out = "runs/quickstart";
  std::string data_dir = fashion_mnist_default_dir();
  CommandLine cl;
  cl.program = "quickstart";
  cl.description = "Trains a small CNN on the real Fashion-MNIST data on the CPU (bin/train smallcnn fashionmnist with a\n"
                   "short recipe) and prints the test accuracy.";
  // bin/train's options (the one table), those the quick start lets change, with its defaults.
  cl.flags = run_config_flags(c, c, {"epochs", "batch", "lr", "width", "limit-train", "seed", "out"});
  cl.flags.push_back({"data-dir", "DIR", [&](const std::string& v) { data_dir = v; },
                      "the folder of Fashion-MNIST's IDX files", data_dir});
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
  return run_program(cl, argc, argv, [&](const std::vector<std::string>&) {
    setenv("MFD_FASHION_MNIST_DIR", data_dir.c_str(), 1);  // exactly this folder, no fallback
    c.data_dir = data_dir;
    validate_run_config(c);
    const int code = run_training(c, command);
    if (code != kTrainDone) return code;
    std::printf("parameter checksum: %.17g\n", checksum(c.out + "/last.safetensors"));
    const std::string results = c.out + "/results.json";
    std::printf("test accuracy: %.2f%%\n", 100 * read_json_file(results).number_or("final_test_acc", 0));
    return 0;
  });
}
