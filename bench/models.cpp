// Whole-model throughput on the CPU: forward (evaluation, no gradients) and forward + backward
// (training mode, cross-entropy) of each network at batch 16, 32x32 inputs, 10 classes, widths
// 1.0 and 0.25, in images/s (bench/compare_cpu.py runs the same in PyTorch, torchvision); and a
// whole training step at width 1.0 without and with MFD on the 5 stages (ours only).
#include <benchmark/benchmark.h>

#include <string>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/optimizer.h"
#include "losses/objective.h"
#include "models/model.h"

namespace {

using namespace mfd;

constexpr int64_t kBatch = 16;

void model_step(benchmark::State& state, std::string name, double width, bool train) {
  Generator gen(0);
  ModelConfig cfg;
  cfg.width = width;
  auto model = make_model(name, cfg, gen);
  Tensor x = Tensor::empty({kBatch, 3, 32, 32});
  gen.normal_(x, 0, 1);
  std::vector<int32_t> y(kBatch);
  for (int64_t i = 0; i < kBatch; ++i) y[i] = static_cast<int32_t>(i % 10);
  Tensor labels = Tensor::from_labels(y);
  if (!train) model->eval();
  for (auto _ : state) {
    if (train) {
      model->zero_grad();
      backward(cross_entropy(model->forward(x), labels));
    } else {
      NoGradGuard no_grad;
      benchmark::DoNotOptimize(model->forward(x).raw());
    }
  }
  state.counters["images/s"] = benchmark::Counter(kBatch, benchmark::Counter::kIsIterationInvariantRate);
}

// A whole training step as bin/train runs it: forward with the 5 stage outputs, softmax loss plus
// lambda * MFD on stages 0-4, backward, SGD (momentum 0.9, weight decay 5e-4).
void train_step(benchmark::State& state, std::string name, double width, double lambda) {
  Generator gen(0);
  ModelConfig cfg;
  cfg.width = width;
  auto model = make_model(name, cfg, gen);
  ObjectiveConfig oc;
  oc.lambda = lambda;
  Objective objective(oc, 10, model->embedding_dim(), gen);
  SGD opt(model->named_parameters(), 0.01, 0.9, 5e-4);
  Tensor x = Tensor::empty({kBatch, 3, 32, 32});
  gen.normal_(x, 0, 1);
  std::vector<int32_t> y(kBatch);
  for (int64_t i = 0; i < kBatch; ++i) y[i] = static_cast<int32_t>(i % 10);
  Tensor labels = Tensor::from_labels(y);
  for (auto _ : state) {
    model->zero_grad();
    ModelOutput o = model->run(x);
    backward(objective.compute(o.logits, o.embedding, o.stages, labels).total);
    opt.step();
  }
  state.counters["images/s"] = benchmark::Counter(kBatch, benchmark::Counter::kIsIterationInvariantRate);
}

// Names: model_fwd/<model>/w1.00 and model_fwd_bwd/<model>/w0.25 (parsed by compare_cpu.py).
int register_all() {
  for (const std::string& name : model_names())
    for (double width : {1.0, 0.25})
      for (bool train : {false, true}) {
        char tag[16];
        std::snprintf(tag, sizeof tag, "w%.2f", width);
        std::string case_name = std::string(train ? "model_fwd_bwd/" : "model_fwd/") + name + "/" + tag;
        benchmark::RegisterBenchmark(case_name.c_str(), model_step, name, width, train)
            ->Unit(benchmark::kMillisecond)->UseRealTime();
      }
  for (const std::string& name : model_names())
    for (double lambda : {0.0, 1.0}) {
      std::string case_name = "train_step/" + name + "/w1.00/lambda" + std::to_string(static_cast<int>(lambda));
      benchmark::RegisterBenchmark(case_name.c_str(), train_step, name, 1.0, lambda)
          ->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(4.0);
    }
  return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
