// The tape: accumulation, leaves, no-grad mode, freeing, error cases.
#include <gtest/gtest.h>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

class AutogradTest : public DeviceTest {
 protected:
  Tensor param(std::vector<double> v) {
    return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}, DType::f32, device()).set_requires_grad(true);
  }
};

TEST_P(AutogradTest, ATensorUsedTwiceGetsBothContributions) {
  Tensor x = param({1, 2, 3});
  backward(sum(add(x, scale(x, 3.0))));  // d/dx sum(x + 3x) = 4
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{4, 4, 4}));
}

TEST_P(AutogradTest, GradientsAccumulateAcrossBackwardsUntilZeroGrad) {
  Tensor x = param({1, 2});
  backward(sum(x));
  backward(sum(scale(x, 2.0)));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{3, 3}));
  drop_grad(x);
  EXPECT_FALSE(x.grad().defined());
}

TEST_P(AutogradTest, OnlyLeavesKeepGradients) {
  Tensor x = param({1, 2});
  Tensor y = scale(x, 2.0);
  backward(sum(y));
  EXPECT_TRUE(x.is_leaf());
  EXPECT_FALSE(y.is_leaf());
  EXPECT_FALSE(y.grad().defined());
}

TEST_P(AutogradTest, NoGradModeRecordsNothing) {
  Tensor x = param({1, 2});
  {
    NoGradGuard no_grad;
    Tensor y = scale(x, 2.0);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(tape_size(), 0u);
  }
  EXPECT_TRUE(grad_enabled());
  EXPECT_NE(error_message([&] {
              NoGradGuard no_grad;
              backward(sum(x));
            }).find("does not require a gradient"),
            std::string::npos);
}

TEST_P(AutogradTest, BackwardFreesSavedActivationsAndEmptiesTheTape) {
  Tensor x = param({1, -2, 3});
  std::weak_ptr<Storage> hidden, scaled;
  Tensor loss;
  {
    Tensor s = scale(x, 2.0);
    Tensor h = relu(s);  // relu saves its output, not its input
    hidden = h.impl().storage;
    scaled = s.impl().storage;
    loss = sum(h);
  }
  EXPECT_FALSE(hidden.expired()) << "the tape keeps the activation until backward";
  EXPECT_TRUE(scaled.expired()) << "no backward reads relu's input: nothing keeps it";
  EXPECT_EQ(tape_size(), 3u);
  backward(loss);
  EXPECT_EQ(tape_size(), 0u);
  EXPECT_TRUE(hidden.expired()) << "backward released the saved activation";
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{2, 0, 2}));
}

TEST_P(AutogradTest, NonScalarRootNeedsItsGradient) {
  Tensor x = param({1, 2});
  Tensor y = scale(x, 3.0);
  EXPECT_NE(error_message([&] { backward(y); }).find("give grad_root"), std::string::npos);
  clear_tape();
  backward(scale(x, 3.0), Tensor::from_vector({1, 10}, {2}, DType::f32, device()));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{3, 30}));
}

MFD_INSTANTIATE_DEVICES(AutogradTest);

}  // namespace
}  // namespace mfd::test
