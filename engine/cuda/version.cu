// The CUDA libraries' versions as loaded (engine/cuda_version.h). Host code only.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "engine/cuda_version.h"

namespace mfd {

namespace {

// 91002 -> "9.10.2" (cuDNN, cuBLAS: major * 10000 + minor * 100 + patch).
std::string three_part(int v) {
  return std::to_string(v / 10000) + "." + std::to_string(v % 10000 / 100) + "." + std::to_string(v % 100);
}

// 13000 -> "13.0" (CUDA runtime and driver: major * 1000 + minor * 10).
std::string cuda_part(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

}  // namespace

int cudnn_version() { return static_cast<int>(cudnnGetVersion()); }

int cudnn_header_version() { return CUDNN_VERSION; }

int cublas_header_version() { return CUBLAS_VER_MAJOR * 10000 + CUBLAS_VER_MINOR * 100 + CUBLAS_VER_PATCH; }

std::string probe_cuda_libraries() {
  std::string problems;
  cudnnHandle_t dnn = nullptr;
  const cudnnStatus_t ds = cudnnCreate(&dnn);
  if (ds == CUDNN_STATUS_SUCCESS) cudnnDestroy(dnn);
  else problems += std::string("cudnnCreate failed: ") + cudnnGetErrorString(ds) + " (cuDNN cannot load its sub-libraries?); ";
  cublasHandle_t blas = nullptr;
  const cublasStatus_t bs = cublasCreate(&blas);
  if (bs == CUBLAS_STATUS_SUCCESS) cublasDestroy(blas);
  else problems += std::string("cublasCreate failed: ") + cublasGetStatusString(bs) + "; ";
  cudaGetLastError();
  return problems.empty() ? "" : problems.substr(0, problems.size() - 2);
}

std::string cuda_library_warnings() {
  std::string w;
  if (cudnn_version() < cudnn_header_version())
    w += "the loaded cuDNN " + three_part(cudnn_version()) + " is older than the " + three_part(cudnn_header_version()) +
         " this program was built with; ";
  if (cublas_version() < cublas_header_version())
    w += "the loaded cuBLAS " + three_part(cublas_version()) + " is older than the " + three_part(cublas_header_version()) +
         " this program was built with; ";
  return w.empty() ? "" : w.substr(0, w.size() - 2);
}

int cublas_version() {
  int major = 0, minor = 0, patch = 0;
  if (cublasGetProperty(MAJOR_VERSION, &major) != CUBLAS_STATUS_SUCCESS ||
      cublasGetProperty(MINOR_VERSION, &minor) != CUBLAS_STATUS_SUCCESS ||
      cublasGetProperty(PATCH_LEVEL, &patch) != CUBLAS_STATUS_SUCCESS)
    return 0;
  return major * 10000 + minor * 100 + patch;
}

int cuda_runtime_version() {
  int v = 0;
  return cudaRuntimeGetVersion(&v) == cudaSuccess ? v : 0;
}

int cuda_driver_version() {
  int v = 0;
  if (cudaDriverGetVersion(&v) != cudaSuccess) {
    cudaGetLastError();  // not sticky, but leave no error behind
    return 0;
  }
  return v;
}

std::string cuda_versions() {
  const int driver = cuda_driver_version();
  return "cuDNN " + three_part(cudnn_version()) + " (" + std::to_string(cudnn_version()) + "; headers " +
         three_part(cudnn_header_version()) + "), cuBLAS " + three_part(cublas_version()) + ", CUDA runtime " +
         cuda_part(cuda_runtime_version()) + ", driver " + (driver ? cuda_part(driver) : std::string("none"));
}

}  // namespace mfd
