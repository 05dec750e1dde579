// Batches for training and evaluation: the epoch's order from (seed, epoch), each training image
// augmented from (seed, epoch, index) (data/augment.h), the last partial batch kept unless
// drop_last (as PyTorch's DataLoader), and batches prepared ahead by worker threads. Batch k of an
// epoch is the same whatever the number of workers or their timing, so a run resumed at batch k
// sees exactly the batches it would have seen.
#pragma once
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "data/dataset.h"

namespace mfd {

struct LoaderOptions {
  int64_t batch = 128;
  bool train = true;       // shuffle and augment; false: the stored order, no augmentation
  bool drop_last = false;
  int workers = 2;         // threads preparing batches ahead (0: prepared on the caller's thread)
  uint64_t seed = 0;
  int pad = 4;
  bool flip = true;
  Device device = Device::cpu;
  DType dtype = DType::f32;  // of the images
  // A data-parallel process's part: of every batch, the images [begin, end) of
  // batch_shard_bounds(size, rank, ranks), so that the ranks' shards make up the batch.
  int rank = 0, ranks = 1;
};

// The shard [begin, end) of a batch of `size` images that process `rank` of `ranks` takes.
struct ShardBounds {
  int64_t begin, end;
};
ShardBounds batch_shard_bounds(int64_t size, int rank, int ranks);

class BatchLoader {
 public:
  BatchLoader(const ImageDataset& ds, const LoaderOptions& options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Starts epoch `epoch` at batch `first_batch` (a resumed run passes the batch it stopped at).
  void start_epoch(int epoch, int64_t first_batch = 0);
  // The next batch of the epoch (this process's shard of it); false once the epoch is over.
  bool next(Tensor& images, Tensor& labels);
  int64_t batches_per_epoch() const;
  // The whole batch the last next() took its shard from, and where the shard begins in it.
  int64_t last_batch_size() const { return last_size_; }
  int64_t last_shard_begin() const { return last_begin_; }

 private:
  struct Slot {
    int64_t index;
    Tensor images, labels;
    std::exception_ptr error;  // what preparing it threw, rethrown by next() on the caller's thread
  };
  void prepare(int64_t batch_index, Tensor& images, Tensor& labels) const;
  void stop_workers();
  void worker_loop();

  const ImageDataset& ds_;
  LoaderOptions options_;
  int epoch_ = 0;
  std::vector<int64_t> order_;
  int64_t next_to_hand_ = 0, next_to_make_ = 0, end_ = 0;
  int64_t last_size_ = 0, last_begin_ = 0;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<Slot> done_;  // prepared batches, any order
  bool stopping_ = false;
};

}  // namespace mfd
