// bin/analyze, bin/reproduce and bin/report end to end: the correlations of a tiny trained model
// against an independent computation, the feature-map figure, a grid driven with a stand-in for
// bin/train (skipping finished runs, resuming interrupted ones), and a report over the results.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "data/dataset.h"
#include "engine/autograd.h"
#include "test/test_util.h"
#include "training/evaluate.h"
#include "training/experiments.h"

namespace mfd::test {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Mean |F_ij| (i != j) of one stage output, straight from the definition: each channel's
// observations are its maps over the batch, centred by the batch mean at each position; a
// channel whose centred energy is (numerically) nothing is dead and counts as 0.
double mean_abs_correlation(const std::vector<double>& x, int64_t b, int64_t d, int64_t hw) {
  std::vector<std::vector<double>> y(d, std::vector<double>(b * hw));
  std::vector<double> norm(d, 0.0);
  for (int64_t i = 0; i < d; ++i) {
    double raw = 0;
    for (int64_t p = 0; p < hw; ++p) {
      double mean = 0;
      for (int64_t k = 0; k < b; ++k) mean += x[(k * d + i) * hw + p] / b;
      for (int64_t k = 0; k < b; ++k) {
        const double v = x[(k * d + i) * hw + p];
        y[i][k * hw + p] = v - mean;
        raw += v * v;
        norm[i] += (v - mean) * (v - mean);
      }
    }
    norm[i] = norm[i] > 1e-10 * raw ? std::sqrt(norm[i]) : 0.0;
  }
  double sum = 0;
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) {
      if (i == j || norm[i] == 0 || norm[j] == 0) continue;
      double dot = 0;
      for (int64_t q = 0; q < b * hw; ++q) dot += y[i][q] * y[j][q];
      sum += std::fabs(dot / (norm[i] * norm[j]));
    }
  return sum / (d * (d - 1));
}

class AnalyzeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir("analyze_test");
    std::string out;
    run_ = (tmp_->path() / "run").string();
    ASSERT_EQ(run_command(bin_dir() + "/train resnet18 fashionmnist --width 0.125 --epochs 1 --limit-train 128 "
                                      "--limit-test 300 --batch 64 --lambda 1 --workers 0 --out " + run_, out), 0) << out;
  }
  static void TearDownTestSuite() { delete tmp_; }
  static TempDir* tmp_;
  static std::string run_;
};
TempDir* AnalyzeTest::tmp_ = nullptr;
std::string AnalyzeTest::run_;

TEST_F(AnalyzeTest, CorrelationsEqualAnIndependentComputation) {
  // Independently: the test set in batches of 128 through the model, the mean over batches.
  TrainedRun run = load_trained(run_);
  const ImageDataset& test = run.session.test;
  std::vector<double> expected(5, 0.0);
  int batches = 0;
  NoGradGuard no_grad;
  for (int64_t start = 0; start < test.n; start += 128, ++batches) {
    std::vector<int64_t> order(test.n);
    for (int64_t i = 0; i < test.n; ++i) order[i] = i;
    Tensor x, y;
    make_batch(test, order, start, std::min<int64_t>(128, test.n - start), Device::cpu, x, y);
    const ModelOutput o = run.session.model->run(x);
    for (int s = 0; s < 5; ++s) {
      const Tensor& t = o.stages[s];
      expected[s] += mean_abs_correlation(t.to_vector(), t.size(0), t.size(1), t.size(2) * t.size(3));
    }
  }
  ASSERT_EQ(batches, 3);  // 128 + 128 + 44
  for (double& e : expected) e /= batches;

  std::string out;
  ASSERT_EQ(run_command(bin_dir() + "/analyze correlations " + run_ + " " + run_, out), 0) << out;
  const Json cached = read_json_file(run_ + "/evaluation.json");
  const std::vector<double> got = cached.at("mean_abs_corr").numbers();
  ASSERT_EQ(got.size(), 5u);
  for (int s = 0; s < 5; ++s) {
    EXPECT_NEAR(got[s], expected[s], 1e-4 * (1 + expected[s])) << "stage " << s;
    EXPECT_GT(expected[s], 0.0);
    char cell[32];
    std::snprintf(cell, sizeof cell, " %.3f |", expected[s]);
    EXPECT_NE(out.find(cell), std::string::npos) << cell << "\n" << out;
  }
  EXPECT_NE(out.find("| difference (second - first) | +0.00 | +0.000  |"), std::string::npos) << out;
}

TEST_F(AnalyzeTest, FeatureMapsAreAPngOfTheExpectedSize) {
  const std::string png = (tmp_->path() / "maps.png").string();
  std::string out;
  // Stage 1 of resnet18 at width 0.125: 8 channels of 28x28; 6 shown in a 3-column grid of
  // 56-pixel tiles (zoom 2) with 3 pixels around each.
  ASSERT_EQ(run_command(bin_dir() + "/analyze feature-maps " + run_ + " --stage 1 --image 5 --channels 6 --threshold 0.5 --out " + png, out), 0) << out;
  EXPECT_NE(out.find("8 maps of 28x28; all-zero maps: "), std::string::npos) << out;
  const std::string bytes = read(png);
  ASSERT_GT(bytes.size(), 24u);
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
  auto be32 = [&](size_t at) {
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) v = (v << 8) | static_cast<unsigned char>(bytes[at + k]);
    return v;
  };
  EXPECT_EQ(be32(16), 3u * (56 + 6) + 3);
  EXPECT_EQ(be32(20), 2u * (56 + 6) + 3);
  EXPECT_NE(out.find(std::to_string(be32(16)) + "x" + std::to_string(be32(20)) + " pixels"), std::string::npos) << out;

  ASSERT_EQ(run_command(bin_dir() + "/analyze feature-maps " + run_ + " --stage 5 --image 0 --out " + png, out), 1);
  EXPECT_NE(out.find("--stage 5: resnet18 has stages 0..4"), std::string::npos) << out;
  ASSERT_EQ(run_command(bin_dir() + "/analyze feature-maps " + run_ + " --stage 1 --image 300 --out " + png, out), 1);
  EXPECT_NE(out.find("--image 300 is outside the test set (300 images)"), std::string::npos) << out;
  ASSERT_EQ(run_command(bin_dir() + "/analyze histogram " + run_, out), 2);
  EXPECT_NE(out.find("unknown command 'histogram' (valid: correlations, feature-maps)"), std::string::npos) << out;
}

// bin/reproduce with a stand-in for bin/train that records its arguments and finishes at once.
TEST(ReproduceTool, SkipsFinishedRunsResumesInterruptedOnesAndReports) {
  TempDir tmp("reproduce_test");
  // Like bin/train, it leaves config.json (prepared by the test in configs/) and results.json.
  const fs::path runs = tmp.path() / "runs", fake = tmp.path() / "fake-train.sh", calls = tmp.path() / "calls.txt",
                 configs = tmp.path() / "configs";
  std::ofstream(fake) << "#!/bin/sh\n"
                         "echo \"$@\" >> " << calls.string() << "\n"
                         "while [ $# -gt 1 ]; do [ \"$1\" = --out ] && out=$2; shift; done\n"
                         "cp " << configs.string() << "/$(basename \"$out\").json \"$out/config.json\"\n"
                         "echo '{\"final_test_acc\": 0.5}' > \"$out/results.json\"\n";
  fs::permissions(fake, fs::perms::owner_all);
  GridOptions o;
  o.scale = Scale::small;
  o.runs_dir = runs.string();
  o.data_dir = (tmp.path() / "data").string();
  o.seeds = {0};
  const std::vector<PlannedRun> plan = plan_grid("table6", o);
  ASSERT_EQ(plan.size(), 6u);
  // The first run finished, the second interrupted (a config.json and no results.json).
  fs::create_directories(configs);
  for (size_t i = 0; i < plan.size(); ++i) {
    std::string json = plan[i].config.to_json();
    json.insert(json.size() - 1, ", \"git_commit\": \"x\"");
    std::ofstream(configs / (plan[i].name + ".json")) << json;
    if (i < 2) fs::create_directories(plan[i].dir), fs::copy_file(configs / (plan[i].name + ".json"), fs::path(plan[i].dir) / "config.json");
  }
  std::ofstream(fs::path(plan[0].dir) / "results.json") << "{\"final_test_acc\": 0.9}";

  const std::string base = bin_dir() + "/reproduce table6 --scale small --seeds 0 --runs " + runs.string() +
                           " --data-dir " + o.data_dir;
  std::string out;
  ASSERT_EQ(run_command(base + " --dry-run", out), 0) << out;
  EXPECT_NE(out.find("table6-small: 6 runs in the grid (6 folders), 5 to do [SMALL SCALE"), std::string::npos) << out;
  EXPECT_NE(out.find("interrupted resnet50-fashionmnist-center-lambda1-seed0-small"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(calls));

  ASSERT_EQ(run_command(base + " --train " + fake.string(), out), 0) << out;
  const std::string recorded = read(calls);
  EXPECT_EQ(std::count(recorded.begin(), recorded.end(), '\n'), 5) << recorded;
  EXPECT_EQ(recorded.find("--out " + plan[0].dir + "\n"), std::string::npos) << "the finished run ran again";
  EXPECT_NE(recorded.find("resnet50 fashionmnist --loss center --lambda 1 --seed 0 --width 0.125"), std::string::npos) << recorded;
  EXPECT_NE(recorded.find("--loss arcface --lambda 1"), std::string::npos) << recorded;

  // Everything finished: a second pass runs nothing.
  ASSERT_EQ(run_command(base + " --train " + fake.string(), out), 0) << out;
  EXPECT_NE(out.find("0 to do"), std::string::npos) << out;
  const std::string recorded_again = read(calls);
  EXPECT_EQ(std::count(recorded_again.begin(), recorded_again.end(), '\n'), 5);

  // The report: center loss 90.00 then 50.00 with MFD (one seed each), the paper beside.
  ASSERT_EQ(run_command(bin_dir() + "/report table6 " + runs.string() + " --scale small --seeds 0 --data-dir " +
                            o.data_dir + " --plot " + (tmp.path() / "t6.png").string(), out), 0) << out;
  EXPECT_NE(out.find("| resnet50 | facescrub (fashionmnist stands in) | center | 90.00 (1) | 50.00 (1) | -40.00 ↓ | 92.82 | 94.11 | +1.29 ↑ |"),
            std::string::npos) << out;
  EXPECT_TRUE(fs::exists(tmp.path() / "t6.png"));

  // Two local GPUs: the six runs of table2 at seed 0, each with its GPU, every run once.
  fs::remove(calls);
  const fs::path runs2 = tmp.path() / "runs2";
  for (const PlannedRun& r : plan_grid("table2", GridOptions{Scale::small, runs2.string(), o.data_dir, {0}})) {
    std::string json = r.config.to_json();
    std::ofstream(configs / (r.name + ".json")) << json;
  }
  ASSERT_EQ(run_command(bin_dir() + "/reproduce table2 --scale small --seeds 0 --gpus 0,1 --runs " + runs2.string() +
                            " --data-dir " + o.data_dir + " --train " + fake.string(), out), 0) << out;
  const std::string on_gpus = read(calls);
  EXPECT_EQ(std::count(on_gpus.begin(), on_gpus.end(), '\n'), 6) << on_gpus;
  EXPECT_NE(on_gpus.find("--device cuda:0"), std::string::npos) << on_gpus;
  EXPECT_NE(on_gpus.find("--device cuda:1"), std::string::npos) << on_gpus;
  EXPECT_NE(out.find("on cuda:1: starting"), std::string::npos) << out;

  // Runs of 2 processes on 4 GPUs: two runs at a time, each started by the launcher (a stand-in
  // here, MFD_MPIRUN) with its pair of GPUs.
  fs::remove(calls);
  const fs::path runs3 = tmp.path() / "runs3", launcher = tmp.path() / "fake-mpirun.sh";
  std::ofstream(launcher) << "#!/bin/sh\n"
                             "echo \"mpirun $@ CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES\" >> " << calls.string() << "\n"
                             "shift 2\nexec \"$@\"\n";
  fs::permissions(launcher, fs::perms::owner_all);
  for (const PlannedRun& r : plan_grid("table2", GridOptions{Scale::small, runs3.string(), o.data_dir, {0}}))
    std::ofstream(configs / (r.name + ".json")) << r.config.to_json();
  ASSERT_EQ(run_command("MFD_MPIRUN=" + launcher.string() + " " + bin_dir() + "/reproduce table2 --scale small --seeds 0 "
                            "--gpus 0,1,2,3 --ranks-per-run 2 --runs " + runs3.string() + " --data-dir " + o.data_dir +
                            " --train " + fake.string(), out), 0) << out;
  const std::string launched = read(calls);
  EXPECT_NE(launched.find("mpirun -np 2 " + fake.string() + " resnet50 "), std::string::npos) << launched;
  EXPECT_NE(launched.find("--device cuda CUDA_VISIBLE_DEVICES=0,1\n"), std::string::npos) << launched;
  EXPECT_NE(launched.find("--device cuda CUDA_VISIBLE_DEVICES=2,3\n"), std::string::npos) << launched;
  EXPECT_NE(out.find("on GPUs 2,3 (2 processes): starting"), std::string::npos) << out;
  ASSERT_EQ(run_command(bin_dir() + "/reproduce table2 --gpus 0,1,2 --ranks-per-run 2 --runs " + runs3.string() +
                            " --train " + fake.string(), out), 1) << out;
  EXPECT_NE(out.find("a multiple of --ranks-per-run"), std::string::npos) << out;

  // The Slurm script for what is left (nothing: all finished) and for a fresh folder.
  ASSERT_EQ(run_command(bin_dir() + "/reproduce table1 --runs " + (tmp.path() / "r2").string() + " --slurm --no-submit", out), 0) << out;
  EXPECT_NE(read(tmp.path() / "r2" / "table1-full.sbatch").find("#SBATCH --array=0-5"), std::string::npos);
  ASSERT_EQ(run_command(bin_dir() + "/reproduce table7", out), 2);
  EXPECT_NE(out.find("unknown grid 'table7'"), std::string::npos) << out;
  ASSERT_EQ(run_command(bin_dir() + "/reproduce table1 --bogus", out), 2);
  EXPECT_NE(out.find("unknown flag --bogus"), std::string::npos) << out;
}

}  // namespace
}  // namespace mfd::test
