#include "engine/cpu/op_profile.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace mfd::cpu {

namespace {

struct OpTotals {
  double seconds = 0.0;
  long calls = 0;
};

bool asked_by_environment() {
  const char* v = std::getenv("MFD_CPU_PROFILE");
  return v && *v && std::string(v) != "0";
}

struct Profile {
  std::mutex mutex;
  std::map<std::string, OpTotals> ops;
  ~Profile() {  // at exit: the ops by total time
    if (ops.empty() || !asked_by_environment()) return;  // a test's profile is not printed
    std::vector<std::pair<std::string, OpTotals>> rows(ops.begin(), ops.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
    double total = 0.0;
    for (const auto& r : rows) total += r.second.seconds;
    std::fprintf(stderr, "\nCPU ops (MFD_CPU_PROFILE), %.1f ms in all:\n%-28s %12s %8s %7s\n", 1e3 * total, "op",
                 "ms", "calls", "share");
    for (const auto& [name, t] : rows)
      std::fprintf(stderr, "%-28s %12.1f %8ld %6.1f%%\n", name.c_str(), 1e3 * t.seconds, t.calls,
                   100.0 * t.seconds / total);
  }
};

Profile& profile() {
  static Profile p;
  return p;
}

bool& enabled() {
  static bool on = asked_by_environment();
  return on;
}

}  // namespace

bool op_profile_enabled() { return enabled(); }
void set_op_profile_enabled(bool on) { enabled() = on; }

void reset_op_profile() {
  Profile& p = profile();
  std::lock_guard<std::mutex> lock(p.mutex);
  p.ops.clear();
}

long op_profile_calls(const char* op) {
  Profile& p = profile();
  std::lock_guard<std::mutex> lock(p.mutex);
  auto it = p.ops.find(op);
  return it == p.ops.end() ? 0 : it->second.calls;
}

void record_op_time(const char* op, double seconds) {
  Profile& p = profile();
  std::lock_guard<std::mutex> lock(p.mutex);
  OpTotals& t = p.ops[op];
  t.seconds += seconds;
  ++t.calls;
}

}  // namespace mfd::cpu
