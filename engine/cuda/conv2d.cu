// Convolution on CUDA: cuDNN's forward, backward-data and backward-filter (grouped and depthwise
// through the group count) with the algorithm of each (direction, shape, math settings) chosen
// once by measurement (FindEx) and cached with its workspace, and the bias added and reduced by
// our own kernels (also linear's). These are cuDNN's legacy (v7-style) entry points, deprecated
// in cuDNN 9 in favour of the graph API; docs/design-notes.md lists them.
#include <algorithm>
#include <array>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "engine/cuda/allocator.h"
#include "engine/cuda/cudnn_util.h"
#include "engine/cuda/kernels.h"
#include "engine/cuda/reduce.cuh"

namespace mfd::cuda {

namespace {

struct FilterDesc {
  cudnnFilterDescriptor_t d = nullptr;
  FilterDesc(int64_t k, int64_t c, int64_t r, int64_t s) {
    MFD_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d));
    MFD_CUDNN_CHECK(cudnnSetFilter4dDescriptor(d, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, as_int(k, "K"), as_int(c, "C/groups"),
                                               as_int(r, "R"), as_int(s, "S")));
  }
  ~FilterDesc() { cudnnDestroyFilterDescriptor(d); }
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
};

struct ConvDesc {
  cudnnConvolutionDescriptor_t d = nullptr;
  ConvDesc(const Conv2dParams& p, cudnnMathType_t math) {
    MFD_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d));
    MFD_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(d, p.pad_h, p.pad_w, p.stride_h, p.stride_w, 1, 1,
                                                    CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    MFD_CUDNN_CHECK(cudnnSetConvolutionGroupCount(d, p.groups));
    MFD_CUDNN_CHECK(cudnnSetConvolutionMathType(d, math));
  }
  ~ConvDesc() { cudnnDestroyConvolutionDescriptor(d); }
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
};

// The descriptors of one convolution.
struct ConvDescs {
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;
  ConvDescs(const ConvShape& g, cudnnMathType_t math)
      : x(g.n, g.c, g.h, g.w), y(g.n, g.k, g.p, g.q), w(g.k, g.c / g.params.groups, g.r, g.s), conv(g.params, math) {}
};

// TF32 allowed: CUDNN_DEFAULT_MATH lets cuDNN use TF32 tensor cores for float data (as PyTorch
// does); CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION is not used, since it also permits down-converting
// float32 to half precision. TF32 off: CUDNN_FMA_MATH, plain float32 FMA kernels only.
cudnnMathType_t base_math(const CudaMath& m) { return m.allow_tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH; }

enum ConvKind { kForward = 0, kBackwardData = 1, kBackwardFilter = 2 };
using ConvKey = std::array<int64_t, 16>;

struct ConvAlgo {
  int algo = 0;
  cudnnMathType_t math = CUDNN_FMA_MATH;
  size_t workspace = 0;
};

std::mutex g_conv_mutex;
std::map<ConvKey, ConvAlgo> g_conv_algos;

ConvKey conv_key(ConvKind kind, const ConvShape& g, const CudaMath& m) {
  const Conv2dParams& p = g.params;
  return ConvKey{kind, g.n, g.c, g.h, g.w, g.k, g.r, g.s, p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.groups,
                 m.allow_tf32 ? 1 : 0, m.deterministic ? 1 : 0, 0};
}

// Workspace for the measurement, outside the cache (a one-off per shape): the largest any
// algorithm asks for, capped at 1 GiB and at most of the free memory, halved until cudaMalloc
// succeeds.
struct FindWorkspace {
  void* ptr = nullptr;
  size_t bytes = 0;
  explicit FindWorkspace(size_t wanted) {
    size_t free_bytes = 0, total_bytes = 0;
    MFD_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    bytes = std::min<size_t>({wanted, size_t(1) << 30, free_bytes / 10 * 8});
    bool released = false;
    while (bytes > 0) {
      if (cudaMalloc(&ptr, bytes) == cudaSuccess) return;
      cudaGetLastError();
      ptr = nullptr;
      if (!released) {
        release_cached_blocks();
        released = true;
        continue;
      }
      bytes /= 2;
    }
  }
  ~FindWorkspace() {
    if (ptr) cudaFree(ptr);
  }
  FindWorkspace(const FindWorkspace&) = delete;
  FindWorkspace& operator=(const FindWorkspace&) = delete;
};

// The fastest measured algorithm that the math settings allow. perf is sorted by time.
template <typename Perf>
ConvAlgo choose(const char* what, const std::vector<Perf>& perf, int returned, const CudaMath& m, size_t ws_limit) {
  for (int strict = 1; strict >= 0; --strict) {
    for (int i = 0; i < returned; ++i) {
      const Perf& pf = perf[i];
      if (pf.status != CUDNN_STATUS_SUCCESS || pf.memory > ws_limit) continue;
      if (m.deterministic && pf.determinism != CUDNN_DETERMINISTIC) continue;
      if (pf.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) continue;
      if (strict && !m.allow_tf32 && pf.mathType != CUDNN_FMA_MATH) continue;
      ConvAlgo a;
      a.algo = static_cast<int>(pf.algo);
      a.math = m.allow_tf32 ? pf.mathType : CUDNN_FMA_MATH;
      a.workspace = pf.memory;
      return a;
    }
  }
  fail("cuDNN found no usable ", what, " algorithm for this shape", m.deterministic ? " among the deterministic ones" : "",
       "; try without --deterministic, a smaller --batch, or --device cpu");
}

// Looks up the algorithm of (kind, shape, math), measuring it on first use.
template <typename Find> ConvAlgo conv_algo(ConvKind kind, const ConvShape& g, const CudaMath& m, Find find) {
  const ConvKey key = conv_key(kind, g, m);
  std::lock_guard<std::mutex> lock(g_conv_mutex);
  auto it = g_conv_algos.find(key);
  if (it != g_conv_algos.end()) return it->second;
  ConvAlgo a = find();
  g_conv_algos.emplace(key, a);
  return a;
}

// The largest workspace any of the `count` algorithms of a direction asks for (the measurement's).
template <typename WorkspaceOf> size_t largest_workspace(int count, WorkspaceOf workspace_of) {
  size_t wanted = 0;
  for (int i = 0; i < count; ++i) wanted = std::max(wanted, workspace_of(i));
  return wanted;
}

// The chosen algorithm with the workspace it asks for under the math type it will run with (the
// fallback in choose() runs an algorithm measured under another math type with FMA math), kept
// with it in the cache so that no call asks again.
template <typename WorkspaceOf> ConvAlgo with_run_workspace(ConvAlgo a, const ConvDesc& conv, WorkspaceOf workspace_of) {
  MFD_CUDNN_CHECK(cudnnSetConvolutionMathType(conv.d, a.math));
  a.workspace = std::max(a.workspace, workspace_of(a.algo));
  return a;
}

// MFD_CUDNN_ALGO=heuristic: algorithms from cuDNN's heuristics (cudnnGet*Algorithm_v7, nothing
// run) instead of measured with FindEx; for compute-sanitizer, under which the exhaustive
// measurements of every shape would take minutes. The workspace it allows: 1 GiB.
bool use_heuristics() {
  static const bool heuristic = [] {
    const char* v = std::getenv("MFD_CUDNN_ALGO");
    return v && std::string(v) == "heuristic";
  }();
  return heuristic;
}
constexpr size_t kHeuristicWorkspaceLimit = size_t(1) << 30;

__global__ void bias_add_kernel(float* y, const float* b, int64_t n, int64_t c, int64_t m) {
  MFD_GRID_STRIDE(i, n * c * m) y[i] += b[(i / m) % c];
}

}  // namespace

void cudnn_conv2d_forward(const float* x, const float* w, float* y, const ConvShape& g) {
  const CudaMath m = cuda_math();
  cudnnHandle_t h = cudnn();
  ConvDescs d(g, base_math(m));
  auto workspace_of = [&](int algo) {
    size_t sz = 0;
    return cudnnGetConvolutionForwardWorkspaceSize(h, d.x.d, d.w.d, d.conv.d, d.y.d,
                                                   static_cast<cudnnConvolutionFwdAlgo_t>(algo), &sz) == CUDNN_STATUS_SUCCESS
               ? sz
               : 0;
  };
  const ConvAlgo a = conv_algo(kForward, g, m, [&] {
    int count = 0, returned = 0;
    MFD_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &count));
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(std::max(count, 1));
    if (use_heuristics()) {
      MFD_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, d.x.d, d.w.d, d.conv.d, d.y.d, count, &returned,
                                                             perf.data()));
      return with_run_workspace(choose("convolution forward", perf, returned, m, kHeuristicWorkspaceLimit), d.conv,
                                workspace_of);
    }
    FindWorkspace ws(largest_workspace(CUDNN_CONVOLUTION_FWD_ALGO_COUNT, workspace_of));
    // y is assigned by the real call afterwards, so the measurement may write into it.
    MFD_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(h, d.x.d, x, d.w.d, w, d.conv.d, d.y.d, y, count, &returned,
                                                           perf.data(), ws.ptr, ws.bytes));
    return with_run_workspace(choose("convolution forward", perf, returned, m, ws.bytes), d.conv, workspace_of);
  });
  MFD_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.d, a.math));
  DeviceBuffer ws(a.workspace);
  MFD_CUDNN_CHECK(cudnnConvolutionForward(h, &kOne, d.x.d, x, d.w.d, w, d.conv.d,
                                          static_cast<cudnnConvolutionFwdAlgo_t>(a.algo), ws.get(), a.workspace,
                                          &kZero, d.y.d, y));
}

void cudnn_conv2d_backward_data(const float* w, const float* dy, float* dx, const ConvShape& g) {
  const CudaMath m = cuda_math();
  cudnnHandle_t h = cudnn();
  ConvDescs d(g, base_math(m));
  auto workspace_of = [&](int algo) {
    size_t sz = 0;
    return cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.w.d, d.y.d, d.conv.d, d.x.d,
                                                        static_cast<cudnnConvolutionBwdDataAlgo_t>(algo),
                                                        &sz) == CUDNN_STATUS_SUCCESS
               ? sz
               : 0;
  };
  const ConvAlgo a = conv_algo(kBackwardData, g, m, [&] {
    int count = 0, returned = 0;
    MFD_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &count));
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(std::max(count, 1));
    if (use_heuristics()) {
      MFD_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w.d, d.y.d, d.conv.d, d.x.d, count, &returned,
                                                                  perf.data()));
      return with_run_workspace(choose("convolution backward-data", perf, returned, m, kHeuristicWorkspaceLimit),
                                d.conv, workspace_of);
    }
    FindWorkspace ws(largest_workspace(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, workspace_of));
    DeviceBuffer scratch(g.n * g.c * g.h * g.w * sizeof(float));  // dx accumulates: measure elsewhere
    MFD_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(h, d.w.d, w, d.y.d, dy, d.conv.d, d.x.d,
                                                                scratch.get(), count, &returned, perf.data(), ws.ptr,
                                                                ws.bytes));
    return with_run_workspace(choose("convolution backward-data", perf, returned, m, ws.bytes), d.conv, workspace_of);
  });
  MFD_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.d, a.math));
  DeviceBuffer ws(a.workspace);
  MFD_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &kOne, d.w.d, w, d.y.d, dy, d.conv.d,
                                               static_cast<cudnnConvolutionBwdDataAlgo_t>(a.algo), ws.get(),
                                               a.workspace, &kOne, d.x.d, dx));
}

void cudnn_conv2d_backward_filter(const float* x, const float* dy, float* dw, const ConvShape& g) {
  const CudaMath m = cuda_math();
  cudnnHandle_t h = cudnn();
  ConvDescs d(g, base_math(m));
  auto workspace_of = [&](int algo) {
    size_t sz = 0;
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, d.x.d, d.y.d, d.conv.d, d.w.d,
                                                          static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo),
                                                          &sz) == CUDNN_STATUS_SUCCESS
               ? sz
               : 0;
  };
  const ConvAlgo a = conv_algo(kBackwardFilter, g, m, [&] {
    int count = 0, returned = 0;
    MFD_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &count));
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(std::max(count, 1));
    if (use_heuristics()) {
      MFD_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.x.d, d.y.d, d.conv.d, d.w.d, count, &returned,
                                                                    perf.data()));
      return with_run_workspace(choose("convolution backward-filter", perf, returned, m, kHeuristicWorkspaceLimit),
                                d.conv, workspace_of);
    }
    FindWorkspace ws(largest_workspace(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, workspace_of));
    DeviceBuffer scratch(g.k * (g.c / g.params.groups) * g.r * g.s * sizeof(float));  // dw accumulates
    MFD_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, d.x.d, x, d.y.d, dy, d.conv.d, d.w.d,
                                                                  scratch.get(), count, &returned, perf.data(),
                                                                  ws.ptr, ws.bytes));
    return with_run_workspace(choose("convolution backward-filter", perf, returned, m, ws.bytes), d.conv, workspace_of);
  });
  MFD_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.d, a.math));
  DeviceBuffer ws(a.workspace);
  MFD_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &kOne, d.x.d, x, d.y.d, dy, d.conv.d,
                                                 static_cast<cudnnConvolutionBwdFilterAlgo_t>(a.algo), ws.get(),
                                                 a.workspace, &kOne, d.w.d, dw));
}

void bias_add(float* y, const float* b, int64_t n, int64_t c, int64_t m) {
  MFD_LAUNCH_1D("bias_add", bias_add_kernel, n * c * m, y, b, n, c, m);
}

void bias_grad(const float* dy, float* db, int64_t n, int64_t c, int64_t m) {
  if (c == 0) return;
  const int splits = channel_splits(n, c, m);
  DeviceBuffer parts(c * splits * sizeof(double));
  channel_sums_kernel<<<dim3(static_cast<unsigned>(c), splits), kThreads, 0, stream()>>>(
      dy, nullptr, nullptr, nullptr, n, c, m, parts.as<double>(), nullptr);
  MFD_CUDA_LAUNCH_CHECK("bias_grad");
  bias_grad_finalize_kernel<<<blocks_for(c), kThreads, 0, stream()>>>(parts.as<double>(), splits, c, db);
  MFD_CUDA_LAUNCH_CHECK("bias_grad_finalize");
}

}  // namespace mfd::cuda
