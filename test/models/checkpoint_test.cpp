// Checkpoints: bit-identical round trip (parameters, buffers, momentum, metadata), and every bad
// file refused with the file and the tensor named.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/safetensors.h"
#include "models/checkpoint.h"
#include "models/model.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

namespace fs = std::filesystem;

class CheckpointTest : public ::testing::Test {
 protected:
  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  static std::shared_ptr<Model> model(const std::string& name, uint64_t seed, double width = 0.25) {
    Generator gen(seed);
    ModelConfig cfg;
    cfg.width = width;
    return make_model(name, cfg, gen);
  }
  TempDir tmp_{"ckpt_test"};
  const fs::path dir_ = tmp_.path();
};

TEST_F(CheckpointTest, RoundTripIsBitIdentical) {
  auto a = model("resnet18", 1);
  SGD opt_a(a->named_parameters(), 0.1);
  backward(cross_entropy(a->forward(random_tensor({4, 3, 32, 32}, 1, DType::f32)), Tensor::from_labels({0, 1, 2, 3})));
  opt_a.step();
  save_checkpoint(file("a.safetensors"), *a, &opt_a, {{"epoch", "7"}, {"seed", "1"}});
  EXPECT_FALSE(fs::exists(file("a.safetensors.tmp")));

  auto b = model("resnet18", 2);
  SGD opt_b(b->named_parameters(), 0.1);
  auto meta = load_checkpoint(file("a.safetensors"), *b, &opt_b);
  EXPECT_EQ(meta.at("epoch"), "7");
  auto ta = a->named_parameters(), tb = b->named_parameters();
  auto ba = a->named_buffers(), bb = b->named_buffers();
  ta.insert(ta.end(), ba.begin(), ba.end());
  tb.insert(tb.end(), bb.begin(), bb.end());
  auto ma = opt_a.named_state(), mb = opt_b.named_state();
  ta.insert(ta.end(), ma.begin(), ma.end());
  tb.insert(tb.end(), mb.begin(), mb.end());
  ASSERT_EQ(ta.size(), tb.size());
  for (size_t i = 0; i < ta.size(); ++i) {
    ASSERT_EQ(ta[i].first, tb[i].first);
    EXPECT_EQ(ta[i].second->to_vector(), tb[i].second->to_vector()) << ta[i].first;
  }
  EXPECT_EQ(b->named_buffers()[2].second->dtype(), DType::i64) << "num_batches_tracked as torch stores it";
  EXPECT_EQ(b->named_buffers()[2].second->item(), 1.0);
}

TEST_F(CheckpointTest, BadFilesAreRefusedWithTheirName) {
  auto a = model("resnet18", 1);
  save_checkpoint(file("a.safetensors"), *a, nullptr);

  auto wider = model("resnet18", 1, 0.5);
  std::string msg = error_message([&] { load_checkpoint(file("a.safetensors"), *wider, nullptr); });
  EXPECT_NE(msg.find("tensor 'conv1.weight' is f32 (16, 3, 3, 3), the model expects f32 (32, 3, 3, 3)"),
            std::string::npos) << msg;

  auto other = model("mobilenet_v2", 1);
  msg = error_message([&] { load_checkpoint(file("a.safetensors"), *other, nullptr); });
  EXPECT_NE(msg.find("missing tensor 'features.0.0.weight'"), std::string::npos) << msg;

  SGD opt(a->named_parameters(), 0.1);
  msg = error_message([&] { load_checkpoint(file("a.safetensors"), *a, &opt); });
  EXPECT_NE(msg.find("missing tensor 'momentum.conv1.weight'"), std::string::npos) << msg;

  const auto size = fs::file_size(file("a.safetensors"));
  fs::copy_file(file("a.safetensors"), file("cut.safetensors"));
  fs::resize_file(file("cut.safetensors"), size - 100);
  msg = error_message([&] { load_checkpoint(file("cut.safetensors"), *a, nullptr); });
  EXPECT_NE(msg.find("cut.safetensors: truncated: tensor 'layer4.1.bn2.running_var' ends at byte"), std::string::npos)
      << msg;

  const std::string garbage_header = "{\"x\":12345678}";  // a tensor entry that is not an object
  std::string garbage(8, '\0');
  garbage[0] = static_cast<char>(garbage_header.size());
  std::ofstream(file("garbage.safetensors"), std::ios::binary) << garbage << garbage_header;
  msg = error_message([&] { load_checkpoint(file("garbage.safetensors"), *a, nullptr); });
  EXPECT_NE(msg.find("garbage.safetensors: malformed safetensors header"), std::string::npos) << msg;

  std::string header = "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}";
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(header.size());
  std::ofstream(file("bf16.safetensors"), std::ios::binary) << bytes << header << std::string(4, '\0');
  msg = error_message([&] { load_safetensors(file("bf16.safetensors")); });
  EXPECT_NE(msg.find("tensor 'w' has dtype BF16"), std::string::npos) << msg;

  msg = error_message([&] { load_checkpoint(file("none.safetensors"), *a, nullptr); });
  EXPECT_NE(msg.find("none.safetensors: file not found"), std::string::npos) << msg;
}

}  // namespace
}  // namespace mfd::test
