// One checking macro per library: a failure names the call, the file and the line.
#pragma once
#include <cuda_runtime.h>

#include "engine/error.h"

#define MFD_CUDA_CHECK(call)                                                                    \
  do {                                                                                          \
    cudaError_t mfd_status_ = (call);                                                           \
    if (mfd_status_ != cudaSuccess)                                                             \
      ::mfd::fail("CUDA error in ", #call, " at ", __FILE__, ":", __LINE__, ": ",               \
                  cudaGetErrorString(mfd_status_),                                              \
                  " (is the driver loaded and the GPU visible? try nvidia-smi, or --device cpu)"); \
  } while (0)
