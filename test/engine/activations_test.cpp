// relu, relu6 and dropout.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

class ActivationsTest : public DeviceTest {};

TEST_P(ActivationsTest, ReluAndRelu6) {
  // Values spread over (-8, 8), none within 0.05 of the kinks at 0 and 6.
  std::vector<double> v = random_values_away_from_zero(3 * 5 * 7 * 5, 1, 0.05);
  for (double& x : v) {
    x *= 8.0;
    if (std::abs(x - 6.0) < 0.05) x += 0.1;
  }
  Tensor x = Tensor::from_vector(v, {3, 5, 7, 5}, DType::f64);
  std::vector<double> r, r6;
  for (double e : v) {
    r.push_back(std::max(e, 0.0));
    r6.push_back(std::min(std::max(e, 0.0), 6.0));
  }
  auto op_relu = [](const std::vector<Tensor>& in) { return relu(in[0]); };
  auto op_relu6 = [](const std::vector<Tensor>& in) { return relu6(in[0]); };
  expect_forward(device(), op_relu, {x}, r);
  expect_forward(device(), op_relu6, {x}, r6);
  expect_gradients(device(), op_relu, {x});
  expect_gradients(device(), op_relu6, {x});
}

// The input gradient's first writer assigns it and later ones add (GradWrite).
TEST_P(ActivationsTest, ReluGradientIsAssignedOrAccumulated) {
  const DType dtype = device() == Device::cpu ? DType::f64 : DType::f32;
  const Tensor y = to_test_tensor(random_tensor({3, 5, 7, 5}, 2, DType::f64, -1.0, 8.0), device(), dtype);
  const Tensor dy = to_test_tensor(random_tensor(y.shape(), 3), device(), dtype);
  for (double cap : {std::numeric_limits<double>::infinity(), 6.0}) {
    expect_grad_write_contract(device(), dtype, y.shape(), [&](Tensor& dx, GradWrite write) {
      backend_for(y).relu_backward(y, dy, cap, dx, write);
    });
  }
}

TEST_P(ActivationsTest, DropoutScalesKeptValuesAndIsIdentityInEvaluation) {
  const double p = 0.2;
  Tensor x = Tensor::full({4, 8, 16, 16}, 1.0, DType::f32, device());
  Generator gen(7);
  std::vector<double> y = dropout(x, p, true, gen).to_vector();
  int64_t kept = 0;
  for (double e : y) {
    ASSERT_TRUE(e == 0.0 || std::abs(e - 1.0 / (1.0 - p)) < 1e-6) << e;
    kept += e != 0.0;
  }
  EXPECT_NEAR(static_cast<double>(kept) / y.size(), 1.0 - p, 0.01);
  EXPECT_TRUE(dropout(x, p, false, gen).same(x));
  EXPECT_TRUE(dropout(x, 0.0, true, gen).same(x));
}

TEST_P(ActivationsTest, DropoutFollowsTheSeedAndPassesGradientsThroughTheMask) {
  Tensor x = random_tensor({3, 5, 7, 5}, 2);
  // The generator is made inside the op, so that every call draws the same mask.
  auto op = [](const std::vector<Tensor>& in) {
    Generator gen(11);
    return dropout(in[0], 0.3, true, gen);
  };
  std::vector<double> first, second;
  {
    NoGradGuard no_grad;
    first = op({to_test_tensor(x, device(), DType::f32)}).to_vector();
    second = op({to_test_tensor(x, device(), DType::f32)}).to_vector();
  }
  EXPECT_EQ(first, second);
  expect_gradients(device(), op, {x});
}

MFD_INSTANTIATE_DEVICES(ActivationsTest);

}  // namespace
}  // namespace mfd::test
