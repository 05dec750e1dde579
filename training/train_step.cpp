#include "training/train_step.h"

#include <cmath>
#include <optional>

#include "engine/autograd.h"
#include "engine/nvtx.h"
#include "engine/ops.h"
#include "engine/world.h"

namespace mfd {

EpochSums::EpochSums(size_t stages, double lambda, Device device, DType dtype)
    : cls_(Tensor::zeros({}, dtype, device)), correct_(Tensor::zeros({}, dtype, device)), lambda_(lambda) {
  for (size_t s = 0; s < stages; ++s) {
    mfd_.push_back(Tensor::zeros({}, dtype, device));
    last_corr_.push_back(Tensor::zeros({}, dtype, device));
  }
}

// This process's sums: cls, correct, seen, then MFD and last_corr per stage.
std::vector<double> EpochSums::own() const {
  std::vector<double> v = {cls_.item(), correct_.item(), seen_};
  for (const Tensor& t : mfd_) v.push_back(t.item());
  for (const Tensor& t : last_corr_) v.push_back(t.item());
  return v;
}

EpochSums::Values EpochSums::read() const {
  // Every process's sums added (last_corr is the last batch's, the same everywhere with global
  // MFD and rank 0's with --mfd-sync local: it is not added).
  const std::vector<double> mine = own();
  const size_t stages = mfd_.size();
  std::vector<double> sums(mine.begin(), mine.begin() + 3 + stages);
  world_sum(sums);
  Values v;
  v.cls = sums[0], v.correct = sums[1], v.seen = sums[2];
  v.mfd.assign(sums.begin() + 3, sums.end());
  v.loss = v.cls;
  for (double m : v.mfd) v.loss += lambda_ * m;
  v.last_corr.assign(mine.begin() + 3 + stages, mine.end());
  return v;
}

void EpochSums::restore(const std::vector<double>& own) {
  MFD_CHECK(own.size() == 3 + 2 * mfd_.size(), "EpochSums::restore: ", own.size(), " values for ", mfd_.size(),
            " stages");
  auto set = [](Tensor& t, double x) { t.copy_from(Tensor::full({}, x, t.dtype())); };
  set(cls_, own[0]), set(correct_, own[1]);
  seen_ = own[2];
  for (size_t s = 0; s < mfd_.size(); ++s) set(mfd_[s], own[3 + s]), set(last_corr_[s], own[3 + mfd_.size() + s]);
}

void EpochSums::write(const Values& v) {
  const double part = world().rank == 0 ? 1.0 : 0.0;  // the totals on rank 0, nothing elsewhere
  std::vector<double> own = {part * v.cls, part * v.correct, part * v.seen};
  for (double m : v.mfd) own.push_back(part * m);
  own.insert(own.end(), v.last_corr.begin(), v.last_corr.end());
  restore(own);
}

void EpochSums::add(const Objective::Terms& t, const Tensor& scores, const Tensor& labels, double batch) {
  accumulate(cls_, t.classification, batch);
  for (size_t s = 0; s < mfd_.size(); ++s) {
    accumulate(mfd_[s], t.mfd[s].loss, batch);
    last_corr_[s].copy_from(t.mfd[s].mean_abs);
  }
  accumulate_hits(correct_, scores, labels);
  seen_ += batch;
}

void EpochSums::poison() { accumulate(cls_, Tensor::full({}, NAN, cls_.dtype(), cls_.device())); }

Objective::Terms train_step(Session& s, SGD& opt, const StepBatch& batch, EpochSums& sums, DataParallel* dp) {
  const Tensor &x = batch.x, &y = batch.y;
  // In a data-parallel step the ops find the shard here (engine/batch_shard.h).
  const BatchShard shard = dp ? dp->shard(batch.begin, x.size(0), batch.global) : BatchShard{};
  std::optional<ShardScope> scope;
  if (dp) scope.emplace(shard), dp->before_step();
  s.model->zero_grad();
  s.objective->zero_grad();
  ModelOutput o;
  {
    MFD_NVTX_RANGE("forward");
    o = s.model->run(x);
  }
  Objective::Terms t;
  {
    MFD_NVTX_RANGE("loss");
    t = s.objective->compute(o.logits, o.embedding, o.stages, y);
  }
  {
    MFD_NVTX_RANGE("backward");
    backward(t.total);
    if (dp) dp->after_backward();
  }
  {
    MFD_NVTX_RANGE("optimizer");
    opt.step();
    s.objective->after_step(o.embedding.detach(), y);
  }
  NoGradGuard no_grad;
  sums.add(t, s.objective->scores(o.logits, o.embedding), y, static_cast<double>(x.size(0)));
  return t;
}

}  // namespace mfd
