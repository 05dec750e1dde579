// What a data-parallel training step exchanges, per network, at the paper's setting (32x32 inputs,
// 100 classes, width 1.0, softmax + MFD on every stage, global batch norm and MFD): one step runs
// through a communicator of one that counts the bytes each all-reduce would send, by kind:
// the gradients (once per step), MFD's group sums, raw energies, products S and centred energies
// (per stage), and batch norm's moments and gradient sums (per layer). None of it depends on the
// batch size. Counters in MiB per step; scripts/data-parallel-bench.sh times real processes.
#include <benchmark/benchmark.h>

#include "bench/bench_util.h"
#include "models/model.h"
#include "training/data_parallel.h"
#include "training/train_step.h"

namespace {

using namespace mfd;

void allreduce_bytes(benchmark::State& state, std::string model) {
  bench::guarded(state, [&] {
    Session s;
    s.config.objective.lambda = 1.0;
    Generator gen(0);
    ModelConfig mc;
    mc.num_classes = 100;
    s.model = make_model(model, mc, gen);
    for (int i = 0; i < static_cast<int>(s.model->stages().size()); ++i) s.config.objective.mfd_stages.push_back(i);
    s.objective = std::make_shared<Objective>(s.config.objective, 100, s.model->embedding_dim(), gen);
    std::unique_ptr<SGD> opt = s.make_optimizer();
    SoloCommunicator comm;
    DataParallel dp(comm, s.model->named_parameters(), s.model->named_buffers(), true, true);
    EpochSums sums(s.model->stages().size(), 1.0, Device::cpu);
    const int64_t batch = 2;  // the exchanged sizes do not depend on it
    Tensor x = Tensor::empty({batch, 3, 32, 32});
    gen.normal_(x, 0, 1);
    const Tensor y = Tensor::from_labels({0, 1});
    int64_t steps = 0;
    for (auto _ : state) train_step(s, *opt, {x, y, 0, batch}, sums, &dp), ++steps;
    const double mib = 1024.0 * 1024.0 * static_cast<double>(steps);
    int64_t total = 0;
    for (const auto& [what, bytes] : comm.bytes()) {
      state.counters[what + "_MiB"] = static_cast<double>(bytes) / mib;
      total += bytes;
    }
    state.counters["total_MiB"] = static_cast<double>(total) / mib;
    state.counters["statistics_share"] = static_cast<double>(total - comm.bytes().at("gradients")) / static_cast<double>(total);
  });
}

int register_all() {
  for (const char* model : {"resnet18", "resnet50", "resnext50_32x4d", "densenet121", "mobilenet_v2", "wide_resnet28_10"})
    benchmark::RegisterBenchmark((std::string("allreduce_bytes/") + model).c_str(), allreduce_bytes, std::string(model))
        ->Unit(benchmark::kMillisecond)->Iterations(1);
  return 0;
}
const int registered = register_all();

}  // namespace

MFD_BENCHMARK_MAIN()
