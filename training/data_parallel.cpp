#include "training/data_parallel.h"

#include "engine/backend.h"
#include "engine/nvtx.h"

namespace mfd {

GradientBuckets::GradientBuckets(std::vector<NamedTensor> params, int64_t bucket_bytes)
    : params_(std::move(params)), bucket_bytes_(bucket_bytes) {}

// Consecutive parameters with a gradient, of one dtype and device, up to bucket_bytes together.
void GradientBuckets::plan() {
  buckets_.clear();
  planned_for_.clear();
  int64_t bytes = 0;
  for (auto& [name, p] : params_) {
    const Tensor g = p->grad();
    planned_for_.push_back(g.defined() ? p : nullptr);
    if (!g.defined()) continue;
    const bool fits = !buckets_.empty() && bytes + static_cast<int64_t>(g.nbytes()) <= bucket_bytes_ &&
                      buckets_.back().params.front()->dtype() == g.dtype() &&
                      buckets_.back().params.front()->device() == g.device();
    if (!fits) buckets_.push_back({}), bytes = 0;
    buckets_.back().params.push_back(p);
    bytes += static_cast<int64_t>(g.nbytes());
  }
  for (Bucket& b : buckets_) {
    if (b.params.size() == 1) continue;
    int64_t n = 0;
    for (const Tensor* p : b.params) n += p->numel();
    b.flat = Tensor::empty({n}, b.params.front()->dtype(), b.params.front()->device());
  }
}

void GradientBuckets::all_reduce(Communicator& comm) {
  MFD_NVTX_RANGE("all_reduce gradients");
  bool same = planned_for_.size() == params_.size();
  for (size_t i = 0; same && i < params_.size(); ++i)
    same = (params_[i].second->grad().defined() ? params_[i].second : nullptr) == planned_for_[i];
  if (!same) plan();
  for (Bucket& b : buckets_) {
    if (!b.flat.defined()) {
      Tensor g = b.params.front()->grad();
      comm.all_reduce_sum(g, "gradients");
      continue;
    }
    Backend& be = backend_for(b.flat);
    char* flat = static_cast<char*>(b.flat.raw());
    size_t offset = 0;
    for (const Tensor* p : b.params) {
      const Tensor g = p->grad();
      be.copy(flat + offset, g.raw(), g.nbytes());
      offset += g.nbytes();
    }
    comm.all_reduce_sum(b.flat, "gradients");
    offset = 0;
    for (const Tensor* p : b.params) {
      const Tensor g = p->grad();
      be.copy(g.raw(), flat + offset, g.nbytes());
      offset += g.nbytes();
    }
  }
}

DataParallel::DataParallel(Communicator& comm, std::vector<NamedTensor> params, std::vector<NamedTensor> buffers,
                           bool sync_batch_norm, bool sync_mfd)
    : comm_(comm), gradients_(std::move(params)), buffers_(std::move(buffers)), sync_batch_norm_(sync_batch_norm),
      sync_mfd_(sync_mfd) {}

BatchShard DataParallel::shard(int64_t begin, int64_t size, int64_t global) {
  BatchShard s;
  s.begin = begin, s.size = size, s.global = global;
  s.comm = &comm_;
  s.sync_batch_norm = sync_batch_norm_, s.sync_mfd = sync_mfd_;
  return s;
}

void DataParallel::before_step() {
  if (sync_batch_norm_) return;  // the running statistics come from the same sums everywhere
  for (auto& [name, t] : buffers_)
    if (is_floating(t->dtype())) comm_.broadcast(*t, 0, "buffers");
}

}  // namespace mfd
