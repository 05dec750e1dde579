// Center Loss (Wen et al. 2016): L_C = 1/2 mean_i ||x_i - c_{y_i}||^2 on the final embedding,
// added to the softmax loss with weight lambda_c (default 0.003). The centres are a buffer, not
// parameters: after each step they move by the paper's rule with rate alpha (default 0.5),
// c_j -= alpha * sum_{y_i = j} (c_j - x_i) / (1 + n_j). The MFD paper states neither value; these
// are the usual ones.
#pragma once
#include "layers/module.h"

namespace mfd {

class CenterLoss : public Module {
 public:
  CenterLoss(int num_classes, int embedding_dim, double alpha = 0.5);
  // The scalar L_C for embeddings x (N, E) and i32 labels (N); differentiable in x.
  Tensor loss(const Tensor& x, const Tensor& labels);
  // Moves the centres towards this batch's embeddings (call once per step, after the optimizer).
  void update_centers(const Tensor& x, const Tensor& labels);
  Tensor& centers() { return centers_; }

 private:
  double alpha_;
  Tensor& centers_;  // (K, E), zeros at the start as in the reference implementation
};

}  // namespace mfd
