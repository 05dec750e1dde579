// What the files that call cuDNN share (conv2d.cu, batch_norm.cu, pooling.cu): a checked size
// conversion, a float32 NCHW tensor descriptor that frees itself, and the scaling constants.
#pragma once
#include <cudnn.h>

#include <climits>
#include <cstdint>

#include "engine/cuda/check.h"

namespace mfd::cuda {

inline int as_int(int64_t v, const char* what) {
  MFD_CHECK(v >= 0 && v <= INT_MAX, "cuDNN: ", what, " = ", v, " does not fit cuDNN's int arguments; lower --batch");
  return static_cast<int>(v);
}

struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDesc(int64_t n, int64_t c, int64_t h, int64_t w) {
    MFD_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d));
    MFD_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, as_int(n, "N"), as_int(c, "C"),
                                               as_int(h, "H"), as_int(w, "W")));
  }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
};

inline const float kOne = 1.0f, kZero = 0.0f;  // cuDNN's alpha and beta: assign (0) or accumulate (1)

}  // namespace mfd::cuda
