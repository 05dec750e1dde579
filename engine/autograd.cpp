#include "engine/autograd.h"

#include <vector>

#include "engine/backend.h"
#include "engine/nvtx.h"

namespace mfd {

namespace {

struct Node {
  const char* op = nullptr;
  std::shared_ptr<GradSlot> output;  // the output's gradient, not its data
  BackwardFn backward;
};

std::shared_ptr<GradSlot>& slot_of(const Tensor& t) {
  TensorImpl& impl = t.impl();
  if (!impl.slot) impl.slot = std::make_shared<GradSlot>(GradSlot{t.shape(), t.dtype(), t.device(), nullptr});
  return impl.slot;
}

Tensor grad_in(GradSlot& slot) {
  if (!slot.grad) slot.grad = Tensor::zeros(slot.shape, slot.dtype, slot.device).impl_ptr();
  return Tensor(slot.grad);
}

thread_local std::vector<Node> tape;
thread_local bool recording = true;

}  // namespace

bool grad_enabled() { return recording; }

NoGradGuard::NoGradGuard() : previous_(recording) { recording = false; }
NoGradGuard::~NoGradGuard() { recording = previous_; }

bool needs_grad(std::initializer_list<Tensor> inputs) {
  if (!recording) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const char* op, const Tensor& output, BackwardFn backward) {
  output.impl().requires_grad = true;
  output.impl().is_leaf = false;
  tape.push_back(Node{op, slot_of(output), std::move(backward)});
}

GradRef grad_ref(const Tensor& t) { return t.defined() && t.requires_grad() ? GradRef(slot_of(t)) : GradRef(); }

Tensor grad_of(const Tensor& t) { return grad_in(*slot_of(t)); }

Tensor grad_of(const GradRef& r) {
  MFD_CHECK(r.defined(), "grad_of: no gradient slot (the tensor needs no gradient)");
  return grad_in(*r.slot());
}

Tensor grad_if_needed(const Tensor& t) {
  return t.defined() && t.requires_grad() ? grad_of(t) : Tensor();
}

Tensor grad_if_needed(const GradRef& r) { return r.defined() ? grad_in(*r.slot()) : Tensor(); }

Tensor grad_to_write(const GradRef& r, GradWrite& write) {
  write = GradWrite::accumulate;
  if (!r.defined()) return Tensor();
  GradSlot& slot = *r.slot();
  if (!slot.grad) {
    slot.grad = Tensor::empty(slot.shape, slot.dtype, slot.device).impl_ptr();
    write = GradWrite::assign;
  }
  return Tensor(slot.grad);
}

Tensor grad_to_write(const Tensor& t, GradWrite& write) {
  return grad_to_write(t.defined() && t.requires_grad() ? GradRef(slot_of(t)) : GradRef(), write);
}

bool adopt_grad(const GradRef& r, const Tensor& g) {
  GradSlot& slot = *r.slot();
  if (slot.grad) return false;
  slot.grad = g.impl_ptr();
  return true;
}

void drop_grad(const Tensor& t) {
  if (t.defined() && t.impl().slot) t.impl().slot->grad.reset();
}

void backward(const Tensor& root, const Tensor& grad_root) {
  MFD_CHECK(root.requires_grad(), "backward: the root does not require a gradient (was it computed "
            "under NoGradGuard, or from inputs that require none?)");
  if (grad_root.defined()) {
    MFD_CHECK(grad_root.shape() == root.shape(), "backward: grad_root shape ",
              grad_root.shape().str(), " differs from root shape ", root.shape().str());
    Tensor g = grad_of(root);
    backend_for(root).axpy(1.0, grad_root, g);
  } else {
    MFD_CHECK(root.numel() == 1, "backward: the root has shape ", root.shape().str(),
              "; give grad_root or reduce it to a scalar first");
    Tensor g = grad_of(root);
    backend_for(root).fill(g, 1.0);
  }
  std::vector<Node> nodes;
  nodes.swap(tape);  // a backward function must not see (or extend) the tape it is walking
  NoGradGuard no_grad;
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    GradSlot& out = *it->output;
    if (out.grad) {
      MFD_NVTX_RANGE(it->op);
      Tensor g(out.grad);
      out.grad.reset();  // non-leaf gradients are not kept
      it->backward(g);
    }
    *it = Node{};  // frees the saved tensors now, not at the end
  }
}

void clear_tape() { tape.clear(); }
size_t tape_size() { return tape.size(); }

}  // namespace mfd
