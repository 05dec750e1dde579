// One optimisation step, and the running sums of an epoch, both on the run's device: a step
// reads nothing back to the host, so a GPU's queue never drains between steps; the sums are read
// only where a progress line, an epoch line or a checkpoint needs them. bin/train runs this very
// function (and the steady-state tests hold it to that: no allocation, no read-back).
#pragma once
#include <vector>

#include "training/data_parallel.h"
#include "training/session.h"

namespace mfd {

class EpochSums {
 public:
  EpochSums() = default;
  // `lambda`: the MFD weight, so that the loss is classification + lambda times the stages' MFD.
  EpochSums(size_t stages, double lambda, Device device, DType dtype = DType::f32);

  // The sums of every process, weighted by batch size (correct: the number of hits). The loss
  // is the classification sum plus lambda times the MFD sums.
  struct Values {
    double loss = 0, cls = 0, correct = 0, seen = 0;
    std::vector<double> mfd, last_corr;  // per chosen stage; last_corr: mean |F| of the last batch
  };
  Values read() const;           // waits for the device; every process calls it (a collective)
  // A resumed epoch's sums. With the processes that wrote the checkpoint, each restores its own
  // part (own(), as stored), so that the epoch's sums add in the same order as uninterrupted;
  // on another number of processes rank 0 takes the stored totals.
  std::vector<double> own() const;
  void restore(const std::vector<double>& own);
  void write(const Values& v);

  // What a step adds (on the device): its loss terms times its batch size, its hits.
  void add(const Objective::Terms& terms, const Tensor& scores, const Tensor& labels, double batch);
  // Adds a NaN to the loss (the test hook MFD_TEST_NAN_AT_STEP).
  void poison();

 private:
  Tensor cls_, correct_;
  std::vector<Tensor> mfd_, last_corr_;
  double lambda_ = 0, seen_ = 0;  // seen_ known on the host
};

// Forward with the stage outputs, the objective (classification + lambda times the chosen
// stages' MFD), backward, SGD, the objective's own update (Center Loss's centres), and the sums.
// With `dp` (training/data_parallel.h) x and y are this process's shard, from `begin` of a global
// batch of `global`, and the step is the global batch's. Returns the step's terms, for a message
// when the sums turn out non-finite.
struct StepBatch {
  Tensor x, y;
  int64_t begin = 0, global = 0;  // where the shard lies in the global batch (one process: 0, its size)
};
Objective::Terms train_step(Session& s, SGD& opt, const StepBatch& batch, EpochSums& sums, DataParallel* dp = nullptr);

}  // namespace mfd
