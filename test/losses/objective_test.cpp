// The training objective: each loss kind, alone and + MFD, sums its terms as eq. 7 says and
// passes gradient checks; bad names and stages are refused with the valid choices.
#include <gtest/gtest.h>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "losses/objective.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

class ObjectiveTest : public DeviceTest {};

TEST_P(ObjectiveTest, EveryLossAloneAndWithMfd) {
  const Tensor labels = Tensor::from_labels({1, 0, 2, 1});
  const Tensor logits = random_tensor({4, 3}, 1), embedding = random_tensor({4, 5}, 2);
  const Tensor stage0 = random_tensor({4, 3, 2, 2}, 3), stage1 = random_tensor({4, 4, 1, 1}, 4);
  for (LossKind kind : {LossKind::softmax, LossKind::center, LossKind::amsoftmax, LossKind::arcface}) {
    for (double lambda : {0.0, 0.7}) {
      SCOPED_TRACE(testing::Message() << loss_kind_name(kind) << " lambda " << lambda);
      ObjectiveConfig cfg;
      cfg.kind = kind;
      cfg.lambda = lambda;
      cfg.mfd_stages = {0, 1};
      cfg.center_weight = 0.5;  // large enough for the check to see the centre term
      // A fresh objective per call, so that every evaluation sees the same weights and centres.
      auto op = [cfg, kind](const std::vector<Tensor>& in) {
        Generator gen(5);
        Objective objective(cfg, 3, 5, gen);
        objective.to(in[0].device());
        objective.to(in[0].dtype());
        if (kind == LossKind::center) {  // non-zero centres
          Tensor& c = objective.named_buffers()[0].second[0];
          c = to_test_tensor(random_tensor({3, 5}, 9), in[0].device(), in[0].dtype());
        }
        return objective.compute(in[0], in[1], {in[2], in[3]}, in[4]).total;
      };
      expect_gradients(device(), op, {logits, embedding, stage0, stage1, labels});

      NoGradGuard no_grad;
      Generator gen(5);
      Objective objective(cfg, 3, 5, gen);
      objective.to(DType::f64);
      Objective::Terms t = objective.compute(logits, embedding, {stage0, stage1}, labels);
      double expected = t.classification.item();
      ASSERT_EQ(t.mfd.size(), lambda > 0 ? 2u : 0u);
      for (const MfdResult& r : t.mfd) expected += lambda * r.loss.item();
      EXPECT_NEAR(t.total.item(), expected, 1e-12);
      if (kind == LossKind::softmax) {
        EXPECT_NEAR(t.classification.item(), cross_entropy(logits, labels).item(), 1e-12);
      }
      EXPECT_EQ(objective.scores(logits, embedding).shape(), (Shape{4, 3}));
    }
  }
}

TEST(ObjectiveNames, InvalidChoicesListTheValidOnes) {
  EXPECT_EQ(parse_loss_kind("arcface"), LossKind::arcface);
  EXPECT_NE(error_message([] { parse_loss_kind("cosface"); }).find("valid: softmax, center, amsoftmax, arcface"),
            std::string::npos);
  ObjectiveConfig cfg;
  cfg.mfd_stages = {-1};
  Generator gen(0);
  EXPECT_NE(error_message([&] { Objective o(cfg, 3, 4, gen); }).find("MFD stage -1 is negative"), std::string::npos);
  // A stage the model does not have is found where its outputs are known.
  cfg.lambda = 1.0;
  cfg.mfd_stages = {2};
  Objective o(cfg, 3, 4, gen);
  const Tensor logits = Tensor::zeros({2, 3}), embedding = Tensor::zeros({2, 4});
  EXPECT_NE(error_message([&] { o.compute(logits, embedding, {Tensor::zeros({2, 1, 1, 1})}, Tensor::from_labels({0, 1})); })
                .find("MFD stage 2 asked for, the model gives 1"),
            std::string::npos);
}

MFD_INSTANTIATE_DEVICES(ObjectiveTest);

}  // namespace
}  // namespace mfd::test
