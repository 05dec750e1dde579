// bin/train and bin/evaluate end to end on tiny settings (resnet18 at width 0.125, a few hundred
// Fashion-MNIST images, 2 epochs): the files of a run, resume after SIGTERM mid-epoch equal to an
// uninterrupted run, a NaN stopping the run with its checkpoint intact, and every bad flag.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <cstdlib>

#include "engine/safetensors.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

namespace fs = std::filesystem;

const std::string kTiny = " resnet18 fashionmnist --width 0.125 --epochs 2 --limit-train 384 --limit-test 256 "
                          "--batch 64 --lambda 1 --workers 2";

std::string read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// metrics.jsonl without the timing fields, which may differ between runs.
std::string metrics_without_timing(const fs::path& run) {
  std::string text = read(run / "metrics.jsonl");
  for (const char* key : {"images_per_s", "epoch_seconds", "peak_host_mib", "peak_device_mib"}) {
    const std::string field = std::string(", \"") + key + "\": ";
    for (size_t at; (at = text.find(field)) != std::string::npos;)
      text.erase(at, text.find_first_of(",}", at + field.size()) - at);
  }
  return text;
}

// Every number that follows `key` in text ("train_loss": 2.3).
std::vector<double> numbers_after(const std::string& text, const std::string& key) {
  std::vector<double> out;
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + 1))
    out.push_back(std::strtod(text.c_str() + at + key.size(), nullptr));
  return out;
}

class TrainTest : public ::testing::Test {
 protected:
  int train(const std::string& args, std::string& output, const std::string& env = "") {
    return run_command(env + " " + bin_dir() + "/train" + args, output);
  }
  TempDir tmp_{"train_test"};
  const fs::path dir_ = tmp_.path();
};

TEST_F(TrainTest, ARunWritesItsFilesAndEvaluateAgrees) {
  std::string output;
  ASSERT_EQ(train(kTiny + " --out " + (dir_ / "a").string(), output), 0) << output;
  for (const char* f : {"config.json", "metrics.jsonl", "results.json", "last.safetensors", "best.safetensors", "curves.png"})
    EXPECT_TRUE(fs::exists(dir_ / "a" / f)) << f;
  const std::string metrics = read(dir_ / "a" / "metrics.jsonl");
  EXPECT_EQ(std::count(metrics.begin(), metrics.end(), '\n'), 2);
  std::vector<double> losses = numbers_after(metrics, "\"train_loss\": ");
  ASSERT_EQ(losses.size(), 2u);
  EXPECT_LT(losses[1], losses[0]) << "the training loss falls";
  EXPECT_NE(metrics.find("\"train_mfd\": ["), std::string::npos);
  EXPECT_NE(metrics.find("\"mean_abs_corr\": ["), std::string::npos);
  const std::string png = read(dir_ / "a" / "curves.png");
  ASSERT_GT(png.size(), 24u);
  EXPECT_EQ(png.substr(0, 8), "\x89PNG\r\n\x1a\n");
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  const std::string results = read(dir_ / "a" / "results.json");
  const std::vector<double> final_acc = numbers_after(results, "\"final_test_acc\": ");
  ASSERT_EQ(final_acc.size(), 1u) << results;
  EXPECT_NE(read(dir_ / "a" / "config.json").find("\"model\": \"resnet18\""), std::string::npos);

  output.clear();
  ASSERT_EQ(run_command(bin_dir() + "/evaluate " + (dir_ / "a").string(), output), 0) << output;
  const std::vector<double> evaluated = numbers_after(output, "test accuracy: ");
  ASSERT_EQ(evaluated.size(), 1u) << output;
  EXPECT_NEAR(evaluated[0], 100 * final_acc[0], 0.01);

  output.clear();
  EXPECT_EQ(train(kTiny + " --out " + (dir_ / "a").string(), output), 2) << "a finished run is not overwritten";
  EXPECT_NE(output.find("--force"), std::string::npos) << output;
}

TEST_F(TrainTest, ResumeAfterSigtermMidEpochMatchesAnUninterruptedRun) {
  std::string output;
  ASSERT_EQ(train(kTiny + " --out " + (dir_ / "whole").string(), output), 0) << output;
  output.clear();
  // 6 steps per epoch: SIGTERM during step 9 (epoch 2, step 3), then resume.
  ASSERT_EQ(train(kTiny + " --out " + (dir_ / "cut").string(), output, "MFD_TEST_SIGTERM_AT_STEP=9"), 130) << output;
  EXPECT_NE(output.find("resume with:"), std::string::npos) << output;
  EXPECT_FALSE(fs::exists(dir_ / "cut" / "results.json"));
  output.clear();
  ASSERT_EQ(train(kTiny + " --out " + (dir_ / "cut").string() + " --resume", output), 0) << output;
  EXPECT_EQ(metrics_without_timing(dir_ / "cut"), metrics_without_timing(dir_ / "whole"));
  SafetensorsContents a = load_safetensors((dir_ / "whole" / "last.safetensors").string());
  SafetensorsContents b = load_safetensors((dir_ / "cut" / "last.safetensors").string());
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, t] : a.tensors) EXPECT_EQ(t.to_vector(), b.tensors.at(name).to_vector()) << name;
}

TEST_F(TrainTest, ANonFiniteLossStopsTheRunAndKeepsTheLastCheckpoint) {
  std::string output;
  const std::string out = (dir_ / "nan").string();
  ASSERT_EQ(train(kTiny + " --epochs 1 --out " + out, output), 0) << output;
  fs::remove(dir_ / "nan" / "results.json");  // as if the run had more epochs to go
  const std::string before = read(dir_ / "nan" / "last.safetensors");
  output.clear();
  EXPECT_EQ(train(kTiny + " --out " + out, output, "MFD_TEST_NAN_AT_STEP=8"), 3) << output;
  EXPECT_NE(output.find("non-finite loss at epoch 2 step 2"), std::string::npos) << output;
  EXPECT_EQ(read(dir_ / "nan" / "last.safetensors"), before) << "the last good checkpoint is intact";
}

TEST_F(TrainTest, BadCommandLinesExitWith2AndNameTheProblem) {
  const std::pair<std::string, std::string> cases[] = {
      {" vgg16 cifar10", "unknown model 'vgg16' (valid: resnet18, resnet50"},
      {" resnet50 imagenet", "unknown data set 'imagenet' (valid: cifar10, cifar100, tinyimagenet"},
      {" resnet50 cifar10 --loss cosface", "unknown loss 'cosface' (valid: softmax, center, amsoftmax, arcface)"},
      {" resnet50 cifar10 --epoch 3", "unknown flag --epoch (valid: --lambda"},
      {" resnet50 cifar10 --lambda x", "malformed value 'x' for --lambda"},
      {" resnet50 cifar10 --mfd-stages 0,7", "stage 7 is outside 0..4"},
      {" resnet50 cifar10 --mfd-center pixel", "valid: batch, channel"},
      {" resnet50", "expected MODEL DATASET"},
  };
  for (const auto& [args, message] : cases) {
    std::string output;
    EXPECT_EQ(train(args, output), 2) << args;
    EXPECT_NE(output.find(message), std::string::npos) << args << ": " << output;
  }
  std::string output;
  EXPECT_EQ(train(" resnet50 cifar100 --lambda 1 --data-dir " + dir_.string(), output), 1);
  EXPECT_NE(output.find("scripts/get-data.sh cifar100"), std::string::npos) << "the headline command needs only the data";
}

}  // namespace
}  // namespace mfd::test
