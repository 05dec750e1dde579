// mfd_info: what this build is and what it finds at run time: CUDA compiled in or not, the
// versions of the cuDNN / cuBLAS / CUDA runtime it loaded (scripts/gpu-check.sh and
// bench/compare_gpu.py print them beside PyTorch's), whether a GPU answers, and why not.
//   mfd_info            a few lines for people
//   mfd_info --json     one JSON object (cudnn_version as cudnnGetVersion() gives it)
#include <omp.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "engine/backend.h"
#include "engine/cuda_version.h"
#include "engine/json.h"

using namespace mfd;

int main(int argc, char** argv) {
  const bool json = argc == 2 && std::strcmp(argv[1], "--json") == 0;
  if (argc > 1 && !json) {
    std::fprintf(stderr, "usage: mfd_info [--json]\n");
    return 2;
  }
#ifdef MFD_WITH_CUDA
  const bool built_with_cuda = true;
#else
  const bool built_with_cuda = false;
#endif
  std::string why;
  const bool cuda = cuda_available(&why);
  if (json) {
    std::printf("{\"built_with_cuda\": %s, \"cuda_available\": %s, \"why_not\": %s, \"cuda_devices\": %d, "
                "\"cudnn_version\": %d, \"cudnn_header_version\": %d, \"cublas_version\": %d, "
                "\"cuda_runtime_version\": %d, \"cuda_driver_version\": %d, \"cpu_threads\": %d}\n",
                built_with_cuda ? "true" : "false", cuda ? "true" : "false", json_quote(cuda ? "" : why).c_str(),
                cuda_device_count(), cudnn_version(), cudnn_header_version(), cublas_version(), cuda_runtime_version(),
                cuda_driver_version(), omp_get_max_threads());
    return 0;
  }
  std::printf("build: %s\n", built_with_cuda ? "with CUDA" : "CPU only (CUDA=0, or no nvcc/cudnn.h at build time)");
  std::printf("libraries: %s\n", cuda_versions().c_str());
  std::printf("CUDA devices: %d; CUDA ops %s\n", cuda_device_count(), cuda ? "available" : ("unavailable: " + why).c_str());
  std::printf("CPU threads: %d\n", omp_get_max_threads());
  return 0;
}
