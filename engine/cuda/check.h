// One checking macro per library: a failure names the call, the file and the line, the
// library's own error string, and what the user can do. MFD_CUDNN_CHECK and MFD_CUBLAS_CHECK
// expand to cudnnGetErrorString / cublasGetStatusString, so the file that uses them includes
// <cudnn.h> / <cublas_v2.h> itself (this header stays light for the kernel files).
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

// After a kernel launch: a bad launch configuration shows here, a fault inside the kernel at the
// next synchronising call (rerun with CUDA_LAUNCH_BLOCKING=1 to see which kernel it was).
#define MFD_CUDA_LAUNCH_CHECK(name)                                                             \
  do {                                                                                          \
    cudaError_t mfd_status_ = cudaGetLastError();                                               \
    if (mfd_status_ != cudaSuccess)                                                             \
      ::mfd::fail("CUDA kernel launch ", name, " failed at ", __FILE__, ":", __LINE__, ": ",    \
                  cudaGetErrorString(mfd_status_),                                              \
                  " (rerun with CUDA_LAUNCH_BLOCKING=1 to find the failing kernel, or use --device cpu)"); \
  } while (0)

#define MFD_CUDNN_CHECK(call)                                                                   \
  do {                                                                                          \
    cudnnStatus_t mfd_status_ = (call);                                                         \
    if (mfd_status_ != CUDNN_STATUS_SUCCESS)                                                    \
      ::mfd::fail("cuDNN error in ", #call, " at ", __FILE__, ":", __LINE__, ": ",              \
                  cudnnGetErrorString(mfd_status_),                                             \
                  " (check that libcudnn matches the cuDNN headers the build used and the "     \
                  "driver supports it; CUDNN_LOGERR_DBG=1 CUDNN_LOGDEST_DBG=stderr prints "     \
                  "cuDNN's reason; or use --device cpu)");                                      \
  } while (0)

#define MFD_CUBLAS_CHECK(call)                                                                  \
  do {                                                                                          \
    cublasStatus_t mfd_status_ = (call);                                                        \
    if (mfd_status_ != CUBLAS_STATUS_SUCCESS)                                                   \
      ::mfd::fail("cuBLAS error in ", #call, " at ", __FILE__, ":", __LINE__, ": ",             \
                  cublasGetStatusString(mfd_status_),                                           \
                  " (CUBLAS_STATUS_ALLOC_FAILED: lower --batch; otherwise check that libcublas " \
                  "matches the CUDA toolkit the build used; or use --device cpu)");             \
  } while (0)
