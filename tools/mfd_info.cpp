// mfd_info: what this build is and what it finds at run time: CUDA compiled in or not, the
// versions of the cuDNN / cuBLAS / CUDA runtime it loaded (scripts/gpu-check.sh and
// bench/compare_gpu.py print them beside PyTorch's) against those it was built with, whether a GPU
// answers (and why not), whether cuDNN and cuBLAS handles can be created, and the MPI and NCCL
// libraries of data-parallel runs.
//   mfd_info            a few lines for people
//   mfd_info --json     one JSON object (cudnn_version as cudnnGetVersion() gives it)
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/backend.h"
#include "engine/communicator.h"
#include "engine/cpu/conv2d_dnnl.h"
#include "engine/cpu_runtime.h"
#include "engine/cuda_version.h"
#include "engine/json.h"
#include "engine/world.h"
#include "training/command_line.h"

using namespace mfd;

int main(int argc, char** argv) {
  bool json = false;
  CommandLine cl;
  cl.program = "mfd_info";
  cl.description = "What this build is (CUDA or CPU only), the CUDA libraries it loads and whether a GPU answers.";
  cl.flags = {{"json", "", [&](const std::string& v) { json = parse_bool("--json", v); }, "one JSON object", ""}};
  return run_program(cl, argc, argv, [&](const std::vector<std::string>&) {
#ifdef MFD_WITH_CUDA
    const bool built_with_cuda = true;
#else
    const bool built_with_cuda = false;
#endif
    std::string why;
    const bool cuda = cuda_available(&why);
    // The handles need a device; without one there is nothing to probe.
    const std::string probe = cuda ? probe_cuda_libraries() : "not probed: " + why, warnings = cuda_library_warnings();
    if (json) {
      std::printf("%s\n", JsonObject()
                              .add("built_with_cuda", built_with_cuda)
                              .add("cuda_available", cuda)
                              .add("why_not", cuda ? "" : why)
                              .add("cuda_devices", cuda_device_count())
                              .add("cudnn_version", cudnn_version())
                              .add("cudnn_header_version", cudnn_header_version())
                              .add("cublas_version", cublas_version())
                              .add("cublas_header_version", cublas_header_version())
                              .add("library_probe", probe.empty() ? "ok" : probe)
                              .add("warnings", warnings)
                              .add("cuda_runtime_version", cuda_runtime_version())
                              .add("cuda_driver_version", cuda_driver_version())
                              .add("cpu_threads", omp_get_max_threads())
                              .add("cpu", cpu_name())
                              .add("openblas_core", blas_core())
                              .add("cpu_conv", cpu::cpu_conv_description())
                              .add("omp_waiting", omp_waiting())
                              .add("mpi", mpi_library())
                              .add("nccl", nccl_library())
                              .str()
                              .c_str());
      return 0;
    }
    std::printf("build: %s\n", built_with_cuda ? "with CUDA" : "CPU only (CUDA=0, or no nvcc/cudnn.h at build time)");
    std::printf("libraries: %s\n", cuda_versions().c_str());
    if (!warnings.empty()) std::printf("warning: %s\n", warnings.c_str());
    if (built_with_cuda) std::printf("cudnnCreate, cublasCreate: %s\n", probe.empty() ? "ok" : probe.c_str());
    std::printf("CUDA devices: %d; CUDA ops %s\n", cuda_device_count(), cuda ? "available" : ("unavailable: " + why).c_str());
    std::printf("CPU: %s; %d threads; OpenBLAS kernels: %s; idle threads: %s\n", cpu_name().c_str(),
                omp_get_max_threads(), blas_core().c_str(), omp_waiting().c_str());
    std::printf("CPU convolutions: %s\n", cpu::cpu_conv_description().c_str());
    std::printf("several processes: MPI: %s; NCCL: %s\n", mpi_library().c_str(), nccl_library().c_str());
    if (!blas_note().empty()) std::printf("note: %s\n", blas_note().c_str());
    return 0;
  });
}
