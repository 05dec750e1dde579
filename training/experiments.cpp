#include "training/experiments.h"

#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "engine/json.h"

namespace fs = std::filesystem;

namespace mfd {

namespace {

const std::vector<std::string> kDatasets = {"cifar10", "cifar100", "tinyimagenet", "facescrub"};

// One cell of a table: a configuration up to its seed.
struct Cell {
  std::string model, dataset, loss;
  double lambda;
};

std::vector<Cell> cells_of(const std::string& grid) {
  std::vector<Cell> cells;
  if (grid == "table1" || grid == "table3")
    for (double lambda : {0.0, 1.0}) cells.push_back({"resnet50", "cifar100", "softmax", lambda});
  if (grid == "table2")
    for (double lambda : {0.0, 0.01, 0.1, 1.0, 10.0, 100.0}) cells.push_back({"resnet50", "cifar100", "softmax", lambda});
  if (grid == "table4")
    for (const std::string& d : kDatasets)
      for (double lambda : {0.0, 1.0}) cells.push_back({"resnet50", d, "softmax", lambda});
  if (grid == "table5")
    for (const char* m : {"resnext50_32x4d", "densenet121", "mobilenet_v2"})
      for (const std::string& d : kDatasets)
        for (double lambda : {0.0, 1.0}) cells.push_back({m, d, "softmax", lambda});
  if (grid == "table6")
    for (const char* loss : {"center", "amsoftmax", "arcface"})
      for (double lambda : {0.0, 1.0}) cells.push_back({"resnet50", "facescrub", loss, lambda});
  if (cells.empty()) {
    std::string valid;
    for (const std::string& g : grid_names()) valid += (valid.empty() ? "" : ", ") + g;
    fail("unknown grid '", grid, "' (valid: ", valid, ")");
  }
  return cells;
}

std::string number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

}  // namespace

// Whether a data set loads from data_dir (asked once per name and folder).
bool dataset_present(const std::string& name, const std::string& data_dir) {
  static std::map<std::string, bool> known;
  const std::string key = name + "@" + data_dir;
  if (!known.count(key)) {
    try {
      load_dataset(name, data_dir, false);
      known[key] = true;
    } catch (const Error&) {
      known[key] = false;
    }
  }
  return known[key];
}


Scale parse_scale(const std::string& name) {
  if (name == "full") return Scale::full;
  if (name == "small") return Scale::small;
  fail("unknown scale '", name, "' (valid: full, small)");
}

const char* scale_name(Scale scale) { return scale == Scale::full ? "full" : "small"; }

std::vector<Flag> grid_flags(GridOptions& options) {
  const GridOptions defaults;
  std::string seeds;
  for (uint64_t seed : defaults.seeds) seeds += (seeds.empty() ? "" : ",") + std::to_string(seed);
  return {
      {"scale", "full|small", [&options](const std::string& v) {
         try { options.scale = parse_scale(v); } catch (const Error& e) { throw UsageError(e.what()); }
       }, "the paper's recipe, or the reduced CPU recipe (width 0.125, 10 epochs on 2,000 images)", "full"},
      {"runs", "DIR", [&options](const std::string& v) { options.runs_dir = v; }, "where the run folders are", defaults.runs_dir},
      {"data-dir", "DIR", [&options](const std::string& v) { options.data_dir = v; }, "the data sets", defaults.data_dir},
      {"seeds", "LIST", [&options](const std::string& v) {
         options.seeds.clear();
         for (int seed : parse_ints("--seeds", v)) {
           if (seed < 0) throw UsageError("--seeds: seed " + std::to_string(seed) + " is negative");
           options.seeds.push_back(static_cast<uint64_t>(seed));
         }
       }, "the seeds of every cell", seeds},
  };
}

std::vector<std::string> grid_names() { return {"table1", "table2", "table3", "table4", "table5", "table6"}; }

std::vector<PlannedRun> plan_grid(const std::string& grid, const GridOptions& options) {
  std::vector<PlannedRun> runs;
  for (const Cell& cell : cells_of(grid)) {
    std::string dataset = cell.dataset;
    if (options.scale == Scale::small && !dataset_present(dataset, options.data_dir)) dataset = "fashionmnist";
    for (uint64_t seed : options.seeds) {
      PlannedRun run;
      run.paper_dataset = cell.dataset;
      run.name = cell.model + "-" + dataset + "-" + cell.loss + "-lambda" + number(cell.lambda) + "-seed" +
                 std::to_string(seed) + "-" + scale_name(options.scale);
      run.dir = (fs::path(options.runs_dir) / run.name).string();
      run.train_args = {cell.model, dataset, "--loss", cell.loss, "--lambda", number(cell.lambda), "--seed",
                        std::to_string(seed)};
      if (options.scale == Scale::small)  // the paper's schedule shrunk: rate / 10 at 50% and 80%
        for (const char* a : {"--width", "0.125", "--epochs", "10", "--limit-train", "2000", "--limit-test", "1000",
                              "--batch", "64", "--lr", "0.05", "--milestones", "5,8"})
          run.train_args.push_back(a);
      for (const std::string& a : {std::string("--data-dir"), options.data_dir, std::string("--out"), run.dir})
        run.train_args.push_back(a);
      std::vector<std::string> argv_text = {"train"};
      argv_text.insert(argv_text.end(), run.train_args.begin(), run.train_args.end());
      std::vector<char*> argv;
      for (std::string& a : argv_text) argv.push_back(a.data());
      run.config = parse_run_config(static_cast<int>(argv.size()), argv.data());
      runs.push_back(run);
    }
  }
  return runs;
}

bool is_execution_key(const std::string& key) {
  static const std::set<std::string> keys = {"device", "workers", "data-dir", "resume", "force", "out", "git_commit",
                                             "command", "cpu", "openblas_core", "cpu_conv"};
  return keys.count(key) > 0;
}

const char* run_state_name(RunState state) {
  switch (state) {
    case RunState::missing: return "missing";
    case RunState::interrupted: return "interrupted";
    case RunState::finished: return "finished";
    case RunState::conflicting: return "conflicting";
  }
  return "?";
}

RunState run_state(const PlannedRun& run, std::string* why) {
  const fs::path dir(run.dir);
  if (!fs::exists(dir / "config.json")) return RunState::missing;
  const Json json = read_json_file((dir / "config.json").string());
  std::map<std::string, std::string> stored;
  for (const auto& [key, value] : json.fields) stored[key] = value.text;
  const std::string differences = join(config_differences(stored, run.config.to_map(), is_execution_key), ", ");
  if (!differences.empty()) {
    if (why) *why = differences;
    return RunState::conflicting;
  }
  return fs::exists(dir / "results.json") ? RunState::finished : RunState::interrupted;
}

int64_t train_images_per_epoch(const RunConfig& config) {
  static const std::map<std::string, int64_t> sizes = {
      {"cifar10", 50000}, {"cifar100", 50000}, {"tinyimagenet", 100000}, {"facescrub", 15896}, {"fashionmnist", 60000}};
  const int64_t n = sizes.count(config.dataset) ? sizes.at(config.dataset) : 50000;
  return config.limit_train > 0 ? std::min(n, config.limit_train) : n;
}

double paper_accuracy(const std::string& model, const std::string& dataset, const std::string& loss, double lambda) {
  // {softmax only, + MFD (lambda 1)} per data set in the order cifar10, cifar100, tinyimagenet, facescrub.
  static const std::map<std::string, std::vector<std::pair<double, double>>> tables_4_5 = {
      {"resnet50", {{93.25, 93.98}, {76.42, 79.18}, {62.10, 64.06}, {90.56, 94.63}}},
      {"resnext50_32x4d", {{94.05, 94.61}, {78.57, 79.71}, {64.23, 65.63}, {93.36, 95.09}}},
      {"densenet121", {{95.01, 95.57}, {79.91, 80.54}, {64.73, 65.59}, {95.61, 96.27}}},
      {"mobilenet_v2", {{84.31, 86.63}, {52.41, 54.99}, {46.34, 49.14}, {87.84, 90.32}}},
  };
  static const std::map<double, double> table_2 = {{0.01, 76.91}, {0.1, 78.27}, {10.0, 76.86}, {100.0, 72.20}};
  static const std::map<std::string, std::pair<double, double>> table_6 = {
      {"center", {92.82, 94.11}}, {"amsoftmax", {93.60, 94.47}}, {"arcface", {93.93, 94.89}}};
  if (loss != "softmax") {
    if (model != "resnet50" || dataset != "facescrub" || !table_6.count(loss)) return NAN;
    return lambda == 0 ? table_6.at(loss).first : lambda == 1 ? table_6.at(loss).second : NAN;
  }
  if (model == "resnet50" && dataset == "cifar100" && table_2.count(lambda)) return table_2.at(lambda);
  const auto d = std::find(kDatasets.begin(), kDatasets.end(), dataset);
  if (!tables_4_5.count(model) || d == kDatasets.end()) return NAN;
  const auto& cell = tables_4_5.at(model)[d - kDatasets.begin()];
  return lambda == 0 ? cell.first : lambda == 1 ? cell.second : NAN;
}

std::vector<double> paper_correlations(double lambda) {
  if (lambda == 0) return {0.189, 0.142, 0.120, 0.053, 0.094};
  if (lambda == 1) return {0.007, 0.015, 0.034, 0.031, 0.013};
  return {};
}

}  // namespace mfd
