// bin/train and bin/evaluate end to end on tiny settings (resnet18 at width 0.125, a few hundred
// Fashion-MNIST images, 2 epochs): the files of a run; resume equal bit for bit to an
// uninterrupted run, for every kind of training state (dropout's stream, Center Loss's centres,
// ArcFace's weights) and every way a run stops (SIGTERM, SIGKILL mid-epoch or while a checkpoint
// is written, a checkpoint that cannot be written); damaged checkpoints refused; a resume with
// other settings refused; a failed start leaving nothing behind; a NaN stopping the run with its
// checkpoint intact; and every bad flag.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <cstdlib>

#include "engine/json.h"
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
  for (const char* key : {"images_per_s", "epoch_seconds", "test_seconds", "peak_host_mib", "peak_device_mib"}) {
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
  // The run in `cut` ends like the one in `whole`: every non-timing metrics field and every
  // tensor of the last checkpoint (parameters, buffers, momentum, the objective's state) equal.
  void expect_same_run(const fs::path& whole, const fs::path& cut) {
    EXPECT_EQ(metrics_without_timing(cut), metrics_without_timing(whole));
    SafetensorsContents a = load_safetensors((whole / "last.safetensors").string());
    SafetensorsContents b = load_safetensors((cut / "last.safetensors").string());
    ASSERT_EQ(a.tensors.size(), b.tensors.size());
    for (const auto& [name, t] : a.tensors) EXPECT_EQ(t.to_vector(), b.tensors.at(name).to_vector()) << name;
    for (const auto& [key, value] : a.metadata)
      if (key.rfind("rng.", 0) == 0) {
        EXPECT_EQ(value, b.metadata[key]) << key;
      }
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

// Each kind of state a run carries, interrupted by SIGTERM mid-epoch (6 steps per epoch: during
// step 9, epoch 2 step 3) and resumed.
TEST_F(TrainTest, ResumeAfterSigtermMidEpochMatchesAnUninterruptedRun) {
  const std::pair<std::string, std::string> kinds[] = {
      {"mfd", kTiny},
      {"dropout", " mobilenet_v2 fashionmnist --width 0.25 --epochs 2 --limit-train 384 --limit-test 256 --batch 64 "
                  "--lambda 1 --workers 2"},
      {"wrn-dropout", " wide_resnet28_10 fashionmnist --width 0.125 --dropout 0.3 --epochs 2 --limit-train 384 "
                      "--limit-test 256 --batch 64 --lambda 1 --workers 2"},
      {"center", kTiny + " --loss center"},
      {"arcface", kTiny + " --loss arcface"},
  };
  for (const auto& [kind, args] : kinds) {
    SCOPED_TRACE(kind);
    std::string output;
    ASSERT_EQ(train(args + " --out " + (dir_ / (kind + "-whole")).string(), output), 0) << output;
    output.clear();
    ASSERT_EQ(train(args + " --out " + (dir_ / (kind + "-cut")).string(), output, "MFD_TEST_SIGTERM_AT_STEP=9"), 130) << output;
    EXPECT_NE(output.find("resume with:"), std::string::npos) << output;
    EXPECT_FALSE(fs::exists(dir_ / (kind + "-cut") / "results.json"));
    output.clear();
    ASSERT_EQ(train(args + " --out " + (dir_ / (kind + "-cut")).string() + " --resume", output), 0) << output;
    expect_same_run(dir_ / (kind + "-whole"), dir_ / (kind + "-cut"));
  }
}

// WideResNet-28-10 (without dropout here; with it above) has 4 stages, and every per-stage field,
// the evaluation and the analysis say so.
TEST_F(TrainTest, WideResNetTrainsAndEveryToolSeesItsFourStages) {
  const fs::path run = dir_ / "wrn";
  std::string output;
  ASSERT_EQ(train(" wide_resnet28_10 fashionmnist --width 0.125 --epochs 2 --limit-train 384 --limit-test 256 "
                  "--batch 64 --lambda 1 --workers 2 --out " + run.string(), output), 0) << output;
  const std::string metrics = read(run / "metrics.jsonl");
  const std::vector<double> losses = numbers_after(metrics, "\"train_loss\": ");
  ASSERT_EQ(losses.size(), 2u) << metrics;
  EXPECT_LT(losses[1], losses[0]) << "it learns";
  // The number of entries of each per-stage list of the last epoch's line.
  auto entries = [&](const std::string& key) {
    const size_t at = metrics.rfind("\"" + key + "\": [");
    if (at == std::string::npos) return -1L;
    const std::string list = metrics.substr(at, metrics.find(']', at) - at);
    return 1L + static_cast<long>(std::count(list.begin(), list.end(), ','));
  };
  EXPECT_EQ(entries("train_mfd"), 4) << metrics;
  EXPECT_EQ(entries("mean_abs_corr"), 4) << metrics;

  output.clear();
  ASSERT_EQ(run_command(bin_dir() + "/evaluate " + run.string(), output), 0) << output;
  EXPECT_NE(output.find("mean |correlation| per stage (0..3):"), std::string::npos) << output;
  output.clear();
  ASSERT_EQ(run_command(bin_dir() + "/analyze correlations " + run.string(), output), 0) << output;
  EXPECT_NE(output.find(" stage 3 |"), std::string::npos) << output;
  EXPECT_EQ(output.find(" stage 4 |"), std::string::npos) << output;
  const std::string png = (dir_ / "maps.png").string();
  ASSERT_EQ(run_command(bin_dir() + "/analyze feature-maps " + run.string() + " --stage 3 --image 0 --out " + png, output), 0)
      << output;
  output.clear();
  ASSERT_EQ(run_command(bin_dir() + "/analyze feature-maps " + run.string() + " --stage 4 --image 0 --out " + png, output), 1);
  EXPECT_NE(output.find("--stage 4: wide_resnet28_10 has stages 0..3"), std::string::npos) << output;
}

// SIGKILL gives no chance to write anything: mid-epoch (step 9) the rerun continues from the
// end of epoch 1; during the write of epoch 1's checkpoint (the first save) the rerun starts
// over, the half-written file being only a .tmp.
TEST_F(TrainTest, ResumeAfterSigkillMatchesAnUninterruptedRun) {
  std::string output;
  ASSERT_EQ(train(kTiny + " --out " + (dir_ / "whole").string(), output), 0) << output;
  const std::pair<std::string, std::string> kills[] = {{"mid-epoch", "MFD_TEST_SIGKILL_AT_STEP=9"},
                                                       {"in-checkpoint", "MFD_TEST_SIGKILL_IN_SAVE=1"}};
  for (const auto& [when, hook] : kills) {
    SCOPED_TRACE(when);
    output.clear();
    EXPECT_EQ(train(kTiny + " --out " + (dir_ / when).string(), output, hook), 128 + 9) << output;
    EXPECT_EQ(fs::exists(dir_ / when / "last.safetensors"), when == "mid-epoch");
    output.clear();
    ASSERT_EQ(train(kTiny + " --out " + (dir_ / when).string(), output), 0) << output;
    expect_same_run(dir_ / "whole", dir_ / when);
  }
}

// A checkpoint that cannot be written (here: a file size limit, as a full disk would) stops the
// run with the previous checkpoint intact; the epoch logged before it is dropped on resume, so
// metrics.jsonl reads epochs 1, 2 and the run ends like an uninterrupted one.
TEST_F(TrainTest, AFailedCheckpointWriteLeavesTheLogAgreeingWithTheCheckpoint) {
  std::string output;
  ASSERT_EQ(train(kTiny + " --out " + (dir_ / "whole").string(), output), 0) << output;
  const std::string cut = (dir_ / "cut").string();
  ASSERT_EQ(train(kTiny + " --out " + cut, output, "MFD_TEST_SIGTERM_AT_STEP=6"), 130) << output;  // at epoch 2's start
  const std::string before = read(dir_ / "cut" / "last.safetensors");
  const uintmax_t blocks = fs::file_size(dir_ / "cut" / "last.safetensors") / 1024 / 2;  // half a checkpoint
  output.clear();
  EXPECT_EQ(train(kTiny + " --out " + cut, output, "ulimit -f " + std::to_string(blocks) + "; trap '' XFSZ;"), 1) << output;
  EXPECT_NE(output.find("is unchanged"), std::string::npos) << output;
  EXPECT_EQ(read(dir_ / "cut" / "last.safetensors"), before) << "the previous checkpoint is intact";
  EXPECT_EQ(numbers_after(read(dir_ / "cut" / "metrics.jsonl"), "\"epoch\": ").size(), 2u) << "epoch 2 was logged";
  output.clear();
  ASSERT_EQ(train(kTiny + " --out " + cut, output), 0) << output;
  EXPECT_NE(output.find("dropped 1 line"), std::string::npos) << output;
  EXPECT_EQ(numbers_after(read(dir_ / "cut" / "metrics.jsonl"), "\"epoch\": "), (std::vector<double>{1, 2}));
  expect_same_run(dir_ / "whole", dir_ / "cut");
}

// One flipped byte in the header, in the first tensor or in the last tensor: bin/train --resume,
// bin/evaluate and bin/analyze refuse the checkpoint, naming the damaged tensor (or the header),
// exit 1.
TEST_F(TrainTest, ADamagedCheckpointIsRefusedNamingWhatIsDamaged) {
  std::string output;
  const std::string out = (dir_ / "run").string();
  ASSERT_EQ(train(kTiny + " --epochs 1 --out " + out, output), 0) << output;
  fs::remove(dir_ / "run" / "results.json");  // as if the run had more epochs to go
  const fs::path last = dir_ / "run" / "last.safetensors";
  const std::string good = read(last);
  const SafetensorsContents contents = load_safetensors(last.string());
  uint64_t header = 0;
  for (int b = 0; b < 8; ++b) header |= static_cast<uint64_t>(static_cast<unsigned char>(good[b])) << (8 * b);
  const std::string text = good.substr(8, header);
  // The tensors whose data come first and last, from the header's offsets.
  const Json j = parse_json(text, "header");
  std::string first, last_name;
  double first_at = 1e300, last_at = -1;
  for (const auto& [name, entry] : j.fields) {
    if (name == "__metadata__") continue;
    const double at = entry.at("data_offsets").numbers()[0];
    if (at < first_at) first_at = at, first = name;
    if (at > last_at) last_at = at, last_name = name;
  }
  const size_t epoch_value = text.find("\"epoch\":\"") + 9;  // a digit inside the metadata
  const struct { std::string what; size_t at; std::string named; } flips[] = {
      {"header", 8 + epoch_value, "the header is damaged"},
      {"first tensor", 8 + header + static_cast<size_t>(first_at), "tensor '" + first + "' is damaged"},
      {"last tensor", 8 + header + static_cast<size_t>(last_at), "tensor '" + last_name + "' is damaged"},
  };
  for (const auto& flip : flips) {
    SCOPED_TRACE(flip.what);
    std::string bad = good;
    bad[flip.at] ^= 0x10;
    std::ofstream(last, std::ios::binary) << bad;
    output.clear();
    EXPECT_EQ(train(kTiny + " --out " + out + " --resume", output), 1) << output;
    EXPECT_NE(output.find(flip.named), std::string::npos) << output;
    output.clear();
    EXPECT_EQ(run_command(bin_dir() + "/evaluate " + out, output), 1) << output;
    EXPECT_NE(output.find(flip.named), std::string::npos) << output;
    output.clear();
    EXPECT_EQ(run_command(bin_dir() + "/analyze correlations " + out, output), 1) << output;
    EXPECT_NE(output.find(flip.named), std::string::npos) << output;
  }
  std::ofstream(last, std::ios::binary) << good;
  output.clear();
  EXPECT_EQ(train(kTiny + " --out " + out, output), 0) << "the intact file resumes: " << output;
}

// A run continues only with its own settings: another lambda is refused with the list of what
// differs (exit 2, nothing touched); another --epochs is applied and named.
TEST_F(TrainTest, AResumeWithOtherSettingsIsRefusedOrNamed) {
  const std::string base = " resnet18 fashionmnist --width 0.125 --limit-train 384 --limit-test 256 --batch 64 --workers 2";
  const std::string out = " --out " + (dir_ / "run").string();
  std::string output;
  ASSERT_EQ(train(base + " --epochs 2 --lambda 0" + out, output, "MFD_TEST_SIGTERM_AT_STEP=3"), 130) << output;
  const std::string checkpoint = read(dir_ / "run" / "last.safetensors");
  for (const std::string& flags : {std::string(" --epochs 2 --lambda 1"), std::string(" --epochs 2 --lambda 1 --resume")}) {
    output.clear();
    EXPECT_EQ(train(base + flags + out, output), 2) << flags << ": " << output;
    EXPECT_NE(output.find("holds a run with other settings: --lambda (0 before, now 1)"), std::string::npos) << output;
    EXPECT_NE(output.find("--force"), std::string::npos) << output;
    EXPECT_EQ(output.find("terminate called"), std::string::npos) << output;
  }
  EXPECT_EQ(read(dir_ / "run" / "last.safetensors"), checkpoint) << "nothing touched";
  output.clear();
  ASSERT_EQ(train(base + " --epochs 3 --lambda 0" + out, output), 0) << output;
  EXPECT_NE(output.find("resuming with changed settings: --epochs (2 before, now 3)"), std::string::npos) << output;
  EXPECT_EQ(numbers_after(read(dir_ / "run" / "metrics.jsonl"), "\"epoch\": ").size(), 3u);
  EXPECT_NE(read(dir_ / "run" / "config.json").find("\"epochs\": \"3\""), std::string::npos);
  output.clear();
  EXPECT_EQ(train(base + " --epochs 3 --lambda 0 --resume --out " + (dir_ / "none").string(), output), 2) << output;
  EXPECT_NE(output.find("no checkpoint"), std::string::npos) << output;
}

// A run that cannot start (no data here) says why and writes nothing: no folder, no config.json.
TEST_F(TrainTest, AFailedStartLeavesNothingBehind) {
  std::string output;
  const fs::path out = dir_ / "never";
  EXPECT_EQ(train(" resnet50 cifar100 --lambda 1 --data-dir " + (dir_ / "empty").string() + " --out " + out.string(), output), 1);
  EXPECT_NE(output.find("scripts/get-data.sh cifar100"), std::string::npos) << output;
  EXPECT_FALSE(fs::exists(out)) << "debris: " << out;
}

TEST_F(TrainTest, ANonFiniteLossStopsTheRunAndKeepsTheLastCheckpoint) {
  std::string output;
  const std::string out = (dir_ / "nan").string();
  ASSERT_EQ(train(kTiny + " --epochs 1 --out " + out, output), 0) << output;
  fs::remove(dir_ / "nan" / "results.json");  // as if the run had more epochs to go
  const std::string before = read(dir_ / "nan" / "last.safetensors");
  output.clear();
  EXPECT_EQ(train(kTiny + " --out " + out, output, "MFD_TEST_NAN_AT_STEP=8"), 3) << output;
  EXPECT_NE(output.find("non-finite loss in epoch 2 by step 6"), std::string::npos) << output;
  EXPECT_EQ(read(dir_ / "nan" / "last.safetensors"), before) << "the last good checkpoint is intact";
}

TEST_F(TrainTest, BadCommandLinesExitWith2AndNameTheProblem) {
  const std::pair<std::string, std::string> cases[] = {
      {" vgg16 cifar10", "unknown model 'vgg16' (valid: resnet18, resnet50"},
      {" resnet50 imagenet", "unknown data set 'imagenet' (valid: cifar10, cifar100, tinyimagenet"},
      {" resnet50 cifar10 --loss cosface", "unknown loss 'cosface' (valid: softmax, center, amsoftmax, arcface)"},
      {" resnet50 cifar10 --epoch 3", "unknown flag --epoch (valid: --lambda"},
      {" resnet50 cifar10 --lambda", "--lambda needs a value"},
      {" resnet50 cifar10 --lambda x", "malformed value 'x' for --lambda"},
      {" resnet50 cifar10 --mfd-stages 0,7", "resnet50 has no stage 7; its stages: 0 (stem), 1 (layer1)"},
      {" wide_resnet28_10 cifar10 --mfd-stages 4", "wide_resnet28_10 has no stage 4; its stages: 0 (stem), 1 (layer1), 2 (layer2), 3 (layer3)"},
      {" resnet50 cifar10 --mfd-center pixel", "valid: batch, channel"},
      {" resnet50", "expected MODEL DATASET"},
  };
  for (const auto& [args, message] : cases) {
    std::string output;
    EXPECT_EQ(train(args, output), 2) << args;
    EXPECT_NE(output.find(message), std::string::npos) << args << ": " << output;
  }
  std::string output;
  EXPECT_EQ(train(" resnet50 cifar100 --lambda 1 --data-dir " + dir_.string() + " --out " + (dir_ / "r").string(), output), 1);
  EXPECT_NE(output.find("scripts/get-data.sh cifar100"), std::string::npos) << "the headline command needs only the data";
}

}  // namespace
}  // namespace mfd::test
