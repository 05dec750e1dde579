// linear: y = x w^T + b against a reference, gradients.
#include <gtest/gtest.h>

#include "engine/ops.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

class LinearTest : public DeviceTest {};

TEST_P(LinearTest, ForwardAndGradients) {
  struct Case { int64_t n, in, out; bool bias; };
  for (Case cs : {Case{3, 7, 5, true}, Case{1, 4, 3, false}, Case{5, 33, 17, true}}) {
    SCOPED_TRACE(testing::Message() << cs.n << "x" << cs.in << " -> " << cs.out);
    Tensor x = random_tensor({cs.n, cs.in}, 1), w = random_tensor({cs.out, cs.in}, 2);
    Tensor b = cs.bias ? random_tensor({cs.out}, 3) : Tensor();
    std::vector<double> xv = x.to_vector(), wv = w.to_vector(), expected;
    for (int64_t i = 0; i < cs.n; ++i)
      for (int64_t o = 0; o < cs.out; ++o) {
        double acc = cs.bias ? b.to_vector()[o] : 0.0;
        for (int64_t k = 0; k < cs.in; ++k) acc += xv[i * cs.in + k] * wv[o * cs.in + k];
        expected.push_back(acc);
      }
    auto op = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
    expect_forward(device(), op, {x, w, b}, expected);
    expect_gradients(device(), op, {x, w, b});
  }
}

TEST_P(LinearTest, RejectsFeatureMismatch) {
  Tensor x = Tensor::zeros({2, 3}, DType::f32, device()), w = Tensor::zeros({4, 5}, DType::f32, device());
  EXPECT_NE(error_message([&] { linear(x, w, Tensor()); }).find("expects 5"), std::string::npos);
}

MFD_INSTANTIATE_DEVICES(LinearTest);

}  // namespace
}  // namespace mfd::test
