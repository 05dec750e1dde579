// One optimisation step, and the running sums of an epoch, both on the run's device: a step
// reads nothing back to the host, so a GPU's queue never drains between steps; the sums are read
// only where a progress line, an epoch line or a checkpoint needs them. bin/train runs this very
// function (and the steady-state tests hold it to that: no allocation, no read-back).
#pragma once
#include <vector>

#include "training/session.h"

namespace mfd {

class EpochSums {
 public:
  EpochSums() = default;
  EpochSums(size_t stages, Device device, DType dtype = DType::f32);

  // The host's copy of the sums, weighted by batch size (correct: the number of hits).
  struct Values {
    double loss = 0, cls = 0, correct = 0, seen = 0;
    std::vector<double> mfd, last_corr;  // per chosen stage; last_corr: mean |F| of the last batch
  };
  Values read() const;           // waits for the device
  void write(const Values& v);   // a resumed epoch's sums, as a checkpoint stored them

  // What a step adds (on the device): its loss terms times its batch size, its hits.
  void add(const Objective::Terms& terms, const Tensor& scores, const Tensor& labels, double batch);
  // Adds a NaN to the loss (the test hook MFD_TEST_NAN_AT_STEP).
  void poison();

 private:
  Tensor loss_, cls_, correct_;
  std::vector<Tensor> mfd_, last_corr_;
  double seen_ = 0;  // known on the host
};

// Forward with the stage outputs, the objective (classification + lambda times the chosen
// stages' MFD), backward, SGD, the objective's own update (Center Loss's centres), and the sums.
// Returns the step's terms, for a message when the sums turn out non-finite.
Objective::Terms train_step(Session& s, SGD& opt, const Tensor& x, const Tensor& y, EpochSums& sums);

}  // namespace mfd
