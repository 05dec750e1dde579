#include "losses/center_loss.h"

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/batch_shard.h"

namespace mfd {

CenterLoss::CenterLoss(int num_classes, int embedding_dim, double alpha)
    : alpha_(alpha), centers_(register_buffer("centers", Tensor::zeros({num_classes, embedding_dim}))) {
  MFD_CHECK(alpha > 0 && alpha <= 1, "center loss: alpha must be in (0, 1], got ", alpha);
}

static void check_inputs(const Tensor& x, const Tensor& centers, const Tensor& labels) {
  check_ndim("center_loss", "embedding", x, 2);
  check_same_device_dtype("center_loss", x, centers);
  MFD_CHECK(x.size(1) == centers.size(1), "center_loss: embedding of ", x.size(1), " features, centres of ",
            centers.size(1));
  MFD_CHECK(labels.dtype() == DType::i32 && labels.ndim() == 1 && labels.size(0) == x.size(0),
            "center_loss: labels must be i32 of shape (", x.size(0), "), got ", labels.shape().str());
}

Tensor CenterLoss::loss(const Tensor& x, const Tensor& labels) {
  check_inputs(x, centers_, labels);
  Tensor out = Tensor::empty(Shape{}, x.dtype(), x.device());
  backend_for(x).center_loss_forward(x, centers_, labels, out);
  if (needs_grad({x})) {
    Tensor centers = centers_.clone();  // the centres this loss saw, whatever updates follow
    record("center_loss", out, [x, centers, labels](const Tensor& dloss) {
      Tensor dx = grad_of(x);
      backend_for(x).center_loss_backward(x, centers, labels, dloss, dx);
    });
  }
  return out;
}

// In a data-parallel step every process's samples move the centres: the per-class sums and
// counts are added over the processes before the move, so the centres stay equal everywhere.
void CenterLoss::update_centers(const Tensor& x, const Tensor& labels) {
  check_inputs(x, centers_, labels);
  Backend& be = backend_for(x);
  Tensor delta = Tensor::empty_like(centers_), counts = Tensor::empty({centers_.size(0)}, x.dtype(), x.device());
  be.center_deltas(x.detach(), labels, centers_, delta, counts);
  if (const BatchShard* shard = current_shard(); shard && shard->comm) {
    shard->comm->all_reduce_sum(delta, "center_loss");
    shard->comm->all_reduce_sum(counts, "center_loss");
  }
  be.center_apply(delta, counts, alpha_, centers_);
}

}  // namespace mfd
