// The MFD loss on CUDA, all of it in this file (the definition: losses/mfd.h; the CPU twin:
// engine/cpu/mfd.cpp, which these steps mirror). Forward: centre x (B, D, M) into y (D, B*M)
// and find each channel's 1/||y_i|| with the dead-channel rule (our kernels, in double); S = y y^T
// with one cuBLAS product; normalise S into F in place and sum the loss and mean |F| (a kernel,
// rows in order). Backward: A = dL/dS from F (a kernel), then dx += A y, per sample straight into
// dx for large maps (a strided batch of products), else one wide product and an add. The same
// forward in steps (sums, centre, product, normalise) serves a data-parallel run, which sums each
// step's statistics over the processes in between (losses/mfd.cpp).
#include <algorithm>

#include "engine/cuda/allocator.h"
#include "engine/cuda/gemm.h"
#include "engine/cuda/kernels.h"
#include "engine/cuda/reduce.cuh"
#include "engine/mfd_math.h"

namespace mfd::cuda {

namespace {

// Channel centring, pass 1: partial sums and raw energies over all of a channel's values.
__global__ void mfd_channel_sums_kernel(const float* x, int64_t b, int64_t d, int64_t m, double* part_sum,
                                        double* part_raw) {
  const int64_t ch = blockIdx.x, splits = gridDim.y, nn = b * m;
  double s = 0.0, raw = 0.0;
  for (int64_t e = blockIdx.y * int64_t(blockDim.x) + threadIdx.x; e < nn; e += splits * blockDim.x) {
    const int64_t k = e / m, p = e - k * m;
    const float v = x[(k * d + ch) * m + p];
    s += v;
    raw += double(v) * v;
  }
  s = block_sum(s);
  raw = block_sum(raw);
  if (threadIdx.x == 0) {
    part_sum[ch * splits + blockIdx.y] = s;
    part_raw[ch * splits + blockIdx.y] = raw;
  }
}

__global__ void mfd_channel_mean_kernel(const double* part_sum, int splits, int64_t d, double count, double* mean) {
  MFD_GRID_STRIDE(ch, d) mean[ch] = sum_parts(part_sum, ch, splits) / count;
}

// Channel centring, pass 2: y = x - mean, partial centred energies.
__global__ void mfd_channel_apply_kernel(const float* x, int64_t b, int64_t d, int64_t m, const double* mean, float* y,
                                         double* part_cen) {
  const int64_t ch = blockIdx.x, splits = gridDim.y, nn = b * m;
  const double mu = mean[ch];
  double cen = 0.0;
  for (int64_t e = blockIdx.y * int64_t(blockDim.x) + threadIdx.x; e < nn; e += splits * blockDim.x) {
    const int64_t k = e / m, p = e - k * m;
    const double v = x[(k * d + ch) * m + p] - mu;
    y[ch * nn + e] = static_cast<float>(v);
    cen += v * v;
  }
  cen = block_sum(cen);
  if (threadIdx.x == 0) part_cen[ch * splits + blockIdx.y] = cen;
}

// Batch centring, pass 1: per (channel, position) the sum over the samples (S: double for one
// process's fused forward, float for the stepped one whose sums go to the other processes), and
// partial raw energies per (channel, split).
template <typename S>
__global__ void mfd_position_sums_kernel(const float* x, int64_t b, int64_t d, int64_t m, S* sum, double* part_raw) {
  const int64_t ch = blockIdx.x, splits = gridDim.y;
  double raw = 0.0;
  for (int64_t p = blockIdx.y * int64_t(blockDim.x) + threadIdx.x; p < m; p += splits * blockDim.x) {
    double s = 0.0;
    for (int64_t k = 0; k < b; ++k) {
      const float v = x[(k * d + ch) * m + p];
      s += v;
      raw += double(v) * v;
    }
    sum[ch * m + p] = static_cast<S>(s);
  }
  raw = block_sum(raw);
  if (threadIdx.x == 0) part_raw[ch * splits + blockIdx.y] = raw;
}

// Batch centring, pass 2: y = x - sum / count at each position; partial centred energies.
template <typename S>
__global__ void mfd_position_center_kernel(const float* x, int64_t b, int64_t d, int64_t m, const S* sum, double count,
                                           float* y, double* part_cen) {
  const int64_t ch = blockIdx.x, splits = gridDim.y, nn = b * m;
  double cen = 0.0;
  for (int64_t p = blockIdx.y * int64_t(blockDim.x) + threadIdx.x; p < m; p += splits * blockDim.x) {
    const double mean = sum[ch * m + p] / count;
    for (int64_t k = 0; k < b; ++k) {
      const double v = x[(k * d + ch) * m + p] - mean;
      y[ch * nn + k * m + p] = static_cast<float>(v);
      cen += v * v;
    }
  }
  cen = block_sum(cen);
  if (threadIdx.x == 0) part_cen[ch * splits + blockIdx.y] = cen;
}

__global__ void mfd_summed_mean_kernel(const float* sum, double count, int64_t d, double* mean) {
  MFD_GRID_STRIDE(ch, d) mean[ch] = sum[ch] / count;
}

__global__ void mfd_summed_inv_norm_kernel(const float* energy, const float* raw, int64_t d, float* inv_norm) {
  MFD_GRID_STRIDE(ch, d) inv_norm[ch] = static_cast<float>(mfd_inv_norm(energy[ch], raw[ch]));
}

__global__ void mfd_inv_norm_kernel(const double* part_raw, const double* part_cen, int splits, int64_t d,
                                    float* inv_norm) {
  MFD_GRID_STRIDE(ch, d) {
    inv_norm[ch] = static_cast<float>(mfd_inv_norm(sum_parts(part_cen, ch, splits), sum_parts(part_raw, ch, splits)));
  }
}

// Row i of the symmetric S (read above the diagonal): F = S r_i r_j mirrored below, the diagonal
// 1 (0 when dead), and the row's sums of 2 F^2 and 2 |F| over j > i.
__global__ void mfd_normalize_kernel(float* corr, const float* inv_norm, int64_t d, double* row_sq, double* row_abs) {
  const int64_t i = blockIdx.x;
  double sq = 0.0, ab = 0.0;
  for (int64_t j = i + 1 + threadIdx.x; j < d; j += blockDim.x) {
    const float f = corr[i * d + j] * inv_norm[i] * inv_norm[j];
    corr[i * d + j] = f;
    corr[j * d + i] = f;
    sq += 2.0 * double(f) * f;
    ab += 2.0 * fabs(double(f));
  }
  if (threadIdx.x == 0) corr[i * d + i] = inv_norm[i] != 0.0f ? 1.0f : 0.0f;
  sq = block_sum(sq);
  ab = block_sum(ab);
  if (threadIdx.x == 0) {
    row_sq[i] = sq;
    row_abs[i] = ab;
  }
}

__global__ void mfd_grad_matrix_kernel(const float* corr, const float* inv_norm, const float* dloss, float* a,
                                       int64_t d) {
  const int64_t i = blockIdx.x;
  const double scale = 4.0 * double(dloss[0]) / mfd_pairs(d);
  double rs = 0.0;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
    if (j == i) continue;
    const double f = corr[i * d + j];
    rs += f * f;
  }
  rs = block_sum(rs);
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
    if (j == i) {
      a[i * d + i] = static_cast<float>(-scale * rs * inv_norm[i] * inv_norm[i]);
    } else {
      const double f = corr[i * d + j];
      a[i * d + j] = static_cast<float>(scale * f * inv_norm[i] * inv_norm[j]);
    }
  }
}

__global__ void mfd_scatter_add_kernel(const float* dy, float* dx, int64_t b, int64_t d, int64_t m) {
  const int64_t nn = b * m;
  MFD_GRID_STRIDE(idx, b * d * m) {
    const int64_t k = idx / (d * m), rem = idx - k * d * m, i = rem / m, p = rem - i * m;
    dx[idx] += dy[i * nn + k * m + p];
  }
}

inline void mfd_center(const float* x, int64_t b, int64_t d, int64_t m, MfdCentering centering, float* y,
                float* inv_norm) {
  if (d == 0) return;
  if (b * m == 0) {  // no observations: every channel is dead (inv_norm 0), as on the CPU
    fill(inv_norm, DType::f32, d, 0.0);
    return;
  }
  cudaStream_t s = stream();
  if (centering == MfdCentering::batch) {
    const int splits = channel_splits(1, d, m);  // the work of a block is a set of positions
    DeviceBuffer parts(2 * d * splits * sizeof(double)), sums(d * m * sizeof(double));
    double* raw = parts.as<double>();
    double* cen = raw + d * splits;
    const dim3 grid(static_cast<unsigned>(d), splits);
    mfd_position_sums_kernel<<<grid, kThreads, 0, s>>>(x, b, d, m, sums.as<double>(), raw);
    MFD_CUDA_LAUNCH_CHECK("mfd_position_sums");
    mfd_position_center_kernel<<<grid, kThreads, 0, s>>>(x, b, d, m, sums.as<double>(), double(b), y, cen);
    MFD_CUDA_LAUNCH_CHECK("mfd_position_center");
    mfd_inv_norm_kernel<<<blocks_for(d), kThreads, 0, s>>>(raw, cen, splits, d, inv_norm);
    MFD_CUDA_LAUNCH_CHECK("mfd_inv_norm");
    return;
  }
  const int splits = channel_splits(b, d, m);
  DeviceBuffer parts(3 * d * splits * sizeof(double)), mean(d * sizeof(double));
  double* sums = parts.as<double>();
  double* raw = sums + d * splits;
  double* cen = raw + d * splits;
  const dim3 grid(static_cast<unsigned>(d), splits);
  mfd_channel_sums_kernel<<<grid, kThreads, 0, s>>>(x, b, d, m, sums, raw);
  MFD_CUDA_LAUNCH_CHECK("mfd_channel_sums");
  mfd_channel_mean_kernel<<<blocks_for(d), kThreads, 0, s>>>(sums, splits, d, double(b * m), mean.as<double>());
  MFD_CUDA_LAUNCH_CHECK("mfd_channel_mean");
  mfd_channel_apply_kernel<<<grid, kThreads, 0, s>>>(x, b, d, m, mean.as<double>(), y, cen);
  MFD_CUDA_LAUNCH_CHECK("mfd_channel_apply");
  mfd_inv_norm_kernel<<<blocks_for(d), kThreads, 0, s>>>(raw, cen, splits, d, inv_norm);
  MFD_CUDA_LAUNCH_CHECK("mfd_inv_norm");
}

inline void mfd_normalize(float* corr, const float* inv_norm, int64_t d, float* loss, float* mean_abs) {
  if (d == 0) return;
  DeviceBuffer rows(2 * d * sizeof(double));
  double* row_sq = rows.as<double>();
  double* row_abs = row_sq + d;
  mfd_normalize_kernel<<<static_cast<unsigned>(d), kThreads, 0, stream()>>>(corr, inv_norm, d, row_sq, row_abs);
  MFD_CUDA_LAUNCH_CHECK("mfd_normalize");
  finalize_sum(row_sq, d, 1.0, mfd_pairs(d), loss);
  finalize_sum(row_abs, d, 1.0, mfd_pairs(d), mean_abs);
}

inline void mfd_grad_matrix(const float* corr, const float* inv_norm, const float* dloss, float* a, int64_t d) {
  if (d == 0) return;
  mfd_grad_matrix_kernel<<<static_cast<unsigned>(d), kThreads, 0, stream()>>>(corr, inv_norm, dloss, a, d);
  MFD_CUDA_LAUNCH_CHECK("mfd_grad_matrix");
}

inline void mfd_scatter_add(const float* dy, float* dx, int64_t b, int64_t d, int64_t m) {
  MFD_LAUNCH_1D("mfd_scatter_add", mfd_scatter_add_kernel, b * d * m, dy, dx, b, d, m);
}

}  // namespace

void mfd_forward(const float* x, int64_t b, int64_t d, int64_t m, MfdCentering centering, float* y, float* inv_norm,
                 float* corr, float* loss, float* mean_abs) {
  const char* op = "mfd_loss";
  const int64_t n = b * m;
  mfd_center(x, b, d, m, centering, y, inv_norm);
  if (d == 0) {
    fill(loss, DType::f32, 1, 0.0);
    fill(mean_abs, DType::f32, 1, 0.0);
    return;
  }
  // S = y y^T (D, D): row-major C = A A^T with A = y (D, N).
  if (n > 0) {
    gemm_rm(op, false, true, d, d, n, 1.0f, y, n, y, n, 0.0f, corr, d);
  } else {
    fill(corr, DType::f32, d * d, 0.0);
  }
  mfd_normalize(corr, inv_norm, d, loss, mean_abs);
}

void mfd_sums(const float* x, int64_t b, int64_t d, int64_t m, MfdCentering centering, float* sum, float* raw) {
  if (d == 0) return;
  cudaStream_t s = stream();
  const bool batch = centering == MfdCentering::batch;
  const int splits = batch ? channel_splits(1, d, m) : channel_splits(b, d, m);
  DeviceBuffer parts(2 * d * splits * sizeof(double));
  double* part_sum = parts.as<double>();
  double* part_raw = part_sum + d * splits;
  const dim3 grid(static_cast<unsigned>(d), splits);
  if (batch) {
    mfd_position_sums_kernel<<<grid, kThreads, 0, s>>>(x, b, d, m, sum, part_raw);
    MFD_CUDA_LAUNCH_CHECK("mfd_position_sums");
  } else {
    mfd_channel_sums_kernel<<<grid, kThreads, 0, s>>>(x, b, d, m, part_sum, part_raw);
    MFD_CUDA_LAUNCH_CHECK("mfd_channel_sums");
    parts_to_channels(part_sum, splits, d, sum);
  }
  parts_to_channels(part_raw, splits, d, raw);
}

void mfd_center(const float* x, int64_t b, int64_t d, int64_t m, MfdCentering centering, const float* sum, double count,
                float* y, float* energy) {
  if (d == 0) return;
  cudaStream_t s = stream();
  const bool batch = centering == MfdCentering::batch;
  const int splits = batch ? channel_splits(1, d, m) : channel_splits(b, d, m);
  DeviceBuffer parts(d * splits * sizeof(double)), mean(d * sizeof(double));
  const dim3 grid(static_cast<unsigned>(d), splits);
  if (batch) {
    mfd_position_center_kernel<<<grid, kThreads, 0, s>>>(x, b, d, m, sum, count, y, parts.as<double>());
    MFD_CUDA_LAUNCH_CHECK("mfd_position_center");
  } else {
    mfd_summed_mean_kernel<<<blocks_for(d), kThreads, 0, s>>>(sum, count, d, mean.as<double>());
    MFD_CUDA_LAUNCH_CHECK("mfd_summed_mean");
    mfd_channel_apply_kernel<<<grid, kThreads, 0, s>>>(x, b, d, m, mean.as<double>(), y, parts.as<double>());
    MFD_CUDA_LAUNCH_CHECK("mfd_channel_apply");
  }
  parts_to_channels(parts.as<double>(), splits, d, energy);
}

void mfd_product(const float* y, int64_t d, int64_t n, float* s) {
  if (d == 0) return;
  if (n == 0) return fill(s, DType::f32, d * d, 0.0);
  gemm_rm("mfd_loss", false, true, d, d, n, 1.0f, y, n, y, n, 0.0f, s, d);
}

void mfd_normalize(const float* s, const float* energy, const float* raw, int64_t d, float* inv_norm, float* corr,
                   float* loss, float* mean_abs) {
  if (d == 0) {
    fill(loss, DType::f32, 1, 0.0);
    fill(mean_abs, DType::f32, 1, 0.0);
    return;
  }
  mfd_summed_inv_norm_kernel<<<blocks_for(d), kThreads, 0, stream()>>>(energy, raw, d, inv_norm);
  MFD_CUDA_LAUNCH_CHECK("mfd_summed_inv_norm");
  if (s != corr) copy_device_to_device(corr, s, d * d * sizeof(float));
  mfd_normalize(corr, inv_norm, d, loss, mean_abs);
}

void mfd_backward(const float* y, const float* inv_norm, const float* corr, const float* dloss, float* dx, int64_t b,
                  int64_t d, int64_t m) {
  const char* op = "mfd_loss_backward";
  const int64_t n = b * m;
  if (d == 0 || n == 0) return;
  DeviceBuffer a(d * d * sizeof(float));
  mfd_grad_matrix(corr, inv_norm, dloss, a.as<float>(), d);
  if (m >= kMfdPerSampleMinPositions) {
    // dx_k (D, M) += A y_k, y_k the columns [k M, (k+1) M) of y: one strided batch of products. In
    // column-major terms dx_k^T (M, D) = y_k^T (M, D, ld N) A^T (D, D).
    const float one = 1.0f;
    MFD_CUBLAS_CHECK(cublasSgemmStridedBatched(cublas(), CUBLAS_OP_N, CUBLAS_OP_N, blas_int(m, op), blas_int(d, op),
                                               blas_int(d, op), &one, y, blas_int(n, op), m, a.as<float>(),
                                               blas_int(d, op), 0, &one, dx, blas_int(m, op), d * m, blas_int(b, op)));
    return;
  }
  // Small maps: one wide product dy (D, N) = A y, then added into dx's layout.
  DeviceBuffer dy(d * n * sizeof(float));
  gemm_rm(op, false, false, d, n, d, 1.0f, a.as<float>(), d, y, n, 0.0f, dy.as<float>(), n);
  mfd_scatter_add(dy.as<float>(), dx, b, d, m);
}

}  // namespace mfd::cuda
