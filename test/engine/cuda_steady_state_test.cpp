// The CUDA training step in its steady state: after warm-up steps (algorithm choice, the caching
// allocator's first fill, momentum buffers), a step as bin/train runs it (batch uploaded from the
// host, forward with the stage outputs, softmax + MFD loss, the loss read back, backward, SGD)
// calls cudaMalloc no more and copies one value to the host: the loss. Skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/device_stats.h"
#include "engine/optimizer.h"
#include "engine/rng.h"
#include "losses/objective.h"
#include "models/model.h"

namespace mfd {
namespace {

TEST(CudaSteadyState, TrainingStepNeitherAllocatesNorReadsBackMoreThanTheLoss) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "CUDA test skipped: " << why;
  constexpr int64_t kBatch = 16;
  constexpr int kClasses = 10;
  Generator gen(0);
  ModelConfig cfg;
  cfg.width = 0.25;
  cfg.num_classes = kClasses;
  std::shared_ptr<Model> model = make_model("resnet18", cfg, gen);
  ObjectiveConfig oc;
  oc.lambda = 1.0;  // MFD on stages 0-4 as well
  Objective objective(oc, kClasses, model->embedding_dim(), gen);
  model->to(Device::cuda);
  objective.to(Device::cuda);
  std::vector<NamedTensor> params = model->named_parameters();
  for (auto& [name, t] : objective.named_parameters()) params.emplace_back("objective." + name, t);
  SGD opt(params, 0.05, 0.9, 5e-4);

  Tensor host_x = Tensor::empty({kBatch, 3, 32, 32});
  gen.normal_(host_x, 0, 1);
  std::vector<int32_t> y(kBatch);
  for (int64_t i = 0; i < kBatch; ++i) y[i] = static_cast<int32_t>(i % kClasses);

  auto step = [&] {
    Tensor x = host_x.to(Device::cuda);  // as the batch loader hands a batch over
    Tensor labels = Tensor::from_labels(y, Device::cuda);
    model->zero_grad();
    objective.zero_grad();
    ModelOutput o = model->run(x);
    Objective::Terms t = objective.compute(o.logits, o.embedding, o.stages, labels);
    const double loss = t.total.item();
    backward(t.total);
    opt.step();
    objective.after_step(o.embedding.detach(), labels);
    return loss;
  };

  for (int i = 0; i < 3; ++i) ASSERT_TRUE(std::isfinite(step())) << "warm-up step " << i;
  synchronize_device();
  const DeviceStats before = device_stats();
  constexpr int kSteps = 2;
  for (int i = 0; i < kSteps; ++i) ASSERT_TRUE(std::isfinite(step())) << "step " << i;
  synchronize_device();
  const DeviceStats after = device_stats();

  const std::string counts = "over " + std::to_string(kSteps) + " steady steps: cudaMalloc " +
                             std::to_string(after.device_mallocs - before.device_mallocs) + ", cudaFree " +
                             std::to_string(after.device_frees - before.device_frees) + ", host-to-device " +
                             std::to_string(after.h2d_copies - before.h2d_copies) + ", device-to-host " +
                             std::to_string(after.d2h_copies - before.d2h_copies) + ", device-to-device " +
                             std::to_string(after.d2d_copies - before.d2d_copies) + "; bytes in use " +
                             std::to_string(before.bytes_in_use) + " -> " + std::to_string(after.bytes_in_use);
  std::printf("%s\n", counts.c_str());
  EXPECT_EQ(after.device_mallocs, before.device_mallocs) << "the caching allocator should serve every block; " << counts;
  EXPECT_LE(after.d2h_copies - before.d2h_copies, kSteps) << "only the loss should come back to the host; " << counts;
  EXPECT_EQ(after.bytes_in_use, before.bytes_in_use) << "a step should leave nothing allocated behind; " << counts;
}

}  // namespace
}  // namespace mfd
