// Batch normalisation on CUDA: cuDNN (spatial mode) for the training forward and for the
// backward through the batch statistics when every gradient is wanted; our own kernels, with the
// CPU's formulas in double, for evaluation, the evaluation-mode backward, a backward where some
// gradient is not wanted, and the training path when MFD_CUDA_OWN_BN=1.
#include <algorithm>
#include <cstdlib>

#include "engine/cuda/allocator.h"
#include "engine/cuda/cudnn_util.h"
#include "engine/cuda/kernels.h"
#include "engine/cuda/reduce.cuh"

namespace mfd::cuda {

namespace {

// y = x * a[c] + shift[c], in double as the CPU.
__global__ void bn_apply_kernel(const float* x, const double* a, const double* shift, float* y, int64_t n,
                                int64_t c, int64_t m) {
  MFD_GRID_STRIDE(i, n * c * m) {
    const int64_t ch = (i / m) % c;
    y[i] = static_cast<float>(x[i] * a[ch] + shift[ch]);
  }
}

__global__ void bn_eval_coefficients_kernel(const float* gamma, const float* beta, const float* running_mean,
                                            const float* running_var, double eps, int64_t c, double* a,
                                            double* shift, float* save_mean, float* save_invstd) {
  MFD_GRID_STRIDE(ch, c) {
    const double invstd = 1.0 / sqrt(double(running_var[ch]) + eps);
    const double mean = running_mean[ch];
    a[ch] = gamma[ch] * invstd;
    shift[ch] = beta[ch] - mean * a[ch];
    save_mean[ch] = running_mean[ch];
    save_invstd[ch] = static_cast<float>(invstd);
  }
}

__global__ void bn_mean_kernel(const double* parts, int splits, int64_t c, double count, double* mean) {
  MFD_GRID_STRIDE(ch, c) mean[ch] = sum_parts(parts, ch, splits) / count;
}

// Channel ch's training coefficients from its mean and sum of squared deviations over `count`
// values, with the running statistics and what backward keeps.
__device__ void bn_train_coefficients(int64_t ch, double mu, double sq, const float* gamma, const float* beta,
                                      double momentum, double eps, double count, float* running_mean,
                                      float* running_var, double* a, double* shift, float* save_mean,
                                      float* save_invstd) {
  const double invstd = 1.0 / sqrt(sq / count + eps);
  a[ch] = gamma[ch] * invstd;
  shift[ch] = beta[ch] - mu * a[ch];
  running_mean[ch] = static_cast<float>((1.0 - momentum) * running_mean[ch] + momentum * mu);
  running_var[ch] = static_cast<float>((1.0 - momentum) * running_var[ch] + momentum * sq / (count - 1.0));
  save_mean[ch] = static_cast<float>(mu);
  save_invstd[ch] = static_cast<float>(invstd);
}

__global__ void bn_train_coefficients_kernel(const double* sq_parts, int splits, const double* mean,
                                             const float* gamma, const float* beta, double momentum, double eps,
                                             double count, int64_t c, float* running_mean, float* running_var,
                                             double* a, double* shift, float* save_mean, float* save_invstd) {
  MFD_GRID_STRIDE(ch, c) {
    bn_train_coefficients(ch, mean[ch], sum_parts(sq_parts, ch, splits), gamma, beta, momentum, eps, count,
                          running_mean, running_var, a, shift, save_mean, save_invstd);
  }
}

// The same from the sums of every process's shard (the stepped training forward).
__global__ void bn_summed_coefficients_kernel(const float* sum, const float* sq, const float* gamma, const float* beta,
                                              double momentum, double eps, double count, int64_t c,
                                              float* running_mean, float* running_var, double* a, double* shift,
                                              float* save_mean, float* save_invstd) {
  MFD_GRID_STRIDE(ch, c) {
    bn_train_coefficients(ch, sum[ch] / count, sq[ch], gamma, beta, momentum, eps, count, running_mean, running_var, a,
                          shift, save_mean, save_invstd);
  }
}

// coef[c] = (gamma * invstd, mean(dy), mean(dy * xhat)) for dx.
__device__ void bn_backward_coefficients(int64_t ch, double sum_dy, double sum_dyx, const float* gamma,
                                         const float* invstd, double count, double* coef) {
  coef[3 * ch] = double(gamma[ch]) * double(invstd[ch]);
  coef[3 * ch + 1] = sum_dy / count;
  coef[3 * ch + 2] = sum_dyx / count;
}

// dgamma, dbeta += the sums; the coefficients for dx (without batch statistics: the plain scale).
__global__ void bn_backward_finalize_kernel(const double* parts_dy, const double* parts_dyx, int splits,
                                            const float* gamma, const float* invstd, bool batch_stats,
                                            double count, int64_t c, float* dgamma, float* dbeta, double* coef) {
  MFD_GRID_STRIDE(ch, c) {
    const double sum_dy = sum_parts(parts_dy, ch, splits), sum_dyx = sum_parts(parts_dyx, ch, splits);
    if (dbeta) dbeta[ch] += static_cast<float>(sum_dy);
    if (dgamma) dgamma[ch] += static_cast<float>(sum_dyx);
    bn_backward_coefficients(ch, batch_stats ? sum_dy : 0.0, batch_stats ? sum_dyx : 0.0, gamma, invstd, count, coef);
  }
}

__global__ void bn_summed_backward_coefficients_kernel(const float* sum_dy, const float* sum_dyx, const float* gamma,
                                                       const float* invstd, double count, int64_t c, double* coef) {
  MFD_GRID_STRIDE(ch, c) bn_backward_coefficients(ch, sum_dy[ch], sum_dyx[ch], gamma, invstd, count, coef);
}

__global__ void mean_of_sums_kernel(const float* sum, double count, int64_t c, double* mean) {
  MFD_GRID_STRIDE(ch, c) mean[ch] = sum[ch] / count;
}

__global__ void bn_backward_dx_kernel(const float* x, const float* dy, const float* mean, const float* invstd,
                                      const double* coef, float* dx, int64_t n, int64_t c, int64_t m) {
  MFD_GRID_STRIDE(i, n * c * m) {
    const int64_t ch = (i / m) % c;
    const double mu = mean[ch], is = invstd[ch];
    dx[i] += static_cast<float>(coef[3 * ch] * (dy[i] - coef[3 * ch + 1] - (x[i] - mu) * is * coef[3 * ch + 2]));
  }
}

}  // namespace

void batch_norm_forward_eval(const float* x, const float* gamma, const float* beta, const float* running_mean,
                             const float* running_var, double eps, float* y, float* save_mean, float* save_invstd,
                             int64_t n, int64_t c, int64_t m) {
  if (c == 0) return;
  DeviceBuffer coef(2 * c * sizeof(double));
  double* a = coef.as<double>();
  bn_eval_coefficients_kernel<<<blocks_for(c), kThreads, 0, stream()>>>(gamma, beta, running_mean, running_var, eps,
                                                                        c, a, a + c, save_mean, save_invstd);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_eval_coefficients");
  if (n * m == 0) return;
  bn_apply_kernel<<<blocks_for(n * c * m), kThreads, 0, stream()>>>(x, a, a + c, y, n, c, m);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_apply");
}

void batch_norm_forward_train(const float* x, const float* gamma, const float* beta, double momentum, double eps,
                              float* running_mean, float* running_var, float* y, float* save_mean,
                              float* save_invstd, int64_t n, int64_t c, int64_t m) {
  if (c == 0 || n * m == 0) return;
  const int splits = channel_splits(n, c, m);
  const double count = double(n * m);
  DeviceBuffer parts(c * splits * sizeof(double)), stats(3 * c * sizeof(double));
  double* mean = stats.as<double>();
  double* a = mean + c;
  double* shift = a + c;
  cudaStream_t s = stream();
  const dim3 grid(static_cast<unsigned>(c), splits);
  channel_sums_kernel<<<grid, kThreads, 0, s>>>(x, nullptr, nullptr, nullptr, n, c, m, parts.as<double>(), nullptr);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_sums");
  bn_mean_kernel<<<blocks_for(c), kThreads, 0, s>>>(parts.as<double>(), splits, c, count, mean);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_mean");
  channel_sq_dev_kernel<<<grid, kThreads, 0, s>>>(x, mean, n, c, m, parts.as<double>());
  MFD_CUDA_LAUNCH_CHECK("batch_norm_variance");
  bn_train_coefficients_kernel<<<blocks_for(c), kThreads, 0, s>>>(parts.as<double>(), splits, mean, gamma, beta,
                                                                  momentum, eps, count, c, running_mean, running_var,
                                                                  a, shift, save_mean, save_invstd);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_coefficients");
  bn_apply_kernel<<<blocks_for(n * c * m), kThreads, 0, s>>>(x, a, shift, y, n, c, m);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_apply");
}

void batch_norm_backward(const float* x, const float* gamma, const float* mean, const float* invstd,
                         const float* dy, bool batch_stats, float* dx, float* dgamma, float* dbeta, int64_t n,
                         int64_t c, int64_t m) {
  if (c == 0 || n * m == 0) return;
  const int splits = channel_splits(n, c, m);
  DeviceBuffer parts(2 * c * splits * sizeof(double)), coef(3 * c * sizeof(double));
  double* parts_dy = parts.as<double>();
  double* parts_dyx = parts_dy + c * splits;
  cudaStream_t s = stream();
  channel_sums_kernel<<<dim3(static_cast<unsigned>(c), splits), kThreads, 0, s>>>(dy, x, mean, invstd, n, c, m,
                                                                                  parts_dy, parts_dyx);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_backward_sums");
  bn_backward_finalize_kernel<<<blocks_for(c), kThreads, 0, s>>>(parts_dy, parts_dyx, splits, gamma, invstd,
                                                                 batch_stats, double(n * m), c, dgamma, dbeta,
                                                                 coef.as<double>());
  MFD_CUDA_LAUNCH_CHECK("batch_norm_backward_finalize");
  if (!dx) return;
  bn_backward_dx_kernel<<<blocks_for(n * c * m), kThreads, 0, s>>>(x, dy, mean, invstd, coef.as<double>(), dx, n, c,
                                                                   m);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_backward_dx");
}

// ---- the same in steps, the caller summing the (C) results over the processes in between ----------

void batch_norm_sum(const float* x, float* sum, int64_t n, int64_t c, int64_t m) {
  if (c == 0) return;
  const int splits = channel_splits(n, c, m);
  DeviceBuffer parts(c * splits * sizeof(double));
  channel_sums_kernel<<<dim3(static_cast<unsigned>(c), splits), kThreads, 0, stream()>>>(
      x, nullptr, nullptr, nullptr, n, c, m, parts.as<double>(), nullptr);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_sums");
  parts_to_channels(parts.as<double>(), splits, c, sum);
}

void batch_norm_sq_dev(const float* x, const float* sum, double count, float* sq, int64_t n, int64_t c, int64_t m) {
  if (c == 0) return;
  const int splits = channel_splits(n, c, m);
  DeviceBuffer parts(c * splits * sizeof(double)), mean(c * sizeof(double));
  cudaStream_t s = stream();
  mean_of_sums_kernel<<<blocks_for(c), kThreads, 0, s>>>(sum, count, c, mean.as<double>());
  MFD_CUDA_LAUNCH_CHECK("batch_norm_mean");
  channel_sq_dev_kernel<<<dim3(static_cast<unsigned>(c), splits), kThreads, 0, s>>>(x, mean.as<double>(), n, c, m,
                                                                                    parts.as<double>());
  MFD_CUDA_LAUNCH_CHECK("batch_norm_variance");
  parts_to_channels(parts.as<double>(), splits, c, sq);
}

void batch_norm_apply_train(const float* x, const float* gamma, const float* beta, const float* sum, const float* sq,
                            double count, double momentum, double eps, float* running_mean, float* running_var,
                            float* y, float* save_mean, float* save_invstd, int64_t n, int64_t c, int64_t m) {
  if (c == 0) return;
  DeviceBuffer coef(2 * c * sizeof(double));
  double* a = coef.as<double>();
  cudaStream_t s = stream();
  bn_summed_coefficients_kernel<<<blocks_for(c), kThreads, 0, s>>>(sum, sq, gamma, beta, momentum, eps, count, c,
                                                                   running_mean, running_var, a, a + c, save_mean,
                                                                   save_invstd);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_coefficients");
  if (n * m == 0) return;
  bn_apply_kernel<<<blocks_for(n * c * m), kThreads, 0, s>>>(x, a, a + c, y, n, c, m);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_apply");
}

void batch_norm_backward_sums(const float* x, const float* mean, const float* invstd, const float* dy, float* sum_dy,
                              float* sum_dy_xhat, int64_t n, int64_t c, int64_t m) {
  if (c == 0) return;
  const int splits = channel_splits(n, c, m);
  DeviceBuffer parts(2 * c * splits * sizeof(double));
  double* parts_dy = parts.as<double>();
  double* parts_dyx = parts_dy + c * splits;
  channel_sums_kernel<<<dim3(static_cast<unsigned>(c), splits), kThreads, 0, stream()>>>(dy, x, mean, invstd, n, c, m,
                                                                                         parts_dy, parts_dyx);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_backward_sums");
  parts_to_channels(parts_dy, splits, c, sum_dy);
  parts_to_channels(parts_dyx, splits, c, sum_dy_xhat);
}

void batch_norm_backward_apply(const float* x, const float* gamma, const float* mean, const float* invstd,
                               const float* dy, const float* sum_dy, const float* sum_dy_xhat, double count, float* dx,
                               int64_t n, int64_t c, int64_t m) {
  if (c == 0 || n * m == 0) return;
  DeviceBuffer coef(3 * c * sizeof(double));
  cudaStream_t s = stream();
  bn_summed_backward_coefficients_kernel<<<blocks_for(c), kThreads, 0, s>>>(sum_dy, sum_dy_xhat, gamma, invstd, count,
                                                                            c, coef.as<double>());
  MFD_CUDA_LAUNCH_CHECK("batch_norm_backward_coefficients");
  bn_backward_dx_kernel<<<blocks_for(n * c * m), kThreads, 0, s>>>(x, dy, mean, invstd, coef.as<double>(), dx, n, c,
                                                                   m);
  MFD_CUDA_LAUNCH_CHECK("batch_norm_backward_dx");
}

bool cudnn_batch_norm_usable(int64_t n, int64_t c, int64_t h, int64_t w, double eps) {
  static const bool own = [] {
    const char* v = std::getenv("MFD_CUDA_OWN_BN");
    return v && v[0] == '1';
  }();
  return !own && eps >= CUDNN_BN_MIN_EPSILON && n * h * w > 1 && n <= INT_MAX && c <= INT_MAX && h <= INT_MAX &&
         w <= INT_MAX;
}

void cudnn_batch_norm_forward_train(const float* x, const float* gamma, const float* beta, double momentum,
                                    double eps, float* running_mean, float* running_var, float* y,
                                    float* save_mean, float* save_invstd, int64_t n, int64_t c, int64_t h,
                                    int64_t w) {
  cudnnHandle_t hd = cudnn();
  TensorDesc xd(n, c, h, w), pd(1, c, 1, 1);
  // Spatial mode: per-channel statistics over (N, H, W); the running variance is updated with
  // the unbiased variance and factor `momentum` (PyTorch's convention), saveInvVariance is
  // 1 / sqrt(var + eps) with the biased variance, as our save_invstd.
  MFD_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(hd, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, xd.d, x, xd.d, y,
                                                         pd.d, gamma, beta, momentum, running_mean, running_var, eps,
                                                         save_mean, save_invstd));
}

void cudnn_batch_norm_backward(const float* x, const float* gamma, const float* save_mean,
                               const float* save_invstd, const float* dy, float* dx, float* dgamma, float* dbeta,
                               int64_t n, int64_t c, int64_t h, int64_t w) {
  cudnnHandle_t hd = cudnn();
  TensorDesc xd(n, c, h, w), pd(1, c, 1, 1);
  // beta = 1 for the data and the parameter gradients: all three accumulate. The saved
  // statistics are given, so epsilon only has to satisfy cuDNN's lower bound.
  const double eps = std::max(1e-5, double(CUDNN_BN_MIN_EPSILON));
  MFD_CUDNN_CHECK(cudnnBatchNormalizationBackward(hd, CUDNN_BATCHNORM_SPATIAL, &kOne, &kOne, &kOne, &kOne, xd.d, x,
                                                  xd.d, dy, xd.d, dx, pd.d, gamma, dgamma, dbeta, eps, save_mean,
                                                  save_invstd));
}

}  // namespace mfd::cuda
