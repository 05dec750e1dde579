#include "training/evaluate.h"

#include <algorithm>
#include <filesystem>

#include "data/loader.h"
#include "engine/autograd.h"
#include "engine/safetensors.h"
#include "losses/mfd.h"
#include "models/checkpoint.h"
#include "models/model.h"
#include "training/run_config.h"

namespace mfd {

Evaluation evaluate_checkpoint(const std::string& path, const std::string& data_dir_override) {
  Evaluation ev;
  ev.checkpoint = std::filesystem::is_directory(path) ? path + "/last.safetensors" : path;
  std::map<std::string, std::string> config;
  for (const auto& [k, v] : load_safetensors(ev.checkpoint).metadata)
    if (k.rfind("config.", 0) == 0) config[k.substr(7)] = v;
  MFD_CHECK(config.count("model"), ev.checkpoint, ": no run configuration in its metadata (not written by bin/train?)");
  RunConfig cfg = run_config_from_map(config);
  if (!data_dir_override.empty()) cfg.data_dir = data_dir_override;

  ImageDataset test = load_dataset(cfg.dataset, cfg.data_dir, false);
  test.truncate(cfg.limit_test);
  Generator gen(cfg.seed);
  auto model = make_model(cfg.model, model_config_for(cfg, test), gen);
  Objective objective(cfg.objective, test.num_classes, model->embedding_dim(), gen);
  load_checkpoint(ev.checkpoint, {{"", model.get()}, {"objective.", &objective}}, nullptr);
  model->eval();

  LoaderOptions lo;
  lo.batch = 128;
  lo.train = false;
  lo.workers = 0;
  BatchLoader loader(test, lo);
  loader.start_epoch(0);
  NoGradGuard no_grad;
  Tensor x, y;
  double hits = 0;
  int batches = 0;
  ev.mean_abs_corr.assign(5, 0.0);
  while (loader.next(x, y)) {
    ModelOutput o = model->run(x);
    std::vector<double> s = objective.scores(o.logits, o.embedding).to_vector(), labels = y.to_vector();
    const int64_t k = test.num_classes;
    for (int64_t i = 0; i < x.size(0); ++i)
      hits += std::max_element(s.begin() + i * k, s.begin() + (i + 1) * k) - (s.begin() + i * k) == static_cast<int64_t>(labels[i]);
    for (int st = 0; st < 5; ++st) ev.mean_abs_corr[st] += mfd_loss(o.stages[st], cfg.objective.centering).mean_abs.item();
    ++batches;
  }
  ev.test_acc = hits / static_cast<double>(test.n);
  for (double& c : ev.mean_abs_corr) c /= batches;
  return ev;
}

}  // namespace mfd
