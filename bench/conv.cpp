// conv2d forward + backward (input and weight gradients) at ResNet50's shapes (32x32 input, the
// paper's stride-1 stem), and sgemm at a few sizes (CPU):
//  - conv_fwd_bwd/...: the four convolutions of the first bottleneck of each stage, batch 16, CPU
//    (bench/compare_cpu.py); cuda/conv_fwd_bwd/... the same on CUDA;
//  - cuda/conv_fwd_bwd/...n128...: every distinct convolution shape of ResNet50 at the paper's
//    batch 128, on CUDA (bench/compare_gpu.py): the stem, and per stage the first block's four
//    and the later blocks' 1x1 reduction and 3x3.
// The case names encode the shapes; the compare scripts parse them and run the same in PyTorch.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include "bench/bench_util.h"
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
// The shapes the first bottlenecks do not cover: the stem (3x3 stride 1, no max-pool at 32x32)
// and, in each stage, the later blocks' conv1 (4 * planes -> planes) and conv2 (3x3 stride 1 at
// the stage's resolution); their conv3 has the first block's conv3 shape.
const ConvShape kResNet50OtherShapes[] = {
    {"conv1", 3, 32, 64, 3, 1},
    {"layer1.1.conv1", 256, 32, 64, 1, 1},      {"layer2.1.conv1", 512, 16, 128, 1, 1},
    {"layer2.1.conv2", 128, 16, 128, 3, 1},     {"layer3.1.conv1", 1024, 8, 256, 1, 1},
    {"layer3.1.conv2", 256, 8, 256, 3, 1},      {"layer4.1.conv1", 2048, 4, 512, 1, 1},
    {"layer4.1.conv2", 512, 4, 512, 3, 1},
};

void conv_forward_backward(benchmark::State& state, ConvShape s, int64_t batch, Device device) {
  bench::guarded(state, [&] {
    if (!bench::device_ready(state, device)) return;
    Generator gen(0);
    Conv2dParams p{static_cast<int>(s.stride), static_cast<int>(s.stride), static_cast<int>(s.r / 2),
                   static_cast<int>(s.r / 2), 1};
    const int64_t out = window_out_size(s.hw, static_cast<int>(s.r), p.stride_h, p.pad_h);
    Tensor x = Tensor::empty({batch, s.c, s.hw, s.hw}), w = Tensor::empty({s.k, s.c, s.r, s.r});
    Tensor dy = Tensor::empty({batch, s.k, out, out});
    gen.normal_(x, 0, 1);
    gen.normal_(w, 0, 0.1);
    gen.normal_(dy, 0, 1);
    x = x.to(device);
    w = w.to(device);
    dy = dy.to(device);
    Tensor y = Tensor::empty({batch, s.k, out, out}, DType::f32, device);
    Tensor dx = Tensor::zeros_like(x), dw = Tensor::zeros_like(w), none;
    Backend& be = backend_for(device);
    be.conv2d_forward(x, w, none, p, y);  // the first call picks (and caches) the algorithms
    be.conv2d_backward(x, w, dy, p, dx, dw, none, GradWrite::assign);
    bench::sync(device);
    bench::DeviceMallocCounter mallocs(device);
    for (auto _ : state) {
      be.conv2d_forward(x, w, none, p, y);
      be.conv2d_backward(x, w, dy, p, dx, dw, none, GradWrite::assign);
      bench::sync(device);
      benchmark::DoNotOptimize(dw.raw());
    }
    mallocs.report(state);
    // forward, input gradient and weight gradient: three products of 2 * N*K*P*Q*C*R*S flops
    const double flops = 3.0 * 2.0 * batch * s.k * out * out * s.c * s.r * s.r;
    state.counters["GFLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  });
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

void register_conv(const ConvShape& s, int64_t batch, Device device) {
  std::string name = std::string(bench::case_prefix(device)) + "conv_fwd_bwd/" + s.layer + "/n" + std::to_string(batch) +
                     "_c" + std::to_string(s.c) + "_h" + std::to_string(s.hw) + "_k" + std::to_string(s.k) + "_r" +
                     std::to_string(s.r) + "_s" + std::to_string(s.stride);
  benchmark::RegisterBenchmark(name.c_str(), conv_forward_backward, s, batch, device)
      ->Unit(benchmark::kMillisecond)->UseRealTime();
}

// Case names: [cuda/]conv_fwd_bwd/<layer>/n16_c64_h32_k64_r3_s1 (the compare scripts parse them).
int register_all() {
  for (Device device : {Device::cpu, Device::cuda})
    for (const ConvShape& s : kResNet50FirstBottlenecks) register_conv(s, 16, device);
  // Batch 128 on CUDA, all 24 shapes in the network's order ("conv1" < "layer1.0..." < "layer1.1...").
  std::vector<ConvShape> all(std::begin(kResNet50FirstBottlenecks), std::end(kResNet50FirstBottlenecks));
  all.insert(all.end(), std::begin(kResNet50OtherShapes), std::end(kResNet50OtherShapes));
  std::sort(all.begin(), all.end(), [](const ConvShape& a, const ConvShape& b) { return std::string(a.layer) < b.layer; });
  for (const ConvShape& s : all) register_conv(s, 128, Device::cuda);
  benchmark::RegisterBenchmark("sgemm", sgemm)
      ->Args({256, 256, 256})->Args({512, 512, 512})->Args({1024, 1024, 1024})->Args({256, 1024, 576})
      ->Unit(benchmark::kMillisecond)->UseRealTime();
  return 0;
}
const int registered = register_all();

}  // namespace

MFD_BENCHMARK_MAIN()
