// Data-parallel training in one process: the Backend's stepped forms of MFD, batch norm and the
// centre update, run shard by shard with the shards' statistics added by the test (as the
// all-reduce of two processes would), equal the one-batch kernels, dead channels that are dead on
// one shard only included; dropout's shard masks are slices of the batch's; the gradient buckets
// sum every gradient; and a whole data-parallel step (the split ops, the gradient sum) through a
// communicator of one equals the plain step. tools/data_parallel_test.cpp runs real processes.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/communicator.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "losses/objective.h"
#include "models/model.h"
#include "test/test_util.h"
#include "training/data_parallel.h"
#include "training/train_step.h"

namespace mfd::test {
namespace {

// Samples [begin, end) of a (B, ...) tensor, as a new tensor of its dtype and device.
Tensor rows(const Tensor& t, int64_t begin, int64_t end) {
  const std::vector<double> v = t.to_vector();
  const int64_t per = t.numel() / t.size(0);
  Shape s = t.shape();
  s[0] = end - begin;
  return Tensor::from_vector(std::vector<double>(v.begin() + begin * per, v.begin() + end * per), s, t.dtype(),
                             t.device());
}

// a + b, as two processes' all-reduce gives it.
Tensor summed(const Tensor& a, const Tensor& b) {
  Tensor out = Tensor::empty_like(a);
  backend_for(a).add(a, b, out);
  return out;
}

std::vector<double> joined(const std::vector<Tensor>& parts) {
  std::vector<double> out;
  for (const Tensor& p : parts) {
    const std::vector<double> v = p.to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tol, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol * (1 + std::fabs(want[i]))) << what << " " << i;
}

class DataParallelOpsTest : public DeviceTest {
 protected:
  DType dtype() const { return device() == Device::cpu ? DType::f64 : DType::f32; }
  // float64: the stepped and the one-batch forms differ only in the order of additions; float32:
  // also in where the sums are rounded to float (a relative 6e-8 each, over a few dozen terms).
  double tol() const { return dtype() == DType::f64 ? 1e-12 : 2e-5; }
  Tensor on_device(const Tensor& cpu) const { return to_test_tensor(cpu, device(), dtype()); }
  Tensor empty(const Shape& s) const { return Tensor::empty(s, dtype(), device()); }
  Tensor zeros(const Shape& s) const { return Tensor::zeros(s, dtype(), device()); }
};

// x (7, 5, 3, 2) in shards [0, 3) and [3, 7). Channel 2 is all zeros (dead everywhere); channel 3
// is the same map in every sample of the first shard (dead there under batch centring) and channel
// 4 one constant there (dead there under both centrings); both are random in the second shard, so
// alive over the batch: the first shard's own statistics would call them dead.
TEST_P(DataParallelOpsTest, MfdStepsOverShardsEqualTheWholeBatch) {
  const int64_t b = 7, d = 5, m = 6, cut = 3;
  std::vector<double> v = random_values(b * d * m, 21);
  for (int64_t k = 0; k < b; ++k)
    for (int64_t p = 0; p < m; ++p) {
      v[(k * d + 2) * m + p] = 0.0;
      if (k < cut) v[(k * d + 3) * m + p] = 0.25 + 0.1 * p, v[(k * d + 4) * m + p] = 0.7;
    }
  const Tensor x = on_device(Tensor::from_vector(v, {b, d, 3, 2}, DType::f64));
  const Tensor shard[2] = {rows(x, 0, cut), rows(x, cut, b)};
  Backend& be = backend_for(x);
  for (MfdCentering centering : {MfdCentering::batch, MfdCentering::channel}) {
    SCOPED_TRACE(mfd_centering_name(centering));
    Tensor y = empty({d, b * m}), inv_norm = empty({d}), corr = empty({d, d}), loss = empty({}), mean_abs = empty({});
    be.mfd_forward(x, centering, y, inv_norm, corr, loss, mean_abs);

    const bool batch = centering == MfdCentering::batch;
    Tensor sum[2], raw[2], ys[2], energy[2], s[2];
    for (int r = 0; r < 2; ++r) {
      sum[r] = empty(batch ? Shape{d, m} : Shape{d}), raw[r] = empty({d});
      be.mfd_sums(shard[r], centering, sum[r], raw[r]);
    }
    const Tensor total_sum = summed(sum[0], sum[1]), total_raw = summed(raw[0], raw[1]);
    for (int r = 0; r < 2; ++r) {
      ys[r] = empty({d, shard[r].size(0) * m}), energy[r] = empty({d}), s[r] = empty({d, d});
      be.mfd_center(shard[r], centering, total_sum, double(batch ? b : b * m), ys[r], energy[r]);
      be.mfd_product(ys[r], s[r]);
    }
    Tensor g_inv = empty({d}), g_corr = summed(s[0], s[1]), g_loss = empty({}), g_abs = empty({});
    be.mfd_normalize(g_corr, summed(energy[0], energy[1]), total_raw, g_inv, g_corr, g_loss, g_abs);
    expect_close(g_corr.to_vector(), corr.to_vector(), tol(), "F");
    expect_close(g_inv.to_vector(), inv_norm.to_vector(), tol(), "1/norm");
    EXPECT_NEAR(g_loss.item(), loss.item(), tol());
    EXPECT_NEAR(g_abs.item(), mean_abs.item(), tol());
    EXPECT_EQ(inv_norm.to_vector()[2], 0.0) << "the zero channel is dead";
    EXPECT_GT(inv_norm.to_vector()[3], 0.0) << "channel 3 is alive over the batch";
    EXPECT_GT(inv_norm.to_vector()[4], 0.0) << "channel 4 is alive over the batch";
    {  // ... though the first shard alone would call them dead
      Tensor y0 = empty({d, cut * m}), i0 = empty({d}), c0 = empty({d, d}), l0 = empty({}), a0 = empty({});
      be.mfd_forward(shard[0], centering, y0, i0, c0, l0, a0);
      if (batch) {
        EXPECT_EQ(i0.to_vector()[3], 0.0);
      }
      EXPECT_EQ(i0.to_vector()[4], 0.0);
    }

    // Backward: each shard's gradient from the global F is its rows of the batch's gradient.
    const Tensor dloss = Tensor::full({}, 1.3, dtype(), device());
    Tensor dx = zeros(x.shape()), dxs[2] = {zeros(shard[0].shape()), zeros(shard[1].shape())};
    be.mfd_backward(y, inv_norm, corr, dloss, dx);
    for (int r = 0; r < 2; ++r) be.mfd_backward(ys[r], g_inv, g_corr, dloss, dxs[r]);
    expect_close(joined({dxs[0], dxs[1]}), dx.to_vector(), tol(), "dL/dx");
  }
}

TEST_P(DataParallelOpsTest, BatchNormStepsOverShardsEqualTheWholeBatch) {
  const int64_t n = 5, c = 3, cut = 2;
  const Tensor x = on_device(random_tensor({n, c, 2, 3}, 31, DType::f64, -2.0, 3.0));
  const Tensor dy = on_device(random_tensor({n, c, 2, 3}, 32));
  const Tensor gamma = on_device(random_tensor({c}, 33, DType::f64, 0.5, 1.5));
  const Tensor beta = on_device(random_tensor({c}, 34));
  const Tensor shard[2] = {rows(x, 0, cut), rows(x, cut, n)}, dshard[2] = {rows(dy, 0, cut), rows(dy, cut, n)};
  Backend& be = backend_for(x);
  const double momentum = 0.1, eps = 1e-5, count = double(n * 6);

  Tensor rm = zeros({c}), rv = on_device(Tensor::full({c}, 1.0, DType::f64));
  Tensor y = Tensor::empty_like(x), mean = empty({c}), invstd = empty({c});
  be.batch_norm_forward_train(x, gamma, beta, momentum, eps, rm, rv, y, mean, invstd);
  Tensor dx = zeros(x.shape()), dgamma = zeros({c}), dbeta = zeros({c});
  be.batch_norm_backward(x, gamma, mean, invstd, dy, true, dx, dgamma, dbeta, GradWrite::accumulate);

  Tensor sum[2], sq[2], ys[2], means[2], invstds[2], sdy[2], sdyx[2], dxs[2];
  for (int r = 0; r < 2; ++r) sum[r] = empty({c}), be.batch_norm_sum(shard[r], sum[r]);
  const Tensor total = summed(sum[0], sum[1]);
  for (int r = 0; r < 2; ++r) sq[r] = empty({c}), be.batch_norm_sq_dev(shard[r], total, count, sq[r]);
  const Tensor total_sq = summed(sq[0], sq[1]);
  for (int r = 0; r < 2; ++r) {
    Tensor rm_r = zeros({c}), rv_r = on_device(Tensor::full({c}, 1.0, DType::f64));
    ys[r] = Tensor::empty_like(shard[r]), means[r] = empty({c}), invstds[r] = empty({c});
    be.batch_norm_apply_train(shard[r], gamma, beta, total, total_sq, count, momentum, eps, rm_r, rv_r, ys[r], means[r],
                              invstds[r]);
    expect_close(rm_r.to_vector(), rm.to_vector(), tol(), "running mean");
    expect_close(rv_r.to_vector(), rv.to_vector(), tol(), "running variance");
    sdy[r] = empty({c}), sdyx[r] = empty({c});
    be.batch_norm_backward_sums(shard[r], means[r], invstds[r], dshard[r], sdy[r], sdyx[r]);
  }
  expect_close(joined({ys[0], ys[1]}), y.to_vector(), tol(), "y");
  // The parameter gradients are the shards' sums added (the gradient all-reduce does it).
  expect_close(summed(sdy[0], sdy[1]).to_vector(), dbeta.to_vector(), tol(), "dbeta");
  expect_close(summed(sdyx[0], sdyx[1]).to_vector(), dgamma.to_vector(), tol(), "dgamma");
  const Tensor total_dy = summed(sdy[0], sdy[1]), total_dyx = summed(sdyx[0], sdyx[1]);
  for (int r = 0; r < 2; ++r) {
    dxs[r] = zeros(shard[r].shape());
    be.batch_norm_backward_apply(shard[r], gamma, means[r], invstds[r], dshard[r], total_dy, total_dyx, count, dxs[r]);
  }
  expect_close(joined({dxs[0], dxs[1]}), dx.to_vector(), tol(), "dx");
}

// Wen et al.'s rule over the batch, and its two steps with the shards' deltas added.
TEST_P(DataParallelOpsTest, CentreUpdateOverShardsEqualsTheWholeBatch) {
  const int64_t n = 6, e = 4, k = 3, cut = 4;
  const Tensor x = on_device(random_tensor({n, e}, 41));
  const std::vector<int32_t> labels = {0, 2, 2, 1, 0, 2};
  const Tensor y = Tensor::from_labels(labels, device());
  const std::vector<double> c0 = random_values(k * e, 42);
  const double alpha = 0.5;
  // The rule written out: c_j -= alpha * sum_{y_i = j} (c_j - x_i) / (1 + n_j).
  std::vector<double> want = c0;
  const std::vector<double> xv = x.to_vector();
  for (int64_t j = 0; j < k; ++j) {
    int count = 0;
    std::vector<double> delta(e, 0.0);
    for (int64_t i = 0; i < n; ++i)
      if (labels[i] == j) {
        ++count;
        for (int64_t f = 0; f < e; ++f) delta[f] += c0[j * e + f] - xv[i * e + f];
      }
    for (int64_t f = 0; f < e; ++f) want[j * e + f] -= alpha * delta[f] / (1.0 + count);
  }
  Backend& be = backend_for(x);
  Tensor whole = on_device(Tensor::from_vector(c0, {k, e}, DType::f64)), delta = empty({k, e}), counts = empty({k});
  be.center_deltas(x, y, whole, delta, counts);
  be.center_apply(delta, counts, alpha, whole);
  expect_close(whole.to_vector(), want, tol(), "one batch");

  Tensor centres = on_device(Tensor::from_vector(c0, {k, e}, DType::f64));
  Tensor d[2] = {empty({k, e}), empty({k, e})}, cnt[2] = {empty({k}), empty({k})};
  const Tensor xs[2] = {rows(x, 0, cut), rows(x, cut, n)};
  const Tensor ys[2] = {Tensor::from_labels({labels.begin(), labels.begin() + cut}, device()),
                        Tensor::from_labels({labels.begin() + cut, labels.end()}, device())};
  for (int r = 0; r < 2; ++r) be.center_deltas(xs[r], ys[r], centres, d[r], cnt[r]);
  be.center_apply(summed(d[0], d[1]), summed(cnt[0], cnt[1]), alpha, centres);
  expect_close(centres.to_vector(), want, tol(), "two shards");
}

// A shard draws its samples' part of the batch's mask, and the stream moves as far as the batch's.
TEST_P(DataParallelOpsTest, DropoutShardsDrawTheBatchsMask) {
  Generator whole_gen(5), shard_gen(5);
  Tensor whole = empty({6, 5}), shard = empty({4, 5});
  whole_gen.dropout_mask_(whole, 0.3);
  shard_gen.dropout_mask_(shard, 0.3, 2 * 5, 6 * 5);
  const std::vector<double> w = whole.to_vector();
  EXPECT_EQ(shard.to_vector(), std::vector<double>(w.begin() + 10, w.end()));
  EXPECT_EQ(shard_gen.offset(), whole_gen.offset());
}

MFD_INSTANTIATE_DEVICES(DataParallelOpsTest);

// Two identical processes: every sum is twice the value.
class TwinCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 2; }
  const char* name() const override { return "twin"; }
  int calls = 0;

 protected:
  void sum_in_place(Tensor& t) override {
    ++calls;
    backend_for(t).axpy(1.0, t.clone(), t);
  }
  void broadcast_in_place(Tensor&, int) override {}
};

TEST(GradientBuckets, EveryGradientIsSummedInBucketsOfTheirSize) {
  std::vector<Tensor> params = {Tensor::zeros({3, 4}), Tensor::zeros({5}), Tensor::zeros({40}), Tensor::zeros({2}),
                                Tensor::zeros({7})};
  std::vector<NamedTensor> named;
  for (size_t i = 0; i < params.size(); ++i) {
    params[i].set_requires_grad(true);
    named.emplace_back("p" + std::to_string(i), &params[i]);
  }
  // 100 bytes: {p0, p1} (68 bytes), {p2} alone (160, larger than a bucket: summed in place), {p3, p4}.
  GradientBuckets buckets(named, 100);
  TwinCommunicator comm;
  for (int step = 0; step < 2; ++step) {
    for (size_t i = 0; i < params.size(); ++i) {
      drop_grad(params[i]);
      if (step == 1 && i == 3) continue;  // a parameter without a gradient in this step
      grad_of(params[i]).copy_from(Tensor::from_vector(random_values(params[i].numel(), 50 + i), params[i].shape()));
    }
    std::vector<std::vector<double>> before;
    for (Tensor& p : params) before.push_back(p.grad().defined() ? p.grad().to_vector() : std::vector<double>{});
    comm.calls = 0;
    buckets.all_reduce(comm);
    EXPECT_EQ(comm.calls, 3) << "{p0, p1}, {p2}, {p3, p4} (step 1: {p4})";
    for (size_t i = 0; i < params.size(); ++i) {
      if (before[i].empty()) continue;
      std::vector<double> twice = before[i];
      for (double& v : twice) v *= 2;
      EXPECT_EQ(params[i].grad().to_vector(), twice) << "p" << i << " step " << step;
    }
  }
  EXPECT_EQ(comm.bytes().at("gradients"), (68 + 160 + 36) + (68 + 160 + 28));
}

// A data-parallel step through a communicator of one (on CUDA NCCL's, where it loads) runs the
// stepped ops and the gradient sum; it must train as the plain step does.
class DataParallelStepTest : public DeviceTest {};

Session small_session(Device device, DType dtype, const std::string& model, LossKind loss) {
  Session s;
  s.config.model = model;
  s.config.lr = 0.05;
  s.config.objective.lambda = 1.0;
  s.config.objective.kind = loss;
  s.config.objective.mfd_stages = {0, 1, 2, 3, 4};
  s.device = device;
  Generator gen(7);
  ModelConfig mc;
  mc.num_classes = 10;
  mc.in_channels = 1;
  mc.image_size = 16;
  mc.width = 0.25;
  s.model = make_model(model, mc, gen);
  s.objective = std::make_shared<Objective>(s.config.objective, 10, s.model->embedding_dim(), gen);
  s.model->to(dtype), s.objective->to(dtype);
  s.model->to(device), s.objective->to(device);
  return s;
}

TEST_P(DataParallelStepTest, AStepThroughACommunicatorOfOneIsThePlainStep) {
  const DType dtype = device() == Device::cpu ? DType::f64 : DType::f32;
  std::unique_ptr<Communicator> comm;
  std::string why = "the CPU's";
  if (device() == Device::cuda) comm = make_nccl_communicator(&why);
  if (!comm) comm = std::make_unique<SoloCommunicator>();
  std::printf("communicator: %s (%s)\n", comm->name(), why.empty() ? "NCCL loaded" : why.c_str());
  for (const auto& [model, loss] : {std::pair{"resnet18", LossKind::softmax}, std::pair{"mobilenet_v2", LossKind::center}}) {
    SCOPED_TRACE(model);
    Session plain = small_session(device(), dtype, model, loss), dp = small_session(device(), dtype, model, loss);
    std::unique_ptr<SGD> opt_plain = plain.make_optimizer(), opt_dp = dp.make_optimizer();
    std::vector<NamedTensor> params = dp.model->named_parameters();
    for (auto& [name, t] : dp.objective->named_parameters()) params.emplace_back("objective." + name, t);
    DataParallel parallel(*comm, params, dp.model->named_buffers(), true, true);
    EpochSums sums_plain(5, 1.0, device(), dtype), sums_dp(5, 1.0, device(), dtype);
    for (int step = 0; step < 2; ++step) {
      const Tensor x = to_test_tensor(random_tensor({8, 1, 16, 16}, 60 + step), device(), dtype);
      std::vector<int32_t> labels(8);
      for (int i = 0; i < 8; ++i) labels[i] = (i * 3 + step) % 10;
      const Tensor y = Tensor::from_labels(labels, device());
      train_step(plain, *opt_plain, {x, y, 0, 8}, sums_plain);
      train_step(dp, *opt_dp, {x, y, 0, 8}, sums_dp, &parallel);
    }
    const EpochSums::Values a = sums_plain.read(), b = sums_dp.read();
    // float64: the same arithmetic but for the order of a few sums. float32 (CUDA): the stepped
    // ops against cuDNN's batch norm and the fused MFD, two steps at lr 0.05; an error of the
    // stepped path (a wrong count, a missing term) moves these by far more than 1e-3.
    const double tol = dtype == DType::f64 ? 1e-10 : 1e-3;
    EXPECT_NEAR(b.loss, a.loss, tol * std::fabs(a.loss));
    for (size_t s = 0; s < a.mfd.size(); ++s) EXPECT_NEAR(b.mfd[s], a.mfd[s], tol * std::fabs(a.mfd[s]) + 1e-12) << s;
    const std::vector<NamedTensor> pa = plain.model->named_parameters(), pb = dp.model->named_parameters();
    for (size_t i = 0; i < pa.size(); ++i) {
      const std::vector<double> u = pa[i].second->to(Device::cpu).to_vector(), v = pb[i].second->to(Device::cpu).to_vector();
      double diff = 0, norm = 0;
      for (size_t j = 0; j < u.size(); ++j) diff += (u[j] - v[j]) * (u[j] - v[j]), norm += u[j] * u[j];
      EXPECT_LE(std::sqrt(diff), tol * std::max(std::sqrt(norm), 1e-3)) << pa[i].first;
    }
    EXPECT_GT(comm->bytes().at("gradients"), 0);
    EXPECT_GT(comm->bytes().at("mfd"), 0);
    EXPECT_GT(comm->bytes().at("batch_norm"), 0);
  }
}

MFD_INSTANTIATE_DEVICES(DataParallelStepTest);

}  // namespace
}  // namespace mfd::test
