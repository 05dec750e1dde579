// Tiny ImageNet on a miniature tree the test writes itself: PNG and JPEG images, a grey one, one
// of another size; labels from the sorted wnids; the cache and its invalidation; bad inputs.
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "data/tiny_imagenet.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

namespace fs = std::filesystem;

// A size x size image of one colour (channels 1 or 3), as PNG or JPEG.
void write_image(const fs::path& path, int size, int channels, uint8_t r, uint8_t g, uint8_t b) {
  std::vector<uint8_t> px(static_cast<size_t>(size) * size * channels);
  for (size_t i = 0; i < px.size(); i += channels) {
    px[i] = r;
    if (channels == 3) {
      px[i + 1] = g;
      px[i + 2] = b;
    }
  }
  fs::create_directories(path.parent_path());
  if (path.extension() == ".png") stbi_write_png(path.c_str(), size, size, channels, px.data(), size * channels);
  else stbi_write_jpg(path.c_str(), size, size, channels, px.data(), 95);
}

class TinyImageNetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_ / "tiny-imagenet-200";
    fs::create_directories(root_);
    std::ofstream(root_ / "wnids.txt") << "n02\nn01\n";  // unsorted on purpose: labels follow the sorted order
    write_image(root_ / "train/n01/images/n01_0.png", 64, 3, 10, 20, 30);
    write_image(root_ / "train/n01/images/n01_1.JPEG", 64, 3, 200, 100, 50);
    write_image(root_ / "train/n02/images/n02_0.png", 64, 1, 77, 0, 0);   // grey
    write_image(root_ / "train/n02/images/n02_1.png", 32, 3, 5, 6, 7);    // another size: resized
    write_image(root_ / "val/images/val_0.png", 64, 3, 1, 2, 3);
    write_image(root_ / "val/images/val_1.JPEG", 64, 3, 9, 9, 9);
    std::ofstream(root_ / "val/val_annotations.txt") << "val_0.png\tn02\t0\t0\t63\t63\nval_1.JPEG\tn01\t0\t0\t63\t63\n";
  }
  uint8_t pixel(const ImageDataset& ds, int64_t i, int c, int p) const { return ds.pixels[i * ds.image_size() + c * 4096 + p]; }
  TempDir tmp_{"tiny_test"};
  const fs::path dir_ = tmp_.path();
  fs::path root_;
};

TEST_F(TinyImageNetTest, LoadsPixelsLabelsAndTheValidationSet) {
  ImageDataset train = load_tiny_imagenet(dir_.string(), true);
  ASSERT_EQ(train.n, 4);
  EXPECT_EQ(train.num_classes, 2);
  EXPECT_EQ(train.labels, (std::vector<int32_t>{0, 0, 1, 1}));
  EXPECT_EQ(pixel(train, 0, 0, 0), 10);
  EXPECT_EQ(pixel(train, 0, 2, 4095), 30);
  EXPECT_NEAR(pixel(train, 1, 0, 100), 200, 3) << "JPEG, approximately";
  for (int c = 0; c < 3; ++c) EXPECT_EQ(pixel(train, 2, c, 50), 77) << "grey expanded to 3 channels";
  EXPECT_EQ(pixel(train, 3, 1, 2000), 6) << "resized from 32x32";
  ImageDataset val = load_tiny_imagenet(dir_.string(), false);
  EXPECT_EQ(val.labels, (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(pixel(val, 0, 2, 7), 3);
}

TEST_F(TinyImageNetTest, CacheIsUsedAndRebuiltWhenTheFilesChange) {
  load_tiny_imagenet(dir_.string(), true);
  ASSERT_TRUE(fs::exists(root_ / "mfd-cache-train.bin"));
  // A cache that no longer matches is not trusted: rewrite one image with another colour.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a new modification second
  write_image(root_ / "train/n01/images/n01_0.png", 64, 3, 99, 20, 30);
  EXPECT_EQ(pixel(load_tiny_imagenet(dir_.string(), true), 0, 0, 0), 99);
  // A damaged cache is rebuilt, not read.
  fs::resize_file(root_ / "mfd-cache-train.bin", 100);
  EXPECT_EQ(load_tiny_imagenet(dir_.string(), true).n, 4);
}

TEST_F(TinyImageNetTest, BadInputsNameTheFileAndTheLayout) {
  std::string msg = error_message([&] { load_tiny_imagenet((dir_ / "elsewhere").string(), true); });
  EXPECT_NE(msg.find("elsewhere/tiny-imagenet-200 not found"), std::string::npos) << msg;
  EXPECT_NE(msg.find("scripts/get-data.sh tinyimagenet"), std::string::npos) << msg;
  std::ofstream(root_ / "train/n02/images/broken.JPEG") << "not an image";
  msg = error_message([&] { load_tiny_imagenet(dir_.string(), true); });
  EXPECT_NE(msg.find("broken.JPEG: cannot decode the image"), std::string::npos) << msg;
  std::ofstream(root_ / "val/val_annotations.txt", std::ios::app) << "val_2.JPEG\tn99\t0\t0\t1\t1\n";
  msg = error_message([&] { load_tiny_imagenet(dir_.string(), false); });
  EXPECT_NE(msg.find("val_annotations.txt: line 3 names class 'n99'"), std::string::npos) << msg;
}

}  // namespace
}  // namespace mfd::test
