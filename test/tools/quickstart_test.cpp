// End to end: bin/quickstart trains SmallCnn on the real Fashion-MNIST data (Debian's
// dataset-fashion-mnist) for 2 epochs on the CPU and must reach 90% test accuracy. A linear
// classifier on raw pixels gets about 84%, so this shows the convolutions learn. The time is
// printed, not asserted: it depends on the CPU and on what else runs (bench/ measures speed).
// Without the data package this fails, printing the install command; it never skips.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "test/test_util.h"

namespace mfd::test {
namespace {

TEST(QuickstartEndToEnd, FashionMnistReaches90PercentIn2Epochs) {
  const auto t0 = std::chrono::steady_clock::now();
  TempDir tmp("quickstart_test");
  std::string output;
  int status = run_command(bin_dir() + "/quickstart --epochs 2 --out " + (tmp.path() / "run").string(), output);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(status, 0) << output;
  const size_t at = output.rfind("test accuracy: ");
  ASSERT_NE(at, std::string::npos) << output;
  const double accuracy = std::atof(output.c_str() + at + 15);
  std::printf("quickstart: %.2f%% test accuracy in %.0f s\n", accuracy, seconds);
  EXPECT_GE(accuracy, 90.0) << output;
}

TEST(QuickstartEndToEnd, BadFlagsExitWith2AndSayWhy) {
  std::string output;
  EXPECT_EQ(run_command(bin_dir() + "/quickstart --epoch 2", output), 2);
  EXPECT_NE(output.find("unknown flag --epoch"), std::string::npos) << output;
  output.clear();
  EXPECT_EQ(run_command(bin_dir() + "/quickstart --data-dir /nonexistent", output), 1);
  EXPECT_NE(output.find("apt-get install dataset-fashion-mnist"), std::string::npos) << output;
}

}  // namespace
}  // namespace mfd::test
