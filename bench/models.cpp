// Whole-model throughput: forward (evaluation, no gradients) and forward + backward (training
// mode, cross-entropy) of each network, in images/s, and a whole training step without and with
// MFD on the 5 stages. 32x32 inputs throughout.
//  - CPU: batch 16, 10 classes, widths 1.0 and 0.25 (bench/compare_cpu.py runs the same in
//    PyTorch, torchvision); the training step at width 1.0.
//  - CUDA ("cuda/..."): the paper's batch 128 and 100 classes (CIFAR-100), width 1.0
//    (bench/compare_gpu.py).
#include <benchmark/benchmark.h>

#include <string>

#include "bench/bench_util.h"
#include "engine/cpu/op_profile.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/optimizer.h"
#include "losses/objective.h"
#include "models/model.h"

namespace {

using namespace mfd;

struct Case {
  std::string model;
  double width;
  int64_t batch;
  int classes;
  Device device;
};

// A random batch of 32x32 images and labels 0, 1, ... on the case's device.
void make_batch(const Case& c, Generator& gen, Tensor& x, Tensor& labels) {
  x = Tensor::empty({c.batch, 3, 32, 32});
  gen.normal_(x, 0, 1);
  x = x.to(c.device);
  std::vector<int32_t> y(c.batch);
  for (int64_t i = 0; i < c.batch; ++i) y[i] = static_cast<int32_t>(i % c.classes);
  labels = Tensor::from_labels(y, c.device);
}

std::shared_ptr<Model> make_case_model(const Case& c, Generator& gen) {
  ModelConfig cfg;
  cfg.width = c.width;
  cfg.num_classes = c.classes;
  auto model = make_model(c.model, cfg, gen);
  model->to(c.device);
  return model;
}

void model_step(benchmark::State& state, Case c, bool train) {
  bench::guarded(state, [&] {
    if (!bench::device_ready(state, c.device)) return;
    Generator gen(0);
    auto model = make_case_model(c, gen);
    Tensor x, labels;
    make_batch(c, gen, x, labels);
    if (!train) model->eval();
    auto step = [&] {
      if (train) {
        model->zero_grad();
        backward(cross_entropy(model->forward(x), labels));
      } else {
        NoGradGuard no_grad;
        benchmark::DoNotOptimize(model->forward(x).raw());
      }
      bench::sync(c.device);
    };
    if (c.device == Device::cuda) step();  // algorithm choice and the caching allocator's first fill
    bench::DeviceMallocCounter mallocs(c.device);
    for (auto _ : state) step();
    mallocs.report(state);
    state.counters["images/s"] = benchmark::Counter(static_cast<double>(c.batch), benchmark::Counter::kIsIterationInvariantRate);
  });
}

// A whole training step as bin/train runs it: forward with the 5 stage outputs, softmax loss plus
// lambda * MFD on stages 0-4, backward, SGD (momentum 0.9, weight decay 5e-4).
void train_step(benchmark::State& state, Case c, double lambda) {
  bench::guarded(state, [&] {
    if (!bench::device_ready(state, c.device)) return;
    Generator gen(0);
    auto model = make_case_model(c, gen);
    ObjectiveConfig oc;
    oc.lambda = lambda;
    Objective objective(oc, c.classes, model->embedding_dim(), gen);
    objective.to(c.device);
    SGD opt(model->named_parameters(), 0.01, 0.9, 5e-4);
    Tensor x, labels;
    make_batch(c, gen, x, labels);
    auto step = [&] {
      model->zero_grad();
      ModelOutput o = model->run(x);
      backward(objective.compute(o.logits, o.embedding, o.stages, labels).total);
      opt.step();
      bench::sync(c.device);
    };
    if (c.device == Device::cuda) step();
    cpu::reset_op_profile();  // MFD_CPU_PROFILE's table counts the steps, not the set-up
    bench::DeviceMallocCounter mallocs(c.device);
    for (auto _ : state) step();
    mallocs.report(state);
    state.counters["images/s"] = benchmark::Counter(static_cast<double>(c.batch), benchmark::Counter::kIsIterationInvariantRate);
  });
}

std::string width_tag(double width) {
  char tag[16];
  std::snprintf(tag, sizeof tag, "w%.2f", width);
  return tag;
}

// Names (parsed by the compare scripts): model_fwd/<model>/w1.00, model_fwd_bwd/<model>/w0.25,
// train_step/<model>/w1.00/lambda1 (batch 16), train_step/<model>/w1.00/lambda1/n64; on CUDA cuda/model_fwd/<model>/w1.00/n128, ...,
// cuda/train_step/<model>/w1.00/lambda1/n128.
// The paper's networks and resnet18 (WideResNet-28-10 and the quick start's network are trained,
// not benchmarked: the GPU check's time is short).
const std::vector<std::string> kModels = {"resnet18", "resnet50", "resnext50_32x4d", "densenet121", "mobilenet_v2"};

int register_all() {
  for (const std::string& name : kModels)
    for (double width : {1.0, 0.25})
      for (bool train : {false, true}) {
        std::string case_name = std::string(train ? "model_fwd_bwd/" : "model_fwd/") + name + "/" + width_tag(width);
        benchmark::RegisterBenchmark(case_name.c_str(), model_step, Case{name, width, 16, 10, Device::cpu}, train)
            ->Unit(benchmark::kMillisecond)->UseRealTime();
      }
  for (int64_t batch : {16, 64})
    for (const std::string& name : kModels)
      for (double lambda : {0.0, 1.0}) {
        std::string case_name = "train_step/" + name + "/w1.00/lambda" + std::to_string(static_cast<int>(lambda)) +
                                (batch == 16 ? "" : "/n" + std::to_string(batch));
        benchmark::RegisterBenchmark(case_name.c_str(), train_step, Case{name, 1.0, batch, 10, Device::cpu}, lambda)
            ->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(4.0);
      }
  for (const std::string& name : kModels) {
    const Case c{name, 1.0, 128, 100, Device::cuda};
    for (bool train : {false, true}) {
      std::string case_name = std::string(train ? "cuda/model_fwd_bwd/" : "cuda/model_fwd/") + name + "/w1.00/n128";
      benchmark::RegisterBenchmark(case_name.c_str(), model_step, c, train)->Unit(benchmark::kMillisecond)->UseRealTime();
    }
    for (double lambda : {0.0, 1.0}) {
      std::string case_name = "cuda/train_step/" + name + "/w1.00/lambda" + std::to_string(static_cast<int>(lambda)) + "/n128";
      benchmark::RegisterBenchmark(case_name.c_str(), train_step, c, lambda)->Unit(benchmark::kMillisecond)->UseRealTime();
    }
  }
  return 0;
}
const int registered = register_all();

}  // namespace

MFD_BENCHMARK_MAIN()
