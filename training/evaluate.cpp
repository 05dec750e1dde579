#include "training/evaluate.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/loader.h"
#include "engine/autograd.h"
#include "engine/json.h"
#include "engine/safetensors.h"
#include "losses/mfd.h"
#include "models/checkpoint.h"
#include "models/model.h"
#include "training/run_config.h"

namespace mfd {

LoadedRun load_run(const std::string& path, const std::string& data_dir_override) {
  LoadedRun run;
  run.checkpoint = std::filesystem::is_directory(path) ? path + "/last.safetensors" : path;
  std::map<std::string, std::string> config;
  for (const auto& [k, v] : load_safetensors(run.checkpoint).metadata)
    if (k.rfind("config.", 0) == 0) config[k.substr(7)] = v;
  MFD_CHECK(config.count("model"), run.checkpoint, ": no run configuration in its metadata (not written by bin/train?)");
  run.config = run_config_from_map(config);
  if (!data_dir_override.empty()) run.config.data_dir = data_dir_override;
  run.test = load_dataset(run.config.dataset, run.config.data_dir, false);
  run.test.truncate(run.config.limit_test);
  Generator gen(run.config.seed);
  run.model = make_model(run.config.model, model_config_for(run.config, run.test), gen);
  run.objective = std::make_unique<Objective>(run.config.objective, run.test.num_classes, run.model->embedding_dim(), gen);
  load_checkpoint(run.checkpoint, {{"", run.model.get()}, {"objective.", run.objective.get()}}, nullptr);
  run.model->eval();
  return run;
}

Evaluation evaluate_checkpoint(const std::string& path, const std::string& data_dir_override) {
  LoadedRun run = load_run(path, data_dir_override);
  Evaluation ev;
  ev.checkpoint = run.checkpoint;
  const ImageDataset& test = run.test;
  const RunConfig& cfg = run.config;
  Model* model = run.model.get();
  Objective& objective = *run.objective;

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

Evaluation cached_evaluation(const std::string& run_dir, const std::string& data_dir_override) {
  namespace fs = std::filesystem;
  const fs::path cache = fs::path(run_dir) / "evaluation.json", last = fs::path(run_dir) / "last.safetensors";
  if (fs::exists(cache) && fs::exists(last) && fs::last_write_time(cache) >= fs::last_write_time(last)) {
    const Json j = read_json_file(cache.string());
    return {last.string(), j.number_or("test_acc", NAN), j.at("mean_abs_corr").numbers()};
  }
  Evaluation ev = evaluate_checkpoint(run_dir, data_dir_override);
  std::ostringstream text;
  text.precision(17);  // read back exactly
  text << "{\"test_acc\": " << ev.test_acc << ", \"mean_abs_corr\": [";
  for (size_t s = 0; s < ev.mean_abs_corr.size(); ++s) text << (s ? ", " : "") << ev.mean_abs_corr[s];
  text << "]}\n";
  const fs::path tmp = cache.string() + ".tmp";
  std::ofstream(tmp) << text.str();
  fs::rename(tmp, cache);
  return ev;
}

}  // namespace mfd
