// bin/analyze: what a trained model's features look like.
//   analyze correlations RUN...   mean |correlation| per stage (Tables I and III); for two runs
//                                 (without, with MFD) also their difference
//   analyze feature-maps RUN --stage S --image N [--channels 64] [--threshold T] --out FILE.png
//                                 the maps of one test image at one stage (Figures 1, 4, 5)
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/error.h"
#include "training/command_line.h"
#include "training/evaluate.h"
#include "training/feature_maps.h"

namespace {

int correlations(const std::vector<std::string>& runs, const std::string& data_dir) {
  std::vector<mfd::Evaluation> evals;
  for (const std::string& run : runs) evals.push_back(mfd::cached_evaluation(run, data_dir));
  size_t stages = 0;
  for (const mfd::Evaluation& ev : evals) stages = std::max(stages, ev.mean_abs_corr.size());
  std::printf("Mean |correlation| between the channels of each stage (test batches of 128, evaluation mode, "
              "dead channels counted as 0)\n\n| run | test acc (%%) |");
  for (size_t s = 0; s < stages; ++s) std::printf(" stage %zu |", s);
  std::printf("\n|---|---|");
  for (size_t s = 0; s < stages; ++s) std::printf("---|");
  std::printf("\n");
  for (size_t i = 0; i < runs.size(); ++i) {
    const std::string& run = runs[i];
    std::printf("| %s | %.2f |", run.c_str(), 100 * evals[i].test_acc);
    for (double c : evals[i].mean_abs_corr) std::printf(" %.3f |", c);
    std::printf("\n");
  }
  if (evals.size() == 2 && evals[0].mean_abs_corr.size() == evals[1].mean_abs_corr.size()) {
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
  std::string data_dir, out;
  mfd::FeatureMapOptions fm;
  bool have_stage = false, have_image = false;
  mfd::CommandLine cl;
  cl.program = "analyze";
  cl.arguments = "COMMAND RUN...";
  cl.description =
      "  analyze correlations RUN...   mean |correlation| per stage (Tables I and III); with two runs\n"
      "                                (without, with MFD) also their difference\n"
      "  analyze feature-maps RUN --stage S --image N --out FILE.png\n"
      "                                the maps of one test image at one stage (Figures 1, 4, 5)\n"
      "RUN: a run folder (its last.safetensors) or a checkpoint file.";
  cl.min_positional = 1;
  cl.max_positional = mfd::CommandLine::kAny;
  cl.flags = {
      {"data-dir", "DIR", [&](const std::string& v) { data_dir = v; }, "the data sets", "each run's own"},
      {"stage", "S", [&](const std::string& v) { fm.stage = static_cast<int>(mfd::parse_int("--stage", v)), have_stage = true; },
       "feature-maps: the stage", ""},
      {"image", "N", [&](const std::string& v) { fm.image = mfd::parse_int("--image", v), have_image = true; },
       "feature-maps: the test image", ""},
      {"channels", "N", [&](const std::string& v) { fm.channels = static_cast<int>(mfd::parse_int("--channels", v)); },
       "feature-maps: how many maps", "64"},
      {"threshold", "T", [&](const std::string& v) { fm.threshold = mfd::parse_double("--threshold", v); },
       "feature-maps: outline groups of maps with |r| > T", "off"},
      {"out", "FILE.png", [&](const std::string& v) { out = v; }, "feature-maps: the picture", ""},
  };
  return mfd::run_program(cl, argc, argv, [&](const std::vector<std::string>& positional) {
    const std::string& command = positional[0];
    const std::vector<std::string> runs(positional.begin() + 1, positional.end());
    if (command != "correlations" && command != "feature-maps")
      throw mfd::UsageError("unknown command '" + command + "' (valid: correlations, feature-maps)");
    if (runs.empty()) throw mfd::UsageError(command + " needs a RUN (a run folder or a checkpoint)");
    if (command == "correlations") return correlations(runs, data_dir);
    if (runs.size() != 1 || !have_stage || !have_image || out.empty())
      throw mfd::UsageError("feature-maps needs one RUN, --stage, --image and --out");
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
    return 0;
  });
}
