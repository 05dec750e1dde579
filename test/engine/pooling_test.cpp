// max_pool2d, avg_pool2d and global_avg_pool: forward against references, gradients.
#include <gtest/gtest.h>

#include <limits>

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
