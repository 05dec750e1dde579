#include "engine/batch_shard.h"

namespace mfd {

namespace {
thread_local const BatchShard* g_shard = nullptr;  // the training step runs on one thread
}

const BatchShard* current_shard() { return g_shard; }

ShardScope::ShardScope(const BatchShard& shard) : previous_(g_shard) { g_shard = &shard; }
ShardScope::~ShardScope() { g_shard = previous_; }

}  // namespace mfd
