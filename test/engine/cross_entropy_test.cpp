// Softmax cross-entropy: value against log-sum-exp by hand, stability, gradients, bad labels.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/ops.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

class CrossEntropyTest : public DeviceTest {};

double reference_loss(const std::vector<double>& z, const std::vector<int32_t>& y, int64_t k) {
  double total = 0.0;
  for (size_t i = 0; i < y.size(); ++i) {
    double denom = 0.0;
    for (int64_t j = 0; j < k; ++j) denom += std::exp(z[i * k + j]);
    total += std::log(denom) - z[i * k + y[i]];
  }
  return total / y.size();
}

TEST_P(CrossEntropyTest, ValueAndGradients) {
  const int64_t n = 5, k = 7;
  Tensor z = random_tensor({n, k}, 1, DType::f64, -3.0, 3.0);
  std::vector<int32_t> y = {0, 6, 3, 3, 1};
  Tensor labels = Tensor::from_labels(y);
  auto op = [](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1]); };
  expect_forward(device(), op, {z, labels}, {reference_loss(z.to_vector(), y, k)});
  expect_gradients(device(), op, {z, labels});
}

TEST_P(CrossEntropyTest, LargeLogitsStayFinite) {
  Tensor z = Tensor::from_vector({1000.0, 0.0, -1000.0, 500.0}, {2, 2}, DType::f32, device());
  Tensor y = Tensor::from_labels({1, 0}, device());
  // Row 0: log(e^1000 + 1) - 0 = 1000; row 1: log(e^-1000 + e^500) - (-1000) = 1500.
  EXPECT_NEAR(cross_entropy(z, y).item(), 1250.0, 1e-3);
}

// A bad label is an Error naming it: on the CPU at once, on CUDA at the next read of a result
// (the check runs on the device and a step does not wait for it), before the value is used.
TEST_P(CrossEntropyTest, RejectsLabelsOutOfRange) {
  Tensor z = Tensor::zeros({2, 3}, DType::f32, device());
  EXPECT_NE(error_message([&] { cross_entropy(z, Tensor::from_labels({0, 3}, device())).item(); })
                .find("label 3 of sample 1 is outside [0, 3)"),
            std::string::npos);
  EXPECT_EQ(error_message([&] { cross_entropy(z, Tensor::from_labels({0, 2}, device())).item(); }), "")
      << "a good batch after a bad one is fine: the report was made once";
  EXPECT_NE(error_message([&] { cross_entropy(z, Tensor::from_labels({0}, device())); }).find("labels must be i32"),
            std::string::npos);
}

MFD_INSTANTIATE_DEVICES(CrossEntropyTest);

}  // namespace
}  // namespace mfd::test
