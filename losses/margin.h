// Margin losses for face recognition (Table VI): AM-Softmax (Wang et al. 2018) and ArcFace
// (Deng et al. 2019). Both replace the classifier's logits by scaled cosines between the
// normalised embedding and normalised class weights, with a margin on the true class; the loss is
// then the ordinary softmax cross-entropy of these logits. Test accuracy is the argmax of cos.
#pragma once
#include "engine/backend.h"
#include "engine/tensor.h"

namespace mfd {

// cos(theta_ij) = <x_i / |x_i|, w_j / |w_j|>: embedding x (N, E), class weights w (K, E) -> (N, K).
Tensor cosine_logits(const Tensor& x, const Tensor& w);

// AM-Softmax: s (cos - m) for the true class, s cos for the others (s = 30, m = 0.35).
Tensor am_softmax_logits(const Tensor& cos, const Tensor& labels, double s = 30.0, double m = 0.35);
// ArcFace: s cos(theta + m) for the true class, s cos for the others (s = 64, m = 0.5), with the
// fallback s (cos - m sin m) once theta + m > pi.
Tensor arcface_logits(const Tensor& cos, const Tensor& labels, double s = 64.0, double m = 0.5);

}  // namespace mfd
