// The autograd tape. Each differentiable op that sees an input requiring a gradient records one
// node: its output and a backward function that accumulates into its inputs' gradients.
// backward() walks the tape once in reverse; a node is destroyed (freeing what it saved) as soon
// as it has run. No graph optimisation, no higher-order gradients.
#pragma once
#include <functional>
#include <initializer_list>

#include "engine/tensor.h"

namespace mfd {

using BackwardFn = std::function<void(const Tensor& grad_output)>;

// True when gradients are being recorded and one of the inputs requires one.
bool needs_grad(std::initializer_list<Tensor> inputs);
// Marks `output` as requiring a gradient and appends its node to the tape. `op` (a string
// literal: "conv2d") names the node's NVTX range when backward runs it.
void record(const char* op, const Tensor& output, BackwardFn backward);

// The gradient of t, allocated as zeros on first use; backward functions accumulate into it.
Tensor grad_of(const Tensor& t);
// grad_of(t) when t requires a gradient, else an undefined tensor (which kernels skip).
Tensor grad_if_needed(const Tensor& t);

// Runs the tape backwards from `root`, seeding its gradient with `grad_root` (ones when
// undefined; root must then have one element). Clears the tape.
void backward(const Tensor& root, const Tensor& grad_root = Tensor());
// Drops every recorded node without running it (e.g. after a forward pass whose loss is unused).
void clear_tape();
size_t tape_size();

// While alive, no op records anything (evaluation, optimizer steps).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};
bool grad_enabled();

}  // namespace mfd
