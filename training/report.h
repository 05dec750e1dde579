// The paper's tables rendered from run folders: for each cell, the mean and standard deviation
// over the seeds found, their number, the difference to the softmax-only (lambda 0) cell with an
// arrow, and the paper's published value beside it. Missing runs show as missing, never as zero.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "training/experiments.h"

namespace mfd {

// Mean, sample standard deviation and count of the finite values; mean is NaN when n is 0.
struct SeedStats {
  double mean = NAN, sd = NAN;
  int n = 0;
};
SeedStats seed_stats(const std::vector<double>& values);

// The Markdown of one grid's table (tables I and III evaluate the finished models once and
// cache the result in RUN/evaluation.json).
std::string render_report(const std::string& grid, const GridOptions& options);

// The grid's figure: test accuracy per epoch, softmax only against + MFD, one panel per cell
// (mean over seeds); for table2, accuracy against lg(lambda) with the seeds' standard deviation.
void write_report_plot(const std::string& grid, const GridOptions& options, const std::string& png_path);

}  // namespace mfd
