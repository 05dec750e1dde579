// Input pipeline throughput: augmented, normalised float32 batches of 128 from a synthetic
// CIFAR-sized data set (50,000 uint8 3x32x32 images), with 0 (the caller's thread), 1 and 2
// worker threads, in images/s (and per core used).
#include <benchmark/benchmark.h>

#include "data/loader.h"

namespace {

using namespace mfd;

const ImageDataset& synthetic_cifar() {
  static ImageDataset ds = [] {
    ImageDataset d;
    d.name = "synthetic-cifar";
    d.n = 50000;
    d.c = 3;
    d.h = d.w = 32;
    d.num_classes = 10;
    d.mean = {0.49f, 0.48f, 0.45f};
    d.std = {0.25f, 0.24f, 0.26f};
    d.pixels.resize(d.n * d.image_size());
    for (size_t i = 0; i < d.pixels.size(); ++i) d.pixels[i] = static_cast<uint8_t>(i * 2654435761u >> 24);
    for (int64_t i = 0; i < d.n; ++i) d.labels.push_back(static_cast<int32_t>(i % 10));
    return d;
  }();
  return ds;
}

void loader_epoch(benchmark::State& state) {
  LoaderOptions o;
  o.batch = 128;
  o.workers = static_cast<int>(state.range(0));
  BatchLoader loader(synthetic_cifar(), o);
  int epoch = 0;
  int64_t images = 0;
  for (auto _ : state) {
    loader.start_epoch(epoch++);
    Tensor x, y;
    while (loader.next(x, y)) images += x.size(0);
  }
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(images), benchmark::Counter::kIsRate);
  const double cores = std::max(1, o.workers);
  state.counters["images/s/core"] = benchmark::Counter(static_cast<double>(images) / cores, benchmark::Counter::kIsRate);
}
BENCHMARK(loader_epoch)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
