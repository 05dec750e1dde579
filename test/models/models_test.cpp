// The networks: torchvision's parameter counts and state_dict names (and, for WideResNet-28-10
// and SmallCnn, those of their PyTorch twins in test/fixtures/torchvision_models.py), stage and
// output shapes and names, train/eval behaviour, and each model overfitting a fixed batch at a
// small width.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "engine/autograd.h"
#include "engine/optimizer.h"
#include "engine/ops.h"
#include "models/model.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

std::shared_ptr<Model> build(const std::string& name, int classes = 10, int image = 32, double width = 1.0) {
  Generator gen(0);
  ModelConfig cfg;
  cfg.num_classes = classes;
  cfg.image_size = image;
  cfg.width = width;
  return make_model(name, cfg, gen);
}

TEST(ModelsTest, ParameterCountsEqualTorchvisions) {
  // Weights, biases and BN affine parameters (no running statistics), from torchvision 0.14 with
  // the paper's 3x3 stem (and the PyTorch twins of the fixture generator), for 10, 100 and 200
  // classes, 32x32 inputs.
  const std::map<std::string, std::vector<int64_t>> expected = {
      {"resnet50", {23520842, 23705252, 23910152}},
      {"resnext50_32x4d", {22992714, 23177124, 23382024}},
      {"densenet121", {6956426, 7048676, 7151176}},
      {"mobilenet_v2", {2236682, 2351972, 2480072}},
      {"resnet18", {11173962, 11220132, 11271432}},
      {"wide_resnet28_10", {36479194, 36536884, 36600984}},  // 36.5M for CIFAR-10, as the WRN paper
      {"smallcnn", {582186, 593796, 606696}},
  };
  for (const auto& [name, counts] : expected) {
    const int classes[3] = {10, 100, 200};
    for (int i = 0; i < 3; ++i) EXPECT_EQ(build(name, classes[i])->num_parameters(), counts[i]) << name << " " << classes[i];
  }
}

// "name shape" lines, as test/fixtures/torchvision_models.py writes them.
std::map<std::string, std::string> our_keys(Model& m) {
  std::map<std::string, std::string> keys;
  std::vector<NamedTensor> all = m.named_parameters(), buffers = m.named_buffers();
  all.insert(all.end(), buffers.begin(), buffers.end());
  for (const auto& [name, t] : all) {
    std::string shape;
    for (int i = 0; i < t->ndim(); ++i) shape += (i ? "," : "") + std::to_string(t->size(i));
    keys[name] = shape;
  }
  return keys;
}

TEST(ModelsTest, StateDictNamesAndShapesEqualTorchvisions) {
  for (const std::string& name : model_names()) {
    std::ifstream f("test/fixtures/" + name + ".keys");
    ASSERT_TRUE(f) << "test/fixtures/" << name << ".keys missing (run the tests from the repository root)";
    std::map<std::string, std::string> theirs;
    std::string line;
    while (std::getline(f, line)) {
      std::istringstream is(line);
      std::string key, shape;
      is >> key >> shape;
      theirs[key] = shape;
    }
    auto model = build(name);
    EXPECT_EQ(our_keys(*model), theirs) << name;
  }
}

TEST(ModelsTest, StageAndOutputShapes) {
  struct Case {
    std::string name;
    int image;
    bool stride1_stem;
    std::vector<Shape> stages;
  };
  const std::vector<Shape> resnet = {{2, 64, 32, 32}, {2, 256, 32, 32}, {2, 512, 16, 16}, {2, 1024, 8, 8}, {2, 2048, 4, 4}};
  const std::vector<Shape> resnet_at_64 = {{2, 64, 32, 32}, {2, 256, 32, 32}, {2, 512, 16, 16}, {2, 1024, 8, 8}, {2, 2048, 4, 4}};
  const std::vector<Shape> densenet = {{2, 64, 32, 32}, {2, 256, 32, 32}, {2, 512, 16, 16}, {2, 1024, 8, 8}, {2, 1024, 4, 4}};
  const Case cases[] = {
      {"resnet50", 32, false, resnet},
      {"resnext50_32x4d", 32, false, resnet},
      {"resnet50", 64, false, resnet_at_64},
      {"densenet121", 32, false, densenet},
      {"densenet121", 64, false, densenet},
      {"mobilenet_v2", 32, false, {{2, 16, 16, 16}, {2, 24, 8, 8}, {2, 32, 4, 4}, {2, 96, 2, 2}, {2, 1280, 1, 1}}},
      {"mobilenet_v2", 32, true, {{2, 16, 32, 32}, {2, 24, 16, 16}, {2, 32, 8, 8}, {2, 96, 4, 4}, {2, 1280, 2, 2}}},
      {"wide_resnet28_10", 32, false, {{2, 16, 32, 32}, {2, 160, 32, 32}, {2, 320, 16, 16}, {2, 640, 8, 8}}},
      {"smallcnn", 32, false, {{2, 32, 16, 16}, {2, 64, 8, 8}, {2, 64, 8, 8}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << c.name << " at " << c.image << (c.stride1_stem ? " stride-1 stem" : ""));
    Generator gen(0);
    ModelConfig cfg;
    cfg.num_classes = 200;
    cfg.image_size = c.image;
    cfg.mobilenet_stride1_stem = c.stride1_stem;
    auto model = make_model(c.name, cfg, gen);
    model->eval();
    NoGradGuard no_grad;
    ModelOutput out = model->run(Tensor::zeros({2, 3, c.image, c.image}));
    ASSERT_EQ(out.stages.size(), c.stages.size());
    ASSERT_EQ(model->stages().size(), c.stages.size()) << "one name per stage";
    for (size_t s = 0; s < c.stages.size(); ++s) EXPECT_EQ(out.stages[s].shape(), c.stages[s]) << "stage " << s;
    EXPECT_EQ(out.logits.shape(), (Shape{2, 200}));
    EXPECT_EQ(out.embedding.shape(), (Shape{2, model->embedding_dim()}));
  }
}

TEST(ModelsTest, UnknownNameListsTheRegisteredOnes) {
  Generator gen(0);
  EXPECT_NE(error_message([&] { make_model("vgg16", {}, gen); })
                .find("valid: resnet18, resnet50, resnext50_32x4d, densenet121, mobilenet_v2, wide_resnet28_10, smallcnn"),
            std::string::npos);
}

TEST(ModelsTest, DropoutAndBatchNormFollowTheMode) {
  auto model = build("mobilenet_v2", 10, 32, 0.25);
  Tensor x = random_tensor({4, 3, 32, 32}, 1, DType::f32);
  NoGradGuard no_grad;
  std::vector<double> a = model->forward(x).to_vector(), b = model->forward(x).to_vector();
  EXPECT_NE(a, b) << "training: dropout draws new masks";
  model->eval();
  std::vector<double> c = model->forward(x).to_vector(), d = model->forward(x).to_vector();
  EXPECT_EQ(c, d) << "evaluation: deterministic";
  EXPECT_NE(a, c);
}

TEST(ModelsTest, EachModelOverfitsAFixedBatchAtSmallWidth) {
  for (const std::string& name : model_names()) {
    SCOPED_TRACE(name);
    auto model = build(name, 10, 32, 0.125);
    Tensor x = random_tensor({8, 3, 32, 32}, 2, DType::f32);
    Tensor y = Tensor::from_labels({0, 1, 2, 3, 4, 5, 6, 7});
    SGD opt(model->named_parameters(), 0.01, 0.9, 0.0);
    double first = 0.0, last = 0.0;
    int step = 0;
    for (; step < 100; ++step) {
      model->zero_grad();
      Tensor loss = cross_entropy(model->forward(x), y);
      backward(loss);
      opt.step();
      last = loss.item();
      if (step == 0) first = last;
      if (last < 0.1 * first) break;
    }
    EXPECT_LT(last, 0.1 * first) << "loss " << first << " -> " << last << " in " << step << " steps";
    std::printf("%s: loss %.3f -> %.3f in %d steps\n", name.c_str(), first, last, step);
  }
}

}  // namespace
}  // namespace mfd::test
