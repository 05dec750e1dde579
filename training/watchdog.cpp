#include "training/watchdog.h"

#include <cstdio>
#include <cstdlib>

#include "engine/world.h"

namespace mfd {

namespace {
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

StepWatchdog::StepWatchdog() : last_tick_ns_(now_ns()) {
  const char* v = std::getenv("MFD_RANK_TIMEOUT_S");
  timeout_ = v && std::atof(v) > 0 ? std::atof(v) : 600.0;
  thread_ = std::thread(&StepWatchdog::watch, this);
}

StepWatchdog::~StepWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  thread_.join();
}

void StepWatchdog::tick() { last_tick_ns_ = now_ns(); }

void StepWatchdog::watch() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_cv_.wait_for(lock, std::chrono::milliseconds(250), [this] { return stopping_; })) {
    const double idle = static_cast<double>(now_ns() - last_tick_ns_) * 1e-9;
    if (idle < timeout_) continue;
    std::fprintf(stderr,
                 "%strain: no step completed for %.0f s: another process of this run has stopped or hangs; stopping "
                 "this one (MFD_RANK_TIMEOUT_S sets the wait; the last checkpoint is intact)\n",
                 rank_prefix().c_str(), idle);
    std::fflush(stderr);
    std::_Exit(1);  // not MPI_Abort: MPI is the main thread's alone; the launcher stops the others
  }
}

}  // namespace mfd
