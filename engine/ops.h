// The differentiable ops: what layers, losses and models call. Each checks shapes, runs the
// kernel of its inputs' device (engine/backend.h) and records its backward on the tape
// (engine/autograd.h) when an input requires a gradient. Outputs are new tensors.
#pragma once
#include <vector>

#include "engine/backend.h"
#include "engine/rng.h"
#include "engine/tensor.h"

namespace mfd {

// x (N, C, H, W), w (K, C/groups, R, S), b (K) or undefined -> (N, K, P, Q).
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p = {});

// Batch normalisation of x (N, C, H, W) with affine gamma, beta (C). In training it uses batch
// statistics and updates running_mean / running_var in place (momentum as PyTorch's: new =
// (1 - momentum) * old + momentum * batch); in evaluation it uses the running statistics.
Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                    Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);

Tensor relu(const Tensor& x);
Tensor relu6(const Tensor& x);
// Zeroes elements with probability p and scales the others by 1/(1-p) in training; identity in
// evaluation or when p == 0.
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);

Tensor max_pool2d(const Tensor& x, const Pool2dParams& p);
Tensor avg_pool2d(const Tensor& x, const Pool2dParams& p);
Tensor global_avg_pool(const Tensor& x);  // (N, C, H, W) -> (N, C)

// x (N, I), w (O, I), b (O) or undefined -> x w^T + b (N, O).
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);

Tensor add(const Tensor& a, const Tensor& b);      // same shapes
Tensor scale(const Tensor& x, double alpha);       // alpha * x
Tensor concat_channels(const std::vector<Tensor>& xs);
Tensor reshape(const Tensor& x, const Shape& shape);  // shares storage; numel must match
Tensor flatten(const Tensor& x);                   // (N, ...) -> (N, rest)
Tensor sum(const Tensor& x);                       // scalar (shape ())
Tensor mean(const Tensor& x);                      // scalar (shape ())
Tensor l2_normalize(const Tensor& x, double eps = 1e-12);  // rows of (N, D)

// Running sums for logs, in place on the tensors' device, with no gradient and nothing recorded
// (a training step adds to them without reading anything back): acc += alpha * x (same shape),
// and count (a scalar) += the rows of scores (N, K) whose first largest entry is at the i32 label.
void accumulate(Tensor& acc, const Tensor& x, double alpha = 1.0);
void accumulate_hits(Tensor& count, const Tensor& scores, const Tensor& labels);

// Mean softmax cross-entropy of logits (N, K) against i32 class ids (N); a scalar. The logits may
// come from a margin loss (AM-Softmax, ArcFace) that has already modified the true class.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);

}  // namespace mfd
