// conv2d: forward against a naive seven-loop reference, gradients against finite differences
// (float64) and float32 gradients against the float64 ones, on each CPU path (im2col + OpenBLAS,
// oneDNN) and on CUDA.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/cpu/conv2d_dnnl.h"
#include "engine/cpu/op_profile.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

struct ConvCase {
  const char* what;
  int64_t n, c, h, w, k, r, s;
  Conv2dParams p;
  bool bias;
};

const ConvCase kCases[] = {
    {"3x3 pad 1 with bias", 2, 3, 7, 5, 4, 3, 3, {1, 1, 1, 1, 1}, true},
    {"stride 2, groups 2, batch 1", 1, 4, 7, 5, 6, 3, 3, {2, 2, 0, 0, 2}, false},
    {"depthwise stride 2 pad 1", 3, 5, 6, 7, 5, 3, 3, {2, 2, 1, 1, 5}, false},
    {"padding 3 beyond the kernel", 2, 3, 7, 5, 4, 3, 3, {2, 2, 3, 3, 1}, true},
    {"rectangular kernel and strides", 2, 3, 7, 6, 2, 3, 1, {2, 1, 1, 0, 1}, false},
    {"1x1 on a large map (x used as col)", 2, 3, 33, 32, 4, 1, 1, {1, 1, 0, 0, 1}, true},
    {"3x3 on a large map (one sample per GEMM)", 2, 2, 32, 33, 3, 3, 3, {1, 1, 1, 1, 1}, false},
    {"31 samples: two chunks, the last partial", 31, 2, 7, 5, 3, 3, 3, {1, 1, 1, 1, 1}, true},
    {"1x1 stride 2 (ResNet downsample)", 2, 4, 7, 5, 6, 1, 1, {2, 2, 0, 0, 1}, false},
    // Channel counts where oneDNN picks its blocked layouts and vector kernels.
    {"16 -> 32 channels, 3x3 pad 1", 3, 16, 9, 7, 32, 3, 3, {1, 1, 1, 1, 1}, true},
    {"32 -> 32 channels, 3x3 stride 2, groups 4", 2, 32, 9, 8, 32, 3, 3, {2, 2, 1, 1, 4}, false},
    {"depthwise 16 channels, 3x3 pad 1", 2, 16, 7, 9, 16, 3, 3, {1, 1, 1, 1, 16}, false},
    {"16 -> 24 channels, 1x1", 3, 16, 5, 6, 24, 1, 1, {1, 1, 0, 0, 1}, true},
};

// Float32 convolutions on the CPU run on one of two paths: every case runs on each.
std::vector<cpu::CpuConv> paths_of(Device device) {
  if (device != Device::cpu) return {cpu::CpuConv::automatic};
  if (!cpu::dnnl_built_in()) return {cpu::CpuConv::im2col};
  return {cpu::CpuConv::im2col, cpu::CpuConv::dnnl};
}

const char* path_name(cpu::CpuConv path) {
  return path == cpu::CpuConv::im2col ? "im2col" : path == cpu::CpuConv::dnnl ? "oneDNN" : "default";
}

// Sets the CPU path for one scope.
struct ConvPathScope {
  explicit ConvPathScope(cpu::CpuConv path) : saved(cpu::cpu_conv_choice()) { cpu::set_cpu_conv_choice(path); }
  ~ConvPathScope() { cpu::set_cpu_conv_choice(saved); }
  cpu::CpuConv saved;
};

// y[n, k, oh, ow] = b[k] + sum_{c in group, i, j} x[n, c, oh*sh - ph + i, ow*sw - pw + j] w[k, c', i, j]
std::vector<double> naive_conv2d(const ConvCase& cs, const std::vector<double>& x,
                                 const std::vector<double>& w, const std::vector<double>& b) {
  const Conv2dParams& p = cs.p;
  const int64_t oh_n = (cs.h + 2 * p.pad_h - cs.r) / p.stride_h + 1;
  const int64_t ow_n = (cs.w + 2 * p.pad_w - cs.s) / p.stride_w + 1;
  const int64_t cg = cs.c / p.groups, kg = cs.k / p.groups;
  std::vector<double> y(cs.n * cs.k * oh_n * ow_n);
  for (int64_t n = 0; n < cs.n; ++n)
    for (int64_t k = 0; k < cs.k; ++k)
      for (int64_t oh = 0; oh < oh_n; ++oh)
        for (int64_t ow = 0; ow < ow_n; ++ow) {
          double acc = cs.bias ? b[k] : 0.0;
          const int64_t group = k / kg;
          for (int64_t cc = 0; cc < cg; ++cc)
            for (int64_t i = 0; i < cs.r; ++i)
              for (int64_t j = 0; j < cs.s; ++j) {
                const int64_t ih = oh * p.stride_h - p.pad_h + i, iw = ow * p.stride_w - p.pad_w + j;
                if (ih < 0 || ih >= cs.h || iw < 0 || iw >= cs.w) continue;
                const int64_t c = group * cg + cc;
                acc += x[((n * cs.c + c) * cs.h + ih) * cs.w + iw] * w[((k * cg + cc) * cs.r + i) * cs.s + j];
              }
          y[((n * cs.k + k) * oh_n + oh) * ow_n + ow] = acc;
        }
  return y;
}

struct ConvInputs {
  Tensor x, w, b;
};

ConvInputs make_inputs(const ConvCase& cs, uint32_t seed) {
  ConvInputs in;
  in.x = random_tensor({cs.n, cs.c, cs.h, cs.w}, seed);
  in.w = random_tensor({cs.k, cs.c / cs.p.groups, cs.r, cs.s}, seed + 1);
  if (cs.bias) in.b = random_tensor({cs.k}, seed + 2);
  return in;
}

OpFn conv_op(const ConvCase& cs) {
  return [cs](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], cs.p); };
}

class Conv2dTest : public DeviceTest {};

TEST_P(Conv2dTest, ForwardMatchesNaiveReference) {
  for (cpu::CpuConv path : paths_of(device())) {
    ConvPathScope scope(path);
    SCOPED_TRACE(path_name(path));
    uint32_t seed = 1;
    for (const ConvCase& cs : kCases) {
      SCOPED_TRACE(cs.what);
      ConvInputs in = make_inputs(cs, seed += 10);
      std::vector<double> expected = naive_conv2d(cs, in.x.to_vector(), in.w.to_vector(),
                                                  cs.bias ? in.b.to_vector() : std::vector<double>());
      expect_forward(device(), conv_op(cs), {in.x, in.w, in.b}, expected);
    }
  }
}

TEST_P(Conv2dTest, GradientsMatchFiniteDifferences) {
  for (cpu::CpuConv path : paths_of(device())) {
    ConvPathScope scope(path);
    SCOPED_TRACE(path_name(path));
    uint32_t seed = 100;
    for (const ConvCase& cs : kCases) {
      SCOPED_TRACE(cs.what);
      ConvInputs in = make_inputs(cs, seed += 10);
      expect_gradients(device(), conv_op(cs), {in.x, in.w, in.b});
    }
  }
}

// The input gradient's first writer assigns it and later ones add (GradWrite), on every path:
// windowed (col2im), 1x1 (the GEMM writing dx itself), oneDNN's blocked and depthwise kernels.
TEST_P(Conv2dTest, InputGradientIsAssignedOrAccumulated) {
  for (cpu::CpuConv path : paths_of(device())) {
    ConvPathScope scope(path);
    SCOPED_TRACE(path_name(path));
    const DType dtype = device() == Device::cpu && path == cpu::CpuConv::im2col ? DType::f64 : DType::f32;
    for (int i : {0, 5, 8, 9, 11, 12}) {
      const ConvCase& cs = kCases[i];
      SCOPED_TRACE(cs.what);
      ConvInputs in = make_inputs(cs, 40 + i);
      const Tensor x = to_test_tensor(in.x, device(), dtype), w = to_test_tensor(in.w, device(), dtype);
      Tensor y = Tensor::empty({cs.n, cs.k, window_out_size(cs.h, cs.r, cs.p.stride_h, cs.p.pad_h),
                                window_out_size(cs.w, cs.s, cs.p.stride_w, cs.p.pad_w)}, dtype, device());
      const Tensor dy = to_test_tensor(random_tensor(y.shape(), 50 + i), device(), dtype);
      expect_grad_write_contract(device(), dtype, x.shape(), [&](Tensor& dx, GradWrite write) {
        Tensor none;
        backend_for(x).conv2d_backward(x, w, dy, cs.p, dx, none, none, write);
      });
    }
  }
}

// The gradients accumulate (Backend's contract) on every path: a second backward doubles them.
TEST_P(Conv2dTest, GradientsAccumulateOverTwoBackwards) {
  const ConvCase& cs = kCases[9];
  for (cpu::CpuConv path : paths_of(device())) {
    ConvPathScope scope(path);
    SCOPED_TRACE(path_name(path));
    ConvInputs in = make_inputs(cs, 7);
    Tensor x = to_test_tensor(in.x, device(), DType::f32);
    Tensor w = to_test_tensor(in.w, device(), DType::f32);
    Tensor b = to_test_tensor(in.b, device(), DType::f32);
    for (Tensor* t : {&x, &w, &b}) t->set_requires_grad(true);
    backward(sum(conv2d(x, w, b, cs.p)));
    const std::vector<double> dx1 = x.grad().to_vector(), dw1 = w.grad().to_vector();
    backward(sum(conv2d(x, w, b, cs.p)));
    const std::vector<double> dx2 = x.grad().to_vector(), dw2 = w.grad().to_vector();
    // float32: the second pass repeats the first's sums (each path is deterministic) and adds
    // them, one rounding, or sums in another order when it accumulates through a post-op; either
    // way within expect_forward's argument (K <= 33 products of values in [-1, 1]: < 1.7e-5 |.|).
    for (size_t i = 0; i < dx1.size(); ++i) ASSERT_NEAR(dx2[i], 2 * dx1[i], 1e-5 * (1 + std::fabs(dx1[i])));
    for (size_t i = 0; i < dw1.size(); ++i) ASSERT_NEAR(dw2[i], 2 * dw1[i], 1e-5 * (1 + std::fabs(dw1[i])));
  }
}

// MFD_CPU_PROFILE's table names the two kinds of convolution apart and counts each call.
TEST(CpuOpProfile, CountsConvolutionsByKind) {
  cpu::set_op_profile_enabled(true);
  const long windowed = cpu::op_profile_calls("conv2d windowed"), pointwise = cpu::op_profile_calls("conv2d 1x1");
  Tensor x = random_tensor({1, 2, 5, 5}, 1, DType::f32);
  conv2d(x, random_tensor({3, 2, 3, 3}, 2, DType::f32), Tensor());
  conv2d(x, random_tensor({3, 2, 1, 1}, 3, DType::f32), Tensor());
  conv2d(x, random_tensor({3, 2, 1, 1}, 4, DType::f32), Tensor());
  cpu::set_op_profile_enabled(false);
  conv2d(x, random_tensor({3, 2, 3, 3}, 5, DType::f32), Tensor());  // not counted
  EXPECT_EQ(cpu::op_profile_calls("conv2d windowed"), windowed + 1);
  EXPECT_EQ(cpu::op_profile_calls("conv2d 1x1"), pointwise + 2);
}

TEST_P(Conv2dTest, RejectsMismatchedShapes) {
  Tensor x = Tensor::zeros({1, 3, 5, 5}, DType::f32, device());
  Tensor w = Tensor::zeros({4, 2, 3, 3}, DType::f32, device());
  EXPECT_NE(error_message([&] { conv2d(x, w, Tensor()); }).find("expects 2 input channels"), std::string::npos);
  Tensor big = Tensor::zeros({4, 3, 7, 7}, DType::f32, device());
  EXPECT_NE(error_message([&] { conv2d(x, big, Tensor()); }).find("larger than the padded input"),
            std::string::npos);
  EXPECT_NE(error_message([&] { conv2d(x, w, Tensor(), {1, 1, 0, 0, 2}); }).find("must divide"),
            std::string::npos);
}

MFD_INSTANTIATE_DEVICES(Conv2dTest);

}  // namespace
}  // namespace mfd::test
