// A process of a data-parallel run waits in every collective for all the others: when one has
// died or hangs, the rest would wait for ever (mpirun stops them when a process dies, but not
// every launcher does, and a NCCL sum never returns). The watchdog stops this process when no
// step or evaluation batch has completed for MFD_RANK_TIMEOUT_S seconds (default 600), naming
// itself; the launcher then stops the others, and the last checkpoint is intact (written
// atomically).
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace mfd {

class StepWatchdog {
 public:
  StepWatchdog();
  ~StepWatchdog();
  StepWatchdog(const StepWatchdog&) = delete;
  StepWatchdog& operator=(const StepWatchdog&) = delete;
  void tick();  // a step (or an evaluation batch) completed
  double timeout_seconds() const { return timeout_; }

 private:
  void watch();
  double timeout_;
  std::atomic<int64_t> last_tick_ns_;
  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mfd
