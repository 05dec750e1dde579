// Batch normalisation on the CPU, one channel per task. x viewed as (N, C, M), M = H * W.
// Statistics are accumulated in double with two passes (mean, then squared deviations).
#include <cmath>

#include "engine/cpu/kernels.h"
#include "engine/cpu/lane_sum.h"

namespace mfd::cpu {

namespace {

// Sum over the N * M values of channel c of f(value), in double (lane_sum.h).
template <typename T, typename F>
double channel_sum(const T* x, int64_t c, int64_t n, int64_t channels, int64_t m, F f) {
  LaneSum s;
  for (int64_t i = 0; i < n; ++i) {
    const T* plane = x + (i * channels + c) * m;
    for_lanes(m, [&](int64_t j, int l) { s.lane[l] += f(plane[j]); });
  }
  return s.total();
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

// The training normalisation of channel ch from its mean and its sum of squared deviations
// over `count` values, with the running statistics and what backward keeps.
template <typename T>
void train_channel(const T* x, const T* gamma, const T* beta, double mean, double sq, double count, double momentum,
                   double eps, T* running_mean, T* running_var, T* y, T* save_mean, T* save_invstd, int64_t ch,
                   int64_t n, int64_t c, int64_t m) {
  const double invstd = 1.0 / std::sqrt(sq / count + eps);
  normalize_channel(x, y, ch, n, c, m, mean, invstd, gamma[ch], beta[ch]);
  running_mean[ch] = static_cast<T>((1.0 - momentum) * running_mean[ch] + momentum * mean);
  running_var[ch] = static_cast<T>((1.0 - momentum) * running_var[ch] + momentum * sq / (count - 1.0));
  save_mean[ch] = static_cast<T>(mean);
  save_invstd[ch] = static_cast<T>(invstd);
}

template <typename T> double sum_of(const T* x, int64_t ch, int64_t n, int64_t c, int64_t m) {
  return channel_sum(x, ch, n, c, m, [](T v) { return double(v); });
}

template <typename T> double squared_deviations(const T* x, double mean, int64_t ch, int64_t n, int64_t c, int64_t m) {
  return channel_sum(x, ch, n, c, m, [mean](T v) {
    const double d = double(v) - mean;
    return d * d;
  });
}

// Channel ch's sums of dy and of dy * xhat.
template <typename T>
void backward_channel_sums(const T* x, const T* dy, double mu, double is, int64_t ch, int64_t n, int64_t c, int64_t m,
                           double& sum_dy, double& sum_dy_xhat) {
  LaneSum s_dy, s_dy_xhat;
  for (int64_t i = 0; i < n; ++i) {
    const T* xp = x + (i * c + ch) * m;
    const T* gp = dy + (i * c + ch) * m;
    for_lanes(m, [&](int64_t j, int l) {
      s_dy.lane[l] += gp[j];
      s_dy_xhat.lane[l] += gp[j] * (xp[j] - mu) * is;
    });
  }
  sum_dy = s_dy.total(), sum_dy_xhat = s_dy_xhat.total();
}

// dx += (or, with assign, =) a * (dy - mean_dy - xhat * mean_dy_xhat) over channel ch.
template <typename T>
void backward_channel_dx(const T* x, const T* dy, double mu, double is, double a, double mean_dy, double mean_dy_xhat,
                         T* dx, int64_t ch, int64_t n, int64_t c, int64_t m, bool assign = false) {
  for (int64_t i = 0; i < n; ++i) {
    const T* xp = x + (i * c + ch) * m;
    const T* gp = dy + (i * c + ch) * m;
    T* out = dx + (i * c + ch) * m;
    auto grad = [&](int64_t j) { return static_cast<T>(a * (gp[j] - mean_dy - (xp[j] - mu) * is * mean_dy_xhat)); };
    if (assign) {
      for (int64_t j = 0; j < m; ++j) out[j] = grad(j);
    } else {
      for (int64_t j = 0; j < m; ++j) out[j] += grad(j);
    }
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
    const double mean = sum_of(x, ch, n, c, m) / count;
    train_channel(x, gamma, beta, mean, squared_deviations(x, mean, ch, n, c, m), count, momentum, eps, running_mean,
                  running_var, y, save_mean, save_invstd, ch, n, c, m);
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
                         int64_t m, bool assign_dx) {
  const double count = static_cast<double>(n * m);
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < c; ++ch) {
    const double mu = mean[ch], is = invstd[ch];
    double sum_dy, sum_dy_xhat;
    backward_channel_sums(x, dy, mu, is, ch, n, c, m, sum_dy, sum_dy_xhat);
    if (dbeta) dbeta[ch] += static_cast<T>(sum_dy);
    if (dgamma) dgamma[ch] += static_cast<T>(sum_dy_xhat);
    if (!dx) continue;
    // Training: dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)); evaluation: the
    // statistics are constants, dx = gamma * invstd * dy.
    backward_channel_dx(x, dy, mu, is, gamma[ch] * is, batch_stats ? sum_dy / count : 0.0,
                        batch_stats ? sum_dy_xhat / count : 0.0, dx, ch, n, c, m, assign_dx);
  }
}

// The same, in steps, with the sums of every process's shard in between (backend.h).
template <typename T> void batch_norm_sum(const T* x, T* sum, int64_t n, int64_t c, int64_t m) {
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < c; ++ch) sum[ch] = static_cast<T>(sum_of(x, ch, n, c, m));
}

template <typename T>
void batch_norm_sq_dev(const T* x, const T* sum, double count, T* sq, int64_t n, int64_t c, int64_t m) {
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < c; ++ch) sq[ch] = static_cast<T>(squared_deviations(x, sum[ch] / count, ch, n, c, m));
}

template <typename T>
void batch_norm_apply_train(const T* x, const T* gamma, const T* beta, const T* sum, const T* sq, double count,
                            double momentum, double eps, T* running_mean, T* running_var, T* y, T* save_mean,
                            T* save_invstd, int64_t n, int64_t c, int64_t m) {
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < c; ++ch)
    train_channel(x, gamma, beta, sum[ch] / count, double(sq[ch]), count, momentum, eps, running_mean, running_var, y,
                  save_mean, save_invstd, ch, n, c, m);
}

template <typename T>
void batch_norm_backward_sums(const T* x, const T* mean, const T* invstd, const T* dy, T* sum_dy, T* sum_dy_xhat,
                              int64_t n, int64_t c, int64_t m) {
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < c; ++ch) {
    double s, sx;
    backward_channel_sums(x, dy, mean[ch], invstd[ch], ch, n, c, m, s, sx);
    sum_dy[ch] = static_cast<T>(s), sum_dy_xhat[ch] = static_cast<T>(sx);
  }
}

template <typename T>
void batch_norm_backward_apply(const T* x, const T* gamma, const T* mean, const T* invstd, const T* dy,
                               const T* sum_dy, const T* sum_dy_xhat, double count, T* dx, int64_t n, int64_t c,
                               int64_t m) {
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < c; ++ch)
    backward_channel_dx(x, dy, mean[ch], invstd[ch], double(gamma[ch]) * invstd[ch], sum_dy[ch] / count,
                        sum_dy_xhat[ch] / count, dx, ch, n, c, m);
}

#define MFD_INSTANTIATE(T)                                                                        \
  template void batch_norm_forward_train<T>(const T*, const T*, const T*, double, double, T*, T*, \
                                            T*, T*, T*, int64_t, int64_t, int64_t);               \
  template void batch_norm_forward_eval<T>(const T*, const T*, const T*, const T*, const T*,      \
                                           double, T*, T*, T*, int64_t, int64_t, int64_t);        \
  template void batch_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, bool, T*, \
                                       T*, T*, int64_t, int64_t, int64_t, bool);                  \
  template void batch_norm_sum<T>(const T*, T*, int64_t, int64_t, int64_t);                        \
  template void batch_norm_sq_dev<T>(const T*, const T*, double, T*, int64_t, int64_t, int64_t);   \
  template void batch_norm_apply_train<T>(const T*, const T*, const T*, const T*, const T*, double, \
                                          double, double, T*, T*, T*, T*, T*, int64_t, int64_t, int64_t); \
  template void batch_norm_backward_sums<T>(const T*, const T*, const T*, const T*, T*, T*, int64_t, \
                                            int64_t, int64_t);                                     \
  template void batch_norm_backward_apply<T>(const T*, const T*, const T*, const T*, const T*,      \
                                             const T*, const T*, double, T*, int64_t, int64_t, int64_t);
MFD_INSTANTIATE(float)
MFD_INSTANTIATE(double)
#undef MFD_INSTANTIATE

}  // namespace mfd::cpu
