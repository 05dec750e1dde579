// Peak host memory of training steps, the way a user's machine sees it: bench_memory MODEL BATCH
// [STEPS] [LAMBDA] builds the model (32x32 inputs, 10 classes, softmax + lambda * MFD on every
// stage), reads its resident memory, resets the kernel's peak counter (/proc/self/clear_refs),
// runs STEPS training steps as bin/train does (training/train_step.h: forward with the stage
// outputs, the objective, backward, SGD), and prints one JSON line: the resident memory before,
// the peak during the steps and their difference in MiB. Caches count: whatever the process holds
// at its peak is what the machine must have. bench/compare_cpu.py --only memory runs the same in
// PyTorch in its own process.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "engine/cpu_runtime.h"
#include "engine/json.h"
#include "training/train_step.h"

namespace {

// VmRSS or VmHWM of this process, in MiB.
double status_mib(const std::string& field) {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind(field + ":", 0) == 0) return std::atof(line.c_str() + field.size() + 1) / 1024.0;
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mfd;
  configure_cpu_runtime(argc, argv);
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_memory MODEL BATCH [STEPS=3] [LAMBDA=1]\n");
    return 2;
  }
  const std::string name = argv[1];
  const int64_t batch = std::atoll(argv[2]);
  const int steps = argc > 3 ? std::atoi(argv[3]) : 3;
  Session s;
  s.config.objective.lambda = argc > 4 ? std::atof(argv[4]) : 1.0;
  s.config.lr = 0.01;
  Generator gen(0);
  ModelConfig cfg;
  s.model = make_model(name, cfg, gen);
  s.objective = std::make_shared<Objective>(s.config.objective, cfg.num_classes, s.model->embedding_dim(), gen);
  std::unique_ptr<SGD> opt = s.make_optimizer();
  Tensor x = Tensor::empty({batch, 3, 32, 32});
  gen.normal_(x, 0, 1);
  std::vector<int32_t> labels(batch);
  for (int64_t i = 0; i < batch; ++i) labels[i] = static_cast<int32_t>(i % cfg.num_classes);
  const Tensor y = Tensor::from_labels(labels);
  EpochSums sums(s.config.objective.lambda > 0 ? s.model->stages().size() : 0, s.config.objective.lambda, Device::cpu);

  const double before = status_mib("VmRSS");
  std::ofstream("/proc/self/clear_refs") << "5";  // the peak counter starts again from now
  for (int i = 0; i < steps; ++i) train_step(s, *opt, {x, y, 0, x.size(0)}, sums);
  const double peak = status_mib("VmHWM");
  std::printf("%s\n", JsonObject()
                          .add("model", name)
                          .add("batch", batch)
                          .add("steps", steps)
                          .add("rss_before_mib", before)
                          .add("peak_mib", peak)
                          .add("step_peak_mib", peak - before)
                          .str()
                          .c_str());
  return 0;
}
