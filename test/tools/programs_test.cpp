// Every program follows one rule (training/command_line.h): --help prints the usage and exits 0;
// bad usage names the bad word and exits 2; any other failure is one line and exit code 1, never
// an uncaught exception. And bin/reproduce --dry-run estimates hours where no run exists yet.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test/test_util.h"

namespace mfd::test {
namespace {

namespace fs = std::filesystem;

struct Call {
  std::string args;
  int code;
  std::string says;
};

void expect_calls(const std::vector<Call>& calls) {
  for (const Call& c : calls) {
    std::string output;
    EXPECT_EQ(run_command(bin_dir() + "/" + c.args, output), c.code) << c.args << ": " << output;
    EXPECT_NE(output.find(c.says), std::string::npos) << c.args << ": " << output;
    EXPECT_EQ(output.find("terminate called"), std::string::npos) << c.args << ": " << output;
  }
}

TEST(Programs, HelpExitsZeroAndBadUsageNamesTheWordAndExitsTwo) {
  expect_calls({
      {"train --help", 0, "usage: train MODEL DATASET"},
      {"evaluate --help", 0, "usage: evaluate RUN_DIR_OR_CHECKPOINT"},
      {"quickstart --help", 0, "usage: quickstart"},
      {"reproduce --help", 0, "usage: reproduce GRID"},
      {"report --help", 0, "usage: report GRID"},
      {"analyze --help", 0, "usage: analyze COMMAND RUN..."},
      {"mfd_info --help", 0, "usage: mfd_info"},
      {"train resnet18 fashionmnist --bogus 1", 2, "unknown flag --bogus"},
      {"evaluate run --bogus", 2, "unknown flag --bogus"},
      {"quickstart --bogus 1", 2, "unknown flag --bogus"},
      {"reproduce table1 --bogus", 2, "unknown flag --bogus"},
      {"report table1 --bogus", 2, "unknown flag --bogus"},
      {"analyze correlations run --bogus", 2, "unknown flag --bogus"},
      {"mfd_info --bogus", 2, "unknown flag --bogus"},
      {"train resnet18 imagenet", 2, "unknown data set 'imagenet'"},
      {"reproduce table7", 2, "unknown grid 'table7'"},
      {"report table7", 2, "unknown grid 'table7'"},
      {"analyze foo run", 2, "unknown command 'foo'"},
      {"analyze foo", 2, "unknown command 'foo'"},
      {"analyze correlations", 2, "correlations needs a RUN"},
      {"evaluate", 2, "expected RUN_DIR_OR_CHECKPOINT, got 0"},
      {"evaluate a b", 2, "got 2 argument(s): 'a' 'b'"},
      {"quickstart --epochs x", 2, "malformed value 'x' for --epochs"},
      {"reproduce table1 --seeds 0,x", 2, "malformed value 'x' for --seeds"},
  });
}

TEST(Programs, BadStateIsOneLineAndExitCodeOne) {
  TempDir tmp("programs_test");
  const fs::path empty = tmp.path() / "empty", junk = tmp.path() / "junk.safetensors";
  fs::create_directories(empty);
  std::ofstream(junk) << "not a checkpoint";
  // A grid's run folder whose config.json is damaged.
  const fs::path runs = tmp.path() / "runs", run = runs / "resnet50-cifar100-softmax-lambda0-seed0-full";
  fs::create_directories(run);
  std::ofstream(run / "config.json") << "{bad";
  expect_calls({
      {"evaluate " + (tmp.path() / "missing").string(), 1, "file not found"},
      {"evaluate " + empty.string(), 1, "last.safetensors: file not found"},
      {"evaluate " + junk.string(), 1, "junk.safetensors"},
      {"analyze correlations " + junk.string(), 1, "junk.safetensors"},
      {"analyze feature-maps " + junk.string() + " --stage 0 --image 0 --out " + (tmp.path() / "f.png").string(), 1,
       "junk.safetensors"},
      {"quickstart --data-dir " + empty.string(), 1, "apt-get install dataset-fashion-mnist"},
      {"reproduce table1 --runs " + junk.string(), 1, "Not a directory"},
      {"report table1 " + junk.string(), 1, "is not a folder"},
      {"report table1 " + runs.string(), 1, "config.json: malformed JSON"},
  });
  // mfd_info reads no file and no state: it has no bad state to be fed.
}

TEST(Programs, NoGpuIsSaidHonestly) {
  std::string output;
  ASSERT_EQ(run_command(bin_dir() + "/mfd_info", output), 0) << output;
  if (output.find("build: with CUDA") == std::string::npos || fs::exists("/proc/driver/nvidia/version"))
    GTEST_SKIP() << "this check is for a CUDA build on a machine without an NVIDIA driver";
  EXPECT_NE(output.find("no NVIDIA driver found"), std::string::npos) << output;
  EXPECT_EQ(output.find("insufficient"), std::string::npos) << output;
}

// Where no run has measured a speed, --dry-run uses the assumed ones (and says so), names the
// data sets that are missing and ends with the commands for several GPUs and for Slurm.
TEST(Programs, DryRunEstimatesHoursWithoutRuns) {
  TempDir tmp("dry_run_test");
  std::string output;
  ASSERT_EQ(run_command(bin_dir() + "/reproduce table1 --dry-run --runs " + (tmp.path() / "runs").string() +
                            " --data-dir " + (tmp.path() / "data").string(), output), 0) << output;
  EXPECT_NE(output.find("3000 images/s (assumed)"), std::string::npos) << output;
  EXPECT_EQ(output.find("estimated: 0.0"), std::string::npos) << output;
  EXPECT_NE(output.find("estimated: 2.8 GPU hours of training for 6 runs (6 at assumed speeds"), std::string::npos) << output;
  EXPECT_NE(output.find("missing under " + (tmp.path() / "data").string() + ": cifar100 (scripts/get-data.sh cifar100)"),
            std::string::npos) << output;
  EXPECT_NE(output.find("--gpus 0,1,2,3"), std::string::npos) << output;
  EXPECT_NE(output.find("--slurm"), std::string::npos) << output;
  EXPECT_FALSE(fs::exists(tmp.path() / "runs")) << "a dry run writes nothing";
}

}  // namespace
}  // namespace mfd::test
