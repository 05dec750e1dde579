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
#include <fstream>
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
#include "engine/world.h"
#include "training/evaluate.h"
#include "training/progress.h"
#include "training/run_folder.h"
#include "training/session.h"
#include "training/train_step.h"
#include "training/watchdog.h"

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
  const char* rank = std::getenv("MFD_TEST_HOOK_RANK");  // several processes: only this one
  return v && (!rank || std::atoi(rank) == world().rank) ? std::atoll(v) : -1;
}

// FNV-1a, 64 bits: a fingerprint of what the processes of a run must share.
uint64_t fingerprint(const void* data, size_t n, uint64_t h = 1469598103934665603ull) {
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char*>(data)[i]) * 1099511628211ull;
  return h;
}

uint64_t program_fingerprint() {
  std::ifstream f("/proc/self/exe", std::ios::binary);
  std::vector<char> buf(1 << 20);
  uint64_t h = fingerprint(nullptr, 0);
  while (f.read(buf.data(), static_cast<std::streamsize>(buf.size())) || f.gcount() > 0)
    h = fingerprint(buf.data(), static_cast<size_t>(f.gcount()), h);
  return h;
}

// Fails, naming the first process that differs from rank 0, unless every process has `mine`.
void agree(uint64_t mine, const std::string& what, const std::string& fix) {
  const std::vector<uint64_t> all = world_gather(mine);
  for (size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0])
      fail("the processes of this run disagree: rank ", r, "'s ", what, " is not rank 0's; ", fix);
}

// Several processes must run the same program with the same settings on the same data: checked
// before any step, so that a mismatched launch stops with the reason instead of training wrong.
void agree_on_run(const RunConfig& cfg, const Session& s) {
  if (world().size == 1) return;
  agree(program_fingerprint(), "program (bin/train)", "every process must run the same build");
  // Rank 0's settings to all; a process whose own differ names them (and stops every process).
  std::string lead;
  for (const auto& [k, v] : cfg.to_map()) lead += k + "=" + v + "\n";
  uint64_t bytes = lead.size();
  world_broadcast(&bytes, sizeof bytes, 0);
  lead.resize(bytes);
  world_broadcast(lead.data(), bytes, 0);
  std::vector<std::string> differ;
  std::istringstream lines(lead);
  const std::map<std::string, std::string> mine = cfg.to_map();
  for (std::string line; std::getline(lines, line);) {
    const std::string key = line.substr(0, line.find('=')), value = line.substr(line.find('=') + 1);
    if (mine.count(key) && mine.at(key) != value) differ.push_back("--" + key + " " + mine.at(key) + " here, " + value + " on rank 0");
  }
  if (!differ.empty())
    fail("this process's settings differ from rank 0's (", join(differ, "; "), "): every process of a run must get "
         "the same options");
  const int64_t sizes[] = {s.train.n, s.test.n, s.model->num_parameters()};
  agree(fingerprint(sizes, sizeof sizes), "data set sizes", "every process must see the same --data-dir");
}

// Every process starts from the same model: built from the same seed, or loaded from the same
// checkpoint (the run folder on a file system they share).
void agree_on_model(const Session& s) {
  if (world().size == 1) return;
  uint64_t h = fingerprint(nullptr, 0);
  for (const CheckpointPart& part : s.checkpoint_parts())
    for (const std::vector<NamedTensor>& list : {part.module->named_parameters(), part.module->named_buffers()})
      for (const auto& [name, t] : list) {
        const Tensor host = t->to(Device::cpu);
        h = fingerprint(host.raw(), host.nbytes(), h);
      }
  agree(h, "model (its parameters and buffers)",
        "every process must read the same run folder (--out on a file system they share)");
}

// A mid-epoch checkpoint holds the epoch's running sums (as shortest round-trip text): their
// totals, and each process's own part ("sum.rank.R"), so that a run resumed on as many processes
// continues each part and its metrics line is bit-identical.
std::map<std::string, std::string> sums_to_metadata(const EpochSums::Values& v, const std::vector<double>& parts) {
  std::map<std::string, std::string> m = {{"sum.loss", json_number(v.loss)}, {"sum.cls", json_number(v.cls)},
                                          {"sum.correct", json_number(v.correct)}, {"sum.seen", json_number(v.seen)},
                                          {"sum.ranks", std::to_string(world().size)}};
  for (size_t s = 0; s < v.mfd.size(); ++s) m["sum.mfd" + std::to_string(s)] = json_number(v.mfd[s]);
  for (size_t s = 0; s < v.last_corr.size(); ++s) m["sum.corr" + std::to_string(s)] = json_number(v.last_corr[s]);
  const size_t per_rank = parts.size() / world().size;
  for (int r = 0; r < world().size; ++r) {
    std::string list;
    for (size_t i = 0; i < per_rank; ++i) list += (i ? "," : "") + json_number(parts[r * per_rank + i]);
    m["sum.rank." + std::to_string(r)] = list;
  }
  return m;
}

// Restores the running sums of a mid-epoch checkpoint into `sums`.
void sums_from_metadata(const std::map<std::string, std::string>& m, size_t stages, const std::string& path,
                        EpochSums& sums) {
  auto get = [&](const std::string& key) {
    auto it = m.find(key);
    MFD_CHECK(it != m.end(), path, ": a mid-epoch checkpoint without '", key, "' (written by another version?)");
    return it->second;
  };
  auto ranks = m.find("sum.ranks");
  const int stored_ranks = ranks == m.end() ? 1 : std::stoi(ranks->second);
  const std::string own_key = "sum.rank." + std::to_string(world().rank);
  if (stored_ranks == world().size && m.count(own_key)) {
    std::vector<double> own;
    std::stringstream list(get(own_key));
    for (std::string x; std::getline(list, x, ',');) own.push_back(std::stod(x));
    sums.restore(own);
    return;
  }
  EpochSums::Values v;
  v.loss = std::stod(get("sum.loss")), v.cls = std::stod(get("sum.cls")), v.correct = std::stod(get("sum.correct"));
  v.seen = std::stod(get("sum.seen"));
  for (size_t s = 0; s < stages; ++s) v.mfd.push_back(std::stod(get("sum.mfd" + std::to_string(s))));
  for (size_t s = 0; s < stages; ++s) v.last_corr.push_back(std::stod(get("sum.corr" + std::to_string(s))));
  sums.write(v);
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
      .add("processes", world().size)
      .str();
}

// The training loop and what it carries from step to step.
class Loop {
 public:
  Loop(const RunConfig& cfg, Session& s, const RunFolder& folder, std::string command)
      : cfg_(cfg), s_(s), folder_(folder), command_(std::move(command)), opt_(s.make_optimizer()),
        schedule_(cfg.lr, cfg.milestones, cfg.gamma),
        stages_(cfg.objective.lambda > 0 ? cfg.objective.mfd_stages.size() : 0), sums_(new_sums()) {
    LoaderOptions lo;
    lo.batch = cfg.batch;
    lo.seed = cfg.seed;
    if (!cfg.augment) lo.pad = 0, lo.flip = false;
    lo.workers = cfg.workers;
    lo.device = s.device;
    lo.dtype = cfg.dtype;
    lo.rank = world().rank, lo.ranks = world().size;
    loader_ = std::make_unique<BatchLoader>(s.train, lo);
    steps_ = loader_->batches_per_epoch();
    if (world().size > 1) {
      std::vector<NamedTensor> buffers = s.model->named_buffers();
      dp_ = std::make_unique<DataParallel>(world_communicator(s.device), opt_params(), buffers, cfg.sync_bn,
                                           cfg.sync_mfd);
      watchdog_ = std::make_unique<StepWatchdog>();
    }
  }

  void resume(const std::map<std::string, std::string>& meta) {
    load_checkpoint(folder_.last().string(), s_.checkpoint_parts(), opt_.get());
    epoch_ = std::stoi(meta.at("epoch"));
    step_ = std::stoll(meta.at("step"));
    best_acc_ = std::stod(meta.at("best_test_acc"));
    if (step_ > 0) sums_from_metadata(meta, stages_, folder_.last().string(), sums_);
    if (!lead()) return;
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
      sums_ = new_sums();
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
      last = train_step(s_, *opt_, {x, y, loader_->last_shard_begin(), loader_->last_batch_size()}, sums_, dp_.get());
      if (watchdog_) watchdog_->tick();
      ++steps_run_;
      const int64_t global = epoch_ * steps_ + step_;
      if (global == nan_step) sums_.poison();
      images += loader_->last_batch_size();
      const double seconds = seconds_since(t0), per_step = seconds / static_cast<double>(step_ + 1 - first);
      train_seconds_per_image_ = seconds / static_cast<double>(images);
      if (step_ + 1 - first == 10) say_cpu_estimate(per_step);
      if (global == kill_step) std::raise(SIGKILL);
      if (global == term_step) std::raise(SIGTERM);
      const bool stop = world_any(g_signals > 0);  // every process stops at the same step
      if (progress.due(step_ + 1) || stop) {
        const EpochSums::Values v = sums_.read();
        if (!finite(v, last)) return kTrainNonFinite;
        progress.update(step_ + 1, images, seconds, v.loss / v.seen, v.correct / v.seen, seconds_after_epoch(per_step));
      }
      if (stop) {
        checkpoint(folder_.last(), epoch_, step_ + 1);
        std::printf("interrupted at epoch %d step %lld; checkpoint %s written; resume with: %s%s --resume\n", epoch_ + 1,
                    static_cast<long long>(step_ + 1), folder_.last().c_str(),
                    world().size > 1 ? "your launcher (mpirun, srun; any number of processes) and " : "",
                    resume_command().c_str());
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
    if (!lead()) return false;  // the sums are every process's: rank 0 says it
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
    o.rank = world().rank, o.ranks = world().size;
    if (watchdog_) o.on_batch = [this] { watchdog_->tick(); };
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
    if (dp_) {  // what the processes exchanged in this epoch's steps, and rank 0's time in it
      const Communicator& c = dp_->comm();
      line.add("allreduce_mib_per_step", static_cast<double>(c.total_bytes() - epoch_bytes_) / (1 << 20) /
                                             static_cast<double>(std::max<int64_t>(steps_run_, 1)))
          .add("allreduce_seconds", c.seconds() - epoch_comm_seconds_);
      epoch_bytes_ = c.total_bytes(), epoch_comm_seconds_ = c.seconds(), steps_run_ = 0;
    }
    if (lead()) folder_.append_metrics(line.str());
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
      for (const auto& [k, v] : sums_to_metadata(sums_.read(), world_gather(sums_.own()))) meta[k] = v;
    if (lead()) save_checkpoint(path.string(), s_.checkpoint_parts(), opt_.get(), meta);  // the others hold the same
  }

  // The run's command without --force, which would start it over instead of resuming it.
  std::string resume_command() const {
    std::istringstream words(command_);
    std::string out;
    for (std::string w; words >> w;)
      if (w != "--force" && w != "--force=true") out += (out.empty() ? "" : " ") + w;
    return out;
  }

  // Rank 0 alone writes the run folder (a process alone is rank 0).
  static bool lead() { return world().rank == 0; }
  EpochSums new_sums() const { return EpochSums(stages_, cfg_.objective.lambda, s_.device, cfg_.dtype); }
  // The tensors the optimizer updates, whose gradients are summed over the processes.
  std::vector<NamedTensor> opt_params() const {
    std::vector<NamedTensor> params = s_.model->named_parameters();
    for (auto& [name, t] : s_.objective->named_parameters()) params.emplace_back("objective." + name, t);
    return params;
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
  std::unique_ptr<DataParallel> dp_;         // several processes only
  std::unique_ptr<StepWatchdog> watchdog_;   // several processes only
  int64_t epoch_bytes_ = 0, steps_run_ = 0;  // the communicator's count at the epoch's start, its steps
  double epoch_comm_seconds_ = 0;
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
  agree_on_run(cfg, s);
  std::printf("%s\n%s\n", s.train.summary("train").c_str(), s.test.summary("test").c_str());
  std::printf("model: %s, %lld parameters; loss %s, lambda %g on stages %s\n", cfg.model.c_str(),
              static_cast<long long>(s.model->num_parameters()), loss_kind_name(cfg.objective.kind), cfg.objective.lambda,
              cfg.to_map().at("mfd-stages").c_str());
  const bool lead = world().rank == 0;  // rank 0 alone writes the run folder
  if (lead && cfg.force) fs::remove_all(folder.dir());
  if (lead && (!resuming || settings_changed)) folder.create(config_json(cfg, command_line), !resuming);  // else kept

  Loop loop(cfg, s, folder, command_line);
  if (resuming) loop.resume(meta);
  agree_on_model(s);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const int end = loop.run();
  if (end != kTrainDone) return end;

  const double final_acc = loop.final_acc();  // every process: it may evaluate
  if (!lead) return kTrainDone;
  const std::string title = cfg.model + " " + cfg.dataset + " lambda " + json_number(cfg.objective.lambda) + " seed " +
                            std::to_string(cfg.seed);
  folder.write_curves(title);
  folder.write_results(JsonObject()
                           .add("final_test_acc", final_acc)
                           .add("best_test_acc_selected_on_test_set", loop.best_acc())
                           .add("mean_abs_corr_last_batch", loop.last_corr())
                           .add("seconds", seconds_since(t_start))
                           .str());
  std::printf("done: final test accuracy %.2f%% (best %.2f%%, selected on the test set); %s\n", 100 * final_acc,
              100 * loop.best_acc(), cfg.out.c_str());
  return kTrainDone;
}

}  // namespace mfd
