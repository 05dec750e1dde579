#include "engine/cuda/gemm.h"

#include <cstdint>

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"

namespace mfd::cuda {

int blas_int(int64_t v, const char* op) {
  MFD_CHECK(v >= 0 && v <= INT32_MAX, op, ": dimension ", v, " does not fit cuBLAS's int arguments; lower --batch");
  return static_cast<int>(v);
}

// Row-major C (m, n) = alpha op(A) op(B) + beta C with op(A) (m, k), op(B) (k, n); lda, ldb, ldc
// are the row-major leading dimensions. cuBLAS is column-major, so this computes C^T = op(B)^T
// op(A)^T: the operands swap places and keep their transpose flags.
void gemm_rm(const char* op, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
             const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  MFD_CUBLAS_CHECK(cublasSgemm(cublas(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                               blas_int(n, op), blas_int(m, op), blas_int(k, op), &alpha, b, blas_int(ldb, op), a,
                               blas_int(lda, op), &beta, c, blas_int(ldc, op)));
}

}  // namespace mfd::cuda
