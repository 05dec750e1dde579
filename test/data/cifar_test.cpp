// CIFAR-10/100 binary files written by the test itself (known pixels and labels), every bad
// input and its message; augmentation and epoch order keyed by the seed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <set>
#include <tuple>

#include "data/augment.h"
#include "data/cifar.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

namespace fs = std::filesystem;

// Record i: label bytes, then pixel p of channel c = (i + c * 7 + p) % 256.
void write_cifar(const fs::path& path, int records, int label_bytes, int first_label, int classes) {
  std::ofstream f(path, std::ios::binary);
  for (int i = 0; i < records; ++i) {
    if (label_bytes == 2) f.put(static_cast<char>(i % 20));  // coarse label
    f.put(static_cast<char>((first_label + i) % classes));
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 1024; ++p) f.put(static_cast<char>((i + c * 7 + p) % 256));
  }
}

class CifarTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "cifar-10-batches-bin");
    fs::create_directories(dir_ / "cifar-100-binary");
    for (int b = 1; b <= 5; ++b)
      write_cifar(dir_ / "cifar-10-batches-bin" / ("data_batch_" + std::to_string(b) + ".bin"), 3, 1, b, 10);
    write_cifar(dir_ / "cifar-10-batches-bin" / "test_batch.bin", 4, 1, 0, 10);
    write_cifar(dir_ / "cifar-100-binary" / "train.bin", 5, 2, 95, 100);
    write_cifar(dir_ / "cifar-100-binary" / "test.bin", 2, 2, 0, 100);
  }
  TempDir tmp_{"cifar_test"};
  const fs::path dir_ = tmp_.path();
};

TEST_F(CifarTest, ReadsPixelsLabelsAndCounts) {
  ImageDataset train = load_cifar10(dir_.string(), true);
  EXPECT_EQ(train.n, 15);
  EXPECT_EQ(train.labels[0], 1);   // batch 1, record 0
  EXPECT_EQ(train.labels[14], 7);  // batch 5, record 2: (5 + 2) % 10
  EXPECT_EQ(train.pixels[1 * 3072 + 1024 + 5], (1 + 7 + 5) % 256) << "record 1, G channel, pixel 5";
  EXPECT_EQ(train.class_counts()[1], 1);
  EXPECT_EQ(load_cifar10(dir_.string(), false).n, 4);
  ImageDataset c100 = load_cifar100(dir_.string(), true);
  EXPECT_EQ(c100.num_classes, 100);
  EXPECT_EQ(c100.labels, (std::vector<int32_t>{95, 96, 97, 98, 99})) << "the fine labels";
  EXPECT_EQ(c100.pixels[4 * 3072 + 2048], (4 + 14) % 256);
}

TEST_F(CifarTest, BadInputsSayWhatIsWrongAndWhatToDo) {
  std::string msg = error_message([&] { load_cifar10((dir_ / "nowhere").string(), true); });
  EXPECT_NE(msg.find("nowhere/cifar-10-batches-bin not found"), std::string::npos) << msg;
  EXPECT_NE(msg.find("scripts/get-data.sh cifar10"), std::string::npos) << msg;

  fs::resize_file(dir_ / "cifar-10-batches-bin" / "data_batch_3.bin", 3 * 3073 - 10);
  msg = error_message([&] { load_cifar10(dir_.string(), true); });
  EXPECT_NE(msg.find("data_batch_3.bin is truncated or not a CIFAR binary file: 9209 bytes, expected a multiple of 3073"),
            std::string::npos) << msg;

  fs::remove(dir_ / "cifar-100-binary" / "test.bin");
  msg = error_message([&] { load_cifar100(dir_.string(), false); });
  EXPECT_NE(msg.find("test.bin not found"), std::string::npos) << msg;
  EXPECT_NE(msg.find("scripts/get-data.sh cifar100"), std::string::npos) << msg;

  write_cifar(dir_ / "cifar-100-binary" / "train.bin", 2, 1, 0, 100);  // CIFAR-10 layout: wrong size
  msg = error_message([&] { load_cifar100(dir_.string(), true); });
  EXPECT_NE(msg.find("expected a multiple of 3074"), std::string::npos) << msg;

  write_cifar(dir_ / "cifar-10-batches-bin" / "test_batch.bin", 2, 1, 9, 12);  // labels 9, 10
  msg = error_message([&] { load_cifar10(dir_.string(), false); });
  EXPECT_NE(msg.find("test_batch.bin: record 1 has label 10, outside [0, 10)"), std::string::npos) << msg;
}

TEST(AugmentTest, OffsetsAndFlipsFollowTheSeedEpochAndIndex) {
  std::set<std::tuple<int, int, bool>> seen;
  for (int64_t i = 0; i < 200; ++i) {
    Augmentation a = augmentation_for(7, 3, i, 4), b = augmentation_for(7, 3, i, 4);
    EXPECT_EQ(std::tie(a.dy, a.dx, a.flip), std::tie(b.dy, b.dx, b.flip));
    ASSERT_TRUE(a.dy >= 0 && a.dy <= 8 && a.dx >= 0 && a.dx <= 8);
    seen.insert({a.dy, a.dx, a.flip});
  }
  EXPECT_GT(seen.size(), 60u) << "offsets and flips vary across samples";
  int differ = 0;
  for (int64_t i = 0; i < 50; ++i) {
    Augmentation a = augmentation_for(7, 3, i, 4), b = augmentation_for(8, 3, i, 4), c = augmentation_for(7, 4, i, 4);
    differ += (a.dy != b.dy || a.dx != b.dx) + (a.dy != c.dy || a.dx != c.dx);
  }
  EXPECT_GT(differ, 80) << "another seed or epoch gives other crops";
}

TEST(AugmentTest, PaddingIsZeroCropShiftsAndFlipMirrors) {
  const int64_t c = 2, h = 5, w = 6;
  std::vector<uint8_t> src(c * h * w), dst(src.size());
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(100 + i);
  augment_image(src.data(), c, h, w, 4, {4, 4, false}, dst.data());
  EXPECT_EQ(dst, src) << "the centre crop without flip is the image";
  augment_image(src.data(), c, h, w, 4, {0, 0, false}, dst.data());  // shifted 4 down and right
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const uint8_t expected = (y < 4 || x < 4) ? 0 : src[(ch * h + y - 4) * w + x - 4];
        ASSERT_EQ(dst[(ch * h + y) * w + x], expected) << ch << " " << y << " " << x;
      }
  augment_image(src.data(), c, h, w, 4, {4, 4, true}, dst.data());
  for (int64_t x = 0; x < w; ++x) EXPECT_EQ(dst[x], src[w - 1 - x]);
}

TEST(AugmentTest, EpochOrderIsASeededPermutation) {
  std::vector<int64_t> a = epoch_order(1, 0, 1000), b = epoch_order(1, 0, 1000), c = epoch_order(1, 1, 1000);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], i);
}

TEST_F(CifarTest, TestBatchesAreUnchangedAndTrainingBatchesAugmented) {
  ImageDataset test = load_cifar10(dir_.string(), false);
  Tensor x, y, xa, ya;
  make_batch(test, {0, 1, 2, 3}, 0, 4, Device::cpu, x, y);
  EXPECT_NEAR(x.to_vector()[5], ((0 + 5) / 255.0 - 0.4914) / 0.2470, 1e-5) << "no augmentation at test";
  BatchAugmentation aug{3, 0};
  make_batch(test, {0, 1, 2, 3}, 0, 4, Device::cpu, xa, ya, &aug);
  EXPECT_EQ(y.to_vector(), ya.to_vector());
  EXPECT_NE(x.to_vector(), xa.to_vector());
}

}  // namespace
}  // namespace mfd::test

namespace mfd::test {
namespace {

TEST(DatasetRegistry, NamesSummaryAndUnknownName) {
  EXPECT_NE(error_message([] { load_dataset("mnist", "data", true); })
                .find("valid: cifar10, cifar100, tinyimagenet, facescrub, fashionmnist"),
            std::string::npos);
  ImageDataset fm = load_dataset("fashionmnist", "/nonexistent", false);  // falls back to Debian's path
  EXPECT_EQ(fm.summary("test"), "fashionmnist test: 10000 images 1x28x28, 10 classes, 1000-1000 per class");
}

}  // namespace
}  // namespace mfd::test
