// Row-major float32 matrix products through cuBLAS (linear.cu, mfd.cu), always in full float32
// (CUBLAS_DEFAULT_MATH: TF32 would put a floor of about 1e-3 under MFD's correlations).
#pragma once
#include <cstdint>

namespace mfd::cuda {

// A dimension as cuBLAS's int, or an Error saying to lower --batch.
int blas_int(int64_t v, const char* op);

// Row-major C (m, n) = alpha op(A) op(B) + beta C with op(A) (m, k), op(B) (k, n); lda, ldb, ldc
// are the row-major leading dimensions.
void gemm_rm(const char* op, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
             const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace mfd::cuda
