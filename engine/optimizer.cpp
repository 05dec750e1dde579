#include "engine/optimizer.h"

#include <algorithm>
#include <cmath>

#include "engine/backend.h"

namespace mfd {

SGD::SGD(std::vector<NamedTensor> params, double lr, double momentum, double weight_decay)
    : params_(std::move(params)), velocity_(params_.size()), lr_(lr), momentum_(momentum),
      weight_decay_(weight_decay) {
  MFD_CHECK(lr >= 0 && momentum >= 0 && weight_decay >= 0,
            "SGD: lr, momentum and weight decay must be >= 0");
}

void SGD::step() {
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& w = *params_[i].second;
    Tensor g = w.grad();
    if (!g.defined()) continue;
    if (!velocity_[i].defined())
      velocity_[i] = Tensor::zeros_like(w);
    backend_for(w).sgd_step(w, g, velocity_[i], lr_, momentum_, weight_decay_);
  }
}

std::vector<NamedTensor> SGD::named_state() {
  std::vector<NamedTensor> out;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!velocity_[i].defined()) velocity_[i] = Tensor::zeros_like(*params_[i].second);
    out.emplace_back("momentum." + params_[i].first, &velocity_[i]);
  }
  return out;
}

MultiStepLR::MultiStepLR(double base_lr, std::vector<int> milestones, double gamma)
    : base_lr_(base_lr), milestones_(std::move(milestones)), gamma_(gamma) {
  MFD_CHECK(std::is_sorted(milestones_.begin(), milestones_.end()),
            "MultiStepLR: milestones must be increasing");
}

double MultiStepLR::lr_at(int epoch) const {
  auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), epoch) - milestones_.begin();
  return base_lr_ * std::pow(gamma_, static_cast<double>(passed));
}

}  // namespace mfd
