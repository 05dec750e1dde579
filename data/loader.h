// Batches for training and evaluation: the epoch's order from (seed, epoch), each training image
// augmented from (seed, epoch, index) (data/augment.h), the last partial batch kept unless
// drop_last (as PyTorch's DataLoader), and batches prepared ahead by worker threads. Batch k of an
// epoch is the same whatever the number of workers or their timing, so a run resumed at batch k
// sees exactly the batches it would have seen.
#pragma once
#include <condition_variable>
#include <deque>
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
};

class BatchLoader {
 public:
  BatchLoader(const ImageDataset& ds, const LoaderOptions& options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Starts epoch `epoch` at batch `first_batch` (a resumed run passes the batch it stopped at).
  void start_epoch(int epoch, int64_t first_batch = 0);
  // The next batch of the epoch; false once the epoch is over.
  bool next(Tensor& images, Tensor& labels);
  int64_t batches_per_epoch() const;

 private:
  struct Slot {
    int64_t index;
    Tensor images, labels;
  };
  void prepare(int64_t batch_index, Tensor& images, Tensor& labels) const;
  void stop_workers();
  void worker_loop();

  const ImageDataset& ds_;
  LoaderOptions options_;
  int epoch_ = 0;
  std::vector<int64_t> order_;
  int64_t next_to_hand_ = 0, next_to_make_ = 0, end_ = 0;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<Slot> done_;  // prepared batches, any order
  bool stopping_ = false;
};

}  // namespace mfd
