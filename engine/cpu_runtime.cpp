#include "engine/cpu_runtime.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>

extern "C" char* openblas_get_corename(void);

namespace mfd {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The kernel set this CPU's features allow: AVX-512 (F, BW, DQ, VL) or AVX2 with FMA; "" for less.
std::string best_core_for_cpu() {
  __builtin_cpu_init();
  if (cpu_has_avx512()) return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return "";
}

// How far a kernel set goes: 0 SSE (OpenBLAS's fallback for models it does not know), 1 AVX,
// 2 AVX2 with FMA, 3 AVX-512.
int core_tier(const std::string& core) {
  static const std::set<std::string> avx512 = {"skylakex", "cooperlake", "sapphirerapids"},
                                     avx2 = {"haswell", "zen"}, avx = {"sandybridge", "bulldozer", "piledriver",
                                                                        "steamroller", "excavator"};
  const std::string c = lower(core);
  return avx512.count(c) ? 3 : avx2.count(c) ? 2 : avx.count(c) ? 1 : 0;
}

}  // namespace

const char* const kSpinCount = "500";

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}

std::string blas_core_to_use(const std::string& picked, const std::string& allowed) {
  return !allowed.empty() && core_tier(allowed) > core_tier(picked) ? allowed : "";
}

std::string blas_core() {
  const char* name = openblas_get_corename();
  return name ? name : "unknown";
}

std::string omp_waiting() {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const char* spin = std::getenv("GOMP_SPINCOUNT");
  if (policy) return std::string("OMP_WAIT_POLICY=") + policy;
  return spin ? std::string("GOMP_SPINCOUNT=") + spin : "libgomp's default";
}

std::string blas_note() {
  const char* set = std::getenv("OPENBLAS_CORETYPE");
  const std::string better = set ? blas_core_to_use(set, best_core_for_cpu()) : "";
  if (better.empty()) return "";
  return std::string("OPENBLAS_CORETYPE=") + set + " is set, but this CPU can run OpenBLAS's " + better +
         " kernels (a training step 20-30% faster on a Zen 5 EPYC, docs/benchmarks.md): unset it to let mfd choose";
}

std::string cpu_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string model, family, number;
  for (std::string line; std::getline(f, line) && (model.empty() || family.empty() || number.empty());) {
    auto value = [&](const char* key) {
      return line.rfind(key, 0) == 0 && line.find(':') != std::string::npos ? line.substr(line.find(':') + 2) : "";
    };
    if (model.empty()) model = value("model name");
    if (family.empty()) family = value("cpu family");
    if (number.empty() && line.rfind("model\t", 0) == 0) number = value("model");
  }
  return (model.empty() ? "unknown CPU" : model) + " (family " + family + ", model " + number + ")";
}

void configure_cpu_runtime(int argc, char** argv) {
  (void)argc;
  if (std::getenv("MFD_CPU_RUNTIME_SET")) return;  // already run again once
  bool again = false;
  if (!std::getenv("OMP_WAIT_POLICY") && !std::getenv("GOMP_SPINCOUNT")) {
    setenv("GOMP_SPINCOUNT", kSpinCount, 1);
    again = true;
  }
  const std::string best = blas_core_to_use(blas_core(), best_core_for_cpu());
  if (!std::getenv("OPENBLAS_CORETYPE") && !best.empty()) {
    setenv("OPENBLAS_CORETYPE", best.c_str(), 1);
    again = true;
  }
  if (!again) return;
  setenv("MFD_CPU_RUNTIME_SET", "1", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then run as we are
}

}  // namespace mfd
