// Softmax cross-entropy on the CPU, one row (sample) per task, sums in double; and the top-1 hit
// count of the training and evaluation sums.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/cpu/kernels.h"

namespace mfd::cpu {

template <typename T>
void softmax_cross_entropy_forward(const T* logits, const int32_t* labels, T* loss, T* probs,
                                   int64_t n, int64_t k) {
  std::vector<double> row_loss(n);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const T* z = logits + i * k;
    T* pr = probs + i * k;
    const double top = *std::max_element(z, z + k);
    double denom = 0.0;
    for (int64_t j = 0; j < k; ++j) denom += std::exp(double(z[j]) - top);
    for (int64_t j = 0; j < k; ++j) pr[j] = static_cast<T>(std::exp(double(z[j]) - top) / denom);
    row_loss[i] = std::log(denom) + top - double(z[labels[i]]);
  }
  double total = 0.0;
  for (double l : row_loss) total += l;
  *loss = static_cast<T>(total / static_cast<double>(n));
}

template <typename T>
void softmax_cross_entropy_backward(const T* probs, const int32_t* labels, T dloss, T* dlogits,
                                    int64_t n, int64_t k) {
  const T scale = dloss / static_cast<T>(n);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < k; ++j) dlogits[i * k + j] += scale * probs[i * k + j];
    dlogits[i * k + labels[i]] -= scale;
  }
}

template <typename T> void count_correct(const T* scores, const int32_t* labels, int64_t n, int64_t k, T* out) {
  int64_t hits = 0;
  for (int64_t i = 0; i < n; ++i) hits += std::max_element(scores + i * k, scores + (i + 1) * k) - (scores + i * k) == labels[i];
  *out += static_cast<T>(hits);
}

#define MFD_INSTANTIATE(T)                                                                        \
  template void softmax_cross_entropy_forward<T>(const T*, const int32_t*, T*, T*, int64_t, int64_t); \
  template void softmax_cross_entropy_backward<T>(const T*, const int32_t*, T, T*, int64_t, int64_t); \
  template void count_correct<T>(const T*, const int32_t*, int64_t, int64_t, T*);
MFD_INSTANTIATE(float)
MFD_INSTANTIATE(double)
#undef MFD_INSTANTIATE

}  // namespace mfd::cpu
