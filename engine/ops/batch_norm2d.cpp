// batch_norm2d: the training forward normalises with the batch's statistics, in a data-parallel
// step (engine/batch_shard.h) those of the global batch: each step's per-channel sums are added
// over the processes, as PyTorch's SyncBatchNorm does (the mean first, then the squared
// deviations from it, so that float32 keeps the one-process numerics), and the backward adds the
// two gradient sums. The parameter gradients stay this shard's part (the gradient sum adds the
// others').
#include "engine/autograd.h"
#include "engine/batch_shard.h"
#include "engine/ops.h"

namespace mfd {

namespace {

// The shard's communicator when its batch norm statistics are summed over the processes.
Communicator* synced(const BatchShard* shard) { return shard && shard->sync_batch_norm ? shard->comm : nullptr; }

void forward_synced(Backend& be, Communicator& comm, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                    double count, double momentum, double eps, Tensor& running_mean, Tensor& running_var, Tensor& y,
                    Tensor& mean, Tensor& invstd) {
  Tensor sum = Tensor::empty_like(mean), sq = Tensor::empty_like(mean);
  be.batch_norm_sum(x, sum);
  comm.all_reduce_sum(sum, "batch_norm");
  be.batch_norm_sq_dev(x, sum, count, sq);
  comm.all_reduce_sum(sq, "batch_norm");
  be.batch_norm_apply_train(x, gamma, beta, sum, sq, count, momentum, eps, running_mean, running_var, y, mean, invstd);
}

void backward_synced(Backend& be, Communicator& comm, const Tensor& x, const Tensor& gamma, const Tensor& mean,
                     const Tensor& invstd, const Tensor& dy, double count, Tensor& dx, Tensor& dgamma, Tensor& dbeta) {
  Tensor sum_dy = Tensor::empty_like(mean), sum_dy_xhat = Tensor::empty_like(mean);
  be.batch_norm_backward_sums(x, mean, invstd, dy, sum_dy, sum_dy_xhat);
  if (dbeta.defined()) be.axpy(1.0, sum_dy, dbeta);
  if (dgamma.defined()) be.axpy(1.0, sum_dy_xhat, dgamma);
  if (!dx.defined()) return;
  comm.all_reduce_sum(sum_dy, "batch_norm");
  comm.all_reduce_sum(sum_dy_xhat, "batch_norm");
  be.batch_norm_backward_apply(x, gamma, mean, invstd, dy, sum_dy, sum_dy_xhat, count, dx);
}

}  // namespace

Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                    Tensor& running_var, bool training, double momentum, double eps) {
  check_ndim("batch_norm2d", "x", x, 4);
  int64_t channels = x.size(1);
  for (const Tensor* t : {&gamma, &beta, static_cast<const Tensor*>(&running_mean), static_cast<const Tensor*>(&running_var)}) {
    check_same_device_dtype("batch_norm2d", x, *t);
    MFD_CHECK(t->ndim() == 1 && t->size(0) == channels, "batch_norm2d: parameter of shape ",
              t->shape().str(), " for ", channels, " channels");
  }
  Backend& be = backend_for(x);
  Tensor y = Tensor::empty_like(x);
  Tensor mean = Tensor::empty({channels}, x.dtype(), x.device());
  Tensor invstd = Tensor::empty_like(mean);
  Communicator* comm = training ? synced(current_shard()) : nullptr;
  const int64_t batch = comm ? current_shard()->global : x.size(0);
  const double count = static_cast<double>(batch * x.size(2) * x.size(3));
  if (training) {
    MFD_CHECK(count > 1, "batch_norm2d: expected more than 1 value per channel when "
              "training, got input of shape ", x.shape().str(), " (use a batch larger than 1)");
    if (comm) {
      forward_synced(be, *comm, x, gamma, beta, count, momentum, eps, running_mean, running_var, y, mean, invstd);
    } else {
      be.batch_norm_forward_train(x, gamma, beta, momentum, eps, running_mean, running_var, y, mean, invstd);
    }
  } else {
    be.batch_norm_forward_eval(x, gamma, beta, running_mean, running_var, eps, y, mean, invstd);
  }
  if (needs_grad({x, gamma, beta})) {
    // Saves x, gamma and the statistics it normalised with, not beta (nor its output).
    record("batch_norm2d", y,
           [x, gamma, gbeta = grad_ref(beta), mean, invstd, training, comm, count](const Tensor& dy) {
             Tensor dgamma = grad_if_needed(gamma), dbeta = grad_if_needed(gbeta);
             Backend& b = backend_for(x);
             if (comm) {
               Tensor dx = grad_if_needed(x);
               backward_synced(b, *comm, x, gamma, mean, invstd, dy, count, dx, dgamma, dbeta);
             } else {
               GradWrite dx_write;
               Tensor dx = grad_to_write(x, dx_write);
               b.batch_norm_backward(x, gamma, mean, invstd, dy, training, dx, dgamma, dbeta, dx_write);
             }
           });
  }
  return y;
}

}  // namespace mfd
