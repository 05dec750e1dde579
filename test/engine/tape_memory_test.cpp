// The tape keeps only what backward reads (engine/autograd.h). After the forward of one ResNet50
// bottleneck with a downsample (layer2.0: 1x1, BN, ReLU, 3x3 stride 2, BN, ReLU, 1x1, BN; 1x1 stride
// 2, BN; add; ReLU), the bytes CPU tensors hold beyond the input and the parameters are exactly
// what the backward passes read: each convolution's input (the ReLU outputs double as those), each
// batch norm's input and its two statistics, each ReLU's output; no batch norm output, no sum, no
// extra copy. Saving more (an op keeping its output or an input it does not read) fails this test.
#include <gtest/gtest.h>

#include "engine/device_stats.h"
#include "models/model.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

int64_t bytes(const Shape& s) { return std::max<int64_t>(64, (s.numel() * 4 + 63) / 64 * 64); }

TEST(TapeMemory, ABottleneckKeepsOnlyWhatItsBackwardReads) {
  Generator gen(0);
  ModelConfig cfg;
  cfg.width = 0.25;  // layer2.0: 64 -> 32 -> 32 (stride 2) -> 128 channels, with a downsample
  std::shared_ptr<Model> model = make_model("resnet50", cfg, gen);
  Module* layer2 = nullptr;
  for (const auto& [name, child] : model->children())
    if (name == "layer2") layer2 = child.get();
  ASSERT_NE(layer2, nullptr);
  Module& block = *layer2->children().at(0).second;
  const int64_t n = 4;
  Tensor x = random_tensor({n, 64, 16, 16}, 1, DType::f32).set_requires_grad(true);

  const int64_t before = host_stats().bytes_in_use;
  Tensor y = block.forward(x);
  const int64_t held = host_stats().bytes_in_use - before;

  const Shape full{n, 32, 16, 16}, half{n, 32, 8, 8}, out{n, 128, 8, 8};
  auto stats = [](int64_t c) { return 2 * bytes(Shape{c}); };  // a batch norm's mean and 1/std
  const int64_t expected = bytes(full) + stats(32) +     // conv1's output: bn1's input
                           bytes(full) +                  // relu1's output: conv2's input
                           bytes(half) + stats(32) +      // conv2's output: bn2's input
                           bytes(half) +                  // relu2's output: conv3's input
                           bytes(out) + stats(128) +      // conv3's output: bn3's input
                           bytes(out) + stats(128) +      // the downsample convolution's output: its bn's input
                           bytes(out);                    // the final relu's output, y
  std::printf("bytes held after the block's forward: %lld, what its backward reads: %lld\n",
              static_cast<long long>(held), static_cast<long long>(expected));
  EXPECT_EQ(held, expected);
  EXPECT_EQ(y.shape(), out);
}

}  // namespace
}  // namespace mfd::test
