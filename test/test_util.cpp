#include "test/test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "engine/autograd.h"

namespace mfd::test {

void DeviceTest::SetUp() {
  std::string why;
  if (device() == Device::cuda && !cuda_available(&why)) GTEST_SKIP() << "CUDA instance skipped: " << why;
}

std::string device_name_of(const ::testing::TestParamInfo<Device>& info) {
  return ::mfd::device_name(info.param);
}

std::vector<double> random_values(int64_t n, uint32_t seed, double lo, double hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(n);
  for (double& x : v) x = dist(rng);
  return v;
}

std::vector<double> random_values_away_from_zero(int64_t n, uint32_t seed, double gap) {
  std::vector<double> v = random_values(n, seed, gap, 1.0);
  std::mt19937 rng(seed + 1);
  for (double& x : v)
    if (rng() & 1) x = -x;
  return v;
}

Tensor random_tensor(const Shape& shape, uint32_t seed, DType dtype, double lo, double hi) {
  return Tensor::from_vector(random_values(shape.numel(), seed, lo, hi), shape, dtype);
}

void expect_grad_write_contract(Device device, DType dtype, const Shape& shape,
                                const std::function<void(Tensor& dx, GradWrite write)>& kernel) {
  Tensor assigned = Tensor::full(shape, std::nan(""), dtype, device);
  kernel(assigned, GradWrite::assign);
  const std::vector<double> a = assigned.to_vector();
  for (size_t i = 0; i < a.size(); ++i) ASSERT_FALSE(std::isnan(a[i])) << "element " << i << " was not assigned";
  Tensor accumulated = to_test_tensor(random_tensor(shape, 77), device, dtype);
  const std::vector<double> prior = accumulated.to_vector();
  kernel(accumulated, GradWrite::accumulate);
  const std::vector<double> b = accumulated.to_vector();
  const double tol = dtype == DType::f64 ? 1e-12 : 1e-6;
  for (size_t i = 0; i < b.size(); ++i)
    ASSERT_NEAR(b[i], prior[i] + a[i], tol * (1 + std::fabs(b[i]))) << "element " << i;
}

Tensor to_test_tensor(const Tensor& t, Device device, DType dtype) {
  if (!t.defined()) return t;
  Tensor c = is_floating(t.dtype()) ? t.to(dtype) : t;
  return c.to(device).clone();
}

static std::vector<Tensor> convert_all(const std::vector<Tensor>& inputs, Device device, DType dtype,
                                       bool requires_grad) {
  std::vector<Tensor> out;
  for (const Tensor& t : inputs) {
    Tensor c = to_test_tensor(t, device, dtype);
    if (requires_grad && c.defined() && is_floating(c.dtype())) c.set_requires_grad(true);
    out.push_back(c);
  }
  return out;
}

void expect_forward(Device device, const OpFn& op, const std::vector<Tensor>& inputs,
                    const std::vector<double>& expected, double f32_tol) {
  std::vector<DType> dtypes = device == Device::cpu ? std::vector<DType>{DType::f64, DType::f32}
                                                    : std::vector<DType>{DType::f32};
  for (DType dtype : dtypes) {
    NoGradGuard no_grad;
    std::vector<double> got = op(convert_all(inputs, device, dtype, false)).to_vector();
    ASSERT_EQ(got.size(), expected.size()) << "output size, dtype " << dtype_name(dtype);
    const double tol = dtype == DType::f64 ? 1e-10 : f32_tol;
    int reported = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      if (std::fabs(got[i] - expected[i]) <= tol * (1.0 + std::fabs(expected[i]))) continue;
      ADD_FAILURE() << dtype_name(dtype) << " on " << device_name(device) << ": element " << i
                    << " is " << got[i] << ", expected " << expected[i];
      if (++reported == 5) return;
    }
  }
}

namespace {

// L = sum(R * op(inputs)), in double, without recording.
double objective(const OpFn& op, const std::vector<Tensor>& inputs, const std::vector<double>& r) {
  NoGradGuard no_grad;
  std::vector<double> y = op(inputs).to_vector();
  double l = 0.0;
  for (size_t i = 0; i < y.size(); ++i) l += r[i] * y[i];
  return l;
}

// Analytic gradients of L for every floating input (empty vectors for the others).
std::vector<std::vector<double>> analytic_gradients(const OpFn& op, const std::vector<Tensor>& inputs,
                                                    const std::vector<double>& r) {
  Tensor y = op(inputs);
  EXPECT_TRUE(y.requires_grad()) << "the op recorded nothing on the tape";
  std::vector<std::vector<double>> grads(inputs.size());
  if (!y.requires_grad()) return grads;
  backward(y, to_test_tensor(Tensor::from_vector(r, y.shape(), DType::f64), y.device(), y.dtype()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !inputs[i].requires_grad()) continue;
    Tensor g = inputs[i].grad();
    grads[i] = g.defined() ? g.to_vector() : std::vector<double>(inputs[i].numel(), 0.0);
  }
  return grads;
}

}  // namespace

void expect_gradients(Device device, const OpFn& op, const std::vector<Tensor>& inputs, double f32_rel_tol) {
  std::vector<Tensor> cpu_inputs = convert_all(inputs, Device::cpu, DType::f64, true);
  int64_t out_numel;
  {
    NoGradGuard no_grad;
    out_numel = op(cpu_inputs).numel();
  }
  const std::vector<double> r = random_values(out_numel, 12345);
  std::vector<std::vector<double>> cpu_grads = analytic_gradients(op, cpu_inputs, r);

  // float32 on the device under test against these float64 gradients.
  std::vector<Tensor> f32_inputs = convert_all(inputs, device, DType::f32, true);
  std::vector<std::vector<double>> f32_grads = analytic_gradients(op, f32_inputs, r);
  for (size_t i = 0; i < inputs.size(); ++i) {
    double diff = 0.0, norm = 0.0;
    for (size_t j = 0; j < cpu_grads[i].size(); ++j) {
      diff += std::pow(f32_grads[i][j] - cpu_grads[i][j], 2);
      norm += std::pow(cpu_grads[i][j], 2);
    }
    EXPECT_LE(std::sqrt(diff), f32_rel_tol * std::sqrt(norm) + 1e-7)
        << "float32 gradient of input " << i << " on " << device_name(device)
        << " differs from the CPU float64 one";
  }
  if (device == Device::cuda) return;

  const double eps = 1e-6, atol = 1e-5, rtol = 1e-3;
  for (size_t i = 0; i < cpu_inputs.size(); ++i) {
    const Tensor& x = cpu_inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    double* p = x.data<double>();
    int reported = 0;
    for (int64_t j = 0; j < x.numel(); ++j) {
      const double saved = p[j];
      p[j] = saved + eps;
      const double plus = objective(op, cpu_inputs, r);
      p[j] = saved - eps;
      const double minus = objective(op, cpu_inputs, r);
      p[j] = saved;
      const double numeric = (plus - minus) / (2 * eps), analytic = cpu_grads[i][j];
      if (std::fabs(analytic - numeric) <= atol + rtol * std::fabs(numeric)) continue;
      ADD_FAILURE() << "input " << i << " element " << j << ": analytic gradient " << analytic
                    << ", finite difference " << numeric;
      if (++reported == 5) break;
    }
  }
}

TempDir::TempDir(const std::string& tag) {
  static int count = 0;
  path_ = std::filesystem::temp_directory_path() /
          ("mfd_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(count++));
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

int run_command(const std::string& command, std::string& output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  char buffer[4096];
  while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string bin_dir() {
  const char* dir = std::getenv("MFD_BIN_DIR");
  return dir ? dir : "bin";
}

std::string venv_python() {
  const char* p = std::getenv("MFD_TEST_VENV_PYTHON");
  return p ? p : ".venv/bin/python";
}

std::string system_python() {
  const char* p = std::getenv("MFD_TEST_SYSTEM_PYTHON");
  return p ? p : "/usr/bin/python3";
}

std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace mfd::test
