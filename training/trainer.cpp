#include "training/trainer.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <omp.h>

#include "data/loader.h"
#include "engine/autograd.h"
#include "engine/device_stats.h"
#include "engine/nvtx.h"
#include "engine/optimizer.h"
#include "models/checkpoint.h"
#include "models/model.h"
#include "training/plot.h"

namespace mfd {

namespace fs = std::filesystem;

namespace {

std::atomic<int> g_signals{0};
void on_signal(int) {
  if (++g_signals >= 2) std::_Exit(kTrainInterrupted);  // a second signal: at once (checkpoints are atomic)
}

// The shortest text that reads back as the same double; "null" (JSON) when not finite.
std::string num(double x) {
  if (!std::isfinite(x)) return "null";
  char buf[32];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, x).ptr);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Sums over the batches of an epoch so far; saved in mid-epoch checkpoints.
struct EpochSums {
  double loss = 0, cls = 0, correct = 0, seen = 0;
  std::vector<double> mfd;         // per chosen stage, weighted by batch size like the losses
  std::vector<double> last_corr;   // mean |F| per chosen stage on the last batch
  std::map<std::string, std::string> to_map() const {
    std::map<std::string, std::string> m = {{"sum.loss", num(loss)}, {"sum.cls", num(cls)},
                                            {"sum.correct", num(correct)}, {"sum.seen", num(seen)}};
    for (size_t s = 0; s < mfd.size(); ++s) m["sum.mfd" + std::to_string(s)] = num(mfd[s]);
    for (size_t s = 0; s < last_corr.size(); ++s) m["sum.corr" + std::to_string(s)] = num(last_corr[s]);
    return m;
  }
  void from_map(const std::map<std::string, std::string>& m) {
    loss = std::stod(m.at("sum.loss"));
    cls = std::stod(m.at("sum.cls"));
    correct = std::stod(m.at("sum.correct"));
    seen = std::stod(m.at("sum.seen"));
    for (size_t s = 0; s < mfd.size(); ++s) mfd[s] = std::stod(m.at("sum.mfd" + std::to_string(s)));
    for (size_t s = 0; s < last_corr.size(); ++s) last_corr[s] = std::stod(m.at("sum.corr" + std::to_string(s)));
  }
};

int64_t argmax_hits(const Tensor& scores, const Tensor& labels) {
  std::vector<double> s = scores.to_vector(), y = labels.to_vector();
  const int64_t k = scores.size(1);
  int64_t hits = 0;
  for (int64_t i = 0; i < scores.size(0); ++i)
    hits += std::max_element(s.begin() + i * k, s.begin() + (i + 1) * k) - (s.begin() + i * k) == static_cast<int64_t>(y[i]);
  return hits;
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

// Progress within an epoch: a bar redrawn in place on a terminal, a plain line every 50 steps
// otherwise (logs, CI).
void progress(int epoch, int epochs, int64_t step, int64_t steps, double loss, double acc, double images_per_s,
              double eta_seconds) {
  static const bool terminal = isatty(fileno(stdout));
  if (terminal) {
    const int width = 30, filled = static_cast<int>(width * step / std::max<int64_t>(1, steps));
    std::printf("\repoch %d/%d [%s%s] %lld/%lld loss %.4f acc %.2f%% %.0f img/s ETA %.0f s ", epoch, epochs,
                std::string(filled, '=').c_str(), std::string(width - filled, ' ').c_str(), static_cast<long long>(step),
                static_cast<long long>(steps), loss, 100 * acc, images_per_s, eta_seconds);
    if (step == steps) std::printf("\n");
  } else if (step % 50 == 0 || step == steps) {
    std::printf("epoch %d/%d step %lld/%lld loss %.4f acc %.2f%% %.0f img/s ETA %.0f s\n", epoch, epochs,
                static_cast<long long>(step), static_cast<long long>(steps), loss, 100 * acc, images_per_s, eta_seconds);
  }
  std::fflush(stdout);
}

// --device auto|cpu|cuda|cuda:N. On CUDA: selects GPU N (0 for "cuda" and "auto") and sets the
// math mode: TF32 allowed and the fastest algorithms by default, neither with --deterministic.
Device resolve_device(const std::string& name, bool deterministic) {
  std::string why;
  const bool cuda = cuda_available(&why);
  if (name == "cpu" || (name == "auto" && !cuda)) {
    std::printf("device: CPU: %d threads%s%s\n", omp_get_max_threads(), name == "auto" ? " (no GPU: " : "",
                name == "auto" ? (why + ")").c_str() : "");
    return Device::cpu;
  }
  MFD_CHECK(cuda, "--device ", name, ": ", why, "; use --device cpu");
  const int index = name.rfind("cuda:", 0) == 0 ? std::atoi(name.c_str() + 5) : 0;
  const int count = cuda_device_count();
  MFD_CHECK(index < count, "--device ", name, ": this machine has ", count, " CUDA device(s), numbered from 0");
  select_cuda_device(index);
  set_cuda_math(/*allow_tf32=*/!deterministic, deterministic);
  std::printf("device: cuda:%d of %d (%s)\n", index, count,
              deterministic ? "deterministic algorithms, no TF32" : "TF32 allowed, fastest algorithms");
  return Device::cuda;
}

}  // namespace

int run_training(const RunConfig& cfg, const std::string& command_line) {
  const auto t_start = std::chrono::steady_clock::now();
  const fs::path out(cfg.out);
  const fs::path last = out / "last.safetensors", best = out / "best.safetensors";
  if (fs::exists(out / "results.json") && !cfg.force) {
    std::fprintf(stderr, "train: %s holds a finished run (results.json); use --force to overwrite it or another --out\n",
                 cfg.out.c_str());
    return kTrainUsage;
  }
  if (cfg.force) fs::remove_all(out);
  fs::create_directories(out);
  const bool resuming = fs::exists(last);
  if (!resuming) {
    std::string json = cfg.to_json();
    json.insert(json.size() - 1, ", \"git_commit\": " + json_quote(git_commit()) + ", \"command\": " + json_quote(command_line));
    std::ofstream(out / "config.json") << json << "\n";
    std::ofstream(out / "metrics.jsonl", std::ios::trunc);
  }
  std::printf("config: %s\n", cfg.to_json().c_str());
  const Device device = resolve_device(cfg.device, cfg.deterministic);

  ImageDataset train = load_dataset(cfg.dataset, cfg.data_dir, true);
  ImageDataset test = load_dataset(cfg.dataset, cfg.data_dir, false);
  train.truncate(cfg.limit_train);
  test.truncate(cfg.limit_test);
  std::printf("%s\n%s\n", train.summary("train").c_str(), test.summary("test").c_str());

  Generator gen(cfg.seed);
  std::shared_ptr<Model> model = make_model(cfg.model, model_config_for(cfg, train), gen);
  Objective objective(cfg.objective, train.num_classes, model->embedding_dim(), gen);
  model->to(device);
  objective.to(device);
  std::vector<NamedTensor> params = model->named_parameters();
  for (auto& [name, t] : objective.named_parameters()) params.emplace_back("objective." + name, t);
  SGD opt(params, cfg.lr, cfg.momentum, cfg.weight_decay);
  MultiStepLR schedule(cfg.lr, cfg.milestones, cfg.gamma);
  const std::vector<CheckpointPart> parts = {{"", model.get()}, {"objective.", &objective}};
  std::printf("model: %s, %lld parameters; loss %s, lambda %g on stages %s\n", cfg.model.c_str(),
              static_cast<long long>(model->num_parameters()), loss_kind_name(cfg.objective.kind), cfg.objective.lambda,
              cfg.to_map().at("mfd-stages").c_str());

  const size_t stages = cfg.objective.lambda > 0 ? cfg.objective.mfd_stages.size() : 0;
  EpochSums sums;
  sums.mfd.assign(stages, 0.0);
  sums.last_corr.assign(stages, 0.0);
  int start_epoch = 0;
  int64_t start_step = 0;
  double best_acc = -1.0;
  if (resuming) {
    auto meta = load_checkpoint(last.string(), parts, &opt);
    start_epoch = std::stoi(meta.at("epoch"));
    start_step = std::stoll(meta.at("step"));
    best_acc = std::stod(meta.at("best_test_acc"));
    if (start_step > 0) sums.from_map(meta);
    std::printf("resuming from %s: epoch %d, step %lld\n", last.c_str(), start_epoch + 1,
                static_cast<long long>(start_step));
  }

  LoaderOptions lo;
  lo.batch = cfg.batch;
  lo.seed = cfg.seed;
  lo.workers = cfg.workers;
  lo.device = device;
  BatchLoader train_loader(train, lo);
  lo.train = false;
  BatchLoader test_loader(test, lo);

  auto checkpoint = [&](const fs::path& path, int epoch, int64_t step, const EpochSums* partial) {
    std::map<std::string, std::string> meta = {{"epoch", std::to_string(epoch)}, {"step", std::to_string(step)},
                                               {"best_test_acc", num(best_acc)}, {"command", command_line}};
    for (const auto& [k, v] : cfg.to_map()) meta["config." + k] = v;
    if (partial)
      for (const auto& [k, v] : partial->to_map()) meta[k] = v;
    save_checkpoint(path.string(), parts, &opt, meta);
  };

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  // Test-only hooks, by global step: a NaN loss, and a real SIGTERM delivered to this process.
  const char* nan_hook = std::getenv("MFD_TEST_NAN_AT_STEP");
  const char* term_hook = std::getenv("MFD_TEST_SIGTERM_AT_STEP");
  const int64_t nan_step = nan_hook ? std::atoll(nan_hook) : -1, term_step = term_hook ? std::atoll(term_hook) : -1;
  const int64_t steps = train_loader.batches_per_epoch();
  std::vector<double> curve_loss, curve_acc;
  double final_acc = 0.0;

  for (int epoch = start_epoch; epoch < cfg.epochs; ++epoch) {
    const auto t_epoch = std::chrono::steady_clock::now();
    opt.set_lr(schedule.lr_at(epoch));
    model->train();
    const int64_t first = epoch == start_epoch ? start_step : 0;
    if (first == 0) sums = EpochSums{0, 0, 0, 0, std::vector<double>(stages, 0.0), std::vector<double>(stages, 0.0)};
    if (device == Device::cuda) reset_device_peak();
    train_loader.start_epoch(epoch, first);
    Tensor x, y;
    int64_t images = 0;
    // The phases of a step are NVTX ranges (data, forward, loss, backward, optimizer), for Nsight.
    for (int64_t step = first;; ++step) {
      {
        MFD_NVTX_RANGE("data");
        if (!train_loader.next(x, y)) break;
      }
      model->zero_grad();
      objective.zero_grad();
      ModelOutput o;
      {
        MFD_NVTX_RANGE("forward");
        o = model->run(x);
      }
      Objective::Terms t;
      double loss;
      {
        MFD_NVTX_RANGE("loss");
        t = objective.compute(o.logits, o.embedding, o.stages, y);
        loss = t.total.item();
      }
      if (epoch * steps + step == nan_step) loss = std::nan("");
      if (!std::isfinite(loss)) {
        std::ostringstream terms;
        terms << "classification " << t.classification.item();
        for (size_t s = 0; s < t.mfd.size(); ++s) terms << ", MFD stage " << cfg.objective.mfd_stages[s] << " " << t.mfd[s].loss.item();
        std::fprintf(stderr, "train: non-finite loss at epoch %d step %lld (%s); stopped, %s is the last good checkpoint\n",
                     epoch + 1, static_cast<long long>(step), terms.str().c_str(),
                     fs::exists(last) ? last.c_str() : "there is no checkpoint yet: nothing");
        clear_tape();
        return kTrainNonFinite;
      }
      {
        MFD_NVTX_RANGE("backward");
        backward(t.total);
      }
      {
        MFD_NVTX_RANGE("optimizer");
        opt.step();
        objective.after_step(o.embedding.detach(), y);
      }
      const double n = static_cast<double>(x.size(0));
      sums.loss += loss * n;
      sums.cls += t.classification.item() * n;
      for (size_t s = 0; s < t.mfd.size(); ++s) {
        sums.mfd[s] += t.mfd[s].loss.item() * n;
        sums.last_corr[s] = t.mfd[s].mean_abs.item();
      }
      {
        NoGradGuard no_grad;
        sums.correct += static_cast<double>(argmax_hits(objective.scores(o.logits, o.embedding), y));
      }
      sums.seen += n;
      images += x.size(0);
      const double rate = images / seconds_since(t_epoch);
      progress(epoch + 1, cfg.epochs, step + 1, steps, sums.loss / sums.seen, sums.correct / sums.seen, rate,
               ((steps - step - 1) * static_cast<double>(cfg.batch) + (cfg.epochs - epoch - 1) * static_cast<double>(train.n)) / rate);
      if (epoch * steps + step == term_step) std::raise(SIGTERM);
      if (g_signals > 0) {
        checkpoint(last, epoch, step + 1, &sums);
        std::printf("interrupted at epoch %d step %lld; checkpoint %s written; resume with: %s --resume\n", epoch + 1,
                    static_cast<long long>(step + 1), last.c_str(), command_line.c_str());
        return kTrainInterrupted;
      }
    }
    const double epoch_seconds = seconds_since(t_epoch);

    double test_loss = NAN, test_acc = NAN;
    if ((epoch + 1) % cfg.eval_every == 0 || epoch + 1 == cfg.epochs) {
      NoGradGuard no_grad;
      model->eval();
      test_loader.start_epoch(0);
      double loss_sum = 0, hits = 0;
      while (test_loader.next(x, y)) {
        ModelOutput o = model->run(x);
        loss_sum += objective.classification(o.logits, o.embedding, y).item() * x.size(0);
        hits += static_cast<double>(argmax_hits(objective.scores(o.logits, o.embedding), y));
      }
      test_loss = loss_sum / test.n;
      test_acc = hits / test.n;
      final_acc = test_acc;
    }
    std::ostringstream line;
    line << "{\"epoch\": " << epoch + 1 << ", \"lr\": " << num(opt.lr()) << ", \"train_loss\": " << num(sums.loss / sums.seen)
         << ", \"train_cls_loss\": " << num(sums.cls / sums.seen) << ", \"train_mfd\": [";
    for (size_t s = 0; s < stages; ++s) line << (s ? ", " : "") << num(sums.mfd[s] / sums.seen);
    line << "], \"train_acc\": " << num(sums.correct / sums.seen) << ", \"test_loss\": " << num(test_loss)
         << ", \"test_acc\": " << num(test_acc) << ", \"mean_abs_corr\": [";
    for (size_t s = 0; s < stages; ++s) line << (s ? ", " : "") << num(sums.last_corr[s]);
    line << "], \"images_per_s\": " << num(images / epoch_seconds) << ", \"epoch_seconds\": " << num(epoch_seconds)
         << ", \"peak_host_mib\": " << num(peak_host_mib());
    // The epoch's peak of device memory in use (training and evaluation), on CUDA only.
    const double peak_device_mib =
        device == Device::cuda ? static_cast<double>(device_stats().peak_bytes_in_use) / (1024.0 * 1024.0) : NAN;
    if (device == Device::cuda) line << ", \"peak_device_mib\": " << num(peak_device_mib);
    line << "}";
    std::ofstream(out / "metrics.jsonl", std::ios::app) << line.str() << "\n";
    std::printf("epoch %d: train loss %.4f acc %.2f%%, test loss %.4f acc %.2f%%, lr %g, %.1f s", epoch + 1,
                sums.loss / sums.seen, 100 * sums.correct / sums.seen, test_loss, 100 * test_acc, opt.lr(), epoch_seconds);
    if (device == Device::cuda) std::printf(", peak GPU memory %.0f MiB", peak_device_mib);
    std::printf("\n");
    const bool improved = std::isfinite(test_acc) && test_acc > best_acc;
    if (improved) best_acc = test_acc;
    checkpoint(last, epoch + 1, 0, nullptr);
    if (improved) checkpoint(best, epoch + 1, 0, nullptr);  // written atomically as well
  }

  // The curves from metrics.jsonl (which a resumed run shares with its first part).
  std::ifstream metrics(out / "metrics.jsonl");
  for (std::string l; std::getline(metrics, l);) {
    auto field = [&](const std::string& key) {
      const size_t at = l.find("\"" + key + "\": ");
      return at == std::string::npos ? NAN : std::strtod(l.c_str() + at + key.size() + 4, nullptr);
    };
    curve_loss.push_back(field("train_loss"));
    curve_acc.push_back(field("test_acc"));
  }
  write_curves_png((out / "curves.png").string(), curve_loss, curve_acc);
  std::ostringstream results;
  results << "{\"final_test_acc\": " << num(final_acc) << ", \"best_test_acc_selected_on_test_set\": " << num(best_acc)
          << ", \"mean_abs_corr_last_batch\": [";
  for (size_t s = 0; s < stages; ++s) results << (s ? ", " : "") << num(sums.last_corr[s]);
  results << "], \"seconds\": " << num(seconds_since(t_start)) << "}";
  std::ofstream(out / "results.json") << results.str() << "\n";
  std::printf("done: final test accuracy %.2f%% (best %.2f%%, selected on the test set); %s\n", 100 * final_acc,
              100 * best_acc, out.c_str());
  return kTrainDone;
}

}  // namespace mfd
