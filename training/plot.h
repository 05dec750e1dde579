// curves.png of a run: training loss (left panel) and test accuracy (right panel) per epoch, as
// polylines on axes scaled to the data (loss from 0 to its maximum, accuracy from 0 to 1).
#pragma once
#include <string>
#include <vector>

namespace mfd {

// Non-finite values (epochs without evaluation) are skipped. Fails with an Error when the file
// cannot be written.
void write_curves_png(const std::string& path, const std::vector<double>& train_loss,
                      const std::vector<double>& test_acc);

}  // namespace mfd
