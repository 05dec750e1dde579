// IDX reading on files the test writes itself, gzipped and plain, and every bad-input message.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/dataset.h"
#include "data/idx.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> b = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(d >> s));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

void write_plain(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void write_gz(const fs::path& p, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(p.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

class IdxTest : public ::testing::Test {
 protected:
  TempDir tmp_{"idx_test"};
  const fs::path dir_ = tmp_.path();
};

TEST_F(IdxTest, ReadsGzippedAndPlainFiles) {
  std::vector<uint8_t> pixels(2 * 3 * 4);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7);
  write_gz(dir_ / "a.gz", idx_bytes({2, 3, 4}, pixels));
  write_plain(dir_ / "a.idx", idx_bytes({2, 3, 4}, pixels));
  for (const char* name : {"a.gz", "a.idx"}) {
    IdxArray a = read_idx((dir_ / name).string());
    EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 3, 4})) << name;
    EXPECT_EQ(a.data, pixels) << name;
  }
}

TEST_F(IdxTest, TruncatedFileNamesItselfAndBothSizes) {
  std::vector<uint8_t> bytes = idx_bytes({10, 28, 28}, std::vector<uint8_t>(10 * 784, 1));
  bytes.resize(bytes.size() - 100);
  write_gz(dir_ / "t.gz", bytes);
  std::string msg = error_message([&] { read_idx((dir_ / "t.gz").string()); });
  EXPECT_NE(msg.find("t.gz: truncated: 7756 bytes (decompressed), expected 7856"), std::string::npos) << msg;
}

TEST_F(IdxTest, MissingFileAndBadMagic) {
  EXPECT_NE(error_message([&] { read_idx((dir_ / "none.gz").string()); }).find("none.gz: file not found"),
            std::string::npos);
  write_plain(dir_ / "bad", {0, 0, 0x0D, 1, 0, 0, 0, 0});
  EXPECT_NE(error_message([&] { read_idx((dir_ / "bad").string()); }).find("not an unsigned-byte IDX file"),
            std::string::npos);
}

TEST_F(IdxTest, FashionMnistLayoutLabelsAndMessages) {
  std::vector<uint8_t> images(3 * 28 * 28, 255), labels = {0, 9, 4};
  write_gz(dir_ / "t10k-images-idx3-ubyte.gz", idx_bytes({3, 28, 28}, images));
  write_gz(dir_ / "t10k-labels-idx1-ubyte.gz", idx_bytes({3}, labels));
  ImageDataset ds = load_fashion_mnist(dir_.string(), false);
  EXPECT_EQ(ds.n, 3);
  EXPECT_EQ(ds.c, 1);
  EXPECT_EQ(ds.h, 28);
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{0, 9, 4}));
  EXPECT_EQ(ds.class_counts()[9], 1);
  Tensor x, y;
  make_batch(ds, {2, 0}, 0, 2, Device::cpu, x, y);
  EXPECT_EQ(y.to_vector(), (std::vector<double>{4, 0}));
  EXPECT_NEAR(x.to_vector()[0], (1.0 - 0.2860) / 0.3530, 1e-5) << "normalised white pixel";

  std::string missing = error_message([&] { load_fashion_mnist(dir_.string(), true); });
  EXPECT_NE(missing.find("train-images-idx3-ubyte.gz not found"), std::string::npos) << missing;
  EXPECT_NE(missing.find("apt-get install dataset-fashion-mnist"), std::string::npos) << missing;

  write_gz(dir_ / "t10k-labels-idx1-ubyte.gz", idx_bytes({3}, {0, 10, 4}));
  EXPECT_NE(error_message([&] { load_fashion_mnist(dir_.string(), false); }).find("label 10 of record 1"),
            std::string::npos);
}

}  // namespace
}  // namespace mfd::test
