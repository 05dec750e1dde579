// Linear layers on CUDA: y (N, O) = x (N, I) w^T + b as one cuBLAS product (gemm.h), the bias
// added and reduced by conv2d.cu's bias kernels.
#include "engine/cuda/gemm.h"
#include "engine/cuda/kernels.h"

namespace mfd::cuda {

void linear_forward(const float* x, const float* w, const float* b, float* y, int64_t n, int64_t in, int64_t out) {
  const char* op = "linear";
  if (n * out == 0) return;
  if (in == 0) {
    fill(y, DType::f32, n * out, 0.0);
  } else {
    gemm_rm(op, false, true, n, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
  }
  if (b) bias_add(y, b, n, out, 1);
}

void linear_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db, int64_t n,
                     int64_t in, int64_t out) {
  const char* op = "linear_backward";
  if (out > 0) {  // an empty product adds nothing
    if (dx) gemm_rm(op, false, false, n, in, out, 1.0f, dy, out, w, in, 1.0f, dx, in);
    if (dw && n > 0) gemm_rm(op, true, false, out, in, n, 1.0f, dy, out, x, in, 1.0f, dw, in);
  }
  if (db) bias_grad(dy, db, n, out, 1);
}

}  // namespace mfd::cuda
