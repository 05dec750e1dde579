// bin/analyze: what a trained model's features look like.
//   analyze correlations RUN...   mean |correlation| per stage (Tables I and III); for two runs
//                                 (without, with MFD) also their difference
//   analyze feature-maps RUN --stage S --image N [--channels 64] [--threshold T] --out FILE.png
//                                 the maps of one test image at one stage (Figures 1, 4, 5)
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "engine/error.h"
#include "training/evaluate.h"
#include "training/feature_maps.h"

namespace {

const char* kUsage =
    "usage: analyze correlations RUN... [--data-dir DIR]\n"
    "       analyze feature-maps RUN --stage S --image N [--channels 64] [--threshold T] [--data-dir DIR] --out FILE.png\n"
    "RUN: a run folder (its last.safetensors) or a checkpoint file.\n";

int correlations(const std::vector<std::string>& runs, const std::string& data_dir) {
  MFD_CHECK(!runs.empty(), "correlations needs at least one run folder");
  std::vector<mfd::Evaluation> evals;
  std::printf("Mean |correlation| between the channels of each stage (test batches of 128, evaluation mode, "
              "dead channels counted as 0)\n\n| run | test acc (%%) | stage 0 | stage 1 | stage 2 | stage 3 | stage 4 |\n"
              "|---|---|---|---|---|---|---|\n");
  for (const std::string& run : runs) {
    evals.push_back(mfd::cached_evaluation(run, data_dir));
    std::printf("| %s | %.2f |", run.c_str(), 100 * evals.back().test_acc);
    for (double c : evals.back().mean_abs_corr) std::printf(" %.3f |", c);
    std::printf("\n");
  }
  if (evals.size() == 2) {
    std::printf("| difference (second - first) | %+.2f |", 100 * (evals[1].test_acc - evals[0].test_acc));
    for (size_t s = 0; s < evals[0].mean_abs_corr.size(); ++s) {
      const double d = evals[1].mean_abs_corr[s] - evals[0].mean_abs_corr[s];
      std::printf(" %+.3f %s |", d, d < 0 ? "↓" : d > 0 ? "↑" : "");
    }
    std::printf("\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || !std::strcmp(argv[1], "--help")) {
    std::printf("%s", kUsage);
    return argc < 2 ? 2 : (argc < 3 && std::strcmp(argv[1], "--help") ? 2 : 0);
  }
  const std::string command = argv[1];
  std::vector<std::string> runs;
  std::string data_dir, out;
  mfd::FeatureMapOptions fm;
  bool have_stage = false, have_image = false;
  try {
    for (int i = 2; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw mfd::Error(a + " needs a value");
        return argv[++i];
      };
      if (a == "--data-dir") data_dir = value();
      else if (a == "--out") out = value();
      else if (a == "--stage") fm.stage = std::stoi(value()), have_stage = true;
      else if (a == "--image") fm.image = std::stoll(value()), have_image = true;
      else if (a == "--channels") fm.channels = std::stoi(value());
      else if (a == "--threshold") fm.threshold = std::stod(value());
      else if (a.rfind("--", 0) == 0) throw mfd::Error("unknown option '" + a + "'");
      else runs.push_back(a);
    }
    if (command == "feature-maps" && (runs.size() != 1 || !have_stage || !have_image || out.empty()))
      throw mfd::Error("feature-maps needs one RUN, --stage, --image and --out");
    if (command != "correlations" && command != "feature-maps")
      throw mfd::Error("unknown command '" + command + "' (valid: correlations, feature-maps)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "analyze: %s\n%s", e.what(), kUsage);
    return 2;
  }
  try {
    if (command == "correlations") return correlations(runs, data_dir);
    fm.data_dir = data_dir;
    const mfd::FeatureMapSummary s = mfd::write_feature_maps(runs[0], fm, out);
    std::printf("%s: stage %d, test image %lld: %lld maps of %lldx%lld; all-zero maps: %lld of %lld (%lld of the %lld "
                "shown)",
                out.c_str(), fm.stage, static_cast<long long>(fm.image), static_cast<long long>(s.channels),
                static_cast<long long>(s.height), static_cast<long long>(s.width), static_cast<long long>(s.zero_maps),
                static_cast<long long>(s.channels), static_cast<long long>(s.zero_maps_shown),
                static_cast<long long>(std::min<int64_t>(fm.channels, s.channels)));
    if (fm.threshold > 0)
      std::printf("; %lld pairs with |r| > %g, outlined in %lld colour groups", static_cast<long long>(s.correlated_pairs),
                  fm.threshold, static_cast<long long>(s.groups));
    std::printf("; %dx%d pixels\n", s.image_width, s.image_height);
  } catch (const mfd::Error& e) {
    std::fprintf(stderr, "analyze: %s\n", e.what());
    return 1;
  }
  return 0;
}
