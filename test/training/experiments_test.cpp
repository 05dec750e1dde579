// The experiment grids (which runs each table needs and the folders they get), the states of run
// folders, the Slurm script, the report's aggregation over seeds, and the grouping of correlated
// feature maps. Everything here is synthetic: no training.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "test/test_util.h"
#include "training/experiments.h"
#include "training/feature_maps.h"
#include "training/grid_runner.h"
#include "training/report.h"

namespace mfd::test {
namespace {

namespace fs = std::filesystem;

GridOptions options_in(const fs::path& runs, Scale scale = Scale::full, std::vector<uint64_t> seeds = {0, 1, 2}) {
  GridOptions o;
  o.scale = scale;
  o.runs_dir = runs.string();
  o.data_dir = (runs / "no-data").string();  // no data set there: small scale substitutes Fashion-MNIST
  o.seeds = seeds;
  return o;
}

// A run folder as bin/train leaves it: config.json (with the fields bin/train adds), and
// results.json when finished.
void write_run(const PlannedRun& run, double final_acc, bool finished = true, const std::string& config_json = "") {
  fs::create_directories(run.dir);
  std::string json = config_json.empty() ? run.config.to_json() : config_json;
  json.insert(json.size() - 1, ", \"git_commit\": \"abc\", \"command\": \"bin/train ...\"");
  std::ofstream(fs::path(run.dir) / "config.json") << json << "\n";
  std::ofstream m(fs::path(run.dir) / "metrics.jsonl");
  m << "{\"epoch\": 1, \"test_acc\": " << final_acc / 2 << ", \"images_per_s\": 1000}\n";
  m << "{\"epoch\": 2, \"test_acc\": " << final_acc << ", \"images_per_s\": 3000}\n";
  if (finished) std::ofstream(fs::path(run.dir) / "results.json") << "{\"final_test_acc\": " << final_acc << "}\n";
}

TEST(Experiments, EachTableListsItsRuns) {
  TempDir tmp("grids");
  const GridOptions o = options_in(tmp.path());
  const std::map<std::string, size_t> sizes = {{"table1", 6},  {"table2", 18}, {"table3", 6},
                                               {"table4", 24}, {"table5", 72}, {"table6", 18}};
  for (const auto& [grid, n] : sizes) EXPECT_EQ(plan_grid(grid, o).size(), n) << grid;

  const std::vector<PlannedRun> t2 = plan_grid("table2", o);
  std::set<double> lambdas;
  for (const PlannedRun& r : t2) {
    lambdas.insert(r.config.objective.lambda);
    EXPECT_EQ(r.config.model, "resnet50");
    EXPECT_EQ(r.config.dataset, "cifar100");
    EXPECT_EQ(r.config.epochs, 100);  // the paper's recipe at full scale
    EXPECT_EQ(r.config.batch, 128);
  }
  EXPECT_EQ(lambdas, (std::set<double>{0, 0.01, 0.1, 1, 10, 100}));
  EXPECT_EQ(t2[4].name, "resnet50-cifar100-softmax-lambda0.01-seed1-full");
  EXPECT_EQ(t2[4].dir, (tmp.path() / t2[4].name).string());

  std::set<std::string> losses;
  for (const PlannedRun& r : plan_grid("table6", o)) losses.insert(loss_kind_name(r.config.objective.kind) + std::string("/") + r.config.dataset);
  EXPECT_EQ(losses, (std::set<std::string>{"center/facescrub", "amsoftmax/facescrub", "arcface/facescrub"}));

  // Small scale: the reduced recipe, Fashion-MNIST for the absent CIFAR-100, labelled in the name.
  const std::vector<PlannedRun> small = plan_grid("table2", options_in(tmp.path(), Scale::small, {7}));
  ASSERT_EQ(small.size(), 6u);
  EXPECT_EQ(small[0].name, "resnet50-fashionmnist-softmax-lambda0-seed7-small");
  EXPECT_EQ(small[0].paper_dataset, "cifar100");
  EXPECT_EQ(small[0].config.width, 0.125);
  EXPECT_EQ(small[0].config.epochs, 10);
  EXPECT_EQ(small[0].config.limit_train, 2000);
  EXPECT_EQ(small[0].config.seed, 7u);

  EXPECT_NE(error_message([&] { plan_grid("table9", o); }).find("unknown grid 'table9' (valid: table1, table2"),
            std::string::npos);
}

TEST(Experiments, RunStatesSkipFinishedResumeInterruptedAndLeaveConflictsAlone) {
  TempDir tmp("states");
  const std::vector<PlannedRun> plan = plan_grid("table1", options_in(tmp.path()));
  ASSERT_EQ(plan.size(), 6u);
  write_run(plan[0], 0.7);                   // finished
  write_run(plan[1], 0.7, /*finished=*/false);  // interrupted
  RunConfig other = plan[2].config;
  other.epochs = 5;                          // same folder, another recipe
  write_run(plan[2], 0.7, true, other.to_json());
  RunConfig elsewhere = plan[3].config;      // only execution fields differ: still the same run
  elsewhere.device = "cuda:3";
  elsewhere.workers = 7;
  elsewhere.data_dir = "/elsewhere";
  write_run(plan[3], 0.7, true, elsewhere.to_json());

  EXPECT_EQ(run_state(plan[0]), RunState::finished);
  EXPECT_EQ(run_state(plan[1]), RunState::interrupted);
  std::string why;
  EXPECT_EQ(run_state(plan[2], &why), RunState::conflicting);
  EXPECT_NE(why.find("--epochs (5 before, now 100)"), std::string::npos) << why;
  EXPECT_EQ(run_state(plan[3]), RunState::finished);
  EXPECT_EQ(run_state(plan[4]), RunState::missing);

  std::vector<std::string> conflicts;
  const std::vector<PlannedRun> todo = runs_to_do(plan, &conflicts);
  ASSERT_EQ(todo.size(), 3u);  // the interrupted one and the two missing ones
  EXPECT_EQ(todo[0].dir, plan[1].dir);
  EXPECT_EQ(todo[1].dir, plan[4].dir);
  EXPECT_EQ(todo[2].dir, plan[5].dir);
  ASSERT_EQ(conflicts.size(), 1u);
  EXPECT_NE(conflicts[0].find(plan[2].dir), std::string::npos);

  // The measured speed of runs like these: the median of their logged epochs.
  EXPECT_EQ(measured_images_per_s(plan[0].config, tmp.path().string()), 3000.0);
}

TEST(Experiments, SlurmScriptHasOneArrayTaskPerRun) {
  TempDir tmp("slurm");
  const std::vector<PlannedRun> runs = plan_grid("table6", options_in(tmp.path(), Scale::full, {0}));
  const std::string s = slurm_script("mfd-table6-full", runs, "/opt/mfd/bin/train", "/work dir", "/runs");
  EXPECT_EQ(s.rfind("#!/bin/bash\n", 0), 0u);
  EXPECT_NE(s.find("#SBATCH --array=0-5\n"), std::string::npos) << s;
  EXPECT_NE(s.find("#SBATCH --gres=gpu:1\n"), std::string::npos);
  EXPECT_NE(s.find("#SBATCH --output=/runs/slurm-%A_%a.log\n"), std::string::npos);
  EXPECT_NE(s.find("cd '/work dir'\n"), std::string::npos);
  for (size_t i = 0; i < runs.size(); ++i) {
    const std::string line = "  " + std::to_string(i) + ") exec /opt/mfd/bin/train " + runs[i].config.model + " facescrub";
    const size_t at = s.find(line);
    ASSERT_NE(at, std::string::npos) << line;
    const std::string rest = s.substr(at, s.find('\n', at) - at);
    EXPECT_NE(rest.find("--out " + runs[i].dir), std::string::npos) << rest;
    EXPECT_NE(rest.find("--device cuda ;;"), std::string::npos) << rest;
  }
  EXPECT_EQ(s.find("6) exec"), std::string::npos);
  EXPECT_NE(s.find("*) echo"), std::string::npos);

  // Runs of 4 processes each: 4 tasks on one node, a GPU each, started by srun.
  const std::string four = slurm_script("mfd-table6-full", runs, "/opt/mfd/bin/train", "/work dir", "/runs", 4);
  EXPECT_NE(four.find("#SBATCH --nodes=1\n#SBATCH --ntasks-per-node=4\n#SBATCH --gres=gpu:4\n"), std::string::npos) << four;
  EXPECT_NE(four.find("  0) exec srun --ntasks=4 /opt/mfd/bin/train "), std::string::npos) << four;
}

TEST(Experiments, ReportAggregatesSeedsAndShowsMissingRuns) {
  TempDir tmp("report");
  const GridOptions o = options_in(tmp.path());
  const std::vector<PlannedRun> plan = plan_grid("table4", o);
  // cifar10 without MFD: seeds 0, 1, 2 at 90, 91, 95 %; with MFD: seeds 0 and 2 only (92, 94 %).
  write_run(plan[0], 0.90), write_run(plan[1], 0.91), write_run(plan[2], 0.95);
  write_run(plan[3], 0.92), write_run(plan[5], 0.94);
  const std::string md = render_report("table4", o);
  // 92 ± sd(90, 91, 95) = 2.65; 93 ± 1.41 from two of three seeds; +1.00 up.
  EXPECT_NE(md.find("| resnet50 | cifar10 | softmax | 92.00 ± 2.65 (3) | 93.00 ± 1.41 (2 of 3) | +1.00 ↑ | 93.25 | 93.98 | +0.73 ↑ |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| resnet50 | cifar100 | softmax | missing (0 of 3) | missing (0 of 3) |  | 76.42 | 79.18 | +2.76 ↑ |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("5 of 24 runs finished"), std::string::npos) << md;

  const SeedStats one = seed_stats({0.5, NAN});
  EXPECT_EQ(one.n, 1);
  EXPECT_EQ(one.mean, 0.5);
  EXPECT_TRUE(std::isnan(seed_stats({}).mean));

  // Table II: the columns in lg(lambda) with the paper's row; the small scale is labelled.
  const std::string t2 = render_report("table2", options_in(tmp.path(), Scale::small));
  EXPECT_NE(t2.find("| lg(lambda) | Softmax only | -2 | -1 | 0 | 1 | 2 |"), std::string::npos) << t2;
  EXPECT_NE(t2.find("| paper | 76.42 | 76.91 | 78.27 | 79.18 | 76.86 | 72.20 |"), std::string::npos) << t2;
  EXPECT_NE(t2.find("Small scale: a reduced recipe"), std::string::npos);
  EXPECT_NE(t2.find("cifar100 (fashionmnist stands in)"), std::string::npos) << t2;

  // The figure: one panel per pair of cells, 4 per row.
  const fs::path png = tmp.path() / "t4.png";
  write_report_plot("table4", o, png.string());
  std::ifstream f(png, std::ios::binary);
  std::string head(24, '\0');
  f.read(head.data(), 24);
  EXPECT_EQ(head.substr(1, 3), "PNG");
  auto be32 = [&](int at) {
    return (static_cast<unsigned char>(head[at]) << 24) | (static_cast<unsigned char>(head[at + 1]) << 16) |
           (static_cast<unsigned char>(head[at + 2]) << 8) | static_cast<unsigned char>(head[at + 3]);
  };
  EXPECT_EQ(be32(16), 4 * 320);
  EXPECT_EQ(be32(20), 240);
}

TEST(Experiments, CorrelatedMapsAreGrouped) {
  const std::vector<float> a = {1, 2, 3, 4}, b = {2, 4, 6, 8.5f}, c = {4, 3, 2, 1}, d = {1, -1, 1, -1}, flat = {3, 3, 3, 3};
  EXPECT_NEAR(map_correlation(a.data(), c.data(), 4), -1.0, 1e-12);
  EXPECT_EQ(map_correlation(a.data(), flat.data(), 4), 0.0);  // a constant map: 0, no NaN
  int64_t pairs = 0;
  // a, b, c correlate (|r| > 0.9) with each other; d and the flat map with nothing.
  const std::vector<int> g = correlated_groups({d, a, flat, b, c}, 0.9, &pairs);
  EXPECT_EQ(pairs, 3);
  EXPECT_EQ(g, (std::vector<int>{-1, 0, -1, 0, 0}));
  const std::vector<int> two = correlated_groups({a, d, b, d}, 0.9, &pairs);
  EXPECT_EQ(two, (std::vector<int>{0, 1, 0, 1}));
}

}  // namespace
}  // namespace mfd::test
