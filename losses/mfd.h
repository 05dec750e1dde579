// MFD loss (the paper's eq. 5-7). For a stage output X (B, D, H, W), channel i's observation of
// sample k is its H x W map X[k, i]; with the centred observations y_ik = X[k, i] - mean_i,
//   F_ij = sum_k <y_ik, y_jk> / ( sqrt(sum_k ||y_ik||^2) sqrt(sum_k ||y_jk||^2) ),
//   L_MFD = sum_{i != j} F_ij^2 / (D (D - 1)),
// and the training loss is L_cls + lambda * sum over the chosen stages of L_MFD.
//
// Centring: MfdCentering::batch (default, eq. 6: mean_i is the map averaged over the batch at
// each position) or MfdCentering::channel (one scalar mean over the batch and all positions).
// A dead channel (centred energy at most 1e-10 of its raw energy, engine/mfd_math.h: all-zero
// maps, a constant over the batch) has correlation 0 with every channel and zero gradient.
#pragma once
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/tensor.h"

namespace mfd {

struct MfdResult {
  Tensor loss;          // scalar L_MFD, differentiable
  Tensor mean_abs;      // scalar mean |F_ij| over i != j (dead channels count as 0), for Tables I, III
  Tensor correlation;   // the D x D matrix F (no gradient), for analysis
};

MfdResult mfd_loss(const Tensor& x, MfdCentering centering = MfdCentering::batch);

// lambda * sum of L_MFD over `stages` (all of them), with each stage's result kept for the logs.
struct MfdStagesResult {
  Tensor total;                      // scalar, differentiable; undefined when stages is empty
  std::vector<MfdResult> per_stage;  // in the order given
};
MfdStagesResult mfd_loss_stages(const std::vector<Tensor>& stages, double lambda,
                                MfdCentering centering = MfdCentering::batch);

MfdCentering parse_mfd_centering(const std::string& name);  // "batch" or "channel"
const char* mfd_centering_name(MfdCentering c);

}  // namespace mfd
