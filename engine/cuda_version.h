// Versions of the CUDA libraries this program runs with: the loaded libraries' own answers, not
// the headers it was compiled against (cuDNN and cuBLAS are found at run time, and may differ).
// cuDNN's number is cudnnGetVersion()'s, major * 10000 + minor * 100 + patch (91002 = 9.10.2),
// which is also what torch.backends.cudnn.version() prints. In a build without CUDA every
// number is 0 and the summary says so.
#pragma once
#include <string>

namespace mfd {

#ifdef MFD_WITH_CUDA
int cudnn_version();          // cudnnGetVersion()
int cudnn_header_version();   // CUDNN_VERSION of the headers built against
int cublas_header_version();  // the same for cuBLAS (CUBLAS_VER_*)
// Creates and destroys a cuDNN and a cuBLAS handle (on a machine with a GPU): "" when both work,
// else what failed (a cuDNN that cannot load its sub-libraries fails here, not in the first op).
std::string probe_cuda_libraries();
// "" or a warning for each loaded library older than its headers.
std::string cuda_library_warnings();
int cublas_version();         // major * 10000 + minor * 100 + patch, from cublasGetProperty
int cuda_runtime_version();   // cudaRuntimeGetVersion(): 13000 = 13.0
int cuda_driver_version();    // cudaDriverGetVersion(): the newest CUDA the driver supports; 0 without one
// One line: "cuDNN 9.10.2 (91002; headers 9.13.0), cuBLAS 13.0.2, CUDA runtime 13.0, driver 13.0".
std::string cuda_versions();
#else
inline int cudnn_version() { return 0; }
inline int cudnn_header_version() { return 0; }
inline int cublas_header_version() { return 0; }
inline std::string probe_cuda_libraries() { return "built without CUDA"; }
inline std::string cuda_library_warnings() { return ""; }
inline int cublas_version() { return 0; }
inline int cuda_runtime_version() { return 0; }
inline int cuda_driver_version() { return 0; }
inline std::string cuda_versions() { return "built without CUDA"; }
#endif

}  // namespace mfd
