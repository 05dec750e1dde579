// Helpers shared by the tests: device parameterisation, random inputs, and the two checks every
// op gets (forward against a reference, gradients against finite differences).
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/tensor.h"

namespace mfd::test {

// Test suites derived from this run once per device; the CUDA instance skips, printing why,
// where no GPU answers. Instantiate with MFD_INSTANTIATE_DEVICES(Suite).
class DeviceTest : public ::testing::TestWithParam<Device> {
 protected:
  void SetUp() override;
  Device device() const { return GetParam(); }
};
std::string device_name_of(const ::testing::TestParamInfo<Device>& info);
#define MFD_INSTANTIATE_DEVICES(suite)                                                       \
  INSTANTIATE_TEST_SUITE_P(Devices, suite, ::testing::Values(::mfd::Device::cpu, ::mfd::Device::cuda), \
                           ::mfd::test::device_name_of)

// Uniform values in [lo, hi) from a seeded std::mt19937 (independent of the engine's RNG).
std::vector<double> random_values(int64_t n, uint32_t seed, double lo = -1.0, double hi = 1.0);
// Uniform values whose magnitude is at least `gap` (away from the kinks of relu and friends).
std::vector<double> random_values_away_from_zero(int64_t n, uint32_t seed, double gap);
Tensor random_tensor(const Shape& shape, uint32_t seed, DType dtype = DType::f64, double lo = -1.0,
                     double hi = 1.0);

// An op under test: inputs (already on the device and dtype under test) -> output.
using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Runs op on every dtype the device supports (CPU: f64 and f32; CUDA: f32) with `inputs`
// (given as CPU f64 / i32 tensors) converted, and compares with `expected` elementwise:
// |got - expected| <= tol * (1 + |expected|), tol 1e-10 for f64 and 2e-5 for f32 unless given.
void expect_forward(Device device, const OpFn& op, const std::vector<Tensor>& inputs,
                    const std::vector<double>& expected, double f32_tol = 2e-5);

// Gradient check of op with respect to every floating input, through the scalar objective
// L = sum(R * op(inputs)) with a fixed random R. On the CPU: float64 analytic gradients against
// central differences (eps 1e-6, |a - n| <= 1e-5 + 1e-3 |n|, PyTorch gradcheck's tolerances).
// On every device: float32 gradients against the CPU float64 ones, relative to their norm,
// within f32_rel_tol (1e-4: float32's 6e-8 rounding grown over sums of at most thousands of
// terms, with a margin of 10 or more).
void expect_gradients(Device device, const OpFn& op, const std::vector<Tensor>& inputs,
                      double f32_rel_tol = 1e-4);

// The contract of a backward kernel's GradWrite (engine/backend.h), with `kernel(dx, write)`
// writing a gradient of `shape`: with assign it overwrites every element (dx holds NaN before), and
// with accumulate it adds the same values into what dx held (random values), within
// tol (1 + |result|). float64: 1e-12; float32: both modes compute the same values on a
// deterministic path and accumulating adds them once, a rounding of 6e-8: 1e-6.
void expect_grad_write_contract(Device device, DType dtype, const Shape& shape,
                                const std::function<void(Tensor& dx, GradWrite write)>& kernel);

// Converts a CPU tensor for a test on `device`: floating ones to `dtype`, integer ones as they are.
Tensor to_test_tensor(const Tensor& t, Device device, DType dtype);

// A fresh folder under the system's temporary directory, removed with the object.
class TempDir {
 public:
  explicit TempDir(const std::string& tag);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Runs a shell command, collecting everything it prints (stdout and stderr); returns its exit
// status (as WEXITSTATUS gives it).
int run_command(const std::string& command, std::string& output);
// Where the programs under test are (MFD_BIN_DIR, set by `make test`; default bin).
std::string bin_dir();
// The Pythons some tests run: the .venv with safetensors and torch (MFD_TEST_VENV_PYTHON, default
// .venv/bin/python) and Debian's with PIL (MFD_TEST_SYSTEM_PYTHON, default /usr/bin/python3).
// scripts/gpu-check.sh points them, and MFD_FASHION_MNIST_DIR, at nothing, as a GPU machine has
// none of them, so a test that needs one and is not in scripts/gpu-bundle.list fails in CI.
std::string venv_python();
std::string system_python();

// The file's message of an mfd::Error thrown by f, or "" when none was thrown.
std::string error_message(const std::function<void()>& f);

}  // namespace mfd::test
