#include "training/session.h"

#include <omp.h>

#include <cstdio>
#include <cstdlib>

#include "engine/cpu_runtime.h"
#include "engine/device_stats.h"
#include "engine/world.h"
#include "training/command_line.h"

namespace mfd {

std::vector<CheckpointPart> Session::checkpoint_parts() const { return {{"", model.get()}, {"objective.", objective.get()}}; }

std::unique_ptr<SGD> Session::make_optimizer() const {
  std::vector<NamedTensor> params = model->named_parameters();
  for (auto& [name, t] : objective->named_parameters()) params.emplace_back("objective." + name, t);
  return std::make_unique<SGD>(params, config.lr, config.momentum, config.weight_decay);
}

Device resolve_device(const std::string& name, bool deterministic) {
  std::string why;
  const bool cuda = cuda_available(&why);
  if (name == "cpu" || (name == "auto" && !cuda)) {
    std::printf("device: CPU: %d threads%s%s; OpenBLAS %s kernels; idle threads: %s%s\n", omp_get_max_threads(),
                name == "auto" ? " (no GPU: " : "", name == "auto" ? (why + ")").c_str() : "", blas_core().c_str(),
                omp_waiting().c_str(),
                world().size > 1 ? ("; each of " + std::to_string(world().size) + " processes").c_str() : "");
    if (!blas_note().empty()) std::printf("note: %s\n", blas_note().c_str());
    return Device::cpu;
  }
  MFD_CHECK(cuda, "--device ", name, ": ", why, "; use --device cpu");
  // Several processes: one GPU each, the process's place on its machine.
  const World& w = world();
  if (w.size > 1 && name.rfind("cuda:", 0) == 0)
    throw UsageError("--device " + name + " with several processes: each takes the GPU of its place on its machine; "
                     "use --device cuda (or auto), and CUDA_VISIBLE_DEVICES to choose the GPUs");
  const int index = w.size > 1 ? w.local_rank : name.rfind("cuda:", 0) == 0 ? std::atoi(name.c_str() + 5) : 0;
  const int count = cuda_device_count();
  MFD_CHECK(index < count, "--device ", name, ": this machine has ", count, " CUDA device(s), numbered from 0",
            w.size > 1 ? ", for " + std::to_string(w.local_size) + " processes on it" : "");
  select_cuda_device(index);
  set_cuda_math(/*allow_tf32=*/!deterministic, deterministic);
  std::printf("device: cuda:%d of %d (%s)%s\n", index, count,
              deterministic ? "deterministic algorithms, no TF32" : "TF32 allowed, fastest algorithms",
              w.size > 1 ? (", one per process: " + std::to_string(w.size) + " processes").c_str() : "");
  return Device::cuda;
}

Session build_session(const RunConfig& config, Purpose purpose) {
  Session s;
  s.config = config;
  if (purpose == Purpose::training) {
    s.train = load_dataset(config.dataset, config.data_dir, true);
    s.train.truncate(config.limit_train);
  }
  s.test = load_dataset(config.dataset, config.data_dir, false);
  s.test.truncate(config.limit_test);
  s.device = resolve_device(config.device, config.deterministic);
  Generator gen(config.seed);
  s.model = make_model(config.model, model_config_for(config, purpose == Purpose::training ? s.train : s.test), gen);
  s.objective = std::make_shared<Objective>(config.objective, s.test.num_classes, s.model->embedding_dim(), gen);
  if (config.dtype != DType::f32) {
    if (s.device != Device::cpu) throw UsageError("--dtype float64 runs on the CPU only: add --device cpu");
    s.model->to(config.dtype);
    s.objective->to(config.dtype);
  }
  s.model->to(s.device);
  s.objective->to(s.device);
  return s;
}

}  // namespace mfd
