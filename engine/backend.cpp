// Chooses the backend of a device. The CUDA backend lives in engine/cuda/ and is linked only when
// the build found nvcc and cuDNN (MFD_WITH_CUDA); otherwise asking for it says how to get it.
#include "engine/backend.h"
#include "engine/device_stats.h"

namespace mfd {

ConvShape conv_shape(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  ConvShape g{x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(2), w.size(3), 0, 0, p};
  g.p = window_out_size(g.h, static_cast<int>(g.r), p.stride_h, p.pad_h);
  g.q = window_out_size(g.w, static_cast<int>(g.s), p.stride_w, p.pad_w);
  return g;
}

namespace cpu {
Backend& cpu_backend();
int64_t fresh_allocations();
int64_t bytes_in_use();
}

#ifdef MFD_WITH_CUDA
namespace cuda {
Backend& cuda_backend();                  // throws when no device answers
bool cuda_ready(std::string* why_not);  // a device answers
int device_count();
}  // namespace cuda
#endif

Backend& backend_for(Device device) {
  if (device == Device::cpu) return cpu::cpu_backend();
#ifdef MFD_WITH_CUDA
  return cuda::cuda_backend();
#else
  fail("this build has no CUDA backend (built with CUDA=0, or nvcc/cudnn.h were not found under "
       "CUDA_HOME); rebuild with `make` on a machine with the CUDA toolkit, or use --device cpu");
#endif
}

HostStats host_stats() { return HostStats{tensor_host_reads(), cpu::fresh_allocations(), cpu::bytes_in_use()}; }

bool cuda_available(std::string* why_not) {
#ifdef MFD_WITH_CUDA
  return cuda::cuda_ready(why_not);
#else
  if (why_not) *why_not = "built without CUDA (CUDA=0 or no nvcc/cudnn.h at build time)";
  return false;
#endif
}

int cuda_device_count() {
#ifdef MFD_WITH_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

#ifndef MFD_WITH_CUDA
// engine/device_stats.h without CUDA: zero counters, nothing to configure or wait for.
DeviceStats device_stats() { return DeviceStats{}; }
void reset_device_peak() {}
void set_cuda_math(bool, bool) {}
void select_cuda_device(int index) {
  fail("--device cuda:", index, ": this build has no CUDA backend (built with CUDA=0, or nvcc/cudnn.h were not found "
       "under CUDA_HOME); rebuild with `make` on a machine with the CUDA toolkit, or use --device cpu");
}
void synchronize_device() {}
#endif

}  // namespace mfd
