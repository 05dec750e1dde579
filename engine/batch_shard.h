// The shard of a global batch this process holds during a data-parallel training step, set for
// the step's extent (ShardScope) and read by the ops whose result depends on the whole batch:
//  - batch norm and MFD add their statistics over the processes between their steps (Backend's
//    batch_norm_* and mfd_* steps), so N processes compute what one computes with the batch;
//  - dropout draws each sample's mask where the global batch would have it;
//  - the objective weights its mean-over-the-batch terms by the shard's share of the batch.
// Outside a scope (one process, evaluation) nothing of this applies.
#pragma once
#include <cstdint>

#include "engine/communicator.h"

namespace mfd {

struct BatchShard {
  int64_t begin = 0;   // this process's first sample within the global batch
  int64_t size = 0;    // its number of samples
  int64_t global = 0;  // the global batch
  Communicator* comm = nullptr;  // sums over the processes' shards
  bool sync_batch_norm = true;   // false: each process normalises with its shard's statistics
  bool sync_mfd = true;          // false: each process's MFD is that of its shard
  double share() const { return static_cast<double>(size) / static_cast<double>(global); }
};

// The shard of the step being run, or null outside a data-parallel step.
const BatchShard* current_shard();

class ShardScope {
 public:
  explicit ShardScope(const BatchShard& shard);
  ~ShardScope();
  ShardScope(const ShardScope&) = delete;
  ShardScope& operator=(const ShardScope&) = delete;

 private:
  const BatchShard* previous_;
};

}  // namespace mfd
