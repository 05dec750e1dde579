// The CUDA context: device, stream, cuDNN and cuBLAS handles (see context.h).
#include "engine/cuda/context.h"

#include <string>
#include <mutex>

#include "engine/cuda/check.h"
#include "engine/device_stats.h"

namespace mfd::cuda {

namespace {

struct Context {
  int device = 0;
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cublasHandle_t cublas = nullptr;
  int32_t* flag_host = nullptr;  // 4 ints, host-mapped: sample (or -1), label, classes
  int32_t* flag_device = nullptr;
};

std::mutex g_mutex;
int g_selected = 0;
CudaMath g_math;
Context* g_context = nullptr;  // leaked on purpose (see context.h)

// cuBLAS always computes in full float32, whatever TF32 allows for convolutions (PyTorch's
// defaults too: TF32 for cuDNN, not for matmul): MFD's S = y y^T drives correlations towards 0,
// and TF32's 10-bit mantissa would put a floor of about 1e-3 under each of them.
void apply_cublas_math(cublasHandle_t handle, const CudaMath&) {
  MFD_CUBLAS_CHECK(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH));
}

Context* create_context() {
  int count = device_count();
  MFD_CHECK(count > 0, "no CUDA device answers; use --device cpu");
  MFD_CHECK(g_selected >= 0 && g_selected < count, "CUDA device ", g_selected, " does not exist: ", count,
            " device(s) answer (0..", count - 1, "); choose --device cuda:N with N in range, or --device cpu");
  auto* c = new Context;
  c->device = g_selected;
  MFD_CUDA_CHECK(cudaSetDevice(c->device));
  MFD_CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
  MFD_CUDNN_CHECK(cudnnCreate(&c->cudnn));
  MFD_CUDNN_CHECK(cudnnSetStream(c->cudnn, c->stream));
  MFD_CUBLAS_CHECK(cublasCreate(&c->cublas));
  MFD_CUBLAS_CHECK(cublasSetStream(c->cublas, c->stream));
  MFD_CUBLAS_CHECK(cublasSetPointerMode(c->cublas, CUBLAS_POINTER_MODE_HOST));
  apply_cublas_math(c->cublas, g_math);
  void* flag = nullptr;
  MFD_CUDA_CHECK(cudaHostAlloc(&flag, 4 * sizeof(int32_t), cudaHostAllocMapped));
  c->flag_host = static_cast<int32_t*>(flag);
  c->flag_host[0] = -1;  // no bad label seen
  void* dflag = nullptr;
  MFD_CUDA_CHECK(cudaHostGetDevicePointer(&dflag, flag, 0));
  c->flag_device = static_cast<int32_t*>(dflag);
  return c;
}

// The context, created once; the calling thread is bound to its device (cudaSetDevice is per
// thread, and data-loader or other threads may free CUDA tensors).
Context& context() {
  thread_local int bound_device = -1;
  Context* c;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_context) g_context = create_context();
    c = g_context;
  }
  if (bound_device != c->device) {
    MFD_CUDA_CHECK(cudaSetDevice(c->device));
    bound_device = c->device;
  }
  return *c;
}

}  // namespace

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return count;
}

bool cuda_ready(std::string* why_not) {
  static std::string why;
  static const bool ready = [] {
    int count = 0;
    cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess || count == 0) {
      // cudart reports a missing driver as "driver version is insufficient": tell the two apart.
      int driver = 0, runtime = 0;
      cudaDriverGetVersion(&driver);
      cudaRuntimeGetVersion(&runtime);
      if (driver == 0)
        why = "no NVIDIA driver found (libcuda.so.1 is not installed or not loadable)";
      else if (status == cudaErrorInsufficientDriver)
        why = "the NVIDIA driver supports CUDA " + std::to_string(driver / 1000) + "." + std::to_string(driver % 1000 / 10) +
              ", older than this build's CUDA runtime " + std::to_string(runtime / 1000) + "." +
              std::to_string(runtime % 1000 / 10) + ": update the driver";
      else
        why = std::string("no CUDA device answers (") + (status != cudaSuccess ? cudaGetErrorString(status) : "0 devices") + ")";
      cudaGetLastError();
      return false;
    }
    return true;
  }();
  if (!ready && why_not) *why_not = why;
  return ready;
}

void select_device(int index) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_context) {
    MFD_CHECK(g_context->device == index, "CUDA device ", index, " asked for after the CUDA context was created on device ",
              g_context->device, "; choose the device before creating any CUDA tensor");
    return;
  }
  MFD_CHECK(index >= 0, "CUDA device index must be >= 0, got ", index);
  g_selected = index;
}

int selected_device() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_selected;
}

void set_cuda_math(CudaMath math) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_math = math;
  if (g_context) apply_cublas_math(g_context->cublas, math);
}

CudaMath cuda_math() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_math;
}

cudaStream_t stream() { return context().stream; }
cudnnHandle_t cudnn() { return context().cudnn; }
cublasHandle_t cublas() { return context().cublas; }
int32_t* label_flag_device() { return context().flag_device; }

namespace {
const char* g_label_op = nullptr;  // the first op with a label check since the last report
}  // namespace

void note_label_check(const char* op) {
  if (!g_label_op) g_label_op = op;
}

void raise_label_error() {
  if (!g_label_op) return;
  volatile int32_t* flag = context().flag_host;  // written by the device; the stream has been waited for
  const char* op = g_label_op;
  g_label_op = nullptr;
  const int32_t sample = flag[0], label = flag[1], classes = flag[2];
  if (sample < 0) return;
  flag[0] = -1;
  fail(op, ": label ", label, " of sample ", sample, " is outside [0, ", classes, ")");
}

bool context_created() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_context != nullptr;
}

}  // namespace mfd::cuda

namespace mfd {

void set_cuda_math(bool allow_tf32, bool deterministic) {
  cuda::CudaMath math;
  math.allow_tf32 = allow_tf32;
  math.deterministic = deterministic;
  cuda::set_cuda_math(math);
}

void select_cuda_device(int index) {
  const int count = cuda::device_count();
  MFD_CHECK(index >= 0 && index < count, "--device cuda:", index, ": ",
            count == 0 ? std::string("no CUDA device answers") : "only devices 0.." + std::to_string(count - 1) + " exist",
            "; use --device cpu or another index");
  cuda::select_device(index);
}

void synchronize_device() {
  if (!cuda::context_created()) return;  // nothing was ever queued
  MFD_CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
  cuda::raise_label_error();
}

}  // namespace mfd
