// The progress line of a long loop (an epoch's training, an evaluation pass): redrawn in place on
// a terminal every 10 steps, a plain line every 50 steps otherwise (logs, CI, several processes),
// and after the last,
// with the rate and the time left. The caller gives the time left beyond this loop (later epochs
// and evaluations), so that the ETA is the whole run's. The figures shown are read from the
// device, so the caller asks due() first and reads only then.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace mfd {

class Progress {
 public:
  // label: "epoch 3/100" or "test"; steps of this loop; out: stdout or stderr.
  Progress(std::string label, int64_t steps, FILE* out = stdout);
  // Whether step `step` (1-based) prints.
  bool due(int64_t step) const { return step % every_ == 0 || step == steps_; }
  // After step `step` (1-based) with `images` done in `seconds`: loss and accuracy (NaN: not
  // shown), and the seconds the run needs after this loop.
  void update(int64_t step, int64_t images, double seconds, double loss, double accuracy, double seconds_after = 0);

 private:
  std::string label_;
  int64_t steps_, every_;
  FILE* out_;
  bool terminal_;
};

}  // namespace mfd
