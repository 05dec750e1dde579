#include "training/trainer.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>

#include "data/loader.h"
#include "engine/autograd.h"
#include "engine/cpu/conv2d_dnnl.h"
#include "engine/cpu_runtime.h"
#include "engine/device_stats.h"
#include "engine/json.h"
#include "engine/nvtx.h"
#include "engine/safetensors.h"
#include "training/evaluate.h"
#include "training/progress.h"
#include "training/run_folder.h"
#include "training/session.h"
#include "training/train_step.h"

namespace mfd {

namespace fs = std::filesystem;

namespace {

std::atomic<int> g_signals{0};
void on_signal(int) {
  if (++g_signals >= 2) std::_Exit(kTrainInterrupted);  // a second signal: at once (checkpoints are atomic)
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double peak_host_mib() {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

// The source's commit (and "-dirty" with uncommitted changes), or "unknown" outside a checkout.
std::string git_commit() {
  std::string out;
  if (FILE* p = popen("git rev-parse HEAD 2>/dev/null && (git diff --quiet HEAD 2>/dev/null || echo -dirty)", "r")) {
    char buf[128];
    while (fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
  }
  out.erase(std::remove(out.begin(), out.end(), '\n'), out.end());
  return out.empty() ? "unknown" : out;
}

// A global step given by a test hook (MFD_TEST_*_AT_STEP), or -1.
int64_t hook_step(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::atoll(v) : -1;
}

// A mid-epoch checkpoint holds the epoch's running sums (as shortest round-trip text), so that
// the resumed epoch's metrics line is bit-identical.
std::map<std::string, std::string> sums_to_metadata(const EpochSums::Values& v) {
  std::map<std::string, std::string> m = {{"sum.loss", json_number(v.loss)}, {"sum.cls", json_number(v.cls)},
                                          {"sum.correct", json_number(v.correct)}, {"sum.seen", json_number(v.seen)}};
  for (size_t s = 0; s < v.mfd.size(); ++s) m["sum.mfd" + std::to_string(s)] = json_number(v.mfd[s]);
  for (size_t s = 0; s < v.last_corr.size(); ++s) m["sum.corr" + std::to_string(s)] = json_number(v.last_corr[s]);
  return m;
}

EpochSums::Values sums_from_metadata(const std::map<std::string, std::string>& m, size_t stages, const std::string& path) {
  auto get = [&](const std::string& key) {
    auto it = m.find(key);
    MFD_CHECK(it != m.end(), path, ": a mid-epoch checkpoint without '", key, "' (written by another version?)");
    return std::stod(it->second);
  };
  EpochSums::Values v;
  v.loss = get("sum.loss"), v.cls = get("sum.cls"), v.correct = get("sum.correct"), v.seen = get("sum.seen");
  for (size_t s = 0; s < stages; ++s) v.mfd.push_back(get("sum.mfd" + std::to_string(s)));
  for (size_t s = 0; s < stages; ++s) v.last_corr.push_back(get("sum.corr" + std::to_string(s)));
  return v;
}

// Settles what a run folder holds before anything is built: a finished run is not overwritten
// without --force; a checkpoint is continued only with the same settings (those of
// may_change_on_resume excepted, which are named). Returns whether the run resumes, with the
// checkpoint's metadata and whether allowed settings changed.
bool settle_folder(const RunConfig& cfg, const RunFolder& folder, std::map<std::string, std::string>& meta,
                   bool& settings_changed) {
  settings_changed = false;
  if (cfg.force) return false;
  if (folder.finished())
    throw UsageError(cfg.out + " holds a finished run (results.json); use --force to overwrite it or another --out");
  if (!folder.has_checkpoint()) {
    if (cfg.resume) throw UsageError("--resume: " + cfg.out + " has no checkpoint (last.safetensors) to continue");
    return false;
  }
  meta = read_safetensors_metadata(folder.last().string());
  std::map<std::string, std::string> stored;
  for (const auto& [k, v] : meta)
    if (k.rfind("config.", 0) == 0) stored[k.substr(7)] = v;
  const std::map<std::string, std::string> requested = cfg.to_map();
  const std::vector<std::string> other = config_differences(stored, requested, may_change_on_resume);
  if (!other.empty())
    throw UsageError(cfg.out + " holds a run with other settings: " + join(other, "; ") +
                     ". Rerun with its settings to continue it, --force to start it over, or another --out");
  const std::vector<std::string> changed = config_differences(stored, requested, [](const std::string& k) {
    return !may_change_on_resume(k) || k == "resume" || k == "force" || k == "out";
  });
  if (!changed.empty()) std::printf("resuming with changed settings: %s\n", join(changed, "; ").c_str());
  settings_changed = !changed.empty();
  return true;
}

std::string config_json(const RunConfig& cfg, const std::string& command_line) {
  JsonObject j;
  for (const auto& [k, v] : cfg.to_map()) j.add(k, v);
  return j.add("git_commit", git_commit())
      .add("command", command_line)
      .add("cpu", cpu_name())
      .add("openblas_core", blas_core())
      .add("cpu_conv", cpu::cpu_conv_description())
      .str();
}

// The training loop and what it carries from step to step.
class Loop {
 public:
  Loop(const RunConfig& cfg, Session& s, const RunFolder& folder, std::string command)
      : cfg_(cfg), s_(s), folder_(folder), command_(std::move(command)), opt_(s.make_optimizer()),
        schedule_(cfg.lr, cfg.milestones, cfg.gamma),
        stages_(cfg.objective.lambda > 0 ? cfg.objective.mfd_stages.size() : 0), sums_(stages_, s.device) {
    LoaderOptions lo;
    lo.batch = cfg.batch;
    lo.seed = cfg.seed;
    if (!cfg.augment) lo.pad = 0, lo.flip = false;
    lo.workers = cfg.workers;
    lo.device = s.device;
    loader_ = std::make_unique<BatchLoader>(s.train, lo);
    steps_ = loader_->batches_per_epoch();
  }

  void resume(const std::map<std::string, std::string>& meta) {
    load_checkpoint(folder_.last().string(), s_.checkpoint_parts(), opt_.get());
    epoch_ = std::stoi(meta.at("epoch"));
    step_ = std::stoll(meta.at("step"));
    best_acc_ = std::stod(meta.at("best_test_acc"));
    if (step_ > 0) sums_.write(sums_from_metadata(meta, stages_, folder_.last().string()));
    if (const int dropped = folder_.keep_metrics_of_epochs(epoch_))
      std::printf("metrics.jsonl: dropped %d line(s) logged after the checkpoint was last written\n", dropped);
    std::printf("resuming from %s: epoch %d, step %lld\n", folder_.last().c_str(), epoch_ + 1, static_cast<long long>(step_));
  }

  // Runs the remaining epochs; returns bin/train's exit code.
  int run() {
    for (; epoch_ < cfg_.epochs; ++epoch_, step_ = 0) {
      const int end = run_epoch();
      if (end != kTrainDone) return end;
      const bool due = (epoch_ + 1) % cfg_.eval_every == 0 || epoch_ + 1 == cfg_.epochs;
      EvalResult test;
      test.loss = test.accuracy = NAN;
      if (due) test = evaluate_epoch();
      log_epoch(test);
      const bool improved = std::isfinite(test.accuracy) && test.accuracy > best_acc_;
      if (improved) best_acc_ = test.accuracy;
      checkpoint(folder_.last(), epoch_ + 1, 0);
      if (improved) checkpoint(folder_.best(), epoch_ + 1, 0);
      sums_ = EpochSums(stages_, s_.device);
    }
    return kTrainDone;
  }

  double best_acc() const { return best_acc_; }
  // The last epoch's test accuracy (evaluated now when this process ran no epoch).
  double final_acc() {
    if (!std::isfinite(final_acc_)) evaluate_epoch();
    return final_acc_;
  }
  const std::vector<double>& last_corr() const { return last_corr_; }

 private:
  // The training part of epoch_, from step_; returns kTrainDone, kTrainInterrupted or
  // kTrainNonFinite. The sums stay on the device; they are read where a line is printed, at the
  // epoch's end and before a checkpoint, and a non-finite loss is found there (the parameters
  // of the steps since then are lost, never saved: the last checkpoint stays the last good one).
  int run_epoch() {
    const auto t0 = std::chrono::steady_clock::now();
    s_.model->train();
    if (s_.device == Device::cuda) reset_device_peak();
    loader_->start_epoch(epoch_, step_);
    Progress progress("epoch " + std::to_string(epoch_ + 1) + "/" + std::to_string(cfg_.epochs), steps_);
    const int64_t first = step_, nan_step = hook_step("MFD_TEST_NAN_AT_STEP"),
                  term_step = hook_step("MFD_TEST_SIGTERM_AT_STEP"), kill_step = hook_step("MFD_TEST_SIGKILL_AT_STEP");
    Tensor x, y;
    Objective::Terms last;
    int64_t images = 0;
    for (;; ++step_) {
      {
        MFD_NVTX_RANGE("data");
        if (!loader_->next(x, y)) break;
      }
      opt_->set_lr(lr_at(epoch_, step_));
      last = train_step(s_, *opt_, x, y, sums_);
      const int64_t global = epoch_ * steps_ + step_;
      if (global == nan_step) sums_.poison();
      images += x.size(0);
      const double seconds = seconds_since(t0), per_step = seconds / static_cast<double>(step_ + 1 - first);
      train_seconds_per_image_ = seconds / static_cast<double>(images);
      if (step_ + 1 - first == 10) say_cpu_estimate(per_step);
      if (global == kill_step) std::raise(SIGKILL);
      if (global == term_step) std::raise(SIGTERM);
      const bool stop = g_signals > 0;
      if (progress.due(step_ + 1) || stop) {
        const EpochSums::Values v = sums_.read();
        if (!finite(v, last)) return kTrainNonFinite;
        progress.update(step_ + 1, images, seconds, v.loss / v.seen, v.correct / v.seen, seconds_after_epoch(per_step));
      }
      if (stop) {
        checkpoint(folder_.last(), epoch_, step_ + 1);
        std::printf("interrupted at epoch %d step %lld; checkpoint %s written; resume with: %s --resume\n", epoch_ + 1,
                    static_cast<long long>(step_ + 1), folder_.last().c_str(), command_.c_str());
        return kTrainInterrupted;
      }
    }
    train_seconds_ = seconds_since(t0);
    images_per_s_ = static_cast<double>(images) / train_seconds_;
    return finite(sums_.read(), last) ? kTrainDone : kTrainNonFinite;
  }

  // False, with the message, when the epoch's loss sum is not finite: a step since the last read
  // had a NaN or infinite loss. The last step's terms are named.
  bool finite(const EpochSums::Values& v, const Objective::Terms& last) const {
    if (std::isfinite(v.loss)) return true;
    std::ostringstream terms;
    if (last.classification.defined()) terms << "the last step's terms: classification " << last.classification.item();
    for (size_t i = 0; i < last.mfd.size(); ++i)
      terms << ", MFD stage " << cfg_.objective.mfd_stages[i] << " " << last.mfd[i].loss.item();
    std::fprintf(stderr, "train: non-finite loss in epoch %d by step %lld (%s); stopped, %s is the last good checkpoint\n",
                 epoch_ + 1, static_cast<long long>(step_ + 1), terms.str().c_str(),
                 folder_.has_checkpoint() ? folder_.last().c_str() : "there is no checkpoint yet: nothing");
    return false;
  }

  EvalResult evaluate_epoch() {
    MFD_NVTX_RANGE("evaluate");
    EvalOptions o;
    o.workers = cfg_.workers;
    o.seconds_after = seconds_after_epoch(train_seconds_ / static_cast<double>(steps_), /*within_training=*/false);
    const EvalResult r = evaluate(*s_.model, *s_.objective, s_.test, s_.device, o);
    eval_seconds_ = r.seconds;
    final_acc_ = r.accuracy;
    return r;
  }

  // The learning rate of a step: the paper's steps at the milestones, or cosine annealing from
  // --lr to 0 over every step of the run.
  double lr_at(int epoch, int64_t step) const {
    if (cfg_.schedule != "cosine") return schedule_.lr_at(epoch);
    const double done = static_cast<double>(epoch) * steps_ + step, total = static_cast<double>(cfg_.epochs) * steps_;
    return 0.5 * cfg_.lr * (1.0 + std::cos(M_PI * done / total));
  }

  // The run's seconds after the current loop: the later epochs' training and evaluations.
  double seconds_after_epoch(double seconds_per_step, bool within_training = true) const {
    const int later = cfg_.epochs - epoch_ - 1;
    int evaluations = 0;
    for (int e = epoch_ + (within_training ? 0 : 1); e < cfg_.epochs; ++e)
      evaluations += (e + 1) % cfg_.eval_every == 0 || e + 1 == cfg_.epochs;
    // Until one is measured, an evaluation image is taken to cost a third of a training image.
    const double eval = eval_seconds_ > 0 ? eval_seconds_ : s_.test.n * train_seconds_per_image_ / 3;
    return later * seconds_per_step * static_cast<double>(steps_) + evaluations * eval;
  }

  // On the CPU, once the speed is known: what the whole run will take, when that is over an hour.
  void say_cpu_estimate(double seconds_per_step) const {
    if (s_.device != Device::cpu) return;
    const double total = seconds_per_step * static_cast<double>(steps_ - step_ - 1) + seconds_after_epoch(seconds_per_step);
    if (total < 3600) return;
    std::printf("note: on this CPU (%.0f images/s) the remaining %d epoch(s) take about %.1f hours; a GPU "
                "(--device cuda), or a smaller run (--epochs, --limit-train, --width), takes less\n",
                1.0 / train_seconds_per_image_, cfg_.epochs - epoch_, total / 3600);
  }

  void log_epoch(const EvalResult& test) {
    const EpochSums::Values v = sums_.read();
    last_corr_ = v.last_corr;
    std::vector<double> mfd;
    for (double m : v.mfd) mfd.push_back(m / v.seen);
    JsonObject line;
    line.add("epoch", epoch_ + 1).add("lr", opt_->lr()).add("train_loss", v.loss / v.seen)
        .add("train_cls_loss", v.cls / v.seen).add("train_mfd", mfd).add("train_acc", v.correct / v.seen)
        .add("test_loss", test.loss).add("test_acc", test.accuracy).add("mean_abs_corr", v.last_corr)
        .add("images_per_s", images_per_s_).add("epoch_seconds", train_seconds_)
        .add("test_seconds", test.seconds).add("peak_host_mib", peak_host_mib());
    const double peak_device_mib = static_cast<double>(device_stats().peak_bytes_in_use) / (1024.0 * 1024.0);
    if (s_.device == Device::cuda) line.add("peak_device_mib", peak_device_mib);
    folder_.append_metrics(line.str());
    std::printf("epoch %d: train loss %.4f acc %.2f%%, test loss %.4f acc %.2f%%, lr %g, train %.1f s, test %.1f s",
                epoch_ + 1, v.loss / v.seen, 100 * v.correct / v.seen, test.loss, 100 * test.accuracy, opt_->lr(),
                train_seconds_, test.seconds);
    if (s_.device == Device::cuda) std::printf(", peak GPU memory %.0f MiB", peak_device_mib);
    std::printf("\n");
  }

  // Model, momentum, random streams and position (epoch, step; mid-epoch, the running sums).
  void checkpoint(const fs::path& path, int epoch, int64_t step) const {
    std::map<std::string, std::string> meta = {{"epoch", std::to_string(epoch)}, {"step", std::to_string(step)},
                                               {"best_test_acc", json_number(best_acc_)}, {"command", command_}};
    for (const auto& [k, v] : cfg_.to_map()) meta["config." + k] = v;
    if (step > 0)
      for (const auto& [k, v] : sums_to_metadata(sums_.read())) meta[k] = v;
    save_checkpoint(path.string(), s_.checkpoint_parts(), opt_.get(), meta);
  }

  const RunConfig& cfg_;
  Session& s_;
  const RunFolder& folder_;
  const std::string command_;
  std::unique_ptr<SGD> opt_;
  MultiStepLR schedule_;
  std::unique_ptr<BatchLoader> loader_;
  const size_t stages_;
  int64_t steps_ = 0;
  int epoch_ = 0;
  int64_t step_ = 0;
  double best_acc_ = -1.0, final_acc_ = NAN;
  EpochSums sums_;
  std::vector<double> last_corr_;  // mean |F| per chosen stage on the last batch of the last epoch
  double train_seconds_ = 0, eval_seconds_ = 0, images_per_s_ = 0, train_seconds_per_image_ = 0;
};

}  // namespace

int run_training(const RunConfig& cfg, const std::string& command_line) {
  const auto t_start = std::chrono::steady_clock::now();
  const RunFolder folder(cfg.out);
  std::map<std::string, std::string> meta;
  bool settings_changed = false;
  const bool resuming = settle_folder(cfg, folder, meta, settings_changed);
  std::printf("config: %s\n", cfg.to_json().c_str());
  Session s = build_session(cfg, Purpose::training);  // data, device and model, before any file is written
  std::printf("%s\n%s\n", s.train.summary("train").c_str(), s.test.summary("test").c_str());
  std::printf("model: %s, %lld parameters; loss %s, lambda %g on stages %s\n", cfg.model.c_str(),
              static_cast<long long>(s.model->num_parameters()), loss_kind_name(cfg.objective.kind), cfg.objective.lambda,
              cfg.to_map().at("mfd-stages").c_str());
  if (cfg.force) fs::remove_all(folder.dir());
  if (!resuming || settings_changed) folder.create(config_json(cfg, command_line), !resuming);  // else kept as it was

  Loop loop(cfg, s, folder, command_line);
  if (resuming) loop.resume(meta);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const int end = loop.run();
  if (end != kTrainDone) return end;

  const std::string title = cfg.model + " " + cfg.dataset + " lambda " + json_number(cfg.objective.lambda) + " seed " +
                            std::to_string(cfg.seed);
  folder.write_curves(title);
  folder.write_results(JsonObject()
                           .add("final_test_acc", loop.final_acc())
                           .add("best_test_acc_selected_on_test_set", loop.best_acc())
                           .add("mean_abs_corr_last_batch", loop.last_corr())
                           .add("seconds", seconds_since(t_start))
                           .str());
  std::printf("done: final test accuracy %.2f%% (best %.2f%%, selected on the test set); %s\n", 100 * loop.final_acc(),
              100 * loop.best_acc(), cfg.out.c_str());
  return kTrainDone;
}

}  // namespace mfd
