// Softmax cross-entropy on CUDA (one block per row, sums in double), the label check that every
// op indexing with labels runs first (on the device, never waited for: context.h), and the top-1
// hit count of the training and evaluation sums.
#include "engine/cuda/allocator.h"
#include "engine/cuda/kernels.h"
#include "engine/cuda/reduce.cuh"

namespace mfd::cuda {

namespace {

__global__ void check_labels_kernel(const int32_t* labels, int64_t n, int64_t k, int32_t* flag) {
  int first = INT_MAX;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
    if (labels[i] < 0 || labels[i] >= k) {
      first = static_cast<int>(i);
      break;  // later ones of this thread are larger
    }
  first = block_min(first);
  if (threadIdx.x == 0 && first != INT_MAX && flag[0] < 0) {  // the first bad label since the last report
    flag[0] = first;
    flag[1] = labels[first];
    flag[2] = static_cast<int32_t>(k);
  }
}

// One thread per row: its first largest score; hits of the block summed, then added to out[0]
// (an exact integer count in float, so the order of the additions does not matter).
__global__ void count_correct_kernel(const float* scores, const int32_t* labels, int64_t n, int64_t k, float* out) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  float hit = 0.0f;
  if (i < n) {
    const float* row = scores + i * k;
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j)
      if (row[j] > row[best]) best = j;
    hit = best == labels[i] ? 1.0f : 0.0f;
  }
  hit = block_sum(hit);
  if (threadIdx.x == 0 && hit > 0) atomicAdd(out, hit);
}

__global__ void softmax_forward_kernel(const float* logits, const int32_t* labels, float* probs, double* row_loss,
                                       int64_t k) {
  const int64_t i = blockIdx.x;
  const float* z = logits + i * k;
  float* pr = probs + i * k;
  float top = -INFINITY;
  for (int64_t j = threadIdx.x; j < k; j += blockDim.x) top = top < z[j] ? z[j] : top;
  top = block_max(top);
  double denom = 0.0;
  for (int64_t j = threadIdx.x; j < k; j += blockDim.x) denom += exp(double(z[j]) - top);
  denom = block_sum(denom);
  for (int64_t j = threadIdx.x; j < k; j += blockDim.x) pr[j] = static_cast<float>(exp(double(z[j]) - top) / denom);
  if (threadIdx.x == 0) {
    const int32_t y = labels[i];
    row_loss[i] = (y >= 0 && y < k) ? log(denom) + top - double(z[y]) : 0.0;  // labels checked before
  }
}

__global__ void softmax_backward_kernel(const float* probs, const int32_t* labels, const float* dloss, float* dlogits,
                                        int64_t n, int64_t k) {
  const float scale = dloss[0] / static_cast<float>(n);
  MFD_GRID_STRIDE(idx, n * k) {
    const int64_t i = idx / k, j = idx - i * k;
    float v = dlogits[idx] + scale * probs[idx];
    if (j == labels[i]) v -= scale;
    dlogits[idx] = v;
  }
}

}  // namespace

void check_labels(const char* op, const int32_t* labels, int64_t n, int64_t k) {
  if (n == 0) return;
  MFD_CHECK(n <= INT32_MAX, op, ": ", n, " labels are too many");
  note_label_check(op);
  check_labels_kernel<<<1, kThreads, 0, stream()>>>(labels, n, k, label_flag_device());
  MFD_CUDA_LAUNCH_CHECK("check_labels");
}

void count_correct(const float* scores, const int32_t* labels, int64_t n, int64_t k, float* out) {
  if (n == 0) return;
  MFD_LAUNCH_1D("count_correct", count_correct_kernel, n, scores, labels, n, k, out);
}

void softmax_cross_entropy_forward(const float* logits, const int32_t* labels, float* loss, float* probs,
                                   int64_t n, int64_t k) {
  if (n == 0) return;
  DeviceBuffer rows(n * sizeof(double));
  softmax_forward_kernel<<<static_cast<unsigned>(n), kRowThreads, 0, stream()>>>(logits, labels, probs,
                                                                                 rows.as<double>(), k);
  MFD_CUDA_LAUNCH_CHECK("cross_entropy");
  finalize_sum(rows.as<double>(), n, 1.0, double(n), loss);
}
void softmax_cross_entropy_backward(const float* probs, const int32_t* labels, const float* dloss, float* dlogits,
                                    int64_t n, int64_t k) {
  MFD_LAUNCH_1D("cross_entropy_backward", softmax_backward_kernel, n * k, probs, labels, dloss, dlogits, n, k);
}

}  // namespace mfd::cuda
