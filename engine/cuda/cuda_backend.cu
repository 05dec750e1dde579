// The CUDA backend. Device detection is here now; the kernels (cuDNN convolutions, batch norm and
// pooling, cuBLAS products, own elementwise kernels) arrive with the CUDA issue, implementing the
// same engine/backend.h interface, so that no caller changes.
#include <string>

#include "engine/backend.h"
#include "engine/cuda/check.h"

namespace mfd::cuda {

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return count;
}

bool cuda_ready(std::string* why_not) {
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    if (why_not)
      *why_not = std::string("no CUDA device answers (") +
                 (status != cudaSuccess ? cudaGetErrorString(status) : "0 devices") + ")";
    cudaGetLastError();
    return false;
  }
  if (why_not) *why_not = "the CUDA kernels are not implemented yet (see the CUDA backend issue)";
  return false;
}

Backend& cuda_backend() {
  std::string why;
  cuda_ready(&why);
  fail("the CUDA backend cannot run: ", why, "; use --device cpu");
}

}  // namespace mfd::cuda
