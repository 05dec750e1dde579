// The CUDA context of the process: one device, chosen once; one stream that every kernel, copy,
// cuDNN and cuBLAS call runs on (so that memory freed to the caching allocator can be reused by
// the next call without synchronisation); one cuDNN and one cuBLAS handle bound to that stream.
// Everything is created on first use and never destroyed (the driver cleans up at exit), so that
// tensors released during static destruction stay safe.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstdint>
#include <string>

namespace mfd::cuda {

struct CudaMath {
  bool allow_tf32 = true;     // cuBLAS CUBLAS_TF32_TENSOR_OP_MATH, cuDNN tensor-op math
  bool deterministic = false; // only CUDNN_DETERMINISTIC convolution algorithms
};

int device_count();                    // 0 when no driver or device answers
bool cuda_ready(std::string* why_not); // a device answers (cached after the first call)

void select_device(int index);  // before the context exists; default 0
int selected_device();
void set_cuda_math(CudaMath math);
CudaMath cuda_math();

// These create the context on first use (and bind the calling thread to the device).
cudaStream_t stream();
cudnnHandle_t cudnn();
cublasHandle_t cublas();
bool context_created();

// Labels are checked on the device without waiting: the check kernel records the first bad label
// (sample, label, classes) in a small host-mapped buffer, and every place where the host waits
// for the device anyway (a copy to the host, synchronize_device) raises it as an Error then. So a
// training step never waits for a label check.
int32_t* label_flag_device();
void note_label_check(const char* op);  // the op a pending check belongs to, for the message
void raise_label_error();               // after a synchronisation: throws if a bad label was seen

}  // namespace mfd::cuda
