// SGD against PyTorch's update rule written out by hand, and the multi-step schedule.
#include <gtest/gtest.h>

#include "engine/autograd.h"
#include "engine/optimizer.h"
#include "engine/ops.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

class SgdTest : public DeviceTest {};

TEST_P(SgdTest, TwoStepsFollowPyTorchsRule) {
  Tensor w = Tensor::from_vector({1.0, -2.0}, {2}, DType::f32, device()).set_requires_grad(true);
  Tensor unused = Tensor::from_vector({7.0}, {1}, DType::f32, device()).set_requires_grad(true);
  std::vector<NamedTensor> params = {{"w", &w}, {"unused", &unused}};
  SGD opt(params, 0.1, 0.9, 0.01);
  // Step 1 with g = (3, 3): d = g + wd w = (3.01, 2.98); v = d; w -= 0.1 v.
  backward(sum(scale(w, 3.0)));
  opt.step();
  std::vector<double> w1 = w.to_vector();
  EXPECT_NEAR(w1[0], 1.0 - 0.1 * 3.01, 1e-6);
  EXPECT_NEAR(w1[1], -2.0 - 0.1 * 2.98, 1e-6);
  // Step 2, after zeroing the gradient as a training loop does: v = 0.9 v + g + wd w.
  drop_grad(w);
  backward(sum(scale(w, 3.0)));
  opt.step();
  std::vector<double> w2 = w.to_vector();
  for (int i = 0; i < 2; ++i) {
    double v1 = 3.0 + 0.01 * (i ? -2.0 : 1.0);
    double v2 = 0.9 * v1 + 3.0 + 0.01 * w1[i];
    EXPECT_NEAR(w2[i], w1[i] - 0.1 * v2, 1e-6);
  }
  EXPECT_EQ(unused.to_vector()[0], 7.0) << "a parameter without gradient is left alone";
}

TEST(MultiStepLRTest, DividesByTenAtEachMilestone) {
  MultiStepLR s(0.1, {30, 60, 90});
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.1);
  EXPECT_DOUBLE_EQ(s.lr_at(29), 0.1);
  EXPECT_NEAR(s.lr_at(30), 0.01, 1e-15);
  EXPECT_NEAR(s.lr_at(59), 0.01, 1e-15);
  EXPECT_NEAR(s.lr_at(60), 0.001, 1e-15);
  EXPECT_NEAR(s.lr_at(99), 0.0001, 1e-15);
}

MFD_INSTANTIATE_DEVICES(SgdTest);

}  // namespace
}  // namespace mfd::test
