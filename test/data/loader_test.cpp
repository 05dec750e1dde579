// The batch loader: every sample once per epoch, the partial last batch, drop_last, and batches
// independent of the number of workers and of resuming mid-epoch; data-parallel shards.
#include <gtest/gtest.h>

#include <cstdlib>
#include <numeric>

#include "data/loader.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

ImageDataset synthetic(int64_t n) {
  ImageDataset ds;
  ds.name = "synthetic";
  ds.n = n;
  ds.c = 3;
  ds.h = ds.w = 8;
  ds.num_classes = 10;
  ds.mean = {0.5f, 0.5f, 0.5f};
  ds.std = {0.25f, 0.25f, 0.25f};
  ds.pixels.resize(n * ds.image_size());
  for (size_t i = 0; i < ds.pixels.size(); ++i) ds.pixels[i] = static_cast<uint8_t>(i * 31 % 251);
  for (int64_t i = 0; i < n; ++i) ds.labels.push_back(static_cast<int32_t>(i % 10));
  return ds;
}

std::vector<std::vector<double>> epoch_batches(const ImageDataset& ds, LoaderOptions o, int epoch, int64_t first = 0) {
  BatchLoader loader(ds, o);
  loader.start_epoch(epoch, first);
  std::vector<std::vector<double>> out;
  Tensor x, y;
  while (loader.next(x, y)) {
    std::vector<double> v = x.to_vector(), l = y.to_vector();
    v.insert(v.end(), l.begin(), l.end());
    out.push_back(v);
  }
  return out;
}

TEST(BatchLoaderTest, EverySampleOnceAndThePartialLastBatch) {
  ImageDataset ds = synthetic(53);
  LoaderOptions o;
  o.batch = 10;
  o.train = false;
  BatchLoader loader(ds, o);
  EXPECT_EQ(loader.batches_per_epoch(), 6);
  loader.start_epoch(0);
  Tensor x, y;
  std::vector<int64_t> sizes;
  std::vector<double> labels;
  while (loader.next(x, y)) {
    sizes.push_back(x.size(0));
    for (double l : y.to_vector()) labels.push_back(l);
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{10, 10, 10, 10, 10, 3}));
  for (int64_t i = 0; i < 53; ++i) EXPECT_EQ(labels[i], i % 10) << "evaluation keeps the stored order";
  o.drop_last = true;
  EXPECT_EQ(BatchLoader(ds, o).batches_per_epoch(), 5);
}

TEST(BatchLoaderTest, BatchesDoNotDependOnWorkersOrResuming) {
  ImageDataset ds = synthetic(77);
  LoaderOptions o;
  o.batch = 8;
  o.seed = 5;
  o.workers = 0;
  auto reference = epoch_batches(ds, o, 2);
  ASSERT_EQ(reference.size(), 10u);
  for (int workers : {1, 3}) {
    o.workers = workers;
    EXPECT_EQ(epoch_batches(ds, o, 2), reference) << workers << " workers";
  }
  auto resumed = epoch_batches(ds, o, 2, 6);
  ASSERT_EQ(resumed.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(resumed[i], reference[6 + i]);
  EXPECT_NE(epoch_batches(ds, o, 3), reference) << "another epoch, another order and other crops";
}

// A batch that cannot be prepared raises its error where the batch is asked for, on the caller's
// thread (where a worker thread's exception would otherwise end the program), and the batches
// before it arrive intact.
TEST(BatchLoaderTest, AFailingBatchRaisesItsErrorOnTheCallersThread) {
  ImageDataset ds = synthetic(40);
  LoaderOptions o;
  o.batch = 8;
  for (int workers : {0, 2}) {
    SCOPED_TRACE(workers);
    o.workers = workers;
    ASSERT_EQ(setenv("MFD_TEST_LOADER_FAIL_AT_BATCH", "3", 1), 0);
    {  // the workers are stopped (the loader gone) before the variable is
      BatchLoader loader(ds, o);
      loader.start_epoch(0, 0);
      Tensor x, y;
      for (int k = 0; k < 3; ++k) EXPECT_TRUE(loader.next(x, y)) << k;
      try {
        loader.next(x, y);
        ADD_FAILURE() << "batch 3 did not fail";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("preparing batch 3 failed"), std::string::npos) << e.what();
      }
    }
    unsetenv("MFD_TEST_LOADER_FAIL_AT_BATCH");
  }
}

// Several processes: each takes its shard of every batch (the partial last one too), and the
// shards, in rank order, are the one process's batch, augmentation included.
TEST(BatchLoaderTest, TheShardsOfTheRanksMakeUpTheBatch) {
  ImageDataset ds = synthetic(53);
  LoaderOptions o;
  o.batch = 10;
  o.seed = 4;
  o.workers = 1;
  const std::vector<std::vector<double>> whole = epoch_batches(ds, o, 2);
  for (int ranks : {2, 3}) {
    SCOPED_TRACE(ranks);
    o.ranks = ranks;
    std::vector<std::vector<std::vector<double>>> shards;  // [rank][batch]
    for (int r = 0; r < ranks; ++r) {
      o.rank = r;
      shards.push_back(epoch_batches(ds, o, 2));
    }
    ASSERT_EQ(shards[0].size(), whole.size());
    const int64_t image = ds.image_size();
    for (size_t k = 0; k < whole.size(); ++k) {
      const int64_t size = static_cast<int64_t>(whole[k].size()) / (image + 1);
      std::vector<double> images, labels;
      for (int r = 0; r < ranks; ++r) {
        const ShardBounds b = batch_shard_bounds(size, r, ranks);
        const std::vector<double>& v = shards[r][k];
        ASSERT_EQ(static_cast<int64_t>(v.size()), (b.end - b.begin) * (image + 1));
        images.insert(images.end(), v.begin(), v.begin() + (b.end - b.begin) * image);
        labels.insert(labels.end(), v.begin() + (b.end - b.begin) * image, v.end());
      }
      images.insert(images.end(), labels.begin(), labels.end());
      EXPECT_EQ(images, whole[k]) << "batch " << k;
    }
  }
  // The last batch (3 images) cannot give 4 processes an image each: said at once.
  o.ranks = 4, o.rank = 0;
  const std::string message = error_message([&] { BatchLoader loader(ds, o); });
  EXPECT_NE(message.find("4 processes"), std::string::npos) << message;
}

}  // namespace
}  // namespace mfd::test
