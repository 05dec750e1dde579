#include "training/progress.h"

#include <unistd.h>

#include <cmath>
#include <utility>

#include "engine/world.h"

namespace mfd {

Progress::Progress(std::string label, int64_t steps, FILE* out)
    : label_(std::move(label)), steps_(steps), out_(out), terminal_(isatty(fileno(out))) {
  // In a run of several processes each line reads the sums of all (a collective), so every
  // process must agree on when: only rank 0 has the terminal, the others take its plain cadence.
  every_ = terminal_ && world().size == 1 ? 10 : 50;
}

void Progress::update(int64_t step, int64_t images, double seconds, double loss, double accuracy, double seconds_after) {
  if (!due(step)) return;
  const double rate = seconds > 0 ? images / seconds : 0.0;
  const double left = (step < steps_ && step > 0 ? seconds * (steps_ - step) / step : 0.0) + seconds_after;
  std::string figures;
  char buf[128];
  if (std::isfinite(loss)) std::snprintf(buf, sizeof buf, " loss %.4f", loss), figures += buf;
  if (std::isfinite(accuracy)) std::snprintf(buf, sizeof buf, " acc %.2f%%", 100 * accuracy), figures += buf;
  std::snprintf(buf, sizeof buf, " %.0f img/s ETA %.0f s", rate, left);
  figures += buf;
  if (terminal_) {
    const int width = 30, filled = static_cast<int>(width * step / (steps_ > 0 ? steps_ : 1));
    std::fprintf(out_, "\r%s [%s%s] %lld/%lld%s ", label_.c_str(), std::string(filled, '=').c_str(),
                 std::string(width - filled, ' ').c_str(), static_cast<long long>(step), static_cast<long long>(steps_),
                 figures.c_str());
    if (step == steps_) std::fprintf(out_, "\n");
  } else {
    std::fprintf(out_, "%s step %lld/%lld%s\n", label_.c_str(), static_cast<long long>(step),
                 static_cast<long long>(steps_), figures.c_str());
  }
  std::fflush(out_);
}

}  // namespace mfd
