#include "data/augment.h"

#include <cstring>

#include "engine/philox.h"

namespace mfd {

namespace {
constexpr uint64_t kAugmentKey = 0x6175676d656e74ULL;  // "augment"
constexpr uint64_t kOrderKey = 0x6f72646572ULL;        // "order"
// A counter unique to (epoch, index): 2^40 samples per epoch is far beyond any data set here.
uint64_t counter(int epoch, int64_t index) { return (static_cast<uint64_t>(epoch) << 40) | static_cast<uint64_t>(index); }
}  // namespace

Augmentation augmentation_for(uint64_t seed, int epoch, int64_t index, int pad) {
  Philox4 r = philox4x32(counter(epoch, index), seed ^ kAugmentKey);
  const uint32_t span = static_cast<uint32_t>(2 * pad + 1);
  return Augmentation{static_cast<int>(r.v[0] % span), static_cast<int>(r.v[1] % span), (r.v[2] & 1u) != 0};
}

void augment_image(const uint8_t* src, int64_t c, int64_t h, int64_t w, int pad, const Augmentation& a,
                   uint8_t* dst) {
  for (int64_t ch = 0; ch < c; ++ch) {
    for (int64_t y = 0; y < h; ++y) {
      uint8_t* out = dst + (ch * h + y) * w;
      const int64_t sy = y + a.dy - pad;  // source row; outside [0, h) is padding
      if (sy < 0 || sy >= h) {
        std::memset(out, 0, w);
        continue;
      }
      const uint8_t* in = src + (ch * h + sy) * w;
      for (int64_t x = 0; x < w; ++x) {
        const int64_t sx = (a.flip ? w - 1 - x : x) + a.dx - pad;
        out[x] = (sx >= 0 && sx < w) ? in[sx] : 0;
      }
    }
  }
}

std::vector<int64_t> epoch_order(uint64_t seed, int epoch, int64_t n) {
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    const double u = philox_uniform(seed ^ kOrderKey, counter(epoch, 0) * 2, static_cast<uint64_t>(i));
    const int64_t j = static_cast<int64_t>(u * static_cast<double>(i + 1));
    std::swap(order[i], order[j < i + 1 ? j : i]);
  }
  return order;
}

}  // namespace mfd
