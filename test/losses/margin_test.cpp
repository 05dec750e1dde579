// AM-Softmax, ArcFace (including its fallback branch) and Center Loss: forward against naive
// references, finite-difference gradients, the centre update rule.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "losses/center_loss.h"
#include "losses/margin.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

class MarginLossTest : public DeviceTest {};

const std::vector<int32_t> kLabels = {2, 0, 4, 1};

// Cosines in (-0.95, 0.95), with sample 2's true class at -0.95: theta + 0.5 > pi there, so
// ArcFace takes its fallback branch (cos(pi - 0.5) = -0.878).
Tensor make_cosines() {
  std::vector<double> v = random_values(4 * 5, 3, -0.9, 0.9);
  v[2 * 5 + 4] = -0.95;
  return Tensor::from_vector(v, {4, 5}, DType::f64);
}

std::vector<double> naive_margin(const std::vector<double>& cos, bool arcface, double s, double m) {
  std::vector<double> out(cos.size());
  for (size_t i = 0; i < cos.size(); ++i) out[i] = s * cos[i];
  for (int i = 0; i < 4; ++i) {
    const double c = cos[i * 5 + kLabels[i]], theta = std::acos(c);
    double target = c - m;
    if (arcface) target = theta + m <= M_PI ? std::cos(theta + m) : c - m * std::sin(m);
    out[i * 5 + kLabels[i]] = s * target;
  }
  return out;
}

TEST_P(MarginLossTest, CosineLogits) {
  Tensor x = random_tensor({4, 6}, 1), w = random_tensor({5, 6}, 2);
  std::vector<double> xv = x.to_vector(), wv = w.to_vector(), expected;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 5; ++j) {
      double dot = 0, nx = 0, nw = 0;
      for (int e = 0; e < 6; ++e) {
        dot += xv[i * 6 + e] * wv[j * 6 + e];
        nx += xv[i * 6 + e] * xv[i * 6 + e];
        nw += wv[j * 6 + e] * wv[j * 6 + e];
      }
      expected.push_back(dot / std::sqrt(nx * nw));
    }
  auto op = [](const std::vector<Tensor>& in) { return cosine_logits(in[0], in[1]); };
  expect_forward(device(), op, {x, w}, expected);
  expect_gradients(device(), op, {x, w});
}

TEST_P(MarginLossTest, AmSoftmaxLogits) {
  Tensor cos = make_cosines(), labels = Tensor::from_labels(kLabels);
  auto op = [](const std::vector<Tensor>& in) { return am_softmax_logits(in[0], in[1]); };
  expect_forward(device(), op, {cos, labels}, naive_margin(cos.to_vector(), false, 30, 0.35));
  expect_gradients(device(), op, {cos, labels});
}

TEST_P(MarginLossTest, ArcFaceLogitsIncludingTheFallbackBranch) {
  Tensor cos = make_cosines(), labels = Tensor::from_labels(kLabels);
  auto op = [](const std::vector<Tensor>& in) { return arcface_logits(in[0], in[1]); };
  std::vector<double> expected = naive_margin(cos.to_vector(), true, 64, 0.5);
  EXPECT_NEAR(expected[2 * 5 + 4], 64 * (-0.95 - 0.5 * std::sin(0.5)), 1e-9) << "fallback taken";
  expect_forward(device(), op, {cos, labels}, expected);
  expect_gradients(device(), op, {cos, labels});
}

TEST_P(MarginLossTest, CenterLossValueGradientAndUpdate) {
  Tensor x = random_tensor({4, 3}, 5);
  Tensor labels = Tensor::from_labels({1, 0, 1, 2});
  std::vector<double> c0 = random_values(3 * 3, 6);
  auto make_loss = [&](Device d, DType t) {
    auto cl = std::make_shared<CenterLoss>(3, 3, 0.5);
    cl->centers() = Tensor::from_vector(c0, {3, 3}, t, d);
    return cl;
  };
  std::vector<double> xv = x.to_vector();
  const int y[4] = {1, 0, 1, 2};
  double expected = 0.0;
  for (int i = 0; i < 4; ++i)
    for (int e = 0; e < 3; ++e) expected += 0.5 * std::pow(xv[i * 3 + e] - c0[y[i] * 3 + e], 2) / 4;
  auto op = [&](const std::vector<Tensor>& in) {
    return make_loss(in[0].device(), in[0].dtype())->loss(in[0], in[1]);
  };
  expect_forward(device(), op, {x, labels}, {expected});
  expect_gradients(device(), op, {x, labels});

  // float32 on CUDA: each centre moves by a mean of at most 4 differences of values in [-1, 1],
  // a few roundings of 6e-8: 1e-6 is a margin of 4 or more.
  DType t = device() == Device::cpu ? DType::f64 : DType::f32;
  auto cl = make_loss(device(), t);
  cl->update_centers(to_test_tensor(x, device(), t), to_test_tensor(labels, device(), t));
  std::vector<double> c1 = cl->centers().to_vector();
  for (int c = 0; c < 3; ++c)
    for (int e = 0; e < 3; ++e) {
      double delta = 0.0;
      int n = 0;
      for (int i = 0; i < 4; ++i)
        if (y[i] == c) {
          delta += c0[c * 3 + e] - xv[i * 3 + e];
          ++n;
        }
      EXPECT_NEAR(c1[c * 3 + e], c0[c * 3 + e] - 0.5 * delta / (1 + n), 1e-6);
    }
}

TEST_P(MarginLossTest, LabelsOutOfRangeAreRefused) {
  Tensor cos = Tensor::zeros({2, 3}, DType::f32, device());
  EXPECT_NE(error_message([&] { arcface_logits(cos, Tensor::from_labels({0, 5}, device())); }).find("label 5"),
            std::string::npos);
  CenterLoss cl(3, 2);
  cl.to(device());
  EXPECT_NE(error_message([&] { cl.loss(Tensor::zeros({1, 2}, DType::f32, device()), Tensor::from_labels({-1}, device())); })
                .find("label -1"),
            std::string::npos);
}

MFD_INSTANTIATE_DEVICES(MarginLossTest);

}  // namespace
}  // namespace mfd::test
