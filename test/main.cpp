// The test runner: GoogleTest, plus a closing line that counts skipped tests apart from passed
// ones ("tests: N passed, N failed, N skipped"), since a skipped CUDA instance is not a pass.
#include <gtest/gtest.h>

#include <cstdio>

#include "engine/backend.h"
#include "engine/device_stats.h"

namespace {

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
    std::printf("\ntests: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
  }
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::string why;
  if (!mfd::cuda_available(&why))
    std::printf("note: CUDA test instances will skip: %s\n", why.c_str());
  else mfd::set_cuda_math(false, false);  // CUDA results are compared with the CPU's: no TF32
  ::testing::UnitTest::GetInstance()->listeners().Append(new SummaryPrinter);
  return RUN_ALL_TESTS();
}
