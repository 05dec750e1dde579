// Shared by the benchmark programs: the CUDA side of a case, and their main().
//  - A case runs on Device::cpu or Device::cuda; CUDA cases are named "cuda/..." (so that a
//    filter '^cuda/' selects them) and skip with "no CUDA device: <why>" where no GPU answers.
//  - Each timed iteration of a CUDA case ends with synchronize_device(), so that the wall time
//    measured is the GPU's (kernels are asynchronous).
//  - A case's body runs in guarded(): an exception skips that case with its message.
//  - main() sets the CUDA math mode (TF32 off unless MFD_TF32=1; fastest, non-deterministic
//    algorithms) and puts the library versions into the JSON report's context
//    (bench/compare_gpu.py prints them beside PyTorch's).
#pragma once
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "engine/backend.h"
#include "engine/cpu/conv2d_dnnl.h"
#include "engine/cpu_runtime.h"
#include "engine/cuda_version.h"
#include "engine/device_stats.h"

namespace mfd::bench {

inline const char* case_prefix(Device device) { return device == Device::cuda ? "cuda/" : ""; }

// False, with the case marked skipped and why, when `device` is CUDA and no GPU answers.
inline bool device_ready(benchmark::State& state, Device device) {
  std::string why;
  if (device != Device::cuda || cuda_available(&why)) return true;
  state.SkipWithError(("no CUDA device: " + why).c_str());
  return false;
}

// Runs a case's body; an exception (an op the backend lacks, a CUDA error) marks the case
// skipped with its message instead of ending the whole program, so that a JSON report still
// comes out with every other case.
template <typename Body> void guarded(benchmark::State& state, Body&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// Waits for the work queued on `device` (nothing on the CPU, whose kernels return when done).
inline void sync(Device device) {
  if (device == Device::cuda) synchronize_device();
}

// Counts device allocations during the timed loop: a steady-state step allocates nothing
// (the caching allocator), so "device_mallocs" should read 0 per iteration.
class DeviceMallocCounter {
 public:
  explicit DeviceMallocCounter(Device device) : device_(device), start_(mallocs()) {}
  void report(benchmark::State& state) const {
    if (device_ == Device::cuda)
      state.counters["device_mallocs"] = benchmark::Counter(static_cast<double>(mallocs() - start_),
                                                            benchmark::Counter::kAvgIterations);
  }

 private:
  int64_t mallocs() const { return device_ == Device::cuda ? device_stats().device_mallocs : 0; }
  Device device_;
  int64_t start_;
};

inline int run_main(int argc, char** argv) {
  configure_cpu_runtime(argc, argv);
  benchmark::AddCustomContext("mfd_cpu", cpu_name());
  benchmark::AddCustomContext("mfd_openblas_core", blas_core());
  benchmark::AddCustomContext("mfd_cpu_conv", cpu::cpu_conv_description());
  const char* tf32_env = std::getenv("MFD_TF32");
  const bool tf32 = tf32_env && std::strcmp(tf32_env, "1") == 0;
  std::string why;
  const bool cuda = cuda_available(&why);
  if (cuda) set_cuda_math(tf32, /*deterministic=*/false);
  benchmark::AddCustomContext("mfd_cuda", cuda ? "available" : "unavailable: " + why);
  benchmark::AddCustomContext("mfd_tf32", cuda ? (tf32 ? "on" : "off") : "n/a");
  benchmark::AddCustomContext("mfd_cudnn_version", std::to_string(cudnn_version()));
  benchmark::AddCustomContext("mfd_libraries", cuda_versions());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace mfd::bench

#define MFD_BENCHMARK_MAIN() \
  int main(int argc, char** argv) { return ::mfd::bench::run_main(argc, argv); }
