// add, scale, concat_channels, reshape, flatten, sum, mean, l2_normalize.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/ops.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

class TensorOpsTest : public DeviceTest {};

TEST_P(TensorOpsTest, AddAndScale) {
  Tensor a = random_tensor({2, 3, 7, 5}, 1), b = random_tensor({2, 3, 7, 5}, 2);
  std::vector<double> av = a.to_vector(), bv = b.to_vector(), sum_ab, scaled;
  for (size_t i = 0; i < av.size(); ++i) {
    sum_ab.push_back(av[i] + bv[i]);
    scaled.push_back(-2.5 * av[i]);
  }
  auto op_add = [](const std::vector<Tensor>& in) { return add(in[0], in[1]); };
  auto op_scale = [](const std::vector<Tensor>& in) { return scale(in[0], -2.5); };
  expect_forward(device(), op_add, {a, b}, sum_ab);
  expect_forward(device(), op_scale, {a}, scaled);
  expect_gradients(device(), op_add, {a, b});
  expect_gradients(device(), op_scale, {a});
}

TEST_P(TensorOpsTest, ConcatChannels) {
  Tensor a = random_tensor({2, 3, 4, 5}, 1), b = random_tensor({2, 1, 4, 5}, 2), c = random_tensor({2, 2, 4, 5}, 3);
  std::vector<double> expected;
  const std::vector<std::pair<Tensor, int64_t>> parts = {{a, 3}, {b, 1}, {c, 2}};
  for (int64_t n = 0; n < 2; ++n)
    for (const auto& [t, ch] : parts) {
      std::vector<double> v = t.to_vector();
      expected.insert(expected.end(), v.begin() + n * ch * 20, v.begin() + (n + 1) * ch * 20);
    }
  auto op = [](const std::vector<Tensor>& in) { return concat_channels({in[0], in[1], in[2]}); };
  expect_forward(device(), op, {a, b, c}, expected);
  expect_gradients(device(), op, {a, b, c});
  // A middle piece that needs no gradient still takes its slice of dy.
  auto with_constant = [](const std::vector<Tensor>& in) {
    return concat_channels({in[0], Tensor::full({2, 1, 4, 5}, 0.5, in[0].dtype(), in[0].device()), in[1]});
  };
  expect_gradients(device(), with_constant, {a, c});
}

TEST_P(TensorOpsTest, ReshapeSharesStorageAndFlattenKeepsTheBatch) {
  Tensor x = Tensor::zeros({2, 3, 4, 5}, DType::f32, device());
  Tensor f = flatten(x);
  EXPECT_EQ(f.shape(), (Shape{2, 60}));
  EXPECT_EQ(f.raw(), x.raw());
  EXPECT_NE(error_message([&] { reshape(x, {7, 7}); }).find("cannot view"), std::string::npos);
  Tensor r = random_tensor({2, 3, 4, 5}, 4);
  auto op = [](const std::vector<Tensor>& in) { return scale(reshape(in[0], {6, 20}), 3.0); };
  expect_gradients(device(), op, {r});
}

TEST_P(TensorOpsTest, SumAndMean) {
  Tensor x = random_tensor({3, 5, 7, 5}, 5);
  double total = 0.0;
  for (double v : x.to_vector()) total += v;
  auto op_sum = [](const std::vector<Tensor>& in) { return sum(in[0]); };
  auto op_mean = [](const std::vector<Tensor>& in) { return mean(in[0]); };
  expect_forward(device(), op_sum, {x}, {total});
  expect_forward(device(), op_mean, {x}, {total / x.numel()});
  expect_gradients(device(), op_sum, {x});
  expect_gradients(device(), op_mean, {x});
}

TEST_P(TensorOpsTest, L2NormalizeRows) {
  Tensor x = random_tensor({4, 7}, 6);
  std::vector<double> v = x.to_vector(), expected;
  for (int i = 0; i < 4; ++i) {
    double sq = 0.0;
    for (int j = 0; j < 7; ++j) sq += v[i * 7 + j] * v[i * 7 + j];
    for (int j = 0; j < 7; ++j) expected.push_back(v[i * 7 + j] / std::sqrt(sq));
  }
  auto op = [](const std::vector<Tensor>& in) { return l2_normalize(in[0]); };
  expect_forward(device(), op, {x}, expected);
  expect_gradients(device(), op, {x});
  // A zero row stays zero (divided by eps), without NaN.
  Tensor zero = Tensor::zeros({2, 3}, DType::f32, device());
  for (double e : l2_normalize(zero).to_vector()) EXPECT_EQ(e, 0.0);
}

MFD_INSTANTIATE_DEVICES(TensorOpsTest);

}  // namespace
}  // namespace mfd::test
