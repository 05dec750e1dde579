// The autograd tape. Each differentiable op that sees an input requiring a gradient records one
// node: its output's gradient slot and a backward function that accumulates into its inputs'
// gradients. A node keeps exactly what its backward reads, as tinygrad's functions do: the
// tensors whose values it needs (conv2d: x and w; relu: its output), and for every other input
// only a GradRef, the slot its gradient goes to, so that an output no backward reads (a batch
// norm's, an addition's) is freed as soon as the forward is done with it. backward() walks the
// tape once in reverse; a node is destroyed (freeing what it saved) as soon as it has run. No
// graph optimisation, no higher-order gradients.
#pragma once
#include <functional>
#include <initializer_list>

#include "engine/backend.h"
#include "engine/tensor.h"

namespace mfd {

using BackwardFn = std::function<void(const Tensor& grad_output)>;

// True when gradients are being recorded and one of the inputs requires one.
bool needs_grad(std::initializer_list<Tensor> inputs);
// Marks `output` as requiring a gradient and appends its node to the tape. `op` (a string
// literal: "conv2d") names the node's NVTX range when backward runs it.
void record(const char* op, const Tensor& output, BackwardFn backward);

// A tensor's gradient destination without its data; undefined for a tensor needing no gradient.
class GradRef {
 public:
  GradRef() = default;
  explicit GradRef(std::shared_ptr<GradSlot> slot) : slot_(std::move(slot)) {}
  bool defined() const { return slot_ != nullptr; }
  const std::shared_ptr<GradSlot>& slot() const { return slot_; }

 private:
  std::shared_ptr<GradSlot> slot_;
};
GradRef grad_ref(const Tensor& t);  // the slot when t requires a gradient

// The gradient of t, allocated as zeros on first use; backward functions accumulate into it.
Tensor grad_of(const Tensor& t);
Tensor grad_of(const GradRef& r);
// grad_of when a gradient is wanted, else an undefined tensor (which kernels skip).
Tensor grad_if_needed(const Tensor& t);
Tensor grad_if_needed(const GradRef& r);
// The gradient of r for a backward kernel that can assign: the existing one, to accumulate into,
// or on its first write a new uninitialised tensor, which the kernel must assign (`write` says
// which). Undefined (and accumulate) when r needs no gradient.
Tensor grad_to_write(const GradRef& r, GradWrite& write);
Tensor grad_to_write(const Tensor& t, GradWrite& write);
// Gives r the tensor g itself as its gradient when r has none yet (true), so that no copy is
// made: for a backward whose gradient is dy unchanged (add), g being dy, which nothing else holds.
bool adopt_grad(const GradRef& r, const Tensor& g);
// Forgets t's gradient (zero_grad).
void drop_grad(const Tensor& t);

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
