#include "losses/mfd.h"

#include "engine/autograd.h"
#include "engine/batch_shard.h"
#include "engine/ops.h"

namespace mfd {

namespace {

// MFD of the global batch from this process's shard x: the group sums (for the means) and the
// raw energies are added over the processes, then each centres its shard with the global means,
// and the products and centred energies are added (centring before the product keeps the
// one-process numerics; the one-pass sum X X^T - B mu mu^T cancels badly in float32 on post-ReLU
// features). F, the loss and the backward's matrix are then the global batch's.
void forward_synced(const Tensor& x, MfdCentering centering, const BatchShard& shard, Tensor& y, Tensor& inv_norm,
                    MfdResult& r) {
  MFD_CHECK(x.size(0) == shard.size, "mfd_loss: ", x.size(0), " samples in a shard of ", shard.size);
  Backend& be = backend_for(x);
  const int64_t d = x.size(1), m = x.size(2) * x.size(3);
  const bool batch = centering == MfdCentering::batch;
  Tensor sum = Tensor::empty(batch ? Shape{d, m} : Shape{d}, x.dtype(), x.device());
  Tensor raw = Tensor::empty({d}, x.dtype(), x.device()), energy = Tensor::empty_like(raw);
  be.mfd_sums(x, centering, sum, raw);
  shard.comm->all_reduce_sum(sum, "mfd");
  shard.comm->all_reduce_sum(raw, "mfd");
  be.mfd_center(x, centering, sum, static_cast<double>(batch ? shard.global : shard.global * m), y, energy);
  be.mfd_product(y, r.correlation);
  shard.comm->all_reduce_sum(r.correlation, "mfd");
  shard.comm->all_reduce_sum(energy, "mfd");
  be.mfd_normalize(r.correlation, energy, raw, inv_norm, r.correlation, r.loss, r.mean_abs);
}

}  // namespace

MfdResult mfd_loss(const Tensor& x, MfdCentering centering) {
  check_ndim("mfd_loss", "stage output", x, 4);
  MFD_CHECK(x.size(0) >= 1 && x.size(1) >= 1, "mfd_loss: empty stage output ", x.shape().str());
  const int64_t d = x.size(1), n = x.size(0) * x.size(2) * x.size(3);
  Tensor y = Tensor::empty({d, n}, x.dtype(), x.device());
  Tensor inv_norm = Tensor::empty({d}, x.dtype(), x.device());
  MfdResult r;
  r.correlation = Tensor::empty({d, d}, x.dtype(), x.device());
  r.loss = Tensor::empty(Shape{}, x.dtype(), x.device());
  r.mean_abs = Tensor::empty(Shape{}, x.dtype(), x.device());
  const BatchShard* shard = current_shard();
  if (shard && shard->sync_mfd && shard->comm) {
    forward_synced(x, centering, *shard, y, inv_norm, r);
  } else {
    backend_for(x).mfd_forward(x, centering, y, inv_norm, r.correlation, r.loss, r.mean_abs);
  }
  if (needs_grad({x})) {
    Tensor corr = r.correlation;
    // Saves the centred observations, 1/norms and F (what the gradient is made of), not x.
    record("mfd_loss", r.loss, [gx = grad_ref(x), y, inv_norm, corr](const Tensor& dloss) {
      Tensor dx = grad_of(gx);
      backend_for(dloss).mfd_backward(y, inv_norm, corr, dloss, dx);
    });
  }
  return r;
}

MfdStagesResult mfd_loss_stages(const std::vector<Tensor>& stages, double lambda, MfdCentering centering) {
  MfdStagesResult out;
  for (const Tensor& s : stages) {
    out.per_stage.push_back(mfd_loss(s, centering));
    const Tensor& l = out.per_stage.back().loss;
    out.total = out.total.defined() ? add(out.total, l) : l;
  }
  if (out.total.defined()) out.total = scale(out.total, lambda);
  return out;
}

MfdCentering parse_mfd_centering(const std::string& name) {
  if (name == "batch") return MfdCentering::batch;
  if (name == "channel") return MfdCentering::channel;
  fail("unknown MFD centring '", name, "' (valid: batch, channel)");
}

const char* mfd_centering_name(MfdCentering c) { return c == MfdCentering::batch ? "batch" : "channel"; }

}  // namespace mfd
