#include "training/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "data/loader.h"
#include "engine/autograd.h"
#include "engine/json.h"
#include "engine/ops.h"
#include "engine/safetensors.h"
#include "losses/mfd.h"
#include "engine/world.h"
#include "training/progress.h"

namespace mfd {

EvalResult evaluate(Model& model, Objective& objective, const ImageDataset& data, Device device,
                    const EvalOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  LoaderOptions lo;
  lo.batch = options.batch;
  lo.train = false;
  lo.workers = options.workers;
  lo.device = device;
  lo.rank = options.rank, lo.ranks = options.ranks;
  const std::vector<NamedTensor> params = model.named_parameters();
  if (!params.empty()) lo.dtype = params.front().second->dtype();
  BatchLoader loader(data, lo);
  loader.start_epoch(0);
  Progress progress("test", loader.batches_per_epoch(), options.progress ? options.progress : stdout);
  // Sums on the device, read where the progress line prints and at the end (no wait per batch).
  EvalResult r;
  Tensor loss_sum, hits;
  std::vector<Tensor> corr;
  int64_t images = 0, batches = 0;
  Tensor x, y;
  while (loader.next(x, y)) {
    const ModelOutput o = model.run(x);
    if (!loss_sum.defined()) {
      loss_sum = Tensor::zeros({}, o.logits.dtype(), device), hits = Tensor::zeros({}, o.logits.dtype(), device);
      if (options.correlations)
        for (size_t s = 0; s < o.stages.size(); ++s) corr.push_back(Tensor::zeros({}, o.logits.dtype(), device));
    }
    accumulate(loss_sum, objective.classification(o.logits, o.embedding, y), static_cast<double>(x.size(0)));
    accumulate_hits(hits, objective.scores(o.logits, o.embedding), y);
    for (size_t s = 0; s < corr.size(); ++s) accumulate(corr[s], mfd_loss(o.stages[s], options.centering).mean_abs);
    images += x.size(0);
    ++batches;
    if (options.on_batch) options.on_batch();
    if (options.progress && progress.due(batches)) {  // this process's part, every process's pace
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      progress.update(batches, images * options.ranks, seconds, loss_sum.item() / images, hits.item() / images,
                      options.seconds_after);
    }
  }
  std::vector<double> sums = {loss_sum.defined() ? loss_sum.item() : NAN, hits.defined() ? hits.item() : NAN};
  if (options.ranks > 1) world_sum(sums);
  r.loss = sums[0] / static_cast<double>(data.n);
  r.accuracy = sums[1] / static_cast<double>(data.n);
  for (const Tensor& c : corr) r.mean_abs_corr.push_back(c.item() / static_cast<double>(batches));
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  model.train(was_training);
  return r;
}

TrainedRun load_trained(const std::string& path, const std::string& data_dir_override, const std::string& device) {
  TrainedRun run;
  run.checkpoint = std::filesystem::is_directory(path) ? path + "/last.safetensors" : path;
  std::map<std::string, std::string> config;
  for (const auto& [k, v] : read_safetensors_metadata(run.checkpoint))
    if (k.rfind("config.", 0) == 0) config[k.substr(7)] = v;
  MFD_CHECK(config.count("model"), run.checkpoint, ": no run configuration in its metadata (not written by bin/train?)");
  RunConfig c = run_config_from_map(config);
  if (!data_dir_override.empty()) c.data_dir = data_dir_override;
  c.device = device;
  run.session = build_session(c, Purpose::evaluation);
  load_checkpoint(run.checkpoint, run.session.checkpoint_parts(), nullptr);
  run.session.model->eval();
  return run;
}

Evaluation evaluate_checkpoint(const std::string& path, const std::string& data_dir_override, const std::string& device,
                               FILE* progress) {
  TrainedRun run = load_trained(path, data_dir_override, device);
  const Session& s = run.session;
  EvalOptions options;
  options.correlations = true;
  options.centering = s.config.objective.centering;
  options.workers = 0;
  options.progress = progress;
  const EvalResult r = evaluate(*s.model, *s.objective, s.test, s.device, options);
  return {run.checkpoint, r.accuracy, r.mean_abs_corr};
}

Evaluation cached_evaluation(const std::string& run_dir, const std::string& data_dir_override, FILE* progress) {
  namespace fs = std::filesystem;
  const fs::path cache = fs::path(run_dir) / "evaluation.json", last = fs::path(run_dir) / "last.safetensors";
  if (fs::exists(cache) && fs::exists(last) && fs::last_write_time(cache) >= fs::last_write_time(last)) {
    const Json j = read_json_file(cache.string());
    return {last.string(), j.number_or("test_acc", NAN), j.at("mean_abs_corr").numbers()};
  }
  Evaluation ev = evaluate_checkpoint(run_dir, data_dir_override, "cpu", progress);
  const std::string text = JsonObject().add("test_acc", ev.test_acc).add("mean_abs_corr", ev.mean_abs_corr).str() + "\n";
  const fs::path tmp = cache.string() + ".tmp";
  std::ofstream(tmp) << text;
  fs::rename(tmp, cache);
  return ev;
}

}  // namespace mfd
