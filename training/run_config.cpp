#include "training/run_config.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <set>
#include <sstream>

#include "data/dataset.h"
#include "models/model.h"

namespace mfd {

namespace {

template <typename T> std::string join_numbers(const std::vector<T>& v) {
  std::string s;
  for (T x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

// The shortest text that reads back as the same double.
std::string number(double x) {
  char buf[32];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, x).ptr);
}

bool parse_sync(const std::string& flag, const std::string& v) {
  if (v == "global" || v == "local") return v == "global";
  throw UsageError("malformed value '" + v + "' for " + flag + " (global or local)");
}

// Every option: name, whether it takes a value, how to apply it, how to show it, its help.
struct Option {
  std::string name;
  bool takes_value;
  std::function<void(RunConfig&, const std::string&)> set;
  std::function<std::string(const RunConfig&)> get;
  std::string help;
};

const std::vector<Option>& options() {
  static const std::vector<Option> all = {
      {"lambda", true, [](RunConfig& c, const std::string& v) { c.objective.lambda = parse_double("--lambda", v); },
       [](const RunConfig& c) { return number(c.objective.lambda); }, "MFD weight (the paper: 1; 0 = classification loss only)"},
      {"mfd-stages", true, [](RunConfig& c, const std::string& v) { c.objective.mfd_stages = parse_ints("--mfd-stages", v); },
       [](const RunConfig& c) { return c.objective.mfd_stages.empty() ? "all" : join_numbers(c.objective.mfd_stages); },
       "stages that get MFD (their names: --help of the model, or the error for a wrong one)"},
      {"mfd-center", true, [](RunConfig& c, const std::string& v) {
         try { c.objective.centering = parse_mfd_centering(v); } catch (const Error& e) { throw UsageError(e.what()); }
       },
       [](const RunConfig& c) { return std::string(mfd_centering_name(c.objective.centering)); }, "batch (eq. 6) or channel"},
      {"loss", true, [](RunConfig& c, const std::string& v) {
         try { c.objective.kind = parse_loss_kind(v); } catch (const Error& e) { throw UsageError(e.what()); }
       },
       [](const RunConfig& c) { return std::string(loss_kind_name(c.objective.kind)); }, "softmax, center, amsoftmax or arcface"},
      {"center-weight", true, [](RunConfig& c, const std::string& v) { c.objective.center_weight = parse_double("--center-weight", v); },
       [](const RunConfig& c) { return number(c.objective.center_weight); }, "Center Loss weight lambda_c"},
      {"center-alpha", true, [](RunConfig& c, const std::string& v) { c.objective.center_alpha = parse_double("--center-alpha", v); },
       [](const RunConfig& c) { return number(c.objective.center_alpha); }, "Center Loss centre rate alpha"},
      {"epochs", true, [](RunConfig& c, const std::string& v) { c.epochs = static_cast<int>(parse_int("--epochs", v)); },
       [](const RunConfig& c) { return std::to_string(c.epochs); }, "epochs"},
      {"batch", true, [](RunConfig& c, const std::string& v) { c.batch = parse_int("--batch", v); },
       [](const RunConfig& c) { return std::to_string(c.batch); }, "batch size"},
      {"lr", true, [](RunConfig& c, const std::string& v) { c.lr = parse_double("--lr", v); },
       [](const RunConfig& c) { return number(c.lr); }, "initial learning rate"},
      {"momentum", true, [](RunConfig& c, const std::string& v) { c.momentum = parse_double("--momentum", v); },
       [](const RunConfig& c) { return number(c.momentum); }, "SGD momentum"},
      {"wd", true, [](RunConfig& c, const std::string& v) { c.weight_decay = parse_double("--wd", v); },
       [](const RunConfig& c) { return number(c.weight_decay); }, "weight decay"},
      {"milestones", true, [](RunConfig& c, const std::string& v) { c.milestones = parse_ints("--milestones", v); },
       [](const RunConfig& c) { return join_numbers(c.milestones); }, "epochs where the rate is multiplied by --gamma"},
      {"gamma", true, [](RunConfig& c, const std::string& v) { c.gamma = parse_double("--gamma", v); },
       [](const RunConfig& c) { return number(c.gamma); }, "rate factor at each milestone"},
      {"schedule", true, [](RunConfig& c, const std::string& v) {
         if (v != "step" && v != "cosine") throw UsageError("unknown schedule '" + v + "' (valid: step, cosine)");
         c.schedule = v;
       },
       [](const RunConfig& c) { return c.schedule; },
       "step (the paper's: --milestones, --gamma) or cosine (from --lr to 0 over every step of the run)"},
      {"augment", true, [](RunConfig& c, const std::string& v) { c.augment = parse_bool("--augment", v); },
       [](const RunConfig& c) { return c.augment ? "true" : "false"; },
       "the paper's training augmentation: 4-pixel padding, random crop, horizontal flip"},
      {"seed", true, [](RunConfig& c, const std::string& v) { c.seed = static_cast<uint64_t>(parse_int("--seed", v)); },
       [](const RunConfig& c) { return std::to_string(c.seed); }, "seed of initialisation, order and augmentation"},
      {"device", true, [](RunConfig& c, const std::string& v) {
         const bool cuda_n = v.rfind("cuda:", 0) == 0 && v.size() > 5 &&
                             v.find_first_not_of("0123456789", 5) == std::string::npos;
         if (v != "auto" && v != "cpu" && v != "cuda" && !cuda_n)
           throw UsageError("unknown device '" + v + "' (valid: auto, cpu, cuda, cuda:N)");
         c.device = v;
       },
       [](const RunConfig& c) { return c.device; }, "auto, cpu, cuda or cuda:N"},
      {"data-dir", true, [](RunConfig& c, const std::string& v) { c.data_dir = v; },
       [](const RunConfig& c) { return c.data_dir; }, "folder holding the data sets (README)"},
      {"out", true, [](RunConfig& c, const std::string& v) { c.out = v; },
       [](const RunConfig& c) { return c.out; }, "run folder (default runs/MODEL-DATASET-lambdaL-seedS)"},
      {"resume", false, [](RunConfig& c, const std::string& v) { c.resume = parse_bool("--resume", v); },
       [](const RunConfig& c) { return c.resume ? "true" : "false"; }, "continue from the run folder's last checkpoint"},
      {"deterministic", false, [](RunConfig& c, const std::string& v) { c.deterministic = parse_bool("--deterministic", v); },
       [](const RunConfig& c) { return c.deterministic ? "true" : "false"; }, "CUDA: deterministic algorithms and no TF32 (CPU: always deterministic)"},
      {"force", false, [](RunConfig& c, const std::string& v) { c.force = parse_bool("--force", v); },
       [](const RunConfig& c) { return c.force ? "true" : "false"; }, "overwrite a finished run in --out"},
      {"dropout", true, [](RunConfig& c, const std::string& v) { c.dropout = v == "default" ? -1 : parse_double("--dropout", v); },
       [](const RunConfig& c) { return c.dropout < 0 ? std::string("default") : number(c.dropout); },
       "dropout where the model has one: mobilenet_v2 before its classifier (default 0.2), wide_resnet28_10 "
       "between a block's convolutions (default 0; the WRN paper's 0.3)"},
      {"width", true, [](RunConfig& c, const std::string& v) { c.width = parse_double("--width", v); },
       [](const RunConfig& c) { return number(c.width); }, "channel multiplier for small runs"},
      {"limit-train", true, [](RunConfig& c, const std::string& v) { c.limit_train = parse_int("--limit-train", v); },
       [](const RunConfig& c) { return std::to_string(c.limit_train); }, "use the first N training samples (0: all)"},
      {"limit-test", true, [](RunConfig& c, const std::string& v) { c.limit_test = parse_int("--limit-test", v); },
       [](const RunConfig& c) { return std::to_string(c.limit_test); }, "use the first N test samples (0: all)"},
      {"eval-every", true, [](RunConfig& c, const std::string& v) { c.eval_every = static_cast<int>(parse_int("--eval-every", v)); },
       [](const RunConfig& c) { return std::to_string(c.eval_every); }, "evaluate every N epochs (and after the last)"},
      {"workers", true, [](RunConfig& c, const std::string& v) { c.workers = static_cast<int>(parse_int("--workers", v)); },
       [](const RunConfig& c) { return std::to_string(c.workers); }, "data loader threads"},
      {"dtype", true, [](RunConfig& c, const std::string& v) {
         if (v != "float32" && v != "float64") throw UsageError("unknown dtype '" + v + "' (valid: float32, float64)");
         c.dtype = v == "float64" ? DType::f64 : DType::f32;
       },
       [](const RunConfig& c) { return std::string(c.dtype == DType::f64 ? "float64" : "float32"); },
       "float32, or float64 on the CPU (slower; for checking a result to rounding)"},
      {"bn-sync", true, [](RunConfig& c, const std::string& v) { c.sync_bn = parse_sync("--bn-sync", v); },
       [](const RunConfig& c) { return std::string(c.sync_bn ? "global" : "local"); },
       "several processes: batch norm statistics of the global batch, or local (each process's shard, as PyTorch DDP)"},
      {"mfd-sync", true, [](RunConfig& c, const std::string& v) { c.sync_mfd = parse_sync("--mfd-sync", v); },
       [](const RunConfig& c) { return std::string(c.sync_mfd ? "global" : "local"); },
       "several processes: MFD of the global batch (the paper's loss), or local (each process's shard)"},
  };
  return all;
}

}  // namespace

void validate_run_config(RunConfig& c) {
  const std::vector<std::string> models = model_names(), datasets = dataset_names();
  if (std::find(models.begin(), models.end(), c.model) == models.end())
    throw UsageError("unknown model '" + c.model + "' (valid: " + join(models) + ")");
  if (std::find(datasets.begin(), datasets.end(), c.dataset) == datasets.end())
    throw UsageError("unknown data set '" + c.dataset + "' (valid: " + join(datasets) + ")");
  if (c.epochs < 1 || c.batch < 2 || c.lr < 0 || c.width <= 0 || c.eval_every < 1 || c.workers < 0 ||
      c.objective.lambda < 0)
    throw UsageError("out of range: needs --epochs >= 1, --batch >= 2, --lr >= 0, --width > 0, --eval-every >= 1, "
                     "--workers >= 0, --lambda >= 0");
  if (c.dropout >= 1) throw UsageError("out of range: needs --dropout < 1");
  // The stages are the model's: all of them by default, and a wrong one is named with the list.
  const std::vector<std::string>& stages = model_entry(c.model).stages;
  if (c.objective.mfd_stages.empty())
    for (int s = 0; s < static_cast<int>(stages.size()); ++s) c.objective.mfd_stages.push_back(s);
  for (int s : c.objective.mfd_stages)
    if (s < 0 || s >= static_cast<int>(stages.size())) {
      std::string list;
      for (size_t i = 0; i < stages.size(); ++i) list += (i ? ", " : "") + std::to_string(i) + " (" + stages[i] + ")";
      throw UsageError("--mfd-stages: " + c.model + " has no stage " + std::to_string(s) + "; its stages: " + list);
    }
  if (c.out.empty())
    c.out = "runs/" + c.model + "-" + c.dataset + "-lambda" + number(c.objective.lambda) + "-seed" + std::to_string(c.seed);
}

std::map<std::string, std::string> RunConfig::to_map() const {
  std::map<std::string, std::string> m = {{"model", model}, {"dataset", dataset}};
  for (const Option& o : options()) m[o.name] = o.get(*this);
  return m;
}

std::string RunConfig::to_json() const {
  std::string s = "{";
  for (const auto& [k, v] : to_map()) s += (s.size() > 1 ? ", " : "") + json_quote(k) + ": " + json_quote(v);
  return s + "}";
}

std::vector<Flag> run_config_flags(RunConfig& config, const RunConfig& shown, const std::vector<std::string>& only) {
  std::vector<Flag> flags;
  for (const Option& o : options())
    if (only.empty() || std::find(only.begin(), only.end(), o.name) != only.end())
      flags.push_back({o.name, o.takes_value ? "V" : "", [&config, &o](const std::string& v) { o.set(config, v); },
                       o.help, o.get(shown)});
  return flags;
}

CommandLine train_command_line(RunConfig& config) {
  CommandLine cl;
  cl.program = "train";
  cl.arguments = "MODEL DATASET";
  cl.description = "  MODEL: " + join(model_names()) + "\n  DATASET: " + join(dataset_names()) +
                   "\nWithout options: the paper's recipe (SGD 0.1, /10 at epochs 30, 60, 90; 100 epochs; batch 128).";
  cl.min_positional = cl.max_positional = 2;
  cl.flags = run_config_flags(config);
  return cl;
}

RunConfig parse_run_config(int argc, char** argv) {
  RunConfig c;
  const std::vector<std::string> positional = train_command_line(c).parse(argc, argv);
  c.model = positional[0];
  c.dataset = positional[1];
  validate_run_config(c);
  return c;
}

ModelConfig model_config_for(const RunConfig& config, const ImageDataset& data) {
  ModelConfig mc;
  mc.num_classes = data.num_classes;
  mc.in_channels = static_cast<int>(data.c);
  mc.image_size = static_cast<int>(data.h);
  mc.width = config.width;
  if (config.dropout >= 0) mc.mobilenet_dropout = mc.wrn_dropout = config.dropout;
  return mc;
}

RunConfig run_config_from_map(const std::map<std::string, std::string>& m) {
  RunConfig c;
  c.model = m.at("model");
  c.dataset = m.at("dataset");
  for (const Option& o : options()) {
    auto it = m.find(o.name);
    if (it != m.end()) o.set(c, it->second);
  }
  validate_run_config(c);
  return c;
}

bool may_change_on_resume(const std::string& key) {
  static const std::set<std::string> keys = {"device", "workers", "data-dir", "resume", "force", "out", "epochs",
                                             "eval-every", "limit-test"};
  return keys.count(key) > 0;
}

std::vector<std::string> config_differences(const std::map<std::string, std::string>& stored,
                                            const std::map<std::string, std::string>& requested,
                                            const std::function<bool(const std::string&)>& ignore) {
  std::vector<std::string> out;
  for (const auto& [key, value] : requested) {
    if (ignore(key)) continue;
    auto it = stored.find(key);
    static const std::map<std::string, std::string> defaults = RunConfig().to_map();
    auto d = defaults.find(key);
    const bool added_later = it == stored.end() && d != defaults.end() && d->second == value;  // an option newer than the run
    if (added_later) continue;
    if (it == stored.end()) out.push_back("--" + key + " (absent before, now " + value + ")");
    else if (it->second != value) out.push_back("--" + key + " (" + it->second + " before, now " + value + ")");
  }
  for (const auto& [key, value] : stored)
    if (!ignore(key) && !requested.count(key)) out.push_back(key + " (only in the stored run)");
  return out;
}

}  // namespace mfd
