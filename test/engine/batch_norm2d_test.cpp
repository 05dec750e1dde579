// batch_norm2d: training and evaluation forward against a reference, running statistics,
// gradients in both modes, and the one-value-per-channel error.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/ops.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

struct BnCase {
  const char* what;
  int64_t n, c, h, w;
};
const BnCase kCases[] = {{"7x5 maps, 3 channels", 2, 3, 7, 5}, {"batch 1, 5x3 maps", 1, 5, 5, 3},
                         {"1x1 maps, batch 4", 4, 2, 1, 1}};

// Per-channel mean and biased variance over (N, H, W), in double.
void channel_stats(const BnCase& cs, const std::vector<double>& x, int64_t c, double& mean, double& var) {
  const int64_t m = cs.h * cs.w;
  double s = 0.0, sq = 0.0;
  for (int64_t n = 0; n < cs.n; ++n)
    for (int64_t i = 0; i < m; ++i) s += x[(n * cs.c + c) * m + i];
  mean = s / (cs.n * m);
  for (int64_t n = 0; n < cs.n; ++n)
    for (int64_t i = 0; i < m; ++i) sq += std::pow(x[(n * cs.c + c) * m + i] - mean, 2);
  var = sq / (cs.n * m);
}

std::vector<double> reference(const BnCase& cs, const std::vector<double>& x, const std::vector<double>& gamma,
                              const std::vector<double>& beta, const std::vector<double>* run_mean,
                              const std::vector<double>* run_var) {
  const int64_t m = cs.h * cs.w;
  std::vector<double> y(x.size());
  for (int64_t c = 0; c < cs.c; ++c) {
    double mean, var;
    if (run_mean) {
      mean = (*run_mean)[c];
      var = (*run_var)[c];
    } else {
      channel_stats(cs, x, c, mean, var);
    }
    for (int64_t n = 0; n < cs.n; ++n)
      for (int64_t i = 0; i < m; ++i) {
        const int64_t k = (n * cs.c + c) * m + i;
        y[k] = (x[k] - mean) / std::sqrt(var + 1e-5) * gamma[c] + beta[c];
      }
  }
  return y;
}

class BatchNorm2dTest : public DeviceTest {};

// Differentiated inputs: x, gamma, beta. The running statistics are state: each call starts
// from fresh copies of in[3] and in[4], and they get no gradient.
OpFn bn_op(bool training, const std::vector<Tensor>& in) {
  Tensor rm0 = in[3], rv0 = in[4];
  return [training, rm0, rv0](const std::vector<Tensor>& x) {
    Tensor rm = to_test_tensor(rm0, x[0].device(), x[0].dtype());
    Tensor rv = to_test_tensor(rv0, x[0].device(), x[0].dtype());
    return batch_norm2d(x[0], x[1], x[2], rm, rv, training);
  };
}

std::vector<Tensor> bn_inputs(const BnCase& cs, uint32_t seed) {
  return {random_tensor({cs.n, cs.c, cs.h, cs.w}, seed, DType::f64, -2.0, 3.0),
          random_tensor({cs.c}, seed + 1, DType::f64, 0.5, 1.5), random_tensor({cs.c}, seed + 2),
          random_tensor({cs.c}, seed + 3), random_tensor({cs.c}, seed + 4, DType::f64, 0.5, 2.0)};
}

std::vector<Tensor> differentiated(const std::vector<Tensor>& in) { return {in[0], in[1], in[2]}; }

TEST_P(BatchNorm2dTest, TrainingForwardUsesBatchStatistics) {
  uint32_t seed = 1;
  for (const BnCase& cs : kCases) {
    SCOPED_TRACE(cs.what);
    std::vector<Tensor> in = bn_inputs(cs, seed += 10);
    expect_forward(device(), bn_op(true, in), differentiated(in),
                   reference(cs, in[0].to_vector(), in[1].to_vector(), in[2].to_vector(), nullptr, nullptr));
  }
}

TEST_P(BatchNorm2dTest, EvaluationForwardUsesRunningStatistics) {
  BnCase cs = kCases[0];
  std::vector<Tensor> in = bn_inputs(cs, 7);
  std::vector<double> rm = in[3].to_vector(), rv = in[4].to_vector();
  expect_forward(device(), bn_op(false, in), differentiated(in),
                 reference(cs, in[0].to_vector(), in[1].to_vector(), in[2].to_vector(), &rm, &rv));
}

TEST_P(BatchNorm2dTest, RunningStatisticsFollowPyTorch) {
  BnCase cs = kCases[0];
  std::vector<Tensor> in = bn_inputs(cs, 3);
  std::vector<double> x = in[0].to_vector(), rm0 = in[3].to_vector(), rv0 = in[4].to_vector();
  DType dtype = device() == Device::cpu ? DType::f64 : DType::f32;
  Tensor rm = to_test_tensor(in[3], device(), dtype), rv = to_test_tensor(in[4], device(), dtype);
  batch_norm2d(to_test_tensor(in[0], device(), dtype), to_test_tensor(in[1], device(), dtype),
               to_test_tensor(in[2], device(), dtype), rm, rv, true, 0.1, 1e-5);
  std::vector<double> rm1 = rm.to_vector(), rv1 = rv.to_vector();
  const double count = cs.n * cs.h * cs.w;
  // float32 on CUDA: a mean and variance of count = 70 values in [-1, 1], summed in double there,
  // then rounded once (u = 6e-8) and blended: errors of a few 1e-8, 1e-6 is a margin of 10.
  for (int64_t c = 0; c < cs.c; ++c) {
    double mean, var;
    channel_stats(cs, x, c, mean, var);
    EXPECT_NEAR(rm1[c], 0.9 * rm0[c] + 0.1 * mean, 1e-6);
    EXPECT_NEAR(rv1[c], 0.9 * rv0[c] + 0.1 * var * count / (count - 1), 1e-6) << "unbiased variance";
  }
}

TEST_P(BatchNorm2dTest, GradientsMatchFiniteDifferencesInTraining) {
  uint32_t seed = 50;
  for (const BnCase& cs : kCases) {
    SCOPED_TRACE(cs.what);
    std::vector<Tensor> in = bn_inputs(cs, seed += 10);
    expect_gradients(device(), bn_op(true, in), differentiated(in));
  }
}

TEST_P(BatchNorm2dTest, GradientsMatchFiniteDifferencesInEvaluation) {
  std::vector<Tensor> in = bn_inputs(kCases[0], 99);
  expect_gradients(device(), bn_op(false, in), differentiated(in));
}

// The input gradient's first writer assigns it and later ones add (GradWrite), through batch
// statistics (training) and through constant ones (evaluation).
TEST_P(BatchNorm2dTest, InputGradientIsAssignedOrAccumulated) {
  const DType dtype = device() == Device::cpu ? DType::f64 : DType::f32;
  for (const BnCase& cs : kCases) {
    SCOPED_TRACE(cs.what);
    std::vector<Tensor> in = bn_inputs(cs, 60);
    const Tensor x = to_test_tensor(in[0], device(), dtype), gamma = to_test_tensor(in[1], device(), dtype);
    const Tensor mean = to_test_tensor(random_tensor({cs.c}, 65), device(), dtype);
    const Tensor invstd = to_test_tensor(random_tensor({cs.c}, 66, DType::f64, 0.5, 2.0), device(), dtype);
    const Tensor dy = to_test_tensor(random_tensor(x.shape(), 67), device(), dtype);
    for (bool training : {true, false}) {
      expect_grad_write_contract(device(), dtype, x.shape(), [&](Tensor& dx, GradWrite write) {
        Tensor dgamma = Tensor::zeros_like(gamma), dbeta = Tensor::zeros_like(gamma);
        backend_for(x).batch_norm_backward(x, gamma, mean, invstd, dy, training, dx, dgamma, dbeta, write);
      });
    }
  }
}

TEST_P(BatchNorm2dTest, RefusesOneValuePerChannelInTraining) {
  Tensor x = Tensor::zeros({1, 3, 1, 1}, DType::f32, device());
  Tensor g = Tensor::full({3}, 1.0, DType::f32, device()), b = Tensor::zeros({3}, DType::f32, device());
  Tensor rm = Tensor::zeros({3}, DType::f32, device()), rv = Tensor::full({3}, 1.0, DType::f32, device());
  EXPECT_NE(error_message([&] { batch_norm2d(x, g, b, rm, rv, true); }).find("more than 1 value per channel"),
            std::string::npos);
  EXPECT_EQ(error_message([&] { batch_norm2d(x, g, b, rm, rv, false); }), "") << "evaluation accepts it";
}

TEST(BatchNorm2dStability, LargeOffsetDoesNotCancel) {
  // Values 1e4 + noise of 1e-2: in float32 a one-pass E[x^2] - E[x]^2 loses the whole variance.
  BnCase cs{"offset", 2, 1, 8, 8};
  std::vector<double> v = random_values(128, 5, -0.01, 0.01);
  for (double& x : v) x = static_cast<float>(x + 1e4);  // the values float32 actually holds
  Tensor x = Tensor::from_vector(v, {2, 1, 8, 8}, DType::f32);
  Tensor g = Tensor::full({1}, 1.0), b = Tensor::zeros({1}), rm = Tensor::zeros({1}), rv = Tensor::full({1}, 1.0);
  std::vector<double> y = batch_norm2d(x, g, b, rm, rv, true).to_vector();
  std::vector<double> expected = reference(cs, v, {1.0}, {0.0}, nullptr, nullptr);
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], expected[i], 1e-3) << i;
}

MFD_INSTANTIATE_DEVICES(BatchNorm2dTest);

}  // namespace
}  // namespace mfd::test
