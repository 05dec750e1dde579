#include "training/feature_maps.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/autograd.h"
#include "training/evaluate.h"
#include "training/plot.h"

namespace mfd {

double map_correlation(const float* a, const float* b, int64_t n) {
  double ma = 0, mb = 0;
  for (int64_t i = 0; i < n; ++i) ma += a[i], mb += b[i];
  ma /= n, mb /= n;
  double sab = 0, saa = 0, sbb = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double da = a[i] - ma, db = b[i] - mb;
    sab += da * db, saa += da * da, sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

std::vector<int> correlated_groups(const std::vector<std::vector<float>>& maps, double threshold, int64_t* pairs) {
  const size_t k = maps.size();
  std::vector<size_t> parent(k);
  std::iota(parent.begin(), parent.end(), 0);
  auto root = [&](size_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  };
  int64_t count = 0;
  for (size_t i = 0; i < k; ++i)
    for (size_t j = i + 1; j < k; ++j)
      if (std::fabs(map_correlation(maps[i].data(), maps[j].data(), static_cast<int64_t>(maps[i].size()))) > threshold) {
        ++count;
        parent[root(i)] = root(j);
      }
  if (pairs) *pairs = count;
  // Number the groups of two or more maps in the order of their first member.
  std::vector<int> size(k, 0), label(k, -1), group_of_root(k, -1);
  for (size_t i = 0; i < k; ++i) ++size[root(i)];
  int next = 0;
  for (size_t i = 0; i < k; ++i) {
    const size_t r = root(i);
    if (size[r] < 2) continue;
    if (group_of_root[r] < 0) group_of_root[r] = next++;
    label[i] = group_of_root[r];
  }
  return label;
}

FeatureMapSummary write_feature_maps(const std::string& path, const FeatureMapOptions& o, const std::string& png_path) {
  TrainedRun run = load_trained(path, o.data_dir);
  const ImageDataset& test = run.session.test;
  const int stages = static_cast<int>(run.session.model->stages().size());
  MFD_CHECK(o.stage >= 0 && o.stage < stages, "--stage ", o.stage, ": ", run.session.config.model, " has stages 0..",
            stages - 1);
  MFD_CHECK(o.image >= 0 && o.image < test.n, "--image ", o.image, " is outside the test set (", test.n, " images)");
  MFD_CHECK(o.channels >= 1, "--channels must be >= 1");
  Tensor x, y;
  make_batch(test, {o.image}, 0, 1, Device::cpu, x, y);
  NoGradGuard no_grad;
  const Tensor stage = run.session.model->run(x).stages[o.stage];
  FeatureMapSummary s;
  s.channels = stage.size(1), s.height = stage.size(2), s.width = stage.size(3);
  const int64_t hw = s.height * s.width, shown = std::min<int64_t>(o.channels, s.channels);
  const std::vector<double> values = stage.to_vector();
  std::vector<std::vector<float>> maps(static_cast<size_t>(s.channels));
  for (int64_t c = 0; c < s.channels; ++c) {
    maps[c].assign(values.begin() + c * hw, values.begin() + (c + 1) * hw);
    const bool zero = std::all_of(maps[c].begin(), maps[c].end(), [](float v) { return v == 0.0f; });
    s.zero_maps += zero;
    if (c < shown) s.zero_maps_shown += zero;
  }
  maps.resize(static_cast<size_t>(shown));
  const std::vector<int> group = o.threshold > 0 ? correlated_groups(maps, o.threshold, &s.correlated_pairs)
                                                 : std::vector<int>(maps.size(), -1);
  for (int g : group) s.groups = std::max<int64_t>(s.groups, g + 1);

  // Tiles of at least 48 pixels (nearest neighbour), a 1-pixel grey border, 2-pixel colour frames.
  const int zoom = static_cast<int>((48 + std::max(s.height, s.width) - 1) / std::max(s.height, s.width)), th = static_cast<int>(s.height) * zoom,
            tw = static_cast<int>(s.width) * zoom, pad = 3;
  const int columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(shown)))),
            rows = static_cast<int>((shown + columns - 1) / columns);
  Canvas canvas(columns * (tw + 2 * pad) + pad, rows * (th + 2 * pad) + pad, {255, 255, 255});
  for (int64_t c = 0; c < shown; ++c) {
    const int x0 = pad + static_cast<int>(c % columns) * (tw + 2 * pad), y0 = pad + static_cast<int>(c / columns) * (th + 2 * pad);
    const auto [lo, hi] = std::minmax_element(maps[c].begin(), maps[c].end());
    const float range = *hi - *lo;
    for (int i = 0; i < th; ++i)
      for (int j = 0; j < tw; ++j) {
        const float v = maps[c][static_cast<size_t>((i / zoom) * s.width + j / zoom)];
        const uint8_t g = range > 0 ? static_cast<uint8_t>(std::lround(255 * (v - *lo) / range)) : 0;
        canvas.dot(x0 + j, y0 + i, {g, g, g});
      }
    canvas.rect(x0 - 1, y0 - 1, tw + 2, th + 2, {160, 160, 160});
    if (group[c] >= 0) {
      canvas.rect(x0 - 2, y0 - 2, tw + 4, th + 4, palette(group[c]));
      canvas.rect(x0 - 3, y0 - 3, tw + 6, th + 6, palette(group[c]));
    }
  }
  canvas.save_png(png_path);
  s.image_width = canvas.width(), s.image_height = canvas.height();
  return s;
}

}  // namespace mfd
