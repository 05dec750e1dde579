// The test runner: GoogleTest, plus a closing line that counts skipped tests apart from passed
// ones ("tests: N passed, N failed, N skipped"), since a skipped CUDA instance is not a pass, and
// a check that no test wrote into the user's runs/ (tests write only under their own temporary
// folders).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "engine/backend.h"
#include "engine/cpu_runtime.h"
#include "engine/device_stats.h"

namespace {

namespace fs = std::filesystem;

// Every file under runs/ with its size and modification time.
std::map<std::string, std::string> listing(const fs::path& dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code e;
    const auto size = it->is_regular_file(e) ? it->file_size(e) : 0;
    out[it->path().string()] = std::to_string(size) + "@" + std::to_string(it->last_write_time(e).time_since_epoch().count());
  }
  return out;
}

class RunsUntouched : public ::testing::Environment {
  void SetUp() override { before_ = listing("runs"); }
  void TearDown() override {
    const std::map<std::string, std::string> after = listing("runs");
    for (const auto& [path, stamp] : after)
      if (!before_.count(path) || before_.at(path) != stamp) ADD_FAILURE() << "a test wrote " << path << " in the user's runs/";
    for (const auto& [path, stamp] : before_)
      if (!after.count(path)) ADD_FAILURE() << "a test removed " << path << " from the user's runs/";
  }
  std::map<std::string, std::string> before_;
};

class SummaryPrinter : public ::testing::EmptyTestEventListener {
  void OnTestProgramEnd(const ::testing::UnitTest& unit) override {
    int passed = 0, failed = 0, skipped = 0;
    for (int i = 0; i < unit.total_test_suite_count(); ++i) {
      const ::testing::TestSuite* suite = unit.GetTestSuite(i);
      for (int j = 0; j < suite->total_test_count(); ++j) {
        const ::testing::TestResult* r = suite->GetTestInfo(j)->result();
        if (!suite->GetTestInfo(j)->should_run()) continue;
        if (r->Skipped()) ++skipped;
        else if (r->Failed()) ++failed;
        else ++passed;
      }
    }
    if (unit.ad_hoc_test_result().Failed()) ++failed;  // the check of runs/
    std::printf("\ntests: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
  }
};

}  // namespace

int main(int argc, char** argv) {
  mfd::configure_cpu_runtime(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  std::printf("CPU: %s; OpenBLAS kernels: %s\n", mfd::cpu_name().c_str(), mfd::blas_core().c_str());
  std::string why;
  if (!mfd::cuda_available(&why))
    std::printf("note: CUDA test instances will skip: %s\n", why.c_str());
  else mfd::set_cuda_math(false, false);  // CUDA results are compared with the CPU's: no TF32
  ::testing::UnitTest::GetInstance()->listeners().Append(new SummaryPrinter);
  ::testing::AddGlobalTestEnvironment(new RunsUntouched);
  return RUN_ALL_TESTS();
}
