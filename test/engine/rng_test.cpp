// The counter-based generator and the initialisers: reproducible, independent of threads,
// with the right moments.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "engine/philox.h"
#include "engine/rng.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

void moments(const std::vector<double>& v, double& mean, double& var) {
  mean = 0.0;
  for (double x : v) mean += x;
  mean /= v.size();
  var = 0.0;
  for (double x : v) var += (x - mean) * (x - mean);
  var /= v.size();
}

TEST(PhiloxTest, KnownAnswerFromTheRandom123Paper) {
  // Philox4x32-10 test vector (Random123 kat_vectors): counter 0, key 0.
  Philox4 r = philox4x32(0, 0);
  EXPECT_EQ(r.v[0], 0x6627e8d5u);
  EXPECT_EQ(r.v[1], 0xe169c58du);
  EXPECT_EQ(r.v[2], 0xbc57ac4cu);
  EXPECT_EQ(r.v[3], 0x9b00dbd8u);
}

class RngTest : public DeviceTest {};

TEST_P(RngTest, SameSeedSameValuesAndDrawsAdvance) {
  Generator a(42), b(42);
  Tensor x = Tensor::empty({1000}, DType::f32, device()), y = Tensor::empty_like(x), z = Tensor::empty_like(x);
  a.uniform_(x, 0, 1);
  b.uniform_(y, 0, 1);
  a.uniform_(z, 0, 1);
  EXPECT_EQ(x.to_vector(), y.to_vector());
  EXPECT_NE(x.to_vector(), z.to_vector());
  EXPECT_EQ(a.offset(), 2000u);
  Generator resumed(42, a.offset() - 1000);  // restored from a checkpoint's (seed, offset)
  Tensor again = Tensor::empty_like(x);
  resumed.uniform_(again, 0, 1);
  EXPECT_EQ(again.to_vector(), z.to_vector());
}

TEST_P(RngTest, UniformAndNormalMoments) {
  Generator g(1);
  Tensor u = Tensor::empty({200000}, DType::f32, device()), n = Tensor::empty_like(u);
  g.uniform_(u, -1, 3);
  g.normal_(n, 2, 0.5);
  double mean, var;
  moments(u.to_vector(), mean, var);
  EXPECT_NEAR(mean, 1.0, 0.01);
  EXPECT_NEAR(var, 16.0 / 12.0, 0.01);
  moments(n.to_vector(), mean, var);
  EXPECT_NEAR(mean, 2.0, 0.005);
  EXPECT_NEAR(std::sqrt(var), 0.5, 0.005);
}

TEST_P(RngTest, KaimingNormalFanOutAsTorchvision) {
  Generator g(3);
  Tensor w = Tensor::empty({64, 32, 3, 3}, DType::f32, device());
  kaiming_normal_fan_out(w, g);  // std = sqrt(2 / (64 * 9))
  double mean, var;
  moments(w.to_vector(), mean, var);
  EXPECT_NEAR(std::sqrt(var), std::sqrt(2.0 / (64 * 9)), 0.002);
  EXPECT_EQ(fan_in(w), 32 * 9);
  Tensor lin = Tensor::empty({10, 300}, DType::f32, device()), bias = Tensor::empty({10}, DType::f32, device());
  default_uniform(lin, bias, g);
  for (double v : lin.to_vector()) ASSERT_LE(std::abs(v), 1.0 / std::sqrt(300.0));
}

TEST(RngThreads, ValuesDoNotDependOnTheThreadCount) {
  Tensor a = Tensor::empty({100003}), b = Tensor::empty_like(a);
  int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  Generator(9).normal_(a, 0, 1);
  omp_set_num_threads(std::max(2, threads));
  Generator(9).normal_(b, 0, 1);
  omp_set_num_threads(threads);
  EXPECT_EQ(a.to_vector(), b.to_vector());
}

MFD_INSTANTIATE_DEVICES(RngTest);

}  // namespace
}  // namespace mfd::test
