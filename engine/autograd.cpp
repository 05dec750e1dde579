#include "engine/autograd.h"

#include <vector>

#include "engine/backend.h"
#include "engine/nvtx.h"

namespace mfd {

namespace {

struct Node {
  const char* op = nullptr;
  Tensor output;
  BackwardFn backward;
};

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
  tape.push_back(Node{op, output, std::move(backward)});
}

Tensor grad_of(const Tensor& t) {
  TensorImpl& impl = t.impl();
  if (!impl.grad) impl.grad = Tensor::zeros(t.shape(), t.dtype(), t.device()).impl_ptr();
  return Tensor(impl.grad);
}

Tensor grad_if_needed(const Tensor& t) {
  return t.defined() && t.requires_grad() ? grad_of(t) : Tensor();
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
    TensorImpl& out = it->output.impl();
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
