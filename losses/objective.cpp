#include "losses/objective.h"

#include "engine/batch_shard.h"
#include "engine/ops.h"
#include "losses/margin.h"

namespace mfd {

LossKind parse_loss_kind(const std::string& name) {
  for (LossKind k : {LossKind::softmax, LossKind::center, LossKind::amsoftmax, LossKind::arcface})
    if (name == loss_kind_name(k)) return k;
  fail("unknown loss '", name, "' (valid: softmax, center, amsoftmax, arcface)");
}

const char* loss_kind_name(LossKind kind) {
  switch (kind) {
    case LossKind::softmax: return "softmax";
    case LossKind::center: return "center";
    case LossKind::amsoftmax: return "amsoftmax";
    case LossKind::arcface: return "arcface";
  }
  return "?";
}

Objective::Objective(const ObjectiveConfig& config, int num_classes, int embedding_dim, Generator& gen)
    : config_(config),
      class_weights_(config.kind == LossKind::amsoftmax || config.kind == LossKind::arcface
                         ? register_parameter("weight", Tensor::empty({num_classes, embedding_dim}))
                         : unset_tensor()) {
  MFD_CHECK(config.lambda >= 0, "--lambda must be >= 0, got ", config.lambda);
  for (int s : config.mfd_stages) MFD_CHECK(s >= 0, "MFD stage ", s, " is negative");
  if (uses_margin()) {
    Tensor none;
    default_uniform(class_weights_, none, gen);  // only the direction matters after normalising
  }
  if (config.kind == LossKind::center)
    center_ = register_module("center", std::make_shared<CenterLoss>(num_classes, embedding_dim, config.center_alpha));
}

Tensor Objective::classification(const Tensor& logits, const Tensor& embedding, const Tensor& labels) {
  switch (config_.kind) {
    case LossKind::softmax: return cross_entropy(logits, labels);
    case LossKind::center:
      return add(cross_entropy(logits, labels), scale(center_->loss(embedding, labels), config_.center_weight));
    case LossKind::amsoftmax:
      return cross_entropy(
          am_softmax_logits(cosine_logits(embedding, class_weights_), labels, config_.am_scale, config_.am_margin), labels);
    case LossKind::arcface:
      return cross_entropy(
          arcface_logits(cosine_logits(embedding, class_weights_), labels, config_.arc_scale, config_.arc_margin), labels);
  }
  fail("unknown loss kind");
}

Objective::Terms Objective::compute(const Tensor& logits, const Tensor& embedding,
                                    const std::vector<Tensor>& stages, const Tensor& labels) {
  Terms t;
  t.classification = classification(logits, embedding, labels);
  // In a data-parallel step the processes' gradients are summed, so a mean over the batch counts
  // with this shard's share of it, and so does a shard's own MFD (--mfd-sync local); MFD of the
  // global batch counts whole, each process differentiating it through its own samples.
  const BatchShard* shard = current_shard();
  const double share = shard ? shard->share() : 1.0;
  const double mfd_share = shard && shard->sync_mfd && shard->comm ? 1.0 : share;
  t.total = share == 1.0 ? t.classification : scale(t.classification, share);
  if (config_.lambda > 0) {
    std::vector<Tensor> chosen;
    for (int s : config_.mfd_stages) {
      MFD_CHECK(s < static_cast<int>(stages.size()), "MFD stage ", s, " asked for, the model gives ", stages.size());
      chosen.push_back(stages[s]);
    }
    if (config_.mfd_stages.empty()) chosen = stages;  // every stage
    MfdStagesResult m = mfd_loss_stages(chosen, config_.lambda * mfd_share, config_.centering);
    t.mfd = std::move(m.per_stage);
    if (m.total.defined()) t.total = add(t.total, m.total);
  }
  return t;
}

void Objective::after_step(const Tensor& embedding, const Tensor& labels) {
  if (center_) center_->update_centers(embedding, labels);
}

Tensor Objective::scores(const Tensor& logits, const Tensor& embedding) {
  return uses_margin() ? cosine_logits(embedding, class_weights_) : logits;
}

}  // namespace mfd
