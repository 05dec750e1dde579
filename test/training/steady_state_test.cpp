// A training step in its steady state, as bin/train runs it (training/train_step.h: the batch
// handed over, forward with the stage outputs, softmax + MFD on every stage, backward, SGD, the
// running sums): after warm-up steps (algorithm choice, the allocators' first fill, momentum
// buffers) it allocates no memory the allocator must fetch fresh and reads nothing back to the
// host: on CUDA no cudaMalloc and no device-to-host copy, so the GPU's queue never drains; on the
// CPU no miss of the block cache and no read of a tensor's values. Then the sums are read once,
// as a progress line does.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/device_stats.h"
#include "test/test_util.h"
#include "training/train_step.h"

namespace mfd::test {
namespace {

class SteadyStateTest : public DeviceTest {};

TEST_P(SteadyStateTest, ATrainingStepNeitherAllocatesNorReadsBack) {
  constexpr int64_t kBatch = 16;
  constexpr int kClasses = 10;
  Session s;
  s.device = device();
  s.config.objective.lambda = 1.0;  // MFD on stages 0-4 as well
  s.config.objective.mfd_stages = {0, 1, 2, 3, 4};
  s.config.lr = 0.05;
  Generator gen(0);
  ModelConfig cfg;
  cfg.width = 0.25;
  cfg.num_classes = kClasses;
  s.model = make_model("resnet18", cfg, gen);
  s.objective = std::make_shared<Objective>(s.config.objective, kClasses, s.model->embedding_dim(), gen);
  s.model->to(device());
  s.objective->to(device());
  std::unique_ptr<SGD> opt = s.make_optimizer();
  EpochSums sums(s.config.objective.mfd_stages.size(), s.config.objective.lambda, device());

  Tensor host_x = random_tensor({kBatch, 3, 32, 32}, 7, DType::f32);
  std::vector<int32_t> labels(kBatch);
  for (int64_t i = 0; i < kBatch; ++i) labels[i] = static_cast<int32_t>(i % kClasses);
  const Tensor host_y = Tensor::from_labels(labels);
  auto step = [&] {
    const Tensor x = host_x.to(device()).clone(), y = host_y.to(device()).clone();  // as the loader hands a batch over
    train_step(s, *opt, {x, y, 0, x.size(0)}, sums);
  };

  for (int i = 0; i < 3; ++i) step();
  synchronize_device();
  const DeviceStats device_before = device_stats();
  const HostStats host_before = host_stats();
  constexpr int kSteps = 2;
  for (int i = 0; i < kSteps; ++i) step();
  synchronize_device();
  const DeviceStats device_after = device_stats();
  const HostStats host_after = host_stats();
  const std::string counts = "over " + std::to_string(kSteps) + " steady steps: host reads " +
                             std::to_string(host_after.reads - host_before.reads) + ", fresh host allocations " +
                             std::to_string(host_after.fresh_allocations - host_before.fresh_allocations) +
                             ", cudaMalloc " + std::to_string(device_after.device_mallocs - device_before.device_mallocs) +
                             ", device-to-host copies " + std::to_string(device_after.d2h_copies - device_before.d2h_copies);
  std::printf("%s: %s\n", device_name(device()), counts.c_str());
  EXPECT_EQ(host_after.reads, host_before.reads) << "a step that prints nothing reads nothing back; " << counts;
  EXPECT_EQ(device_after.d2h_copies, device_before.d2h_copies) << counts;
  EXPECT_EQ(device_after.device_mallocs, device_before.device_mallocs) << "the caching allocator serves every block; " << counts;
  if (device() == Device::cpu) {
    EXPECT_EQ(host_after.fresh_allocations, host_before.fresh_allocations) << "the block cache serves every block; " << counts;
  }
  EXPECT_EQ(device_after.bytes_in_use, device_before.bytes_in_use) << "a step leaves nothing allocated behind; " << counts;

  const EpochSums::Values v = sums.read();  // what a progress line reads
  EXPECT_TRUE(std::isfinite(v.loss)) << v.loss;
  EXPECT_EQ(v.seen, (3 + kSteps) * kBatch);
  EXPECT_GE(v.correct, 0);
  EXPECT_LE(v.correct, v.seen);
  EXPECT_EQ(v.mfd.size(), 5u);
}

MFD_INSTANTIATE_DEVICES(SteadyStateTest);

}  // namespace
}  // namespace mfd::test
