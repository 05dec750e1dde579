// The feature-map figures of the paper (Figures 1, 4 and 5): the maps of one test image at one
// stage, each normalised to its own range for display, in a grid with thin borders; optionally
// the maps whose |correlation| passes a threshold outlined in a shared colour per group.
#pragma once
#include <string>
#include <vector>

namespace mfd {

struct FeatureMapOptions {
  int stage = 0;
  int64_t image = 0;          // index into the run's test set
  int channels = 64;          // the first this many maps are drawn
  double threshold = 0.0;     // > 0: group maps with |r| > threshold (r over this image's positions)
  std::string data_dir;       // "" = the run's own
};

struct FeatureMapSummary {
  int64_t channels = 0, height = 0, width = 0;  // of the stage output
  int64_t zero_maps = 0;                         // all-zero maps among all channels
  int64_t zero_maps_shown = 0;                   // ... among the drawn ones
  int64_t correlated_pairs = 0, groups = 0;      // with a threshold: pairs above it, groups marked
  int image_width = 0, image_height = 0;         // of the PNG
};

// Draws the grid of `run` (a run folder or checkpoint) into png_path.
FeatureMapSummary write_feature_maps(const std::string& run, const FeatureMapOptions& options,
                                     const std::string& png_path);

// The figure's pieces, exposed for tests: Pearson r of two maps over their positions (0 when
// either is constant), and the grouping of maps whose |r| exceeds the threshold (-1 = no group).
double map_correlation(const float* a, const float* b, int64_t n);
std::vector<int> correlated_groups(const std::vector<std::vector<float>>& maps, double threshold,
                                   int64_t* pairs = nullptr);

}  // namespace mfd
