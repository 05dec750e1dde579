// Batch normalisation on the CPU, one channel per task. x viewed as (N, C, M), M = H * W.
// Statistics are accumulated in double with two passes (mean, then squared deviations).
#include <cmath>

#include "engine/cpu/kernels.h"

namespace mfd::cpu {

namespace {

// Sum over the N * M values of channel c of f(value, index-in-channel).
template <typename T, typename F>
double channel_sum(const T* x, int64_t c, int64_t n, int64_t channels, int64_t m, F f) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const T* plane = x + (i * channels + c) * m;
    for (int64_t j = 0; j < m; ++j) s += f(plane[j], i * m + j);
  }
  return s;
}

template <typename T>
void normalize_channel(const T* x, T* y, int64_t c, int64_t n, int64_t channels, int64_t m,
                       double mean, double invstd, double gamma, double beta) {
  const double a = gamma * invstd, shift = beta - mean * a;
  for (int64_t i = 0; i < n; ++i) {
    const T* in = x + (i * channels + c) * m;
    T* out = y + (i * channels + c) * m;
    for (int64_t j = 0; j < m; ++j) out[j] = static_cast<T>(in[j] * a + shift);
  }
}

}  // namespace

template <typename T>
void batch_norm_forward_train(const T* x, const T* gamma, const T* beta, double momentum, double eps,
                              T* running_mean, T* running_var, T* y, T* save_mean, T* save_invstd,
                              int64_t n, int64_t c, int64_t m) {
  const double count = static_cast<double>(n * m);
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < c; ++ch) {
    const double mean = channel_sum(x, ch, n, c, m, [](T v, int64_t) { return double(v); }) / count;
    const double sq = channel_sum(x, ch, n, c, m, [mean](T v, int64_t) {
      double d = double(v) - mean;
      return d * d;
    });
    const double invstd = 1.0 / std::sqrt(sq / count + eps);
    normalize_channel(x, y, ch, n, c, m, mean, invstd, gamma[ch], beta[ch]);
    running_mean[ch] = static_cast<T>((1.0 - momentum) * running_mean[ch] + momentum * mean);
    running_var[ch] = static_cast<T>((1.0 - momentum) * running_var[ch] + momentum * sq / (count - 1.0));
    save_mean[ch] = static_cast<T>(mean);
    save_invstd[ch] = static_cast<T>(invstd);
  }
}

template <typename T>
void batch_norm_forward_eval(const T* x, const T* gamma, const T* beta, const T* running_mean,
                             const T* running_var, double eps, T* y, T* save_mean, T* save_invstd,
                             int64_t n, int64_t c, int64_t m) {
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < c; ++ch) {
    const double invstd = 1.0 / std::sqrt(double(running_var[ch]) + eps);
    normalize_channel(x, y, ch, n, c, m, running_mean[ch], invstd, gamma[ch], beta[ch]);
    save_mean[ch] = running_mean[ch];
    save_invstd[ch] = static_cast<T>(invstd);
  }
}

template <typename T>
void batch_norm_backward(const T* x, const T* gamma, const T* mean, const T* invstd, const T* dy,
                         bool batch_stats, T* dx, T* dgamma, T* dbeta, int64_t n, int64_t c,
                         int64_t m) {
  const double count = static_cast<double>(n * m);
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < c; ++ch) {
    const double mu = mean[ch], is = invstd[ch];
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const T* xp = x + (i * c + ch) * m;
      const T* gp = dy + (i * c + ch) * m;
      for (int64_t j = 0; j < m; ++j) {
        sum_dy += gp[j];
        sum_dy_xhat += gp[j] * (xp[j] - mu) * is;
      }
    }
    if (dbeta) dbeta[ch] += static_cast<T>(sum_dy);
    if (dgamma) dgamma[ch] += static_cast<T>(sum_dy_xhat);
    if (!dx) continue;
    // Training: dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)); evaluation: the
    // statistics are constants, dx = gamma * invstd * dy.
    const double a = gamma[ch] * is;
    const double mean_dy = batch_stats ? sum_dy / count : 0.0;
    const double mean_dy_xhat = batch_stats ? sum_dy_xhat / count : 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const T* xp = x + (i * c + ch) * m;
      const T* gp = dy + (i * c + ch) * m;
      T* out = dx + (i * c + ch) * m;
      for (int64_t j = 0; j < m; ++j)
        out[j] += static_cast<T>(a * (gp[j] - mean_dy - (xp[j] - mu) * is * mean_dy_xhat));
    }
  }
}

#define MFD_INSTANTIATE(T)                                                                        \
  template void batch_norm_forward_train<T>(const T*, const T*, const T*, double, double, T*, T*, \
                                            T*, T*, T*, int64_t, int64_t, int64_t);               \
  template void batch_norm_forward_eval<T>(const T*, const T*, const T*, const T*, const T*,      \
                                           double, T*, T*, T*, int64_t, int64_t, int64_t);        \
  template void batch_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, bool, T*, \
                                       T*, T*, int64_t, int64_t, int64_t);
MFD_INSTANTIATE(float)
MFD_INSTANTIATE(double)
#undef MFD_INSTANTIATE

}  // namespace mfd::cpu
