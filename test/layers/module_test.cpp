// The module system: torchvision-style names, modes, parameter counts, conversions.
#include <gtest/gtest.h>

#include "engine/autograd.h"
#include "layers/layers.h"
#include "models/small_cnn.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

std::vector<std::string> names(const std::vector<NamedTensor>& v) {
  std::vector<std::string> out;
  for (const auto& [name, t] : v) out.push_back(name);
  return out;
}

TEST(ModuleTest, NamesFollowTorchSequential) {
  Generator g(0);
  SmallCnn model(1, 28, 10, g, 4);
  EXPECT_EQ(names(model.named_parameters()),
            (std::vector<std::string>{"features.0.weight", "features.1.weight", "features.1.bias",
                                      "features.4.weight", "features.5.weight", "features.5.bias",
                                      "features.8.weight", "features.9.weight", "features.9.bias",
                                      "hidden.weight", "hidden.bias", "classifier.weight", "classifier.bias"}));
  EXPECT_EQ(names(model.named_buffers()).size(), 9u);
  EXPECT_EQ(names(model.named_buffers())[2], "features.1.num_batches_tracked");
  // convs 1*4*9, 4*8*9, 8*8*9; BN 2*4, 2*8, 2*8; hidden 8*7*7*128 + 128; classifier 128*10 + 10.
  EXPECT_EQ(model.num_parameters(), 36 + 288 + 576 + 8 + 16 + 16 + 50304 + 1290);
}

TEST(ModuleTest, TrainAndEvalReachEveryChild) {
  Generator g(0);
  SmallCnn model(1, 28, 10, g, 4);
  model.eval();
  Tensor x = Tensor::zeros({2, 1, 28, 28});
  Tensor before = model.named_buffers()[0].second->clone();
  model.forward(x);
  EXPECT_EQ(model.named_buffers()[0].second->to_vector(), before.to_vector()) << "eval leaves running stats";
  EXPECT_EQ(model.named_buffers()[2].second->item(), 0.0);
  model.train();
  model.forward(Tensor::full({2, 1, 28, 28}, 1.0));
  EXPECT_EQ(model.named_buffers()[2].second->item(), 1.0) << "num_batches_tracked counts training batches";
}

TEST(ModuleTest, ConversionKeepsParametersTrainable) {
  Generator g(0);
  Conv2d conv({3, 4, 3, 1, 1, 1, true}, g);
  std::vector<double> before = conv.weight().to_vector();
  conv.to(DType::f64);
  EXPECT_EQ(conv.weight().dtype(), DType::f64);
  EXPECT_TRUE(conv.weight().requires_grad());
  std::vector<double> after = conv.weight().to_vector();
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(static_cast<float>(after[i]), static_cast<float>(before[i]));
}

TEST(ModuleTest, ZeroGradDropsGradients) {
  Generator g(0);
  Linear lin(3, 2, g);
  backward(sum(lin.forward(Tensor::full({4, 3}, 1.0))));
  EXPECT_TRUE(lin.weight().grad().defined());
  lin.zero_grad();
  EXPECT_FALSE(lin.weight().grad().defined());
}

TEST(ModuleTest, BadConvolutionGroupsAreRefused) {
  Generator g(0);
  EXPECT_NE(error_message([&] { Conv2d c({3, 4, 3, 1, 1, 2, false}, g); }).find("must divide"), std::string::npos);
}

}  // namespace
}  // namespace mfd::test
