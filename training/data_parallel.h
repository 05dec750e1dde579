// A training step over several processes (engine/world.h), each holding its shard of every global
// batch: the ops sum the statistics that span the batch over the processes (engine/batch_shard.h),
// and after backward the gradients are summed, in buckets, with one all-reduce each. N processes
// with a global batch B then train as one process with batch B (the tests check it to float64
// rounding). With --bn-sync local every process normalises with its shard's statistics and the
// running statistics are rank 0's (broadcast before each step, as PyTorch's DDP does); with
// --mfd-sync local each process's MFD is its shard's.
#pragma once
#include <memory>
#include <vector>

#include "engine/batch_shard.h"
#include "engine/communicator.h"
#include "layers/module.h"

namespace mfd {

class GradientBuckets {
 public:
  // Buckets of consecutive gradients of up to `bucket_bytes` (one larger gradient alone).
  GradientBuckets(std::vector<NamedTensor> params, int64_t bucket_bytes = int64_t(32) << 20);
  // Each defined gradient becomes the sum of every process's. The buckets' buffers are made at the
  // first call and kept, so a step allocates nothing.
  void all_reduce(Communicator& comm);

 private:
  struct Bucket {
    std::vector<Tensor*> params;
    Tensor flat;  // their gradients side by side (unset for a bucket of one, summed in place)
  };
  void plan();
  std::vector<NamedTensor> params_;
  int64_t bucket_bytes_;
  std::vector<Bucket> buckets_;
  std::vector<const void*> planned_for_;  // the gradients' storage the plan was made for
};

class DataParallel {
 public:
  DataParallel(Communicator& comm, std::vector<NamedTensor> params, std::vector<NamedTensor> buffers,
               bool sync_batch_norm, bool sync_mfd);
  Communicator& comm() { return comm_; }
  // The step's shard: `size` samples from `begin` of a global batch of `global`.
  BatchShard shard(int64_t begin, int64_t size, int64_t global);
  // Before the forward: with --bn-sync local, rank 0's running statistics to every process.
  void before_step();
  // After backward: every gradient summed over the processes.
  void after_backward() { gradients_.all_reduce(comm_); }

 private:
  Communicator& comm_;
  GradientBuckets gradients_;
  std::vector<NamedTensor> buffers_;
  bool sync_batch_norm_, sync_mfd_;
};

}  // namespace mfd
