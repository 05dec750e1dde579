// The progress line of a long loop (an epoch's training, an evaluation pass): redrawn in place on
// a terminal, a plain line every `every` steps otherwise (logs, CI), with the rate and the time
// left. The caller gives the time left beyond this loop (later epochs and evaluations), so that
// the ETA is the whole run's.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace mfd {

class Progress {
 public:
  // label: "epoch 3/100" or "test"; steps of this loop; out: stdout or stderr.
  Progress(std::string label, int64_t steps, FILE* out = stdout, int64_t every = 50);
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
