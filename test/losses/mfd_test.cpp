// MFD loss: known cases, dead channels, invariances, the fused kernel against a naive double
// evaluation of eq. 5-6, and finite-difference gradients for both centrings.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "losses/mfd.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

// Eq. 6 evaluated literally, in double: F_ij from the centred maps of every pair of channels.
std::vector<double> naive_correlation(const std::vector<double>& x, int64_t b, int64_t d, int64_t m,
                                      MfdCentering centering) {
  std::vector<double> y(b * d * m);  // (b, d, m), centred
  for (int64_t i = 0; i < d; ++i) {
    for (int64_t p = 0; p < m; ++p) {
      double mean = 0.0;
      int64_t count = 0;
      for (int64_t k = 0; k < b; ++k)
        for (int64_t q = 0; q < m; ++q)
          if (centering == MfdCentering::channel || q == p) {
            mean += x[(k * d + i) * m + q];
            ++count;
          }
      mean /= count;
      for (int64_t k = 0; k < b; ++k) y[(k * d + i) * m + p] = x[(k * d + i) * m + p] - mean;
    }
  }
  std::vector<double> f(d * d, 0.0);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) {
      double sij = 0.0, sii = 0.0, sjj = 0.0, raw_i = 0.0, raw_j = 0.0;
      for (int64_t k = 0; k < b; ++k)
        for (int64_t p = 0; p < m; ++p) {
          const double a = y[(k * d + i) * m + p], c = y[(k * d + j) * m + p];
          sij += a * c;
          sii += a * a;
          sjj += c * c;
          raw_i += std::pow(x[(k * d + i) * m + p], 2);
          raw_j += std::pow(x[(k * d + j) * m + p], 2);
        }
      const bool dead = sii <= 1e-10 * raw_i || sjj <= 1e-10 * raw_j;
      f[i * d + j] = dead ? 0.0 : sij / (std::sqrt(sii) * std::sqrt(sjj));
    }
  return f;
}

double loss_from(const std::vector<double>& f, int64_t d, bool absolute = false) {
  double s = 0.0;
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j)
      if (i != j) s += absolute ? std::fabs(f[i * d + j]) : f[i * d + j] * f[i * d + j];
  return d > 1 ? s / (d * (d - 1)) : 0.0;
}

class MfdLossTest : public DeviceTest {
 protected:
  DType dtype() const { return device() == Device::cpu ? DType::f64 : DType::f32; }
  Tensor make(const std::vector<double>& v, const Shape& s) { return Tensor::from_vector(v, s, dtype(), device()); }
};

TEST_P(MfdLossTest, IdenticalChannelsCorrelateOneAndNegatedMinusOne) {
  std::vector<double> a = random_values(4 * 3 * 3, 1), v;
  for (double sign : {1.0, -1.0}) {
    v.clear();
    for (int k = 0; k < 4; ++k) {  // (b=4, d=2, 3, 3): channel 1 = sign * channel 0
      for (int p = 0; p < 9; ++p) v.push_back(a[k * 9 + p]);
      for (int p = 0; p < 9; ++p) v.push_back(sign * a[k * 9 + p]);
    }
    MfdResult r = mfd_loss(make(v, {4, 2, 3, 3}));
    std::vector<double> f = r.correlation.to_vector();
    // float32 on CUDA: a ratio of sums over 36 observations, each within (n + 4) u = 2.4e-6 of
    // exact (design notes, "How a tolerance is chosen"), here identical sums in numerator and
    // denominator, so the ratio is 1 to a few ulps; 1e-6 is about eight of them.
    EXPECT_NEAR(f[1], sign, 1e-6);
    EXPECT_NEAR(f[2], sign, 1e-6);
    EXPECT_NEAR(r.loss.item(), 1.0, 1e-6) << "d = 2: (1 + 1) / (2 * 1)";
    EXPECT_NEAR(r.mean_abs.item(), 1.0, 1e-6);
  }
}

TEST_P(MfdLossTest, IndependentChannelsAreWeaklyCorrelatedAndMoreSoWithLargerBatches) {
  double previous = 1.0;
  for (int64_t b : {16, 256, 4096}) {
    MfdResult r = mfd_loss(make(random_values(b * 6, 7), {b, 6, 1, 1}));
    const double mean_abs = r.mean_abs.item();
    EXPECT_LT(mean_abs, 3.0 / std::sqrt(static_cast<double>(b))) << "b = " << b;
    EXPECT_LT(mean_abs, previous);
    previous = mean_abs;
  }
}

TEST_P(MfdLossTest, AllZeroChannelGivesNoNanAndNoGradient) {
  std::vector<double> v = random_values(3 * 4 * 5 * 5, 2);
  for (int k = 0; k < 3; ++k)
    for (int p = 0; p < 25; ++p) v[(k * 4 + 2) * 25 + p] = 0.0;  // channel 2 is all zero
  Tensor x = make(v, {3, 4, 5, 5}).set_requires_grad(true);
  MfdResult r = mfd_loss(x);
  backward(r.loss);
  EXPECT_TRUE(std::isfinite(r.loss.item()));
  std::vector<double> f = r.correlation.to_vector(), g = x.grad().to_vector();
  for (int j = 0; j < 4; ++j) EXPECT_EQ(f[2 * 4 + j], 0.0);
  for (size_t i = 0; i < g.size(); ++i) {
    ASSERT_TRUE(std::isfinite(g[i]));
    if ((i / 25) % 4 == 2) {
      EXPECT_EQ(g[i], 0.0);
    }
  }
}

TEST_P(MfdLossTest, ConstantChannelsAtFullSizeAreDeadInFloat32) {
  // b = 128, 32x32, float32: channels constant at 0, 6 (ReLU6 saturated) and 1e3, one at 1e3
  // with one-ulp rounding noise (what a constant becomes after float arithmetic), and 3 live ones.
  const int64_t b = 128, d = 7, m = 32 * 32;
  const int kConstant = 4;
  std::vector<double> v = random_values(b * d * m, 3, 0.0, 2.0);
  const double constants[kConstant] = {0.0, 6.0, 1e3, 1e3};
  const double ulp = std::nextafter(1e3f, 2e3f) - 1e3f;
  for (int64_t k = 0; k < b; ++k)
    for (int c = 0; c < kConstant; ++c)
      for (int64_t p = 0; p < m; ++p) v[(k * d + c) * m + p] = constants[c] + (c == 3 && (k + p) % 3 == 0 ? ulp : 0.0);
  Tensor x = Tensor::from_vector(v, {b, d, 32, 32}, DType::f32, device()).set_requires_grad(true);
  MfdResult r = mfd_loss(x);
  backward(r.loss);
  std::vector<double> f = r.correlation.to_vector(), g = x.grad().to_vector();
  for (int c = 0; c < kConstant; ++c)
    for (int j = 0; j < d; ++j) EXPECT_EQ(f[c * d + j], 0.0) << "constant channel " << c;
  for (double e : g) ASSERT_TRUE(std::isfinite(e));
  for (int64_t k = 0; k < b; ++k)
    for (int c = 0; c < kConstant; ++c) EXPECT_EQ(g[(k * d + c) * m], 0.0);
  EXPECT_LT(r.mean_abs.item(), 0.05) << "the three independent live channels";
}

TEST_P(MfdLossTest, ChannelPermutationLeavesTheLossUnchanged) {
  const int64_t b = 5, d = 7, m = 6;
  std::vector<double> v = random_values(b * d * m, 4), permuted(v.size());
  const int order[d] = {3, 0, 6, 1, 5, 2, 4};
  for (int64_t k = 0; k < b; ++k)
    for (int64_t i = 0; i < d; ++i)
      for (int64_t p = 0; p < m; ++p) permuted[(k * d + i) * m + p] = v[(k * d + order[i]) * m + p];
  // float32 on CUDA: each |F_ij| (about 0.2 here) is within (n + 4) u = 2e-6 of exact (n = 30), so
  // each F_ij^2 within 2 |F_ij| 2e-6 = 8e-7, and the loss, their mean, too: two losses differ by at
  // most 1.6e-6 (in float64 by 1e-15).
  EXPECT_NEAR(mfd_loss(make(v, {b, d, 2, 3})).loss.item(), mfd_loss(make(permuted, {b, d, 2, 3})).loss.item(), 2e-6);
}

TEST_P(MfdLossTest, FusedKernelEqualsNaiveEvaluation) {
  struct Case { int64_t b, d, h, w; };
  // The last case reaches OpenBLAS's blocked paths: d >= 300, b*h*w = 50 not a multiple of 64.
  for (Case cs : {Case{3, 5, 7, 5}, Case{2, 9, 1, 1}, Case{2, 300, 5, 5}}) {
    for (MfdCentering c : {MfdCentering::batch, MfdCentering::channel}) {
      SCOPED_TRACE(testing::Message() << cs.b << "x" << cs.d << "x" << cs.h << "x" << cs.w << " "
                                      << mfd_centering_name(c));
      Tensor x = random_tensor({cs.b, cs.d, cs.h, cs.w}, static_cast<uint32_t>(cs.d), DType::f64, 0.0, 1.0);
      std::vector<double> f = naive_correlation(x.to_vector(), cs.b, cs.d, cs.h * cs.w, c);
      expect_forward(device(), [c](const std::vector<Tensor>& in) { return mfd_loss(in[0], c).correlation; },
                     {x}, f, 1e-4);
      expect_forward(device(), [c](const std::vector<Tensor>& in) { return mfd_loss(in[0], c).loss; }, {x},
                     {loss_from(f, cs.d)}, 1e-4);
      expect_forward(device(), [c](const std::vector<Tensor>& in) { return mfd_loss(in[0], c).mean_abs; }, {x},
                     {loss_from(f, cs.d, true)}, 1e-4);
    }
  }
}

TEST_P(MfdLossTest, GradientsMatchFiniteDifferences) {
  struct Case { const char* what; int64_t b, d, h, w; MfdCentering c; };
  const Case cases[] = {
      {"batch centring, 7x5 maps", 3, 4, 7, 5, MfdCentering::batch},
      {"channel centring, 7x5 maps", 3, 4, 7, 5, MfdCentering::channel},
      {"h = w = 1", 6, 5, 1, 1, MfdCentering::batch},
      {"h = w = 1, channel centring", 6, 5, 1, 1, MfdCentering::channel},
      {"b = 1, channel centring", 1, 3, 4, 4, MfdCentering::channel},
      {"b = 1, batch centring (every channel dead: zero loss and gradient)", 1, 3, 4, 4, MfdCentering::batch},
  };
  uint32_t seed = 10;
  for (const Case& cs : cases) {
    SCOPED_TRACE(cs.what);
    Tensor x = random_tensor({cs.b, cs.d, cs.h, cs.w}, seed++);
    expect_gradients(device(), [cs](const std::vector<Tensor>& in) { return mfd_loss(in[0], cs.c).loss; }, {x});
  }
}

TEST_P(MfdLossTest, StagesSumTimesLambda) {
  Tensor a = make(random_values(4 * 3 * 2 * 2, 5), {4, 3, 2, 2}), b = make(random_values(4 * 5, 6), {4, 5, 1, 1});
  MfdStagesResult r = mfd_loss_stages({a, b}, 0.5);
  ASSERT_EQ(r.per_stage.size(), 2u);
  EXPECT_NEAR(r.total.item(), 0.5 * (r.per_stage[0].loss.item() + r.per_stage[1].loss.item()), 1e-9);
  EXPECT_FALSE(mfd_loss_stages({}, 1.0).total.defined());
}

TEST(MfdCenteringNames, ParseAndReject) {
  EXPECT_EQ(parse_mfd_centering("channel"), MfdCentering::channel);
  EXPECT_NE(error_message([] { parse_mfd_centering("pixel"); }).find("valid: batch, channel"), std::string::npos);
}

MFD_INSTANTIATE_DEVICES(MfdLossTest);

}  // namespace
}  // namespace mfd::test
