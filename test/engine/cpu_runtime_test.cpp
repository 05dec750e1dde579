// The CPU runtime (engine/cpu_runtime.h): which OpenBLAS kernels a program asks for, and that the
// programs run with the better of OpenBLAS's choice and what the CPU allows, keeping a user's own.
#include <gtest/gtest.h>

#include "engine/cpu_runtime.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

TEST(CpuRuntime, TheBetterKernelSetIsAskedFor) {
  EXPECT_EQ(blas_core_to_use("Prescott", "SkylakeX"), "SkylakeX") << "a Xeon OpenBLAS does not know";
  EXPECT_EQ(blas_core_to_use("Prescott", "Haswell"), "Haswell");
  EXPECT_EQ(blas_core_to_use("Haswell", "SkylakeX"), "SkylakeX") << "a Zen 5 EPYC";
  EXPECT_EQ(blas_core_to_use("Sandybridge", "Haswell"), "Haswell");
  EXPECT_EQ(blas_core_to_use("SkylakeX", "SkylakeX"), "");
  EXPECT_EQ(blas_core_to_use("Cooperlake", "SkylakeX"), "") << "as good: OpenBLAS's own choice stays";
  EXPECT_EQ(blas_core_to_use("Haswell", "Haswell"), "");
  EXPECT_EQ(blas_core_to_use("Prescott", ""), "") << "an SSE-only CPU keeps the fallback";
}

TEST(CpuRuntime, ProgramsSayWhatTheyRunOnAndKeepTheUsersChoice) {
  std::string output;
  ASSERT_EQ(run_command("env -u OPENBLAS_CORETYPE -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u MFD_CPU_RUNTIME_SET " +
                            bin_dir() + "/mfd_info", output), 0);
  EXPECT_NE(output.find(std::string("idle threads: GOMP_SPINCOUNT=") + kSpinCount), std::string::npos) << output;
  EXPECT_EQ(output.find("OpenBLAS kernels: Prescott"), std::string::npos) << "an x86-64 CPU with AVX2: " << output;
  output.clear();
  ASSERT_EQ(run_command("env -u MFD_CPU_RUNTIME_SET OPENBLAS_CORETYPE=Prescott OMP_WAIT_POLICY=ACTIVE " + bin_dir() +
                            "/mfd_info", output), 0);
  EXPECT_NE(output.find("OpenBLAS kernels: Prescott; idle threads: OMP_WAIT_POLICY=ACTIVE"), std::string::npos) << output;
}

}  // namespace
}  // namespace mfd::test
