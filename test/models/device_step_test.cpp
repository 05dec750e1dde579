// One training step of each network (forward in training mode, softmax + MFD on every stage,
// backward) on the device under test in float32, against the same step on the CPU in float64:
// the loss, the logits and every parameter's gradient. On the CPU this checks float32 against
// float64; on CUDA it checks cuDNN, cuBLAS and the own kernels together, as a network uses them.
//
// The tolerances are measured here, not fixed. A network's gradient is piecewise smooth: a ReLU
// or ReLU6 input within rounding of its kink takes the other branch in float32 than in float64,
// and the gradient jumps by a finite amount that batch norm's backward spreads over every earlier
// layer. Which inputs lie that close depends on the rounding, so on the BLAS kernels the CPU picks
// and on cuDNN's algorithms: one set-up gave worst gradient errors of 2e-5 with one OpenBLAS
// kernel set and 7% with another. So the test measures, in exact arithmetic, how far the step
// moves when the input is perturbed by a relative 1e-6 (two draws): the spread. Over 11 set-ups,
// 6 OpenBLAS kernel sets and 1 and 2 threads, the worst float32 gradient error of a network never
// exceeded 1.03 times the largest spread of its gradients (docs/design-notes.md, "How a tolerance
// is chosen"), so every gradient may differ by 3 times that, or by 1e-3 where the spread is
// smaller (float32 errors without a flipped kink stayed below 5e-5). The loss and logits are
// continuous, with float32 errors below 2.2e-5: they may differ by 1e-4, or 3 times their own
// spread. A set-up whose spread would make the gradient bound too loose to catch a mistake of
// order 1 (an indexing or accumulation error) fails instead: the cases below were chosen where the
// spread is small, with batch norm seeing at least 128 values per channel (but mobilenet_v2's
// last stage: 2x2 maps at batch 16, 64 values; its measured spread stays small, 0.030).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "engine/autograd.h"
#include "losses/objective.h"
#include "models/model.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

struct Case {
  std::string model;
  double width;
  int image_size, batch;
};

struct Step {
  double loss = 0;
  std::vector<double> logits;
  std::vector<std::pair<std::string, std::vector<double>>> grads;
};

// The input, rounded to float32 so that every run (float32 or float64) starts from the same values.
Tensor input_of(const Case& c) {
  return random_tensor({c.batch, 3, c.image_size, c.image_size}, 11).to(DType::f32).to(DType::f64);
}

// x * (1 + delta * s) with random signs s, as a float64 tensor.
Tensor perturbed(const Tensor& x, double delta, uint32_t seed) {
  std::vector<double> v = x.to_vector();
  std::mt19937 rng(seed);
  for (double& e : v) e *= 1 + ((rng() & 1) ? delta : -delta);
  return Tensor::from_vector(v, x.shape(), DType::f64);
}

Step one_step(const Case& c, const Tensor& input, Device device, DType dtype) {
  Generator gen(3);
  ModelConfig cfg;
  cfg.num_classes = 10;
  cfg.image_size = c.image_size;
  cfg.width = c.width;
  std::shared_ptr<Model> model = make_model(c.model, cfg, gen);
  ObjectiveConfig oc;
  oc.lambda = 1.0;
  Objective objective(oc, 10, model->embedding_dim(), gen);
  model->to(dtype);
  model->to(device);
  std::vector<int32_t> labels(c.batch);
  for (int i = 0; i < c.batch; ++i) labels[i] = i % 10;
  const ModelOutput o = model->run(input.to(dtype).to(device));
  const Objective::Terms terms = objective.compute(o.logits, o.embedding, o.stages, Tensor::from_labels(labels, device));
  backward(terms.total);
  Step s;
  s.loss = terms.total.item();
  s.logits = o.logits.to(Device::cpu).to_vector();
  for (const auto& [param, t] : model->named_parameters()) s.grads.emplace_back(param, grad_of(*t).to(Device::cpu).to_vector());
  return s;
}

double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

// ||got - want|| / max(||want||, floor). The floor matters for gradients that are (nearly) 0 in
// exact arithmetic, such as the bias of a batch norm whose output mostly reaches further batch
// norms, where float32 leaves only rounding.
double relative_error(const std::vector<double>& got, const std::vector<double>& want, double floor = 1e-12) {
  std::vector<double> diff(want.size());
  for (size_t i = 0; i < want.size(); ++i) diff[i] = got[i] - want[i];
  return norm(diff) / std::max(norm(want), floor);
}

// Relative errors of one step against the reference: [0] the loss, [1] the logits, [2 + i] the
// gradient of parameter i (with a floor of 1e-3 of the largest gradient's norm).
std::vector<double> errors(const Step& got, const Step& want) {
  double largest = 0;
  for (const auto& [param, g] : want.grads) largest = std::max(largest, norm(g));
  std::vector<double> e = {std::fabs(got.loss - want.loss) / std::fabs(want.loss), relative_error(got.logits, want.logits)};
  for (size_t i = 0; i < want.grads.size(); ++i) e.push_back(relative_error(got.grads[i].second, want.grads[i].second, 1e-3 * largest));
  return e;
}

class DeviceStepTest : public DeviceTest {};

TEST_P(DeviceStepTest, EachNetworkMatchesTheCpuInFloat64) {
  const double delta = 1e-6, forward_floor = 1e-4, gradient_floor = 1e-3, loosest = 0.25;
  // Largest gradient spreads measured: 0.0034, 0.026, 0.037, 0.030, 0.023.
  const std::vector<Case> cases = {{"resnet18", 0.25, 16, 64},
                                   {"resnext50_32x4d", 0.125, 24, 32},
                                   {"densenet121", 0.125, 16, 32},
                                   {"mobilenet_v2", 0.25, 48, 16},
                                   {"wide_resnet28_10", 0.125, 16, 32}};
  for (const Case& c : cases) {
    const Tensor x = input_of(c);
    const Step want = one_step(c, x, Device::cpu, DType::f64);
    std::vector<double> spread(2 + want.grads.size(), 0.0);
    for (uint32_t draw = 0; draw < 2; ++draw) {
      const std::vector<double> e = errors(one_step(c, perturbed(x, delta, 100 + draw), Device::cpu, DType::f64), want);
      for (size_t i = 0; i < e.size(); ++i) spread[i] = std::max(spread[i], e[i]);
    }
    const Step got = one_step(c, x, device(), DType::f32);
    ASSERT_EQ(got.grads.size(), want.grads.size());
    const std::vector<double> err = errors(got, want);
    const double gradient_spread = *std::max_element(spread.begin() + 2, spread.end());
    const double gradient_bound = std::max(gradient_floor, 3 * gradient_spread);
    EXPECT_LT(gradient_bound, loosest) << c.model << ": too ill-conditioned in this set-up to catch a mistake";
    double worst = 0;
    for (size_t i = 0; i < err.size(); ++i) {
      if (i < 2) {
        EXPECT_LT(err[i], std::max(forward_floor, 3 * spread[i])) << c.model << (i == 0 ? ": the loss" : ": the logits");
        continue;
      }
      worst = std::max(worst, err[i]);
      EXPECT_LT(err[i], gradient_bound) << c.model << ": the gradient of " << want.grads[i - 2].first;
    }
    std::printf("%s (%dx%d, batch %d): relative error of the loss %.2g, of the logits %.2g; worst gradient %.2g, "
                "bound %.2g (spread in exact arithmetic %.2g)\n",
                c.model.c_str(), c.image_size, c.image_size, c.batch, err[0], err[1], worst, gradient_bound, gradient_spread);
  }
}

MFD_INSTANTIATE_DEVICES(DeviceStepTest);

}  // namespace
}  // namespace mfd::test
