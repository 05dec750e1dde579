// conv2d forward + backward (input and weight gradients) on the CPU at the shapes of the first
// bottleneck of each ResNet50 stage (batch 16, 32x32 input, the paper's stride-1 stem), and
// sgemm at a few sizes. bench/compare_cpu.py reads the case names (which encode the shapes),
// runs the same cases in PyTorch and prints the ratios.
#include <benchmark/benchmark.h>

#include <string>

#include "engine/backend.h"
#include "engine/cpu/blas.h"
#include "engine/rng.h"

namespace {

using namespace mfd;

struct ConvShape {
  const char* layer;
  int64_t c, hw, k, r, stride;
};

// layerN.0.{conv1, conv2, conv3, downsample.0}: torchvision's Bottleneck (stride on the 3x3).
const ConvShape kResNet50FirstBottlenecks[] = {
    {"layer1.0.conv1", 64, 32, 64, 1, 1},       {"layer1.0.conv2", 64, 32, 64, 3, 1},
    {"layer1.0.conv3", 64, 32, 256, 1, 1},      {"layer1.0.downsample", 64, 32, 256, 1, 1},
    {"layer2.0.conv1", 256, 32, 128, 1, 1},     {"layer2.0.conv2", 128, 32, 128, 3, 2},
    {"layer2.0.conv3", 128, 16, 512, 1, 1},     {"layer2.0.downsample", 256, 32, 512, 1, 2},
    {"layer3.0.conv1", 512, 16, 256, 1, 1},     {"layer3.0.conv2", 256, 16, 256, 3, 2},
    {"layer3.0.conv3", 256, 8, 1024, 1, 1},     {"layer3.0.downsample", 512, 16, 1024, 1, 2},
    {"layer4.0.conv1", 1024, 8, 512, 1, 1},     {"layer4.0.conv2", 512, 8, 512, 3, 2},
    {"layer4.0.conv3", 512, 4, 2048, 1, 1},     {"layer4.0.downsample", 1024, 8, 2048, 1, 2},
};
constexpr int64_t kBatch = 16;

void conv_forward_backward(benchmark::State& state, ConvShape s) {
  Generator gen(0);
  Conv2dParams p{static_cast<int>(s.stride), static_cast<int>(s.stride), static_cast<int>(s.r / 2),
                 static_cast<int>(s.r / 2), 1};
  Tensor x = Tensor::empty({kBatch, s.c, s.hw, s.hw}), w = Tensor::empty({s.k, s.c, s.r, s.r});
  gen.normal_(x, 0, 1);
  gen.normal_(w, 0, 0.1);
  const int64_t out = window_out_size(s.hw, static_cast<int>(s.r), p.stride_h, p.pad_h);
  Tensor y = Tensor::empty({kBatch, s.k, out, out}), dy = Tensor::empty_like(y);
  gen.normal_(dy, 0, 1);
  Tensor dx = Tensor::zeros_like(x), dw = Tensor::zeros_like(w), none;
  Backend& be = backend_for(Device::cpu);
  for (auto _ : state) {
    be.conv2d_forward(x, w, none, p, y);
    be.conv2d_backward(x, w, dy, p, dx, dw, none);
    benchmark::DoNotOptimize(dw.raw());
  }
  // forward, input gradient and weight gradient: three products of 2 * N*K*P*Q*C*R*S flops
  const double flops = 3.0 * 2.0 * kBatch * s.k * out * out * s.c * s.r * s.r;
  state.counters["GFLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

void sgemm(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  Generator gen(0);
  Tensor a = Tensor::empty({m, k}), b = Tensor::empty({k, n}), c = Tensor::empty({m, n});
  gen.normal_(a, 0, 1);
  gen.normal_(b, 0, 1);
  for (auto _ : state) {
    cpu::gemm(false, false, m, n, k, 1.0f, a.data<float>(), k, b.data<float>(), n, 0.0f, c.data<float>(), n);
    benchmark::DoNotOptimize(c.raw());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * m * n * k, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

// Case names: conv_fwd_bwd/<layer>/n16_c64_h32_k64_r3_s1 (the compare script parses them).
int register_all() {
  for (const ConvShape& s : kResNet50FirstBottlenecks) {
    std::string name = std::string("conv_fwd_bwd/") + s.layer + "/n" + std::to_string(kBatch) + "_c" +
                       std::to_string(s.c) + "_h" + std::to_string(s.hw) + "_k" + std::to_string(s.k) + "_r" +
                       std::to_string(s.r) + "_s" + std::to_string(s.stride);
    benchmark::RegisterBenchmark(name.c_str(), conv_forward_backward, s)->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  benchmark::RegisterBenchmark("sgemm", sgemm)
      ->Args({256, 256, 256})->Args({512, 512, 512})->Args({1024, 1024, 1024})->Args({256, 1024, 576})
      ->Unit(benchmark::kMillisecond)->UseRealTime();
  return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
