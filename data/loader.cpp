#include "data/loader.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "data/augment.h"
#include "engine/error.h"

namespace mfd {

ShardBounds batch_shard_bounds(int64_t size, int rank, int ranks) {
  return {size * rank / ranks, size * (rank + 1) / ranks};
}

BatchLoader::BatchLoader(const ImageDataset& ds, const LoaderOptions& options) : ds_(ds), options_(options) {
  MFD_CHECK(options.batch >= 1, "--batch must be >= 1, got ", options.batch);
  MFD_CHECK(ds.n > 0, "data set ", ds.name, " is empty");
  MFD_CHECK(options.ranks >= 1 && options.rank >= 0 && options.rank < options.ranks, "loader: rank ", options.rank,
            " of ", options.ranks);
  // Every process needs an image of every batch (the last, partial one included).
  const int64_t last = ds.n % options.batch;
  MFD_CHECK(options.batch >= options.ranks && (options.drop_last || last == 0 || last >= options.ranks),
            "--batch ", options.batch, " over ", ds.n, " images leaves a batch of ", last == 0 ? options.batch : last,
            " for ", options.ranks, " processes, which need at least one image each: use fewer processes, another "
            "--batch or --limit-train");
}

BatchLoader::~BatchLoader() { stop_workers(); }

int64_t BatchLoader::batches_per_epoch() const {
  return options_.drop_last ? ds_.n / options_.batch : (ds_.n + options_.batch - 1) / options_.batch;
}

void BatchLoader::prepare(int64_t k, Tensor& images, Tensor& labels) const {
  // Test hook: preparing batch k fails, as an allocation that cannot be made would.
  if (const char* fail = std::getenv("MFD_TEST_LOADER_FAIL_AT_BATCH"); fail && std::atoll(fail) == k)
    throw Error("preparing batch " + std::to_string(k) + " failed (MFD_TEST_LOADER_FAIL_AT_BATCH)");
  const int64_t start = k * options_.batch, count = std::min(options_.batch, ds_.n - start);
  const ShardBounds shard = batch_shard_bounds(count, options_.rank, options_.ranks);
  BatchAugmentation aug{options_.seed, epoch_, options_.pad, options_.flip};
  make_batch(ds_, order_, start + shard.begin, shard.end - shard.begin, Device::cpu, images, labels,
             options_.train ? &aug : nullptr);
}

void BatchLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  space_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  done_.clear();
  stopping_ = false;
}

void BatchLoader::worker_loop() {
  omp_set_num_threads(1);  // the workers are the parallelism; no nested OpenMP teams
  const size_t depth = 2 * static_cast<size_t>(options_.workers);
  for (;;) {
    int64_t k;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      space_.wait(lock, [&] { return stopping_ || (next_to_make_ < end_ && done_.size() < depth); });
      if (stopping_) return;
      k = next_to_make_++;
    }
    Slot slot{k, Tensor(), Tensor(), nullptr};
    try {
      prepare(k, slot.images, slot.labels);
    } catch (...) {  // an exception must not end the program from a worker thread
      slot.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.push_back(std::move(slot));
    }
    ready_.notify_all();
  }
}

void BatchLoader::start_epoch(int epoch, int64_t first_batch) {
  stop_workers();
  epoch_ = epoch;
  if (options_.train) {
    order_ = epoch_order(options_.seed, epoch, ds_.n);
  } else {
    order_.resize(ds_.n);
    for (int64_t i = 0; i < ds_.n; ++i) order_[i] = i;
  }
  next_to_hand_ = next_to_make_ = std::min(first_batch, batches_per_epoch());
  end_ = batches_per_epoch();
  for (int w = 0; w < options_.workers; ++w) threads_.emplace_back(&BatchLoader::worker_loop, this);
}

bool BatchLoader::next(Tensor& images, Tensor& labels) {
  if (next_to_hand_ >= end_) return false;
  const int64_t k = next_to_hand_++;
  last_size_ = std::min(options_.batch, ds_.n - k * options_.batch);
  last_begin_ = batch_shard_bounds(last_size_, options_.rank, options_.ranks).begin;
  if (options_.workers == 0) {
    prepare(k, images, labels);
  } else {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] {
      return std::any_of(done_.begin(), done_.end(), [k](const Slot& s) { return s.index == k; });
    });
    auto it = std::find_if(done_.begin(), done_.end(), [k](const Slot& s) { return s.index == k; });
    images = it->images;
    labels = it->labels;
    const std::exception_ptr error = it->error;
    done_.erase(it);
    lock.unlock();
    space_.notify_all();
    if (error) std::rethrow_exception(error);
  }
  images = images.to(options_.dtype).to(options_.device);
  labels = labels.to(options_.device);
  return true;
}

}  // namespace mfd
