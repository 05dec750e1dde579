// NVTX ranges, so that Nsight Systems shows every layer's forward, every op's backward and the
// phases of a training step (data, forward, loss, backward, optimizer) on the timeline:
//
//   { NvtxRange range("forward"); ... }     // or MFD_NVTX_RANGE("forward");
//
// NVTX3 is header-only (nvtx3/nvToolsExt.h): with no profiler attached a range costs a call
// through a no-op function pointer. In a build without CUDA both are empty, and
// MFD_NVTX_RANGE(name) does not even evaluate `name`, so the CPU build pays nothing.
#pragma once

#ifdef MFD_WITH_CUDA
#include <nvtx3/nvToolsExt.h>
#endif

namespace mfd {

class NvtxRange {
 public:
#ifdef MFD_WITH_CUDA
  explicit NvtxRange(const char* name) { nvtxRangePushA(name); }
  ~NvtxRange() { nvtxRangePop(); }
#else
  explicit NvtxRange(const char*) {}
#endif
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

}  // namespace mfd

#define MFD_NVTX_CONCAT_(a, b) a##b
#define MFD_NVTX_CONCAT(a, b) MFD_NVTX_CONCAT_(a, b)
#ifdef MFD_WITH_CUDA
// A range from here to the end of the enclosing scope.
#define MFD_NVTX_RANGE(name) ::mfd::NvtxRange MFD_NVTX_CONCAT(mfd_nvtx_range_, __LINE__)(name)
#else
#define MFD_NVTX_RANGE(name) static_cast<void>(0)
#endif
