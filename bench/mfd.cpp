// MFD loss forward + backward on the CPU at the shapes of ResNet50's five stage outputs for a
// 32x32 input (64x32x32, 256x32x32, 512x16x16, 1024x8x8, 2048x4x4), batch 16 and 128; and, per
// shape, the plain GEMMs of the same sizes (S = Y Y^T as a full GEMM, dY = A Y) as the rate to
// compare with. GFLOP/s counts the products only: syrk d^2 n + GEMM 2 d^2 n for MFD (a symmetric
// product forward, one GEMM backward), 4 d^2 n for the two plain GEMMs. bench/compare_cpu.py
// runs the obvious PyTorch version of the same loss (three full GEMMs through autograd).
// cuda/mfd_fwd_bwd/... runs the MFD cases on CUDA (bench/compare_gpu.py).
#include <benchmark/benchmark.h>

#include <string>

#include "bench/bench_util.h"
#include "engine/autograd.h"
#include "engine/cpu/blas.h"
#include "engine/rng.h"
#include "losses/mfd.h"

namespace {

using namespace mfd;

struct StageShape {
  int64_t d, hw;
};
const StageShape kResNet50Stages[] = {{64, 32}, {256, 32}, {512, 16}, {1024, 8}, {2048, 4}};

void mfd_forward_backward(benchmark::State& state, int64_t b, StageShape s, Device device) {
  bench::guarded(state, [&] {
    if (!bench::device_ready(state, device)) return;
    Generator gen(0);
    Tensor x = Tensor::empty({b, s.d, s.hw, s.hw});
    gen.uniform_(x, 0, 1);  // post-ReLU-like, positive
    x = x.to(device);
    x.set_requires_grad(true);
    auto step = [&] {
      drop_grad(x);
      MfdResult r = mfd_loss(x);
      backward(r.loss);
      bench::sync(device);
    };
    if (device == Device::cuda) step();
    bench::DeviceMallocCounter mallocs(device);
    for (auto _ : state) {
      step();
      benchmark::DoNotOptimize(x.grad().raw());
    }
    mallocs.report(state);
    const double n = static_cast<double>(b * s.hw * s.hw), d = static_cast<double>(s.d);
    state.counters["GFLOP/s"] = benchmark::Counter(3.0 * d * d * n, benchmark::Counter::kIsIterationInvariantRate,
                                                   benchmark::Counter::kIs1000);
  });
}

void plain_gemms(benchmark::State& state, int64_t b, StageShape s) {
  const int64_t n = b * s.hw * s.hw, d = s.d;
  Generator gen(0);
  Tensor y = Tensor::empty({d, n}), sq = Tensor::empty({d, d}), dy = Tensor::empty({d, n});
  gen.uniform_(y, 0, 1);
  gen.uniform_(sq, 0, 1);
  for (auto _ : state) {
    cpu::gemm(false, true, d, d, n, 1.0f, y.data<float>(), n, y.data<float>(), n, 0.0f, sq.data<float>(), d);
    cpu::gemm(false, false, d, n, d, 1.0f, sq.data<float>(), d, y.data<float>(), n, 0.0f, dy.data<float>(), n);
    benchmark::DoNotOptimize(dy.raw());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(4.0 * d * d * n, benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}

// Names: mfd_fwd_bwd/b16_d64_h32 and gemms_same_size/b16_d64_h32 (parsed by compare_cpu.py),
// cuda/mfd_fwd_bwd/b128_d64_h32 (compare_gpu.py).
int register_all() {
  for (int64_t b : {16, 128})
    for (StageShape s : kResNet50Stages) {
      std::string shape = "b" + std::to_string(b) + "_d" + std::to_string(s.d) + "_h" + std::to_string(s.hw);
      benchmark::RegisterBenchmark(("mfd_fwd_bwd/" + shape).c_str(), mfd_forward_backward, b, s, Device::cpu)
          ->Unit(benchmark::kMillisecond)->UseRealTime();
      benchmark::RegisterBenchmark(("gemms_same_size/" + shape).c_str(), plain_gemms, b, s)
          ->Unit(benchmark::kMillisecond)->UseRealTime();
    }
  for (int64_t b : {16, 128})
    for (StageShape s : kResNet50Stages) {
      std::string shape = "b" + std::to_string(b) + "_d" + std::to_string(s.d) + "_h" + std::to_string(s.hw);
      benchmark::RegisterBenchmark(("cuda/mfd_fwd_bwd/" + shape).c_str(), mfd_forward_backward, b, s, Device::cuda)
          ->Unit(benchmark::kMillisecond)->UseRealTime();
    }
  return 0;
}
const int registered = register_all();

}  // namespace

MFD_BENCHMARK_MAIN()
