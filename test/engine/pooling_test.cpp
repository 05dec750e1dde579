// max_pool2d, avg_pool2d and global_avg_pool: forward against references, gradients.
#include <gtest/gtest.h>

#include <limits>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

struct PoolCase {
  const char* what;
  int64_t n, c, h, w;
  Pool2dParams p;
};
const PoolCase kCases[] = {
    {"2x2 stride 2 on 7x5 (floor)", 2, 3, 7, 5, {2, 2, 2, 2, 0, 0}},
    {"3x3 stride 2 pad 1 (ResNet stem)", 1, 2, 7, 6, {3, 3, 2, 2, 1, 1}},
    {"3x2 stride 1 pad (1, 0)", 2, 2, 5, 7, {3, 2, 1, 1, 1, 0}},
};

std::vector<double> naive_pool(const PoolCase& cs, const std::vector<double>& x, bool max) {
  const Pool2dParams& p = cs.p;
  const int64_t oh_n = (cs.h + 2 * p.pad_h - p.kernel_h) / p.stride_h + 1;
  const int64_t ow_n = (cs.w + 2 * p.pad_w - p.kernel_w) / p.stride_w + 1;
  std::vector<double> y;
  for (int64_t pl = 0; pl < cs.n * cs.c; ++pl)
    for (int64_t oh = 0; oh < oh_n; ++oh)
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        double best = -std::numeric_limits<double>::infinity(), sum = 0.0;
        for (int i = 0; i < p.kernel_h; ++i)
          for (int j = 0; j < p.kernel_w; ++j) {
            const int64_t ih = oh * p.stride_h - p.pad_h + i, iw = ow * p.stride_w - p.pad_w + j;
            if (ih < 0 || ih >= cs.h || iw < 0 || iw >= cs.w) continue;  // padding: -inf or 0
            const double v = x[(pl * cs.h + ih) * cs.w + iw];
            best = std::max(best, v);
            sum += v;
          }
        y.push_back(max ? best : sum / (p.kernel_h * p.kernel_w));  // count_include_pad
      }
  return y;
}

class PoolingTest : public DeviceTest {};

TEST_P(PoolingTest, MaxForwardMatchesReference) {
  uint32_t seed = 1;
  for (const PoolCase& cs : kCases) {
    SCOPED_TRACE(cs.what);
    Tensor x = random_tensor({cs.n, cs.c, cs.h, cs.w}, seed++);
    expect_forward(device(), [&](const std::vector<Tensor>& in) { return max_pool2d(in[0], cs.p); }, {x},
                   naive_pool(cs, x.to_vector(), true));
  }
}

TEST_P(PoolingTest, AvgForwardMatchesReference) {
  uint32_t seed = 10;
  for (const PoolCase& cs : kCases) {
    SCOPED_TRACE(cs.what);
    Tensor x = random_tensor({cs.n, cs.c, cs.h, cs.w}, seed++);
    expect_forward(device(), [&](const std::vector<Tensor>& in) { return avg_pool2d(in[0], cs.p); }, {x},
                   naive_pool(cs, x.to_vector(), false));
  }
}

TEST_P(PoolingTest, GradientsMatchFiniteDifferences) {
  uint32_t seed = 20;
  for (const PoolCase& cs : kCases) {
    SCOPED_TRACE(cs.what);
    // Distinct values (a shuffled ramp) keep every window's maximum away from a tie.
    std::vector<double> v = random_values(cs.n * cs.c * cs.h * cs.w, seed++);
    std::vector<double> ranks(v.size());
    for (size_t i = 0; i < v.size(); ++i) ranks[i] = v[i];
    std::sort(ranks.begin(), ranks.end());
    for (double& e : v) e = 0.01 * (std::lower_bound(ranks.begin(), ranks.end(), e) - ranks.begin());
    Tensor x = Tensor::from_vector(v, {cs.n, cs.c, cs.h, cs.w}, DType::f64);
    expect_gradients(device(), [&](const std::vector<Tensor>& in) { return max_pool2d(in[0], cs.p); }, {x});
    expect_gradients(device(), [&](const std::vector<Tensor>& in) { return avg_pool2d(in[0], cs.p); }, {x});
  }
}

// Ties, as post-ReLU zeros make them: the forward is exact, and each window's gradient goes to
// one of its maxima. The CPU takes the first in row-major order (checked exactly); cuDNN may take
// another of the tied maxima, which is as valid, so on CUDA the test checks what every valid
// answer shares: per window, the gradient is conserved and lands only on elements equal to the
// window's maximum.
TEST_P(PoolingTest, MaxGradientGoesToAMaximumWithTies) {
  for (const PoolCase& cs : kCases) {
    SCOPED_TRACE(cs.what);
    const Pool2dParams& p = cs.p;
    std::vector<double> v = random_values(cs.n * cs.c * cs.h * cs.w, 40);
    for (double& e : v) e = e < 0 ? 0.0 : (e < 0.5 ? 0.5 : 1.0);  // three levels: ties everywhere
    const Tensor x64 = Tensor::from_vector(v, {cs.n, cs.c, cs.h, cs.w}, DType::f64);
    const Tensor x = to_test_tensor(x64, device(), DType::f32).set_requires_grad(true);
    const Tensor y = max_pool2d(x, p);
    const int64_t oh_n = y.size(2), ow_n = y.size(3);
    EXPECT_EQ(y.to_vector(), naive_pool(cs, v, true));
    // One window at a time: dy is 1 at that window, so dx shows where its gradient went.
    for (int64_t pl = 0; pl < cs.n * cs.c; pl += 2)
      for (int64_t oh = 0; oh < oh_n; ++oh)
        for (int64_t ow = 0; ow < ow_n; ++ow) {
          std::vector<double> dy(y.numel(), 0.0);
          const int64_t o = (pl * oh_n + oh) * ow_n + ow;
          dy[o] = 1.0;
          Tensor xi = to_test_tensor(x64, device(), DType::f32).set_requires_grad(true);
          backward(max_pool2d(xi, p), to_test_tensor(Tensor::from_vector(dy, y.shape(), DType::f64), device(), DType::f32));
          const std::vector<double> dx = xi.grad().to_vector();
          const double top = naive_pool(cs, v, true)[o];
          double total = 0.0;
          int64_t first = -1;
          for (int i = 0; i < p.kernel_h; ++i)
            for (int j = 0; j < p.kernel_w; ++j) {
              const int64_t ih = oh * p.stride_h - p.pad_h + i, iw = ow * p.stride_w - p.pad_w + j;
              if (ih < 0 || ih >= cs.h || iw < 0 || iw >= cs.w) continue;
              const int64_t at = (pl * cs.h + ih) * cs.w + iw;
              if (first < 0 && v[at] == top) first = at;
              if (dx[at] != 0.0) {
                EXPECT_EQ(v[at], top) << "gradient on a non-maximum at " << at;
              }
              total += dx[at];
            }
          EXPECT_DOUBLE_EQ(total, 1.0) << "window " << o;
          if (device() == Device::cpu) {
            EXPECT_EQ(dx[first], 1.0) << "the CPU's rule: the first maximum";
          }
        }
  }
}

TEST_P(PoolingTest, GlobalAveragePool) {
  Tensor x = random_tensor({3, 5, 7, 5}, 3);
  std::vector<double> v = x.to_vector(), expected(15, 0.0);
  for (size_t i = 0; i < v.size(); ++i) expected[i / 35] += v[i] / 35.0;
  auto op = [](const std::vector<Tensor>& in) { return global_avg_pool(in[0]); };
  expect_forward(device(), op, {x}, expected);
  expect_gradients(device(), op, {x});
}

TEST_P(PoolingTest, RejectsBadWindows) {
  Tensor x = Tensor::zeros({1, 1, 3, 3}, DType::f32, device());
  EXPECT_NE(error_message([&] { max_pool2d(x, {5, 5, 1, 1, 0, 0}); }).find("larger than"), std::string::npos);
  EXPECT_NE(error_message([&] { max_pool2d(x, {2, 2, 1, 1, 2, 2}); }).find("half the kernel"), std::string::npos);
}

MFD_INSTANTIATE_DEVICES(PoolingTest);

}  // namespace
}  // namespace mfd::test
