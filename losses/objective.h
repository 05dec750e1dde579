// The training objective of the paper, eq. 7, generalised to its Table VI losses:
//   L = L_cls + lambda * sum_{s in mfd_stages} L_MFD(stage s),
// where L_cls is softmax cross-entropy on the model's logits ("softmax"), that plus
// center_weight * Center Loss on the embedding ("center"), or cross-entropy on AM-Softmax /
// ArcFace margin logits computed from the embedding and this objective's own class weights
// ("amsoftmax", "arcface"). lambda = 0 gives the classification loss alone.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/rng.h"
#include "layers/module.h"
#include "losses/center_loss.h"
#include "losses/mfd.h"

namespace mfd {

enum class LossKind { softmax, center, amsoftmax, arcface };
LossKind parse_loss_kind(const std::string& name);  // an unknown name lists the valid ones
const char* loss_kind_name(LossKind kind);

struct ObjectiveConfig {
  LossKind kind = LossKind::softmax;
  double lambda = 0.0;                        // MFD weight (the paper uses 1)
  std::vector<int> mfd_stages;                // empty: every stage of the model
  MfdCentering centering = MfdCentering::batch;
  double center_weight = 0.003, center_alpha = 0.5;  // Center Loss (Wen et al.)
  double am_scale = 30.0, am_margin = 0.35;          // AM-Softmax
  double arc_scale = 64.0, arc_margin = 0.5;         // ArcFace
};

class Objective : public Module {
 public:
  Objective(const ObjectiveConfig& config, int num_classes, int embedding_dim, Generator& gen);

  struct Terms {
    Tensor total;                // what backward() runs from: the batch's loss (in a data-parallel
                                 // step this shard's part, losses/objective.cpp)
    Tensor classification;       // L_cls, including the weighted centre term for "center"
    std::vector<MfdResult> mfd;  // one per chosen stage, in mfd_stages order (empty when lambda = 0)
  };
  // logits (N, K) from the model's classifier; embedding (N, E) before it; the model's stage
  // outputs; i32 labels (N).
  Terms compute(const Tensor& logits, const Tensor& embedding, const std::vector<Tensor>& stages,
                const Tensor& labels);
  // L_cls alone (evaluation).
  Tensor classification(const Tensor& logits, const Tensor& embedding, const Tensor& labels);
  // Per-step state after the optimizer step (Center Loss moves its centres).
  void after_step(const Tensor& embedding, const Tensor& labels);
  // The scores whose argmax is the prediction: the logits, or cos(theta) for the margin losses.
  Tensor scores(const Tensor& logits, const Tensor& embedding);
  const ObjectiveConfig& config() const { return config_; }

 private:
  bool uses_margin() const { return config_.kind == LossKind::amsoftmax || config_.kind == LossKind::arcface; }
  ObjectiveConfig config_;
  Tensor& class_weights_;  // (K, E) for the margin losses, else unset
  std::shared_ptr<CenterLoss> center_;
};

}  // namespace mfd
