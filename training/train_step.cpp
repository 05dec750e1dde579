#include "training/train_step.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/nvtx.h"
#include "engine/ops.h"

namespace mfd {

EpochSums::EpochSums(size_t stages, Device device, DType dtype)
    : loss_(Tensor::zeros({}, dtype, device)), cls_(Tensor::zeros({}, dtype, device)),
      correct_(Tensor::zeros({}, dtype, device)) {
  for (size_t s = 0; s < stages; ++s) {
    mfd_.push_back(Tensor::zeros({}, dtype, device));
    last_corr_.push_back(Tensor::zeros({}, dtype, device));
  }
}

EpochSums::Values EpochSums::read() const {
  Values v;
  v.loss = loss_.item(), v.cls = cls_.item(), v.correct = correct_.item(), v.seen = seen_;
  for (const Tensor& t : mfd_) v.mfd.push_back(t.item());
  for (const Tensor& t : last_corr_) v.last_corr.push_back(t.item());
  return v;
}

void EpochSums::write(const Values& v) {
  auto set = [](Tensor& t, double x) { t.copy_from(Tensor::full({}, x, t.dtype())); };
  set(loss_, v.loss), set(cls_, v.cls), set(correct_, v.correct);
  seen_ = v.seen;
  for (size_t s = 0; s < mfd_.size(); ++s) set(mfd_[s], v.mfd.at(s)), set(last_corr_[s], v.last_corr.at(s));
}

void EpochSums::add(const Objective::Terms& t, const Tensor& scores, const Tensor& labels, double batch) {
  accumulate(loss_, t.total, batch);
  accumulate(cls_, t.classification, batch);
  for (size_t s = 0; s < mfd_.size(); ++s) {
    accumulate(mfd_[s], t.mfd[s].loss, batch);
    last_corr_[s].copy_from(t.mfd[s].mean_abs);
  }
  accumulate_hits(correct_, scores, labels);
  seen_ += batch;
}

void EpochSums::poison() { accumulate(loss_, Tensor::full({}, NAN, loss_.dtype(), loss_.device())); }

Objective::Terms train_step(Session& s, SGD& opt, const Tensor& x, const Tensor& y, EpochSums& sums) {
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
