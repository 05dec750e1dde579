// Time per CPU backend op, for profiling a training step without a profiler: with
// MFD_CPU_PROFILE=1 in the environment every Backend call on the CPU is timed under its op name,
// and the table (total ms, calls, share) goes to stderr when the program exits. Off, a timer costs
// one test of a flag.
#pragma once
#include <chrono>

namespace mfd::cpu {

bool op_profile_enabled();
void set_op_profile_enabled(bool on);  // tests; the start value is MFD_CPU_PROFILE's
void record_op_time(const char* op, double seconds);
long op_profile_calls(const char* op);  // calls recorded so far under this name
void reset_op_profile();                // forgets what was recorded (a benchmark's set-up)

class OpTimer {
 public:
  explicit OpTimer(const char* op) : op_(op_profile_enabled() ? op : nullptr) {
    if (op_) start_ = std::chrono::steady_clock::now();
  }
  ~OpTimer() {
    if (op_) record_op_time(op_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

 private:
  const char* op_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace mfd::cpu
