// bin/train over several processes started by mpirun (2 processes, 1 thread each, on this
// machine's 2 cores), end to end: 2 processes train as 1 with the same global batch (float64, so
// that the comparison is to rounding: every loss term, metric and tensor to 1e-9 relative), and
// per-process MFD or batch norm (--mfd-sync / --bn-sync local) train otherwise; rank 0 alone
// prints and writes one run folder; a process killed mid-epoch stops every process (named, the
// checkpoint intact) and the run resumes on 2 processes bit for bit, on 1 to rounding; a stop
// asked of one process stops all at the same step; processes launched with other settings, or
// one that fails alone, stop the run with the reason.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "engine/json.h"
#include "engine/safetensors.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

namespace fs = std::filesystem;

const std::string kData = " --device cpu --dtype float64 --limit-test 128 --batch 64 --lambda 1 --workers 1";
const std::string kResnet = " resnet18 fashionmnist --width 0.125 --epochs 1 --limit-train 192" + kData;  // 3 steps
const std::string kTwoEpochs = " resnet18 fashionmnist --width 0.125 --epochs 2 --limit-train 384" + kData;  // 6 a epoch

std::string read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

class DataParallelTrain : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef MFD_WITH_MPI
    GTEST_SKIP() << "built without MPI (make MPI=0, or libopenmpi-dev was missing)";
#endif
    std::string out;
    // A build with MPI and no launcher is a broken install, not a machine without the feature.
    if (run_command("command -v mpirun", out) != 0)
      GTEST_FAIL() << "built with MPI but mpirun is not on the PATH: install openmpi-bin (scripts/install-deps.sh)";
  }
  // bin/train under mpirun, `processes` of it; `app` replaces the whole launch after -np N when
  // given (MPMD: "bin/train ... : -np 1 bin/train ..."). As root, Open MPI needs its consent
  // variables; a hang is cut by timeout (exit 124), which fails the test that sees it.
  int mpirun(int processes, const std::string& args, std::string& output, const std::string& env = "") {
    return run_command(launcher(env) + " -np " + std::to_string(processes) + " " + train() + args, output);
  }
  std::string launcher(const std::string& env = "") const {
    std::string vars = geteuid() == 0 ? "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " : "";
#ifdef MFD_SANITIZE
    // Open MPI keeps allocations for the process's life: LeakSanitizer is told so, and unwinds
    // fully (Open MPI's libraries have no frame pointers) so that the suppressions match.
    vars += "ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0 OMPI_MCA_mca_base_component_disable_dlclose=1 "
            "LSAN_OPTIONS=fast_unwind_on_malloc=0:suppressions=" +
            fs::absolute("test/sanitizer/open-mpi.supp").string() + " ";
#endif
    return vars + "MFD_RANK_TIMEOUT_S=60 " + env + " timeout 300 mpirun --oversubscribe";
  }
  std::string train() const { return bin_dir() + "/train"; }
  std::string out(const std::string& name) const { return " --out " + (dir_ / name).string(); }

  // Every number of every line of metrics.jsonl, but the timing fields.
  static std::vector<double> metrics_numbers(const fs::path& run) {
    std::vector<double> out;
    std::ifstream f(run / "metrics.jsonl");
    for (std::string line; std::getline(f, line);) {
      const Json j = parse_json(line, (run / "metrics.jsonl").string());
      for (const char* key : {"train_loss", "train_cls_loss", "train_acc", "test_loss", "test_acc"})
        out.push_back(j.number_or(key, NAN));
      for (const char* key : {"train_mfd", "mean_abs_corr"})
        for (double v : j.at(key).numbers()) out.push_back(v);
    }
    return out;
  }
  // The two runs' metrics and final tensors agree to `tol` relative (each tensor by its norm).
  static void expect_close_runs(const fs::path& a, const fs::path& b, double tol) {
    const std::vector<double> ma = metrics_numbers(a), mb = metrics_numbers(b);
    ASSERT_EQ(ma.size(), mb.size());
    ASSERT_FALSE(ma.empty());
    for (size_t i = 0; i < ma.size(); ++i) EXPECT_NEAR(mb[i], ma[i], tol * std::fabs(ma[i]) + 1e-15) << "metric " << i;
    const SafetensorsContents ta = load_safetensors((a / "last.safetensors").string());
    const SafetensorsContents tb = load_safetensors((b / "last.safetensors").string());
    ASSERT_EQ(ta.tensors.size(), tb.tensors.size());
    for (const auto& [name, t] : ta.tensors)
      EXPECT_LE(relative_difference(t.to_vector(), tb.tensors.at(name).to_vector()), tol) << name;
  }
  // ||a - b|| / ||a||, with ||a|| at least 1e-3: a tensor that is rounding noise (a bias before a
  // batch norm gets an exactly zero gradient; the running mean of a normalised output is zero),
  // ~1e-17 here, is compared absolutely.
  static double relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
    double diff = 0, norm = 0;
    for (size_t i = 0; i < a.size(); ++i) diff += (a[i] - b[i]) * (a[i] - b[i]), norm += a[i] * a[i];
    return std::sqrt(diff) / std::max(std::sqrt(norm), 1e-3);
  }
  // Bit-identical: metrics (timing aside) and every tensor.
  static void expect_same_runs(const fs::path& a, const fs::path& b) {
    EXPECT_EQ(metrics_numbers(a), metrics_numbers(b));
    const SafetensorsContents ta = load_safetensors((a / "last.safetensors").string());
    const SafetensorsContents tb = load_safetensors((b / "last.safetensors").string());
    for (const auto& [name, t] : ta.tensors) EXPECT_EQ(t.to_vector(), tb.tensors.at(name).to_vector()) << name;
  }

  TempDir tmp_{"data_parallel_test"};
  const fs::path dir_ = tmp_.path();
};

// The processes' sums add in another order than one process's, a float64 rounding of ~1e-16 that
// training amplifies: three steps of resnet18 end 1e-12 apart. MobileNetV2 on 28x28 images ends in
// 1x1 maps whose batch norms see few values and amplify it far more (first-step gradients 1e-11
// apart, three steps at lr 0.1 4e-8): it runs two steps at lr 0.01 (3e-11 apart). 1e-9 leaves a
// margin of 30 or more and still catches a shard's term counted twice or a statistic of the shard
// instead of the batch (each moves the results by more than 1e-4).
TEST_F(DataParallelTrain, TwoProcessesTrainAsOneWithTheSameGlobalBatch) {
  const std::pair<std::string, std::string> cases[] = {
      {"resnet18", kResnet},
      {"mobilenet_v2-dropout", " mobilenet_v2 fashionmnist --width 0.25 --epochs 1 --limit-train 128 --lr 0.01" + kData},
      {"resnet18-center", kResnet + " --loss center"},
  };
  for (const auto& [name, args] : cases) {
    SCOPED_TRACE(name);
    std::string one, two;
    ASSERT_EQ(mpirun(1, args + out(name + "-1"), one), 0) << one;
    ASSERT_EQ(mpirun(2, args + out(name + "-2"), two), 0) << two;
    expect_close_runs(dir_ / (name + "-1"), dir_ / (name + "-2"), 1e-9);
    if (name == "resnet18") {
      // Rank 0 alone prints and writes: one epoch line, one folder, the process count recorded.
      size_t lines = 0;
      for (size_t at = two.find("\nepoch 1:"); at != std::string::npos; at = two.find("\nepoch 1:", at + 1)) ++lines;
      EXPECT_EQ(lines, 1u) << two;
      EXPECT_NE(two.find("each of 2 processes"), std::string::npos) << two;
      EXPECT_NE(read(dir_ / "resnet18-2" / "config.json").find("\"processes\": 2"), std::string::npos);
      size_t folders = 0;
      for (const auto& e : fs::directory_iterator(dir_)) folders += e.path().filename().string().rfind("resnet18-2", 0) == 0;
      EXPECT_EQ(folders, 1u);
    }
  }
  // Per-process statistics are another loss: the runs differ (by far more than rounding).
  for (const char* local : {" --mfd-sync local", " --bn-sync local"}) {
    SCOPED_TRACE(local);
    const std::string name = std::string("local") + (local[3] == 'm' ? "-mfd" : "-bn");
    std::string output;
    ASSERT_EQ(mpirun(2, kResnet + local + out(name), output), 0) << output;
    const std::vector<double> a = metrics_numbers(dir_ / "resnet18-1"), b = metrics_numbers(dir_ / name);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_GT(relative_difference(a, b), 1e-6) << "the option changes the training";
  }
}

// A process killed outright (SIGKILL, at step 9 of 12: mid-epoch 2) stops every process: mpirun
// names it and the run ends with an error, not a hang (a hang would end in timeout's 124); the
// epoch-1 checkpoint is intact. The run resumes on 2 processes exactly as an uninterrupted run,
// and on 1 process to rounding, the state being the global batch's.
TEST_F(DataParallelTrain, AKilledProcessStopsTheRunWhichResumesOnAnyNumberOfProcesses) {
  std::string output;
  ASSERT_EQ(mpirun(2, kTwoEpochs + out("whole"), output), 0) << output;
  output.clear();
  const int code = mpirun(2, kTwoEpochs + out("cut"), output, "MFD_TEST_SIGKILL_AT_STEP=9 MFD_TEST_HOOK_RANK=1");
  EXPECT_NE(code, 0) << output;
  EXPECT_NE(code, 124) << "the run hung: " << output;
  EXPECT_NE(output.find("rank 1"), std::string::npos) << output;
  ASSERT_TRUE(fs::exists(dir_ / "cut" / "last.safetensors"));
  EXPECT_EQ(read_safetensors_metadata((dir_ / "cut" / "last.safetensors").string()).at("epoch"), "1");
  EXPECT_FALSE(fs::exists(dir_ / "cut" / "results.json"));
  fs::copy(dir_ / "cut", dir_ / "cut-on-one", fs::copy_options::recursive);

  output.clear();
  ASSERT_EQ(mpirun(2, kTwoEpochs + out("cut"), output), 0) << output;
  EXPECT_NE(output.find("resuming from"), std::string::npos) << output;
  expect_same_runs(dir_ / "whole", dir_ / "cut");
  output.clear();
  ASSERT_EQ(mpirun(1, kTwoEpochs + out("cut-on-one"), output), 0) << output;
  expect_close_runs(dir_ / "whole", dir_ / "cut-on-one", 1e-9);

  // A stop asked of rank 0 alone (SIGTERM at step 9): every process stops after that step, rank 0
  // writes the checkpoint, and the resumed run is the uninterrupted one.
  output.clear();
  EXPECT_EQ(mpirun(2, kTwoEpochs + out("stopped"), output, "MFD_TEST_SIGTERM_AT_STEP=9 MFD_TEST_HOOK_RANK=0"), 130)
      << output;
  EXPECT_NE(output.find("interrupted at epoch 2 step 4"), std::string::npos) << output;
  output.clear();
  ASSERT_EQ(mpirun(2, kTwoEpochs + out("stopped") + " --resume", output), 0) << output;
  expect_same_runs(dir_ / "whole", dir_ / "stopped");
}

// Processes launched with other settings are refused before any step, naming the difference; a
// process that fails alone (here: its data set is missing) stops every process with its reason.
TEST_F(DataParallelTrain, ProcessesThatDisagreeOrFailAloneStopTheRun) {
  std::string output;
  const std::string mismatched = " -np 1 " + train() + kResnet + out("m") + " --lr 0.1 : -np 1 " + train() + kResnet +
                                 out("m") + " --lr 0.2";
  EXPECT_NE(run_command(launcher() + mismatched, output), 0) << output;
  EXPECT_NE(output.find("rank 1 of 2: train: this process's settings differ from rank 0's (--lr 0.2 here, 0.1 on rank 0)"),
            std::string::npos) << output;
  EXPECT_FALSE(fs::exists(dir_ / "m")) << "nothing is written before the processes agree";

  output.clear();
  const std::string failing = " -np 1 " + train() + kResnet + out("f") + " --data-dir " + (dir_ / "none").string() +
                              " : -np 1 -x MFD_FASHION_MNIST_DIR=" + (dir_ / "none").string() + " " + train() + kResnet +
                              out("f") + " --data-dir " + (dir_ / "none").string();
  const int code = run_command("MFD_FASHION_MNIST_DIR=/usr/share/datasets/fashion-mnist " + launcher() + failing, output);
  EXPECT_NE(code, 0) << output;
  EXPECT_NE(code, 124) << "the run hung: " << output;
  EXPECT_NE(output.find("rank 1 of 2: train:"), std::string::npos) << output;
  EXPECT_NE(output.find("Fashion-MNIST"), std::string::npos) << output;
}

}  // namespace
}  // namespace mfd::test
